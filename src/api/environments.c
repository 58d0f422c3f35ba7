/* /v1/environments: environments, their variables and promotion order,
 * the deployment diff between two of them and promotion from one to
 * another; and the protection guard the run and deployment routes use. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/deployments.h"
#include "dagy/environments.h"
#include "dagy/flows.h"
#include "dagy/secrets.h"

static int env_create_h(struct req *r);
static int env_list_h(struct req *r);
static int env_get_h(struct req *r);
static int env_patch_h(struct req *r);
static int env_delete_h(struct req *r);
static int env_vars_get_h(struct req *r);
static int env_vars_put_h(struct req *r);
static int env_vars_patch_h(struct req *r);
static int env_var_delete_h(struct req *r);
static int env_reorder_h(struct req *r);
static int env_diff_h(struct req *r);
static int env_promote_h(struct req *r);

const struct route environments_routes[] = {
	{"POST", "/v1/environments", env_create_h, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/environments", env_list_h, PERM_ENVIRONMENTS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/environments/{env_name}", env_get_h, PERM_ENVIRONMENTS_READ, 0, DIALECT_DAGY},
	{"PATCH", "/v1/environments/{env_name}", env_patch_h, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"DELETE", "/v1/environments/{env_name}", env_delete_h, PERM_ENVIRONMENTS_WRITE, 0, DIALECT_DAGY},
	{"GET", "/v1/environments/{env_name}/variables", env_vars_get_h, PERM_ENVIRONMENTS_READ, 0, DIALECT_DAGY},
	{"PUT", "/v1/environments/{env_name}/variables", env_vars_put_h, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"PATCH", "/v1/environments/{env_name}/variables", env_vars_patch_h, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"DELETE", "/v1/environments/{env_name}/variables/{var_key}", env_var_delete_h, PERM_ENVIRONMENTS_WRITE, 0, DIALECT_DAGY},
	{"PUT", "/v1/environments/reorder", env_reorder_h, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/environments/{env_name}/diff/{target_env}", env_diff_h, PERM_ENVIRONMENTS_READ, 0, DIALECT_DAGY},
	{"POST", "/v1/environments/promote", env_promote_h, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, DIALECT_DAGY},
};
const size_t environments_routes_n = sizeof(environments_routes) / sizeof(environments_routes[0]);

int
api_env_guard(struct req *r, const char *env, const char *action)
{
	int allowed, rc;

	if (env == NULL || *env == '\0')
		return 0;
	if ((rc = env_allows(r->db, &r->arena, r->who.org_id, env, r->who.role, &allowed)) < 0)
		return rc;
	if (allowed)
		return 0;
	/* The refusal is recorded on its own, outside whatever was begun. */
	db_rollback(r->db);
	if ((rc = audit_write(r->db, &r->who, "environment.denied", "environment", env,
	    json_pack("{s:s, s:s}", "action", action, "role", r->who.role ? r->who.role : ""))) < 0)
		return rc;
	api_error(r, API_E_FORBIDDEN, json_pack("{s:s}", "environment", env),
	    "environment '%s' is protected: role '%s' may not %s in it", env,
	    r->who.role ? r->who.role : "none", action);
	return 1;
}

static json_t *
env_json(const struct db_res *e, unsigned i)
{
	const char *order = db_val(e, i, ENV_C_ORDER);
	int prot = db_int(e, i, ENV_C_PROTECTED) != 0;

	return json_pack("{s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:s, s:s}",
	    "env_id", db_val(e, i, ENV_C_ID), "env_name", db_val(e, i, ENV_C_NAME),
	    "default_executor", db_val(e, i, ENV_C_EXECUTOR),
	    "config_json", db_val(e, i, ENV_C_CONFIG) != NULL ?
	    api_json_col(db_val(e, i, ENV_C_CONFIG)) : json_object(),
	    "is_protected", prot,
	    "protected_roles", api_json_col(db_val(e, i, ENV_C_ROLES) != NULL ?
	    db_val(e, i, ENV_C_ROLES) : env_default_roles),
	    "promotion_order", order != NULL ? json_integer(db_int(e, i, ENV_C_ORDER)) : json_null(),
	    "created_at", db_val(e, i, ENV_C_CREATED), "updated_at", db_val(e, i, ENV_C_UPDATED));
}

