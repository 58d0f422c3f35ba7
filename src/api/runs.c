/* /v1/runs: trigger, list, read, cancel, retry; and the extensions the
 * compatibility surfaces need: steps, step logs, approvals, outputs. */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/deployments.h"
#include "dagy/environments.h"
#include "dagy/flows.h"
#include "dagy/notify.h"
#include "dagy/runs.h"
#include "dagy/schedules.h"
#include "dagy/ts.h"
#include "dagy/usage.h"
#include "dagy/wake.h"

static int runs_trigger_h(struct req *r);
static int runs_list_h(struct req *r);
static int runs_get_h(struct req *r);
static int runs_cancel_h(struct req *r);
static int runs_retry_h(struct req *r);
static int runs_logs_h(struct req *r);
static int runs_steps_h(struct req *r);
static int runs_step_log_h(struct req *r);
static int runs_approve_h(struct req *r);
static int runs_reject_h(struct req *r);
static int runs_outputs_h(struct req *r);

const struct route runs_routes[] = {
	{"POST", "/v1/runs", runs_trigger_h, PERM_RUNS_TRIGGER, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/runs", runs_list_h, PERM_RUNS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/runs/{run_id}", runs_get_h, PERM_RUNS_READ, 0, DIALECT_DAGY},
	{"POST", "/v1/runs/{run_id}/cancel", runs_cancel_h, PERM_RUNS_CANCEL, 0, DIALECT_DAGY},
	{"POST", "/v1/runs/{run_id}/retry", runs_retry_h, PERM_RUNS_TRIGGER, 0, DIALECT_DAGY},
	{"GET", "/v1/runs/{run_id}/logs", runs_logs_h, PERM_RUNS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/runs/{run_id}/steps", runs_steps_h, PERM_RUNS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/runs/{run_id}/steps/{step_id}/log", runs_step_log_h, PERM_RUNS_READ, 0, DIALECT_DAGY},
	{"POST", "/v1/runs/{run_id}/steps/{step_id}/approve", runs_approve_h, PERM_RUNS_TRIGGER, 0, DIALECT_DAGY},
	{"POST", "/v1/runs/{run_id}/steps/{step_id}/reject", runs_reject_h, PERM_RUNS_TRIGGER, 0, DIALECT_DAGY},
	{"GET", "/v1/runs/{run_id}/outputs", runs_outputs_h, PERM_RUNS_READ, 0, DIALECT_DAGY},
};
const size_t runs_routes_n = sizeof(runs_routes) / sizeof(runs_routes[0]);

static const char *const stream_names[] = {"system", "stdout", "stderr"};

/* Checks params against the flow's declared params and applies defaults.
 * Returns a new object, or NULL after answering 400. */
static json_t *
bind_params(struct req *r, const char *spec_text, json_t *given)
{
	json_t *spec = api_json_col(spec_text), *decl = json_object_get(spec, "params");
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach(given, key, v) {
		if (json_object_get(decl, key) == NULL) {
			api_error(r, API_E_VALIDATION, json_pack("{s:s}", "parameters", key),
			    "unknown parameter '%s'%s", key, json_object_size(decl) ?
			    "" : ": the flow declares no params");
			goto fail;
		}
		if (json_is_object(v) || json_is_array(v)) {
			api_error(r, API_E_VALIDATION, json_pack("{s:s}", "parameters", key),
			    "parameter '%s' must be a string, number, boolean or null", key);
			goto fail;
		}
		json_object_set(out, key, v);
	}
	json_object_foreach(decl, key, v) {
		json_t *def = json_object_get(v, "default");

		if (json_object_get(out, key) != NULL)
			continue;
		if (def == NULL) {
			api_error(r, API_E_VALIDATION, json_pack("{s:s}", "parameters", key),
			    "parameter '%s' is required: the flow gives it no default", key);
			goto fail;
		}
		json_object_set(out, key, def);
	}
	json_decref(spec);
	return out;
fail:
	json_decref(spec);
	json_decref(out);
	return NULL;
}

/* 429 quota_exceeded naming the quota; the Dagy dialect also carries the
 * spec's limit, current_usage and reset_at at the top level. A monthly
 * quota resets with the month, a concurrency one when a run ends. */
