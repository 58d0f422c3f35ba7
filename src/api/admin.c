/* /v1/admin: the super admin console. Every route but the signed trace
 * download needs the platform super_admin flag (the router's gate); the
 * org in the path is any organization, found by its public id. Changes
 * are audited in the organization they touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/admin.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/credits.h"
#include "dagy/exceptions.h"
#include "dagy/ts.h"
#include "dagy/usage.h"

#define NOTES_MAX 10000
#define KEYS_MAX 1000

static int admin_customers_h(struct req *r);
static int admin_customer_h(struct req *r);
static int admin_customer_patch_h(struct req *r);
static int admin_members_h(struct req *r);
static int admin_usage_h(struct req *r);
static int admin_audit_h(struct req *r);
static int admin_sessions_h(struct req *r);
static int admin_revoke_h(struct req *r);
static int admin_suspend_h(struct req *r);
static int admin_activate_h(struct req *r);
static int admin_credits_h(struct req *r);
static int admin_exceptions_h(struct req *r);
static int admin_exception_content_h(struct req *r);
static int admin_exception_download_h(struct req *r);
static int admin_exception_file_h(struct req *r);
static int admin_exceptions_delete_h(struct req *r);
static int admin_impersonate_h(struct req *r);

#define SA PERM_SUPER_ADMIN
const struct route admin_routes[] = {
	{"GET", "/v1/admin/customers", admin_customers_h, SA, 0, DIALECT_DAGY},
	{"GET", "/v1/admin/customers/{org_id}", admin_customer_h, SA, 0, DIALECT_DAGY},
	{"PATCH", "/v1/admin/customers/{org_id}", admin_customer_patch_h, SA, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/admin/customers/{org_id}/members", admin_members_h, SA, 0, DIALECT_DAGY},
	{"GET", "/v1/admin/customers/{org_id}/usage", admin_usage_h, SA, 0, DIALECT_DAGY},
	{"GET", "/v1/admin/customers/{org_id}/audit", admin_audit_h, SA, 0, DIALECT_DAGY},
	{"GET", "/v1/admin/customers/{org_id}/sessions", admin_sessions_h, SA, 0, DIALECT_DAGY},
	{"DELETE", "/v1/admin/customers/{org_id}/sessions/{user_email}", admin_revoke_h, SA, 0, DIALECT_DAGY},
	{"POST", "/v1/admin/customers/{org_id}/suspend", admin_suspend_h, SA, 0, DIALECT_DAGY},
	{"POST", "/v1/admin/customers/{org_id}/activate", admin_activate_h, SA, 0, DIALECT_DAGY},
	{"POST", "/v1/admin/customers/{org_id}/credits", admin_credits_h, SA, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/admin/exceptions", admin_exceptions_h, SA, 0, DIALECT_DAGY},
	{"DELETE", "/v1/admin/exceptions", admin_exceptions_delete_h, SA, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/admin/exceptions/content", admin_exception_content_h, SA, 0, DIALECT_DAGY},
	{"GET", "/v1/admin/exceptions/download", admin_exception_download_h, SA, 0, DIALECT_DAGY},
	/* The presigned link: its signature is the credential. */
	{"GET", "/v1/admin/exceptions/file", admin_exception_file_h, PERM_PUBLIC, 0, DIALECT_DAGY},
	{"POST", "/v1/admin/impersonate/{org_id}", admin_impersonate_h, SA, 0, DIALECT_DAGY},
};
#undef SA
const size_t admin_routes_n = sizeof(admin_routes) / sizeof(admin_routes[0]);

/* ?limit=: 0 with *limit (def when absent), or -1 after a 400. */
static int
query_limit(struct req *r, int def, int max, int *limit)
{
	const char *l = req_query(r, "limit");
	char *end;
	long v;

	*limit = def;
	if (l == NULL)
		return 0;
	v = strtol(l, &end, 10);
	if (*l == '\0' || *end != '\0' || v < 1 || v > max)
		return api_invalid(r, "limit", "must be an integer from 1 to %d", max), -1;
	*limit = (int)v;
	return 0;
}

/* The org of the path: 1 with *row (an admin_customer row), 0 after a
 * 404, or a db_err. */
