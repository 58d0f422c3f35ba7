/* Method + path dispatch. Each resource file declares a static table of
 * routes; the tables are merged at start-up and a duplicate refuses to
 * start. Patterns are matched segment by segment, no regex per request. */
#ifndef DAGY_ROUTER_H
#define DAGY_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 8
#define ROUTER_MAX_SEGS 16

struct req;
typedef int (*route_fn)(struct req *r);

enum dialect { DIALECT_DAGY, DIALECT_DAGGLE, DIALECT_DAGCTL };

enum route_flags {
	/* The organization comes from the {org_id} path parameter. */
	ROUTE_ORG_FROM_PATH = 1 << 0,
	/* The handler takes a JSON body (otherwise any body is ignored). */
	ROUTE_BODY = 1 << 1,
	/* A login: failures are throttled per account (the body's "email")
	 * and client address, before the password is checked. */
	ROUTE_LOGIN = 1 << 2,
	/* A public route keyed by its {token} parameter (webhooks): rate
	 * limited per token rather than per client address. */
	ROUTE_LIMIT_TOKEN = 1 << 3,
	/* The handler reads the body itself from the FastCGI stream, so
	 * [api] max_body_bytes does not apply (artifact part uploads). */
	ROUTE_STREAM = 1 << 4,
	/* The body is raw bytes up to [ai] max_attachment_bytes (uploads). */
	ROUTE_UPLOAD = 1 << 5,
};

struct route {
	const char *method, *pattern;
	route_fn fn;
	int perm;        /* enum perm, or PERM_PUBLIC / PERM_AUTHENTICATED */
	unsigned flags;  /* enum route_flags */
	enum dialect dialect;
};

struct router_match {
	const struct route *route;
	unsigned nparams;
	const char *names[ROUTER_MAX_PARAMS];
	char *values[ROUTER_MAX_PARAMS];
};

enum router_result { ROUTER_OK = 0, ROUTER_ENOTFOUND = -1, ROUTER_EMETHOD = -2 };

struct router;

struct router *router_new(void);
void router_free(struct router *rt);
/* Adds n routes; -1 (and a log line) on a malformed or duplicate route. */
int router_add(struct router *rt, const struct route *routes, size_t n);
/* Matches method and path (path is modified: split and URL-decoded in
 * place; the values point into it). On ROUTER_EMETHOD, allow holds the
 * methods the path does take, comma-separated. When no route matches, the
 * dialect of the longest matching prefix is still reported in *dialect. */
int router_match(const struct router *rt, const char *method, char *path,
    struct router_match *m, char *allow, size_t allowlen, enum dialect *dialect);
/* Decodes %XX in place; returns -1 on a bad escape or an encoded NUL. */
int router_url_decode(char *s);

#endif
