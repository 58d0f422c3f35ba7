/* Usage metering and plan quotas. Runs, tasks, step-seconds and errors are
 * added to the rollup tables by triggers (schema/006_usage.sql) in the
 * transaction of the event; API requests come from the hosts' shared
 * counters (limits.h) every [limits] usage_flush_seconds; artifact bytes
 * through usage_add_artifact_bytes. Everything here reads the rollups,
 * never runs. The billing period is the UTC calendar month. */
#ifndef DAGY_USAGE_H
#define DAGY_USAGE_H

#include <stdint.h>
#include <time.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct config;

/* A plan's quotas (0: unlimited) and its request rates per window
 * ([plan.NAME] or, when 0 there, [limits]). */
struct usage_plan {
	int64_t monthly_runs, monthly_tasks, monthly_step_seconds, concurrent_runs;
	int64_t key_requests, org_requests;
	int64_t ai_credits; /* AI Studio credits a month ([ai] monthly_credits when 0) */
};

struct usage_totals {
	int64_t runs, tasks, step_ms, errors, api_calls, artifact_bytes;
};

/* The quota a new run would break. */
struct usage_refusal {
	const char *quota; /* "monthly_runs", "monthly_tasks", ... */
	int64_t limit, current;
};

struct usage_prices {
	double run, step_second, per_1000_api_calls;
};

/* The plans an organization can be on. */
#define USAGE_NPLANS 4
extern const char *const usage_plans[USAGE_NPLANS];

void usage_plan(const struct config *cfg, const char *plan, struct usage_plan *p);
int usage_plan_limited(const struct usage_plan *p);
/* [start, end) of the month holding t. */
void usage_month(time_t t, time_t *start, time_t *end);

/* Totals of org's rollups in [from, to) (SQL DATETIME text). */
int usage_totals(struct db *db, struct arena *a, int64_t org_id, const char *from,
    const char *to, struct usage_totals *t);
/* Queued and running runs of org. */
int usage_concurrent(struct db *db, struct arena *a, int64_t org_id, int64_t *n);
/* Buckets in [from, to), oldest first; columns: bucket ("2026-03-01", or
 * "2026-03-01T10:00:00Z" when hourly), runs, tasks, step_ms, errors,
 * api_calls, artifact_bytes. Empty buckets are absent. */
int usage_series(struct db *db, struct arena *a, int64_t org_id, const char *from,
    const char *to, int hourly, struct db_res **rows);
/* Per flow and executor in days [from, to) (SQL dates); columns:
 * flow_name, executor, runs, tasks, step_ms, errors. */
int usage_by_flow(struct db *db, struct arena *a, int64_t org_id, const char *from,
    const char *to, struct db_res **rows);

/* Whether org may start one more run under plan: 0, or 1 with *why.
 * With quotas set it locks the org row until the transaction ends, so
 * concurrent triggers cannot both take the last run. Call in the
 * transaction that creates the run. */
int usage_admit(struct db *db, struct arena *a, const struct usage_plan *p,
    int64_t org_id, struct usage_refusal *why);
/* usage_admit under the org's own plan, read from orgs, for runs started
 * by the worker (schedules, sensors); no query when no plan has quotas. */
int usage_admit_org(struct db *db, struct arena *a, const struct config *cfg, int64_t org_id,
    struct usage_refusal *why);
/* The scheduler's check before firing a slot of schedule (internal id,
 * public id) at slot (SQL DATETIME): 0 to fire, 1 when the slot was
 * recorded as skipped (schedule_skips and an audit row), or a db_err. */
int usage_schedule_gate(struct db *db, struct arena *a, const struct config *cfg,
    int64_t org_id, int64_t schedule_id, const char *schedule_public_id,
    const char *slot);

/* Adds n API requests of org to the current hour. */
int usage_add_api_calls(struct db *db, int64_t org_id, int64_t n);
/* Adds (or, negative, removes) stored artifact bytes; for the artifact
 * store to call in the transaction that records an artifact. */
int usage_add_artifact_bytes(struct db *db, int64_t org_id, int64_t bytes);

void usage_prices(const struct config *cfg, struct usage_prices *p);
double usage_cost(const struct usage_prices *p, int64_t runs, int64_t step_ms,
    int64_t api_calls);

#endif