static int
find_org(struct req *r, struct db_res **row)
{
	const char *id = req_param(r, "org_id");
	int rc;

	if ((rc = admin_customer(r->db, &r->arena, id, row)) < 0)
		return rc;
	if ((*row)->nrows == 0)
		return api_error(r, API_E_NOT_FOUND, NULL, "organization '%s' not found", id), 0;
	return 1;
}

static int64_t
org_dbid(const struct db_res *row)
{
	return db_int(row, 0, ADMIN_C_DBID);
}

static json_t *
customer_json(const struct db_res *rows, unsigned i, int full)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:s, s:s}",
	    "org_id", db_val(rows, i, ADMIN_C_PUBLIC), "org_name", db_val(rows, i, ADMIN_C_NAME),
	    "owner_email", api_str_or_null(db_val(rows, i, ADMIN_C_OWNER)),
	    "plan", db_val(rows, i, ADMIN_C_PLAN), "status", db_val(rows, i, ADMIN_C_STATUS),
	    "member_count", (json_int_t)db_int(rows, i, ADMIN_C_MEMBERS),
	    "created_at", db_val(rows, i, ADMIN_C_CREATED),
	    "updated_at", db_val(rows, i, ADMIN_C_UPDATED));
	json_t *v;

	if (!full)
		return o;
	v = api_json_col(db_val(rows, i, ADMIN_C_OVERRIDES));
	json_object_set_new(o, "quota_overrides", json_is_object(v) ? v : json_object());
	if (!json_is_object(v))
		json_decref(v);
	v = api_json_col(db_val(rows, i, ADMIN_C_FLAGS));
	json_object_set_new(o, "feature_flags", json_is_object(v) ? v : json_object());
	if (!json_is_object(v))
		json_decref(v);
	json_object_set_new(o, "notes", api_str_or_null(db_val(rows, i, ADMIN_C_NOTES)));
	json_object_set_new(o, "credits_balance",
	    json_real(strtod(db_val(rows, i, ADMIN_C_CREDITS), NULL)));
	return o;
}

static int
admin_customers_h(struct req *r)
{
	struct admin_filter f = {req_query(r, "status"), req_query(r, "plan"),
		req_query(r, "search")};
	struct db_res *rows;
	json_t *items;
	int64_t total;
	int limit, rc;
	unsigned i;

	if (query_limit(r, 100, 1000, &limit) < 0)
		return 0;
	if ((rc = admin_customers(r->db, &r->arena, &f, limit, &rows, &total)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, customer_json(rows, i, 0));
	return api_json(r, 200, json_pack("{s:o, s:I}", "items", items, "total",
	    (json_int_t)total));
}

static int
admin_customer_h(struct req *r)
{
	struct db_res *row;
	int rc;

	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	return api_json(r, 200, customer_json(row, 0, 1));
}

static int
plan_valid(const char *plan)
{
	int i;

	for (i = 0; i < USAGE_NPLANS; i++)
		if (strcmp(plan, usage_plans[i]) == 0)
			return 1;
	return 0;
}

/* Audits an admin change in the organization it touches. */
static int
audit_org(struct req *r, const struct db_res *row, const char *action, json_t *details)
{
	return audit_write_as(r->db, org_dbid(row), r->who.user_id, r->who.email, r->who.ip,
	    action, "org", db_val(row, 0, ADMIN_C_PUBLIC), details);
}

static int
admin_customer_patch_h(struct req *r)
{
	const char *status = NULL, *plan = NULL, *notes = NULL;
	json_t *overrides = NULL, *flags = NULL, *credits;
	struct db_res *row;
	double balance, now;
	int rc;

	if (req_str(r, "status", 0, 16, &status) < 0 || req_str(r, "plan", 0, 32, &plan) < 0 ||
	    req_str(r, "notes", 0, NOTES_MAX, &notes) < 0 ||
	    req_json_field(r, "quota_overrides", 0, &overrides) < 0 ||
	    req_json_field(r, "feature_flags", 0, &flags) < 0)
		return 0;
	credits = json_object_get(r->body_json, "credits_balance");
	if (status != NULL && strcmp(status, "active") != 0 && strcmp(status, "suspended") != 0)
		return api_invalid(r, "status", "must be active or suspended");
	if (plan != NULL && !plan_valid(plan))
		return api_invalid(r, "plan", "must be free, starter, professional or enterprise");
	if (credits != NULL && (!json_is_number(credits) || json_number_value(credits) < 0))
		return api_invalid(r, "credits_balance", "must be a number, 0 or more");
	if (!status && !plan && !notes && !overrides && !flags && !credits)
		return api_error(r, API_E_VALIDATION, NULL, "no fields to update");
	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = admin_customer_update(r->db, org_dbid(row), plan, api_json_text(r, overrides),
	    api_json_text(r, flags), notes)) < 0 ||
	    (status != NULL && (rc = admin_set_status(r->db, org_dbid(row), status)) < 0))
		return rc;
	/* A balance set outright is a ledger entry of the difference. */
	if (credits != NULL) {
		if ((rc = credits_balance(r->db, org_dbid(row), &now)) < 0 ||
		    (rc = credits_grant(r->db, org_dbid(row), json_number_value(credits) - now,
		    "admin_set", NULL, r->who.user_id, &balance)) < 0)
			return rc;
	}
	if ((rc = audit_org(r, row, "admin.customer_update", json_incref(r->body_json))) < 0 ||
	    (rc = db_commit(r->db)) < 0 || (rc = find_org(r, &row)) <= 0)
		return rc;
	return api_json(r, 200, customer_json(row, 0, 1));
}