static void
quota_refused(struct req *r, const struct usage_refusal *why)
{
	time_t start, end;
	char reset[32];
	int monthly = strncmp(why->quota, "monthly_", 8) == 0;

	usage_month(time(NULL), &start, &end);
	ts_rfc3339(end, reset);
	api_header(r, "Retry-After: %lld", monthly ? (long long)(end - time(NULL)) :
	    (long long)r->srv->retry_after);
	api_error(r, API_E_QUOTA_EXCEEDED, json_pack("{s:s, s:I, s:I, s:o}", "quota",
	    why->quota, "limit", (json_int_t)why->limit, "current_usage",
	    (json_int_t)why->current, "reset_at", monthly ? json_string(reset) : json_null()),
	    "%s quota of %lld reached (%lld used)%s", why->quota, (long long)why->limit,
	    (long long)why->current, monthly ? "; it resets at the start of next month" :
	    "; retry when a run ends");
	if (r->dialect == DIALECT_DAGY) {
		json_object_set_new(r->resp, "quota", json_string(why->quota));
		json_object_set_new(r->resp, "limit", json_integer(why->limit));
		json_object_set_new(r->resp, "current_usage", json_integer(why->current));
		json_object_set_new(r->resp, "reset_at", monthly ? json_string(reset) : json_null());
	}
}

int
runs_api_trigger(struct req *r, const struct run_trigger *t, struct run_created *out)
{
	struct usage_refusal why;
	struct db_res *v, *d = NULL;
	struct run_new n;
	const char *id, *slug;
	json_t *params = NULL, *details;
	/* With no quota to check under the org's lock and nothing else to
	 * write with it, the run and its audit row go in one round trip. */
	int alone = t->schedule_id == 0 && t->in_txn == NULL &&
	    !(t->execute && usage_plan_limited(api_plan(r)));
	int rc;

	memset(&n, 0, sizeof(n));
	if (!alone && (rc = db_begin(r->db)) < 0)
		return rc;
	if (t->deployment != NULL) {
		rc = deploy_get(r->db, &r->arena, r->who.org_id, t->deployment, &d);
		if (rc == DEPLOY_ENOTFOUND) {
			db_rollback(r->db);
			api_error(r, API_E_NOT_FOUND, NULL, "deployment '%s' not found", t->deployment);
			return 1;
		}
		if (rc < 0)
			return rc;
		rc = flows_version(r->db, &r->arena, r->who.org_id,
		    db_val(d, 0, DEPLOY_C_FLOW), db_val(d, 0, DEPLOY_C_VERSION), &v);
	} else {
		rc = flows_version(r->db, &r->arena, r->who.org_id, t->flow, t->version, &v);
	}
	if (rc == FLOWS_ENOTFOUND) {
		db_rollback(r->db);
		if (r->dialect == DIALECT_DAGGLE)
			api_error(r, API_E_NOT_FOUND, NULL, "DAG '%s' not found", t->flow);
		else if (t->version != NULL)
			api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' has no version '%s'",
			    t->flow, t->version);
		else
			api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' not found", t->flow);
		return 1;
	}
	if (rc < 0)
		return rc;
	if ((params = bind_params(r, db_val(v, 0, FLOWS_V_SPEC), t->params)) == NULL) {
		db_rollback(r->db);
		return 1;
	}
	if (t->execute &&
	    (rc = usage_admit(r->db, &r->arena, api_plan(r), r->who.org_id, &why)) != 0) {
		json_decref(params);
		if (rc < 0)
			return rc;
		db_rollback(r->db);
		quota_refused(r, &why);
		return 1;
	}
	n.org_id = r->who.org_id;
	n.flow_id = db_int(v, 0, FLOWS_V_FLOW_ID);
	n.version_id = db_int(v, 0, FLOWS_V_ID);
	n.deployment_id = d != NULL ? db_int(d, 0, DEPLOY_C_DBID) : 0;
	n.user_id = r->who.user_id;
	n.schedule_id = t->schedule_id;
	n.flow_name = db_val(v, 0, FLOWS_V_NAME);
	n.status = t->execute ? "queued" : "created";
	n.trigger = t->trigger;
	n.executor = t->executor != NULL ? t->executor :
	    d != NULL && *db_val(d, 0, DEPLOY_C_EXECUTOR) ? db_val(d, 0, DEPLOY_C_EXECUTOR) : NULL;
	n.mode = t->mode != NULL ? t->mode : d != NULL ? db_val(d, 0, DEPLOY_C_MODE) : NULL;
	n.params = api_json_text(r, params);
	n.tags = api_json_text(r, t->tags);
	n.environment = t->environment != NULL ? t->environment :
	    d != NULL ? db_val(d, 0, DEPLOY_C_ENV) : NULL;
	if ((rc = api_env_guard(r, n.environment, "run")) != 0) {
		json_decref(params);
		return rc;
	}
	details = json_pack("{s:s, s:s, s:o}", "flow_name", n.flow_name, "flow_version",
	    db_val(v, 0, FLOWS_V_VERSION), "environment", api_str_or_null(n.environment));
	/* The answer is built from what was written: no read-back. */
	if (alone) {
		struct audit_row au;

		audit_row_of(&au, &r->arena, &r->who, "run.trigger", "run", details);
		rc = runs_create_audited(r->db, &r->arena, &n, &au, &id, &slug);
	} else {
		rc = runs_create(r->db, &r->arena, &n, &id, &slug);
		if (rc >= 0 && t->schedule_id != 0)
			rc = sched_set_last(r->db, t->schedule_id, id);
		if (rc >= 0 && t->in_txn != NULL)
			rc = t->in_txn(r, id, t->in_txn_arg);
		if (rc >= 0)
			rc = audit_write(r->db, &r->who, "run.trigger", "run", id, details);
		else
			json_decref(details);
		if (rc >= 0)
			rc = db_commit(r->db);
	}
	if (rc < 0) {
		json_decref(params);
		return rc;
	}
	out->id = id;
	out->slug = slug;
	out->flow = n.flow_name;
	out->version = db_val(v, 0, FLOWS_V_VERSION);
	out->status = n.status;
	out->created_at = api_now(r);
	out->params = params;
	out->environment = n.environment;
	if (t->execute)
		wake_send(config_str(r->srv->cfg, "worker", "wake_dir"), WAKE_RUNS);
	return 0;
}

