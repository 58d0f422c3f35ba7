/* SQL of runs, step_runs, step_logs and step_outputs as the API reads and
 * changes them. */
#include <string.h>
#include <time.h>

#include "dagy/audit.h"
#include "dagy/ids.h"
#include "dagy/runs.h"

#define SECS(a, b) "ROUND(TIMESTAMPDIFF(MICROSECOND, " a ", " b ") / 1e6, 3)"
/* One table: names come from scalar subqueries evaluated for the rows
 * returned only, so every list walks an index of runs and stops at its
 * limit (joins made MariaDB buffer and sort every run of the org). */
#define RUN_SELECT \
	"SELECT r.public_id, r.run_slug, (SELECT name FROM flows WHERE id = r.flow_id)," \
	" (SELECT version FROM flow_versions WHERE id = r.version_id)," \
	" (SELECT name FROM deployments WHERE id = r.deployment_id), r.status, " \
	DB_TS("r.created_at") ", " DB_TS("r.started_at") ", " DB_TS("r.completed_at") ", " \
	SECS("r.started_at", "COALESCE(r.completed_at, UTC_TIMESTAMP(6))") \
	", r.executor, r.execution_mode, r.parameters, r.output, r.error," \
	" r.retry_count, r.tags, r.id, r.flow_id, r.trigger_type, r.worker_id, " \
	DB_TS("r.cancelled_at") ", DATE_FORMAT(r.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ')," \
	" (SELECT code_hash FROM flow_versions WHERE id = r.version_id), " \
	DB_TS("r.scheduled_for") ", r.schedule_id FROM runs r"

static const char SQL_INSERT[] =
    "INSERT INTO runs (public_id, org_id, flow_id, version_id, deployment_id,"
    " schedule_id, scheduled_for, run_slug, status, trigger_type, parameters,"
    " executor, execution_mode, tags, created_by, environment)"
    " VALUES (?, ?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?)";
/* The same, its usage and its audit row, in one transaction of its own
 * (019, 020). */
static const char SQL_INSERT_AUDITED[] =
    "CALL run_insert_audited(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* The flows this process gave a plain slug in their current second. An
 * insert that collides with another's uncommitted slug waits for that
 * commit, so under load every second run of a flow would queue behind the
 * one before; after one plain slug a second, this process goes straight
 * to a suffix. Per thread: the worker creates runs from several. */
#define PLAIN_SLOTS 64
static _Thread_local struct {
	int64_t flow_id;
	time_t second;
} plain_used[PLAIN_SLOTS];

/* Inserts the run, with its audit row when au is not NULL. */
static int
create(struct db *db, struct arena *a, const struct run_new *n, const struct audit_row *au,
    const char **public_id, const char **slug)
{
	char *pub = arena_alloc(a, 32), stamp[32], rnd[5];
	time_t now = time(NULL);
	struct tm tm;
	unsigned slot = (unsigned)((uint64_t)n->flow_id % PLAIN_SLOTS);
	int attempt = 0;

	ids_new("run", pub, 32);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d-%H%M%S", &tm);
	if (plain_used[slot].flow_id == n->flow_id && plain_used[slot].second == now)
		attempt = 1;
	plain_used[slot].flow_id = n->flow_id;
	plain_used[slot].second = now;
	/* The slug is readable first; two runs of a flow in one second get a
	 * random suffix. */
	for (; attempt < 5; attempt++) {
		const char *executor = n->executor ? n->executor : "local";
		const char *mode = n->mode ? n->mode : "nano";
		int64_t rc;
		char *s;

		if (attempt == 0) {
			s = arena_printf(a, "%s-%s", n->flow_name, stamp);
		} else {
			ids_random_chars(rnd, 4);
			s = arena_printf(a, "%s-%s-%s", n->flow_name, stamp, rnd);
		}
		if (au == NULL)
			rc = db_exec(db, SQL_INSERT, "siiiiissssssssis", pub, n->org_id,
			    n->flow_id, n->version_id, n->deployment_id, n->schedule_id,
			    n->scheduled_for, s, n->status, n->trigger, n->params, executor, mode,
			    n->tags, n->user_id, n->environment);
		else
			rc = db_exec(db, SQL_INSERT_AUDITED, "siiiiissssssssisssiissssss", pub,
			    n->org_id, n->flow_id, n->version_id, n->deployment_id, n->schedule_id,
			    n->scheduled_for, s, n->status, n->trigger, n->params, executor, mode,
			    n->tags, n->user_id, n->environment, n->flow_name, au->public_id, au->org_id,
			    au->user_id, au->email, au->action, au->target_type, au->details, au->ip,
			    au->agent);
		/* A taken slot of a schedule fails every attempt alike. */
		if (rc == DB_EDUP && attempt < 4)
			continue;
		if (rc < 0)
			return (int)rc;
		*public_id = pub;
		*slug = s;
		return 0;
	}
	return DB_EDUP;
}

