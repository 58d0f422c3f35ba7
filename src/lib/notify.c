/* The SQL of channels, alert rules and deliveries (see notify.h). The
 * outbox statements are set-based: one statement queues every delivery a
 * batch of the recorder causes, keyed so that a rule fires once per run,
 * trigger and channel however often the batch is retried. */
#include <stdio.h>
#include <string.h>

#include "dagy/notify.h"

#define CHANNEL_COLS "c.public_id, c.name, c.channel_type, c.config, c.enabled, " \
	DB_TS("c.created_at") ", c.id"
#define RULE_COLS "ar.public_id, ar.name, ar.trigger_type, ar.flow_name, ar.sla_seconds," \
	" ar.enabled, " DB_TS("ar.created_at") "," \
	" (SELECT JSON_ARRAYAGG(c.public_id) FROM alert_rule_channels rc" \
	"  JOIN channels c ON c.id = rc.channel_id WHERE rc.rule_id = ar.id), ar.id"

static const char SQL_CH_INSERT[] =
    "INSERT INTO channels (public_id, org_id, name, channel_type, config, sealed, key_id,"
    " enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CH_GET[] =
    "SELECT " CHANNEL_COLS " FROM channels c WHERE c.org_id = ? AND c.public_id = ?";
static const char SQL_CH_LIST[] =
    "SELECT " CHANNEL_COLS " FROM channels c WHERE c.org_id = ? AND c.id > ?"
    " ORDER BY c.id LIMIT ?";
static const char SQL_CH_DELETE[] =
    "DELETE FROM channels WHERE org_id = ? AND public_id = ?";

int
notify_channel_create(struct db *db, struct arena *a, int64_t org_id, const char *public_id,
    const char *name, const char *type, const char *config, const char *sealed,
    const char *key_id, int enabled, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_CH_INSERT, "sisssssi", public_id, org_id, name, type,
	    config, sealed, key_id, (int64_t)enabled);

	return rc < 0 ? (int)rc : notify_channel_get(db, a, org_id, public_id, row);
}

int
notify_channel_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_CH_GET, "is", org_id, id);

	return rc < 0 ? rc : (*row)->nrows == 0 ? NOTIFY_ENOTFOUND : 0;
}

int
notify_channel_list(struct db *db, struct arena *a, int64_t org_id, int64_t after, int limit,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_CH_LIST, "iii", org_id, after, (int64_t)limit);
}

int
notify_channel_delete(struct db *db, int64_t org_id, const char *id)
{
	int64_t rc = db_exec(db, SQL_CH_DELETE, "is", org_id, id);

	return rc < 0 ? (int)rc : rc == 0 ? NOTIFY_ENOTFOUND : 0;
}

static const char SQL_FLOW_EXISTS[] =
    "SELECT 1 FROM flows WHERE org_id = ? AND name = ?";
static const char SQL_RULE_INSERT[] =
    "INSERT INTO alert_rules (public_id, org_id, name, trigger_type, flow_name,"
    " sla_seconds, enabled) VALUES (?, ?, ?, ?, ?, NULLIF(?, 0), ?)";
static const char SQL_RULE_CHANNELS[] =
    "INSERT INTO alert_rule_channels (rule_id, channel_id)"
    " SELECT DISTINCT ?, c.id FROM JSON_TABLE(?, '$[*]' COLUMNS(p VARCHAR(40) PATH '$')) j"
    " JOIN channels c ON c.public_id = j.p AND c.org_id = ?";
static const char SQL_RULE_CHANNELS_WANTED[] =
    "SELECT COUNT(DISTINCT j.p) FROM JSON_TABLE(?, '$[*]' COLUMNS(p VARCHAR(40) PATH '$')) j";
static const char SQL_RULE_GET[] =
    "SELECT " RULE_COLS " FROM alert_rules ar WHERE ar.org_id = ? AND ar.public_id = ?";
static const char SQL_RULE_LIST[] =
    "SELECT " RULE_COLS " FROM alert_rules ar WHERE ar.org_id = ? AND ar.id > ?"
    " ORDER BY ar.id LIMIT ?";
static const char SQL_RULE_DELETE[] =
    "DELETE FROM alert_rules WHERE org_id = ? AND public_id = ?";

