/* DAG drafts of the visual builder. DRAFT_C_* name the columns of a row. */
#ifndef DAGY_DRAFTS_H
#define DAGY_DRAFTS_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum drafts_err { DRAFTS_ENOTFOUND = -50 };

enum draft_col {
	DRAFT_C_ID, DRAFT_C_NAME, DRAFT_C_DESCRIPTION, DRAFT_C_CANVAS,
	DRAFT_C_FLOW, DRAFT_C_EXECUTOR, DRAFT_C_CREATED, DRAFT_C_UPDATED,
	DRAFT_C_SEQ,
};

/* Fields of a draft; on update NULL leaves a field as it is. canvas is
 * JSON text. */
struct draft_fields {
	const char *name, *description, *canvas, *flow_name, *executor;
};

int drafts_create(struct db *db, struct arena *a, int64_t org_id,
    int64_t user_id, const struct draft_fields *f, struct db_res **row);
int drafts_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row);
/* Drafts newest first, before the internal sequence `before` (0: from the
 * newest). */
int drafts_list(struct db *db, struct arena *a, int64_t org_id, int64_t before,
    int limit, struct db_res **rows);
int drafts_update(struct db *db, struct arena *a, int64_t org_id, const char *id,
    const struct draft_fields *f, struct db_res **row);
int drafts_delete(struct db *db, int64_t org_id, const char *id);

#endif
