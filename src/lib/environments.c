/* SQL of the environments and env_variables tables; variables are sealed
 * through the secrets store under the scope "var/<environment>". */
#include <string.h>

#include "dagy/environments.h"
#include "dagy/ids.h"
#include "dagy/secrets.h"

const char env_default_roles[] = "[\"owner\",\"admin\"]";

int
env_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= ENV_NAME_MAX && *name != '.' &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

int
env_var_key_valid(const char *key)
{
	size_t n = strlen(key);

	return n > 0 && n <= ENV_VAR_KEY_MAX && !(*key >= '0' && *key <= '9') &&
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_") == n;
}

#define ENV_SELECT \
	"SELECT public_id, name, default_executor, config_json, is_protected," \
	" protected_roles, promotion_order, " DB_TS("created_at") ", " \
	DB_TS("updated_at") ", id FROM environments"

static const char SQL_GET[] = ENV_SELECT " WHERE org_id = ? AND name = ?";

int
env_get(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, name);

	if (rc == 0 && (*row)->nrows == 0)
		return ENV_ENOTFOUND;
	return rc;
}

static const char SQL_INSERT[] =
    "INSERT INTO environments (public_id, org_id, name, default_executor,"
    " config_json, is_protected, protected_roles) VALUES (?, ?, ?, COALESCE(?, ''),"
    " ?, ?, ?)";

int
env_create(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const struct env_fields *f, struct db_res **row)
{
	char pub[40];
	int64_t rc;

	ids_new("env", pub, sizeof(pub));
	rc = db_exec(db, SQL_INSERT, "sisssis", pub, org_id, name, f->executor,
	    f->config, (int64_t)(f->protected > 0), f->roles);
	if (rc == DB_EDUP)
		return ENV_EEXISTS;
	if (rc < 0)
		return (int)rc;
	return env_get(db, a, org_id, name, row);
}

static const char SQL_LIST[] = ENV_SELECT
    " WHERE org_id = ? ORDER BY promotion_order IS NULL, promotion_order, name";

int
env_list(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "i", org_id);
}

static const char SQL_UPDATE[] =
    "UPDATE environments SET default_executor = COALESCE(?, default_executor),"
    " config_json = COALESCE(?, config_json),"
    " is_protected = IF(? < 0, is_protected, ?),"
    " protected_roles = COALESCE(?, protected_roles),"
    " updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND name = ?";

int
env_update(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const struct env_fields *f, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_UPDATE, "ssiisis", f->executor, f->config,
	    (int64_t)f->protected, (int64_t)f->protected, f->roles, org_id, name);

	if (rc < 0)
		return (int)rc;
	return env_get(db, a, org_id, name, row);
}

static const char SQL_DELETE[] = "DELETE FROM environments WHERE org_id = ? AND id = ?";

