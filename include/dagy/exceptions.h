/* Exception traces: every internal error of dagy-api (a 500) and of
 * dagy-worker is written as one JSON document (key, time, source,
 * request id, message, a stack of context) to the trace store, and read
 * back by the super admin console. The store is a directory ([admin]
 * exceptions_dir), one file per trace named by its key; the functions
 * below are the whole interface, so another store can replace it. */
#ifndef DAGY_EXCEPTIONS_H
#define DAGY_EXCEPTIONS_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "dagy/arena.h"

struct config;

#define EXCEPTIONS_KEY_MAX 64

/* Records a trace: source ("dagy-api", "dagy-worker"), the request or run
 * id it belongs to (may be NULL), a message, and context (stolen, may be
 * NULL): an array of objects from outermost to innermost, or an object.
 * Best effort: a store that cannot be written is logged and 0 returned
 * anyway, as the error being recorded matters more. key (may be NULL)
 * receives the new key. */
int exceptions_record(const struct config *cfg, const char *source,
    const char *request_id, const char *message, json_t *context,
    char key[EXCEPTIONS_KEY_MAX]);
/* Whether key names a trace the store could hold (no path tricks). */
int exceptions_key_valid(const char *key);
/* The newest traces first, up to limit: an array of {key, time, source,
 * request_id, message, size_bytes} (a new reference), or NULL on failure. */
json_t *exceptions_list(const struct config *cfg, int limit);
/* The trace (a new reference), or NULL when there is none. */
json_t *exceptions_get(const struct config *cfg, const char *key);
/* 1 if removed, 0 if there was none, -1 on failure. */
int exceptions_delete(const struct config *cfg, const char *key);
/* The signature of a download of key until expires, in hex. */
void exceptions_sign(const struct config *cfg, const char *key, time_t expires,
    char out[65]);
/* Whether sig is the signature of key until expires, and it is not over. */
int exceptions_signed(const struct config *cfg, const char *key, time_t expires,
    const char *sig);

#endif
