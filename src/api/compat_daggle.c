/* The daggle dialect (/api/v1/dags…, /api/v1/runs/cleanup, /api/v1/health):
 * a DAG is a flow by name; flat arrays; errors {"error": text}. A thin
 * layer over the queries /v1 uses. Status words: doc/dialects.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "config.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/cron.h"
#include "dagy/flows.h"
#include "dagy/flowspec.h"
#include "dagy/nodes.h"
#include "dagy/runs.h"

static int dg_health(struct req *r);
static int dg_dags(struct req *r);
static int dg_dag(struct req *r);
static int dg_trigger(struct req *r);
static int dg_validate(struct req *r);
static int dg_runs(struct req *r);
static int dg_run(struct req *r);
static int dg_cancel(struct req *r);
static int dg_steps(struct req *r);
static int dg_step_log(struct req *r);
static int dg_approve(struct req *r);
static int dg_reject(struct req *r);
static int dg_outputs(struct req *r);
static int dg_cleanup(struct req *r);

#define DG "/api/v1/dags/{name}"
#define RUN DG "/runs/{run_id}"
const struct route daggle_routes[] = {
	{"GET", "/api/v1/health", dg_health, PERM_PUBLIC, 0, DIALECT_DAGGLE},
	{"GET", "/api/v1/dags", dg_dags, PERM_FLOWS_READ, 0, DIALECT_DAGGLE},
	{"GET", DG, dg_dag, PERM_FLOWS_READ, 0, DIALECT_DAGGLE},
	{"POST", DG "/run", dg_trigger, PERM_RUNS_TRIGGER, ROUTE_BODY, DIALECT_DAGGLE},
	{"POST", DG "/validate", dg_validate, PERM_FLOWS_READ, 0, DIALECT_DAGGLE},
	{"GET", DG "/runs", dg_runs, PERM_RUNS_READ, 0, DIALECT_DAGGLE},
	{"GET", RUN, dg_run, PERM_RUNS_READ, 0, DIALECT_DAGGLE},
	{"POST", RUN "/cancel", dg_cancel, PERM_RUNS_CANCEL, 0, DIALECT_DAGGLE},
	{"GET", RUN "/steps", dg_steps, PERM_RUNS_READ, 0, DIALECT_DAGGLE},
	{"GET", RUN "/steps/{step_id}/log", dg_step_log, PERM_RUNS_READ, 0, DIALECT_DAGGLE},
	{"POST", RUN "/steps/{step_id}/approve", dg_approve, PERM_RUNS_TRIGGER, 0, DIALECT_DAGGLE},
	{"POST", RUN "/steps/{step_id}/reject", dg_reject, PERM_RUNS_TRIGGER, 0, DIALECT_DAGGLE},
	{"GET", RUN "/outputs", dg_outputs, PERM_RUNS_READ, 0, DIALECT_DAGGLE},
	{"POST", "/api/v1/runs/cleanup", dg_cleanup, PERM_RUNS_CANCEL, ROUTE_BODY, DIALECT_DAGGLE},
};
const size_t daggle_routes_n = sizeof(daggle_routes) / sizeof(daggle_routes[0]);

/* dagy's run words in daggle's. */
static const char *
run_word(const char *s)
{
	if (s == NULL)
		return NULL;
	if (strcmp(s, "completed") == 0)
		return "success";
	if (strcmp(s, "queued") == 0)
		return "running";
	if (strcmp(s, "created") == 0)
		return "pending";
	return s;
}

static const char *
step_word(const char *s)
{
	return strcmp(s, "rejected") == 0 ? "failed" : s;
}

static json_t *
secs(const char *v)
{
	return v != NULL ? json_real(strtod(v, NULL)) : json_null();
}

static int
dg_health(struct req *r)
{
	if (db_ping(r->db) < 0) {
		api_header(r, "Retry-After: %d", r->srv->retry_after);
		return api_error(r, API_E_SERVICE_UNAVAILABLE, NULL, "database unavailable");
	}
	return api_json(r, 200, json_pack("{s:s, s:s, s:I}", "status", "ok", "version",
	    PACKAGE_VERSION, "uptime_seconds", (json_int_t)(time(NULL) - r->srv->started)));
}

static json_t *
dag_json(const struct db_res *d, unsigned i, int full)
{
	json_t *spec = api_json_col(db_val(d, i, 1)), *nodes = json_object_get(spec, "nodes");
	json_t *o = json_pack("{s:s, s:I, s:o, s:o, s:o}", "name", db_val(d, i, 0),
	    "steps", (json_int_t)json_array_size(nodes),
	    "schedule", api_str_or_null(db_val(d, i, 6)),
	    "last_status", api_str_or_null(run_word(db_val(d, i, 3))),
	    "last_run", api_str_or_null(db_val(d, i, 5)));

	if (full) {
		json_t *ids = json_array(), *n, *ordered = flowspec_order(spec);
		size_t k;

		json_array_foreach(ordered, k, n)
			json_array_append(ids, json_object_get(n, "id"));
		json_decref(ordered);
		json_object_set_new(o, "step_ids", ids);
		json_object_set_new(o, "last_run_id", api_str_or_null(db_val(d, i, 4)));
		json_object_set_new(o, "dag_hash", json_stringn(db_val(d, i, 2), 8));
		json_object_set_new(o, "workdir", json_null());
	}
	json_decref(spec);
	return o;
}

