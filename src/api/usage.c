/* /v1/usage: the current period's summary, day and hour timeseries, the
 * plan's quotas against what was used, costs by flow and executor, and a
 * dashboard of all of them. Every figure comes from the rollup tables
 * (usage.h); the period is the UTC calendar month. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dagy/ts.h"
#include "dagy/usage.h"

static int usage_summary_h(struct req *r);
static int usage_timeseries_h(struct req *r);
static int usage_quota_h(struct req *r);
static int usage_dashboard_h(struct req *r);
static int usage_costs_h(struct req *r);

const struct route usage_routes[] = {
	{"GET", "/v1/usage/summary", usage_summary_h, PERM_BILLING_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/usage/timeseries", usage_timeseries_h, PERM_BILLING_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/usage/quota", usage_quota_h, PERM_BILLING_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/usage/dashboard", usage_dashboard_h, PERM_BILLING_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/usage/costs", usage_costs_h, PERM_BILLING_READ, 0, DIALECT_DAGY},
};
const size_t usage_routes_n = sizeof(usage_routes) / sizeof(usage_routes[0]);

#define DAY 86400
#define MAX_DAYS 366
#define MAX_HOURS (31 * 24)
#define TOP_FLOWS 10

static json_t *
seconds(int64_t ms)
{
	return json_real((double)ms / 1000.0);
}

static const char *
sql_ts(struct req *r, time_t t)
{
	char *s = arena_alloc(&r->arena, 32);

	ts_sql(t, 0, s);
	return s;
}

static json_t *
summary_json(struct req *r, time_t start, time_t end, int *rc)
{
	struct usage_totals t;
	struct usage_prices pr;
	char a[32], b[32];

	if ((*rc = usage_totals(r->db, &r->arena, r->who.org_id, sql_ts(r, start),
	    sql_ts(r, end), &t)) < 0)
		return NULL;
	usage_prices(r->srv->cfg, &pr);
	ts_rfc3339(start, a);
	ts_rfc3339(end - 1, b);
	return json_pack("{s:s, s:s, s:I, s:I, s:o, s:I, s:I, s:I, s:f}",
	    "period_start", a, "period_end", b, "run_count", (json_int_t)t.runs,
	    "task_count", (json_int_t)t.tasks, "compute_seconds", seconds(t.step_ms),
	    "api_call_count", (json_int_t)t.api_calls, "error_count", (json_int_t)t.errors,
	    "artifact_bytes", (json_int_t)t.artifact_bytes, "estimated_cost_usd",
	    usage_cost(&pr, t.runs, t.step_ms, t.api_calls));
}

/* Buckets of [start, end) (whole days or hours, UTC), empty ones included. */
static json_t *
series_json(struct req *r, time_t start, time_t end, int hourly, int *rc)
{
	struct usage_prices pr;
	struct db_res *rows;
	json_t *items;
	time_t t;
	unsigned k = 0;

	if ((*rc = usage_series(r->db, &r->arena, r->who.org_id, sql_ts(r, start),
	    sql_ts(r, end), hourly, &rows)) < 0)
		return NULL;
	usage_prices(r->srv->cfg, &pr);
	items = json_array();
	for (t = start; t < end; t += hourly ? 3600 : DAY) {
		char key[32], day[16];
		int64_t v[6] = {0};
		json_t *o;
		unsigned c;

		ts_rfc3339(t, key);
		snprintf(day, sizeof(day), "%.10s", key);
		if (!hourly)
			snprintf(key, sizeof(key), "%s", day);
		if (k < rows->nrows && strcmp(db_val(rows, k, 0), key) == 0) {
			for (c = 0; c < 6; c++)
				v[c] = db_int(rows, k, c + 1);
			k++;
		}
		o = json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:I, s:f}", "date", day,
		    "run_count", (json_int_t)v[0], "task_count", (json_int_t)v[1],
		    "compute_seconds", seconds(v[2]), "api_call_count", (json_int_t)v[4],
		    "error_count", (json_int_t)v[3], "artifact_bytes", (json_int_t)v[5],
		    "cost_usd", usage_cost(&pr, v[0], v[2], v[4]));
		if (hourly)
			json_object_set_new(o, "hour", json_string(key));
		json_array_append_new(items, o);
	}
	return items;
}

