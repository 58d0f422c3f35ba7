/* Request accessors and response writers over libfcgi. Errors take the
 * shape of the route's dialect: Dagy {"error","message","details"},
 * daggle and dagctl {"error": text}. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/page.h"
#include "dagy/ts.h"

const char *
req_param(struct req *r, const char *name)
{
	unsigned i;

	for (i = 0; i < r->match.nparams; i++)
		if (strcmp(r->match.names[i], name) == 0)
			return r->match.values[i];
	return NULL;
}

/* Form-decodes s in place ('+' is a space); -1 on a bad %-escape or an
 * encoded NUL. */
static int
form_decode(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p == '+')
			*p = ' ';
	return router_url_decode(s);
}

/* jansson refuses text that is not UTF-8 (overlong forms and surrogates
 * too); every parameter ends up in JSON sooner or later. */
static int
utf8_ok(const char *s)
{
	json_t *v = json_string(s);

	json_decref(v);
	return v != NULL;
}

/* The field a query error names: the parameter (already decoded and
 * UTF-8) when it is short enough to repeat, else "query". */
static const char *
qfield(const char *name)
{
	return strlen(name) <= 64 ? name : "query";
}

int
req_check_params(struct req *r)
{
	char *q, *save = NULL, *pair;
	unsigned i;

	for (i = 0; i < r->match.nparams; i++)
		if (!utf8_ok(r->match.values[i]))
			return api_invalid(r, r->match.names[i], "is not valid UTF-8"), -1;
	if (r->query == NULL || *r->query == '\0')
		return 0;
	q = arena_strdup(&r->arena, r->query);
	for (pair = strtok_r(q, "&", &save); pair != NULL;
	    pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');

		if (eq != NULL)
			*eq++ = '\0';
		else
			eq = pair + strlen(pair);
		if (form_decode(pair) < 0)
			return api_invalid(r, "query",
			    "has a parameter name with a bad %%-escape"), -1;
		if (*pair == '\0')
			return api_invalid(r, "query", "has a parameter without a name"), -1;
		if (!utf8_ok(pair))
			return api_invalid(r, "query",
			    "has a parameter name that is not valid UTF-8"), -1;
		if (form_decode(eq) < 0)
			return api_invalid(r, qfield(pair),
			    "has a bad %%-escape (%%XX with two hex digits, not %%00)"), -1;
		if (!utf8_ok(eq))
			return api_invalid(r, qfield(pair), "is not valid UTF-8"), -1;
		for (i = 0; i < r->nq; i++)
			if (strcmp(r->qnames[i], pair) == 0)
				return api_invalid(r, qfield(pair),
				    "is given more than once"), -1;
		if (r->nq == sizeof(r->qnames) / sizeof(r->qnames[0]))
			return api_invalid(r, "query", "has more than %zu parameters",
			    sizeof(r->qnames) / sizeof(r->qnames[0])), -1;
		r->qnames[r->nq] = pair;
		r->qvalues[r->nq] = eq;
		r->nq++;
	}
	return 0;
}

const char *
req_query(struct req *r, const char *name)
{
	unsigned i;

	for (i = 0; i < r->nq; i++)
		if (strcmp(r->qnames[i], name) == 0)
			return r->qvalues[i];
	return NULL;
}

#define ENV_SLOTS (sizeof(((struct req *)0)->env) / sizeof(((struct req *)0)->env[0]))

/* The length and three letters tell CGI names apart well enough; the
 * probe compares whole names. */
static size_t
env_hash(const char *s, size_t len)
{
	size_t h = len * 31;

	if (len > 0)
		h += (unsigned char)s[0] + (unsigned char)s[len / 2] * 7u +
		    (unsigned char)s[len - 1] * 131u;
	return h & (ENV_SLOTS - 1);
}

/* One pass over the variables instead of one per lookup: a request asks
 * for a dozen, and libfcgi compares each with every variable in turn. */
static void
env_index(struct req *r)
{
	char **e;
	size_t n = 0;

	r->env_indexed = 1;
	for (e = r->fcgi->envp; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		size_t len, h;

		if (eq == NULL)
			continue;
		if (++n > ENV_SLOTS / 2) {
			r->env_indexed = -1;
			return;
		}
		len = (size_t)(eq - *e);
		for (h = env_hash(*e, len); r->env[h].entry != NULL; h = (h + 1) & (ENV_SLOTS - 1))
			if (r->env[h].len == len && memcmp(r->env[h].entry, *e, len) == 0)
				break;
		/* The first of two with one name wins, as for FCGX_GetParam. */
		if (r->env[h].entry == NULL) {
			r->env[h].entry = *e;
			r->env[h].len = len;
		}
	}
}

