/* Schedule slots and the schedules table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/schedules.h"
#include "dagy/ts.h"

#define EPOCH(col) "UNIX_TIMESTAMP(" col ")"
#define SCHED_SELECT \
	"SELECT s.public_id, f.name, s.flow_version, s.mode, s.enabled, s.timezone," \
	" s.catchup_policy, s.cron_expression, s.interval_seconds, " \
	DB_TS("s.one_time_at") ", " DB_TS("s.start_at") ", " DB_TS("s.end_at") ", s.parameters," \
	" s.description, s.environment, " DB_TS("s.next_run_at") ", " DB_TS("s.last_run_at") \
	", s.last_run_id, " DB_TS("s.created_at") ", " DB_TS("s.updated_at") ", s.id, s.flow_id, " \
	EPOCH("s.anchor_at") ", " EPOCH("s.one_time_at") ", " EPOCH("s.start_at") ", " \
	EPOCH("s.end_at") ", " EPOCH("s.next_run_at") ", s.deployment_id, s.org_id" \
	" FROM schedules s JOIN flows f ON f.id = s.flow_id"

static const char *const mode_names[] = {"cron", "interval", "one_time", "manual"};

const char *
sched_mode_name(enum sched_mode m)
{
	return mode_names[m];
}

int
sched_mode_parse(const char *s, enum sched_mode *m)
{
	int i;

	for (i = 0; s != NULL && i < 4; i++)
		if (strcmp(mode_names[i], s) == 0) {
			*m = (enum sched_mode)i;
			return 0;
		}
	return -1;
}

int
sched_next(const struct sched *s, time_t after, time_t *next)
{
	time_t t;

	if (s->start_at > 0 && after < s->start_at - 1)
		after = s->start_at - 1;
	switch (s->mode) {
	case SCHED_CRON:
		if (cron_next(&s->cron, s->tz, after, &t) < 0)
			return -1;
		break;
	case SCHED_INTERVAL:
		if (s->interval <= 0)
			return -1;
		t = after < s->anchor ? s->anchor :
		    s->anchor + ((after - s->anchor) / s->interval + 1) * s->interval;
		break;
	case SCHED_ONE_TIME:
		if (s->one_time_at <= after)
			return -1;
		t = s->one_time_at;
		break;
	default:
		return -1;
	}
	if (s->end_at > 0 && t > s->end_at)
		return -1;
	*next = t;
	return 0;
}

int
sched_from_row(const struct db_res *r, unsigned i, struct sched *s)
{
	char err[256];

	memset(s, 0, sizeof(*s));
	if (sched_mode_parse(db_val(r, i, SCHED_C_MODE), &s->mode) < 0)
		return -1;
	snprintf(s->tz, sizeof(s->tz), "%s", db_val(r, i, SCHED_C_TZ));
	s->interval = db_int(r, i, SCHED_C_INTERVAL);
	s->anchor = (time_t)db_int(r, i, SCHED_C_ANCHOR_EPOCH);
	s->one_time_at = (time_t)db_int(r, i, SCHED_C_ONE_TIME_EPOCH);
	s->start_at = (time_t)db_int(r, i, SCHED_C_START_EPOCH);
	s->end_at = (time_t)db_int(r, i, SCHED_C_END_EPOCH);
	if (s->mode == SCHED_CRON &&
	    cron_parse(db_val(r, i, SCHED_C_CRON) ? db_val(r, i, SCHED_C_CRON) : "",
	    &s->cron, err, sizeof(err)) < 0)
		return -1;
	return 0;
}

static const char SQL_GET[] = SCHED_SELECT " WHERE s.org_id = ? AND s.public_id = ?";

int
sched_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, id);

	if (rc == 0 && (*row)->nrows == 0)
		return SCHED_ENOTFOUND;
	return rc;
}

static const char SQL_INSERT[] =
    "INSERT INTO schedules (public_id, org_id, flow_id, flow_version, deployment_id,"
    " source, mode, enabled, timezone, catchup_policy, cron_expression,"
    " interval_seconds, anchor_at, one_time_at, start_at, end_at, parameters,"
    " description, environment, next_run_at) VALUES (?, ?, ?, ?, NULLIF(?, 0),"
    " IF(? = 0, 'api', 'deployment'), ?, ?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?)";

int
sched_create(struct db *db, struct arena *a, int64_t org_id,
    const struct sched_fields *f, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_INSERT, "siisiisisssissssssss", f->public_id,
	    org_id, f->flow_id, f->flow_version, f->deployment_id, f->deployment_id,
	    f->mode, (int64_t)f->enabled, f->tz, f->catchup, f->cron,
	    (int64_t)f->interval, f->anchor, f->one_time, f->start, f->end, f->params,
	    f->description, f->env, f->next);

	if (rc == DB_EDUP)
		return SCHED_EEXISTS;
	if (rc < 0)
		return (int)rc;
	return sched_get(db, a, org_id, f->public_id, row);
}

static const char SQL_LIST[] = SCHED_SELECT
    " WHERE s.org_id = ? AND s.source = 'api' AND s.public_id > ?"
    " AND (? IS NULL OR f.name = ?) AND (? IS NULL OR s.mode = ?)"
    " AND (? < 0 OR s.enabled = ?) ORDER BY s.public_id LIMIT ?";

int
sched_list(struct db *db, struct arena *a, int64_t org_id, const char *flow,
    const char *mode, int enabled, const char *after, int limit,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "isssssiii", org_id, after ? after : "",
	    flow, flow, mode, mode, (int64_t)enabled, (int64_t)enabled, (int64_t)limit);
}

static const char SQL_UPDATE[] =
    "UPDATE schedules SET flow_version = ?, mode = ?, enabled = ?, timezone = ?,"
    " catchup_policy = ?, cron_expression = ?, interval_seconds = NULLIF(?, 0),"
    " anchor_at = ?, one_time_at = ?, start_at = ?, end_at = ?, parameters = ?,"
    " description = ?, environment = ?, next_run_at = ?,"
    " updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND public_id = ?";

int
sched_update(struct db *db, struct arena *a, int64_t org_id, const char *id,
    const struct sched_fields *f, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_UPDATE, "ssisssissssssssis", f->flow_version,
	    f->mode, (int64_t)f->enabled, f->tz, f->catchup, f->cron,
	    (int64_t)f->interval, f->anchor, f->one_time, f->start, f->end, f->params,
	    f->description, f->env, f->next, org_id, id);

	if (rc < 0)
		return (int)rc;
	return sched_get(db, a, org_id, id, row);
}

static const char SQL_DELETE[] =
    "DELETE FROM schedules WHERE org_id = ? AND public_id = ? AND source = 'api'";

int
sched_delete(struct db *db, int64_t org_id, const char *id)
{
	int64_t rc = db_exec(db, SQL_DELETE, "is", org_id, id);

	return rc < 0 ? (int)rc : rc > 0;
}

static const char SQL_SET_LAST[] =
    "UPDATE schedules SET last_run_at = UTC_TIMESTAMP(6), last_run_id = ? WHERE id = ?";

int
sched_set_last(struct db *db, int64_t sched_dbid, const char *run_id)
{
	int64_t rc = db_exec(db, SQL_SET_LAST, "si", run_id, sched_dbid);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_DEPLOY_DROP[] = "DELETE FROM schedules WHERE deployment_id = ?";
static const char SQL_DEPLOY_UPSERT[] =
    "INSERT INTO schedules (public_id, org_id, flow_id, deployment_id, source, mode,"
    " cron_expression, interval_seconds, anchor_at, next_run_at)"
    " VALUES (?, ?, ?, ?, 'deployment', ?, ?, NULLIF(?, 0), ?, ?)"
    " ON DUPLICATE KEY UPDATE flow_id = VALUES(flow_id), mode = VALUES(mode),"
    " cron_expression = VALUES(cron_expression),"
    " interval_seconds = VALUES(interval_seconds), anchor_at = VALUES(anchor_at),"
    " next_run_at = VALUES(next_run_at), updated_at = UTC_TIMESTAMP(6)";
static const char SQL_DEPLOY_CURRENT[] =
    "SELECT cron_expression, interval_seconds FROM schedules WHERE deployment_id = ?";

int
sched_sync_deployment(struct db *db, struct arena *a, int64_t org_id,
    int64_t deployment_id, int64_t flow_id, const char *name, const char *schedule)
{
	struct sched s;
	struct db_res *cur;
	char anchor[32] = "", next[32], err[256];
	time_t now = time(NULL), t;
	int64_t rc;

	if (schedule == NULL || *schedule == '\0') {
		rc = db_exec(db, SQL_DEPLOY_DROP, "i", deployment_id);
		return rc < 0 ? (int)rc : 0;
	}
	/* An unchanged schedule keeps its slots (and so its next firing). */
	if ((rc = db_query(db, a, &cur, SQL_DEPLOY_CURRENT, "i", deployment_id)) < 0)
		return (int)rc;
	memset(&s, 0, sizeof(s));
	snprintf(s.tz, sizeof(s.tz), "UTC");
	if ((s.interval = cron_interval(schedule)) > 0) {
		if (cur->nrows == 1 && db_int(cur, 0, 1) == s.interval)
			return 0;
		s.mode = SCHED_INTERVAL;
		s.anchor = now + s.interval;
		ts_sql(s.anchor, 0, anchor);
	} else {
		if (cur->nrows == 1 && db_val(cur, 0, 0) != NULL &&
		    strcmp(db_val(cur, 0, 0), schedule) == 0)
			return 0;
		if (cron_parse(schedule, &s.cron, err, sizeof(err)) < 0)
			return DB_ERR;
		s.mode = SCHED_CRON;
		s.interval = 0;
	}
	if (sched_next(&s, now, &t) < 0)
		return DB_ERR;
	ts_sql(t, 0, next);
	rc = db_exec(db, SQL_DEPLOY_UPSERT, "siiississ",
	    arena_printf(a, "deployment:%s", name), org_id, flow_id, deployment_id,
	    sched_mode_name(s.mode), s.mode == SCHED_CRON ? schedule : NULL,
	    (int64_t)s.interval, *anchor ? anchor : NULL, next);
	return rc < 0 ? (int)rc : 0;
}