static json_t *
limit_or_null(int64_t limit)
{
	return limit > 0 ? json_integer(limit) : json_null();
}

static json_t *
quota_json(struct req *r, int *rc)
{
	const struct usage_plan *p = api_plan(r);
	struct usage_totals t;
	time_t start, end;
	int64_t active;
	const char *names[] = {"monthly_runs", "monthly_tasks", "monthly_step_seconds",
		"concurrent_runs"};
	int64_t lim[4], cur[4];
	json_t *limits = json_object(), *used = json_object(), *pct = json_object();
	int warn = 0, over = 0, i;
	char reset[32];

	usage_month(time(NULL), &start, &end);
	if ((*rc = usage_totals(r->db, &r->arena, r->who.org_id, sql_ts(r, start),
	    sql_ts(r, end), &t)) < 0 ||
	    (*rc = usage_concurrent(r->db, &r->arena, r->who.org_id, &active)) < 0) {
		json_decref(limits);
		json_decref(used);
		json_decref(pct);
		return NULL;
	}
	lim[0] = p->monthly_runs;
	lim[1] = p->monthly_tasks;
	lim[2] = p->monthly_step_seconds;
	lim[3] = p->concurrent_runs;
	cur[0] = t.runs;
	cur[1] = t.tasks;
	cur[2] = t.step_ms / 1000;
	cur[3] = active;
	for (i = 0; i < 4; i++) {
		double share = lim[i] > 0 ? 100.0 * (double)cur[i] / (double)lim[i] : 0;

		json_object_set_new(limits, names[i], limit_or_null(lim[i]));
		json_object_set_new(used, names[i], json_integer(cur[i]));
		json_object_set_new(pct, names[i], lim[i] > 0 ?
		    json_real((double)(long long)(share * 10 + 0.5) / 10) : json_null());
		warn |= lim[i] > 0 && share >= 80;
		over |= lim[i] > 0 && cur[i] >= lim[i];
	}
	ts_rfc3339(end, reset);
	return json_pack("{s:s, s:o, s:o, s:o, s:b, s:b, s:s}", "plan",
	    r->who.plan != NULL && *r->who.plan ? r->who.plan : "free", "limits", limits,
	    "current_usage", used, "percentages", pct, "warning", warn,
	    "over_limit", over, "reset_at", reset);
}

/* start_date and end_date (inclusive; a time counts as its day or hour)
 * as [*start, *end) whole buckets; defaults: the current period to now.
 * -1 after a 400. */
static int
date_range(struct req *r, int hourly, time_t *start, time_t *end)
{
	time_t now = time(NULL), ps, pe, s, e = now;
	long step = hourly ? 3600 : DAY, max = hourly ? MAX_HOURS : MAX_DAYS;
	int s_date, e_date;

	usage_month(now, &ps, &pe);
	s = ps;
	if (req_date(r, "start_date", &s, &s_date) < 0 ||
	    req_date(r, "end_date", &e, &e_date) < 0)
		return -1;
	*start = s - s % step;
	*end = e_date ? e + DAY : e - e % step + step;
	if (*end <= *start)
		return api_invalid(r, "end_date", "must not be before start_date"), -1;
	if ((*end - *start) / step > max)
		return api_invalid(r, "end_date", "is more than %ld %s after start_date", max,
		    hourly ? "hours" : "days"), -1;
	return 0;
}

static int
usage_summary_h(struct req *r)
{
	time_t start, end;
	json_t *o;
	int rc;

	usage_month(time(NULL), &start, &end);
	if ((o = summary_json(r, start, end, &rc)) == NULL)
		return rc;
	return api_json(r, 200, o);
}

