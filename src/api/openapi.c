/* GET /v1/openapi.json: the OpenAPI 3.1 document of every dialect
 * (openapi/dagy.json, embedded at build time so the binary serves the
 * document of its own routes). Public, like the documentation it is. */
#include "api.h"

extern const char openapi_json[];
extern const size_t openapi_json_len;

static int openapi_get(struct req *r);

const struct route openapi_routes[] = {
	{"GET", "/v1/openapi.json", openapi_get, PERM_PUBLIC, 0, DIALECT_DAGY},
};
const size_t openapi_routes_n = sizeof(openapi_routes) / sizeof(openapi_routes[0]);

static int
openapi_get(struct req *r)
{
	return api_text(r, 200, "application/json", openapi_json, openapi_json_len);
}
