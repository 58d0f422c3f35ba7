/* What every dagy-api handler sees: the request, the server it runs in,
 * and the helpers that write responses in the route's dialect. */
#ifndef DAGY_API_H
#define DAGY_API_H

#include <fcgiapp.h>
#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "dagy/arena.h"
#include "dagy/auth.h"
#include "dagy/db.h"
#include "dagy/errors.h"
#include "dagy/limits.h"
#include "dagy/router.h"
#include "dagy/usage.h"

struct config;
struct secrets_keyring;

struct server {
	struct config *cfg;
	struct db *db;
	struct router *rt;
	struct secrets_keyring *keys; /* checked at start; follows rotations */
	long long max_body;
	int retry_after;
	time_t started;
	/* [limits], read once: rates per window, login throttling. */
	long long window, address_requests, webhook_requests, flush_every;
	struct limits_login login_account, login_address;
	/* Quotas and rates of each plan; the last is for unknown plans. */
	struct usage_plan plans[5];
};

struct req {
	struct server *srv;
	struct db *db; /* srv->db, for brevity in handlers */
	FCGX_Request *fcgi;
	struct arena arena;
	const char *method, *query;
	char *path;
	char *body;
	size_t body_len;
	json_t *body_json; /* the parsed object on ROUTE_BODY routes */
	struct router_match match;
	enum dialect dialect;
	struct principal who;
	/* response */
	int status;
	json_t *resp;
	const char *text, *text_type; /* a body that is not JSON (api_text) */
	size_t text_len;
	char *headers; /* extra header lines, each ending in \r\n */
	int responded;
	int streamed; /* api_stream_begin wrote the head: nothing more to write */
	/* the rate limit decision, made once per request */
	int limited;
	struct limits_verdict rate;
	/* the decoded query string (req_check_params) */
	unsigned nq;
	char *qnames[32], *qvalues[32];
	/* The CGI variables by name, indexed at the first req_env (-1: too
	 * many to index; looked up one by one). */
	int env_indexed;
	struct { const char *entry; size_t len; } env[128];
};

/* Route tables of each resource file (see api_routes in main.c). */
extern const struct route login_routes[], users_routes[], api_keys_routes[],
    orgs_routes[], health_routes[], flows_routes[], deployments_routes[],
    drafts_routes[], runs_routes[], schedules_routes[], daggle_routes[],
    notifications_routes[], artifacts_routes[],
    dagctl_routes[], dagctl_control_routes[], dagctl_team_routes[], dagctl_env_routes[],
    dagctl_protect_routes[],
    secrets_routes[], environments_routes[],
    nodes_routes[], usage_routes[], audit_routes[], sensors_routes[],
    billing_routes[], admin_routes[], ui_routes[], aistudio_routes[];
extern const size_t login_routes_n, users_routes_n, api_keys_routes_n,
    orgs_routes_n, health_routes_n, flows_routes_n, deployments_routes_n,
    drafts_routes_n, runs_routes_n, schedules_routes_n, daggle_routes_n,
    notifications_routes_n, artifacts_routes_n,
    dagctl_routes_n, dagctl_control_routes_n, dagctl_team_routes_n, dagctl_env_routes_n,
    dagctl_protect_routes_n,
    secrets_routes_n, environments_routes_n,
    nodes_routes_n, usage_routes_n, audit_routes_n, sensors_routes_n,
    billing_routes_n, admin_routes_n, ui_routes_n, aistudio_routes_n;

/* GET /metrics (prometheus.c) and GET /v1/openapi.json (openapi.c). */
extern const struct route prometheus_routes[], openapi_routes[];
extern const size_t prometheus_routes_n, openapi_routes_n;

/* The merged routes in table order (main.c): how many, and the i-th. */
unsigned api_route_count(void);
const struct route *api_route_at(unsigned i);

/* Registers spec as a version of flow `name` (flows.c): validates, stores,
 * audits, commits and answers 201, or answers the 4xx itself. */
