/* SQL of the scrape-time figures. Every query is an index range: the
 * active statuses of ix_runs_claim, ix_workers_heartbeat,
 * ix_schedules_due, ix_deliveries_due, and per organization the
 * updated_at ranges of ix_runs_org_updated and ix_step_runs_org_updated:
 * a scrape costs two queries per organization and the rows changed in the
 * window. Histograms are summed in SQL, so one row comes back per query. */
#include <stdlib.h>
#include <string.h>

#include "dagy/gauges.h"

const double gauges_bounds[GAUGES_NBOUNDS] = {
	0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600,
};
const char *const gauges_run_active[GAUGES_RUN_ACTIVE] = {"created", "queued", "running"};
const char *const gauges_run_ended[GAUGES_RUN_ENDED] = {"completed", "failed", "cancelled"};
const char *const gauges_step_ended[GAUGES_STEP_ENDED] = {
	"success", "failed", "skipped", "cancelled", "rejected",
};
const char *const gauges_delivery_ended[GAUGES_DELIVERY_ENDED] = {"delivered", "failed"};

/* Cumulative buckets, count and sum of x (seconds; NULL rows skipped):
 * GAUGES_NBOUNDS + 2 columns, in the order of gauges_bounds. */
#define HIST(x) \
	"SUM(" x " <= 0.01), SUM(" x " <= 0.05), SUM(" x " <= 0.1), SUM(" x " <= 0.5)," \
	" SUM(" x " <= 1), SUM(" x " <= 5), SUM(" x " <= 10), SUM(" x " <= 30)," \
	" SUM(" x " <= 60), SUM(" x " <= 300), SUM(" x " <= 900), SUM(" x " <= 3600)," \
	" COUNT(" x "), SUM(" x ")"
#define SECS(a, b) "(TIMESTAMPDIFF(MICROSECOND, " a ", " b ") / 1e6)"

static const char SQL_ACTIVE[] =
    "SELECT status, COUNT(*) FROM runs FORCE INDEX (ix_runs_claim)"
    " WHERE status IN ('created', 'queued', 'running') GROUP BY status";
static const char SQL_OLDEST[] =
    "SELECT " SECS("created_at", "UTC_TIMESTAMP(6)") " FROM runs FORCE INDEX (ix_runs_claim)"
    " WHERE status = 'queued' ORDER BY id LIMIT 1";
static const char SQL_WORKERS[] =
    "SELECT COUNT(*) FROM workers"
    " WHERE heartbeat_at > UTC_TIMESTAMP(6) - INTERVAL ? SECOND";
static const char SQL_OVERDUE[] =
    "SELECT COUNT(*), COALESCE(MAX(" SECS("next_run_at", "UTC_TIMESTAMP(6)") "), 0)"
    " FROM schedules FORCE INDEX (ix_schedules_due)"
    " WHERE enabled = 1 AND next_run_at < UTC_TIMESTAMP(6)";
/* The window's start, set once per scrape: a user variable is a constant
 * to the range optimizer, as a derived table's column is not. */
static const char SQL_SINCE[] = "SET @dagy_metrics_since = UTC_TIMESTAMP(6) - INTERVAL ? SECOND";
static const char SQL_ORGS[] = "SELECT id FROM orgs";
static const char SQL_DELIVERIES_PENDING[] =
    "SELECT COUNT(*) FROM deliveries FORCE INDEX (ix_deliveries_due) WHERE status = 'pending'";
/* An outcome moves next_attempt_at to its time plus the backoff, never
 * before it: the ix_deliveries_due ranges from the window's start hold
 * every delivery that ended in the window, and a few that ended earlier,
 * which the outcome's own time leaves out. */
static const char SQL_DELIVERIES_ENDED[] =
    "SELECT SUM(d.status = 'delivered' AND d.delivered_at >= @dagy_metrics_since),"
    " SUM(d.status = 'failed' AND (SELECT MAX(a.attempted_at) FROM delivery_attempts a"
    "  FORCE INDEX (ix_delivery_attempts) WHERE a.delivery_id = d.id) >= @dagy_metrics_since)"
    " FROM deliveries d FORCE INDEX (ix_deliveries_due)"
    " WHERE d.status IN ('delivered', 'failed') AND d.next_attempt_at >= @dagy_metrics_since";
#define SINCE "@dagy_metrics_since"
/* The first step's start less the run's (set when it is claimed). */
#define CLAIM_TO_START \
	"IF(r.started_at >= " SINCE ", " SECS("r.started_at", \
	"(SELECT MIN(s.started_at) FROM step_runs s FORCE INDEX (uq_step_runs_step)" \
	" WHERE s.run_id = r.id)") ", NULL)"
#define LATENESS "IF(r.started_at >= " SINCE ", " SECS("r.scheduled_for", "r.started_at") ", NULL)"
/* Per organization: a join over orgs would read all of ix_runs_org_updated
 * (the range bound is lost), one organization at a time reads the window. */
