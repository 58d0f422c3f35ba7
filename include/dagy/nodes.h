/* The node registry: the built-in node types this dagy executes, the
 * organizations' custom nodes with their versions, and the two checks that
 * flow registration and POST /v1/nodes/validate-connection share — a
 * node's config against its config_schema, an edge against the connectors
 * at its ends. */
#ifndef DAGY_NODES_H
#define DAGY_NODES_H

#include <jansson.h>
#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

enum nodes_err { NODES_ENOTFOUND = -60, NODES_EEXISTS = -61 };

/* The categories in the order the registry lists them: {id, label}. */
struct nodes_category {
	const char *id, *label;
};
extern const struct nodes_category nodes_categories[];
extern const size_t nodes_ncategories;

/* Every built-in definition as the spec shows it (node_type, label,
 * description, category, icon, color, official, tags, connectors,
 * config_schema), built once per process and kept: borrowed. */
json_t *nodes_builtin_all(void);
/* One built-in definition (borrowed), or NULL. */
json_t *nodes_builtin(const char *node_type);

/* Checks config (an object or NULL) against def's config_schema: required
 * fields present, each field of its type (and enum), no field the schema
 * does not know. 0, or -1 with field ("config.url") and reason filled. */
int nodes_check_config(json_t *def, json_t *config, char field[64],
    char reason[256]);

/* May the connector src_conn of src (a definition) feed dst_conn of dst,
 * each already holding n_src and n_dst connections? NULL connector ids
 * pick the first outbound (inbound) connector. Appends a sentence per
 * problem to errors; *src_c and *dst_c (borrowed, may be NULL) are the
 * connectors found. Returns the number of problems. */
int nodes_check_connection(json_t *src, const char *src_conn, json_t *dst,
    const char *dst_conn, long n_src, long n_dst, json_t *errors,
    json_t **src_c, json_t **dst_c);

/* Checks the shape of a custom definition (POST, or PUT merged onto the
 * current one): node_type, label, category, connectors, config_schema,
 * import_path. 0, or -1 with field and reason. */
int nodes_check_definition(json_t *def, char field[64], char reason[256]);

/* Custom nodes. A row: node_type, version, definition (JSON text),
 * created_at, updated_at, internal id. */
enum nodes_col { NODES_C_TYPE, NODES_C_VERSION, NODES_C_DEF, NODES_C_CREATED,
	NODES_C_UPDATED, NODES_C_ID };

int nodes_custom_list(struct db *db, struct arena *a, int64_t org_id,
    struct db_res **rows);
int nodes_custom_get(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, struct db_res **row);
/* The same, locking the row until the transaction ends: an update reads
 * the definition it replaces, and two at once must not both read it. */
int nodes_custom_lock(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, struct db_res **row);
/* Creates version 1; NODES_EEXISTS when the org has that type. */
int nodes_custom_create(struct db *db, struct arena *a, int64_t org_id,
    int64_t user_id, const char *node_type, const char *def_text,
    struct db_res **row);
/* Keeps the current definition as a version, then stores def_text as the
 * next one (the caller owns the transaction). */
int nodes_custom_update(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, const char *def_text, struct db_res **row);
/* 1, or 0 when there is no such node. Its versions go with it. */
int nodes_custom_delete(struct db *db, int64_t org_id, const char *node_type);
/* Every kept version of a node, oldest first: version, definition,
 * created_at. */
int nodes_custom_versions(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, struct db_res **rows);
/* {node_type: {"current": def, "versions": {"1": def, …}}} of the org's
 * custom nodes, each def carrying its "version": what flow registration
 * resolves custom types and pinned versions against. A new reference. */
int nodes_custom_map(struct db *db, struct arena *a, int64_t org_id, json_t **out);

#endif
