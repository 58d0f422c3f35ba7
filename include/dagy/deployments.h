/* Deployments: a name pointing at one version of a flow, with its runtime
 * settings and schedule. DEPLOY_C_* name the columns of a row. */
#ifndef DAGY_DEPLOYMENTS_H
#define DAGY_DEPLOYMENTS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum deploy_err { DEPLOY_ENOTFOUND = -40, DEPLOY_ENOPREV = -41 };

enum deploy_col {
	DEPLOY_C_NAME, DEPLOY_C_FLOW, DEPLOY_C_VERSION, DEPLOY_C_ENV,
	DEPLOY_C_SCHEDULE, DEPLOY_C_EXECUTOR, DEPLOY_C_MODE, DEPLOY_C_TAGS,
	DEPLOY_C_SLUGS, DEPLOY_C_UPDATED, DEPLOY_C_PROMOTED_ENV,
	DEPLOY_C_PROMOTED_DEP, DEPLOY_C_PROMOTED_AT, DEPLOY_C_ID, DEPLOY_C_STATUS,
	DEPLOY_C_CREATED, DEPLOY_C_SEQ, DEPLOY_C_VERSION_ID, DEPLOY_C_FLOW_ID,
	DEPLOY_C_DBID,
};

/* Settings; NULL leaves a field as it is (on create: its default). A
 * schedule of "" removes it. tags and slugs are JSON text. */
struct deploy_settings {
	const char *environment, *schedule, *executor, *mode, *tags, *slugs;
};

/* Points name at version_id, creating the deployment if needed; *created
 * says which. The caller owns the transaction. */
int deploy_upsert(struct db *db, struct arena *a, int64_t org_id,
    const char *name, int64_t flow_id, int64_t version_id,
    const struct deploy_settings *s, int *created, struct db_res **row);
int deploy_get(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row);
/* Rows named after `after` (NULL: from the start), optionally in one
 * environment, by name. */
int deploy_list(struct db *db, struct arena *a, int64_t org_id,
    const char *environment, const char *after, int limit, struct db_res **rows);
/* Points the deployment at another version of its flow, remembering the
 * one it replaces; version NULL means the remembered one (rollback). */
int deploy_set_version(struct db *db, struct arena *a, int64_t org_id,
    const char *name, const char *version, struct db_res **row);
int deploy_update_settings(struct db *db, struct arena *a, int64_t org_id,
    const char *name, const struct deploy_settings *s, struct db_res **row);
int deploy_delete(struct db *db, int64_t org_id, const char *name);
/* Notes where a promotion brought the deployment from, and when. */
int deploy_mark_promoted(struct db *db, int64_t org_id, const char *name,
    const char *from_env, const char *from_deployment);

#endif