static const char SQL_RUNS[] =
    "SELECT SUM(r.status = 'completed' AND r.completed_at >= " SINCE "),"
    " SUM(r.status = 'failed' AND r.completed_at >= " SINCE "),"
    " SUM(r.status = 'cancelled' AND COALESCE(r.completed_at, r.cancelled_at) >= " SINCE "), "
    HIST(CLAIM_TO_START) ", " HIST(LATENESS)
    " FROM runs r FORCE INDEX (ix_runs_org_updated)"
    " WHERE r.org_id = ? AND r.updated_at >= " SINCE;
#define ENDED(st) "SUM(e.status = '" st "' AND e.finished_at >= " SINCE ")"
#define DURATION "IF(e.finished_at >= " SINCE ", " SECS("e.started_at", "e.finished_at") ", NULL)"
static const char SQL_STEPS[] =
    "SELECT SUM(e.started_at >= " SINCE "), " ENDED("success") ", " ENDED("failed") ", "
    ENDED("skipped") ", " ENDED("cancelled") ", " ENDED("rejected") ", " HIST(DURATION)
    " FROM step_runs e FORCE INDEX (ix_step_runs_org_updated)"
    " WHERE e.org_id = ? AND e.updated_at >= " SINCE;

static double
num(const struct db_res *r, unsigned col)
{
	const char *v = db_val(r, 0, col);

	return v != NULL ? strtod(v, NULL) : 0;
}

/* Adds a HIST block starting at column col to h. */
static void
hist(const struct db_res *r, unsigned col, struct gauges_hist *h)
{
	unsigned i;

	for (i = 0; i < GAUGES_NBOUNDS; i++)
		h->le[i] += (uint64_t)num(r, col + i);
	h->count += (uint64_t)num(r, col + GAUGES_NBOUNDS);
	h->sum += num(r, col + GAUGES_NBOUNDS + 1);
}

int
gauges_read(struct db *db, struct arena *a, int64_t window, int64_t lease,
    struct gauges *g)
{
	struct db_res *r, *orgs;
	unsigned i, k, o;
	int rc;

	memset(g, 0, sizeof(*g));
	if ((rc = db_query(db, a, &r, SQL_ACTIVE, "")) < 0)
		return rc;
	for (i = 0; i < r->nrows; i++)
		for (k = 0; k < GAUGES_RUN_ACTIVE; k++)
			if (strcmp(db_val(r, i, 0), gauges_run_active[k]) == 0)
				g->runs[k] = db_int(r, i, 1);
	if ((rc = db_query(db, a, &r, SQL_OLDEST, "")) < 0)
		return rc;
	if (r->nrows == 1)
		g->oldest_queued = num(r, 0);
	if ((rc = db_query(db, a, &r, SQL_WORKERS, "i", lease)) < 0)
		return rc;
	g->workers_alive = db_int(r, 0, 0);
	if ((rc = db_query(db, a, &r, SQL_OVERDUE, "")) < 0)
		return rc;
	g->schedules_overdue = db_int(r, 0, 0);
	g->schedule_overdue_max = num(r, 1);
	if ((rc = db_query(db, a, &r, SQL_DELIVERIES_PENDING, "")) < 0)
		return rc;
	g->deliveries_pending = db_int(r, 0, 0);
	if ((rc = (int)db_exec(db, SQL_SINCE, "i", window)) < 0 ||
	    (rc = db_query(db, a, &r, SQL_DELIVERIES_ENDED, "")) < 0)
		return rc;
	for (k = 0; k < GAUGES_DELIVERY_ENDED; k++)
		g->deliveries_ended[k] = (int64_t)num(r, k);
	if ((rc = db_query(db, a, &orgs, SQL_ORGS, "")) < 0)
		return rc;
	for (o = 0; o < orgs->nrows; o++) {
		int64_t org = db_int(orgs, o, 0);

		if ((rc = db_query(db, a, &r, SQL_RUNS, "i", org)) < 0)
			return rc;
		for (k = 0; k < GAUGES_RUN_ENDED; k++)
			g->runs_ended[k] += (int64_t)num(r, k);
		hist(r, GAUGES_RUN_ENDED, &g->claim_to_start);
		hist(r, GAUGES_RUN_ENDED + GAUGES_NBOUNDS + 2, &g->schedule_lateness);
		if ((rc = db_query(db, a, &r, SQL_STEPS, "i", org)) < 0)
			return rc;
		g->steps_started += (int64_t)num(r, 0);
		for (k = 0; k < GAUGES_STEP_ENDED; k++)
			g->steps_ended[k] += (int64_t)num(r, 1 + k);
		hist(r, 1 + GAUGES_STEP_ENDED, &g->step_duration);
	}
	return 0;
}
