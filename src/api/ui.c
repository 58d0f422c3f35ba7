/* /v1/ui/…: what the web frontend shows, from content documents an
 * operator can change (super admins: PUT /v1/ui/content/{name}).
 * Navigation and marketing are public; navigation shows a signed-in
 * caller what their permissions reach and an anonymous one only the
 * public entries. */
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/ts.h"
#include "dagy/ui.h"
#include "dagy/usage.h"

static int ui_marketing(struct req *r);
static int ui_navigation(struct req *r);
static int ui_dashboard(struct req *r);
static int ui_settings(struct req *r);
static int ui_settings_patch(struct req *r);
static int ui_content_put_h(struct req *r);

const struct route ui_routes[] = {
	{"GET", "/v1/ui/marketing", ui_marketing, PERM_PUBLIC, 0, DIALECT_DAGY},
	{"GET", "/v1/ui/navigation", ui_navigation, PERM_PUBLIC, 0, DIALECT_DAGY},
	{"GET", "/v1/ui/dashboard", ui_dashboard, PERM_RUNS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/ui/settings", ui_settings, PERM_AUTHENTICATED, 0, DIALECT_DAGY},
	{"PATCH", "/v1/ui/settings", ui_settings_patch, PERM_ADMIN_MEMBERS, ROUTE_BODY, DIALECT_DAGY},
	{"PUT", "/v1/ui/content/{name}", ui_content_put_h, PERM_SUPER_ADMIN, ROUTE_BODY, DIALECT_DAGY},
};
const size_t ui_routes_n = sizeof(ui_routes) / sizeof(ui_routes[0]);

/* The documents PUT /v1/ui/content/{name} may replace, with the keys
 * each must hold. */
static const struct {
	const char *name, *keys[4];
} documents[] = {
	{"navigation", {"main_nav", "sidebar_nav", "footer_nav", NULL}},
	{"marketing", {"hero", "features", "pricing", "testimonials"}},
	{"dashboard", {"widgets", NULL, NULL, NULL}},
	{"settings", {"sections", "integrations", "preferences", NULL}},
	{"ai_studio", {"templates", "examples", NULL, NULL}},
};

/* A content document (a new reference; an empty object when missing). */
static int
content(struct req *r, const char *name, json_t **out)
{
	const char *text;
	int rc = ui_content_get(r->db, &r->arena, name, &text);

	if (rc < 0)
		return rc;
	*out = text != NULL ? api_json_col(text) : json_object();
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = json_object();
	}
	return 0;
}

/* May the caller (authed: signed in) see an entry needing permission p
 * (NULL: anyone)? */
static int
visible(struct req *r, int authed, const char *p)
{
	enum perm perm;

	if (p == NULL)
		return 1;
	if (!authed)
		return 0;
	if (strcmp(p, "authenticated") == 0)
		return 1;
	if (strcmp(p, "super_admin") == 0)
		return r->who.super_admin;
	perm = auth_perm_from_name(p);
	return perm != PERM__MAX && r->who.org_id != 0 &&
	    (r->who.perms & PERM_BIT(perm)) != 0;
}

/* A copy of the entries of list the caller may see (a new reference). */
static json_t *
filtered(struct req *r, int authed, json_t *list)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (json_is_object(e) && visible(r, authed,
		    json_string_value(json_object_get(e, "permission"))))
			json_array_append(out, e);
	return out;
}

static int
ui_marketing(struct req *r)
{
	json_t *doc;
	int rc = content(r, "marketing", &doc);

	return rc < 0 ? rc : api_json(r, 200, doc);
}

static int
ui_navigation(struct req *r)
{
	json_t *doc, *out;
	int rc, authed;
	static const char *const areas[] = {"main_nav", "sidebar_nav", "footer_nav"};
	size_t i;

	if ((rc = api_optional_auth(r)) < 0 || rc == 2)
		return rc < 0 ? rc : 0;
	authed = rc == 0;
	if ((rc = content(r, "navigation", &doc)) < 0)
		return rc;
	out = json_object();
	for (i = 0; i < 3; i++)
		json_object_set_new(out, areas[i], filtered(r, authed,
		    json_object_get(doc, areas[i])));
	json_object_set_new(out, "authenticated", json_boolean(authed));
	json_object_set_new(out, "role", authed && r->who.role != NULL ?
	    json_string(r->who.role) : json_null());
	json_decref(doc);
	return api_json(r, 200, out);
}

