/* /v1/schedules: cron, interval, one-time and manual schedules of a flow.
 * Create and PATCH share one validation: PATCH merges the body into the
 * schedule as it is and checks the result as a whole. */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/flows.h"
#include "dagy/ids.h"
#include "dagy/runs.h"
#include "dagy/schedules.h"
#include "dagy/ts.h"
#include "dagy/wake.h"

static int sched_create_h(struct req *r);
static int sched_list_h(struct req *r);
static int sched_get_h(struct req *r);
static int sched_patch_h(struct req *r);
static int sched_trigger_h(struct req *r);
static int sched_delete_h(struct req *r);

const struct route schedules_routes[] = {
	{"POST", "/v1/schedules", sched_create_h, PERM_SCHEDULES_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/schedules", sched_list_h, PERM_SCHEDULES_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/schedules/{schedule_id}", sched_get_h, PERM_SCHEDULES_READ, 0, DIALECT_DAGY},
	{"PATCH", "/v1/schedules/{schedule_id}", sched_patch_h, PERM_SCHEDULES_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", "/v1/schedules/{schedule_id}/trigger", sched_trigger_h, PERM_RUNS_TRIGGER, ROUTE_BODY, DIALECT_DAGY},
	{"DELETE", "/v1/schedules/{schedule_id}", sched_delete_h, PERM_SCHEDULES_DELETE, 0, DIALECT_DAGY},
};
const size_t schedules_routes_n = sizeof(schedules_routes) / sizeof(schedules_routes[0]);

static json_t *
sched_json(const struct db_res *s, unsigned i)
{
	const char *iv = db_val(s, i, SCHED_C_INTERVAL);

	return json_pack("{s:s, s:s, s:o, s:s, s:b, s:s, s:s, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s}",
	    "schedule_id", db_val(s, i, SCHED_C_ID), "flow_name", db_val(s, i, SCHED_C_FLOW),
	    "flow_version", api_str_or_null(db_val(s, i, SCHED_C_VERSION)),
	    "mode", db_val(s, i, SCHED_C_MODE), "enabled", db_int(s, i, SCHED_C_ENABLED) != 0,
	    "timezone", db_val(s, i, SCHED_C_TZ), "catchup_policy", db_val(s, i, SCHED_C_CATCHUP),
	    "cron_expression", api_str_or_null(db_val(s, i, SCHED_C_CRON)),
	    "interval_seconds", iv != NULL ? json_integer(db_int(s, i, SCHED_C_INTERVAL)) : json_null(),
	    "one_time_at", api_str_or_null(db_val(s, i, SCHED_C_ONE_TIME)),
	    "start_at", api_str_or_null(db_val(s, i, SCHED_C_START)),
	    "end_at", api_str_or_null(db_val(s, i, SCHED_C_END)),
	    "parameters", db_val(s, i, SCHED_C_PARAMS) != NULL ?
	    api_json_col(db_val(s, i, SCHED_C_PARAMS)) : json_object(),
	    "description", api_str_or_null(db_val(s, i, SCHED_C_DESCRIPTION)),
	    "environment", api_str_or_null(db_val(s, i, SCHED_C_ENV)),
	    "next_run_at", api_str_or_null(db_val(s, i, SCHED_C_NEXT)),
	    "last_run_at", api_str_or_null(db_val(s, i, SCHED_C_LAST_AT)),
	    "last_run_id", api_str_or_null(db_val(s, i, SCHED_C_LAST_ID)),
	    "created_at", db_val(s, i, SCHED_C_CREATED),
	    "updated_at", db_val(s, i, SCHED_C_UPDATED));
}

/* A timestamp field of m: 0 with *t (0 if absent) and *sql, or -1 (400). */
static int
time_field(struct req *r, json_t *m, const char *field, time_t *t, const char **sql)
{
	json_t *v = json_object_get(m, field);
	char *buf;
	long usec;

	*t = 0;
	*sql = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || ts_parse(json_string_value(v), t, &usec) < 0)
		return api_invalid(r, field, "must be an RFC 3339 timestamp such as "
		    "2026-03-02T10:30:00Z"), -1;
	buf = arena_alloc(&r->arena, 32);
	ts_sql(*t, 0, buf);
	*sql = buf;
	return 0;
}

/* Validates the merged fields m of a schedule into f; for an interval
 * schedule keeps `anchor` (0: compute it). Answers 400 itself (-1). */
