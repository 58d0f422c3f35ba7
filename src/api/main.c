/* dagy-api: the FastCGI responder. One request at a time per process
 * (spawn-fcgi runs N of them); every shared check — route, method, body
 * size and syntax, credentials, permission — happens here, once, before
 * the handler runs. */
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
#include "dagy/log.h"
#include "dagy/stats.h"
#include "dagy/secrets.h"

#define DEADLOCK_RETRIES 3

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
	{prometheus_routes, &prometheus_routes_n},
	{openapi_routes, &openapi_routes_n},
	{secrets_routes, &secrets_routes_n},
	{environments_routes, &environments_routes_n},
	{notifications_routes, &notifications_routes_n},
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
	size_t got = 0;

	if (len < 0)
		len = 0;
	if (len > r->srv->max_body) {
		api_error(r, API_E_PAYLOAD_TOO_LARGE, NULL,
		    "request body of %lld bytes is over the limit of %lld bytes",
		    len, r->srv->max_body);
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
	else if ((org = req_env(r, "HTTP_X_ORGANIZATION_ID")) == NULL || *org == '\0')
		org = req_env(r, "HTTP_X_ORG_ID");
	if (org != NULL && *org == '\0')
		org = NULL;
	rc = auth_authenticate(r->db, r->srv->cfg, &r->arena, tok, org, &r->who);
	r->who.ip = req_env(r, "REMOTE_ADDR");
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
		return unavailable(r), -1;
	default:
		return api_error(r, API_E_INTERNAL, NULL, "internal error"), -1;
	}
	if (rt->perm == PERM_AUTHENTICATED)
		return 0;
	if (rt->perm == PERM_SUPER_ADMIN) {
		if (!r->who.super_admin)
			return api_error(r, API_E_FORBIDDEN, NULL,
			    "this needs a super admin"), -1;
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

static void
call_handler(struct req *r)
{
	int attempt, rc = 0;

	for (attempt = 0; attempt < DEADLOCK_RETRIES; attempt++) {
		rc = r->match.route->fn(r);
		if (rc >= 0)
			return;
		db_rollback(r->db);
		json_decref(r->resp);
		r->resp = NULL;
		r->responded = 0;
		if (rc != DB_EDEADLOCK)
			break;
	}
	if (rc == DB_EUNAVAIL)
		unavailable(r);
	else
		api_error(r, API_E_INTERNAL, NULL, "internal error");
}

/* libfcgi's own printf lacks %zu and friends: headers are formatted
 * with the arena's printf and written as plain strings. */
static void
write_response(struct req *r)
{
	char *text = NULL, *head;
	size_t len = 0;

	if (!r->responded)
		api_error(r, API_E_INTERNAL, NULL, "internal error: no response");
	if (r->text != NULL) {
		head = arena_printf(&r->arena, "Status: %d %s\r\nCache-Control: no-store\r\n"
		    "%sContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", r->status,
		    errors_reason(r->status), r->headers != NULL ? r->headers : "",
		    r->text_type, r->text_len);
		FCGX_PutS(head, r->fcgi->out);
		FCGX_PutStr(r->text, (int)r->text_len, r->fcgi->out);
		return;
	}
	if (r->resp != NULL) {
		text = json_dumps(r->resp, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
		len = strlen(text);
	}
	head = arena_printf(&r->arena,
	    "Status: %d %s\r\nCache-Control: no-store\r\n%s%s%zu\r\n\r\n",
	    r->status, errors_reason(r->status), r->headers != NULL ? r->headers : "",
	    text != NULL ? "Content-Type: application/json\r\nContent-Length: " :
	    "Content-Length: ", len);
	FCGX_PutS(head, r->fcgi->out);
	if (text != NULL)
		FCGX_PutStr(text, (int)len, r->fcgi->out);
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
	} else if (req_check_params(&r) == 0 && read_body(&r) == 0 &&
	    (!(r.match.route->flags & ROUTE_BODY) || parse_body(&r) == 0) &&
	    check_access(&r) == 0) {
		call_handler(&r);
	}
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
	if (build_router(&srv) < 0)
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
	db_close(srv.db);
	router_free(srv.rt);
	stats_close();
	secrets_keyring_free(srv.keys);
	config_free(srv.cfg);
	return rc;
}