static int
runs_trigger_h(struct req *r)
{
	struct run_trigger t;
	struct run_created run;
	json_t *exec = json_object_get(r->body_json, "execute");
	int rc;

	memset(&t, 0, sizeof(t));
	if (req_name(r, "flow_name", 0, &t.flow) < 0 ||
	    req_version(r, "flow_version", &t.version) < 0 ||
	    req_name(r, "deployment", 0, &t.deployment) < 0 ||
	    req_str(r, "executor", 0, 64, &t.executor) < 0 ||
	    req_str(r, "execution_mode", 0, 16, &t.mode) < 0 ||
	    req_json_field(r, "parameters", 0, &t.params) < 0 ||
	    req_json_field(r, "tags", 1, &t.tags) < 0 ||
	    req_str(r, "environment", 0, 64, &t.environment) < 0)
		return 0;
	if (t.environment != NULL && !env_name_valid(t.environment))
		return api_invalid(r, "environment", "must be 1-64 letters, digits, '.', '_' or '-'");
	if (t.deployment == NULL && (rc = req_name(r, "deployment_name", 0, &t.deployment)) < 0)
		return 0;
	if (t.flow == NULL && t.deployment == NULL)
		return api_invalid(r, "flow_name", "is required (or deployment)");
	if (exec != NULL && !json_is_boolean(exec))
		return api_invalid(r, "execute", "must be true or false");
	t.execute = exec == NULL || json_is_true(exec);
	t.trigger = "api";
	if ((rc = runs_api_trigger(r, &t, &run)) != 0)
		return rc < 0 ? rc : 0;
	{
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
		    "run_id", run.id, "run_slug", run.slug, "flow_name", run.flow,
		    "flow_version", run.version, "status", run.status, "created_at", run.created_at,
		    "parameters", run.params);

		/* Only runs that name one say so: other clients see what they did. */
		if (run.environment != NULL)
			json_object_set_new(o, "environment", json_string(run.environment));
		return api_json(r, 202, o);
	}
}

static json_t *
duration(const struct db_res *rows, unsigned i, int col)
{
	const char *v = db_val(rows, i, col);

	return v != NULL ? json_real(strtod(v, NULL)) : json_null();
}