static int
usage_timeseries_h(struct req *r)
{
	const char *g = req_query(r, "granularity");
	time_t start, end;
	char a[32], b[32];
	json_t *items;
	int hourly, rc;

	if (g != NULL && strcmp(g, "day") != 0 && strcmp(g, "hour") != 0)
		return api_invalid(r, "granularity", "must be day or hour");
	hourly = g != NULL && strcmp(g, "hour") == 0;
	if (date_range(r, hourly, &start, &end) < 0)
		return 0;
	if ((items = series_json(r, start, end, hourly, &rc)) == NULL)
		return rc;
	ts_rfc3339(start, a);
	ts_rfc3339(end - 1, b);
	return api_json(r, 200, json_pack("{s:s, s:s, s:s, s:o}", "start", a, "end", b,
	    "granularity", hourly ? "hour" : "day", "items", items));
}

static int
usage_quota_h(struct req *r)
{
	json_t *o;
	int rc;

	if ((o = quota_json(r, &rc)) == NULL)
		return rc;
	return api_json(r, 200, o);
}

/* Adds figures to an accumulator {runs, tasks, ms}. */
static void
add(json_t *o, int64_t runs, int64_t tasks, int64_t ms)
{
	const char *k[3] = {"runs", "tasks", "ms"};
	int64_t v[3] = {runs, tasks, ms};
	int i;

	for (i = 0; i < 3; i++)
		json_object_set_new(o, k[i],
		    json_integer(json_integer_value(json_object_get(o, k[i])) + v[i]));
}

/* Figures by flow and by executor over the days of [start, end), in no
 * particular order (see sorted), and the sum of the flows' costs. */
static int
breakdown(struct req *r, time_t start, time_t end, json_t **by_flow,
    json_t **by_executor, double *total)
{
	struct usage_prices pr;
	struct db_res *rows;
	json_t *flows = json_object(), *execs = json_object(), *v;
	const char *key;
	unsigned i;
	int rc;
	char from[16], to[16], a[32];

	ts_rfc3339(start, a);
	snprintf(from, sizeof(from), "%.10s", a);
	ts_rfc3339(end, a);
	snprintf(to, sizeof(to), "%.10s", a);
	if ((rc = usage_by_flow(r->db, &r->arena, r->who.org_id, from, to, &rows)) < 0)
		goto fail;
	usage_prices(r->srv->cfg, &pr);
	*total = 0;
	for (i = 0; i < rows->nrows; i++) {
		const char *flow = db_val(rows, i, 0), *ex = db_val(rows, i, 1);
		int64_t runs = db_int(rows, i, 2), tasks = db_int(rows, i, 3);
		int64_t ms = db_int(rows, i, 4);
		json_t *f = json_object_get(flows, flow), *e = json_object_get(execs, ex);

		if (f == NULL) {
			f = json_pack("{s:s, s:I, s:I, s:I}", "flow_name", flow, "runs", (json_int_t)0,
			    "tasks", (json_int_t)0, "ms", (json_int_t)0);
			json_object_set_new(flows, flow, f);
		}
		if (e == NULL) {
			e = json_pack("{s:s, s:I, s:I, s:I}", "executor", ex, "runs", (json_int_t)0,
			    "tasks", (json_int_t)0, "ms", (json_int_t)0);
			json_object_set_new(execs, ex, e);
		}
		add(f, runs, tasks, ms);
		add(e, runs, tasks, ms);
	}
	*by_flow = json_array();
	*by_executor = json_array();
	json_object_foreach(flows, key, v) {
		int64_t runs = json_integer_value(json_object_get(v, "runs"));
		int64_t ms = json_integer_value(json_object_get(v, "ms"));
		double cost = usage_cost(&pr, runs, ms, 0);

		*total += cost;
		json_array_append_new(*by_flow, json_pack("{s:s, s:f, s:I, s:O, s:o}",
		    "flow_name", key, "cost_usd", cost, "run_count", (json_int_t)runs,
		    "task_count", json_object_get(v, "tasks"), "compute_seconds", seconds(ms)));
	}
	json_object_foreach(execs, key, v) {
		int64_t ms = json_integer_value(json_object_get(v, "ms"));

		json_array_append_new(*by_executor, json_pack("{s:s, s:f, s:O, s:O, s:o}",
		    "executor", key, "cost_usd", usage_cost(&pr,
		    json_integer_value(json_object_get(v, "runs")), ms, 0),
		    "task_count", json_object_get(v, "tasks"), "run_count",
		    json_object_get(v, "runs"), "compute_seconds", seconds(ms)));
	}
	rc = 0;
fail:
	json_decref(flows);
	json_decref(execs);
	return rc;
}