static int
dg_dags(struct req *r)
{
	struct db_res *rows;
	json_t *out;
	unsigned i;
	int rc = flows_overview(r->db, &r->arena, r->who.org_id, NULL, &rows);

	if (rc < 0)
		return rc;
	out = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(out, dag_json(rows, i, 0));
	return api_json(r, 200, out);
}

/* The DAG of the path; answers 404 itself (returns 1). */
static int
load_dag(struct req *r, struct db_res **row)
{
	const char *name = req_param(r, "name");
	int rc = flows_overview(r->db, &r->arena, r->who.org_id, name, row);

	if (rc == FLOWS_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "DAG '%s' not found", name);
		return 1;
	}
	return rc;
}

static int
dg_dag(struct req *r)
{
	struct db_res *row;
	int rc = load_dag(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, dag_json(row, 0, 1));
}

static int
dg_trigger(struct req *r)
{
	struct run_trigger t;
	struct run_created run;
	int rc;

	memset(&t, 0, sizeof(t));
	if (req_json_field(r, "params", 0, &t.params) < 0)
		return 0;
	t.flow = req_param(r, "name");
	t.execute = 1;
	t.trigger = "api";
	if ((rc = runs_api_trigger(r, &t, &run)) != 0)
		return rc < 0 ? rc : 0;
	json_decref(run.params);
	return api_json(r, 201, json_pack("{s:s, s:s}", "run_id", run.id,
	    "status", run_word(run.status)));
}

static int
dg_validate(struct req *r)
{
	struct db_res *row;
	struct flowspec_err e;
	json_t *spec, *canon, *warnings = json_array(), *n, *custom;
	size_t i;
	int rc = load_dag(r, &row);

	if (rc == 0)
		rc = nodes_custom_map(r->db, &r->arena, r->who.org_id, &custom);
	if (rc != 0) {
		json_decref(warnings);
		return rc < 0 ? rc : 0;
	}
	spec = api_json_col(db_val(row, 0, 1));
	/* The org's custom node types, as at registration. */
	canon = flowspec_canonical_with(spec, config_int(r->srv->cfg, "worker",
	    "max_step_timeout_seconds"), custom, &e);
	json_decref(custom);
	json_array_foreach(json_object_get(spec, "nodes"), i, n)
		if (json_object_get(n, "timeout_seconds") == NULL)
			json_array_append_new(warnings, json_sprintf("step '%s' has no timeout_seconds; "
			    "the worker's default applies", json_string_value(json_object_get(n, "id"))));
	json_decref(spec);
	if (canon == NULL)
		return api_json(r, 200, json_pack("{s:b, s:o, s:[s]}", "valid", 0,
		    "warnings", warnings, "errors", e.msg));
	json_decref(canon);
	return api_json(r, 200, json_pack("{s:b, s:o}", "valid", 1, "warnings", warnings));
}

static json_t *
run_json(const struct db_res *run, unsigned i)
{
	const char *started = db_val(run, i, RUN_C_STARTED);

	return json_pack("{s:s, s:s, s:s, s:o, s:s%}", "run_id", db_val(run, i, RUN_C_ID),
	    "started", started != NULL ? started : db_val(run, i, RUN_C_CREATED),
	    "status", run_word(db_val(run, i, RUN_C_STATUS)),
	    "duration_seconds", secs(db_val(run, i, RUN_C_DURATION)),
	    "dag_hash", db_val(run, i, RUN_C_HASH), (size_t)8);
}

static int
dg_runs(struct req *r)
{
	struct db_res *dag, *rows;
	json_t *out = NULL;
	int64_t before = 0;
	unsigned i;
	int rc = load_dag(r, &dag);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	out = json_array();
	do {
		if ((rc = runs_list(r->db, &r->arena, r->who.org_id, req_param(r, "name"),
		    NULL, before, 1000, &rows)) < 0) {
			json_decref(out);
			return rc;
		}
		for (i = 0; i < rows->nrows; i++)
			json_array_append_new(out, run_json(rows, i));
		if (rows->nrows > 0)
			before = db_int(rows, rows->nrows - 1, RUN_C_DBID);
	} while (rows->nrows == 1000 && json_array_size(out) < 100000);
	return api_json(r, 200, out);
}

/* The run of the path ("latest" allowed), which must belong to the DAG of
 * the path; answers 404 itself (returns 1). */
static int
load_run(struct req *r, struct db_res **row)
{
	const char *name = req_param(r, "name"), *id = req_param(r, "run_id");
	int rc;

	if (strcmp(id, "latest") == 0 &&
	    (rc = runs_latest(r->db, &r->arena, r->who.org_id, name, &id)) != 0) {
		if (rc < 0 && rc != RUNS_ENOTFOUND)
			return rc;
		api_error(r, API_E_NOT_FOUND, NULL, "DAG '%s' has no runs", name);
		return 1;
	}
	rc = runs_get(r->db, &r->arena, r->who.org_id, id, row);
	if (rc == 0 && strcmp(db_val(*row, 0, RUN_C_FLOW), name) != 0)
		rc = RUNS_ENOTFOUND;
	if (rc == RUNS_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "run '%s' of DAG '%s' not found", id, name);
		return 1;
	}
	return rc;
}

