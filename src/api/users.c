/* GET /v1/me and /v1/users/me: who the credentials belong to. */
#include "api.h"

static int me(struct req *r);
static int users_me(struct req *r);

const struct route users_routes[] = {
	{"GET", "/v1/me", me, PERM_AUTHENTICATED, 0, DIALECT_DAGY},
	{"GET", "/v1/users/me", users_me, PERM_AUTHENTICATED, 0, DIALECT_DAGY},
};
const size_t users_routes_n = sizeof(users_routes) / sizeof(users_routes[0]);

static int
me(struct req *r)
{
	return api_json(r, 200, json_pack("{s:s, s:o, s:o}",
	    "user_email", r->who.email,
	    "org_id", api_str_or_null(r->who.org_public_id),
	    "role", api_str_or_null(r->who.role)));
}

static int
users_me(struct req *r)
{
	return api_json(r, 200, json_pack("{s:s, s:b, s:o, s:o, s:o}",
	    "user_email", r->who.email,
	    "super_admin", r->who.super_admin,
	    "org_id", api_str_or_null(r->who.org_public_id),
	    "org_name", api_str_or_null(r->who.org_name),
	    "role", api_str_or_null(r->who.role)));
}