/* Descending by the number field, then ascending by the name field. */
static int
cmp_items(const void *x, const void *y, void *fields)
{
	const char *const *f = fields;
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	double p = json_number_value(json_object_get(a, f[0]));
	double q = json_number_value(json_object_get(b, f[0]));

	if (p != q)
		return p < q ? 1 : -1;
	return strcmp(json_string_value(json_object_get(a, f[1])),
	    json_string_value(json_object_get(b, f[1])));
}

/* A new array of arr's items sorted by num then name, at most max. */
static json_t *
sorted(json_t *arr, const char *num, const char *name, size_t max)
{
	size_t n = json_array_size(arr), i;
	json_t **v = calloc(n + 1, sizeof(*v)), *out = json_array();
	const char *fields[2] = {num, name};

	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort_r(v, n, sizeof(*v), cmp_items, fields);
	for (i = 0; i < n && i < max; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

static int
usage_costs_h(struct req *r)
{
	struct usage_totals t;
	struct usage_prices pr;
	time_t start, end;
	json_t *flows, *execs;
	double total, api;
	char a[32], b[32];
	int rc;

	if (date_range(r, 0, &start, &end) < 0)
		return 0;
	if ((rc = usage_totals(r->db, &r->arena, r->who.org_id, sql_ts(r, start),
	    sql_ts(r, end), &t)) < 0 ||
	    (rc = breakdown(r, start, end, &flows, &execs, &total)) < 0)
		return rc;
	usage_prices(r->srv->cfg, &pr);
	api = usage_cost(&pr, 0, 0, t.api_calls);
	ts_rfc3339(start, a);
	ts_rfc3339(end - 1, b);
	rc = api_json(r, 200, json_pack("{s:s, s:s, s:f, s:f, s:o, s:o}", "start", a,
	    "end", b, "total_cost_usd", (double)(long long)((total + api) * 100 + 0.5) / 100,
	    "api_calls_cost_usd", api,
	    "by_flow", sorted(flows, "cost_usd", "flow_name", (size_t)-1),
	    "by_executor", sorted(execs, "cost_usd", "executor", (size_t)-1)));
	json_decref(flows);
	json_decref(execs);
	return rc;
}

static int
usage_dashboard_h(struct req *r)
{
	json_t *summary = NULL, *series = NULL, *quota = NULL, *flows = NULL, *execs = NULL;
	json_t *top, *item;
	time_t now = time(NULL), start, end;
	double total;
	size_t i;
	int rc;

	usage_month(now, &start, &end);
	/* The timeseries runs to today, as /v1/usage/timeseries does. */
	if ((summary = summary_json(r, start, end, &rc)) == NULL ||
	    (series = series_json(r, start, now - now % DAY + DAY, 0, &rc)) == NULL ||
	    (quota = quota_json(r, &rc)) == NULL ||
	    (rc = breakdown(r, start, end, &flows, &execs, &total)) < 0)
		goto fail;
	top = sorted(flows, "run_count", "flow_name", TOP_FLOWS);
	json_array_foreach(top, i, item)
		json_array_set_new(top, i, json_pack("{s:O, s:O, s:O, s:O}", "flow_name",
		    json_object_get(item, "flow_name"), "run_count",
		    json_object_get(item, "run_count"), "task_count",
		    json_object_get(item, "task_count"), "cost_usd",
		    json_object_get(item, "cost_usd")));
	rc = api_json(r, 200, json_pack("{s:o, s:o, s:o, s:o}", "summary", summary,
	    "timeseries", series, "quota", quota, "top_flows", top));
	summary = series = quota = NULL;
fail:
	json_decref(summary);
	json_decref(series);
	json_decref(quota);
	json_decref(flows);
	json_decref(execs);
	return rc;
}