int
runs_create(struct db *db, struct arena *a, const struct run_new *n,
    const char **public_id, const char **slug)
{
	return create(db, a, n, NULL, public_id, slug);
}

int
runs_create_audited(struct db *db, struct arena *a, const struct run_new *n,
    const struct audit_row *au, const char **public_id, const char **slug)
{
	return create(db, a, n, au, public_id, slug);
}

static const char SQL_GET[] = RUN_SELECT " WHERE r.org_id = ? AND r.public_id = ?";

int
runs_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, id);

	if (rc == 0 && (*row)->nrows == 0)
		return RUNS_ENOTFOUND;
	return rc;
}

/* Newest first down (org_id[, flow_id], id): a deep page costs what the
 * first does. */
static const char SQL_LIST[] = RUN_SELECT " FORCE INDEX (ix_runs_org)"
    " WHERE r.org_id = ? AND r.id < ? AND (? IS NULL OR r.status = ?)"
    " ORDER BY r.id DESC LIMIT ?";
static const char SQL_LIST_FLOW[] = RUN_SELECT " FORCE INDEX (ix_runs_org_flow)"
    " WHERE r.org_id = ? AND r.flow_id = (SELECT id FROM flows WHERE org_id = ? AND name = ?)"
    " AND r.id < ? AND (? IS NULL OR r.status = ?) ORDER BY r.id DESC LIMIT ?";

int
runs_list(struct db *db, struct arena *a, int64_t org_id, const char *flow,
    const char *status, int64_t before, int limit, struct db_res **rows)
{
	if (before <= 0)
		before = INT64_MAX;
	if (flow != NULL)
		return db_query(db, a, rows, SQL_LIST_FLOW, "iisissi", org_id, org_id, flow,
		    before, status, status, (int64_t)limit);
	return db_query(db, a, rows, SQL_LIST, "iissi", org_id, before, status, status,
	    (int64_t)limit);
}

static const char SQL_CANCEL[] =
    "UPDATE runs SET status = 'cancelled', cancelled_at = UTC_TIMESTAMP(6),"
    " completed_at = COALESCE(completed_at, UTC_TIMESTAMP(6)),"
    " error = COALESCE(error, 'cancelled'), updated_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND public_id = ? AND status IN ('queued', 'running', 'created')";
static const char SQL_CANCEL_STEPS[] =
    "UPDATE step_runs SET status = 'cancelled', updated_at = UTC_TIMESTAMP(6),"
    " finished_at = COALESCE(finished_at, UTC_TIMESTAMP(6))"
    " WHERE run_id = ? AND status IN ('pending', 'waiting_approval')";

