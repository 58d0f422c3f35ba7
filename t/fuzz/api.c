/* dagy-api's request path without FastCGI or credentials. main.c is
 * compiled in so that its own static steps (routing, query check, body
 * read and parse, the handler call with its deadlock retries, the response
 * writer) are the ones fuzzed; only check_access is left out, for a
 * principal holding every permission, since credentials live in the
 * database, and with it the rate limit and login gates that follow it. The database socket does not exist: each handler validates
 * its input and then meets DB_EUNAVAIL, which must end in a 503. */
#define main dagy_api_main
#include "../../src/api/main.c"
#undef main

#include "api.h"
#include "fuzz.h"

struct server *
fuzz_api_server(void)
{
	static struct server srv;
	static int ready;

	if (ready)
		return &srv;
	srv.cfg = (struct config *)fuzz_config();
	srv.max_body = config_int(srv.cfg, "api", "max_body_bytes");
	srv.retry_after = 5;
	srv.started = time(NULL);
	if (build_router(&srv) < 0 || db_open(&srv.db, srv.cfg) < 0)
		abort();
	ready = 1;
	return &srv;
}

/* The body stream ends when its one buffer is read. */
static void
in_fill(FCGX_Stream *s)
{
	s->isClosed = 1;
}

/* The response is thrown away a buffer at a time. */
static void
out_empty(FCGX_Stream *s, int close)
{
	(void)close;
	s->wrNext = s->stopUnget;
}

int
fuzz_api_request(const char *method, const char *uri, const uint8_t *body,
    size_t len)
{
	static struct arena arena;
	static unsigned char outbuf[4096];
	struct server *srv = fuzz_api_server();
	char e_method[64], e_uri[8300], e_len[32];
	char *envp[] = {e_method, e_uri, e_len, "CONTENT_TYPE=application/json",
		"REMOTE_ADDR=127.0.0.1", "HTTP_AUTHORIZATION=Bearer fuzz", NULL};
	unsigned char *in = malloc(len > 0 ? len : 1);
	FCGX_Stream sin, sout;
	FCGX_Request fr;
	struct req r;
	const char *q;
	char allow[128];
	int rc, status;

	if (in == NULL)
		abort();
	memcpy(in, body, len);
	snprintf(e_method, sizeof(e_method), "REQUEST_METHOD=%s", method);
	snprintf(e_uri, sizeof(e_uri), "REQUEST_URI=%s", uri);
	snprintf(e_len, sizeof(e_len), "CONTENT_LENGTH=%zu", len);
	memset(&sin, 0, sizeof(sin));
	sin.rdNext = sin.stopUnget = in;
	sin.stop = in + len;
	sin.isReader = 1;
	sin.fillBuffProc = in_fill;
	memset(&sout, 0, sizeof(sout));
	sout.wrNext = sout.stopUnget = outbuf;
	sout.stop = outbuf + sizeof(outbuf);
	sout.emptyBuffProc = out_empty;
	memset(&fr, 0, sizeof(fr));
	fr.in = &sin;
	fr.out = &sout;
	fr.envp = envp;

	/* handle() up to check_access, which is replaced by the principal. */
	memset(&r, 0, sizeof(r));
	r.srv = srv;
	r.db = srv->db;
	r.fcgi = &fr;
	r.arena = arena;
	r.method = req_env(&r, "REQUEST_METHOD");
	uri = req_env(&r, "REQUEST_URI");
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
	    (!(r.match.route->flags & ROUTE_BODY) || parse_body(&r) == 0)) {
		r.who.kind = CRED_API_KEY;
		r.who.cred_id = 1;
		r.who.user_id = 1;
		r.who.email = "fuzz@example.com";
		r.who.super_admin = 1;
		r.who.org_id = 1;
		r.who.org_public_id = "org_fuzz";
		r.who.org_name = "fuzz";
		r.who.role = "owner";
		r.who.perms = ~(uint64_t)0;
		r.who.ip = "127.0.0.1";
		call_handler(&r);
	}
	write_response(&r);
	status = r.status;
	json_decref(r.resp);
	json_decref(r.body_json);
	arena = r.arena;
	arena_reset(&arena);
	free(in);
	/* Without a database a handler answers 4xx from its checks or 503;
	 * a 500 is a bug. */
	if (status == 500)
		abort();
	return status;
}