json_t *
runs_api_json(const struct db_res *rows, unsigned i, int full)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}",
	    "run_id", db_val(rows, i, RUN_C_ID), "run_slug", db_val(rows, i, RUN_C_SLUG),
	    "flow_name", db_val(rows, i, RUN_C_FLOW),
	    "flow_version", db_val(rows, i, RUN_C_VERSION),
	    "status", db_val(rows, i, RUN_C_STATUS),
	    "created_at", db_val(rows, i, RUN_C_CREATED),
	    "started_at", api_str_or_null(db_val(rows, i, RUN_C_STARTED)),
	    "completed_at", api_str_or_null(db_val(rows, i, RUN_C_COMPLETED)),
	    "duration_seconds", duration(rows, i, RUN_C_DURATION));

	if (!full)
		return o;
	json_object_set_new(o, "deployment_name", api_str_or_null(db_val(rows, i, RUN_C_DEPLOYMENT)));
	json_object_set_new(o, "executor", json_string(db_val(rows, i, RUN_C_EXECUTOR)));
	json_object_set_new(o, "execution_mode", json_string(db_val(rows, i, RUN_C_MODE)));
	json_object_set_new(o, "parameters", api_json_col(db_val(rows, i, RUN_C_PARAMS)));
	json_object_set_new(o, "output", db_val(rows, i, RUN_C_OUTPUT) != NULL ?
	    api_json_col(db_val(rows, i, RUN_C_OUTPUT)) : json_object());
	json_object_set_new(o, "error", api_str_or_null(db_val(rows, i, RUN_C_ERROR)));
	json_object_set_new(o, "retry_count", json_integer(db_int(rows, i, RUN_C_RETRIES)));
	json_object_set_new(o, "tags", db_val(rows, i, RUN_C_TAGS) != NULL ?
	    api_json_col(db_val(rows, i, RUN_C_TAGS)) : json_array());
	json_object_set_new(o, "trigger", json_string(db_val(rows, i, RUN_C_TRIGGER)));
	json_object_set_new(o, "scheduled_for", api_str_or_null(db_val(rows, i, RUN_C_SCHEDULED_FOR)));
	json_object_set_new(o, "cancelled_at", api_str_or_null(db_val(rows, i, RUN_C_CANCELLED)));
	return o;
}

static const char *const run_statuses[] = {"created", "queued", "running",
	"completed", "failed", "cancelled", NULL};

static int
runs_list_h(struct req *r)
{
	const char *status = req_query(r, "status"), *flow = req_query(r, "flow_name");
	struct db_res *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc, i;
	unsigned k;

	if (status != NULL) {
		for (i = 0; run_statuses[i] != NULL && strcmp(run_statuses[i], status) != 0; i++)
			;
		if (run_statuses[i] == NULL)
			return api_invalid(r, "status", "must be one of created, queued, "
			    "running, completed, failed, cancelled");
	}
	if (req_page(r, 20, 100, &limit, &after) < 0)
		return 0;
	rc = runs_list(r->db, &r->arena, r->who.org_id, flow, status,
	    (int64_t)json_integer_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (k = 0; k < rows->nrows && k < (unsigned)limit; k++)
		json_array_append_new(items, runs_api_json(rows, k, 0));
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[I]", (json_int_t)db_int(rows, limit - 1, RUN_C_DBID));
	return api_page(r, items, key);
}

/* Loads the {run_id} of the path; answers 404 itself (returns 1). */
static int
load_run(struct req *r, struct db_res **row)
{
	int rc = runs_get(r->db, &r->arena, r->who.org_id, req_param(r, "run_id"), row);

	if (rc == RUNS_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "run '%s' not found", req_param(r, "run_id"));
		return 1;
	}
	return rc;
}

static int
runs_get_h(struct req *r)
{
	struct db_res *row;
	int rc = load_run(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, runs_api_json(row, 0, 1));
}

int
runs_api_cancel(struct req *r, const char *id, struct db_res **row)
{
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = runs_cancel(r->db, &r->arena, r->who.org_id, id, row);
	if (rc == RUNS_ENOTFOUND || rc == RUNS_EFINISHED) {
		db_rollback(r->db);
		return rc;
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, "run.cancel", "run", id, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake_send(config_str(r->srv->cfg, "worker", "wake_dir"), WAKE_HELD);
	return 0;
}

static int
runs_cancel_h(struct req *r)
{
	const char *id = req_param(r, "run_id");
	struct db_res *row;
	int rc = runs_api_cancel(r, id, &row);

	if (rc == RUNS_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "run '%s' not found", id);
	if (rc == RUNS_EFINISHED)
		return api_error(r, API_E_VALIDATION, json_pack("{s:s}", "status",
		    db_val(row, 0, RUN_C_STATUS)), "run '%s' cannot be cancelled: it is %s",
		    id, db_val(row, 0, RUN_C_STATUS));
	if (rc < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:s}", "run_id", id,
	    "status", "cancelled", "cancelled_at", db_val(row, 0, RUN_C_CANCELLED)));
}

