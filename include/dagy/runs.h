/* Runs, step runs, logs and outputs: the queries the API surfaces share.
 * The worker's claiming and recording live in src/worker. RUN_C_* name the
 * columns of a run row, STEP_C_* of a step row. */
#ifndef DAGY_RUNS_H
#define DAGY_RUNS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct audit_row;

enum runs_err {
	RUNS_ENOTFOUND = -60,
	RUNS_EFINISHED = -61, /* the run already ended */
	RUNS_ENOTWAITING = -62, /* the step is not waiting for approval */
	RUNS_EACTIVE = -63, /* the run has not ended yet */
};

enum run_col {
	RUN_C_ID, RUN_C_SLUG, RUN_C_FLOW, RUN_C_VERSION, RUN_C_DEPLOYMENT,
	RUN_C_STATUS, RUN_C_CREATED, RUN_C_STARTED, RUN_C_COMPLETED,
	RUN_C_DURATION, RUN_C_EXECUTOR, RUN_C_MODE, RUN_C_PARAMS, RUN_C_OUTPUT,
	RUN_C_ERROR, RUN_C_RETRIES, RUN_C_TAGS, RUN_C_DBID, RUN_C_FLOW_ID,
	RUN_C_TRIGGER, RUN_C_WORKER, RUN_C_CANCELLED, RUN_C_UPDATED, RUN_C_HASH,
	RUN_C_SCHEDULED_FOR, RUN_C_SCHEDULE_ID,
};

enum step_col {
	STEP_C_STEP, STEP_C_TYPE, STEP_C_STATUS, STEP_C_ATTEMPT, STEP_C_EXIT,
	STEP_C_ERROR, STEP_C_WORKER, STEP_C_STARTED, STEP_C_FINISHED,
	STEP_C_DURATION, STEP_C_UPDATED, STEP_C_DBID, STEP_C_DECIDED_BY,
};

struct run_new {
	int64_t org_id, flow_id, version_id, deployment_id, schedule_id, user_id;
	const char *flow_name, *scheduled_for, *status, *trigger, *executor,
	    *mode, *params, *tags; /* params, tags: JSON text */
	const char *environment; /* NULL: none */
};

/* Inserts a run; *public_id and *slug are set. */
int runs_create(struct db *db, struct arena *a, const struct run_new *n,
    const char **public_id, const char **slug);
/* The same and the audit row au (targeting the run) in one transaction of
 * their own: called outside a transaction, it commits. */
int runs_create_audited(struct db *db, struct arena *a, const struct run_new *n,
    const struct audit_row *au, const char **public_id, const char **slug);
int runs_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
/* Newest first; flow and status may be NULL; before is an internal id
 * (0: from the newest). */
int runs_list(struct db *db, struct arena *a, int64_t org_id, const char *flow,
    const char *status, int64_t before, int limit, struct db_res **rows);
/* Marks a queued or running run cancelled; RUNS_EFINISHED if it ended. */
int runs_cancel(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
/* Puts a failed or cancelled run back in the queue: its failed, skipped,
 * cancelled and rejected steps run again, successful ones are kept. */
int runs_retry(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
int runs_steps(struct db *db, struct arena *a, int64_t run_dbid,
    struct db_res **rows);
/* Log rows (id, step, stream, ts, ingested, line, truncated) after log id
 * `after`, oldest first; step may be NULL. */
int runs_logs(struct db *db, struct arena *a, int64_t run_dbid,
    const char *step, int64_t after, int limit, struct db_res **rows);
/* Output rows (step, key, value) in the order they were written. */
int runs_outputs(struct db *db, struct arena *a, int64_t run_dbid,
    struct db_res **rows);
/* Approves or rejects a step waiting for approval. */
int runs_decide(struct db *db, int64_t run_dbid, const char *step, int approve,
    const char *who);

/* Deletes the org's runs that ended more than `seconds` ago, with their
 * steps, logs and outputs; reports how many and the bytes they held. */
int runs_cleanup(struct db *db, struct arena *a, int64_t org_id, int64_t seconds,
    int64_t *removed, int64_t *bytes);
/* The newest run of a flow (by name): its public id, or RUNS_ENOTFOUND. */
int runs_latest(struct db *db, struct arena *a, int64_t org_id, const char *flow,
    const char **id);

/* Workers that renewed their heartbeat in the last 90 s: how many, and
 * the steps they can run at once between them. */
int runs_workers(struct db *db, struct arena *a, int64_t *count, int64_t *slots);
/* Every registered worker by name: name, host, pid, concurrency,
 * started_at, heartbeat_at, seconds since that heartbeat, and 1 when it
 * came within the last `lease` seconds (else 0). */
int runs_worker_list(struct db *db, struct arena *a, int64_t lease,
    struct db_res **rows);
/* The org's runs waiting for a worker: queued, or running under a lease
 * that expired (their worker is gone and no reaper has re-queued them). */
int runs_waiting(struct db *db, struct arena *a, int64_t org_id, int64_t *count);

#endif
