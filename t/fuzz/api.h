/* dagy-api's request path for the fuzz targets (api.c). */
#ifndef DAGY_FUZZ_API_H
#define DAGY_FUZZ_API_H

#include <stddef.h>
#include <stdint.h>

struct server;

/* The server, made once: the real route table, the fuzz configuration and
 * a database handle that never connects. */
struct server *fuzz_api_server(void);
/* Runs one request through routing, query and body checks, the handler
 * (as a super admin of organization 1, all permissions) and the response
 * writer; returns the status sent. */
int fuzz_api_request(const char *method, const char *uri, const uint8_t *body,
    size_t len);

#endif
