/* SQL of the usage rollups, plan quotas and skipped schedule slots. */
#include <stdio.h>
#include <string.h>

#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/log.h"
#include "dagy/ts.h"
#include "dagy/usage.h"

const char *const usage_plans[USAGE_NPLANS] = {"free", "starter", "professional",
	"enterprise"};

void
usage_plan(const struct config *cfg, const char *plan, struct usage_plan *p)
{
	char sec[48];

	snprintf(sec, sizeof(sec), "plan.%s", plan != NULL ? plan : "free");
	p->monthly_runs = config_int(cfg, sec, "monthly_runs");
	p->monthly_tasks = config_int(cfg, sec, "monthly_tasks");
	p->monthly_step_seconds = config_int(cfg, sec, "monthly_step_seconds");
	p->concurrent_runs = config_int(cfg, sec, "concurrent_runs");
	if ((p->ai_credits = config_int(cfg, sec, "ai_credits")) <= 0)
		p->ai_credits = config_int(cfg, "ai", "monthly_credits");
	if ((p->key_requests = config_int(cfg, sec, "key_requests")) <= 0)
		p->key_requests = config_int(cfg, "limits", "key_requests");
	if ((p->org_requests = config_int(cfg, sec, "org_requests")) <= 0)
		p->org_requests = config_int(cfg, "limits", "org_requests");
}

int
usage_plan_limited(const struct usage_plan *p)
{
	return p->monthly_runs > 0 || p->monthly_tasks > 0 ||
	    p->monthly_step_seconds > 0 || p->concurrent_runs > 0;
}

void
usage_month(time_t t, time_t *start, time_t *end)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	*start = timegm(&tm);
	tm.tm_mon++;
	*end = timegm(&tm);
}

static const char SQL_TOTALS[] =
    "SELECT COALESCE(SUM(run_count), 0), COALESCE(SUM(task_count), 0),"
    " COALESCE(SUM(step_ms), 0), COALESCE(SUM(error_count), 0),"
    " COALESCE(SUM(api_calls), 0), COALESCE(SUM(artifact_bytes), 0)"
    " FROM usage_hourly WHERE org_id = ? AND hour >= ? AND hour < ?";
static const char SQL_CONCURRENT[] =
    "SELECT COUNT(*) FROM runs WHERE org_id = ? AND status IN ('queued', 'running')";
static const char SQL_SERIES_DAY[] =
    "SELECT DATE_FORMAT(hour, '%Y-%m-%d') AS d, SUM(run_count), SUM(task_count),"
    " SUM(step_ms), SUM(error_count), SUM(api_calls), SUM(artifact_bytes)"
    " FROM usage_hourly WHERE org_id = ? AND hour >= ? AND hour < ?"
    " GROUP BY d ORDER BY d";
static const char SQL_SERIES_HOUR[] =
    "SELECT DATE_FORMAT(hour, '%Y-%m-%dT%H:00:00Z'), SUM(run_count), SUM(task_count),"
    " SUM(step_ms), SUM(error_count), SUM(api_calls), SUM(artifact_bytes)"
    " FROM usage_hourly WHERE org_id = ? AND hour >= ? AND hour < ?"
    " GROUP BY hour ORDER BY hour";
static const char SQL_BY_FLOW[] =
    "SELECT flow_name, executor, SUM(run_count), SUM(task_count), SUM(step_ms),"
    " SUM(error_count) FROM usage_daily WHERE org_id = ? AND day >= ? AND day < ?"
    " GROUP BY flow_name, executor ORDER BY flow_name, executor";
static const char SQL_LOCK_ORG[] = "SELECT plan FROM orgs WHERE id = ? FOR UPDATE";
static const char SQL_PLAN[] = "SELECT plan FROM orgs WHERE id = ?";
static const char SQL_SKIP[] =
    "INSERT INTO schedule_skips (org_id, schedule_id, scheduled_for, reason, quota)"
    " VALUES (?, ?, ?, 'quota_exceeded', ?) ON DUPLICATE KEY UPDATE id = id";
/* The shard as the triggers of schema/006_usage.sql choose it. */
static const char SQL_ADD_API[] =
    "INSERT INTO usage_hourly (org_id, hour, shard, api_calls)"
    " VALUES (?, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, ?)"
    " ON DUPLICATE KEY UPDATE api_calls = api_calls + VALUES(api_calls)";
static const char SQL_ADD_BYTES[] =
    "INSERT INTO usage_hourly (org_id, hour, shard, artifact_bytes)"
    " VALUES (?, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:00:00'), CONNECTION_ID() % 4, ?)"
    " ON DUPLICATE KEY UPDATE artifact_bytes = artifact_bytes + VALUES(artifact_bytes)";

int
usage_totals(struct db *db, struct arena *a, int64_t org_id, const char *from,
    const char *to, struct usage_totals *t)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_TOTALS, "iss", org_id, from, to);

	if (rc < 0)
		return rc;
	t->runs = db_int(r, 0, 0);
	t->tasks = db_int(r, 0, 1);
	t->step_ms = db_int(r, 0, 2);
	t->errors = db_int(r, 0, 3);
	t->api_calls = db_int(r, 0, 4);
	t->artifact_bytes = db_int(r, 0, 5);
	return 0;
}