int
notify_rule_create(struct db *db, struct arena *a, int64_t org_id, const char *public_id,
    const char *name, const char *trigger, const char *flow, int64_t sla_seconds,
    int enabled, const char *channels, struct db_res **row)
{
	struct db_res *res;
	int64_t rc, id, inserted;

	if (flow != NULL) {
		if ((rc = db_query(db, a, &res, SQL_FLOW_EXISTS, "is", org_id, flow)) < 0)
			return (int)rc;
		if (res->nrows == 0)
			return NOTIFY_EFLOW;
	}
	if ((rc = db_exec(db, SQL_RULE_INSERT, "sisssii", public_id, org_id, name, trigger,
	    flow, sla_seconds, (int64_t)enabled)) < 0)
		return (int)rc;
	id = db_insert_id(db);
	if ((inserted = db_exec(db, SQL_RULE_CHANNELS, "isi", id, channels, org_id)) < 0)
		return (int)inserted;
	if ((rc = db_query(db, a, &res, SQL_RULE_CHANNELS_WANTED, "s", channels)) < 0)
		return (int)rc;
	/* Every channel named must be one of the org's. */
	if (db_int(res, 0, 0) != inserted)
		return NOTIFY_ECHANNEL;
	return notify_rule_get(db, a, org_id, public_id, row);
}

int
notify_rule_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_RULE_GET, "is", org_id, id);

	return rc < 0 ? rc : (*row)->nrows == 0 ? NOTIFY_ENOTFOUND : 0;
}

int
notify_rule_list(struct db *db, struct arena *a, int64_t org_id, int64_t after, int limit,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_RULE_LIST, "iii", org_id, after, (int64_t)limit);
}

int
notify_rule_delete(struct db *db, int64_t org_id, const char *id)
{
	int64_t rc = db_exec(db, SQL_RULE_DELETE, "is", org_id, id);

	return rc < 0 ? (int)rc : rc == 0 ? NOTIFY_ENOTFOUND : 0;
}

#define NEW_DELIVERY_ID "CONCAT('dlv_', LOWER(HEX(RANDOM_BYTES(12))))"

static const char SQL_TEST[] =
    "INSERT INTO deliveries (public_id, org_id, rule_id, channel_id, flow_name,"
    " trigger_type, kind, event)"
    " SELECT " NEW_DELIVERY_ID ", ar.org_id, ar.id, c.id, ar.flow_name, ar.trigger_type,"
    " 'test', JSON_MERGE_PATCH(?, JSON_OBJECT('rule_id', ar.public_id, 'rule', ar.name,"
    " 'trigger', ar.trigger_type))"
    " FROM alert_rules ar JOIN alert_rule_channels rc ON rc.rule_id = ar.id"
    " JOIN channels c ON c.id = rc.channel_id AND c.enabled = 1 WHERE ar.id = ?";

int64_t
notify_rule_test(struct db *db, int64_t rule_dbid, const char *event)
{
	return db_exec(db, SQL_TEST, "si", event, rule_dbid);
}

static const char SQL_DELIVERIES[] =
    "SELECT d.public_id, c.public_id, r.public_id, d.trigger_type, d.kind, d.status,"
    " d.attempts, " DB_TS("d.next_attempt_at") ", d.last_error, " DB_TS("d.created_at") ","
    " " DB_TS("d.delivered_at") ","
    " (SELECT JSON_ARRAYAGG(JSON_OBJECT('attempt', t.attempt, 'attempted_at',"
    "  " DB_TS("t.attempted_at") ", 'response_code', t.response_code, 'error', t.error,"
    "  'duration_ms', t.duration_ms)) FROM delivery_attempts t WHERE t.delivery_id = d.id),"
    " d.id"
    " FROM deliveries d JOIN channels c ON c.id = d.channel_id"
    " LEFT JOIN runs r ON r.id = d.run_id"
    " WHERE d.rule_id = ? AND d.id < ? ORDER BY d.id DESC LIMIT ?";

int
notify_deliveries_list(struct db *db, struct arena *a, int64_t rule_dbid, int64_t before,
    int limit, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_DELIVERIES, "iii", rule_dbid,
	    before > 0 ? before : INT64_MAX, (int64_t)limit);
}

/* What every event says about its run. */
#define RUN_EVENT(type) \
	"JSON_OBJECT('type', " type ", 'trigger', ar.trigger_type, 'rule_id', ar.public_id," \
	" 'rule', ar.name, 'run_id', r.public_id, 'flow_name', f.name," \
	" 'flow_version', (SELECT v.version FROM flow_versions v WHERE v.id = r.version_id)," \
	" 'status', r.status, 'started_at', " DB_TS("r.started_at") "," \
	" 'completed_at', " DB_TS("r.completed_at") "," \
	" 'duration_seconds', TIMESTAMPDIFF(MICROSECOND, r.started_at," \
	"  COALESCE(r.completed_at, UTC_TIMESTAMP(6))) / 1e6, 'error', r.error)"
#define RULES_OF_RUN(trigger) \
	" JOIN flows f ON f.id = r.flow_id" \
	" JOIN alert_rules ar ON ar.org_id = r.org_id AND ar.enabled = 1" \
	"  AND ar.trigger_type = " trigger " AND (ar.flow_name IS NULL OR ar.flow_name = f.name)" \
	" JOIN alert_rule_channels rc ON rc.rule_id = ar.id" \
	" JOIN channels c ON c.id = rc.channel_id AND c.enabled = 1"
