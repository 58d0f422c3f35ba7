/* GET /v1/health (public) and /v1/health/detailed: what answers, and how
 * fast. The cache component is the per-process credential cache. */
#include <time.h>

#include "api.h"
#include "config.h"

static int health(struct req *r);
static int health_detailed(struct req *r);

const struct route health_routes[] = {
	{"GET", "/v1/health", health, PERM_PUBLIC, 0, DIALECT_DAGY},
	{"GET", "/v1/health/detailed", health_detailed, PERM_AUTHENTICATED, 0, DIALECT_DAGY},
};
const size_t health_routes_n = sizeof(health_routes) / sizeof(health_routes[0]);

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static json_t *
component(const char *name, int ok, double ms, int detailed)
{
	json_t *c = json_pack("{s:s, s:s}", "name", name, "status",
	    ok ? "healthy" : "unhealthy");

	if (detailed)
		json_object_set_new(c, "latency_ms", json_real((double)(long)(ms * 1000) / 1000));
	return c;
}

static int
report(struct req *r, int detailed)
{
	struct timespec t0, start;
	double db_ms;
	int db_ok;
	json_t *comps;

	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	db_ok = db_ping(r->db) == 0;
	db_ms = ms_since(&t0);
	comps = json_array();
	json_array_append_new(comps, component("api", 1, ms_since(&start), detailed));
	json_array_append_new(comps, component("database", db_ok, db_ms, detailed));
	json_array_append_new(comps, component("cache", 1, 0, detailed));
	if (!db_ok)
		api_header(r, "Retry-After: %d", r->srv->retry_after);
	return api_json(r, db_ok ? 200 : 503, json_pack("{s:s, s:s, s:o, s:s}",
	    "status", db_ok ? "healthy" : "unhealthy", "version", PACKAGE_VERSION,
	    "components", comps, "timestamp", api_now(r)));
}

static int
health(struct req *r)
{
	return report(r, 0);
}

static int
health_detailed(struct req *r)
{
	return report(r, 1);
}
