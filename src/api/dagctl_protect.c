/* dagctl's Environment Protection section (/api/v1/environment-protections):
 * protection records on dagy environments (enabled is the environment's
 * protected flag) with the users excepted from them. A dagctl plan
 * targeting a protected environment is approved by excepted users only;
 * dagy's own surfaces keep the environment's role list. */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/environments.h"
#include "dagy/protections.h"

static int prot_list(struct req *r);
static int prot_check(struct req *r);
static int prot_get(struct req *r);
static int prot_create(struct req *r);
static int prot_update(struct req *r);
static int prot_delete(struct req *r);
static int prot_user_add(struct req *r);
static int prot_user_remove(struct req *r);

#define E "/api/v1/environment-protections"
#define D DIALECT_DAGCTL
const struct route dagctl_protect_routes[] = {
	{"GET", E, prot_list, PERM_ENVIRONMENTS_READ, 0, D},
	{"POST", E, prot_create, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, D},
	{"GET", E "/check", prot_check, PERM_AUTHENTICATED, 0, D},
	{"GET", E "/{protection_id}", prot_get, PERM_ENVIRONMENTS_READ, 0, D},
	{"PUT", E "/{protection_id}", prot_update, PERM_ENVIRONMENTS_WRITE, ROUTE_BODY, D},
	{"DELETE", E "/{protection_id}", prot_delete, PERM_ENVIRONMENTS_WRITE, 0, D},
	{"POST", E "/{protection_id}/excepted-users", prot_user_add, PERM_ENVIRONMENTS_WRITE,
	    ROUTE_BODY, D},
	{"DELETE", E "/{protection_id}/excepted-users/{user_id}", prot_user_remove,
	    PERM_ENVIRONMENTS_WRITE, 0, D},
};
const size_t dagctl_protect_routes_n =
    sizeof(dagctl_protect_routes) / sizeof(dagctl_protect_routes[0]);

static json_t *
prot_json(struct req *r, const struct db_res *p, unsigned i, int full, int *rc)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "id", db_val(p, i, EPROT_C_ID),
	    "organization_id", db_val(p, i, EPROT_C_ORG_PUBLIC), "environment_name",
	    db_val(p, i, EPROT_C_NAME), "enabled", (int)db_int(p, i, EPROT_C_ENABLED),
	    "created_at", db_val(p, i, EPROT_C_CREATED), "updated_at", db_val(p, i, EPROT_C_UPDATED));
	struct db_res *u;
	json_t *users;
	unsigned k;

	*rc = 0;
	if (db_val(p, i, EPROT_C_CREATED_BY) != NULL)
		json_object_set_new(o, "created_by", json_string(db_val(p, i, EPROT_C_CREATED_BY)));
	if (!full)
		return o;
	if ((*rc = eprot_users(r->db, &r->arena, db_int(p, i, EPROT_C_ENV_DBID), &u)) < 0) {
		json_decref(o);
		return NULL;
	}
	users = json_array();
	for (k = 0; k < u->nrows; k++)
		json_array_append_new(users, json_pack("{s:s, s:s}", "user_id", db_val(u, k, 0),
		    "email", db_val(u, k, 1)));
	json_object_set_new(o, "excepted_users", users);
	return o;
}

static int
answer(struct req *r, int status, const struct db_res *p)
{
	int rc;
	json_t *o = prot_json(r, p, 0, 1, &rc);

	return o == NULL ? rc : api_json(r, status, o);
}

static int
prot_list(struct req *r)
{
	struct db_res *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = eprot_list(r->db, &r->arena, r->who.org_id, &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, prot_json(r, rows, i, 0, &rc));
	return api_json(r, 200, json_pack("{s:o, s:i}", "protections", items, "total",
	    (int)rows->nrows));
}

/* The protection of the path; 1 after a 404. */
static int
prot_of(struct req *r, struct db_res **p)
{
	int rc = eprot_get(r->db, &r->arena, r->who.org_id, req_param(r, "protection_id"), p);

	if (rc == EPROT_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "environment protection '%s' not found",
		    req_param(r, "protection_id")), 1;
	return rc;
}