static json_t *
steps_json(struct req *r, int64_t run_dbid, int *rc)
{
	struct db_res *steps;
	json_t *out;
	unsigned i;

	if ((*rc = runs_steps(r->db, &r->arena, run_dbid, &steps)) < 0)
		return NULL;
	out = json_array();
	for (i = 0; i < steps->nrows; i++) {
		const char *status = db_val(steps, i, STEP_C_STATUS);
		int done = strcmp(status, "pending") != 0 && strcmp(status, "running") != 0 &&
		    strcmp(status, "waiting_approval") != 0;

		json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "step_id",
		    db_val(steps, i, STEP_C_STEP), "status", step_word(status),
		    "duration_seconds", done ? secs(db_val(steps, i, STEP_C_DURATION)) : json_null()));
	}
	return out;
}

static int
dg_run(struct req *r)
{
	struct db_res *row;
	json_t *o, *steps;
	size_t i;
	int rc = load_run(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if ((steps = steps_json(r, db_int(row, 0, RUN_C_DBID), &rc)) == NULL)
		return rc;
	o = run_json(row, 0);
	/* A running run whose gate waits says so, as daggle does. */
	if (strcmp(json_string_value(json_object_get(o, "status")), "running") == 0)
		for (i = 0; i < json_array_size(steps); i++)
			if (strcmp(json_string_value(json_object_get(json_array_get(steps, i),
			    "status")), "waiting_approval") == 0)
				json_object_set_new(o, "status", json_string("waiting_approval"));
	json_object_set_new(o, "steps", steps);
	return api_json(r, 200, o);
}

static int
dg_cancel(struct req *r)
{
	struct db_res *row;
	int rc = load_run(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = runs_api_cancel(r, db_val(row, 0, RUN_C_ID), &row);
	if (rc == RUNS_EFINISHED)
		return api_error(r, API_E_CONFLICT, NULL, "run '%s' already finished (%s)",
		    db_val(row, 0, RUN_C_ID), run_word(db_val(row, 0, RUN_C_STATUS)));
	if (rc < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s}", "run_id", db_val(row, 0, RUN_C_ID),
	    "status", "cancelled"));
}

static int
dg_steps(struct req *r)
{
	struct db_res *row;
	json_t *steps;
	int rc = load_run(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if ((steps = steps_json(r, db_int(row, 0, RUN_C_DBID), &rc)) == NULL)
		return rc;
	return api_json(r, 200, steps);
}

/* The run and a step of it; answers 404 itself. */
static int
load_step(struct req *r, struct db_res **row)
{
	struct db_res *steps;
	unsigned i;
	int rc = load_run(r, row);

	if (rc != 0)
		return rc;
	if ((rc = runs_steps(r->db, &r->arena, db_int(*row, 0, RUN_C_DBID), &steps)) < 0)
		return rc;
	for (i = 0; i < steps->nrows; i++)
		if (strcmp(db_val(steps, i, STEP_C_STEP), req_param(r, "step_id")) == 0)
			return 0;
	api_error(r, API_E_NOT_FOUND, NULL, "step '%s' not found", req_param(r, "step_id"));
	return 1;
}

static int
dg_step_log(struct req *r)
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
dg_approve(struct req *r)
{
	return decide(r, 1);
}

static int
dg_reject(struct req *r)
{
	return decide(r, 0);
}

static int
dg_outputs(struct req *r)
{
	struct db_res *row;
	json_t *items;
	int rc = load_run(r, &row);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if ((items = runs_api_outputs(r, db_int(row, 0, RUN_C_DBID), &rc)) == NULL)
		return rc;
	return api_json(r, 200, items);
}

static const char *
human_bytes(struct req *r, int64_t n)
{
	static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	return u == 0 ? arena_printf(&r->arena, "%lld B", (long long)n) :
	    arena_printf(&r->arena, "%.1f %s", v, units[u]);
}

static int
dg_cleanup(struct req *r)
{
	const char *older;
	int64_t removed, bytes;
	long long secs_;
	int rc;

	if (req_str(r, "older_than", 1, 32, &older) < 0)
		return 0;
	if ((secs_ = cron_interval(older)) < 0)
		return api_error(r, API_E_VALIDATION, NULL,
		    "older_than must be a duration such as 30d, 12h, 90m or 45s");
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = runs_cleanup(r->db, &r->arena, r->who.org_id, secs_, &removed, &bytes)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "runs.cleanup", "run", older,
	    json_pack("{s:I, s:I}", "removed", (json_int_t)removed, "freed_bytes",
	    (json_int_t)bytes))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:I, s:I, s:s}", "removed", (json_int_t)removed,
	    "freed_bytes", (json_int_t)bytes, "freed", human_bytes(r, bytes)));
}
