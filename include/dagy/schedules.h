/* Schedules: when each mode fires (sched_next), and the SQL the API and
 * the worker's scheduler share. SCHED_C_* name the columns of a row. */
#ifndef DAGY_SCHEDULES_H
#define DAGY_SCHEDULES_H

#include <stdint.h>
#include <time.h>

#include "dagy/arena.h"
#include "dagy/cron.h"
#include "dagy/db.h"

enum sched_mode { SCHED_CRON, SCHED_INTERVAL, SCHED_ONE_TIME, SCHED_MANUAL };
enum sched_err { SCHED_ENOTFOUND = -70, SCHED_EEXISTS = -71 };

struct sched {
	enum sched_mode mode;
	struct cron cron;
	long long interval;
	time_t anchor;      /* interval: the first slot */
	time_t one_time_at; /* one_time: the slot */
	time_t start_at, end_at; /* 0: unbounded */
	char tz[64];
};

enum sched_col {
	SCHED_C_ID, SCHED_C_FLOW, SCHED_C_VERSION, SCHED_C_MODE, SCHED_C_ENABLED,
	SCHED_C_TZ, SCHED_C_CATCHUP, SCHED_C_CRON, SCHED_C_INTERVAL,
	SCHED_C_ONE_TIME, SCHED_C_START, SCHED_C_END, SCHED_C_PARAMS,
	SCHED_C_DESCRIPTION, SCHED_C_ENV, SCHED_C_NEXT, SCHED_C_LAST_AT,
	SCHED_C_LAST_ID, SCHED_C_CREATED, SCHED_C_UPDATED, SCHED_C_DBID,
	SCHED_C_FLOW_ID, SCHED_C_ANCHOR_EPOCH, SCHED_C_ONE_TIME_EPOCH,
	SCHED_C_START_EPOCH, SCHED_C_END_EPOCH, SCHED_C_NEXT_EPOCH,
	SCHED_C_DEPLOYMENT_ID, SCHED_C_ORG_ID,
};

const char *sched_mode_name(enum sched_mode m);
int sched_mode_parse(const char *s, enum sched_mode *m);
/* The first slot strictly after `after`, or -1 when there is none. */
int sched_next(const struct sched *s, time_t after, time_t *next);
/* Rebuilds the struct from a row; -1 if the stored expression is bad. */
int sched_from_row(const struct db_res *r, unsigned i, struct sched *s);

/* Everything a schedule row holds that the API sets. Times are SQL text
 * or NULL; next is the computed next_run_at (SQL text or NULL). */
struct sched_fields {
	const char *public_id, *flow_version, *mode, *tz, *catchup, *cron,
	    *anchor, *one_time, *start, *end, *params, *description, *env, *next;
	long long interval; /* 0: none */
	int enabled;
	int64_t flow_id, deployment_id;
};

int sched_create(struct db *db, struct arena *a, int64_t org_id,
    const struct sched_fields *f, struct db_res **row);
int sched_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
/* API schedules (not those of deployments), by schedule_id; filters may be
 * NULL, enabled -1 for either. */
int sched_list(struct db *db, struct arena *a, int64_t org_id, const char *flow,
    const char *mode, int enabled, const char *after, int limit,
    struct db_res **rows);
/* Replaces every settable field with f's (the caller merged them). */
int sched_update(struct db *db, struct arena *a, int64_t org_id, const char *id,
    const struct sched_fields *f, struct db_res **row);
int sched_delete(struct db *db, int64_t org_id, const char *id);
int sched_set_last(struct db *db, int64_t sched_dbid, const char *run_id);
/* Keeps the hidden schedule of a deployment in step with its "schedule"
 * setting (a cron expression in UTC or an interval such as "30m"; NULL or
 * "" removes it). */
int sched_sync_deployment(struct db *db, struct arena *a, int64_t org_id,
    int64_t deployment_id, int64_t flow_id, const char *name,
    const char *schedule);

/* The worker's side. Ids of due schedules, locked for this transaction
 * (other workers skip them). */
int sched_due(struct db *db, struct arena *a, int limit, struct db_res **ids);
int sched_by_id(struct db *db, struct arena *a, int64_t dbid, struct db_res **row);
/* The epoch of the earliest enabled next_run_at, 0 if none. */
int sched_earliest(struct db *db, struct arena *a, time_t *t);
/* Row: version id, spec, flow name, environment: what a firing of the
 * schedule runs (its deployment's version, its pinned version, or the
 * flow's latest) and where (its own environment, or its deployment's). */
int sched_target(struct db *db, struct arena *a, int64_t sched_dbid,
    struct db_res **row);
/* 1 if the slot already has its run. */
int sched_slot_taken(struct db *db, struct arena *a, int64_t sched_dbid,
    const char *slot);
/* Moves next_run_at on (NULL: no more slots), noting the last firing. */
int sched_advance(struct db *db, int64_t sched_dbid, const char *next,
    const char *last_slot, const char *last_run_id);

#endif