static int
ui_dashboard(struct req *r)
{
	struct db_res *st, *recent;
	struct usage_totals u;
	json_t *doc, *by7, *items;
	int64_t flows, schedules, total = 0, done = 0, failed = 0;
	time_t start, end;
	char from[32], to[32];
	unsigned i;
	int rc;

	/* This month's metered usage, from the usage rollups. */
	usage_month(time(NULL), &start, &end);
	ts_sql(start, 0, from);
	ts_sql(end, 0, to);
	if ((rc = content(r, "dashboard", &doc)) < 0 ||
	    (rc = usage_totals(r->db, &r->arena, r->who.org_id, from, to, &u)) < 0 ||
	    (rc = ui_runs_by_status(r->db, &r->arena, r->who.org_id, 7, &st)) < 0 ||
	    (rc = ui_recent_runs(r->db, &r->arena, r->who.org_id, 10, &recent)) < 0 ||
	    (rc = ui_counts(r->db, &r->arena, r->who.org_id, &flows, &schedules)) < 0) {
		json_decref(doc);
		return rc;
	}
	by7 = json_object();
	for (i = 0; i < st->nrows; i++) {
		int64_t n = db_int(st, i, 1);

		json_object_set_new(by7, db_val(st, i, 0), json_integer(n));
		total += n;
		if (strcmp(db_val(st, i, 0), "completed") == 0)
			done = n;
		else if (strcmp(db_val(st, i, 0), "failed") == 0)
			failed = n;
	}
	items = json_array();
	for (i = 0; i < recent->nrows; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
		    "type", "run", "run_id", db_val(recent, i, 0),
		    "flow_name", db_val(recent, i, 1), "status", db_val(recent, i, 2),
		    "created_at", db_val(recent, i, 3),
		    "completed_at", api_str_or_null(db_val(recent, i, 4))));
	rc = api_json(r, 200, json_pack("{s:O, s:{s:I, s:o, s:o, s:I, s:I, s:{s:I, s:I, s:I, s:I}}, s:o}",
	    "widgets", json_is_array(json_object_get(doc, "widgets")) ?
	    json_object_get(doc, "widgets") : json_array(),
	    "stats", "runs_7d", (json_int_t)total, "runs_7d_by_status", by7,
	    /* Of the runs that finished either way; null before any has. */
	    "success_rate_7d", done + failed > 0 ?
	    json_real((double)done / (double)(done + failed)) : json_null(),
	    "flows", (json_int_t)flows, "active_schedules", (json_int_t)schedules,
	    "usage_month", "runs", (json_int_t)u.runs, "tasks", (json_int_t)u.tasks,
	    "step_seconds", (json_int_t)(u.step_ms / 1000), "api_calls", (json_int_t)u.api_calls,
	    "recent_activity", items));
	json_decref(doc);
	return rc;
}

static int
ui_settings(struct req *r)
{
	json_t *doc, *prefs, *mine;
	const char *text = NULL;
	int rc;

	if ((rc = content(r, "settings", &doc)) < 0)
		return rc;
	if (r->who.org_id != 0 &&
	    (rc = ui_prefs_get(r->db, &r->arena, r->who.org_id, &text)) < 0) {
		json_decref(doc);
		return rc;
	}
	/* The org's own preferences over the operator's defaults. */
	prefs = json_deep_copy(json_object_get(doc, "preferences"));
	if (!json_is_object(prefs)) {
		json_decref(prefs);
		prefs = json_object();
	}
	mine = api_json_col(text);
	if (json_is_object(mine))
		json_object_update(prefs, mine);
	json_decref(mine);
	rc = api_json(r, 200, json_pack("{s:o, s:O, s:o, s:o}",
	    "sections", filtered(r, 1, json_object_get(doc, "sections")),
	    "integrations", json_is_array(json_object_get(doc, "integrations")) ?
	    json_object_get(doc, "integrations") : json_array(),
	    "preferences", prefs,
	    "organization_id", api_str_or_null(r->who.org_public_id)));
	json_decref(doc);
	return rc;
}

static int
ui_settings_patch(struct req *r)
{
	json_t *prefs, *cur;
	const char *text;
	int rc;

	if (req_json_field(r, "preferences", 0, &prefs) < 0)
		return 0;
	if (prefs == NULL)
		return api_invalid(r, "preferences", "is required");
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ui_prefs_get(r->db, &r->arena, r->who.org_id, &text)) < 0)
		return rc;
	cur = api_json_col(text);
	if (!json_is_object(cur)) {
		json_decref(cur);
		cur = json_object();
	}
	/* A null value drops the org's own setting (back to the default). */
	{
		const char *k;
		json_t *v;

		json_object_foreach(prefs, k, v) {
			if (json_is_null(v))
				json_object_del(cur, k);
			else
				json_object_set(cur, k, v);
		}
	}
	if (strlen(api_json_text(r, cur)) > 65535) {
		json_decref(cur);
		db_rollback(r->db);
		return api_invalid(r, "preferences", "must be at most 64 KiB of JSON");
	}
	if ((rc = ui_prefs_put(r->db, r->who.org_id, api_json_text(r, cur))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "ui.settings.update", "org",
	    r->who.org_public_id, json_pack("{s:o}", "keys", json_object_size(prefs) ?
	    json_deep_copy(prefs) : json_object()))) < 0 ||
	    (rc = db_commit(r->db)) < 0) {
		json_decref(cur);
		return rc;
	}
	json_decref(cur);
	return ui_settings(r);
}

static int
ui_content_put_h(struct req *r)
{
	const char *name = req_param(r, "name");
	json_t *doc;
	size_t i, k;
	int rc;

	for (i = 0; i < sizeof(documents) / sizeof(documents[0]); i++)
		if (strcmp(documents[i].name, name) == 0)
			break;
	if (i == sizeof(documents) / sizeof(documents[0]))
		return api_error(r, API_E_NOT_FOUND, NULL, "no UI document '%s'; there are "
		    "navigation, marketing, dashboard, settings and ai_studio", name);
	if (req_json_field(r, "content", 0, &doc) < 0)
		return 0;
	if (doc == NULL)
		return api_invalid(r, "content", "is required");
	for (k = 0; k < 4 && documents[i].keys[k] != NULL; k++)
		if (json_object_get(doc, documents[i].keys[k]) == NULL)
			return api_invalid(r, "content", "must hold %s", documents[i].keys[k]);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ui_content_put(r->db, name, api_json_text(r, doc))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "ui.content.update", "ui_content", name,
	    NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:O}", "name", name, "content", doc));
}