static int
not_found(struct req *r, const char *name)
{
	return api_error(r, API_E_NOT_FOUND, NULL, "environment '%s' not found", name);
}

/* The environment a path names; answers 404 itself (1). */
static int
find(struct req *r, const char *param, struct db_res **row)
{
	const char *name = req_param(r, param);
	int rc = env_get(r->db, &r->arena, r->who.org_id, name, row);

	if (rc == ENV_ENOTFOUND)
		return not_found(r, name), 1;
	return rc;
}

/* Reads the settable fields into f; -1 after a 400. */
static int
read_fields(struct req *r, struct env_fields *f)
{
	json_t *config, *roles, *prot = json_object_get(r->body_json, "is_protected"), *v;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->protected = -1;
	if (req_str(r, "default_executor", 0, 64, &f->executor) < 0 ||
	    req_json_field(r, "config_json", 0, &config) < 0 ||
	    req_json_field(r, "protected_roles", 1, &roles) < 0)
		return -1;
	if (f->executor != NULL && !api_executor_valid(f->executor))
		return api_invalid(r, "default_executor", "must be local, lambda, "
		    "flow-executor, step-functions, ecs, kubernetes or \"\""), -1;
	if (prot != NULL && !json_is_boolean(prot))
		return api_invalid(r, "is_protected", "must be true or false"), -1;
	if (prot != NULL)
		f->protected = json_is_true(prot);
	if (roles != NULL) {
		if (!json_is_array(roles))
			return api_invalid(r, "protected_roles", "must be an array of roles"), -1;
		json_array_foreach(roles, i, v)
			if (!json_is_string(v) || !auth_role_valid(json_string_value(v)))
				return api_invalid(r, "protected_roles", "must list roles of "
				    "owner, admin, developer and viewer"), -1;
	}
	f->config = api_json_text(r, config);
	f->roles = api_json_text(r, roles);
	return 0;
}

static int
env_create_h(struct req *r)
{
	const char *name;
	struct env_fields f;
	struct db_res *row;
	int rc;

	if (req_str(r, "env_name", 1, ENV_NAME_MAX, &name) < 0 || read_fields(r, &f) < 0)
		return 0;
	if (!env_name_valid(name))
		return api_invalid(r, "env_name", "must be 1-64 letters, digits, '.', '_' or '-'");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = env_create(r->db, &r->arena, r->who.org_id, name, &f, &row);
	if (rc == ENV_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "environment '%s' already exists", name);
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, "environment.create", "environment", name,
	    json_pack("{s:b}", "is_protected", f.protected > 0))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, env_json(row, 0));
}

static int
env_list_h(struct req *r)
{
	struct db_res *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = env_list(r->db, &r->arena, r->who.org_id, &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, env_json(rows, i));
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

static int
env_get_h(struct req *r)
{
	struct db_res *row;
	int rc;

	if ((rc = find(r, "env_name", &row)) != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, env_json(row, 0));
}

static const char *const patchable[] = {"default_executor", "config_json",
	"is_protected", "protected_roles", NULL};

static int
env_patch_h(struct req *r)
{
	const char *name = req_param(r, "env_name"), *key;
	struct env_fields f;
	struct db_res *row;
	json_t *v;
	int rc, i;

	json_object_foreach(r->body_json, key, v) {
		for (i = 0; patchable[i] != NULL && strcmp(patchable[i], key) != 0; i++)
			;
		if (patchable[i] == NULL)
			return api_invalid(r, key, "cannot be changed");
	}
	if (json_object_size(r->body_json) == 0)
		return api_error(r, API_E_VALIDATION, NULL, "nothing to change");
	if (read_fields(r, &f) < 0)
		return 0;
	if ((rc = find(r, "env_name", &row)) != 0)
		return rc < 0 ? rc : 0;
	/* Only those a protected environment admits may lift or change it. */
	if ((rc = api_env_guard(r, name, "change settings")) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = env_update(r->db, &r->arena, r->who.org_id, name, &f, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "environment.update", "environment", name,
	    json_incref(r->body_json))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, env_json(row, 0));
}

static int
env_delete_h(struct req *r)
{
	const char *name = req_param(r, "env_name");
	struct db_res *row;
	int rc;

	if ((rc = find(r, "env_name", &row)) != 0)
		return rc < 0 ? rc : 0;
	if (db_int(row, 0, ENV_C_PROTECTED))
		return api_error(r, API_E_PROTECTED_ENVIRONMENT, NULL,
		    "Cannot delete protected environment '%s'", name);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = env_delete(r->db, r->who.org_id, db_int(row, 0, ENV_C_DBID))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "environment.delete", "environment", name,
	    NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

/* {"env_name", "variables"} as stored now. */
static int
vars_answer(struct req *r, const struct db_res *env)
{
	json_t *vars;
	int rc = env_vars(r->db, r->srv->keys, &r->arena, r->who.org_id, env, &vars);

	if (rc == SECRETS_EAUTH || rc == SECRETS_EKEY || rc == SECRETS_EFORMAT)
		return api_error(r, API_E_INTERNAL, NULL, "a variable of environment '%s' "
		    "cannot be opened: the key file does not open it or it was tampered with",
		    db_val(env, 0, ENV_C_NAME));
	if (rc < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:o}", "env_name",
	    db_val(env, 0, ENV_C_NAME), "variables", vars));
}

