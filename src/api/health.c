/* GET /v1/health (public) and /v1/health/detailed: what answers, and how
 * fast. The cache component is the per-process credential cache; the
 * detailed answer adds the workers (each by name, host and pid for super
 * admins; counts for everyone), degraded when the caller's organization
 * has runs waiting and no worker has a live heartbeat. */
#include <stdlib.h>
#include <time.h>

#include "api.h"
#include "config.h"
#include "dagy/config.h"
#include "dagy/runs.h"

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

/* The workers component: every registered worker with its last
 * heartbeat; live means a heartbeat within [worker] lease_seconds, the
 * time after which the reaper gives its runs to others. Sets *degraded
 * when runs wait and none is live. NULL with *rc a db_err. */
static json_t *
workers_component(struct req *r, int *degraded, int *rc)
{
	int64_t lease = config_int(r->srv->cfg, "worker", "lease_seconds"), waiting, live = 0;
	struct timespec t0;
	struct db_res *rows;
	json_t *list, *c;
	unsigned i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((*rc = runs_worker_list(r->db, &r->arena, lease, &rows)) < 0 ||
	    (*rc = runs_waiting(r->db, &r->arena, r->who.org_id, &waiting)) < 0)
		return NULL;
	list = json_array();
	for (i = 0; i < rows->nrows; i++) {
		int alive = db_int(rows, i, 7) != 0;

		live += alive;
		/* Which hosts and processes run the workers is the operators'
		 * business: organizations see how many are alive. */
		if (!r->who.super_admin)
			continue;
		json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:f, s:s}",
		    "name", db_val(rows, i, 0), "host", db_val(rows, i, 1),
		    "pid", (json_int_t)db_int(rows, i, 2),
		    "concurrency", (json_int_t)db_int(rows, i, 3),
		    "started_at", db_val(rows, i, 4), "last_heartbeat_at", db_val(rows, i, 5),
		    "heartbeat_age_seconds", strtod(db_val(rows, i, 6), NULL),
		    "status", alive ? "alive" : "silent"));
	}
	*degraded = live == 0 && waiting > 0;
	c = component("workers", !*degraded, ms_since(&t0), 1);
	json_object_set_new(c, "live", json_integer(live));
	json_object_set_new(c, "lease_seconds", json_integer(lease));
	json_object_set_new(c, "waiting_runs", json_integer(waiting));
	json_object_set_new(c, "workers", list);
	return c;
}

static int
report(struct req *r, int detailed)
{
	struct timespec t0, start;
	double db_ms;
	int db_ok, degraded = 0, rc = 0;
	const char *status;
	json_t *comps, *workers = NULL;

	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	db_ok = db_ping(r->db) == 0;
	db_ms = ms_since(&t0);
	if (db_ok && detailed && (workers = workers_component(r, &degraded, &rc)) == NULL) {
		if (rc != DB_EUNAVAIL)
			return rc;
		db_ok = 0;
	}
	comps = json_array();
	json_array_append_new(comps, component("api", 1, ms_since(&start), detailed));
	json_array_append_new(comps, component("database", db_ok, db_ms, detailed));
	json_array_append_new(comps, component("cache", 1, 0, detailed));
	if (detailed)
		json_array_append_new(comps, workers != NULL ? workers :
		    component("workers", 0, 0, 1));
	status = !db_ok ? "unhealthy" : degraded ? "degraded" : "healthy";
	if (!db_ok || degraded)
		api_header(r, "Retry-After: %d", r->srv->retry_after);
	return api_json(r, !db_ok || degraded ? 503 : 200, json_pack("{s:s, s:s, s:o, s:s}",
	    "status", status, "version", PACKAGE_VERSION,
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
