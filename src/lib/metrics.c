/* SQL of execution metrics. Pages are numbered for the dagctl dialect, but
 * sequential paging is keyset underneath (page_marks), so page 1,000 costs
 * what page 1 does and rows changing during paging shift nothing: rows are
 * ordered by id, which an update never changes. */
#include <stdio.h>
#include <string.h>

#include "dagy/crypto.h"
#include "dagy/metrics.h"

#define TSF(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%fZ')"
#define SECS(a, b) "ROUND(TIMESTAMPDIFF(MICROSECOND, " a ", " b ") / 1e6, 3)"

#define RUN_COLS \
	"SELECT r.id, r.public_id, r.status, r.trigger_type, s.public_id, " \
	TSF("r.started_at") ", " TSF("r.completed_at") ", " \
	SECS("r.started_at", "r.completed_at") ", r.error, r.worker_id, " \
	TSF("r.created_at") ", " TSF("r.updated_at") ", r.run_slug, v.version," \
	" (SELECT COUNT(*) FROM step_runs x WHERE x.run_id = r.id)," \
	" (SELECT COUNT(*) FROM step_runs x WHERE x.run_id = r.id AND x.status = 'success')," \
	" (SELECT COUNT(*) FROM step_runs x WHERE x.run_id = r.id AND x.status = 'failed')" \
	" FROM runs r JOIN flow_versions v ON v.id = r.version_id" \
	" LEFT JOIN schedules s ON s.id = r.schedule_id"
#define STEP_COLS \
	"SELECT e.id, e.step_id, e.status, r.public_id, " TSF("e.started_at") ", " \
	TSF("e.finished_at") ", " SECS("e.started_at", "e.finished_at") ", e.error," \
	" e.worker, " TSF("e.created_at") ", " TSF("e.updated_at") ", e.attempt, e.type" \
	" FROM step_runs e JOIN runs r ON r.id = e.run_id"

static const char *const sql_first[] = {
	RUN_COLS " WHERE r.flow_id = ? AND r.org_id = ? AND r.updated_at > ?"
	    " AND r.id > ? ORDER BY r.id LIMIT ?",
	STEP_COLS " WHERE e.flow_id = ? AND e.org_id = ? AND e.updated_at > ?"
	    " AND e.id > ? ORDER BY e.id LIMIT ?",
};
static const char *const sql_offset[] = {
	RUN_COLS " WHERE r.flow_id = ? AND r.org_id = ? AND r.updated_at > ?"
	    " ORDER BY r.id LIMIT ? OFFSET ?",
	STEP_COLS " WHERE e.flow_id = ? AND e.org_id = ? AND e.updated_at > ?"
	    " ORDER BY e.id LIMIT ? OFFSET ?",
};
static const char *const sql_count[] = {
	"SELECT COUNT(*) FROM runs WHERE flow_id = ? AND org_id = ? AND updated_at > ?",
	"SELECT COUNT(*) FROM step_runs WHERE flow_id = ? AND org_id = ? AND updated_at > ?",
};
static const char SQL_MARK_GET[] =
    "SELECT last_id, total FROM page_marks WHERE query_hash = ? AND page = ?";
static const char SQL_MARK_PUT[] =
    "INSERT INTO page_marks (query_hash, page, last_id, total) VALUES (?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE last_id = VALUES(last_id), total = VALUES(total),"
    " created_at = UTC_TIMESTAMP(6)";

int
metrics_page(struct db *db, struct arena *a, enum metrics_kind kind,
    int64_t org_id, int64_t flow_id, const char *after, int page, int limit,
    struct db_res **rows, int64_t *total)
{
	struct db_res *r;
	char key[256], hex[65];
	uint8_t sha[32];
	int rc, i;

	snprintf(key, sizeof(key), "%d|%lld|%lld|%s|%d", kind, (long long)org_id,
	    (long long)flow_id, after, limit);
	crypto_sha256(key, strlen(key), sha);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);
	*total = -1;
	if (page > 1) {
		if ((rc = db_query(db, a, &r, SQL_MARK_GET, "si", hex, (int64_t)page - 1)) < 0)
			return rc;
		if (r->nrows == 1) {
			*total = db_int(r, 0, 1);
			rc = db_query(db, a, rows, sql_first[kind], "iisii", flow_id, org_id,
			    after, db_int(r, 0, 0), (int64_t)limit);
		} else {
			rc = db_query(db, a, rows, sql_offset[kind], "iisii", flow_id, org_id,
			    after, (int64_t)limit, (int64_t)(page - 1) * limit);
		}
	} else {
		rc = db_query(db, a, rows, sql_first[kind], "iisii", flow_id, org_id, after,
		    (int64_t)0, (int64_t)limit);
	}
	if (rc < 0)
		return rc;
	if (*total < 0) {
		if ((rc = db_query(db, a, &r, sql_count[kind], "iis", flow_id, org_id, after)) < 0)
			return rc;
		*total = db_int(r, 0, 0);
	}
	if ((*rows)->nrows > 0 &&
	    (rc = (int)db_exec(db, SQL_MARK_PUT, "siii", hex, (int64_t)page,
	    db_int(*rows, (*rows)->nrows - 1, 0), *total)) < 0)
		return rc;
	return 0;
}

static const char SQL_DAILY[] =
    "SELECT d, COUNT(*), SUM(status = 'completed'), SUM(status = 'failed'),"
    " ROUND(AVG(dur), 3), ROUND(MAX(p50), 3), ROUND(MAX(p95), 3), ROUND(MAX(dur), 3)"
    " FROM (SELECT d, status, dur,"
    "  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY dur) OVER (PARTITION BY d) p50,"
    "  PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY dur) OVER (PARTITION BY d) p95"
    "  FROM (SELECT DATE_FORMAT(created_at, '%Y-%m-%d') d, status,"
    "   TIMESTAMPDIFF(MICROSECOND, started_at, completed_at) / 1e6 dur"
    "   FROM runs WHERE flow_id = ? AND created_at >= ?) x) y"
    " GROUP BY d ORDER BY d";

int
metrics_daily(struct db *db, struct arena *a, int64_t flow_id, const char *since,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_DAILY, "is", flow_id, since);
}

static const char SQL_MODELS[] =
    "SELECT step_id, COUNT(*), SUM(status IN ('failed', 'rejected')),"
    " ROUND(AVG(dur), 3), ROUND(MAX(p50), 3), ROUND(MAX(p95), 3), ROUND(MAX(dur), 3)"
    " FROM (SELECT step_id, status, dur,"
    "  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY dur) OVER (PARTITION BY step_id) p50,"
    "  PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY dur) OVER (PARTITION BY step_id) p95"
    "  FROM (SELECT step_id, status,"
    "   TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) / 1e6 dur"
    "   FROM step_runs WHERE flow_id = ? AND started_at >= ? AND started_at < ?) x) y"
    " GROUP BY step_id ORDER BY step_id";

int
metrics_models(struct db *db, struct arena *a, int64_t flow_id, const char *from,
    const char *to, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_MODELS, "iss", flow_id, from, to);
}