int flows_api_register(struct req *r, json_t *spec, const char *name,
    const char *version);

/* Environment protection (environments.c): 0 when the caller's role may
 * do `action` ("run", "deploy", …) in environment env (NULL: none); 1
 * after rolling back what was begun, auditing the refusal and answering
 * 403; or a db_err. */
int api_env_guard(struct req *r, const char *env, const char *action);
/* Protection of the environments a change to deployment `name` touches
 * (deployments.c): the one it is in, and the one it moves to (to; NULL:
 * it stays). One that does not exist yet lands in `to`, or with create
 * set in the default environment. As api_env_guard. */
int api_deploy_guard(struct req *r, const char *name, const char *to, int create);
/* dagctl's protection of environment env (dagctl_protect.c): *allowed
 * is 0 when it is protected and the caller is not excepted. 0 or a
 * db_err. */
int dagctl_protect_allows(struct req *r, const char *env, int *allowed);
/* Whether name is an executor dagy accepts (deployments.c). */
int api_executor_valid(const char *name);

const char *req_param(struct req *r, const char *name);
/* Decodes the query string once, before any handler: 0, or -1 after a 400
 * for a bad %-escape, text that is not UTF-8 (path parameters too), a
 * parameter without a name or given twice, or more than 32 of them. */
int req_check_params(struct req *r);
const char *req_query(struct req *r, const char *name);
/* An HTTP request header by its CGI name, e.g. "HTTP_X_ORG_ID". */
const char *req_env(struct req *r, const char *cgi_name);

/* Body field readers: 0 with *out set (NULL if absent and optional), or
 * -1 after answering 400 with details naming the field. */
int req_str(struct req *r, const char *field, int required, size_t maxlen,
    const char **out);

/* limit and next_token of a list: 0 with *limit and *after (the decoded
 * key array, a new reference, or NULL on the first page), or -1 after a
 * 400 naming the parameter. */
int req_page(struct req *r, int def, int max, int *limit, json_t **after);
/* A resource name (flow, deployment): 1-200 letters, digits, '.', '_',
 * '-'. 0 with *out, or -1 after a 400. */
int req_name(struct req *r, const char *field, int required, const char **out);
/* A version given as a number or a string: 0 with *out (NULL if absent),
 * or -1 after a 400. */
int req_version(struct req *r, const char *field, const char **out);
/* An optional field that must be a JSON object (or array when arrays is
 * set): 0 with *out (borrowed, NULL if absent) or -1 after a 400. */
int req_json_field(struct req *r, const char *field, int arrays, json_t **out);
/* {"items": items, "next_token": token or null}; key (stolen) is the last
 * row's sort key when there may be more. */
int api_page(struct req *r, json_t *items, json_t *key);
/* Compact JSON text of v in the request arena, or NULL for NULL or null. */
const char *api_json_text(struct req *r, json_t *v);
/* Parses a JSON column, or null for NULL/garbage. */
json_t *api_json_col(const char *text);

/* A list paged by an integer key: list fetches up to limit rows of the
 * org after (or before) key (0 on the first page), render makes each item,
 * and column keycol of the last row is the next page's key. */
typedef int (*api_list_fn)(struct db *db, struct arena *a, int64_t org_id, int64_t key,
    int limit, struct db_res **rows);
int api_list_by_key(struct req *r, api_list_fn list,
    json_t *(*render)(const struct db_res *rows, unsigned i), unsigned keycol);
/* On a public route, the caller's credentials when it sent any (main.c):
 * 0 with r->who filled, 1 when it sent none or they do not verify (the
 * caller is then anonymous), 2 after answering 503 (every credential
 * check slot of the host busy), or a db_err. */
int api_optional_auth(struct req *r);

