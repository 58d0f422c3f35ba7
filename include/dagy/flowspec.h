/* Flow specs: validation (node ids, types, config, edges, cycles) and the
 * canonical form whose SHA-256 is a version's code_hash. */
#ifndef DAGY_FLOWSPEC_H
#define DAGY_FLOWSPEC_H

#include <jansson.h>

#define FLOWSPEC_MAX_NODES 10000

struct flowspec_err {
	char node[80];   /* the offending node's id, or "" */
	char field[64];  /* the offending field, e.g. "config.command" */
	char msg[512];   /* a sentence naming both */
};

/* Validates spec and returns its canonical form (a new reference): nodes
 * sorted by id, each with sorted depends_on merging "edges", edges
 * regenerated from them. NULL with err filled when spec is invalid. */
json_t *flowspec_canonical(json_t *spec, long long max_timeout,
    struct flowspec_err *err);
/* As flowspec_canonical, with the org's custom node types (the map of
 * nodes_custom_map, or NULL): each node's config is checked against its
 * type's config_schema, each edge against the connectors at its ends. */
json_t *flowspec_canonical_with(json_t *spec, long long max_timeout,
    json_t *custom, struct flowspec_err *err);
/* Lowercase hex SHA-256 of the canonical form's compact sorted JSON. */
void flowspec_hash(json_t *canonical, char hex[65]);
/* Checks a visual-builder canvas ({nodes:[{id,type,data,position}],
 * edges:[{source,target}]}): shape, unique ids, real edge ends, no cycle.
 * Node types are not checked: a draft may hold what cannot run yet. */
int flowspec_check_canvas(json_t *canvas, struct flowspec_err *err);
/* The flow spec a canvas stands for (a new reference; validate it next). */
json_t *flowspec_from_canvas(json_t *canvas);
/* The nodes of a canonical spec in graph order: by depth (a node comes
 * after everything it depends on), then by id. Returns a new array of
 * node objects (borrowed from spec, held by the array). */
json_t *flowspec_order(json_t *canonical);
/* "shell, python_function, …": the node types this build executes. */
const char *flowspec_types(void);
/* Maps a node id to the suffix of its environment variables
 * (DAGY_OUTPUT_<STEP>_…): uppercase, '-' to '_'. out holds 80 bytes. */
void flowspec_env_name(const char *id, char *out);

#endif