static int
env_vars_get_h(struct req *r)
{
	struct db_res *row;
	int rc;

	if ((rc = find(r, "env_name", &row)) != 0)
		return rc < 0 ? rc : 0;
	return vars_answer(r, row);
}

/* PUT replaces, PATCH merges; values may be strings, numbers or booleans
 * (stored as their text). */
static int
vars_write(struct req *r, int replace)
{
	json_t *vars = json_object_get(r->body_json, "variables"), *v, *clean, *keys;
	const char *key;
	struct db_res *row;
	int rc;

	if (!json_is_object(vars))
		return api_invalid(r, "variables", "must be a JSON object");
	clean = json_object();
	json_object_foreach(vars, key, v) {
		char *text;

		if (!env_var_key_valid(key)) {
			json_decref(clean);
			return api_error(r, API_E_VALIDATION, json_pack("{s:s}", "variables", key),
			    "variable '%s' needs a name of letters, digits and '_' (not "
			    "starting with a digit), at most 255 characters", key);
		}
		if (json_is_string(v)) {
			json_object_set(clean, key, v);
			continue;
		}
		if (!json_is_number(v) && !json_is_boolean(v)) {
			json_decref(clean);
			return api_error(r, API_E_VALIDATION, json_pack("{s:s}", "variables", key),
			    "variable '%s' must be a string, number or boolean", key);
		}
		text = json_dumps(v, JSON_ENCODE_ANY);
		json_object_set_new(clean, key, json_string(text));
		free(text);
	}
	if ((rc = find(r, "env_name", &row)) != 0 ||
	    (rc = api_env_guard(r, db_val(row, 0, ENV_C_NAME), "change variables")) != 0) {
		json_decref(clean);
		return rc < 0 ? rc : 0;
	}
	/* The audit row names the keys, never the values. */
	keys = json_array();
	json_object_foreach(clean, key, v)
		json_array_append_new(keys, json_string(key));
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = env_vars_set(r->db, r->srv->keys, &r->arena, r->who.org_id, row, clean,
	    replace)) < 0 ||
	    (rc = audit_write(r->db, &r->who, replace ? "environment.variables.replace" :
	    "environment.variables.merge", "environment", db_val(row, 0, ENV_C_NAME),
	    json_pack("{s:o}", "keys", keys))) < 0) {
		json_decref(clean);
		return rc;
	}
	json_decref(clean);
	if ((rc = db_commit(r->db)) < 0)
		return rc;
	return vars_answer(r, row);
}

static int
env_vars_put_h(struct req *r)
{
	return vars_write(r, 1);
}

static int
env_vars_patch_h(struct req *r)
{
	return vars_write(r, 0);
}

static int
env_var_delete_h(struct req *r)
{
	const char *key = req_param(r, "var_key");
	struct db_res *row;
	int rc;

	if ((rc = find(r, "env_name", &row)) != 0 ||
	    (rc = api_env_guard(r, db_val(row, 0, ENV_C_NAME), "change variables")) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = env_var_delete(r->db, r->who.org_id, db_int(row, 0, ENV_C_DBID), key)) < 0)
		return rc;
	if (rc == 0) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "environment '%s' has no variable '%s'",
		    db_val(row, 0, ENV_C_NAME), key);
	}
	if ((rc = audit_write(r->db, &r->who, "environment.variables.delete", "environment",
	    db_val(row, 0, ENV_C_NAME), json_pack("{s:s}", "key", key))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s}", "deleted", key,
	    "env_name", db_val(row, 0, ENV_C_NAME)));
}