/* Server-Sent Events. api_stream_begin writes a 200 head for
 * text/event-stream (no caching, no proxy buffering) and marks the
 * request answered; api_stream_event writes "event: NAME" and one "data:"
 * line of compact JSON, api_stream_comment a ": text" line (a keep-alive),
 * each flushed at once. 0, or -1 when the client is gone. */
int api_stream_begin(struct req *r);
int api_stream_event(struct req *r, const char *event, json_t *data);
int api_stream_comment(struct req *r, const char *text);

/* 1 when u is an http(s) URL with a host and no blanks or control
 * characters (channel and sensor targets). */
int api_url_ok(const char *u);
/* Responses. api_json steals the reference to body. */
int api_json(struct req *r, int status, json_t *body);
int api_no_content(struct req *r);
/* A body that is not JSON: len bytes of text (kept, not copied: static or
 * in the request arena) sent as type. */
int api_text(struct req *r, int status, const char *type, const char *text,
    size_t len);
void api_header(struct req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An error in the route's dialect; details (stolen, may be NULL) names the
 * fields at fault. Returns 0 so handlers can "return api_error(...)". */
int api_error(struct req *r, enum api_err code, json_t *details,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 400 whose details say {field: why}. */
int api_invalid(struct req *r, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The quotas and rates of the organization's plan (cached at start). */
const struct usage_plan *api_plan(struct req *r);
/* Refuses (answering, -1) what a suspended org may not do: writes when
 * writes is set, and new runs after a failed payment's grace when runs is
 * set. 0 when allowed. */
int api_org_gate(struct req *r, int writes, int runs);
/* A start_date or end_date query parameter (a date or an RFC 3339 time):
 * 0 with *t (*is_date set for a bare date; *t untouched when absent), or
 * -1 after a 400 naming it. */
int req_date(struct req *r, const char *name, time_t *t, int *is_date);

/* "2026-03-02T10:30:00Z" for now. */
const char *api_now(struct req *r);
/* json_string, or json_null for NULL. */
json_t *api_str_or_null(const char *s);

/* Triggering and reading runs (runs.c), shared with the dialects. */
struct run_trigger {
	const char *flow, *version, *deployment, *executor, *mode, *trigger;
	const char *environment; /* NULL: the deployment's, or none */
	json_t *params, *tags; /* borrowed; may be NULL */
	int execute;
	int64_t schedule_id;   /* 0, or the schedule a manual trigger came from */
	/* Called with the new run's id inside its transaction, before the
	 * commit (NULL: nothing): 0, or a db_err that undoes the run. */
	int (*in_txn)(struct req *r, const char *run_id, void *arg);
	void *in_txn_arg;
};
/* What a trigger reports of the run it queued. */
struct run_created {
	const char *id, *slug, *flow, *version, *status, *created_at;
	const char *environment; /* NULL: none */
	json_t *params; /* the bound parameters; the caller releases them */
};
/* 0 with *out; 1 after answering a 4xx; or a db_err. */
int runs_api_trigger(struct req *r, const struct run_trigger *t, struct run_created *out);
/* 0, RUNS_ENOTFOUND, RUNS_EFINISHED (with *row) or a db_err; commits. */
int runs_api_cancel(struct req *r, const char *id, struct db_res **row);
/* Approves or rejects step of run (a runs_get row) and answers: 200, or
 * 409 when the step is not waiting; commits. */
int runs_api_decide(struct req *r, const struct db_res *run, const char *step,
    int approve);
/* [{step_id, key, value}] of a run, or NULL with *rc a db_err. */
json_t *runs_api_outputs(struct req *r, int64_t run_dbid, int *rc);
/* {"step_id", "stdout", "stderr"} of one step's captured output. */
int runs_api_step_log(struct req *r, int64_t run_dbid, const char *step, json_t **out);
json_t *runs_api_json(const struct db_res *rows, unsigned i, int full);
json_t *runs_api_step_json(const struct db_res *steps, unsigned i);
/* The signed token for a keyset key (stolen). */
const char *page_token(struct req *r, json_t *key);

#endif