const char *
req_env(struct req *r, const char *cgi_name)
{
	size_t len = strlen(cgi_name), h;

	if (r->env_indexed == 0)
		env_index(r);
	if (r->env_indexed < 0)
		return FCGX_GetParam(cgi_name, r->fcgi->envp);
	for (h = env_hash(cgi_name, len); r->env[h].entry != NULL; h = (h + 1) & (ENV_SLOTS - 1))
		if (r->env[h].len == len && memcmp(r->env[h].entry, cgi_name, len) == 0)
			return r->env[h].entry + len + 1;
	return NULL;
}

int
req_str(struct req *r, const char *field, int required, size_t maxlen,
    const char **out)
{
	json_t *v = json_object_get(r->body_json, field);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return api_invalid(r, field, "is required"), -1;
		return 0;
	}
	if (!json_is_string(v))
		return api_invalid(r, field, "must be a string"), -1;
	if (required && json_string_length(v) == 0)
		return api_invalid(r, field, "must not be empty"), -1;
	if (json_string_length(v) > maxlen)
		return api_invalid(r, field, "must be at most %zu characters", maxlen), -1;
	*out = json_string_value(v);
	return 0;
}

int
api_json(struct req *r, int status, json_t *body)
{
	r->status = status;
	json_decref(r->resp);
	r->resp = body;
	r->text = NULL;
	r->responded = 1;
	return 0;
}

int
api_no_content(struct req *r)
{
	return api_json(r, 204, NULL);
}

int
api_text(struct req *r, int status, const char *type, const char *text, size_t len)
{
	api_json(r, status, NULL);
	r->text = text;
	r->text_type = type;
	r->text_len = len;
	return 0;
}

void
api_header(struct req *r, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = arena_vprintf(&r->arena, fmt, ap);
	va_end(ap);
	r->headers = arena_printf(&r->arena, "%s%s\r\n",
	    r->headers != NULL ? r->headers : "", line);
}

static int
verror(struct req *r, enum api_err code, json_t *details, const char *fmt,
    va_list ap)
{
	char *msg = arena_vprintf(&r->arena, fmt, ap);
	json_t *body;

	switch (r->dialect) {
	case DIALECT_DAGGLE:
		body = json_pack("{s:s}", "error", msg);
		json_decref(details);
		break;
	case DIALECT_DAGCTL:
		body = json_pack("{s:s}", "error", msg);
		json_decref(details);
		break;
	default:
		body = json_pack("{s:s, s:s, s:o}", "error", errors_code(code),
		    "message", msg, "details", details != NULL ? details : json_object());
		break;
	}
	return api_json(r, errors_status(code), body);
}

int
api_error(struct req *r, enum api_err code, json_t *details, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(r, code, details, fmt, ap);
	va_end(ap);
	return 0;
}

int
api_invalid(struct req *r, const char *field, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	why = arena_vprintf(&r->arena, fmt, ap);
	va_end(ap);
	return api_error(r, API_E_VALIDATION, json_pack("{s:s}", field, why),
	    "%s %s", field, why);
}

const char *
api_now(struct req *r)
{
	char *buf = arena_alloc(&r->arena, 32);
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

json_t *
api_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

int
req_page(struct req *r, int def, int max, int *limit, json_t **after)
{
	const char *l = req_query(r, "limit"), *t = req_query(r, "next_token");
	char *end;
	long v;

	*after = NULL;
	*limit = def;
	if (l != NULL) {
		v = strtol(l, &end, 10);
		if (*l == '\0' || *end != '\0' || v < 1 || v > max)
			return api_invalid(r, "limit", "must be an integer from 1 to %d", max), -1;
		*limit = (int)v;
	}
	if (t != NULL && *t != '\0' &&
	    (*after = page_decode(r->srv->cfg, t)) == NULL)
		return api_invalid(r, "next_token", "is not a token this list gave out"), -1;
	return 0;
}

int
req_version(struct req *r, const char *field, const char **out)
{
	json_t *v = json_object_get(r->body_json, field);
	const char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		s = arena_printf(&r->arena, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		s = json_string_value(v);
	else
		return api_invalid(r, field, "must be a string or a whole number"), -1;
	if (*s == '\0' || strlen(s) > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") != strlen(s) ||
	    strcmp(s, "latest") == 0 || strcmp(s, "versions") == 0)
		return api_invalid(r, field, "must be 1-64 letters, digits, '.', '_', "
		    "'+' or '-' and not 'latest' or 'versions'"), -1;
	*out = s;
	return 0;
}

int
req_json_field(struct req *r, const char *field, int arrays, json_t **out)
{
	json_t *v = json_object_get(r->body_json, field);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v) && !(arrays && json_is_array(v)))
		return api_invalid(r, field, "must be a JSON %s", arrays ?
		    "object or array" : "object"), -1;
	*out = v;
	return 0;
}

