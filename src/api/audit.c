/* /v1/audit-logs: the organization's audit trail, filtered by actor,
 * action, resource and time, newest first with keyset pages; and one
 * resource's trail. Rows are written by every mutation (audit.h). */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/ts.h"

static int audit_list_h(struct req *r);
static int audit_resource_h(struct req *r);

const struct route audit_routes[] = {
	{"GET", "/v1/audit-logs", audit_list_h, PERM_ADMIN_AUDIT, 0, DIALECT_DAGY},
	{"GET", "/v1/audit-logs/resource/{resource_type}/{resource_id}", audit_resource_h,
	 PERM_ADMIN_AUDIT, 0, DIALECT_DAGY},
};
const size_t audit_routes_n = sizeof(audit_routes) / sizeof(audit_routes[0]);

/* Resources whose audit id is their name. */
static const char *const named_types[] = {"flow", "deployment", "member", "user", NULL};

static json_t *
resource_name(const struct db_res *rows, unsigned i, json_t *details)
{
	const char *type = db_val(rows, i, AUDIT_C_TYPE);
	static const char *const name_fields[] = {"name", "secret_name", "org_name", NULL};
	int k;

	for (k = 0; named_types[k] != NULL; k++)
		if (strcmp(type, named_types[k]) == 0)
			return api_str_or_null(db_val(rows, i, AUDIT_C_TARGET));
	for (k = 0; name_fields[k] != NULL; k++)
		if (json_is_string(json_object_get(details, name_fields[k])))
			return json_incref(json_object_get(details, name_fields[k]));
	return json_null();
}

static json_t *
item_json(const struct db_res *rows, unsigned i, int with_resource)
{
	json_t *details = api_json_col(db_val(rows, i, AUDIT_C_DETAILS));
	json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o}",
	    "audit_id", db_val(rows, i, AUDIT_C_ID),
	    "timestamp", db_val(rows, i, AUDIT_C_TIME),
	    "actor_email", api_str_or_null(db_val(rows, i, AUDIT_C_ACTOR)),
	    "action", db_val(rows, i, AUDIT_C_ACTION),
	    "changes", json_is_object(details) ? json_incref(details) : json_object(),
	    "ip_address", api_str_or_null(db_val(rows, i, AUDIT_C_IP)),
	    "user_agent", api_str_or_null(db_val(rows, i, AUDIT_C_AGENT)));

	if (with_resource) {
		json_object_set_new(o, "resource_type", json_string(db_val(rows, i, AUDIT_C_TYPE)));
		json_object_set_new(o, "resource_id", api_str_or_null(db_val(rows, i, AUDIT_C_TARGET)));
		json_object_set_new(o, "resource_name", resource_name(rows, i, details));
	}
	json_decref(details);
	return o;
}

/* A text filter from the query string: NULL when absent, -1 after a 400. */
static int
text_filter(struct req *r, const char *name, const char **out)
{
	const char *v = req_query(r, name);

	*out = NULL;
	if (v == NULL || *v == '\0')
		return 0;
	if (strlen(v) > 254)
		return api_invalid(r, name, "must be at most 254 characters"), -1;
	*out = v;
	return 0;
}

/* The filters common to both routes, and the page: 0 or -1 after a 400. */
static int
read_filters(struct req *r, struct audit_filter *f, int *limit, json_t **after)
{
	time_t from, to;
	int from_date, to_date;
	char *s;

	memset(f, 0, sizeof(*f));
	if (text_filter(r, "actor_email", &f->actor) < 0 ||
	    (f->actor == NULL && text_filter(r, "actor", &f->actor) < 0) ||
	    text_filter(r, "action", &f->action) < 0)
		return -1;
	from = to = (time_t)-1;
	if (req_date(r, "start_date", &from, &from_date) < 0 ||
	    req_date(r, "end_date", &to, &to_date) < 0)
		return -1;
	if (from != (time_t)-1) {
		f->from = s = arena_alloc(&r->arena, 32);
		ts_sql(from, 0, s);
	}
	if (to != (time_t)-1) {
		/* end_date is inclusive: its whole day, or its second. */
		to += to_date ? 86400 : 1;
		if (from != (time_t)-1 && to <= from)
			return api_invalid(r, "end_date", "must not be before start_date"), -1;
		f->to = s = arena_alloc(&r->arena, 32);
		ts_sql(to, 0, s);
	}
	if (req_page(r, 20, 100, limit, after) < 0)
		return -1;
	if (*after != NULL && (!json_is_string(json_array_get(*after, 0)) ||
	    !json_is_integer(json_array_get(*after, 1)))) {
		json_decref(*after);
		*after = NULL;
		return api_invalid(r, "next_token", "is not a token this list gave out"), -1;
	}
	return 0;
}

/* Runs the list for f and answers with items (with_resource: each names
 * its resource) and the next page's token; *rows for the caller. */
static int
answer(struct req *r, const struct audit_filter *f, int limit, json_t *after,
    int with_resource, struct db_res **rows, json_t **items, json_t **key)
{
	unsigned k;
	int rc;

	rc = audit_list(r->db, &r->arena, r->who.org_id, f,
	    json_string_value(json_array_get(after, 0)),
	    (int64_t)json_integer_value(json_array_get(after, 1)), limit + 1, rows);
	if (rc < 0)
		return rc;
	*items = json_array();
	*key = NULL;
	for (k = 0; k < (*rows)->nrows && k < (unsigned)limit; k++)
		json_array_append_new(*items, item_json(*rows, k, with_resource));
	if ((*rows)->nrows > (unsigned)limit)
		*key = json_pack("[s, I]", db_val(*rows, limit - 1, AUDIT_C_KEY_TS),
		    (json_int_t)db_int(*rows, limit - 1, AUDIT_C_DBID));
	return 0;
}

static int
audit_list_h(struct req *r)
{
	struct audit_filter f;
	struct db_res *rows;
	json_t *after = NULL, *items, *key;
	int limit, rc;

	if (read_filters(r, &f, &limit, &after) < 0 ||
	    text_filter(r, "resource_type", &f.type) < 0 ||
	    text_filter(r, "resource_id", &f.target) < 0) {
		json_decref(after);
		return 0;
	}
	rc = answer(r, &f, limit, after, 1, &rows, &items, &key);
	json_decref(after);
	if (rc < 0)
		return rc;
	return api_page(r, items, key);
}

static int
audit_resource_h(struct req *r)
{
	struct audit_filter f;
	struct db_res *rows;
	json_t *after = NULL, *items, *key, *details, *name;
	int limit, rc;

	if (read_filters(r, &f, &limit, &after) < 0)
		return 0;
	f.type = req_param(r, "resource_type");
	f.target = req_param(r, "resource_id");
	rc = answer(r, &f, limit, after, 0, &rows, &items, &key);
	if (rc < 0) {
		json_decref(after);
		return rc;
	}
	/* Another organization's resource has no rows here: not found. */
	if (rows->nrows == 0 && after == NULL) {
		json_decref(items);
		return api_error(r, API_E_NOT_FOUND, NULL, "no audit trail for %s '%s'",
		    f.type, f.target);
	}
	json_decref(after);
	details = rows->nrows > 0 ? api_json_col(db_val(rows, 0, AUDIT_C_DETAILS)) : NULL;
	name = rows->nrows > 0 ? resource_name(rows, 0, details) : json_null();
	json_decref(details);
	return api_json(r, 200, json_pack("{s:s, s:s, s:o, s:o, s:o}", "resource_id",
	    f.target, "resource_type", f.type, "resource_name", name, "items", items,
	    "next_token", key != NULL ? json_string(page_token(r, key)) : json_null()));
}
