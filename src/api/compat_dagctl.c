/* The dagctl dialect (/api/v1/projects/{project_id}/…): a project is a
 * flow (by id or name), a model execution a step run. Numbered pages with
 * totals, updated_after polling, statistics; null fields are omitted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/flows.h"
#include "dagy/metrics.h"
#include "dagy/ts.h"

static int dc_runs(struct req *r);
static int dc_executions(struct req *r);
static int dc_daily(struct req *r);
static int dc_model_stats(struct req *r);

#define PRJ "/api/v1/projects/{project_id}"
const struct route dagctl_routes[] = {
	{"GET", PRJ "/runs", dc_runs, PERM_RUNS_READ, 0, DIALECT_DAGCTL},
	{"GET", PRJ "/model-executions", dc_executions, PERM_RUNS_READ, 0, DIALECT_DAGCTL},
	{"GET", PRJ "/runs/daily-stats", dc_daily, PERM_RUNS_READ, 0, DIALECT_DAGCTL},
	{"GET", PRJ "/model-executions/stats", dc_model_stats, PERM_RUNS_READ, 0, DIALECT_DAGCTL},
};
const size_t dagctl_routes_n = sizeof(dagctl_routes) / sizeof(dagctl_routes[0]);

/* Sets key to a string, or leaves it out for NULL (omitempty). */
static void
put_str(json_t *o, const char *key, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, key, json_string(v));
}

static void
put_num(json_t *o, const char *key, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, key, json_real(strtod(v, NULL)));
}

static const char *
run_word(const char *s)
{
	if (strcmp(s, "completed") == 0)
		return "success";
	if (strcmp(s, "queued") == 0 || strcmp(s, "created") == 0)
		return "pending";
	return s;
}

/* The project of the path; answers 404 itself (returns 1). */
static int
project(struct req *r, int64_t *flow_id)
{
	int rc = flows_find(r->db, &r->arena, r->who.org_id, req_param(r, "project_id"), flow_id);

	if (rc == FLOWS_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "project '%s' not found",
		    req_param(r, "project_id"));
		return 1;
	}
	return rc;
}

/* page, limit and updated_after; -1 after a 400. */
static int
paging(struct req *r, int *page, int *limit, const char **after)
{
	const char *p = req_query(r, "page"), *l = req_query(r, "limit");
	const char *u = req_query(r, "updated_after");
	char *end, *buf;
	time_t t;
	long usec, v;

	*page = 1;
	*limit = 50;
	if (p != NULL) {
		v = strtol(p, &end, 10);
		if (*p == '\0' || *end != '\0' || v < 1 || v > 10000000)
			return api_error(r, API_E_VALIDATION, NULL, "page must be a whole number >= 1"), -1;
		*page = (int)v;
	}
	if (l != NULL) {
		v = strtol(l, &end, 10);
		if (*l == '\0' || *end != '\0' || v < 1 || v > 500)
			return api_error(r, API_E_VALIDATION, NULL, "limit must be from 1 to 500"), -1;
		*limit = (int)v;
	}
	buf = arena_alloc(&r->arena, 32);
	if (u == NULL) {
		strcpy(buf, "1970-01-01 00:00:00.000000");
	} else {
		if (ts_parse(u, &t, &usec) < 0)
			return api_error(r, API_E_VALIDATION, NULL, "updated_after must be an "
			    "RFC 3339 timestamp such as 2026-02-26T00:00:00Z"), -1;
		ts_sql(t, usec, buf);
	}
	*after = buf;
	return 0;
}

static json_t *
paged(const char *key, json_t *items, int page, int limit, int64_t total)
{
	return json_pack("{s:o, s:I, s:i, s:i, s:I}", key, items, "total", (json_int_t)total,
	    "page", page, "limit", limit,
	    "total_pages", (json_int_t)((total + limit - 1) / limit));
}

/* The project, its paging parameters and the page of rows; returns 0,
 * 1 after answering a 4xx, or a db_err. */
static int
fetch_page(struct req *r, enum metrics_kind kind, int stats, struct db_res **rows,
    int *page, int *limit, int64_t *total)
{
	const char *after;
	int64_t flow_id;
	int rc;

	if ((rc = project(r, &flow_id)) != 0)
		return rc;
	if (paging(r, page, limit, &after) < 0)
		return 1;
	return metrics_page(r->db, &r->arena, kind, stats, r->who.org_id, flow_id, after,
	    *page, *limit, rows, total);
}

static int
dc_runs(struct req *r)
{
	const char *stats = req_query(r, "include_stats");
	struct db_res *rows;
	int64_t total;
	int page, limit, rc;
	json_t *items;
	unsigned i;

	if ((rc = fetch_page(r, METRICS_RUNS, stats != NULL && strcmp(stats, "true") == 0,
	    &rows, &page, &limit, &total)) != 0)
		return rc < 0 ? rc : 0;
	items = json_array();
	for (i = 0; i < rows->nrows; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		    "id", db_val(rows, i, 1), "project_id", req_param(r, "project_id"),
		    "status", run_word(db_val(rows, i, 2)),
		    "trigger", strcmp(db_val(rows, i, 3), "schedule") == 0 ? "scheduled" :
		    "manual", "created_at", db_val(rows, i, 10),
		    "updated_at", db_val(rows, i, 11), "run_slug", db_val(rows, i, 12));

		json_object_set_new(o, "flow_version", json_string(db_val(rows, i, 13)));
		put_str(o, "cronjob_name", db_val(rows, i, 4));
		put_str(o, "start_time", db_val(rows, i, 5));
		put_str(o, "end_time", db_val(rows, i, 6));
		put_num(o, "duration_seconds", db_val(rows, i, 7));
		put_str(o, "error_message", db_val(rows, i, 8));
		put_str(o, "pod_name", db_val(rows, i, 9));
		if (stats != NULL && strcmp(stats, "true") == 0)
			json_object_set_new(o, "stats", json_pack("{s:I, s:I, s:I}",
			    "models_total", (json_int_t)db_int(rows, i, 14),
			    "models_succeeded", (json_int_t)db_int(rows, i, 15),
			    "models_failed", (json_int_t)db_int(rows, i, 16)));
		json_array_append_new(items, o);
	}
	return api_json(r, 200, paged("runs", items, page, limit, total));
}