int
runs_cancel(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_CANCEL, "is", org_id, id);

	if (rc < 0)
		return (int)rc;
	if (rc == 0) {
		rc = runs_get(db, a, org_id, id, row);
		return rc < 0 ? (int)rc : RUNS_EFINISHED;
	}
	if ((rc = runs_get(db, a, org_id, id, row)) < 0)
		return (int)rc;
	/* Steps still running are the worker's to stop and record. */
	rc = db_exec(db, SQL_CANCEL_STEPS, "i", db_int(*row, 0, RUN_C_DBID));
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_RETRY[] =
    "UPDATE runs SET status = 'queued', retry_count = retry_count + 1,"
    " completed_at = NULL, cancelled_at = NULL, error = NULL, worker_id = NULL,"
    " lease_expires_at = NULL, updated_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND public_id = ? AND status IN ('failed', 'cancelled')";
static const char SQL_RETRY_STEPS[] =
    "UPDATE step_runs SET status = 'pending', attempt = 0, exit_code = NULL,"
    " error = NULL, started_at = NULL, finished_at = NULL,"
    " updated_at = UTC_TIMESTAMP(6)"
    " WHERE run_id = ? AND status IN ('failed', 'skipped', 'cancelled', 'rejected', 'running')";

int
runs_retry(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_RETRY, "is", org_id, id);

	if (rc < 0)
		return (int)rc;
	if (rc == 0) {
		rc = runs_get(db, a, org_id, id, row);
		return rc < 0 ? (int)rc : RUNS_EACTIVE;
	}
	if ((rc = runs_get(db, a, org_id, id, row)) < 0)
		return (int)rc;
	rc = db_exec(db, SQL_RETRY_STEPS, "i", db_int(*row, 0, RUN_C_DBID));
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_STEPS[] =
    "SELECT step_id, type, status, attempt, exit_code, error, worker, "
    DB_TS("started_at") ", " DB_TS("finished_at") ", "
    SECS("started_at", "COALESCE(finished_at, UTC_TIMESTAMP(6))") ", "
    "DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'), id, decided_by"
    " FROM step_runs WHERE run_id = ? ORDER BY id";

int
runs_steps(struct db *db, struct arena *a, int64_t run_dbid, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_STEPS, "i", run_dbid);
}

static const char SQL_LOGS[] =
    "SELECT id, step_id, stream, DATE_FORMAT(ts, '%Y-%m-%dT%H:%i:%s.%fZ'),"
    " DATE_FORMAT(ingested_at, '%Y-%m-%dT%H:%i:%s.%fZ'), line, truncated"
    " FROM step_logs WHERE run_id = ? AND id > ? AND (? IS NULL OR step_id = ?)"
    " ORDER BY id LIMIT ?";

int
runs_logs(struct db *db, struct arena *a, int64_t run_dbid, const char *step,
    int64_t after, int limit, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LOGS, "iissi", run_dbid, after, step, step,
	    (int64_t)limit);
}

static const char SQL_OUTPUTS[] =
    "SELECT step_id, k, v FROM step_outputs WHERE run_id = ? ORDER BY seq";

int
runs_outputs(struct db *db, struct arena *a, int64_t run_dbid, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_OUTPUTS, "i", run_dbid);
}

static const char SQL_DECIDE[] =
    "UPDATE step_runs SET status = ?, decided_by = ?, finished_at = UTC_TIMESTAMP(6),"
    " updated_at = UTC_TIMESTAMP(6)"
    " WHERE run_id = ? AND step_id = ? AND status = 'waiting_approval'";
static const char SQL_STEP_EXISTS[] =
    "SELECT status FROM step_runs WHERE run_id = ? AND step_id = ?";

int
runs_decide(struct db *db, int64_t run_dbid, const char *step, int approve,
    const char *who)
{
	struct arena a = {0};
	struct db_res *r;
	int64_t rc = db_exec(db, SQL_DECIDE, "ssis", approve ? "success" : "rejected",
	    who, run_dbid, step);

	if (rc != 0)
		return rc < 0 ? (int)rc : 0;
	rc = db_query(db, &a, &r, SQL_STEP_EXISTS, "is", run_dbid, step);
	if (rc == 0)
		rc = r->nrows == 0 ? RUNS_ENOTFOUND : RUNS_ENOTWAITING;
	arena_free(&a);
	return (int)rc;
}