static int
env_reorder_h(struct req *r)
{
	json_t *order = json_object_get(r->body_json, "order"), *v, *w;
	size_t i, j;
	int rc;

	if (!json_is_array(order) || json_array_size(order) == 0)
		return api_invalid(r, "order", "must be a non-empty array of environment names");
	json_array_foreach(order, i, v) {
		if (!json_is_string(v))
			return api_invalid(r, "order", "must be a non-empty array of environment names");
		json_array_foreach(order, j, w)
			if (j < i && strcmp(json_string_value(v), json_string_value(w)) == 0)
				return api_invalid(r, "order", "names '%s' twice", json_string_value(v));
	}
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = env_reorder(r->db, r->who.org_id, order);
	if (rc == ENV_ENOTFOUND) {
		db_rollback(r->db);
		json_array_foreach(order, i, v) {
			struct db_res *row;

			if (env_get(r->db, &r->arena, r->who.org_id, json_string_value(v), &row) ==
			    ENV_ENOTFOUND)
				return api_error(r, API_E_VALIDATION, json_pack("{s:s}", "order",
				    json_string_value(v)), "environment '%s' not found",
				    json_string_value(v));
		}
		return api_error(r, API_E_VALIDATION, NULL, "an environment in order was not found");
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, "environment.reorder", "environment", "*",
	    json_pack("{s:O}", "order", order))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return env_list_h(r);
}

static json_t *
dep_brief(const struct db_res *d, unsigned i)
{
	return json_pack("{s:s, s:s, s:s, s:s}",
	    "deployment_name", db_val(d, i, DEPLOY_C_NAME),
	    "flow_name", db_val(d, i, DEPLOY_C_FLOW),
	    "flow_version", db_val(d, i, DEPLOY_C_VERSION),
	    "updated_at", db_val(d, i, DEPLOY_C_UPDATED));
}

/* Every deployment of an environment, as dep_brief objects. */
static int
deployments_of(struct req *r, const char *env, json_t **out)
{
	struct db_res *rows;
	const char *after = NULL;
	unsigned i;
	int rc;

	*out = json_array();
	do {
		if ((rc = deploy_list(r->db, &r->arena, r->who.org_id, env, after, 500,
		    &rows)) < 0) {
			json_decref(*out);
			return rc;
		}
		for (i = 0; i < rows->nrows; i++)
			json_array_append_new(*out, dep_brief(rows, i));
		if (rows->nrows > 0)
			after = db_val(rows, rows->nrows - 1, DEPLOY_C_NAME);
	} while (rows->nrows == 500);
	return 0;
}

static const char *
str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Deployments pair up by flow: a flow deployed in both at the same
 * version is in step; at different versions it "differs"; otherwise it
 * is only on one side. */
static int
env_diff_h(struct req *r)
{
	struct db_res *src, *dst;
	json_t *a, *b, *only_a, *only_b, *differs, *x, *y;
	size_t i, j;
	int rc;

	if ((rc = find(r, "env_name", &src)) != 0 || (rc = find(r, "target_env", &dst)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = deployments_of(r, db_val(src, 0, ENV_C_NAME), &a)) < 0)
		return rc;
	if ((rc = deployments_of(r, db_val(dst, 0, ENV_C_NAME), &b)) < 0) {
		json_decref(a);
		return rc;
	}
	only_a = json_array();
	only_b = json_array();
	differs = json_array();
	json_array_foreach(a, i, x) {
		json_t *other = NULL;
		int same = 0;

		json_array_foreach(b, j, y) {
			if (strcmp(str_of(x, "flow_name"), str_of(y, "flow_name")) != 0)
				continue;
			if (other == NULL)
				other = y;
			if (strcmp(str_of(x, "flow_version"), str_of(y, "flow_version")) == 0)
				same = 1;
		}
		if (other == NULL)
			json_array_append(only_a, x);
		else if (!same)
			json_array_append_new(differs, json_pack("{s:s, s:O, s:O}", "flow_name",
			    str_of(x, "flow_name"), "source", x, "target", other));
	}
	json_array_foreach(b, j, y) {
		int found = 0;

		json_array_foreach(a, i, x)
			if (strcmp(str_of(x, "flow_name"), str_of(y, "flow_name")) == 0)
				found = 1;
		if (!found)
			json_array_append(only_b, y);
	}
	json_decref(a);
	json_decref(b);
	return api_json(r, 200, json_pack("{s:s, s:s, s:o, s:o, s:o}",
	    "source_environment", db_val(src, 0, ENV_C_NAME),
	    "target_environment", db_val(dst, 0, ENV_C_NAME),
	    "only_in_source", only_a, "only_in_target", only_b, "version_differs", differs));
}

