/* dagy-api: the FastCGI responder. One request at a time per process
 * (spawn-fcgi runs N of them); every shared check — route, method, body
 * size and syntax, credentials, permission, rate limits, login throttling
 * — happens here, once, before the handler runs. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "config.h"
#include "dagy/config.h"
#include "dagy/exceptions.h"
#include "dagy/ids.h"
#include "dagy/log.h"
#include "dagy/stats.h"
#include "dagy/secrets.h"
#include "dagy/usage.h"

#define DEADLOCK_RETRIES 3
#define FLUSH_MAX 256 /* organizations' request counts written per flush */

static const struct {
	const struct route *routes;
	const size_t *n;
} api_routes[] = {
	{login_routes, &login_routes_n},
	{users_routes, &users_routes_n},
	{api_keys_routes, &api_keys_routes_n},
	{orgs_routes, &orgs_routes_n},
	{health_routes, &health_routes_n},
	{flows_routes, &flows_routes_n},
	{deployments_routes, &deployments_routes_n},
	{drafts_routes, &drafts_routes_n},
	{runs_routes, &runs_routes_n},
	{schedules_routes, &schedules_routes_n},
	{daggle_routes, &daggle_routes_n},
	{dagctl_routes, &dagctl_routes_n},
	{dagctl_control_routes, &dagctl_control_routes_n},
	{dagctl_team_routes, &dagctl_team_routes_n},
	{dagctl_env_routes, &dagctl_env_routes_n},
	{dagctl_protect_routes, &dagctl_protect_routes_n},
	{prometheus_routes, &prometheus_routes_n},
	{openapi_routes, &openapi_routes_n},
	{usage_routes, &usage_routes_n},
	{audit_routes, &audit_routes_n},
	{secrets_routes, &secrets_routes_n},
	{environments_routes, &environments_routes_n},
	{notifications_routes, &notifications_routes_n},
	{artifacts_routes, &artifacts_routes_n},
	{nodes_routes, &nodes_routes_n},
	{sensors_routes, &sensors_routes_n},
	{billing_routes, &billing_routes_n},
	{admin_routes, &admin_routes_n},
	{ui_routes, &ui_routes_n},
	{aistudio_routes, &aistudio_routes_n},
};
#define NTABLES (sizeof(api_routes) / sizeof(api_routes[0]))

unsigned
api_route_count(void)
{
	unsigned i, n = 0;

	for (i = 0; i < NTABLES; i++)
		n += (unsigned)*api_routes[i].n;
	return n;
}

const struct route *
api_route_at(unsigned k)
{
	unsigned i;

	for (i = 0; i < NTABLES; i++) {
		if (k < *api_routes[i].n)
			return &api_routes[i].routes[k];
		k -= (unsigned)*api_routes[i].n;
	}
	return NULL;
}

/* The index api_route_at gives route, or STATS_UNMATCHED. */
static unsigned
route_index(const struct route *rt)
{
	unsigned i, base = 0;

	for (i = 0; i < NTABLES; i++) {
		if (rt >= api_routes[i].routes && rt < api_routes[i].routes + *api_routes[i].n)
			return base + (unsigned)(rt - api_routes[i].routes);
		base += (unsigned)*api_routes[i].n;
	}
	return STATS_UNMATCHED;
}

/* FNV-1a over every method and pattern: a mapping written by a binary
 * with other routes is reset, not misread. */
static uint64_t
routes_layout(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned i, n = api_route_count();
	const unsigned char *p;

	for (i = 0; i < n; i++) {
		const struct route *rt = api_route_at(i);

		for (p = (const unsigned char *)rt->method; *p; p++)
			h = (h ^ *p) * 0x100000001b3ULL;
		for (p = (const unsigned char *)rt->pattern; *p; p++)
			h = (h ^ *p) * 0x100000001b3ULL;
		h = (h ^ '\n') * 0x100000001b3ULL;
	}
	return h;
}

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

