/* Conditions of filter and branch nodes: {"field": "a.b", "op": …,
 * "value": …}, or {"all": [...]}, {"any": [...]}, {"not": {...}}. Ops: eq,
 * ne, gt, gte, lt, lte (numbers, and strings that are numbers, compare as
 * numbers; other strings by bytes), in, not_in, contains, exists, missing. */
#ifndef DAGY_COND_H
#define DAGY_COND_H

#include <jansson.h>
#include <stddef.h>

/* The value at a dotted path ("a.b.0") in v, borrowed, or NULL. */
json_t *cond_path(json_t *v, const char *path);
/* 0 when cond is well formed; -1 with err saying why. */
int cond_check(json_t *cond, char *err, size_t errsz);
/* Evaluates cond against ctx: 1 true, 0 false, -1 malformed (why in err). */
int cond_eval(json_t *cond, json_t *ctx, char *err, size_t errsz);

#endif
