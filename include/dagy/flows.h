/* Flows and flow versions: the SQL every dialect shares. Rows come back as
 * strings; FLOWS_V_* name the columns of a version row. */
#ifndef DAGY_FLOWS_H
#define DAGY_FLOWS_H

#include <jansson.h>
#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum flows_err { FLOWS_EEXISTS = -30, FLOWS_ENOTFOUND = -31 };

enum flows_vcol {
	FLOWS_V_NAME, FLOWS_V_VERSION, FLOWS_V_SEQ, FLOWS_V_ARTIFACT,
	FLOWS_V_CREATED, FLOWS_V_UPDATED, FLOWS_V_SCHEDULE, FLOWS_V_STATUS,
	FLOWS_V_DEPLOYMENT, FLOWS_V_EXECUTOR, FLOWS_V_TAGS, FLOWS_V_NAMESPACE,
	FLOWS_V_HASH, FLOWS_V_SPEC, FLOWS_V_ID, FLOWS_V_FLOW_ID, FLOWS_V_FLOW_PUBLIC,
	FLOWS_V_FLOW_CREATED,
};

struct flow_reg {
	const char *name, *version; /* version NULL: the next integer */
	const char *artifact, *deployment_name, *schedule, *status, *executor,
	    *namespace;
	json_t *tags;      /* may be NULL */
	json_t *canonical; /* validated spec */
	const char *code_hash; /* NULL: the spec's hash (artifacts: the object's) */
};

/* Registers a version (the caller owns the transaction); *row is the new
 * version row. FLOWS_EEXISTS when that version exists. */
int flows_register(struct db *db, struct arena *a, int64_t org_id,
    const struct flow_reg *reg, struct db_res **row);
/* Latest version rows of flows named after `after` (NULL: from the
 * start), by name, at most limit. */
int flows_list(struct db *db, struct arena *a, int64_t org_id, const char *after,
    int limit, struct db_res **rows);
/* One version row (version NULL: the latest), or FLOWS_ENOTFOUND. */
int flows_version(struct db *db, struct arena *a, int64_t org_id,
    const char *name, const char *version, struct db_res **row);
/* All version rows of a flow, newest first. */
int flows_versions(struct db *db, struct arena *a, int64_t org_id,
    const char *name, struct db_res **rows);
/* Deletes a flow and, by foreign keys, everything hanging off it.
 * Returns 1, or 0 if there was no such flow. */
int flows_delete(struct db *db, int64_t org_id, const char *name);

/* daggle's view of flows (name NULL: all, by name). Row: name, spec, code
 * hash, last run status, last run id, last run started, schedule. */
int flows_overview(struct db *db, struct arena *a, int64_t org_id,
    const char *name, struct db_res **rows);
/* The flow with this public id or name: its internal id, or
 * FLOWS_ENOTFOUND. */
int flows_find(struct db *db, struct arena *a, int64_t org_id, const char *id_or_name,
    int64_t *flow_id);

#endif
