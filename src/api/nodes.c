/* /v1/nodes: the node registry (built-in and the organization's custom
 * node types) and the connection check the Flow Designer asks before it
 * draws an edge; flow registration runs the same check on every edge. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/nodes.h"

static int nodes_list_h(struct req *r);
static int nodes_builtin_h(struct req *r);
static int nodes_custom_h(struct req *r);
static int nodes_categories_h(struct req *r);
static int nodes_search_h(struct req *r);
static int nodes_get_h(struct req *r);
static int nodes_create_h(struct req *r);
static int nodes_update_h(struct req *r);
static int nodes_delete_h(struct req *r);
static int nodes_validate_h(struct req *r);

const struct route nodes_routes[] = {
	{"GET", "/v1/nodes/registry", nodes_list_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/nodes/registry/builtin", nodes_builtin_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/nodes/registry/custom", nodes_custom_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/nodes/registry/categories", nodes_categories_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/nodes/registry/search", nodes_search_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/nodes/registry/{node_type}", nodes_get_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"POST", "/v1/nodes/registry", nodes_create_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"PUT", "/v1/nodes/registry/{node_type}", nodes_update_h, PERM_FLOWS_WRITE, ROUTE_BODY,
	    DIALECT_DAGY},
	{"DELETE", "/v1/nodes/registry/{node_type}", nodes_delete_h, PERM_FLOWS_WRITE, 0,
	    DIALECT_DAGY},
	{"POST", "/v1/nodes/validate-connection", nodes_validate_h, PERM_FLOWS_READ, ROUTE_BODY,
	    DIALECT_DAGY},
};
const size_t nodes_routes_n = sizeof(nodes_routes) / sizeof(nodes_routes[0]);

/* A custom node row as the registry shows it. */
static json_t *
custom_json(const struct db_res *n, unsigned i)
{
	json_t *d = api_json_col(db_val(n, i, NODES_C_DEF));

	if (!json_is_object(d)) {
		json_decref(d);
		d = json_object();
	}
	json_object_set_new(d, "node_type", json_string(db_val(n, i, NODES_C_TYPE)));
	json_object_set_new(d, "official", json_false());
	json_object_set_new(d, "version", json_integer(db_int(n, i, NODES_C_VERSION)));
	json_object_set_new(d, "created_at", json_string(db_val(n, i, NODES_C_CREATED)));
	json_object_set_new(d, "updated_at", json_string(db_val(n, i, NODES_C_UPDATED)));
	if (json_object_get(d, "tags") == NULL)
		json_object_set_new(d, "tags", json_array());
	if (json_object_get(d, "config_schema") == NULL)
		json_object_set_new(d, "config_schema", json_array());
	return d;
}

/* An org_id query parameter, where given, must be the caller's own. */
static int
check_org(struct req *r)
{
	const char *org = req_query(r, "org_id");

	if (org != NULL && (r->who.org_public_id == NULL || strcmp(org, r->who.org_public_id) != 0))
		return api_error(r, API_E_FORBIDDEN, json_pack("{s:s}", "org_id",
		    "is not the organization of this request"),
		    "org_id '%s' is not the organization of this request", org), -1;
	return 0;
}

/* The org's custom nodes as registry items (a new array), or NULL with *rc. */
static json_t *
custom_items(struct req *r, int *rc)
{
	struct db_res *rows;
	json_t *items;
	unsigned i;

	if ((*rc = nodes_custom_list(r->db, &r->arena, r->who.org_id, &rows)) < 0)
		return NULL;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, custom_json(rows, i));
	return items;
}

static int
listing(struct req *r, int builtin, int custom)
{
	json_t *items = json_array(), *mine = NULL;
	size_t nb = 0, nc = 0;
	int rc;

	if (check_org(r) < 0) {
		json_decref(items);
		return 0;
	}
	if (builtin) {
		json_array_extend(items, nodes_builtin_all());
		nb = json_array_size(items);
	}
	if (custom) {
		if ((mine = custom_items(r, &rc)) == NULL) {
			json_decref(items);
			return rc;
		}
		nc = json_array_size(mine);
		json_array_extend(items, mine);
		json_decref(mine);
	}
	return api_json(r, 200, json_pack("{s:o, s:I, s:I, s:I}", "items", items,
	    "total", (json_int_t)(nb + nc), "builtin_count", (json_int_t)nb,
	    "custom_count", (json_int_t)nc));
}

static int
nodes_list_h(struct req *r)
{
	return listing(r, 1, 1);
}

static int
nodes_builtin_h(struct req *r)
{
	return listing(r, 1, 0);
}

static int
nodes_custom_h(struct req *r)
{
	return listing(r, 0, 1);
}

