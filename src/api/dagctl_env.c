/* dagctl's Environment Variables section (/api/v1/environment-variables):
 * the organization's variables, held as the sealed variables of dagy's
 * "dagctl" environment that every project runs in. A sensitive value is
 * never returned ("***"); names are uppercased as dagctl does. */
#include <ctype.h>
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/dagctl_vars.h"
#include "dagy/environments.h"

static int vars_list(struct req *r);
static int var_get(struct req *r);
static int var_create(struct req *r);
static int var_update(struct req *r);
static int var_delete(struct req *r);

#define V "/api/v1/environment-variables"
#define D DIALECT_DAGCTL
const struct route dagctl_env_routes[] = {
	{"GET", V, vars_list, PERM_ENVIRONMENTS_READ, 0, D},
	{"POST", V, var_create, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, D},
	{"GET", V "/{name}", var_get, PERM_ENVIRONMENTS_READ, 0, D},
	{"PUT", V "/{name}", var_update, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, D},
	{"DELETE", V "/{name}", var_delete, PERM_ENVIRONMENTS_WRITE, 0, D},
};
const size_t dagctl_env_routes_n = sizeof(dagctl_env_routes) / sizeof(dagctl_env_routes[0]);

static const char *
upper(struct req *r, const char *s)
{
	char *u = arena_strdup(&r->arena, s), *p;

	for (p = u; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

/* The "dagctl" environment (made on first use with create); 1 after a
 * 404 when it does not exist and create is not set. */
static int
environment(struct req *r, int create, struct db_res **env)
{
	struct env_fields f = {.protected = -1};
	int rc = env_get(r->db, &r->arena, r->who.org_id, DVARS_ENV, env);

	if (rc == ENV_ENOTFOUND && create)
		rc = env_create(r->db, &r->arena, r->who.org_id, DVARS_ENV, &f, env);
	if (rc == ENV_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "environment variable '%s' not found",
		    req_param(r, "name") ? req_param(r, "name") : ""), 1;
	return rc;
}

static json_t *
var_json(const struct db_res *m, unsigned i, json_t *values)
{
	int sensitive = db_int(m, i, DVARS_C_SENSITIVE) != 0;
	json_t *v = json_object_get(values, db_val(m, i, DVARS_C_NAME));

	return json_pack("{s:s, s:s, s:b, s:b, s:s, s:s}", "name", db_val(m, i, DVARS_C_NAME),
	    "value", sensitive ? "***" : json_is_string(v) ? json_string_value(v) : "",
	    "is_sensitive", sensitive, "mount_as_file", 0,
	    "created_at", db_val(m, i, DVARS_C_CREATED), "updated_at", db_val(m, i, DVARS_C_UPDATED));
}

/* The opened values of the environment (a new object), or NULL with *rc. */
static json_t *
values(struct req *r, const struct db_res *env, int *rc)
{
	json_t *out = NULL;

	if ((*rc = env_vars(r->db, r->srv->keys, &r->arena, r->who.org_id, env, &out)) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static int
vars_list(struct req *r)
{
	struct db_res *env, *rows;
	json_t *items, *vals = NULL;
	unsigned i;
	int rc;

	if ((rc = dvars_list(r->db, &r->arena, r->who.org_id, &rows)) < 0)
		return rc;
	if (rows->nrows > 0) {
		if ((rc = environment(r, 0, &env)) != 0)
			return rc < 0 ? rc : 0;
		if ((vals = values(r, env, &rc)) == NULL)
			return rc;
	}
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, var_json(rows, i, vals));
	json_decref(vals);
	return api_json(r, 200, json_pack("{s:o, s:i}", "environment_variables", items, "total",
	    (int)rows->nrows));
}

/* The variable of the path: its flags row; 1 after a 404. */
static int
var_of(struct req *r, const char **name, struct db_res **m)
{
	int rc;

	*name = upper(r, req_param(r, "name"));
	rc = dvars_get(r->db, &r->arena, r->who.org_id, *name, m);
	if (rc == DVARS_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "environment variable '%s' not found",
		    *name), 1;
	return rc;
}

static int
var_get(struct req *r)
{
	struct db_res *m, *env;
	const char *name;
	json_t *vals;
	int rc;

	if ((rc = var_of(r, &name, &m)) != 0 || (rc = environment(r, 0, &env)) != 0)
		return rc < 0 ? rc : 0;
	if ((vals = values(r, env, &rc)) == NULL)
		return rc;
	rc = api_json(r, 200, var_json(m, 0, vals));
	json_decref(vals);
	return rc;
}

/* value, is_sensitive and mount_as_file of the body; -1 after a 400. */
static int
read_body(struct req *r, int create, const char **value, int *sensitive)
{
	json_t *v;

	if (req_str(r, "value", create, 65536, value) < 0)
		return -1;
	if ((v = json_object_get(r->body_json, "is_sensitive")) != NULL) {
		if (!json_is_boolean(v))
			return api_invalid(r, "is_sensitive", "must be true or false"), -1;
		*sensitive = json_is_true(v);
	}
	/* Steps get variables in their environment only; no file is written. */
	if (json_is_true(json_object_get(r->body_json, "mount_as_file")))
		return api_invalid(r, "mount_as_file", "is not supported by dagy: variables "
		    "reach steps as environment variables"), -1;
	return 0;
}

/* Seals value as the environment's variable name. */
static int
store(struct req *r, const struct db_res *env, const char *name, const char *value)
{
	json_t *one = json_pack("{s:s}", name, value);
	int rc = env_vars_set(r->db, r->srv->keys, &r->arena, r->who.org_id, env, one, 0);

	json_decref(one);
	return rc;
}

static int
var_create(struct req *r)
{
	struct db_res *env, *m;
	const char *name, *value;
	int sensitive = 0, rc;

	if (req_str(r, "name", 1, ENV_VAR_KEY_MAX, &name) < 0 ||
	    read_body(r, 1, &value, &sensitive) < 0)
		return 0;
	name = upper(r, name);
	if (!env_var_key_valid(name))
		return api_invalid(r, "name", "must be a shell variable name (letters, digits, _)");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = environment(r, 1, &env)) < 0 ||
	    (rc = api_env_guard(r, DVARS_ENV, "change variables")) != 0)
		return rc < 0 ? rc : 0;
	rc = dvars_create(r->db, r->who.org_id, name, sensitive);
	if (rc == DVARS_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "environment variable '%s' already exists",
		    name);
	}
	if (rc < 0 || (rc = store(r, env, name, value)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "env_var.create", "env_var", name,
	    json_pack("{s:b}", "is_sensitive", sensitive))) < 0 ||
	    (rc = dvars_get(r->db, &r->arena, r->who.org_id, name, &m)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	{
		json_t *vals = json_pack("{s:s}", name, value);

		rc = api_json(r, 201, var_json(m, 0, vals));
		json_decref(vals);
	}
	return rc;
}

static int
var_update(struct req *r)
{
	struct db_res *env, *m;
	const char *name, *value;
	json_t *vals;
	int sensitive, rc;

	if ((rc = var_of(r, &name, &m)) != 0)
		return rc < 0 ? rc : 0;
	sensitive = (int)db_int(m, 0, DVARS_C_SENSITIVE);
	if (read_body(r, 0, &value, &sensitive) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = environment(r, 1, &env)) < 0 ||
	    (rc = api_env_guard(r, DVARS_ENV, "change variables")) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = dvars_update(r->db, r->who.org_id, name, sensitive)) < 0 ||
	    (value != NULL && (rc = store(r, env, name, value)) < 0) ||
	    (rc = audit_write(r->db, &r->who, "env_var.update", "env_var", name,
	    json_pack("{s:b, s:b}", "is_sensitive", sensitive, "value_changed", value != NULL))) < 0 ||
	    (rc = dvars_get(r->db, &r->arena, r->who.org_id, name, &m)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	if ((vals = values(r, env, &rc)) == NULL)
		return rc;
	rc = api_json(r, 200, var_json(m, 0, vals));
	json_decref(vals);
	return rc;
}

static int
var_delete(struct req *r)
{
	struct db_res *env, *m;
	const char *name;
	int rc;

	if ((rc = var_of(r, &name, &m)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = environment(r, 1, &env)) < 0 ||
	    (rc = api_env_guard(r, DVARS_ENV, "change variables")) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = dvars_delete(r->db, r->who.org_id, name)) < 0 ||
	    (rc = env_var_delete(r->db, r->who.org_id, db_int(env, 0, ENV_C_DBID), name)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "env_var.delete", "env_var", name, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s}", "message",
	    "Environment variable deleted successfully"));
}