#define OUTBOX_INSERT \
	"INSERT IGNORE INTO deliveries (public_id, org_id, rule_id, channel_id, run_id," \
	" flow_name, trigger_type, kind, event)"

static const char SQL_OUT_VERDICTS[] =
    OUTBOX_INSERT
    " SELECT " NEW_DELIVERY_ID ", r.org_id, ar.id, c.id, r.id, f.name, ar.trigger_type,"
    " 'trigger', " RUN_EVENT("IF(r.status = 'failed', 'run.failed', 'run.completed')")
    " FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[0]', st VARCHAR(16) PATH '$[1]')) j"
    " STRAIGHT_JOIN runs r ON r.id = j.id AND r.status = j.st AND r.worker_id = ?"
    RULES_OF_RUN("IF(r.status = 'failed', 'on_failure', 'on_success')");
/* A success resolves the incident a failure opened on a PagerDuty channel. */
static const char SQL_OUT_RESOLVES[] =
    OUTBOX_INSERT
    " SELECT " NEW_DELIVERY_ID ", r.org_id, ar.id, c.id, r.id, f.name, ar.trigger_type,"
    " 'resolve', " RUN_EVENT("'run.resolved'")
    " FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[0]', st VARCHAR(16) PATH '$[1]')) j"
    " STRAIGHT_JOIN runs r ON r.id = j.id AND r.status = 'completed' AND j.st = 'completed'"
    "  AND r.worker_id = ?"
    RULES_OF_RUN("'on_failure'")
    " WHERE c.channel_type = 'pagerduty' AND (SELECT d.kind FROM deliveries d"
    "  WHERE d.rule_id = ar.id AND d.channel_id = c.id AND d.flow_name = f.name"
    "  AND d.kind IN ('trigger', 'resolve') ORDER BY d.id DESC LIMIT 1) = 'trigger'";
static const char SQL_OUT_RETRIES[] =
    OUTBOX_INSERT
    " SELECT " NEW_DELIVERY_ID ", r.org_id, ar.id, c.id, r.id, f.name, ar.trigger_type,"
    " 'trigger', JSON_SET(" RUN_EVENT("'run.retrying'") ", '$.step_id', MIN(j.step))"
    " FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[0]', step VARCHAR(64) PATH '$[1]')) j"
    " STRAIGHT_JOIN runs r ON r.id = j.id AND r.worker_id = ?"
    RULES_OF_RUN("'on_retry'")
    " GROUP BY r.id, ar.id, c.id";
static const char SQL_OUT_RUN_RETRY[] =
    OUTBOX_INSERT
    " SELECT " NEW_DELIVERY_ID ", r.org_id, ar.id, c.id, r.id, f.name, ar.trigger_type,"
    " 'trigger', JSON_SET(" RUN_EVENT("'run.retrying'") ", '$.retry_count', r.retry_count)"
    " FROM runs r" RULES_OF_RUN("'on_retry'") " WHERE r.id = ?";
static const char SQL_OUT_SLA[] =
    OUTBOX_INSERT
    " SELECT " NEW_DELIVERY_ID ", r.org_id, ar.id, c.id, r.id, f.name, ar.trigger_type,"
    " 'trigger', JSON_SET(" RUN_EVENT("'run.sla_breach'") ", '$.sla_seconds', ar.sla_seconds)"
    " FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[0]', rule BIGINT PATH '$[1]')) j"
    " STRAIGHT_JOIN runs r ON r.id = j.id AND r.worker_id = ? AND r.status = 'running'"
    " JOIN flows f ON f.id = r.flow_id"
    " JOIN alert_rules ar ON ar.id = j.rule AND ar.enabled = 1"
    " JOIN alert_rule_channels rc ON rc.rule_id = ar.id"
    " JOIN channels c ON c.id = rc.channel_id AND c.enabled = 1";

int64_t
notify_outbox_verdicts(struct db *db, const char *verdicts, const char *worker)
{
	int64_t a, b;

	if ((a = db_exec(db, SQL_OUT_VERDICTS, "ss", verdicts, worker)) < 0)
		return a;
	if ((b = db_exec(db, SQL_OUT_RESOLVES, "ss", verdicts, worker)) < 0)
		return b;
	return a + b;
}

int64_t
notify_outbox_retries(struct db *db, const char *retried, const char *worker)
{
	return db_exec(db, SQL_OUT_RETRIES, "ss", retried, worker);
}

int64_t
notify_outbox_run_retry(struct db *db, int64_t run_dbid)
{
	return db_exec(db, SQL_OUT_RUN_RETRY, "i", run_dbid);
}