static int
dc_executions(struct req *r)
{
	struct db_res *rows;
	int64_t total;
	int page, limit, rc;
	json_t *items;
	unsigned i;

	if ((rc = fetch_page(r, METRICS_STEPS, 0, &rows, &page, &limit, &total)) != 0)
		return rc < 0 ? rc : 0;
	items = json_array();
	for (i = 0; i < rows->nrows; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
		    "id", arena_printf(&r->arena, "mexec_%s", db_val(rows, i, 0)),
		    "model_name", db_val(rows, i, 1), "status", db_val(rows, i, 2),
		    "run_id", db_val(rows, i, 3), "created_at", db_val(rows, i, 9),
		    "updated_at", db_val(rows, i, 10), "attempt", (json_int_t)db_int(rows, i, 11),
		    "type", db_val(rows, i, 12));

		put_str(o, "start_time", db_val(rows, i, 4));
		put_str(o, "end_time", db_val(rows, i, 5));
		put_num(o, "duration_seconds", db_val(rows, i, 6));
		put_str(o, "error_message", db_val(rows, i, 7));
		put_str(o, "pod_name", db_val(rows, i, 8));
		json_array_append_new(items, o);
	}
	return api_json(r, 200, paged("executions", items, page, limit, total));
}

/* The duration figures of a group; left out when nothing ended. */
static void
put_durations(json_t *o, const struct metrics_group *g)
{
	if (!g->have_durations)
		return;
	json_object_set_new(o, "avg_duration_seconds", json_real(round(g->avg * 1000) / 1000));
	json_object_set_new(o, "p50_duration_seconds", json_real(round(g->p50 * 1000) / 1000));
	json_object_set_new(o, "p95_duration_seconds", json_real(round(g->p95 * 1000) / 1000));
	json_object_set_new(o, "max_duration_seconds", json_real(round(g->max * 1000) / 1000));
}

static int
dc_daily(struct req *r)
{
	const char *d = req_query(r, "days");
	struct metrics_group *g;
	int64_t flow_id;
	long days = 7;
	char *end, since[32];
	json_t *out;
	unsigned i, n;
	int rc;

	if ((rc = project(r, &flow_id)) != 0)
		return rc < 0 ? rc : 0;
	if (d != NULL) {
		days = strtol(d, &end, 10);
		if (*d == '\0' || *end != '\0' || days < 1 || days > 366)
			return api_error(r, API_E_VALIDATION, NULL, "days must be from 1 to 366");
	}
	/* Today counts as the last of the days. */
	ts_sql((time(NULL) / 86400 - (days - 1)) * 86400, 0, since);
	if ((rc = metrics_daily(r->db, &r->arena, flow_id, since, &g, &n)) < 0)
		return rc;
	out = json_array();
	for (i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:I, s:I, s:I}", "date", g[i].key,
		    "total_runs", (json_int_t)g[i].total,
		    "successful_runs", (json_int_t)g[i].succeeded,
		    "failed_runs", (json_int_t)g[i].failed);

		put_durations(o, &g[i]);
		json_array_append_new(out, o);
	}
	return api_json(r, 200, json_pack("{s:o, s:i}", "daily_stats", out, "days", (int)days));
}

/* A YYYY-MM-DD query date; -1 after a 400. */
static int
date_param(struct req *r, const char *name, time_t def, time_t *t)
{
	const char *v = req_query(r, name);

	*t = def;
	if (v == NULL)
		return 0;
	if (strlen(v) != 10 || ts_parse(v, t, NULL) < 0)
		return api_error(r, API_E_VALIDATION, NULL, "%s must be a date such as 2026-02-26",
		    name), -1;
	return 0;
}

/* Where key goes in an array of stats kept in model_name order. */
static size_t
sorted_pos(json_t *arr, const char *key)
{
	size_t i;

	for (i = 0; i < json_array_size(arr); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(arr, i),
		    "model_name")), key) > 0)
			return i;
	return i;
}

static int
dc_model_stats(struct req *r)
{
	struct metrics_group *g;
	unsigned n;
	int64_t flow_id;
	time_t today = time(NULL) / 86400 * 86400, from, to;
	char from_sql[32], to_sql[32];
	json_t *out;
	unsigned i;
	int rc;

	if ((rc = project(r, &flow_id)) != 0)
		return rc < 0 ? rc : 0;
	if (date_param(r, "start_date", today - 6 * 86400, &from) < 0 ||
	    date_param(r, "end_date", today, &to) < 0)
		return 0;
	if (to < from)
		return api_error(r, API_E_VALIDATION, NULL, "end_date is before start_date");
	/* Both dates are whole days, end_date included. */
	ts_sql(from, 0, from_sql);
	ts_sql(to + 86400, 0, to_sql);
	if ((rc = metrics_models(r->db, &r->arena, flow_id, from_sql, to_sql, &g, &n)) < 0)
		return rc;
	out = json_array();
	for (i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:I, s:I}", "model_name", g[i].key,
		    "executions", (json_int_t)g[i].total,
		    "failures", (json_int_t)g[i].failed);

		put_durations(o, &g[i]);
		json_array_insert_new(out, sorted_pos(out, g[i].key), o);
	}
	return api_json(r, 200, json_pack("{s:o}", "stats", out));
}
