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
 * counts an offset. *total is the count when page 1 was served. Columns:
 * see RUNS_C_* / STEP_C_* of metrics.c's callers (compat_dagctl.c). */
int metrics_page(struct db *db, struct arena *a, enum metrics_kind kind,
    int64_t org_id, int64_t flow_id, const char *after, int page, int limit,
    struct db_res **rows, int64_t *total);
/* Rows per UTC day since `since` (SQL date): date, total, completed,
 * failed, avg, p50, p95, max (seconds). */
int metrics_daily(struct db *db, struct arena *a, int64_t flow_id,
    const char *since, struct db_res **rows);
/* Rows per step id for steps started in [from, to): model, executions,
 * failures, avg, p50, p95, max (seconds). */
int metrics_models(struct db *db, struct arena *a, int64_t flow_id,
    const char *from, const char *to, struct db_res **rows);

#endif