static int
admin_members_h(struct req *r)
{
	struct db_res *row, *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	if ((rc = admin_members(r->db, &r->arena, org_dbid(row), &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s}",
		    "user_email", db_val(rows, i, 0), "role", db_val(rows, i, 1),
		    "joined_at", db_val(rows, i, 2), "status", db_val(rows, i, 3)));
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

static const char *
sql_time(struct req *r, time_t t)
{
	char *s = arena_alloc(&r->arena, 32);

	ts_sql(t, 0, s);
	return s;
}

static int
admin_usage_h(struct req *r)
{
	struct db_res *row, *days;
	struct usage_totals t;
	struct usage_prices pr;
	time_t start, end;
	char period[16];
	json_t *daily;
	struct tm tm;
	unsigned i;
	int rc;

	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	usage_month(time(NULL), &start, &end);
	gmtime_r(&start, &tm);
	strftime(period, sizeof(period), "%Y-%m", &tm);
	if ((rc = usage_totals(r->db, &r->arena, org_dbid(row), sql_time(r, start),
	    sql_time(r, end), &t)) < 0 ||
	    (rc = usage_series(r->db, &r->arena, org_dbid(row), sql_time(r, start),
	    sql_time(r, end), 0, &days)) < 0)
		return rc;
	usage_prices(r->srv->cfg, &pr);
	daily = json_array();
	for (i = 0; i < days->nrows; i++)
		json_array_append_new(daily, json_pack("{s:s, s:I, s:I, s:f, s:I, s:I}",
		    "date", db_val(days, i, 0), "run_count", (json_int_t)db_int(days, i, 1),
		    "task_count", (json_int_t)db_int(days, i, 2),
		    "compute_seconds", (double)db_int(days, i, 3) / 1000.0,
		    "error_count", (json_int_t)db_int(days, i, 4),
		    "api_call_count", (json_int_t)db_int(days, i, 5)));
	return api_json(r, 200, json_pack("{s:[{s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:f}], s:o}",
	    "items", "org_id", db_val(row, 0, ADMIN_C_PUBLIC), "period", period,
	    "run_count", (json_int_t)t.runs, "task_count", (json_int_t)t.tasks,
	    "compute_seconds", (double)t.step_ms / 1000.0,
	    "api_call_count", (json_int_t)t.api_calls, "error_count", (json_int_t)t.errors,
	    "estimated_cost_usd", usage_cost(&pr, t.runs, t.step_ms, t.api_calls),
	    "daily", daily));
}

static int
admin_audit_h(struct req *r)
{
	struct audit_filter f = {0};
	struct db_res *row, *rows;
	json_t *items;
	int limit, rc;
	unsigned i;

	if (query_limit(r, 50, 1000, &limit) < 0)
		return 0;
	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	f.from = "1970-01-01 00:00:00";
	f.to = "9999-12-31 00:00:00";
	if ((rc = audit_list(r->db, &r->arena, org_dbid(row), &f, NULL, 0, limit, &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++) {
		json_t *meta = api_json_col(db_val(rows, i, AUDIT_C_DETAILS));

		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o}",
		    "org_id", db_val(row, 0, ADMIN_C_PUBLIC),
		    "event_time", db_val(rows, i, AUDIT_C_TIME),
		    "resource_type", db_val(rows, i, AUDIT_C_TYPE),
		    "resource_id", api_str_or_null(db_val(rows, i, AUDIT_C_TARGET)),
		    "action", db_val(rows, i, AUDIT_C_ACTION),
		    "actor_email", api_str_or_null(db_val(rows, i, AUDIT_C_ACTOR)),
		    "metadata", json_is_null(meta) ? (json_decref(meta), json_object()) : meta));
	}
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

static int
admin_sessions_h(struct req *r)
{
	struct db_res *row, *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	if ((rc = admin_sessions(r->db, &r->arena, org_dbid(row), &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:I}",
		    "user_email", db_val(rows, i, 0), "last_login_at", db_val(rows, i, 1),
		    "current_token_issued_at", api_str_or_null(db_val(rows, i, 2)),
		    "active_sessions", (json_int_t)db_int(rows, i, 3)));
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

static int
admin_revoke_h(struct req *r)
{
	const char *email = req_param(r, "user_email");
	struct db_res *row;
	int64_t n;
	int rc;

	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((n = admin_revoke_sessions(r->db, org_dbid(row), email)) < 0)
		return (int)n;
	if ((rc = audit_org(r, row, "admin.sessions_revoke",
	    json_pack("{s:s, s:I}", "user_email", email, "deleted", (json_int_t)n))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:I}", "status", "revoked",
	    "user_email", email, "deleted", (json_int_t)n));
}

static int
set_status(struct req *r, const char *status)
{
	struct db_res *row;
	int rc;

	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = admin_set_status(r->db, org_dbid(row), status)) < 0 ||
	    (rc = audit_org(r, row, strcmp(status, "active") == 0 ? "admin.activate" :
	    "admin.suspend", NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s}", "status", status, "org_id",
	    db_val(row, 0, ADMIN_C_PUBLIC)));
}