/* my-flow-staging promoted to production becomes my-flow-production;
 * a name without the source environment's suffix gets the target's. */
static const char *
promoted_name(struct req *r, const char *source, const char *from, const char *to)
{
	size_t ls = strlen(source), lf = strlen(from);

	if (ls > lf + 1 && source[ls - lf - 1] == '-' && strcmp(source + ls - lf, from) == 0)
		return arena_printf(&r->arena, "%.*s-%s", (int)(ls - lf - 1), source, to);
	return arena_printf(&r->arena, "%s-%s", source, to);
}

static int
env_promote_h(struct req *r)
{
	const char *source, *target, *name, *version, *from;
	struct db_res *dep, *env, *existing, *v, *row;
	struct deploy_settings s;
	int rc, created;

	if (req_name(r, "source_deployment", 1, &source) < 0 ||
	    req_str(r, "target_environment", 1, ENV_NAME_MAX, &target) < 0 ||
	    req_name(r, "new_deployment_name", 0, &name) < 0 ||
	    req_version(r, "flow_version", &version) < 0)
		return 0;
	rc = deploy_get(r->db, &r->arena, r->who.org_id, source, &dep);
	if (rc == DEPLOY_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "deployment '%s' not found", source);
	if (rc < 0)
		return rc;
	rc = env_get(r->db, &r->arena, r->who.org_id, target, &env);
	if (rc == ENV_ENOTFOUND)
		return not_found(r, target);
	if (rc < 0)
		return rc;
	if ((rc = api_env_guard(r, target, "deploy")) != 0)
		return rc < 0 ? rc : 0;
	from = db_val(dep, 0, DEPLOY_C_ENV);
	if (name == NULL)
		name = promoted_name(r, source, from, target);
	if (strlen(name) > 200)
		return api_invalid(r, "new_deployment_name", "is needed: the derived name is too long");
	if (strcmp(name, source) == 0)
		return api_invalid(r, "new_deployment_name", "must differ from source_deployment");
	if (version == NULL)
		version = db_val(dep, 0, DEPLOY_C_VERSION);
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = deploy_get(r->db, &r->arena, r->who.org_id, name, &existing);
	if (rc == 0 && strcmp(db_val(existing, 0, DEPLOY_C_ENV), target) != 0) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "deployment '%s' exists in environment "
		    "'%s', not '%s'", name, db_val(existing, 0, DEPLOY_C_ENV), target);
	}
	if (rc < 0 && rc != DEPLOY_ENOTFOUND)
		return rc;
	rc = flows_version(r->db, &r->arena, r->who.org_id, db_val(dep, 0, DEPLOY_C_FLOW),
	    version, &v);
	if (rc == FLOWS_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' has no version '%s'",
		    db_val(dep, 0, DEPLOY_C_FLOW), version);
	}
	if (rc < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.environment = target;
	s.executor = db_val(dep, 0, DEPLOY_C_EXECUTOR);
	s.mode = db_val(dep, 0, DEPLOY_C_MODE);
	if ((rc = deploy_upsert(r->db, &r->arena, r->who.org_id, name,
	    db_int(v, 0, FLOWS_V_FLOW_ID), db_int(v, 0, FLOWS_V_ID), &s, &created, &row)) < 0 ||
	    (rc = deploy_mark_promoted(r->db, r->who.org_id, name, from, source)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "deployment.promote", "deployment", name,
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "source_deployment", source,
	    "source_environment", from, "target_environment", target,
	    "flow_name", db_val(dep, 0, DEPLOY_C_FLOW),
	    "flow_version", db_val(v, 0, FLOWS_V_VERSION)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
	    "target_deployment", name, "flow_name", db_val(dep, 0, DEPLOY_C_FLOW),
	    "flow_version", db_val(v, 0, FLOWS_V_VERSION), "target_environment", target,
	    "promoted_from_env", from, "promoted_from_deployment", source,
	    "created", created));
}