static int
check(struct req *r, json_t *m, time_t anchor, struct sched_fields *f)
{
	json_t *v;
	struct sched s;
	time_t now = time(NULL), next, one_time;
	char err[256], *buf;
	const char *one_time_sql;

	memset(&s, 0, sizeof(s));
	f->mode = json_string_value(json_object_get(m, "mode"));
	if (f->mode == NULL || sched_mode_parse(f->mode, &s.mode) < 0)
		return api_invalid(r, "mode", "must be cron, interval, one_time or manual"), -1;
	v = json_object_get(m, "enabled");
	if (v != NULL && !json_is_boolean(v))
		return api_invalid(r, "enabled", "must be true or false"), -1;
	f->enabled = v == NULL || json_is_true(v);
	v = json_object_get(m, "timezone");
	f->tz = json_is_string(v) ? json_string_value(v) : v == NULL || json_is_null(v) ? "UTC" : NULL;
	if (f->tz == NULL || !cron_tz_valid(f->tz))
		return api_invalid(r, "timezone", "must name a zone of the system's tzdata, "
		    "such as America/New_York or UTC"), -1;
	snprintf(s.tz, sizeof(s.tz), "%s", f->tz);
	v = json_object_get(m, "catchup_policy");
	f->catchup = json_is_string(v) ? json_string_value(v) : v == NULL || json_is_null(v) ? "skip" : "";
	if (strcmp(f->catchup, "skip") != 0 && strcmp(f->catchup, "all") != 0 &&
	    strcmp(f->catchup, "none") != 0)
		return api_invalid(r, "catchup_policy", "must be skip, all or none"), -1;
	if (time_field(r, m, "start_at", &s.start_at, &f->start) < 0 ||
	    time_field(r, m, "end_at", &s.end_at, &f->end) < 0 ||
	    time_field(r, m, "one_time_at", &one_time, &one_time_sql) < 0)
		return -1;
	if (s.start_at > 0 && s.end_at > 0 && s.end_at <= s.start_at)
		return api_invalid(r, "end_at", "must be after start_at"), -1;
	v = json_object_get(m, "parameters");
	if (v != NULL && !json_is_null(v) && !json_is_object(v))
		return api_invalid(r, "parameters", "must be an object"), -1;
	f->params = api_json_text(r, v);
	v = json_object_get(m, "description");
	f->description = json_is_string(v) ? json_string_value(v) : NULL;
	v = json_object_get(m, "environment");
	f->env = json_is_string(v) ? json_string_value(v) : NULL;
	f->cron = NULL;
	f->interval = 0;
	f->one_time = NULL;
	f->anchor = NULL;
	switch (s.mode) {
	case SCHED_CRON:
		v = json_object_get(m, "cron_expression");
		if (!json_is_string(v))
			return api_invalid(r, "cron_expression", "is required for cron schedules"), -1;
		if (cron_parse(json_string_value(v), &s.cron, err, sizeof(err)) < 0)
			return api_invalid(r, "cron_expression", "is invalid: %s", err), -1;
		f->cron = json_string_value(v);
		break;
	case SCHED_INTERVAL:
		v = json_object_get(m, "interval_seconds");
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 366LL * 86400)
			return api_invalid(r, "interval_seconds", "is required for interval "
			    "schedules: a whole number of seconds from 1 to a year"), -1;
		f->interval = s.interval = json_integer_value(v);
		s.anchor = anchor > 0 ? anchor : s.start_at > 0 ? s.start_at : now + s.interval;
		buf = arena_alloc(&r->arena, 32);
		ts_sql(s.anchor, 0, buf);
		f->anchor = buf;
		break;
	case SCHED_ONE_TIME:
		s.one_time_at = one_time > 0 ? one_time : s.start_at;
		if (s.one_time_at == 0)
			return api_invalid(r, "start_at", "is required for one_time schedules "
			    "(or one_time_at)"), -1;
		buf = arena_alloc(&r->arena, 32);
		ts_sql(s.one_time_at, 0, buf);
		f->one_time = buf;
		break;
	case SCHED_MANUAL:
		break;
	}
	/* A backdated start fires from there (catch-up policy permitting); a
	 * schedule that starts later fires from its start. */
	f->next = NULL;
	if (sched_next(&s, s.start_at > 0 ? s.start_at - 1 : now, &next) == 0) {
		buf = arena_alloc(&r->arena, 32);
		ts_sql(next, 0, buf);
		f->next = buf;
	}
	return 0;
}

