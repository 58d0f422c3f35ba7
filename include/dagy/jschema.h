/* JSON Schema (draft 2020-12) validation: the assertion vocabulary over
 * one document, local $ref included. Keywords this code cannot honour
 * ($dynamicRef, unevaluated*, remote $ref, …) make jschema_check refuse
 * the schema rather than pass records unchecked. */
#ifndef DAGY_JSCHEMA_H
#define DAGY_JSCHEMA_H

#include <jansson.h>
#include <stddef.h>

/* 0 when schema can be used; -1 with err saying where and why. */
int jschema_check(json_t *schema, char *err, size_t errsz);
/* 1 when instance is valid against schema (root is the document local
 * $refs resolve in, usually schema itself); 0 with err naming the
 * instance location ("/items/2") and the failed keyword. */
int jschema_valid(json_t *root, json_t *schema, json_t *instance, char *err,
    size_t errsz);

#endif