#define ENDED_BEFORE \
    " FROM runs r WHERE r.org_id = ? AND r.status IN ('completed', 'failed', 'cancelled')" \
    " AND COALESCE(r.completed_at, r.created_at) < UTC_TIMESTAMP(6) - INTERVAL ? SECOND"
static const char SQL_CLEANUP_SIZE[] =
    "SELECT COUNT(*), COALESCE(SUM(LENGTH(COALESCE(r.parameters, '')) +"
    " LENGTH(COALESCE(r.output, '')) + LENGTH(COALESCE(r.error, '')) +"
    " (SELECT COALESCE(SUM(LENGTH(l.line)), 0) FROM step_logs l WHERE l.run_id = r.id) +"
    " (SELECT COALESCE(SUM(LENGTH(o.k) + LENGTH(o.v)), 0) FROM step_outputs o"
    "  WHERE o.run_id = r.id)), 0)" ENDED_BEFORE;
static const char SQL_CLEANUP[] = "DELETE r" ENDED_BEFORE;

int
runs_cleanup(struct db *db, struct arena *a, int64_t org_id, int64_t seconds,
    int64_t *removed, int64_t *bytes)
{
	struct db_res *r;
	int64_t rc;

	if ((rc = db_query(db, a, &r, SQL_CLEANUP_SIZE, "ii", org_id, seconds)) < 0)
		return (int)rc;
	*bytes = db_int(r, 0, 1);
	if ((rc = db_exec(db, SQL_CLEANUP, "ii", org_id, seconds)) < 0)
		return (int)rc;
	*removed = rc;
	return 0;
}

static const char SQL_LATEST[] =
    "SELECT r.public_id FROM runs r JOIN flows f ON f.id = r.flow_id"
    " WHERE f.org_id = ? AND f.name = ? ORDER BY r.id DESC LIMIT 1";

int
runs_latest(struct db *db, struct arena *a, int64_t org_id, const char *flow,
    const char **id)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_LATEST, "is", org_id, flow);

	if (rc < 0)
		return rc;
	if (r->nrows == 0)
		return RUNS_ENOTFOUND;
	*id = db_val(r, 0, 0);
	return 0;
}

static const char SQL_WORKERS[] =
    "SELECT COUNT(*), COALESCE(SUM(concurrency), 0) FROM workers"
    " WHERE heartbeat_at > UTC_TIMESTAMP(6) - INTERVAL 90 SECOND";

int
runs_workers(struct db *db, struct arena *a, int64_t *count, int64_t *slots)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_WORKERS, "");

	if (rc < 0)
		return rc;
	*count = db_int(r, 0, 0);
	*slots = db_int(r, 0, 1);
	return 0;
}

static const char SQL_WORKER_LIST[] =
    "SELECT name, host, pid, concurrency, " DB_TS("started_at") ", "
    DB_TS("heartbeat_at") ","
    " TIMESTAMPDIFF(MICROSECOND, heartbeat_at, UTC_TIMESTAMP(6)) / 1e6,"
    " heartbeat_at > UTC_TIMESTAMP(6) - INTERVAL ? SECOND"
    " FROM workers ORDER BY name";

int
runs_worker_list(struct db *db, struct arena *a, int64_t lease, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_WORKER_LIST, "i", lease);
}

/* Two ranges of ix_runs_org_status. */
static const char SQL_WAITING[] =
    "SELECT COUNT(*) FROM runs WHERE org_id = ? AND (status = 'queued'"
    " OR (status = 'running' AND lease_expires_at < UTC_TIMESTAMP(6)))";

int
runs_waiting(struct db *db, struct arena *a, int64_t org_id, int64_t *count)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_WAITING, "i", org_id);

	if (rc < 0)
		return rc;
	*count = db_int(r, 0, 0);
	return 0;
}
