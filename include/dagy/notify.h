/* Notifications: channels, alert rules and the outbox of deliveries. The
 * API creates channels and rules; the worker's recorder writes deliveries
 * in the transaction of the run change that causes them, and the worker's
 * sender claims, sends and records them. NOTIFY_C_* and friends name the
 * columns of the rows these functions return. */
#ifndef DAGY_NOTIFY_H
#define DAGY_NOTIFY_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum notify_err { NOTIFY_ENOTFOUND = -110, NOTIFY_ECHANNEL = -111, NOTIFY_EFLOW = -112 };

enum notify_channel_col {
	NOTIFY_C_ID, NOTIFY_C_NAME, NOTIFY_C_TYPE, NOTIFY_C_CONFIG, NOTIFY_C_ENABLED,
	NOTIFY_C_CREATED, NOTIFY_C_DBID,
};
enum notify_rule_col {
	NOTIFY_R_ID, NOTIFY_R_NAME, NOTIFY_R_TRIGGER, NOTIFY_R_FLOW, NOTIFY_R_SLA,
	NOTIFY_R_ENABLED, NOTIFY_R_CREATED, NOTIFY_R_CHANNELS, NOTIFY_R_DBID,
};
enum notify_delivery_col {
	NOTIFY_D_ID, NOTIFY_D_CHANNEL, NOTIFY_D_RUN, NOTIFY_D_TRIGGER, NOTIFY_D_KIND,
	NOTIFY_D_STATUS, NOTIFY_D_ATTEMPTS, NOTIFY_D_NEXT, NOTIFY_D_ERROR,
	NOTIFY_D_CREATED, NOTIFY_D_DELIVERED, NOTIFY_D_ATTEMPT_LIST, NOTIFY_D_DBID,
};
/* A delivery claimed for sending. */
enum notify_send_col {
	NOTIFY_S_DBID, NOTIFY_S_ID, NOTIFY_S_ORG, NOTIFY_S_KIND, NOTIFY_S_EVENT,
	NOTIFY_S_ATTEMPTS, NOTIFY_S_TYPE, NOTIFY_S_CONFIG, NOTIFY_S_SEALED,
	NOTIFY_S_CHANNEL,
};

/* The secrets scope a channel's secret fields are sealed under, with the
 * channel's public id as the name. */
#define NOTIFY_SEAL_SCOPE "channel"

/* config: the masked configuration (JSON text); sealed and key_id: the
 * secret fields as sealed, or NULL. */
int notify_channel_create(struct db *db, struct arena *a, int64_t org_id,
    const char *public_id, const char *name, const char *type, const char *config,
    const char *sealed, const char *key_id, int enabled, struct db_res **row);
int notify_channel_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
int notify_channel_list(struct db *db, struct arena *a, int64_t org_id, int64_t after,
    int limit, struct db_res **rows);
/* 0 or NOTIFY_ENOTFOUND. */
int notify_channel_delete(struct db *db, int64_t org_id, const char *id);

/* channels: a JSON list of channel public ids, each of which must be the
 * org's (NOTIFY_ECHANNEL otherwise); flow, when not NULL, must name a
 * flow of the org (NOTIFY_EFLOW). */
int notify_rule_create(struct db *db, struct arena *a, int64_t org_id,
    const char *public_id, const char *name, const char *trigger, const char *flow,
    int64_t sla_seconds, int enabled, const char *channels, struct db_res **row);
int notify_rule_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
int notify_rule_list(struct db *db, struct arena *a, int64_t org_id, int64_t after,
    int limit, struct db_res **rows);
int notify_rule_delete(struct db *db, int64_t org_id, const char *id);
/* Queues a test delivery of event (JSON text) to every enabled channel of
 * the rule; returns how many or a db_err. */
int64_t notify_rule_test(struct db *db, int64_t rule_dbid, const char *event);
/* The rule's deliveries, newest first, each with its attempts as JSON. */
int notify_deliveries_list(struct db *db, struct arena *a, int64_t rule_dbid,
    int64_t before, int limit, struct db_res **rows);

/* The outbox, written by the worker's recorder inside its transaction.
 * Each takes a JSON list and the worker's name (a run must still be the
 * worker's) and returns how many deliveries it queued or a db_err.
 * verdicts: [[run, status], ...] of runs just recorded as completed or
 * failed: on_success / on_failure rules, and PagerDuty resolves for a flow
 * whose last PagerDuty event was a trigger. */
int64_t notify_outbox_verdicts(struct db *db, const char *verdicts, const char *worker);
/* retried: [[run, step], ...]: on_retry rules. */
int64_t notify_outbox_retries(struct db *db, const char *retried, const char *worker);
/* The on_retry deliveries of a run retried through the API (run_dbid,
 * already queued again), in the caller's transaction; how many. */
int64_t notify_outbox_run_retry(struct db *db, int64_t run_dbid);
/* breached: [[run, rule], ...] of runs still running past a rule's SLA. */
int64_t notify_outbox_sla(struct db *db, const char *breached, const char *worker);
/* The on_sla_breach rules that apply to a run not yet breached for them:
 * rows (rule db id, seconds from now until the breach, may be negative). */
int notify_sla_rules(struct db *db, struct arena *a, int64_t run_id, struct db_res **rows);

/* The sender. Claims up to limit due deliveries for lease seconds and
 * returns them (NOTIFY_S_* columns); commits. */
int notify_claim(struct db *db, struct arena *a, const char *worker, int lease,
    int limit, struct db_res **rows);
/* Records one attempt: code is the HTTP status or SMTP reply (0: none);
 * outcome "delivered", "pending" (again after retry_ms) or "failed". */
int notify_record(struct db *db, int64_t delivery, int attempt, long code,
    const char *error, long duration_ms, const char *outcome, long retry_ms,
    const char *worker);
/* Milliseconds until the next pending delivery is due (0 if one is), or
 * -1 when none is pending. */
int64_t notify_next_due(struct db *db, struct arena *a);

#endif