static int
runs_retry_h(struct req *r)
{
	const char *id = req_param(r, "run_id");
	struct db_res *row;
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = runs_retry(r->db, &r->arena, r->who.org_id, id, &row);
	if (rc == RUNS_ENOTFOUND || rc == RUNS_EACTIVE) {
		db_rollback(r->db);
		if (rc == RUNS_ENOTFOUND)
			return api_error(r, API_E_NOT_FOUND, NULL, "run '%s' not found", id);
		return api_error(r, API_E_CONFLICT, NULL, "run '%s' is %s: only failed or "
		    "cancelled runs can be retried", id, db_val(row, 0, RUN_C_STATUS));
	}
	if (rc < 0 || (rc = (int)notify_outbox_run_retry(r->db, db_int(row, 0, RUN_C_DBID))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "run.retry", "run", id, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake_send(config_str(r->srv->cfg, "worker", "wake_dir"), rc > 0 ?
	    WAKE_RUNS | WAKE_ALERTS : WAKE_RUNS);
	return api_json(r, 202, runs_api_json(row, 0, 1));
}

static int
runs_logs_h(struct req *r)
{
	struct db_res *row, *logs;
	json_t *after, *events, *key = NULL;
	int limit, rc = load_run(r, &row);
	const char *status;
	unsigned i;

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (req_page(r, 500, 10000, &limit, &after) < 0)
		return 0;
	rc = runs_logs(r->db, &r->arena, db_int(row, 0, RUN_C_DBID), req_query(r, "step_id"),
	    (int64_t)json_integer_value(json_array_get(after, 0)), limit, &logs);
	if (rc < 0) {
		json_decref(after);
		return rc;
	}
	events = json_array();
	for (i = 0; i < logs->nrows; i++)
		json_array_append_new(events, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}",
		    "timestamp", db_val(logs, i, 3), "message", db_val(logs, i, 5),
		    "ingestion_time", db_val(logs, i, 4), "step_id", db_val(logs, i, 1),
		    "stream", stream_names[db_int(logs, i, 2) % 3],
		    "truncated", db_int(logs, i, 6) != 0));
	/* A run still going hands out a token to follow it with. */
	status = db_val(row, 0, RUN_C_STATUS);
	if (logs->nrows == (unsigned)limit || strcmp(status, "queued") == 0 ||
	    strcmp(status, "running") == 0)
		key = json_pack("[I]", logs->nrows > 0 ?
		    (json_int_t)db_int(logs, logs->nrows - 1, 0) :
		    json_integer_value(json_array_get(after, 0)));
	json_decref(after);
	return api_json(r, 200, json_pack("{s:o, s:o}", "events", events, "next_token",
	    key != NULL ? json_string(page_token(r, key)) : json_null()));
}

json_t *
runs_api_step_json(const struct db_res *s, unsigned i)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "step_id", db_val(s, i, STEP_C_STEP), "type", db_val(s, i, STEP_C_TYPE),
	    "status", db_val(s, i, STEP_C_STATUS),
	    "attempt", (json_int_t)db_int(s, i, STEP_C_ATTEMPT),
	    "exit_code", db_val(s, i, STEP_C_EXIT) != NULL ?
	    json_integer(db_int(s, i, STEP_C_EXIT)) : json_null(),
	    "error", api_str_or_null(db_val(s, i, STEP_C_ERROR)),
	    "started_at", api_str_or_null(db_val(s, i, STEP_C_STARTED)),
	    "finished_at", api_str_or_null(db_val(s, i, STEP_C_FINISHED)),
	    "duration_seconds", duration(s, i, STEP_C_DURATION),
	    "worker", api_str_or_null(db_val(s, i, STEP_C_WORKER)));
}

