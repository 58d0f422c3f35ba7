/* dagctl's environment protections over dagy's environments: a record per
 * protected environment (enabled is the environment's is_protected) and
 * the users excepted from it. Callers own the transaction. */
#ifndef DAGY_PROTECTIONS_H
#define DAGY_PROTECTIONS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum eprot_err { EPROT_ENOTFOUND = -140, EPROT_EEXISTS = -141 };
enum eprot_col {
	EPROT_C_ID, EPROT_C_NAME, EPROT_C_ENABLED, EPROT_C_CREATED_BY, EPROT_C_CREATED,
	EPROT_C_UPDATED, EPROT_C_ENV_DBID, EPROT_C_ORG_PUBLIC,
};

int eprot_list(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows);
/* By the environment's public id (the protection's id). */
int eprot_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
/* By environment name; EPROT_ENOTFOUND when it has no protection. */
int eprot_by_name(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row);
int eprot_create(struct db *db, int64_t org_id, int64_t env_dbid, const char *by);
int eprot_delete(struct db *db, int64_t env_dbid);
/* Rows: user public id, email. */
int eprot_users(struct db *db, struct arena *a, int64_t env_dbid, struct db_res **rows);
/* Adds a member of the org by user public id; EPROT_ENOTFOUND if none. */
int eprot_user_add(struct db *db, int64_t org_id, int64_t env_dbid, const char *user_id);
int eprot_user_remove(struct db *db, int64_t env_dbid, const char *user_id);
/* 1 when the user is excepted. */
int eprot_excepted(struct db *db, struct arena *a, int64_t env_dbid, int64_t user_id);

#endif