static int
admin_suspend_h(struct req *r)
{
	return set_status(r, "suspended");
}

static int
admin_activate_h(struct req *r)
{
	return set_status(r, "active");
}

static int
admin_credits_h(struct req *r)
{
	json_t *amount = json_object_get(r->body_json, "amount");
	const char *reason = NULL;
	struct db_res *row;
	double balance;
	int rc;

	if (!json_is_number(amount) || json_number_value(amount) == 0 ||
	    json_number_value(amount) > 1e12 || json_number_value(amount) < -1e12)
		return api_invalid(r, "amount", "must be a non-zero number");
	if (req_str(r, "reason", 0, 100, &reason) < 0)
		return 0;
	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = credits_grant(r->db, org_dbid(row), json_number_value(amount),
	    reason != NULL ? reason : "admin_grant", NULL, r->who.user_id, &balance);
	if (rc == CREDITS_EINSUFFICIENT) {
		db_rollback(r->db);
		return api_invalid(r, "amount", "would take the balance below zero");
	}
	if (rc < 0 || (rc = audit_org(r, row, "admin.credits",
	    json_pack("{s:f, s:f}", "amount", json_number_value(amount), "balance", balance))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:f}", "org_id", db_val(row, 0, ADMIN_C_PUBLIC),
	    "credits_balance", balance));
}