/* Reads the body; answers 413 itself when it is over the limit. */
static int
read_body(struct req *r)
{
	const char *cl = req_env(r, "CONTENT_LENGTH");
	long long len = cl != NULL ? strtoll(cl, NULL, 10) : 0;
	long long max = r->match.route->flags & ROUTE_UPLOAD ?
	    config_int(r->srv->cfg, "ai", "max_attachment_bytes") : r->srv->max_body;
	size_t got = 0;

	if (len < 0)
		len = 0;
	if (len > max) {
		api_error(r, API_E_PAYLOAD_TOO_LARGE, NULL,
		    "request body of %lld bytes is over the limit of %lld bytes",
		    len, max);
		return -1;
	}
	r->body = arena_alloc(&r->arena, (size_t)len + 1);
	while (got < (size_t)len) {
		int n = FCGX_GetStr(r->body + got, (int)((size_t)len - got), r->fcgi->in);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	r->body[got] = '\0';
	r->body_len = got;
	return 0;
}

static int
is_json_type(const char *ct)
{
	if (ct == NULL || *ct == '\0')
		return 1;
	return strncasecmp(ct, "application/json", 16) == 0 ||
	    strstr(ct, "+json") != NULL;
}

/* Parses the body of a ROUTE_BODY route into r->body_json. */
static int
parse_body(struct req *r)
{
	const char *ct = req_env(r, "CONTENT_TYPE");
	json_error_t err;

	if (r->body_len == 0) {
		r->body_json = json_object();
		return 0;
	}
	r->body_json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
	if (r->body_json == NULL) {
		/* curl -d sends form encoding by default: accept it when the bytes
		 * are JSON, refuse other media types outright. */
		if (!is_json_type(ct) &&
		    strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
			return api_error(r, API_E_UNSUPPORTED_MEDIA_TYPE, NULL,
			    "Content-Type must be application/json, not %s", ct), -1;
		return api_error(r, API_E_VALIDATION,
		    json_pack("{s:s, s:i, s:i}", "body", err.text, "line", err.line,
		    "column", err.column),
		    "malformed JSON at line %d, column %d: %s", err.line, err.column,
		    err.text), -1;
	}
	if (!is_json_type(ct) &&
	    strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
		return api_error(r, API_E_UNSUPPORTED_MEDIA_TYPE, NULL,
		    "Content-Type must be application/json, not %s", ct), -1;
	if (!json_is_object(r->body_json))
		return api_error(r, API_E_VALIDATION,
		    json_pack("{s:s}", "body", "must be a JSON object"),
		    "request body must be a JSON object"), -1;
	return 0;
}

static const char *
bearer(struct req *r)
{
	const char *h = req_env(r, "HTTP_AUTHORIZATION");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

static void
unavailable(struct req *r)
{
	api_header(r, "Retry-After: %d", r->srv->retry_after);
	api_error(r, API_E_SERVICE_UNAVAILABLE, NULL,
	    "the database is unavailable; retry shortly");
}

/* Every argon2 slot of the host stayed taken ([limits] argon2_concurrency). */
static void
busy(struct req *r)
{
	api_header(r, "Retry-After: 1");
	api_error(r, API_E_SERVICE_UNAVAILABLE, NULL,
	    "too many credential checks at once; retry shortly");
}

/* Answers 500 and records the error as a trace (exceptions.h) with a
 * request id the client is shown and the context that led to it. */
static void
internal_error(struct req *r, int rc, const char *where)
{
	char rid[40];
	const struct route *rt = r->match.route;

	ids_new("req", rid, sizeof(rid));
	exceptions_record(r->srv->cfg, "dagy-api", rid, "internal error",
	    json_pack("[{s:s, s:s, s:s?}, {s:s?, s:s?, s:I}, {s:s, s:i, s:s?}]",
	    "method", r->method, "path", r->path, "route", rt != NULL ? rt->pattern : NULL,
	    "org_id", r->who.org_public_id, "actor", r->who.email,
	    "credential_id", (json_int_t)r->who.cred_id,
	    "where", where, "rc", rc, "db_error", rc == DB_ERR ? db_errmsg(r->db) : NULL),
	    NULL);
	log_err("internal error %s on %s %s (%s, rc %d)", rid, r->method, r->path, where, rc);
	api_header(r, "X-Request-Id: %s", rid);
	api_error(r, API_E_INTERNAL, json_pack("{s:s}", "request_id", rid),
	    "internal error (request %s)", rid);
}

int
api_optional_auth(struct req *r)
{
	const char *tok = bearer(r), *org;
	int rc;

	if (tok == NULL)
		return 1;
	if ((org = req_env(r, "HTTP_X_ORGANIZATION_ID")) == NULL || *org == '\0')
		org = req_env(r, "HTTP_X_ORG_ID");
	if (org != NULL && *org == '\0')
		org = NULL;
	rc = auth_authenticate(r->db, r->srv->cfg, &r->arena, tok, org, &r->who);
	r->who.ip = req_env(r, "REMOTE_ADDR");
	r->who.user_agent = req_env(r, "HTTP_USER_AGENT");
	if (rc == AUTH_EBUSY)
		return busy(r), 2;
	if (rc == AUTH_EUNAUTH || rc == AUTH_ENOT_MEMBER) {
		memset(&r->who, 0, sizeof(r->who));
		return 1;
	}
	return rc;
}

/* Authenticates and authorises; answers the request itself on failure. */
static int
check_access(struct req *r)
{
	const struct route *rt = r->match.route;
	const char *org, *tok;
	int rc;

	if (rt->perm == PERM_PUBLIC)
		return 0;
	if ((tok = bearer(r)) == NULL) {
		api_header(r, "WWW-Authenticate: Bearer");
		return api_error(r, API_E_UNAUTHORIZED, NULL,
		    "missing Authorization: Bearer credentials"), -1;
	}
	if (rt->flags & ROUTE_ORG_FROM_PATH)
		org = req_param(r, "org_id");
	else if ((org = req_env(r, "HTTP_X_ORGANIZATION_ID")) == NULL || *org == '\0') {
		/* An impersonation token names its org; the spec's header may too. */
		if ((org = req_env(r, "HTTP_X_ORG_ID")) == NULL || *org == '\0')
			org = req_env(r, "HTTP_X_IMPERSONATE_ORG");
	}
	if (org != NULL && *org == '\0')
		org = NULL;
	rc = auth_authenticate(r->db, r->srv->cfg, &r->arena, tok, org, &r->who);
	r->who.ip = req_env(r, "REMOTE_ADDR");
	r->who.user_agent = req_env(r, "HTTP_USER_AGENT");
	switch (rc) {
	case 0:
		break;
	case AUTH_EUNAUTH:
		api_header(r, "WWW-Authenticate: Bearer error=\"invalid_token\"");
		return api_error(r, API_E_UNAUTHORIZED, NULL,
		    "invalid, expired or revoked credentials"), -1;
	case AUTH_ENOT_MEMBER:
		if (rt->flags & ROUTE_ORG_FROM_PATH)
			return api_error(r, API_E_NOT_FOUND, NULL,
			    "organization '%s' not found", org), -1;
		return api_error(r, API_E_FORBIDDEN, NULL,
		    "these credentials give no access to organization '%s'", org), -1;
	case DB_EUNAVAIL:
	case DB_EDEADLOCK:
		return unavailable(r), -1;
	case AUTH_EBUSY:
		return busy(r), -1;
	default:
		return internal_error(r, rc, "authentication"), -1;
	}
	if (rt->perm == PERM_AUTHENTICATED)
		return 0;
	if (rt->perm == PERM_SUPER_ADMIN) {
		if (!r->who.super_admin)
			return api_error(r, API_E_FORBIDDEN, NULL,
			    "Super admin access required"), -1;
		return 0;
	}
	if (r->who.org_id == 0)
		return api_error(r, API_E_FORBIDDEN, NULL,
		    "you belong to no organization; create one with POST /v1/orgs"), -1;
	if (!(r->who.perms & PERM_BIT(rt->perm)))
		return api_error(r, API_E_FORBIDDEN,
		    json_pack("{s:s}", "permission", auth_perm_name((enum perm)rt->perm)),
		    "permission '%s' is required", auth_perm_name((enum perm)rt->perm)), -1;
	return 0;
}

/* A suspended organization keeps its reads: its writes and runs are
 * refused here, once, from the status loaded with the credential (a
 * suspension reloads every cached credential of the org). Super admin,
 * public and credential-only routes (logout) are exempt. After a failed
 * payment's grace period only new runs are refused. */
static int
suspend_gate(struct req *r)
{
	const struct route *rt = r->match.route;

	if (r->who.org_id == 0 || rt->perm >= PERM_PUBLIC)
		return 0;
	return api_org_gate(r, strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0,
	    rt->perm == PERM_RUNS_TRIGGER);
}

/* Moves this host's API request counts into usage_hourly when the flush
 * is due; counts that cannot be written wait for the next one. */
static void
flush_usage(struct req *r)
{
	int64_t orgs[FLUSH_MAX];
	uint64_t counts[FLUSH_MAX];
	int n = limits_flush_take(r->srv->flush_every, orgs, counts, FLUSH_MAX), i;

	for (i = 0; i < n; i++)
		if (usage_add_api_calls(r->db, orgs[i], (int64_t)counts[i]) < 0)
			limits_flush_return(orgs[i], counts[i]);
}

/* The rate limit decision, made once per request and before the handler:
 * an authenticated request takes from its credential's bucket and its
 * organization's (the headers show the tighter), a webhook route from its
 * token's, anything else from its client address's. Requests answered
 * before that point (404, 401, 403, 413, …) are decided as they are
 * written, against their credential if it was verified, else their
 * address. Answers 429 itself, except over an answer that already says
 * when to retry (a 503 or a 429). */
static int
rate_gate(struct req *r)
{
	struct server *srv = r->srv;
	const char *addr, *scope;
	struct limits_verdict org;

	r->limited = 1;
	if (r->who.kind != CRED_NONE) {
		const struct usage_plan *p = api_plan(r);
		int key = r->who.kind == CRED_API_KEY;

		scope = key ? "API key" : "session";
		limits_take(limits_key(key ? LIMITS_API_KEY : LIMITS_TOKEN, r->who.cred_id,
		    NULL), p->key_requests, srv->window, &r->rate);
		if (r->rate.allowed && r->who.org_id != 0) {
			limits_take(limits_key(LIMITS_ORG, r->who.org_id, NULL), p->org_requests,
			    srv->window, &org);
			if (!org.allowed || (org.limit > 0 &&
			    (r->rate.limit == 0 || org.remaining < r->rate.remaining))) {
				r->rate = org;
				scope = "organization";
			}
		}
	} else if (r->match.route != NULL && (r->match.route->flags & ROUTE_LIMIT_TOKEN)) {
		scope = "token";
		limits_take(limits_key(LIMITS_WEBHOOK, 0, req_param(r, "token")),
		    srv->webhook_requests, srv->window, &r->rate);
	} else {
		scope = "client address";
		addr = req_env(r, "REMOTE_ADDR");
		limits_take(limits_key(LIMITS_ADDRESS, 0, addr != NULL ? addr : ""),
		    srv->address_requests, srv->window, &r->rate);
	}
	if (r->rate.allowed) {
		flush_usage(r);
		limits_count_request(r->who.org_id);
		return 0;
	}
	if (r->responded && (r->status == 503 || r->status == 429))
		return -1;
	api_header(r, "Retry-After: %lld", r->rate.retry_after);
	api_error(r, API_E_RATE_LIMITED, json_pack("{s:s, s:I, s:I, s:I}", "scope", scope,
	    "limit", (json_int_t)r->rate.limit, "window_seconds", (json_int_t)srv->window,
	    "retry_after_seconds", (json_int_t)r->rate.retry_after),
	    "rate limit of %lld requests per %lld s for this %s reached; retry in %lld s",
	    r->rate.limit, srv->window, scope, r->rate.retry_after);
	return -1;
}

/* The login throttle's keys: the body's email, lowercased, and the client
 * address. 0 when the body names no email (the handler answers 400). */
static int
login_keys(struct req *r, uint64_t *account, uint64_t *address)
{
	const char *email = json_string_value(json_object_get(r->body_json, "email"));
	const char *addr = req_env(r, "REMOTE_ADDR");
	char *low;
	size_t i;

	if (email == NULL || strlen(email) > 254)
		return 0;
	low = arena_strdup(&r->arena, email);
	for (i = 0; low[i] != '\0'; i++)
		if (low[i] >= 'A' && low[i] <= 'Z')
			low[i] = (char)(low[i] - 'A' + 'a');
	*account = limits_key(LIMITS_LOGIN_ACCOUNT, 0, low);
	*address = limits_key(LIMITS_LOGIN_ADDRESS, 0, addr != NULL ? addr : "");
	return 1;
}

/* Refuses a login before its password is checked while its account or
 * address must wait; answers 429 itself. */
static int
login_gate(struct req *r)
{
	uint64_t account, address;
	long long wait, w2;

	if (!(r->match.route->flags & ROUTE_LOGIN) || !login_keys(r, &account, &address))
		return 0;
	wait = limits_login_wait(account, &r->srv->login_account);
	w2 = limits_login_wait(address, &r->srv->login_address);
	if (w2 > wait)
		wait = w2;
	if (wait <= 0)
		return 0;
	api_header(r, "Retry-After: %lld", wait);
	api_error(r, API_E_RATE_LIMITED, json_pack("{s:s, s:I}", "scope", "login",
	    "retry_after_seconds", (json_int_t)wait),
	    "too many failed logins for this account or address; retry in %lld s", wait);
	return -1;
}

/* Records the outcome of a login that was checked. */
static void
login_done(struct req *r)
{
	uint64_t account, address;

	if (!(r->match.route->flags & ROUTE_LOGIN) || !login_keys(r, &account, &address))
		return;
	if (r->status == 401) {
		limits_login_failed(account, &r->srv->login_account);
		limits_login_failed(address, &r->srv->login_address);
	} else if (r->status == 200) {
		limits_login_reset(account);
	}
}

static void
call_handler(struct req *r)
{
	int attempt, rc = 0;

	for (attempt = 0; attempt < DEADLOCK_RETRIES; attempt++) {
		rc = r->match.route->fn(r);
		/* A stream already sent its head: nothing can be taken back. */
		if (rc >= 0 || r->streamed)
			return;
		db_rollback(r->db);
		json_decref(r->resp);
		r->resp = NULL;
		r->responded = 0;
		if (rc != DB_EDEADLOCK)
			break;
	}
	/* Still deadlocked after the retries: contention, or a Galera node
	 * outside the primary component, which answers prepared statements
	 * with lock wait timeouts. Either way later may work: 503. */
	if (rc == DB_EUNAVAIL || rc == DB_EDEADLOCK)
		unavailable(r);
	else
		internal_error(r, rc, rc == DB_EDEADLOCK ? "transaction (deadlock retries exhausted)" :
		    "handler");
}

/* Appends s to p; returns the new end. */
static char *
put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* Appends the decimal v (not negative) to p; returns the new end. */
static char *
put_num(char *p, long long v)
{
	char digits[24];
	int n = 0;

	if (v < 0)
		v = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

/* The head is assembled without printf (libfcgi's lacks %zu and friends,
 * and this runs for every request); handlers' extra headers follow the
 * fixed ones and the rate limit lines. */
static void
write_response(struct req *r)
{
	char head[320], tail[96], *p = head, *text = NULL;
	const char *body = NULL;
	size_t len = 0;

	if (r->streamed)
		return;
	if (!r->responded)
		internal_error(r, 0, "handler gave no response");
	if (r->text != NULL) {
		body = r->text;
		len = r->text_len;
	} else if (r->resp != NULL) {
		body = text = json_dumps(r->resp,
		    JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
		len = strlen(text);
	}
	p = put_str(p, "Status: ");
	p = put_num(p, r->status);
	p = put_str(p, " ");
	p = put_str(p, errors_reason(r->status));
	p = put_str(p, "\r\nCache-Control: no-store\r\n");
	if (r->rate.limit > 0) {
		p = put_num(put_str(p, "X-RateLimit-Limit: "), r->rate.limit);
		p = put_num(put_str(p, "\r\nX-RateLimit-Remaining: "), r->rate.remaining);
		p = put_num(put_str(p, "\r\nX-RateLimit-Reset: "), r->rate.reset);
		p = put_str(p, "\r\n");
	}
	*p = '\0';
	FCGX_PutS(head, r->fcgi->out);
	if (r->headers != NULL)
		FCGX_PutS(r->headers, r->fcgi->out);
	if (r->text != NULL) {
		/* A type of any length (api_text), so not through tail. */
		FCGX_PutS("Content-Type: ", r->fcgi->out);
		FCGX_PutS(r->text_type, r->fcgi->out);
		p = put_str(tail, "\r\n");
	} else {
		p = put_str(tail, text != NULL ? "Content-Type: application/json\r\n" : "");
	}
	p = put_num(put_str(p, "Content-Length: "), (long long)len);
	p = put_str(p, "\r\n\r\n");
	*p = '\0';
	FCGX_PutS(tail, r->fcgi->out);
	if (body != NULL)
		FCGX_PutStr(body, (int)len, r->fcgi->out);
	free(text);
}

/* Counts the request (stats.h) once its response is written. */
static void
count_request(struct req *r, const struct timespec *t0)
{
	struct timespec t1;
	uint64_t errors, reconnects;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	stats_request(r->match.route != NULL ? route_index(r->match.route) : STATS_UNMATCHED,
	    r->status, (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9);
	db_counters(r->db, &errors, &reconnects);
	stats_db(errors, reconnects);
}

static void
handle(struct server *srv, FCGX_Request *fr, struct arena *arena)
{
	struct req r;
	const char *uri, *q;
	char allow[128];
	struct timespec t0;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&r, 0, sizeof(r));
	r.srv = srv;
	r.db = srv->db;
	r.fcgi = fr;
	r.arena = *arena;
	r.method = req_env(&r, "REQUEST_METHOD");
	if (r.method == NULL)
		r.method = "GET";
	if ((uri = req_env(&r, "REQUEST_URI")) == NULL)
		uri = req_env(&r, "SCRIPT_NAME");
	if (uri == NULL)
		uri = "/";
	if ((q = strchr(uri, '?')) != NULL) {
		r.path = arena_strndup(&r.arena, uri, (size_t)(q - uri));
		r.query = q + 1;
	} else {
		r.path = arena_strdup(&r.arena, uri);
	}

	rc = router_match(srv->rt, r.method, arena_strdup(&r.arena, r.path),
	    &r.match, allow, sizeof(allow), &r.dialect);
	if (rc == ROUTER_ENOTFOUND) {
		api_error(&r, API_E_NOT_FOUND, NULL, "no such endpoint: %s %s",
		    r.method, r.path);
	} else if (rc == ROUTER_EMETHOD) {
		api_header(&r, "Allow: %s", allow);
		api_error(&r, API_E_METHOD_NOT_ALLOWED, NULL,
		    "%s is not allowed on %s; allowed: %s", r.method, r.path, allow);
	} else if (req_check_params(&r) == 0 &&
	    ((r.match.route->flags & ROUTE_STREAM) || read_body(&r) == 0) &&
	    (!(r.match.route->flags & ROUTE_BODY) || parse_body(&r) == 0) &&
	    check_access(&r) == 0 && suspend_gate(&r) == 0 && rate_gate(&r) == 0 &&
	    login_gate(&r) == 0) {
		call_handler(&r);
		login_done(&r);
	}
	if (!r.limited)
		rate_gate(&r);
	write_response(&r);
	count_request(&r, &t0);
	json_decref(r.resp);
	json_decref(r.body_json);
	*arena = r.arena;
	arena_reset(arena);
}

/* With [api] processes = N > 1 (systemd runs spawn-fcgi -n, which starts
 * one process), this process forks N responders sharing the listening
 * socket, restarts any that die and passes SIGTERM on. Returns 0 in the
 * supervisor when all children have exited, 1 in a child. */
static int
supervise(int n)
{
	pid_t *kids = calloc((size_t)n, sizeof(*kids));
	time_t last_spawn = 0;
	int i, alive = 0, st;

	for (;;) {
		for (i = 0; i < n && !stopping; i++) {
			pid_t pid;

			if (kids[i] > 0)
				continue;
			/* A responder that dies at once should not spin the CPU. */
			if (time(NULL) == last_spawn && alive == n - 1)
				sleep(1);
			last_spawn = time(NULL);
			if ((pid = fork()) == 0) {
				free(kids);
				return 1;
			}
			if (pid > 0) {
				kids[i] = pid;
				alive++;
			}
		}
		if (alive == 0)
			break;
		{
			pid_t pid = wait(&st);

			if (pid < 0) {
				if (stopping)
					for (i = 0; i < n; i++)
						if (kids[i] > 0)
							kill(kids[i], SIGTERM);
				continue;
			}
			for (i = 0; i < n; i++)
				if (kids[i] == pid) {
					kids[i] = 0;
					alive--;
					if (!stopping)
						log_warn("responder %d exited (status %d); restarting",
						    (int)pid, st);
				}
		}
	}
	free(kids);
	return 0;
}

static void
read_limits(struct server *srv)
{
	const struct config *c = srv->cfg;
	unsigned i;

	srv->window = config_int(c, "limits", "window_seconds");
	srv->address_requests = config_int(c, "limits", "address_requests");
	srv->webhook_requests = config_int(c, "limits", "webhook_requests");
	srv->flush_every = config_int(c, "limits", "usage_flush_seconds");
	srv->login_account.soft = config_int(c, "limits", "login_slow_after");
	srv->login_account.slow_seconds = config_int(c, "limits", "login_slow_seconds");
	srv->login_account.hard = config_int(c, "limits", "login_failures");
	srv->login_account.lockout = config_int(c, "limits", "login_lockout_seconds");
	srv->login_address = srv->login_account;
	srv->login_address.soft = 0;
	srv->login_address.hard = config_int(c, "limits", "login_address_failures");
	for (i = 0; i < USAGE_NPLANS; i++)
		usage_plan(c, usage_plans[i], &srv->plans[i]);
	usage_plan(c, "", &srv->plans[USAGE_NPLANS]);
}

static int
build_router(struct server *srv)
{
	size_t i;

	if ((srv->rt = router_new()) == NULL)
		return -1;
	for (i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++)
		if (router_add(srv->rt, api_routes[i].routes, *api_routes[i].n) < 0)
			return -1;
	return 0;
}

/* dagy-api --routes: every merged route a line, "METHOD PATTERN
 * PERMISSION DIALECT", for the test that holds the OpenAPI document to
 * the route tables. */
static int
print_routes(void)
{
	static const char *const dialects[] = {"dagy", "daggle", "dagctl"};
	unsigned i, n = api_route_count();

	for (i = 0; i < n; i++) {
		const struct route *rt = api_route_at(i);
		const char *perm = rt->perm == PERM_PUBLIC ? "public" :
		    rt->perm == PERM_AUTHENTICATED ? "authenticated" :
		    rt->perm == PERM_SUPER_ADMIN ? "super_admin" : auth_perm_name((enum perm)rt->perm);

		printf("%s %s %s %s%s\n", rt->method, rt->pattern, perm, dialects[rt->dialect],
		    rt->flags & ROUTE_BODY ? " body" : "");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct server srv;
	struct arena arena = {0};
	struct sigaction sa;
	FCGX_Request fr;
	char err[512];
	int rc = 1;

	if (argc == 2 && strcmp(argv[1], "--routes") == 0)
		return print_routes();
	if (argc == 2 && strcmp(argv[1], "--version") == 0)
		return printf("dagy-api %s\n", PACKAGE_VERSION), 0;
	memset(&srv, 0, sizeof(srv));
	log_init("dagy-api", LOG_LVL_INFO);
	if (config_load(&srv.cfg, NULL, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	if (strcmp(config_str(srv.cfg, "log", "level"), "debug") == 0)
		log_init("dagy-api", LOG_LVL_DEBUG);
	if (log_to_file(config_str(srv.cfg, "log", "file")) < 0) {
		log_syserr("cannot open log file %s", config_str(srv.cfg, "log", "file"));
		goto done;
	}
	srv.max_body = config_int(srv.cfg, "api", "max_body_bytes");
	srv.started = time(NULL);
	srv.retry_after = (int)config_int(srv.cfg, "api", "retry_after_seconds");
	read_limits(&srv);
	if (build_router(&srv) < 0 || limits_open(srv.cfg) < 0)
		goto done;
	/* Before the fork: without a state file the responders share the
	 * anonymous mapping made here. */
	if (stats_open(config_str(srv.cfg, "metrics", "state_file"), api_route_count(),
	    routes_layout()) < 0)
		log_warn("no shared memory for request metrics");
	/* A missing or wrong key file stops us here, not at the first secret. */
	snprintf(err, sizeof(err), "out of memory");
	if (db_open(&srv.db, srv.cfg) < 0 ||
	    secrets_keyring_open(&srv.keys, srv.cfg, srv.db, err, sizeof(err)) < 0) {
		log_err("refusing to start: %s", err);
		goto done;
	}
	db_close(srv.db);
	srv.db = NULL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("FastCGI initialisation failed");
		goto done;
	}
	if (config_int(srv.cfg, "api", "processes") > 1 &&
	    supervise((int)config_int(srv.cfg, "api", "processes")) == 0) {
		/* The supervisor's children have all exited. */
		FCGX_Free(&fr, 1);
		rc = 0;
		goto done;
	}
	/* Each responder has a connection of its own, opened after the fork. */
	if (db_open(&srv.db, srv.cfg) < 0)
		goto done;
	if (stats_attach() < 0)
		log_warn("every request-metrics block is taken; this responder is not counted");
	while (!stopping && FCGX_Accept_r(&fr) >= 0) {
		handle(&srv, &fr, &arena);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	rc = 0;
done:
	arena_free(&arena);
	limits_close();
	db_close(srv.db);
	router_free(srv.rt);
	stats_close();
	secrets_keyring_free(srv.keys);
	config_free(srv.cfg);
	return rc;
}