/* Checks parameter names against the flow's params. */
static int
check_params(struct req *r, const struct db_res *v, json_t *params)
{
	json_t *spec = api_json_col(db_val(v, 0, FLOWS_V_SPEC));
	json_t *decl = json_object_get(spec, "params"), *x;
	const char *key;
	int rc = 0;

	json_object_foreach(params, key, x)
		if (json_object_get(decl, key) == NULL) {
			api_error(r, API_E_VALIDATION, json_pack("{s:s}", "parameters", key),
			    "unknown parameter '%s' for flow '%s'", key, db_val(v, 0, FLOWS_V_NAME));
			rc = -1;
			break;
		}
	json_decref(spec);
	return rc;
}

static int
not_found(struct req *r, const char *id)
{
	return api_error(r, API_E_NOT_FOUND, NULL, "schedule '%s' not found", id);
}

static void
wake(struct req *r)
{
	wake_send(config_str(r->srv->cfg, "worker", "wake_dir"), WAKE_SCHEDULES | WAKE_RUNS);
}

static int
sched_create_h(struct req *r)
{
	struct sched_fields f;
	struct db_res *v, *row;
	const char *flow, *id;
	char gen[40];
	int rc;

	memset(&f, 0, sizeof(f));
	if (req_name(r, "schedule_id", 0, &id) < 0 || req_name(r, "flow_name", 1, &flow) < 0 ||
	    req_version(r, "flow_version", &f.flow_version) < 0)
		return 0;
	if (id == NULL) {
		ids_new("sched", gen, sizeof(gen));
		id = arena_strdup(&r->arena, gen);
	}
	f.public_id = id;
	if (check(r, r->body_json, 0, &f) < 0)
		return 0;
	if ((rc = api_env_guard(r, f.env, "schedule runs")) != 0)
		return rc < 0 ? rc : 0;
	rc = flows_version(r->db, &r->arena, r->who.org_id, flow, f.flow_version, &v);
	if (rc == FLOWS_ENOTFOUND)
		return f.flow_version == NULL ?
		    api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' not found", flow) :
		    api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' has no version '%s'", flow,
		    f.flow_version);
	if (rc < 0)
		return rc;
	if (check_params(r, v, json_object_get(r->body_json, "parameters")) < 0)
		return 0;
	f.flow_id = db_int(v, 0, FLOWS_V_FLOW_ID);
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = sched_create(r->db, &r->arena, r->who.org_id, &f, &row);
	if (rc == SCHED_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "schedule '%s' already exists", id);
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, "schedule.create", "schedule", id,
	    json_pack("{s:s, s:s}", "flow_name", flow, "mode", f.mode))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 201, sched_json(row, 0));
}

static int
sched_list_h(struct req *r)
{
	const char *mode = req_query(r, "mode"), *en = req_query(r, "enabled");
	enum sched_mode m;
	struct db_res *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc, enabled = -1;
	unsigned i;

	if (mode != NULL && sched_mode_parse(mode, &m) < 0)
		return api_invalid(r, "mode", "must be cron, interval, one_time or manual");
	if (en != NULL) {
		if (strcmp(en, "true") == 0 || strcmp(en, "1") == 0)
			enabled = 1;
		else if (strcmp(en, "false") == 0 || strcmp(en, "0") == 0)
			enabled = 0;
		else
			return api_invalid(r, "enabled", "must be true or false");
	}
	if (req_page(r, 20, 100, &limit, &after) < 0)
		return 0;
	rc = sched_list(r->db, &r->arena, r->who.org_id, req_query(r, "flow_name"), mode,
	    enabled, json_string_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++)
		json_array_append_new(items, sched_json(rows, i));
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[s]", db_val(rows, limit - 1, SCHED_C_ID));
	return api_page(r, items, key);
}

static int
sched_get_h(struct req *r)
{
	const char *id = req_param(r, "schedule_id");
	struct db_res *row;
	int rc = sched_get(r->db, &r->arena, r->who.org_id, id, &row);

	if (rc == SCHED_ENOTFOUND)
		return not_found(r, id);
	if (rc < 0)
		return rc;
	return api_json(r, 200, sched_json(row, 0));
}

static const char *const patchable[] = {"enabled", "timezone", "catchup_policy",
	"cron_expression", "interval_seconds", "one_time_at", "start_at", "end_at",
	"parameters", "description", "environment", "mode", "flow_version", NULL};

