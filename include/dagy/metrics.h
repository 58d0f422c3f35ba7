/* Execution metrics over runs and step runs of one flow: incremental
 * polling pages and daily and per-step statistics. Percentiles are
 * continuous (linear interpolation between the closest ranks, as
 * PERCENTILE_CONT and numpy's default compute them). */
#ifndef DAGY_METRICS_H
#define DAGY_METRICS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum metrics_kind { METRICS_RUNS, METRICS_STEPS };

/* Rows changed after `after` (SQL DATETIME text), oldest id first, page by
 * page. Page N + 1 continues after page N's last row when this process or
 * another served page N of the same query in the last hour; otherwise it
 * counts an offset. *total is the count when page 1 was served. stats:
 * count each run's steps (runs only). Columns:
 * see RUNS_C_* / STEP_C_* of metrics.c's callers (compat_dagctl.c). */
int metrics_page(struct db *db, struct arena *a, enum metrics_kind kind,
    int stats, int64_t org_id, int64_t flow_id, const char *after, int page, int limit,
    struct db_res **rows, int64_t *total);
/* The figures of one group: a UTC day of runs, or a step id. Durations
 * (seconds) count only rows that ended; have_durations says if any did. */
struct metrics_group {
	const char *key;
	int64_t total, succeeded, failed;
	int have_durations;
	double avg, p50, p95, max;
};

/* Runs per UTC day of created_at since `since` (SQL date), oldest first. */
int metrics_daily(struct db *db, struct arena *a, int64_t flow_id,
    const char *since, struct metrics_group **out, unsigned *n);
/* Step runs per step id, started in [from, to), by step id. */
int metrics_models(struct db *db, struct arena *a, int64_t flow_id,
    const char *from, const char *to, struct metrics_group **out, unsigned *n);
/* The q-quantile of n sorted values, interpolated linearly. */
double metrics_percentile(const double *sorted, size_t n, double q);

#endif