/* One table only, so that the lock falls on schedule rows alone. */
static const char SQL_DUE[] =
    "SELECT id FROM schedules WHERE enabled = 1 AND next_run_at <= UTC_TIMESTAMP(6)"
    " ORDER BY next_run_at LIMIT ? FOR UPDATE SKIP LOCKED";
static const char SQL_BY_ID[] = SCHED_SELECT " WHERE s.id = ?";

int
sched_due(struct db *db, struct arena *a, int limit, struct db_res **ids)
{
	return db_query(db, a, ids, SQL_DUE, "i", (int64_t)limit);
}

int
sched_by_id(struct db *db, struct arena *a, int64_t dbid, struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_BY_ID, "i", dbid);

	if (rc == 0 && (*row)->nrows == 0)
		return SCHED_ENOTFOUND;
	return rc;
}

static const char SQL_EARLIEST[] =
    "SELECT UNIX_TIMESTAMP(MIN(next_run_at)) FROM schedules WHERE enabled = 1";

int
sched_earliest(struct db *db, struct arena *a, time_t *t)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_EARLIEST, "");

	if (rc == 0)
		*t = (time_t)db_int(r, 0, 0);
	return rc;
}

static const char SQL_TARGET[] =
    "SELECT v.id, v.spec, f.name, COALESCE(s.environment, d.environment)"
    " FROM schedules s JOIN flows f ON f.id = s.flow_id"
    " LEFT JOIN deployments d ON d.id = s.deployment_id"
    " JOIN flow_versions v ON v.flow_id = f.id AND ("
    "  (d.id IS NOT NULL AND v.id = d.version_id) OR"
    "  (d.id IS NULL AND s.flow_version IS NOT NULL AND v.version = s.flow_version) OR"
    "  (d.id IS NULL AND s.flow_version IS NULL AND v.seq = f.latest_seq))"
    " WHERE s.id = ?";

int
sched_target(struct db *db, struct arena *a, int64_t sched_dbid, struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_TARGET, "i", sched_dbid);

	if (rc == 0 && (*row)->nrows == 0)
		return SCHED_ENOTFOUND;
	return rc;
}

static const char SQL_SLOT[] =
    "SELECT 1 FROM runs WHERE schedule_id = ? AND scheduled_for = ?";

int
sched_slot_taken(struct db *db, struct arena *a, int64_t sched_dbid, const char *slot)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_SLOT, "is", sched_dbid, slot);

	return rc < 0 ? rc : r->nrows > 0;
}

static const char SQL_ADVANCE[] =
    "UPDATE schedules SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at),"
    " last_run_id = COALESCE(?, last_run_id) WHERE id = ?";

int
sched_advance(struct db *db, int64_t sched_dbid, const char *next,
    const char *last_slot, const char *last_run_id)
{
	int64_t rc = db_exec(db, SQL_ADVANCE, "sssi", next, last_slot, last_run_id, sched_dbid);

	return rc < 0 ? (int)rc : 0;
}