int
usage_concurrent(struct db *db, struct arena *a, int64_t org_id, int64_t *n)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_CONCURRENT, "i", org_id);

	if (rc == 0)
		*n = db_int(r, 0, 0);
	return rc;
}

int
usage_series(struct db *db, struct arena *a, int64_t org_id, const char *from,
    const char *to, int hourly, struct db_res **rows)
{
	return db_query(db, a, rows, hourly ? SQL_SERIES_HOUR : SQL_SERIES_DAY, "iss",
	    org_id, from, to);
}

int
usage_by_flow(struct db *db, struct arena *a, int64_t org_id, const char *from,
    const char *to, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_BY_FLOW, "iss", org_id, from, to);
}

/* Compares one figure with its quota; fills why on the first one reached. */
static int
reached(struct usage_refusal *why, const char *quota, int64_t limit, int64_t current)
{
	if (limit <= 0 || current < limit)
		return 0;
	why->quota = quota;
	why->limit = limit;
	why->current = current;
	return 1;
}

int
usage_admit(struct db *db, struct arena *a, const struct usage_plan *p,
    int64_t org_id, struct usage_refusal *why)
{
	struct usage_totals t = {0};
	struct db_res *r;
	time_t start, end;
	char from[32], to[32];
	int64_t active = 0;
	int rc;

	if (!usage_plan_limited(p))
		return 0;
	if ((rc = db_query(db, a, &r, SQL_LOCK_ORG, "i", org_id)) < 0)
		return rc;
	usage_month(time(NULL), &start, &end);
	ts_sql(start, 0, from);
	ts_sql(end, 0, to);
	if ((p->monthly_runs > 0 || p->monthly_tasks > 0 || p->monthly_step_seconds > 0) &&
	    (rc = usage_totals(db, a, org_id, from, to, &t)) < 0)
		return rc;
	if (p->concurrent_runs > 0 && (rc = usage_concurrent(db, a, org_id, &active)) < 0)
		return rc;
	return reached(why, "monthly_runs", p->monthly_runs, t.runs) ||
	    reached(why, "monthly_tasks", p->monthly_tasks, t.tasks) ||
	    reached(why, "monthly_step_seconds", p->monthly_step_seconds, t.step_ms / 1000) ||
	    reached(why, "concurrent_runs", p->concurrent_runs, active);
}

int
usage_admit_org(struct db *db, struct arena *a, const struct config *cfg, int64_t org_id,
    struct usage_refusal *why)
{
	struct usage_plan p;
	struct db_res *r;
	size_t i;
	int rc, any = 0;

	/* Without a quota in any plan (the self-hosted default) no query. */
	for (i = 0; i < USAGE_NPLANS; i++) {
		usage_plan(cfg, usage_plans[i], &p);
		any |= usage_plan_limited(&p);
	}
	if (!any)
		return 0;
	if ((rc = db_query(db, a, &r, SQL_PLAN, "i", org_id)) < 0)
		return rc;
	usage_plan(cfg, r->nrows == 1 ? db_val(r, 0, 0) : NULL, &p);
	return usage_admit(db, a, &p, org_id, why);
}

int
usage_schedule_gate(struct db *db, struct arena *a, const struct config *cfg,
    int64_t org_id, int64_t schedule_id, const char *schedule_public_id,
    const char *slot)
{
	struct usage_refusal why;
	int rc;

	if ((rc = usage_admit_org(db, a, cfg, org_id, &why)) <= 0)
		return rc;
	if ((rc = (int)db_exec(db, SQL_SKIP, "iiss", org_id, schedule_id, slot, why.quota)) < 0)
		return rc;
	if (rc == 1) {
		if ((rc = audit_write_as(db, org_id, 0, "scheduler", NULL, "schedule.skip",
		    "schedule", schedule_public_id, json_pack("{s:s, s:s, s:s, s:I, s:I}",
		    "scheduled_for", slot, "reason", "quota_exceeded", "quota", why.quota,
		    "limit", (json_int_t)why.limit, "current_usage", (json_int_t)why.current))) < 0)
			return rc;
		log_info("schedule %s: slot %s skipped: quota %s reached (%lld of %lld)",
		    schedule_public_id, slot, why.quota, (long long)why.current,
		    (long long)why.limit);
	}
	return 1;
}

int
usage_add_api_calls(struct db *db, int64_t org_id, int64_t n)
{
	int64_t rc = db_exec(db, SQL_ADD_API, "ii", org_id, n);

	return rc < 0 ? (int)rc : 0;
}

int
usage_add_artifact_bytes(struct db *db, int64_t org_id, int64_t bytes)
{
	int64_t rc = db_exec(db, SQL_ADD_BYTES, "ii", org_id, bytes);

	return rc < 0 ? (int)rc : 0;
}

void
usage_prices(const struct config *cfg, struct usage_prices *p)
{
	p->run = config_num(cfg, "usage", "price_per_run");
	p->step_second = config_num(cfg, "usage", "price_per_step_second");
	p->per_1000_api_calls = config_num(cfg, "usage", "price_per_1000_api_calls");
}

double
usage_cost(const struct usage_prices *p, int64_t runs, int64_t step_ms,
    int64_t api_calls)
{
	double c = p->run * (double)runs + p->step_second * (double)step_ms / 1000.0 +
	    p->per_1000_api_calls * (double)api_calls / 1000.0;

	/* Cents, as an invoice would show them. */
	return (double)(long long)(c * 100 + 0.5) / 100;
}
