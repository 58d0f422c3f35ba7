/* Sensors: webhook and polling triggers of runs, and the record of each
 * firing. The API creates sensors and fires webhooks; the worker's poller
 * claims due polling slots, polls and fires. SENSORS_C_* and friends name
 * the columns of the rows these functions return. */
#ifndef DAGY_SENSORS_H
#define DAGY_SENSORS_H

#include <jansson.h>
#include <stdint.h>

#include <stddef.h>
#include <time.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum sensors_err { SENSORS_ENOTFOUND = -120 };

#define SENSORS_SCHEME_HMAC "hmac-sha256"   /* "sha256=<hex>" of the body */
#define SENSORS_SCHEME_TIMESTAMPED "timestamped" /* "t=<unix>,v1=<hex>…" of "<t>.<body>" */

/* Whether header (a webhook's signature header; NULL: none) signs the
 * body under secret in scheme (NULL: hmac-sha256). A timestamped one
 * must be within tolerance seconds of now; any of its v1 may match.
 * Compares in constant time. Fuzzed: header and body come from anyone. */
int sensors_signature_ok(const char *scheme, const char *header, const char *secret,
    const char *body, size_t len, time_t now, long long tolerance);

enum sensors_col {
	SENSORS_C_ID, SENSORS_C_NAME, SENSORS_C_TYPE, SENSORS_C_FLOW, SENSORS_C_CONFIG,
	SENSORS_C_PARAMS, SENSORS_C_ENABLED, SENSORS_C_CREATED, SENSORS_C_SEALED,
	SENSORS_C_ORG, SENSORS_C_CREATOR, SENSORS_C_POLLED, SENSORS_C_POLL_ERROR,
	SENSORS_C_NEXT_POLL, SENSORS_C_DBID,
	/* the organization's, for a webhook acting for it */
	SENSORS_C_ORG_ID, SENSORS_C_ORG_PLAN, SENSORS_C_ORG_SUSPENDED, SENSORS_C_ORG_BLOCKED,
};
enum sensors_firing_col {
	SENSORS_F_ID, SENSORS_F_SOURCE, SENSORS_F_DELIVERY, SENSORS_F_RUN, SENSORS_F_DETAIL,
	SENSORS_F_CREATED, SENSORS_F_DBID,
};
/* A polling slot claimed by the poller. */
enum sensors_poll_col {
	SENSORS_P_DBID, SENSORS_P_ID, SENSORS_P_ORG, SENSORS_P_FLOW, SENSORS_P_CONFIG,
	SENSORS_P_PARAMS, SENSORS_P_SEALED, SENSORS_P_STATE, SENSORS_P_CREATOR,
	SENSORS_P_TYPE,
};

/* The secrets scope a sensor's secret fields are sealed under, with the
 * sensor's public id as the name. */
#define SENSORS_SEAL_SCOPE "sensor"

struct sensor_new {
	const char *public_id, *name, *type, *flow;
	const char *config, *params; /* JSON text: config as shown (masked) */
	const char *sealed, *key_id; /* NULL: nothing secret */
	const char *token_hash;      /* webhook sensors */
	int enabled;
	int64_t org_id, user_id;
	int poll_interval;           /* polling sensors: seconds; else 0 */
};

int sensors_create(struct db *db, struct arena *a, const struct sensor_new *n,
    struct db_res **row);
int sensors_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
int sensors_list(struct db *db, struct arena *a, int64_t org_id, int64_t after,
    int limit, struct db_res **rows);
/* 0 or SENSORS_ENOTFOUND. */
int sensors_delete(struct db *db, int64_t org_id, const char *id);
/* The enabled webhook sensor whose token hashes to token_hash;
 * SENSORS_ENOTFOUND for an unknown token and a disabled sensor alike. */
int sensors_by_token(struct db *db, struct arena *a, const char *token_hash,
    struct db_res **row);

/* Records a firing in the transaction of the run it started. DB_EDUP when
 * the sensor already fired for delivery_id (NULL: never a duplicate). */
int sensors_fire(struct db *db, int64_t sensor_dbid, int64_t org_id, const char *source,
    const char *delivery_id, const char *run_id, const char *detail);
/* The public id of the run a delivery started, or SENSORS_ENOTFOUND. */
int sensors_delivered(struct db *db, struct arena *a, int64_t sensor_dbid,
    const char *delivery_id, const char **run_id);
/* Firings of a sensor, newest first, before internal id `before` (0: all). */
int sensors_firings(struct db *db, struct arena *a, int64_t sensor_dbid, int64_t before,
    int limit, struct db_res **rows);

/* The value a JSON pointer (RFC 6901: "" is the whole document,
 * "/a/0/b~1c" walks members and array indexes) names in doc, borrowed, or
 * NULL when it names nothing. */
json_t *sensors_pointer(json_t *doc, const char *ptr);

/* The poller. Claims up to limit due polling sensors: each one's next slot
 * is advanced by its interval in the same transaction, so of several
 * workers one polls each slot. Rows are SENSORS_P_*; commits. */
int sensors_poll_claim(struct db *db, struct arena *a, int limit, struct db_res **rows);
/* Stores what a poll saw (state; NULL keeps the old) and its error (NULL:
 * none), unless the state moved on since old_state was read: 1 if stored,
 * 0 if another poll got there first. The caller owns the transaction. */
int sensors_poll_record(struct db *db, int64_t sensor_dbid, const char *old_state,
    const char *state, const char *error);
/* Milliseconds until the next polling slot is due (0 if one is), or -1
 * when no sensor is polled. */
int64_t sensors_poll_next(struct db *db, struct arena *a);

#endif