static int
prot_get(struct req *r)
{
	struct db_res *p;
	int rc;

	if ((rc = prot_of(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	return answer(r, 200, p);
}

static int
read_enabled(struct req *r, int *enabled)
{
	json_t *v = json_object_get(r->body_json, "enabled");

	if (v != NULL && !json_is_boolean(v))
		return api_invalid(r, "enabled", "must be true or false"), -1;
	if (v != NULL)
		*enabled = json_is_true(v);
	return 0;
}

/* Sets the environment's protected flag. */
static int
set_enabled(struct req *r, const char *name, int enabled)
{
	struct env_fields f = {.protected = enabled};
	struct db_res *env;

	return env_update(r->db, &r->arena, r->who.org_id, name, &f, &env);
}

static int
prot_create(struct req *r)
{
	struct env_fields f = {.protected = 1};
	struct db_res *env, *p;
	const char *name;
	int enabled = 1, rc;

	if (req_str(r, "environment_name", 1, ENV_NAME_MAX, &name) < 0 || read_enabled(r, &enabled) < 0)
		return 0;
	if (!env_name_valid(name))
		return api_invalid(r, "environment_name", "must be 1-64 letters, digits, '.', '_' or '-'");
	f.protected = enabled;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = env_get(r->db, &r->arena, r->who.org_id, name, &env);
	if (rc == ENV_ENOTFOUND)
		rc = env_create(r->db, &r->arena, r->who.org_id, name, &f, &env);
	else if (rc == 0)
		rc = set_enabled(r, name, enabled);
	if (rc < 0)
		return rc;
	rc = eprot_create(r->db, r->who.org_id, db_int(env, 0, ENV_C_DBID), r->who.email);
	if (rc == EPROT_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "environment '%s' is already protected", name);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "protection.create", "environment", name,
	    json_pack("{s:b}", "enabled", enabled))) < 0 ||
	    (rc = eprot_by_name(r->db, &r->arena, r->who.org_id, name, &p)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return answer(r, 201, p);
}

static int
prot_update(struct req *r)
{
	struct db_res *p;
	const char *name;
	int enabled, rc;

	if ((rc = prot_of(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	enabled = (int)db_int(p, 0, EPROT_C_ENABLED);
	if (req_str(r, "environment_name", 0, ENV_NAME_MAX, &name) < 0 || read_enabled(r, &enabled) < 0)
		return 0;
	if (name != NULL && strcmp(name, db_val(p, 0, EPROT_C_NAME)) != 0)
		return api_invalid(r, "environment_name", "cannot change: dagy environments keep "
		    "their names; delete this protection and protect the other environment");
	if ((rc = db_begin(r->db)) < 0 || (rc = set_enabled(r, db_val(p, 0, EPROT_C_NAME), enabled)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "protection.update", "environment",
	    db_val(p, 0, EPROT_C_NAME), json_pack("{s:b}", "enabled", enabled))) < 0 ||
	    (rc = eprot_get(r->db, &r->arena, r->who.org_id, db_val(p, 0, EPROT_C_ID), &p)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return answer(r, 200, p);
}

static int
prot_delete(struct req *r)
{
	struct db_res *p;
	int rc;

	if ((rc = prot_of(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0 || (rc = set_enabled(r, db_val(p, 0, EPROT_C_NAME), 0)) < 0 ||
	    (rc = eprot_delete(r->db, db_int(p, 0, EPROT_C_ENV_DBID))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "protection.delete", "environment",
	    db_val(p, 0, EPROT_C_NAME), NULL)) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s}", "message",
	    "Environment protection deleted successfully"));
}

static int
prot_user_add(struct req *r)
{
	struct db_res *p;
	const char *user;
	int rc;

	if ((rc = prot_of(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if (req_str(r, "user_id", 1, 40, &user) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = eprot_user_add(r->db, r->who.org_id, db_int(p, 0, EPROT_C_ENV_DBID), user);
	if (rc == EPROT_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "member '%s' not found", user);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "protection.except", "environment",
	    db_val(p, 0, EPROT_C_NAME), json_pack("{s:s}", "user_id", user))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return answer(r, 200, p);
}

static int
prot_user_remove(struct req *r)
{
	struct db_res *p;
	const char *user = req_param(r, "user_id");
	int rc;

	if ((rc = prot_of(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = eprot_user_remove(r->db, db_int(p, 0, EPROT_C_ENV_DBID), user);
	if (rc == EPROT_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "user '%s' is not excepted", user);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "protection.unexcept", "environment",
	    db_val(p, 0, EPROT_C_NAME), json_pack("{s:s}", "user_id", user))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return answer(r, 200, p);
}

int
dagctl_protect_allows(struct req *r, const char *env, int *allowed)
{
	struct db_res *p;
	int rc = eprot_by_name(r->db, &r->arena, r->who.org_id, env, &p);

	*allowed = 1;
	if (rc == EPROT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (!db_int(p, 0, EPROT_C_ENABLED))
		return 0;
	if ((rc = eprot_excepted(r->db, &r->arena, db_int(p, 0, EPROT_C_ENV_DBID),
	    r->who.user_id)) < 0)
		return rc;
	*allowed = rc;
	return 0;
}

static int
prot_check(struct req *r)
{
	const char *env = req_query(r, "environment_name");
	struct db_res *p;
	int allowed, rc, prot;

	if (env == NULL)
		env = req_query(r, "environment");
	if (env == NULL)
		return api_invalid(r, "environment_name", "is required");
	if (r->who.org_id == 0)
		return api_error(r, API_E_FORBIDDEN, NULL, "no organization: send X-Organization-ID");
	if ((rc = dagctl_protect_allows(r, env, &allowed)) < 0)
		return rc;
	rc = eprot_by_name(r->db, &r->arena, r->who.org_id, env, &p);
	if (rc < 0 && rc != EPROT_ENOTFOUND)
		return rc;
	prot = rc == 0 && db_int(p, 0, EPROT_C_ENABLED);
	return api_json(r, 200, json_pack("{s:s, s:b, s:b}", "environment_name", env,
	    "protected", prot, "allowed", allowed));
}