static int
nodes_categories_h(struct req *r)
{
	json_t *all = json_array(), *mine, *cats = json_array(), *d;
	size_t i, k;
	int rc;

	if ((mine = custom_items(r, &rc)) == NULL) {
		json_decref(all);
		json_decref(cats);
		return rc;
	}
	json_array_extend(all, nodes_builtin_all());
	json_array_extend(all, mine);
	json_decref(mine);
	for (i = 0; i < nodes_ncategories; i++) {
		json_int_t n = 0;

		json_array_foreach(all, k, d)
			n += strcmp(json_string_value(json_object_get(d, "category")),
			    nodes_categories[i].id) == 0;
		json_array_append_new(cats, json_pack("{s:s, s:s, s:I}", "id",
		    nodes_categories[i].id, "label", nodes_categories[i].label, "count", n));
	}
	json_decref(all);
	return api_json(r, 200, json_pack("{s:o}", "categories", cats));
}

static int
matches(json_t *d, const char *q)
{
	static const char *const fields[] = {"node_type", "label", "description"};
	json_t *t;
	size_t i;

	for (i = 0; i < 3; i++) {
		const char *s = json_string_value(json_object_get(d, fields[i]));

		if (s != NULL && strcasestr(s, q) != NULL)
			return 1;
	}
	json_array_foreach(json_object_get(d, "tags"), i, t)
		if (json_is_string(t) && strcasestr(json_string_value(t), q) != NULL)
			return 1;
	return 0;
}

static int
nodes_search_h(struct req *r)
{
	const char *q = req_query(r, "q");
	json_t *all, *mine, *items, *d;
	size_t i;
	int rc;

	if (q == NULL || *q == '\0')
		return api_invalid(r, "q", "is required: the text to look for");
	if (strlen(q) > 200)
		return api_invalid(r, "q", "may be at most 200 characters");
	if (check_org(r) < 0)
		return 0;
	if ((mine = custom_items(r, &rc)) == NULL)
		return rc;
	all = json_array();
	json_array_extend(all, nodes_builtin_all());
	json_array_extend(all, mine);
	json_decref(mine);
	items = json_array();
	json_array_foreach(all, i, d)
		if (matches(d, q))
			json_array_append(items, d);
	json_decref(all);
	return api_json(r, 200, json_pack("{s:s, s:o, s:I}", "query", q, "items", items,
	    "total", (json_int_t)json_array_size(items)));
}

static int
not_found(struct req *r, const char *type)
{
	return api_error(r, API_E_NOT_FOUND, NULL, "node type '%s' not found", type);
}

static int
nodes_get_h(struct req *r)
{
	const char *type = req_param(r, "node_type");
	json_t *d = nodes_builtin(type), *versions;
	struct db_res *row, *old;
	unsigned i;
	int rc;

	if (d != NULL)
		return api_json(r, 200, json_incref(d));
	rc = nodes_custom_get(r->db, &r->arena, r->who.org_id, type, &row);
	if (rc == NODES_ENOTFOUND)
		return not_found(r, type);
	if (rc < 0 || (rc = nodes_custom_versions(r->db, &r->arena, r->who.org_id, type, &old)) < 0)
		return rc;
	d = custom_json(row, 0);
	versions = json_array();
	for (i = 0; i < old->nrows; i++) {
		json_t *def = api_json_col(db_val(old, i, 1));

		json_array_append_new(versions, json_pack("{s:I, s:s, s:O}", "version",
		    (json_int_t)db_int(old, i, 0), "created_at", db_val(old, i, 2),
		    "import_path", json_object_get(def, "import_path")));
		json_decref(def);
	}
	json_array_append_new(versions, json_pack("{s:I, s:s, s:O}", "version",
	    (json_int_t)db_int(row, 0, NODES_C_VERSION), "created_at",
	    db_val(row, 0, NODES_C_UPDATED), "import_path", json_object_get(d, "import_path")));
	json_object_set_new(d, "versions", versions);
	return api_json(r, 200, d);
}

/* Checks def and answers 400 naming the field when it is wrong. */
static int
check_def(struct req *r, json_t *def)
{
	char field[64], reason[256];

	if (nodes_check_definition(def, field, reason) < 0)
		return api_invalid(r, field, "%s", reason), -1;
	return 0;
}

static const char *
def_text(struct req *r, json_t *def)
{
	static const char *const row_fields[] = {"node_type", "version", "official",
		"created_at", "updated_at", "versions"};
	json_t *copy = json_deep_copy(def);
	const char *text;
	size_t i;

	/* The row holds these (a GET's body may be sent back as a PUT). */
	for (i = 0; i < sizeof(row_fields) / sizeof(row_fields[0]); i++)
		json_object_del(copy, row_fields[i]);
	text = api_json_text(r, copy);
	json_decref(copy);
	return text;
}

static int
nodes_create_h(struct req *r)
{
	json_t *def = r->body_json;
	const char *type = json_string_value(json_object_get(def, "node_type"));
	struct db_res *row;
	int rc;

	if (check_def(r, def) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = nodes_custom_create(r->db, &r->arena, r->who.org_id, r->who.user_id, type,
	    def_text(r, def), &row);
	if (rc == NODES_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "node type '%s' already exists", type);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "node.create", "node", type,
	    json_pack("{s:s}", "import_path",
	    json_string_value(json_object_get(def, "import_path"))))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, custom_json(row, 0));
}