static int
runs_steps_h(struct req *r)
{
	struct db_res *row, *steps;
	json_t *items;
	unsigned i;
	int rc = load_run(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if ((rc = runs_steps(r->db, &r->arena, db_int(row, 0, RUN_C_DBID), &steps)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < steps->nrows; i++)
		json_array_append_new(items, runs_api_step_json(steps, i));
	return api_json(r, 200, json_pack("{s:s, s:o}", "run_id", db_val(row, 0, RUN_C_ID),
	    "items", items));
}

int
runs_api_step_log(struct req *r, int64_t run_dbid, const char *step, json_t **out)
{
	struct db_res *logs;
	struct strbuf {
		char *p;
		size_t n;
	} sb[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
	FILE *f[3];
	int64_t after = 0;
	int rc, k;

	for (k = 0; k < 3; k++)
		f[k] = open_memstream(&sb[k].p, &sb[k].n);
	do {
		unsigned i;

		if ((rc = runs_logs(r->db, &r->arena, run_dbid, step, after, 5000, &logs)) < 0)
			break;
		for (i = 0; i < logs->nrows; i++) {
			fputs(db_val(logs, i, 5), f[db_int(logs, i, 2) % 3]);
			fputc('\n', f[db_int(logs, i, 2) % 3]);
			after = db_int(logs, i, 0);
		}
	} while (logs->nrows == 5000);
	for (k = 0; k < 3; k++)
		fclose(f[k]);
	if (rc == 0)
		*out = json_pack("{s:s, s:s%, s:s%}", "step_id", step, "stdout", sb[1].p,
		    sb[1].n, "stderr", sb[2].p, sb[2].n);
	for (k = 0; k < 3; k++)
		free(sb[k].p);
	return rc;
}

/* Loads the run and checks the step exists; answers 404 itself. */
static int
load_step(struct req *r, struct db_res **row)
{
	const char *step = req_param(r, "step_id");
	struct db_res *steps;
	unsigned i;
	int rc = load_run(r, row);

	if (rc != 0)
		return rc;
	if ((rc = runs_steps(r->db, &r->arena, db_int(*row, 0, RUN_C_DBID), &steps)) < 0)
		return rc;
	for (i = 0; i < steps->nrows; i++)
		if (strcmp(db_val(steps, i, STEP_C_STEP), step) == 0)
			return 0;
	api_error(r, API_E_NOT_FOUND, NULL, "run '%s' has no step '%s'",
	    req_param(r, "run_id"), step);
	return 1;
}

static int
runs_step_log_h(struct req *r)
{
	struct db_res *row;
	json_t *out;
	int rc = load_step(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if ((rc = runs_api_step_log(r, db_int(row, 0, RUN_C_DBID), req_param(r, "step_id"),
	    &out)) < 0)
		return rc;
	return api_json(r, 200, out);
}

int
runs_api_decide(struct req *r, const struct db_res *run, const char *step, int approve)
{
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = runs_decide(r->db, db_int(run, 0, RUN_C_DBID), step, approve, r->who.email);
	if (rc == RUNS_ENOTWAITING || rc == RUNS_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "step '%s' is not waiting for approval",
		    step);
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, approve ? "step.approve" : "step.reject",
	    "step", arena_printf(&r->arena, "%s/%s", db_val(run, 0, RUN_C_ID), step), NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake_send(config_str(r->srv->cfg, "worker", "wake_dir"), WAKE_HELD);
	return api_json(r, 200, json_pack("{s:s, s:s}", "step_id", step,
	    "status", approve ? "approved" : "rejected"));
}

static int
decide(struct req *r, int approve)
{
	struct db_res *row;
	int rc = load_step(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	return runs_api_decide(r, row, req_param(r, "step_id"), approve);
}

static int
runs_approve_h(struct req *r)
{
	return decide(r, 1);
}

static int
runs_reject_h(struct req *r)
{
	return decide(r, 0);
}

json_t *
runs_api_outputs(struct req *r, int64_t run_dbid, int *rc)
{
	struct db_res *outs;
	json_t *items;
	unsigned i;

	if ((*rc = runs_outputs(r->db, &r->arena, run_dbid, &outs)) < 0)
		return NULL;
	items = json_array();
	for (i = 0; i < outs->nrows; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s}", "step_id",
		    db_val(outs, i, 0), "key", db_val(outs, i, 1), "value", db_val(outs, i, 2)));
	return items;
}

static int
runs_outputs_h(struct req *r)
{
	struct db_res *row;
	json_t *items;
	int rc = load_run(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if ((items = runs_api_outputs(r, db_int(row, 0, RUN_C_DBID), &rc)) == NULL)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:o}", "run_id", db_val(row, 0, RUN_C_ID),
	    "items", items));
}
