/* The dagctl control plane's store: projects (a git repository, a
 * framework and settings, run through the dagy flow named after the
 * project's public id), their jobs (a schedule of that flow each) and
 * plans (explain -> approve -> execute). The API and the worker's sync
 * thread share these queries. */
#ifndef DAGY_PROJECTS_H
#define DAGY_PROJECTS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

/* The scope project credentials are sealed under (the name is the
 * project's public id). */
#define PROJECTS_SEAL_SCOPE "dagctl-project"

enum projects_err { PROJECTS_ENOTFOUND = -110, PROJECTS_EEXISTS = -111 };

enum projects_col {
	PRJ_C_ID, PRJ_C_NAME, PRJ_C_DESCRIPTION, PRJ_C_TYPE, PRJ_C_URL, PRJ_C_BRANCH,
	PRJ_C_AUTH, PRJ_C_SETTINGS, PRJ_C_DEPLOYED, PRJ_C_SUSPENDED, PRJ_C_CURRENT,
	PRJ_C_LATEST, PRJ_C_MESSAGE, PRJ_C_BEHIND, PRJ_C_ERROR, PRJ_C_CREATED,
	PRJ_C_UPDATED, PRJ_C_DBID, PRJ_C_FLOW_ID, PRJ_C_ORG_ID, PRJ_C_SEALED,
	PRJ_C_ORG_PUBLIC, PRJ_C_DELETED, PRJ_C_SYNCED, PRJ_C_KEY_ID,
};

struct project_fields {
	const char *public_id, *name, *description, *type, *url, *branch, *auth;
	const char *sealed, *key_id; /* NULL: no credential */
	const char *settings;        /* JSON text */
	int64_t flow_id;
};

int projects_create(struct db *db, struct arena *a, int64_t org_id,
    const struct project_fields *f, struct db_res **row);
/* A project that is not deleted, by public id. */
int projects_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
/* The org's projects, by name; *total counts them all. */
int projects_list(struct db *db, struct arena *a, int64_t org_id, int page, int limit,
    struct db_res **rows, int64_t *total);
/* Replaces the settable fields (the caller merged them); a new branch or
 * URL makes the next sync clone again. */
int projects_update(struct db *db, int64_t dbid, const struct project_fields *f);
/* Deployed and suspended flags; the project's job schedules follow
 * (enabled only when deployed, not suspended, and the job is enabled),
 * and a deployed project is synced at once. */
int projects_set_state(struct db *db, int64_t dbid, int deployed, int suspended);
/* Marks it deleted: the worker removes its workspace, then the row. */
int projects_mark_deleted(struct db *db, int64_t dbid);

enum jobs_col {
	JOB_C_ID, JOB_C_NAME, JOB_C_DESCRIPTION, JOB_C_COMMAND, JOB_C_SCHEDULE,
	JOB_C_ENABLED, JOB_C_SLACK, JOB_C_SLACK_ON, JOB_C_SLACK_SUCCESS, JOB_C_CREATED,
	JOB_C_UPDATED, JOB_C_DBID,
};

struct job_fields {
	const char *public_id, *name, *description, *command, *schedule, *slack;
	int enabled, slack_on, slack_success;
};

int projects_job_create(struct db *db, struct arena *a, int64_t org_id,
    int64_t project_dbid, const struct job_fields *f, struct db_res **row);
int projects_job_get(struct db *db, struct arena *a, int64_t project_dbid,
    const char *id, struct db_res **row);
int projects_job_list(struct db *db, struct arena *a, int64_t project_dbid,
    struct db_res **rows);
int projects_job_update(struct db *db, int64_t dbid, const struct job_fields *f);
int projects_job_delete(struct db *db, int64_t dbid);

enum plans_col {
	PLAN_C_ID, PLAN_C_GROUP, PLAN_C_TYPE, PLAN_C_STATUS, PLAN_C_FROM, PLAN_C_TO,
	PLAN_C_MESSAGE, PLAN_C_BEHIND, PLAN_C_TRIGGERED, PLAN_C_OUTPUT,
	PLAN_C_DISCARDED, PLAN_C_DECIDED_BY, PLAN_C_ERROR, PLAN_C_CREATED,
	PLAN_C_UPDATED, PLAN_C_DBID, PLAN_C_EXPLAIN_RUN, PLAN_C_EXECUTE_RUN,
	PLAN_C_EXPLAIN_STATUS, PLAN_C_EXECUTE_STATUS, PLAN_C_EXPLAIN_PUB,
	PLAN_C_EXECUTE_PUB,
};

/* A plan of the project's latest commit, to be explained by the worker. */
int projects_plan_create(struct db *db, struct arena *a, int64_t org_id,
    int64_t project_dbid, const char *triggered_by, struct db_res **row);
int projects_plan_get(struct db *db, struct arena *a, int64_t project_dbid,
    const char *id, struct db_res **row);
/* status NULL: all; newest first. */
int projects_plan_list(struct db *db, struct arena *a, int64_t project_dbid,
    const char *status, int page, int limit, struct db_res **rows, int64_t *total);
int projects_plan_pending(struct db *db, struct arena *a, int64_t project_dbid,
    int64_t *count);
/* Moves a plan from status `from` to `to` (conditionally: 0 rows when it
 * is no longer in `from`); who decided is noted. Back to running, its
 * explain starts again; back to approved, its execute. Returns rows
 * affected. */
int projects_plan_move(struct db *db, int64_t dbid, const char *from, const char *to,
    const char *who);

/* The worker's side. One project due for a sync (or deleted, workspace
 * left), claimed by pushing its next sync `lease` seconds on; the
 * transaction is the caller's. PRJ_C_* columns. */
int projects_claim(struct db *db, struct arena *a, int lease, struct db_res **row);
/* What a sync found; next sync after `poll` seconds. error NULL: fine. */
int projects_synced(struct db *db, int64_t dbid, const char *current, const char *latest,
    const char *message, int behind, const char *error, int poll);
/* The checkout moved to sha (a plan was applied). */
int projects_moved(struct db *db, int64_t dbid, const char *sha, int behind);
int projects_purge(struct db *db, int64_t dbid);
/* Plans of a project the worker has to act on: PLAN_C_* rows. */
int projects_plans_open(struct db *db, struct arena *a, int64_t project_dbid,
    struct db_res **rows);
/* Rejects, as auto-discarded, the open explain plans of other commits. */
int projects_plans_discard(struct db *db, int64_t project_dbid, const char *sha);
/* 1 if a plan of commit sha already exists. */
int projects_plan_exists(struct db *db, struct arena *a, int64_t project_dbid,
    const char *sha);
/* Records a run started for a plan (execute: the execute run). */
int projects_plan_started(struct db *db, int64_t plan_dbid, int execute, int64_t run_dbid);
/* Ends a plan's phase: status to, output and error (may be NULL). */
int projects_plan_end(struct db *db, int64_t plan_dbid, const char *from, const char *to,
    const char *output, const char *error);

#endif
