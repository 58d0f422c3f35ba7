/* Keyset pagination cursors: opaque, versioned and signed, so a client can
 * only hand back what dagy gave it (a tampered token is a 400). */
#ifndef DAGY_PAGE_H
#define DAGY_PAGE_H

#include <jansson.h>

#include "dagy/arena.h"

struct config;

/* Encodes key (an array of the last row's sort values) as a token. */
const char *page_encode(const struct config *cfg, struct arena *a, json_t *key);
/* The key array (a new reference), or NULL if token is not one of ours. */
json_t *page_decode(const struct config *cfg, const char *token);

#endif