static int
sched_patch_h(struct req *r)
{
	const char *id = req_param(r, "schedule_id"), *key;
	struct sched_fields f;
	struct db_res *row, *v;
	json_t *merged, *val;
	time_t anchor;
	int rc, i;

	json_object_foreach(r->body_json, key, val) {
		for (i = 0; patchable[i] != NULL && strcmp(patchable[i], key) != 0; i++)
			;
		if (patchable[i] == NULL)
			return api_invalid(r, key, "cannot be changed");
	}
	if (json_object_size(r->body_json) == 0)
		return api_error(r, API_E_VALIDATION, NULL, "nothing to change");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = sched_get(r->db, &r->arena, r->who.org_id, id, &row);
	if (rc == SCHED_ENOTFOUND || (rc == 0 && db_val(row, 0, SCHED_C_DEPLOYMENT_ID) != NULL)) {
		db_rollback(r->db);
		return not_found(r, id);
	}
	if (rc < 0)
		return rc;
	merged = sched_json(row, 0);
	json_object_update(merged, r->body_json);
	memset(&f, 0, sizeof(f));
	/* The interval's slots stay put unless their rule changes. */
	anchor = json_object_get(r->body_json, "interval_seconds") != NULL ||
	    json_object_get(r->body_json, "start_at") != NULL ||
	    json_object_get(r->body_json, "mode") != NULL ? 0 :
	    (time_t)db_int(row, 0, SCHED_C_ANCHOR_EPOCH);
	if (req_version(r, "flow_version", &f.flow_version) < 0 || check(r, merged, anchor, &f) < 0) {
		json_decref(merged);
		db_rollback(r->db);
		return 0;
	}
	if ((rc = api_env_guard(r, f.env, "schedule runs")) != 0) {
		rc = rc < 0 ? rc : 0;
		goto done;
	}
	if (json_object_get(r->body_json, "flow_version") == NULL)
		f.flow_version = db_val(row, 0, SCHED_C_VERSION);
	/* f points into merged: it lives until the row is written. */
	rc = flows_version(r->db, &r->arena, r->who.org_id, db_val(row, 0, SCHED_C_FLOW),
	    f.flow_version, &v);
	if (rc == FLOWS_ENOTFOUND) {
		db_rollback(r->db);
		rc = api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' has no version '%s'",
		    db_val(row, 0, SCHED_C_FLOW), f.flow_version);
		goto done;
	}
	if (rc < 0)
		goto done;
	if (check_params(r, v, json_object_get(merged, "parameters")) < 0) {
		db_rollback(r->db);
		goto done;
	}
	if ((rc = sched_update(r->db, &r->arena, r->who.org_id, id, &f, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "schedule.update", "schedule", id,
	    json_incref(r->body_json))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		goto done;
	wake(r);
	rc = api_json(r, 200, sched_json(row, 0));
done:
	json_decref(merged);
	return rc;
}

static int
sched_trigger_h(struct req *r)
{
	const char *id = req_param(r, "schedule_id");
	struct run_trigger t;
	struct run_created run;
	struct db_res *row;
	json_t *params, *extra;
	int rc = sched_get(r->db, &r->arena, r->who.org_id, id, &row);

	if (rc == SCHED_ENOTFOUND || (rc == 0 && db_val(row, 0, SCHED_C_DEPLOYMENT_ID) != NULL))
		return not_found(r, id);
	if (rc < 0)
		return rc;
	if (req_json_field(r, "parameters", 0, &extra) < 0)
		return 0;
	params = db_val(row, 0, SCHED_C_PARAMS) != NULL ?
	    api_json_col(db_val(row, 0, SCHED_C_PARAMS)) : json_object();
	if (extra != NULL)
		json_object_update(params, extra);
	memset(&t, 0, sizeof(t));
	t.flow = db_val(row, 0, SCHED_C_FLOW);
	t.version = db_val(row, 0, SCHED_C_VERSION);
	t.params = params;
	t.execute = 1;
	t.trigger = "manual";
	t.environment = db_val(row, 0, SCHED_C_ENV);
	t.schedule_id = db_int(row, 0, SCHED_C_DBID);
	rc = runs_api_trigger(r, &t, &run);
	json_decref(params);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	json_decref(run.params);
	return api_json(r, 202, json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "run_id", run.id, "run_slug", run.slug, "schedule_id", id,
	    "status", run.status, "created_at", run.created_at));
}

static int
sched_delete_h(struct req *r)
{
	const char *id = req_param(r, "schedule_id");
	int rc;

	if ((rc = db_begin(r->db)) < 0 || (rc = sched_delete(r->db, r->who.org_id, id)) < 0)
		return rc;
	if (rc == 0) {
		db_rollback(r->db);
		return not_found(r, id);
	}
	if ((rc = audit_write(r->db, &r->who, "schedule.delete", "schedule", id, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 200, json_pack("{s:s, s:s}", "status", "deleted", "schedule_id", id));
}
