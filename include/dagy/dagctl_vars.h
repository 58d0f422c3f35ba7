/* What dagctl's environment variables add to the variables of dagy's
 * "dagctl" environment, where their values are sealed: the sensitive
 * flag and dates. Callers own the transaction. */
#ifndef DAGY_DAGCTL_VARS_H
#define DAGY_DAGCTL_VARS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

/* The dagy environment every dagctl project runs in. */
#define DVARS_ENV "dagctl"

enum dvars_err { DVARS_ENOTFOUND = -130, DVARS_EEXISTS = -131 };
enum dvars_col { DVARS_C_NAME, DVARS_C_SENSITIVE, DVARS_C_CREATED, DVARS_C_UPDATED };

int dvars_list(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows);
int dvars_get(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row);
int dvars_create(struct db *db, int64_t org_id, const char *name, int sensitive);
int dvars_update(struct db *db, int64_t org_id, const char *name, int sensitive);
int dvars_delete(struct db *db, int64_t org_id, const char *name);

#endif