int64_t
notify_outbox_sla(struct db *db, const char *breached, const char *worker)
{
	return db_exec(db, SQL_OUT_SLA, "ss", breached, worker);
}

static const char SQL_SLA_RULES[] =
    "SELECT ar.id, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6),"
    " r.started_at + INTERVAL ar.sla_seconds SECOND) / 1e6"
    " FROM runs r JOIN flows f ON f.id = r.flow_id"
    " JOIN alert_rules ar ON ar.org_id = r.org_id AND ar.enabled = 1"
    "  AND ar.trigger_type = 'on_sla_breach' AND ar.sla_seconds IS NOT NULL"
    "  AND (ar.flow_name IS NULL OR ar.flow_name = f.name)"
    " WHERE r.id = ? AND NOT EXISTS (SELECT 1 FROM deliveries d"
    "  WHERE d.rule_id = ar.id AND d.run_id = r.id AND d.trigger_type = 'on_sla_breach')";

int
notify_sla_rules(struct db *db, struct arena *a, int64_t run_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_SLA_RULES, "i", run_id);
}

static const char SQL_PICK[] =
    "SELECT id FROM deliveries WHERE status = 'pending'"
    " AND next_attempt_at <= UTC_TIMESTAMP(6)"
    " AND (claimed_until IS NULL OR claimed_until < UTC_TIMESTAMP(6))"
    " ORDER BY status, next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED";
static const char SQL_TAKE[] =
    "UPDATE deliveries SET claimed_by = ?,"
    " claimed_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND WHERE id = ?";
/* Just the ones picked now: one this worker claimed before and could not
 * record waits for its claim to lapse rather than going out again. */
static const char SQL_CLAIMED[] =
    "SELECT d.id, d.public_id, d.org_id, d.kind, d.event, d.attempts, c.channel_type,"
    " c.config, c.sealed, c.public_id"
    " FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$')) j"
    " STRAIGHT_JOIN deliveries d ON d.id = j.id JOIN channels c ON c.id = d.channel_id"
    " ORDER BY d.id";

int
notify_claim(struct db *db, struct arena *a, const char *worker, int lease, int limit,
    struct db_res **rows)
{
	struct db_res *ids;
	char *list, *p;
	unsigned i;
	int rc;

	if ((rc = db_begin(db)) < 0)
		return rc;
	if ((rc = db_query(db, a, &ids, SQL_PICK, "i", (int64_t)limit)) < 0)
		goto fail;
	p = list = arena_alloc(a, 24 * ids->nrows + 3);
	*p++ = '[';
	for (i = 0; i < ids->nrows; i++) {
		if ((rc = (int)db_exec(db, SQL_TAKE, "sii", worker, (int64_t)lease,
		    db_int(ids, i, 0))) < 0)
			goto fail;
		p += sprintf(p, "%s%s", i ? "," : "", db_val(ids, i, 0));
	}
	strcpy(p, "]");
	if ((rc = db_query(db, a, rows, SQL_CLAIMED, "s", list)) < 0)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return rc;
}

static const char SQL_ATTEMPT[] =
    "INSERT INTO delivery_attempts (delivery_id, attempt, response_code, error, duration_ms)"
    " VALUES (?, ?, NULLIF(?, 0), ?, ?)";
static const char SQL_OUTCOME[] =
    "UPDATE deliveries SET attempts = ?, status = ?, last_error = ?,"
    " delivered_at = IF(? = 'delivered', UTC_TIMESTAMP(6), NULL),"
    " next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL ? * 1000 MICROSECOND,"
    " claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?";

int
notify_record(struct db *db, int64_t delivery, int attempt, long code, const char *error,
    long duration_ms, const char *outcome, long retry_ms, const char *worker)
{
	int rc;

	if ((rc = db_begin(db)) < 0)
		return rc;
	if ((rc = (int)db_exec(db, SQL_ATTEMPT, "iiisi", delivery, (int64_t)attempt,
	    (int64_t)code, error, (int64_t)duration_ms)) < 0 ||
	    (rc = (int)db_exec(db, SQL_OUTCOME, "isssiis", (int64_t)attempt, outcome, error,
	    outcome, (int64_t)retry_ms, delivery, worker)) < 0)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return rc;
}

static const char SQL_NEXT_DUE[] =
    "SELECT GREATEST(0, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6),"
    " GREATEST(next_attempt_at, COALESCE(claimed_until, next_attempt_at)))) / 1000"
    " FROM deliveries WHERE status = 'pending' ORDER BY status, next_attempt_at LIMIT 1";

int64_t
notify_next_due(struct db *db, struct arena *a)
{
	struct db_res *res;
	int rc = db_query(db, a, &res, SQL_NEXT_DUE, "");

	if (rc < 0)
		return rc;
	return res->nrows == 0 ? -1 : db_int(res, 0, 0);
}
