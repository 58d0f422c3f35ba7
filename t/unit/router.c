/* The router: matching, precedence, 404 against 405, decoding, duplicates. */
#include "../tap.h"
#include "dagy/log.h"
#include "dagy/router.h"

static int h(struct req *r) { (void)r; return 0; }

static const struct route routes[] = {
	{"GET", "/v1/runs", h, 0, 0, DIALECT_DAGY},
	{"POST", "/v1/runs", h, 0, 0, DIALECT_DAGY},
	{"GET", "/v1/runs/{run_id}", h, 0, 0, DIALECT_DAGY},
	{"POST", "/v1/runs/cleanup", h, 0, 0, DIALECT_DAGY},
	{"PATCH", "/v1/orgs/{org_id}/members/{email}/role", h, 0, 0, DIALECT_DAGY},
	{"GET", "/api/v1/dags/{name}", h, 0, 0, DIALECT_DAGGLE},
};

static const struct route dup[] = {
	{"GET", "/v1/runs/{other}", h, 0, 0, DIALECT_DAGY},
};

static void quiet(enum log_level l, const char *m) { (void)l; (void)m; }

static int
match(struct router *rt, const char *method, const char *path,
    struct router_match *m, char *allow, enum dialect *d)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	return router_match(rt, method, buf, m, allow, 64, d);
}

int
main(void)
{
	struct router *rt = router_new();
	struct router_match m;
	enum dialect d;
	char allow[64];
	char s[] = "a%2Fb%40c", bad[] = "x%zz", nul[] = "x%00";

	plan(22);
	log_set_sink(quiet);
	is_int(0, router_add(rt, routes, sizeof(routes) / sizeof(routes[0])), "routes load");
	is_int(-1, router_add(rt, dup, 1), "same shape and method is refused");

	is_int(ROUTER_OK, match(rt, "GET", "/v1/runs", &m, allow, &d), "exact path");
	ok(m.route == &routes[0], "GET /v1/runs picks the GET route");
	is_int(ROUTER_OK, match(rt, "GET", "/v1/runs/", &m, allow, &d), "trailing slash");
	is_int(ROUTER_OK, match(rt, "GET", "/v1/runs/run_42", &m, allow, &d), "param route");
	is_string("run_42", m.values[0], "param value");
	is_string("run_id", m.names[0], "param name");
	is_int(ROUTER_OK, match(rt, "POST", "/v1/runs/cleanup", &m, allow, &d), "literal route");
	ok(m.route == &routes[3], "literal beats param for POST");
	is_int(ROUTER_OK, match(rt, "GET", "/v1/runs/cleanup", &m, allow, &d),
	    "GET falls back to the param route");
	is_int(ROUTER_EMETHOD, match(rt, "DELETE", "/v1/runs", &m, allow, &d), "405");
	is_string("GET, POST", allow, "Allow lists both methods");
	is_int(ROUTER_ENOTFOUND, match(rt, "GET", "/v1/nothing", &m, allow, &d), "404");
	is_int(ROUTER_OK, match(rt, "PATCH", "/v1/orgs/org_1/members/a%40b.c/role",
	    &m, allow, &d), "two params");
	is_string("a@b.c", m.values[1], "params are URL-decoded");
	is_int(ROUTER_ENOTFOUND, match(rt, "GET", "/api/v1/dags/x/y", &m, allow, &d),
	    "unknown daggle path");
	is_int(DIALECT_DAGGLE, d, "a near miss reports its dialect");
	is_int(0, router_url_decode(s), "decode");
	is_string("a/b@c", s, "decoded text");
	is_int(-1, router_url_decode(bad), "bad escape refused");
	is_int(-1, router_url_decode(nul), "encoded NUL refused");
	router_free(rt);
	return done_testing();
}
