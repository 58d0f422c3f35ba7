/* /v1/secrets: named values sealed at rest, scoped to the organization or
 * to one environment. Only …/value answers with a value; nothing else
 * (responses, audit details, errors, logs) ever holds one. */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/environments.h"
#include "dagy/secrets.h"

static int secret_create_h(struct req *r);
static int secret_list_h(struct req *r);
static int secret_get_h(struct req *r);
static int secret_value_h(struct req *r);
static int secret_put_h(struct req *r);
static int secret_delete_h(struct req *r);

const struct route secrets_routes[] = {
	{"POST", "/v1/secrets", secret_create_h, PERM_SECRETS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/secrets", secret_list_h, PERM_SECRETS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/secrets/{secret_name}", secret_get_h, PERM_SECRETS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/secrets/{secret_name}/value", secret_value_h, PERM_SECRETS_READ, 0, DIALECT_DAGY},
	{"PUT", "/v1/secrets/{secret_name}", secret_put_h, PERM_SECRETS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"DELETE", "/v1/secrets/{secret_name}", secret_delete_h, PERM_SECRETS_WRITE, 0, DIALECT_DAGY},
};
const size_t secrets_routes_n = sizeof(secrets_routes) / sizeof(secrets_routes[0]);

/* The environment of a row: null for the organization-wide scope. */
static json_t *
env_json(const struct db_res *s, unsigned i)
{
	const char *env = db_val(s, i, SECRETS_C_ENV);

	return *env != '\0' ? json_string(env) : json_null();
}

static json_t *
secret_json(const struct db_res *s, unsigned i)
{
	return json_pack("{s:s, s:s, s:o, s:s, s:s}",
	    "secret_id", db_val(s, i, SECRETS_C_ID),
	    "secret_name", db_val(s, i, SECRETS_C_NAME),
	    "environment", env_json(s, i),
	    "created_at", db_val(s, i, SECRETS_C_CREATED),
	    "updated_at", db_val(s, i, SECRETS_C_UPDATED));
}

/* An environment named in the query (or, for writes, the body): 0 with
 * *env (NULL when none), or -1 after a 400. */
static int
env_param(struct req *r, int from_body, const char **env)
{
	*env = req_query(r, "environment");
	if (*env == NULL && from_body && req_str(r, "environment", 0, ENV_NAME_MAX, env) < 0)
		return -1;
	if (*env != NULL && **env != '\0' && !env_name_valid(*env))
		return api_invalid(r, "environment", "must be 1-64 letters, digits, "
		    "'.', '_' or '-'"), -1;
	return 0;
}

/* The secret a path names; answers 404 or 409 itself (1). */
static int
find(struct req *r, const char *env, struct db_res **row)
{
	const char *name = req_param(r, "secret_name");
	int rc = secrets_get(r->db, &r->arena, r->who.org_id, name, env, row);

	if (rc == SECRETS_ENOTFOUND) {
		if (env != NULL && *env != '\0')
			api_error(r, API_E_NOT_FOUND, NULL,
			    "secret '%s' not found in environment '%s'", name, env);
		else
			api_error(r, API_E_NOT_FOUND, NULL, "secret '%s' not found", name);
		return 1;
	}
	if (rc == SECRETS_EAMBIGUOUS) {
		api_error(r, API_E_CONFLICT, json_pack("{s:s}", "environment",
		    "name the environment"), "secret '%s' exists in several environments; "
		    "name one with ?environment=", name);
		return 1;
	}
	return rc;
}

/* A value from the body: a non-empty string within the size limit. */
static int
value_field(struct req *r, const char **value)
{
	if (req_str(r, "value", 1, SECRETS_VALUE_MAX, value) < 0)
		return -1;
	return 0;
}

static int
sealed_failure(struct req *r, int rc, const char *name)
{
	if (rc == SECRETS_EAUTH || rc == SECRETS_EKEY || rc == SECRETS_EFORMAT)
		return api_error(r, API_E_INTERNAL, NULL, "secret '%s' cannot be opened: %s",
		    name, rc == SECRETS_EKEY ? "it was sealed under a key the key file "
		    "does not hold" : "its stored form fails authentication (tampered with)");
	return rc;
}

static int
secret_create_h(struct req *r)
{
	const char *name, *value, *env;
	struct db_res *row;
	int rc;

	if (req_name(r, "secret_name", 1, &name) < 0 || value_field(r, &value) < 0 ||
	    env_param(r, 1, &env) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = secrets_create(r->db, r->srv->keys, &r->arena, r->who.org_id, name, env,
	    value, &row);
	if (rc == SECRETS_EEXISTS) {
		db_rollback(r->db);
		return env != NULL && *env != '\0' ?
		    api_error(r, API_E_CONFLICT, NULL, "secret '%s' already exists in "
		    "environment '%s'", name, env) :
		    api_error(r, API_E_CONFLICT, NULL, "secret '%s' already exists", name);
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, "secret.create", "secret",
	    db_val(row, 0, SECRETS_C_ID), json_pack("{s:s, s:o}", "secret_name", name,
	    "environment", env_json(row, 0)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, json_pack("{s:s, s:s, s:o, s:s}",
	    "secret_id", db_val(row, 0, SECRETS_C_ID), "secret_name", name,
	    "environment", env_json(row, 0), "created_at", db_val(row, 0, SECRETS_C_CREATED)));
}

static int
secret_list_h(struct req *r)
{
	struct db_res *rows;
	json_t *after, *items, *key = NULL;
	const char *env;
	int limit, rc;
	unsigned i;

	if (env_param(r, 0, &env) < 0 || req_page(r, 100, 500, &limit, &after) < 0)
		return 0;
	rc = secrets_list(r->db, &r->arena, r->who.org_id, env,
	    json_string_value(json_array_get(after, 0)),
	    json_string_value(json_array_get(after, 1)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++)
		json_array_append_new(items, secret_json(rows, i));
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[s, s]", db_val(rows, limit - 1, SECRETS_C_NAME),
		    db_val(rows, limit - 1, SECRETS_C_ENV));
	return api_page(r, items, key);
}

static int
secret_get_h(struct req *r)
{
	struct db_res *row;
	const char *env;
	int rc;

	if (env_param(r, 0, &env) < 0)
		return 0;
	if ((rc = find(r, env, &row)) != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, secret_json(row, 0));
}

static int
secret_value_h(struct req *r)
{
	struct db_res *row;
	const char *env;
	char *value;
	size_t n;
	int rc;

	if (env_param(r, 0, &env) < 0)
		return 0;
	if ((rc = find(r, env, &row)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = secrets_value(r->srv->keys, &r->arena, r->who.org_id, row, &value, &n)) < 0)
		return sealed_failure(r, rc, db_val(row, 0, SECRETS_C_NAME));
	/* Reading a value is recorded like a change: who saw it matters. */
	if ((rc = audit_write(r->db, &r->who, "secret.read", "secret",
	    db_val(row, 0, SECRETS_C_ID), json_pack("{s:s, s:o}", "secret_name",
	    db_val(row, 0, SECRETS_C_NAME), "environment", env_json(row, 0)))) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:o, s:s%}",
	    "secret_name", db_val(row, 0, SECRETS_C_NAME), "environment", env_json(row, 0),
	    "value", value, n));
}

static int
secret_put_h(struct req *r)
{
	struct db_res *row, *after;
	const char *env, *value;
	int rc;

	if (env_param(r, 1, &env) < 0 || value_field(r, &value) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = find(r, env, &row)) != 0) {
		db_rollback(r->db);
		return rc < 0 ? rc : 0;
	}
	if ((rc = secrets_update(r->db, r->srv->keys, &r->arena, r->who.org_id, row,
	    value, &after)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "secret.update", "secret",
	    db_val(row, 0, SECRETS_C_ID), json_pack("{s:s, s:o}", "secret_name",
	    db_val(row, 0, SECRETS_C_NAME), "environment", env_json(row, 0)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:o, s:s}",
	    "secret_id", db_val(after, 0, SECRETS_C_ID),
	    "secret_name", db_val(after, 0, SECRETS_C_NAME),
	    "environment", env_json(after, 0),
	    "updated_at", db_val(after, 0, SECRETS_C_UPDATED)));
}

static int
secret_delete_h(struct req *r)
{
	struct db_res *row;
	const char *env;
	int rc;

	if (env_param(r, 0, &env) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = find(r, env, &row)) != 0) {
		db_rollback(r->db);
		return rc < 0 ? rc : 0;
	}
	if ((rc = secrets_delete(r->db, r->who.org_id, row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "secret.delete", "secret",
	    db_val(row, 0, SECRETS_C_ID), json_pack("{s:s, s:o}", "secret_name",
	    db_val(row, 0, SECRETS_C_NAME), "environment", env_json(row, 0)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}