static int
nodes_update_h(struct req *r)
{
	const char *type = req_param(r, "node_type");
	json_t *body = r->body_json, *def, *given = json_object_get(body, "node_type");
	struct db_res *row;
	int rc;

	if (nodes_builtin(type) != NULL)
		return api_error(r, API_E_FORBIDDEN, NULL,
		    "'%s' is a built-in node type and cannot be changed", type);
	if (given != NULL && (!json_is_string(given) || strcmp(json_string_value(given), type) != 0))
		return api_invalid(r, "node_type", "cannot be changed (it is '%s')", type);
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = nodes_custom_lock(r->db, &r->arena, r->who.org_id, type, &row);
	if (rc == NODES_ENOTFOUND) {
		db_rollback(r->db);
		return not_found(r, type);
	}
	if (rc < 0)
		return rc;
	/* Partial update: the body's fields over the current definition. */
	def = api_json_col(db_val(row, 0, NODES_C_DEF));
	if (!json_is_object(def)) {
		json_decref(def);
		def = json_object();
	}
	json_object_update(def, body);
	json_object_set_new(def, "node_type", json_string(type));
	if (check_def(r, def) < 0) {
		db_rollback(r->db);
		json_decref(def);
		return 0;
	}
	rc = nodes_custom_update(r->db, &r->arena, r->who.org_id, type, def_text(r, def), &row);
	json_decref(def);
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "node.update", "node", type,
	    json_pack("{s:I}", "version", (json_int_t)db_int(row, 0, NODES_C_VERSION)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, custom_json(row, 0));
}

static int
nodes_delete_h(struct req *r)
{
	const char *type = req_param(r, "node_type");
	int rc;

	if (nodes_builtin(type) != NULL)
		return api_error(r, API_E_FORBIDDEN, NULL,
		    "'%s' is a built-in node type; only custom nodes can be deleted", type);
	if ((rc = db_begin(r->db)) < 0 || (rc = nodes_custom_delete(r->db, r->who.org_id, type)) < 0)
		return rc;
	if (rc == 0) {
		db_rollback(r->db);
		return not_found(r, type);
	}
	if ((rc = audit_write(r->db, &r->who, "node.delete", "node", type, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

/* The definition of a node type named by a body field: built-in or the
 * org's custom one (a new reference), or NULL after a 400. */
static json_t *
def_of(struct req *r, const char *field, int *rc)
{
	const char *type;
	struct db_res *row;
	json_t *d;

	*rc = 0;
	if (req_str(r, field, 1, 64, &type) < 0)
		return NULL;
	if ((d = nodes_builtin(type)) != NULL)
		return json_incref(d);
	*rc = nodes_custom_get(r->db, &r->arena, r->who.org_id, type, &row);
	if (*rc == NODES_ENOTFOUND) {
		*rc = 0;
		api_invalid(r, field, "'%s' is no node type", type);
		return NULL;
	}
	return *rc < 0 ? NULL : custom_json(row, 0);
}

/* An optional count field: 0 with *n, or -1 after a 400. */
static int
count_field(struct req *r, const char *field, long *n)
{
	json_t *v = json_object_get(r->body_json, field);

	*n = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
		return api_invalid(r, field, "must be an integer from 0 to 1000000"), -1;
	*n = (long)json_integer_value(v);
	return 0;
}

static json_t *
connector_brief(json_t *c)
{
	if (c == NULL)
		return json_null();
	return json_pack("{s:O, s:O, s:O}", "id", json_object_get(c, "id"), "name",
	    json_object_get(c, "name"), "data_types", json_object_get(c, "data_types"));
}

static int
nodes_validate_h(struct req *r)
{
	json_t *src = NULL, *dst = NULL, *errors, *sc, *dc;
	const char *sconn, *dconn;
	long ns, nd;
	int rc = 0;

	if (req_str(r, "source_connector_id", 0, 64, &sconn) < 0 ||
	    req_str(r, "target_connector_id", 0, 64, &dconn) < 0 ||
	    count_field(r, "existing_source_connections", &ns) < 0 ||
	    count_field(r, "existing_target_connections", &nd) < 0 ||
	    (src = def_of(r, "source_node_type", &rc)) == NULL ||
	    (dst = def_of(r, "target_node_type", &rc)) == NULL)
		goto done;
	errors = json_array();
	nodes_check_connection(src, sconn, dst, dconn, ns, nd, errors, &sc, &dc);
	rc = api_json(r, 200, json_pack("{s:b, s:o, s:o, s:o}", "valid",
	    json_array_size(errors) == 0, "errors", errors, "source_connector",
	    connector_brief(sc), "target_connector", connector_brief(dc)));
done:
	json_decref(src);
	json_decref(dst);
	return rc;
}