static int
admin_exceptions_h(struct req *r)
{
	json_t *items;
	int limit;

	if (query_limit(r, 100, 1000, &limit) < 0)
		return 0;
	if ((items = exceptions_list(r->srv->cfg, limit)) == NULL)
		return api_error(r, API_E_SERVICE_UNAVAILABLE, NULL,
		    "the exception store cannot be read");
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

/* The key query parameter: the trace, or NULL after a 400 or 404. */
static json_t *
trace_of(struct req *r, const char **key)
{
	json_t *doc;

	*key = req_query(r, "key");
	if (*key == NULL || !exceptions_key_valid(*key))
		return api_invalid(r, "key", "must be the key of an exception trace"), NULL;
	if ((doc = exceptions_get(r->srv->cfg, *key)) == NULL)
		api_error(r, API_E_NOT_FOUND, NULL, "exception trace '%s' not found", *key);
	return doc;
}

static int
admin_exception_content_h(struct req *r)
{
	const char *key;
	json_t *doc = trace_of(r, &key);

	return doc != NULL ? api_json(r, 200, doc) : 0;
}

static int
admin_exception_download_h(struct req *r)
{
	const struct config *cfg = r->srv->cfg;
	const char *key, *base = config_str(cfg, "admin", "public_url"), *host;
	json_t *doc = trace_of(r, &key);
	time_t expires = time(NULL) + config_int(cfg, "admin", "download_ttl_seconds");
	char sig[65], when[32], *url;
	size_t n;

	if (doc == NULL)
		return 0;
	json_decref(doc);
	exceptions_sign(cfg, key, expires, sig);
	ts_rfc3339(expires, when);
	host = req_env(r, "HTTP_HOST");
	n = strlen(base) + (host != NULL ? strlen(host) : 0) + strlen(key) + 256;
	url = arena_alloc(&r->arena, n);
	if (*base != '\0')
		snprintf(url, n, "%s/v1/admin/exceptions/file?key=%s&expires=%lld&signature=%s",
		    base, key, (long long)expires, sig);
	else
		snprintf(url, n, "%s://%s/v1/admin/exceptions/file?key=%s&expires=%lld&signature=%s",
		    req_env(r, "HTTPS") != NULL ? "https" : "http", host != NULL ? host : "localhost",
		    key, (long long)expires, sig);
	return api_json(r, 200, json_pack("{s:s, s:s}", "download_url", url, "expires_at", when));
}

static int
admin_exception_file_h(struct req *r)
{
	const char *key = req_query(r, "key"), *exp = req_query(r, "expires");
	json_t *doc;

	if (key == NULL || exp == NULL ||
	    !exceptions_signed(r->srv->cfg, key, (time_t)strtoll(exp, NULL, 10),
	    req_query(r, "signature")))
		return api_error(r, API_E_FORBIDDEN, NULL,
		    "this download link is invalid or has expired");
	if ((doc = exceptions_get(r->srv->cfg, key)) == NULL)
		return api_error(r, API_E_NOT_FOUND, NULL, "exception trace '%s' not found", key);
	api_header(r, "Content-Disposition: attachment; filename=\"%s.json\"", key);
	return api_json(r, 200, doc);
}

static int
admin_exceptions_delete_h(struct req *r)
{
	json_t *keys = json_object_get(r->body_json, "keys"), *k;
	int64_t deleted = 0;
	size_t i;
	int rc;

	if (!json_is_array(keys) || json_array_size(keys) == 0 ||
	    json_array_size(keys) > KEYS_MAX)
		return api_invalid(r, "keys", "must be an array of 1 to %d trace keys", KEYS_MAX);
	json_array_foreach(keys, i, k)
		if (!exceptions_key_valid(json_string_value(k)))
			return api_invalid(r, "keys", "item %zu is not the key of an exception trace", i);
	json_array_foreach(keys, i, k) {
		if ((rc = exceptions_delete(r->srv->cfg, json_string_value(k))) < 0)
			return api_error(r, API_E_SERVICE_UNAVAILABLE, NULL,
			    "the exception store refused to delete '%s'", json_string_value(k));
		deleted += rc;
	}
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "admin.exceptions_delete", "exception", NULL,
	    json_pack("{s:O, s:I}", "keys", keys, "deleted", (json_int_t)deleted))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:I}", "deleted", (json_int_t)deleted));
}

static int
admin_impersonate_h(struct req *r)
{
	const char *tok, *exp;
	struct db_res *row;
	int rc;

	if ((rc = find_org(r, &row)) <= 0)
		return rc;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = auth_impersonate(r->db, r->srv->cfg, &r->arena, r->who.user_id, org_dbid(row),
	    config_int(r->srv->cfg, "admin", "impersonation_ttl_seconds"), &tok, &exp)) < 0 ||
	    (rc = audit_org(r, row, "admin.impersonate", json_pack("{s:s, s:b}", "expires_at",
	    exp, "impersonated", 1))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:b, s:s, s:s}", "org_id",
	    db_val(row, 0, ADMIN_C_PUBLIC), "org_name", db_val(row, 0, ADMIN_C_NAME),
	    "impersonating", 1, "token", tok, "expires_at", exp));
}