int
env_delete(struct db *db, int64_t org_id, int64_t env_dbid)
{
	int64_t rc = db_exec(db, SQL_DELETE, "ii", org_id, env_dbid);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_ORDER_CLEAR[] =
    "UPDATE environments SET promotion_order = NULL WHERE org_id = ?";
static const char SQL_ORDER_SET[] =
    "UPDATE environments SET promotion_order = ?, updated_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND name = ?";

int
env_reorder(struct db *db, int64_t org_id, json_t *names)
{
	json_t *v;
	size_t i;
	int64_t rc;

	if ((rc = db_exec(db, SQL_ORDER_CLEAR, "i", org_id)) < 0)
		return (int)rc;
	json_array_foreach(names, i, v) {
		if ((rc = db_exec(db, SQL_ORDER_SET, "iis", (int64_t)i, org_id,
		    json_string_value(v))) < 0)
			return (int)rc;
		if (rc == 0)
			return ENV_ENOTFOUND;
	}
	return 0;
}

static const char *
var_scope(struct arena *a, const struct db_res *env)
{
	return arena_printf(a, "var/%s", db_val(env, 0, ENV_C_NAME));
}

static const char SQL_VARS[] =
    "SELECT var_key, ciphertext FROM env_variables WHERE org_id = ? AND env_id = ?"
    " ORDER BY var_key";

int
env_vars(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const struct db_res *env, json_t **out)
{
	const char *scope = var_scope(a, env);
	struct db_res *rows;
	unsigned i;
	int rc;

	if ((rc = db_query(db, a, &rows, SQL_VARS, "ii", org_id,
	    db_int(env, 0, ENV_C_DBID))) < 0)
		return rc;
	*out = json_object();
	for (i = 0; i < rows->nrows; i++) {
		char *v;
		size_t n;

		if ((rc = secrets_open(k, a, org_id, scope, db_val(rows, i, 0),
		    db_val(rows, i, 1), &v, &n)) < 0) {
			json_decref(*out);
			*out = NULL;
			return rc;
		}
		json_object_set_new(*out, db_val(rows, i, 0), json_stringn(v, n));
	}
	return 0;
}

static const char SQL_VARS_CLEAR[] =
    "DELETE FROM env_variables WHERE org_id = ? AND env_id = ?";
static const char SQL_VAR_PUT[] =
    "INSERT INTO env_variables (env_id, org_id, var_key, key_id, ciphertext)"
    " VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE key_id = VALUES(key_id),"
    " ciphertext = VALUES(ciphertext), updated_at = UTC_TIMESTAMP(6)";
static const char SQL_ENV_TOUCH[] =
    "UPDATE environments SET updated_at = UTC_TIMESTAMP(6) WHERE id = ?";

int
env_vars_set(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const struct db_res *env, json_t *vars, int replace)
{
	const char *scope = var_scope(a, env), *key, *sealed;
	int64_t env_id = db_int(env, 0, ENV_C_DBID), rc;
	json_t *v;

	if (replace && (rc = db_exec(db, SQL_VARS_CLEAR, "ii", org_id, env_id)) < 0)
		return (int)rc;
	json_object_foreach(vars, key, v) {
		if ((rc = secrets_seal(k, a, org_id, scope, key, json_string_value(v),
		    json_string_length(v), &sealed)) < 0 ||
		    (rc = db_exec(db, SQL_VAR_PUT, "iisss", env_id, org_id, key,
		    secrets_keyring_current(k), sealed)) < 0)
			return (int)rc;
	}
	rc = db_exec(db, SQL_ENV_TOUCH, "i", env_id);
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_VAR_DELETE[] =
    "DELETE FROM env_variables WHERE org_id = ? AND env_id = ? AND var_key = ?";

int
env_var_delete(struct db *db, int64_t org_id, int64_t env_dbid, const char *key)
{
	int64_t rc = db_exec(db, SQL_VAR_DELETE, "iis", org_id, env_dbid, key);

	return rc < 0 ? (int)rc : rc > 0;
}

static const char SQL_PROTECTION[] =
    "SELECT is_protected, protected_roles FROM environments WHERE org_id = ? AND name = ?";

int
env_allows(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const char *role, int *allowed)
{
	struct db_res *row;
	json_t *roles, *v;
	size_t i;
	int rc;

	*allowed = 1;
	if (name == NULL)
		return 0;
	if ((rc = db_query(db, a, &row, SQL_PROTECTION, "is", org_id, name)) < 0)
		return rc;
	if (row->nrows == 0 || db_int(row, 0, 0) == 0)
		return 0;
	roles = json_loads(db_val(row, 0, 1) != NULL ? db_val(row, 0, 1) :
	    env_default_roles, 0, NULL);
	*allowed = 0;
	json_array_foreach(roles, i, v)
		if (role != NULL && json_is_string(v) && strcmp(json_string_value(v), role) == 0)
			*allowed = 1;
	json_decref(roles);
	return 0;
}