const char *
page_token(struct req *r, json_t *key)
{
	const char *t = page_encode(r->srv->cfg, &r->arena, key);

	json_decref(key);
	return t;
}

int
api_page(struct req *r, json_t *items, json_t *key)
{
	return api_json(r, 200, json_pack("{s:o, s:o}", "items", items,
	    "next_token", key != NULL ? json_string(page_token(r, key)) : json_null()));
}

int
api_list_by_key(struct req *r, api_list_fn list,
    json_t *(*render)(const struct db_res *rows, unsigned i), unsigned keycol)
{
	struct db_res *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc;
	unsigned i;

	if (req_page(r, 20, 100, &limit, &after) < 0)
		return 0;
	rc = list(r->db, &r->arena, r->who.org_id,
	    (int64_t)json_integer_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++)
		json_array_append_new(items, render(rows, i));
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[I]", (json_int_t)db_int(rows, limit - 1, keycol));
	return api_page(r, items, key);
}

const char *
api_json_text(struct req *r, json_t *v)
{
	char *s;
	const char *out;

	if (v == NULL || json_is_null(v))
		return NULL;
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	out = arena_strdup(&r->arena, s);
	free(s);
	return out;
}

json_t *
api_json_col(const char *text)
{
	json_t *v = text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

	return v != NULL ? v : json_null();
}

int
req_name(struct req *r, const char *field, int required, const char **out)
{
	if (req_str(r, field, required, 200, out) < 0)
		return -1;
	if (*out != NULL && (**out == '\0' || strspn(*out, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(*out) || **out == '.'))
		return api_invalid(r, field, "must be 1-200 letters, digits, '.', '_' or '-'"), -1;
	return 0;
}

int
api_stream_begin(struct req *r)
{
	const char *head = arena_printf(&r->arena, "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n%s\r\n",
	    r->headers != NULL ? r->headers : "");

	r->streamed = r->responded = 1;
	r->status = 200;
	if (FCGX_PutS(head, r->fcgi->out) < 0 || FCGX_FFlush(r->fcgi->out) < 0)
		return -1;
	return 0;
}

/* Writes text and flushes: -1 once the connection is gone (libfcgi then
 * keeps failing every write of this request). */
static int
stream_put(struct req *r, const char *text)
{
	if (FCGX_GetError(r->fcgi->out) != 0 || FCGX_PutS(text, r->fcgi->out) < 0 ||
	    FCGX_FFlush(r->fcgi->out) < 0)
		return -1;
	return 0;
}

int
api_stream_event(struct req *r, const char *event, json_t *data)
{
	char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
	int rc;

	if (text == NULL)
		return -1;
	/* Compact JSON has no raw newline, so one data line holds it. */
	rc = stream_put(r, arena_printf(&r->arena, "event: %s\ndata: %s\n\n", event, text));
	free(text);
	return rc;
}

int
api_stream_comment(struct req *r, const char *text)
{
	return stream_put(r, arena_printf(&r->arena, ": %s\n\n", text));
}
const struct usage_plan *
api_plan(struct req *r)
{
	unsigned i;

	for (i = 0; i < USAGE_NPLANS; i++)
		if (r->who.plan != NULL && strcmp(r->who.plan, usage_plans[i]) == 0)
			return &r->srv->plans[i];
	return &r->srv->plans[USAGE_NPLANS];
}

int
api_org_gate(struct req *r, int writes, int runs)
{
	if (r->who.org_suspended && writes)
		return api_error(r, API_E_ORG_SUSPENDED, json_pack("{s:s}", "org_status",
		    "suspended"), "organization '%s' is suspended: writes and runs are refused,"
		    " reads still work", r->who.org_public_id), -1;
	if (runs && r->who.runs_blocked_after != 0 && time(NULL) >= r->who.runs_blocked_after)
		return api_error(r, API_E_ORG_SUSPENDED, json_pack("{s:s}", "org_status",
		    "payment_overdue"), "runs of organization '%s' are suspended: a payment"
		    " failed and its grace period is over; data and reads are untouched",
		    r->who.org_public_id), -1;
	return 0;
}

int
req_date(struct req *r, const char *name, time_t *t, int *is_date)
{
	const char *v = req_query(r, name);

	*is_date = 0;
	if (v == NULL || *v == '\0')
		return 0;
	if (ts_parse(v, t, NULL) < 0)
		return api_invalid(r, name, "must be a date (2026-03-01) or an RFC 3339 "
		    "time (2026-03-01T10:30:00Z)"), -1;
	*is_date = strlen(v) == 10;
	return 0;
}

int
api_url_ok(const char *u)
{
	const char *host, *p;

	if (u == NULL || strlen(u) > 2048)
		return 0;
	if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else
		return 0;
	if (*host == '\0' || *host == '/' || *host == ':')
		return 0;
	for (p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}
