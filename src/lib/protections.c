/* The SQL of dagctl's environment protections (dagy/protections.h). */
#include "dagy/protections.h"

#define SELECT \
	"SELECT e.public_id, e.name, e.is_protected, p.created_by, " DB_TS("p.created_at") \
	", " DB_TS("e.updated_at") ", e.id, (SELECT public_id FROM orgs WHERE id = e.org_id)" \
	" FROM dagctl_protections p JOIN environments e ON e.id = p.env_id"

static const char SQL_LIST[] = SELECT " WHERE p.org_id = ? ORDER BY e.name";

int
eprot_list(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "i", org_id);
}

static const char SQL_GET[] = SELECT " WHERE p.org_id = ? AND e.public_id = ?";
static const char SQL_BY_NAME[] = SELECT " WHERE p.org_id = ? AND e.name = ?";

static int
one(struct db *db, struct arena *a, const char *sql, int64_t org_id, const char *v,
    struct db_res **row)
{
	int rc = db_query(db, a, row, sql, "is", org_id, v);

	if (rc < 0)
		return rc;
	return (*row)->nrows == 0 ? EPROT_ENOTFOUND : 0;
}

int
eprot_get(struct db *db, struct arena *a, int64_t org_id, const char *id, struct db_res **row)
{
	return one(db, a, SQL_GET, org_id, id, row);
}

int
eprot_by_name(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row)
{
	return one(db, a, SQL_BY_NAME, org_id, name, row);
}

static const char SQL_CREATE[] =
    "INSERT INTO dagctl_protections (env_id, org_id, created_by) VALUES (?, ?, ?)";

int
eprot_create(struct db *db, int64_t org_id, int64_t env_dbid, const char *by)
{
	int64_t rc = db_exec(db, SQL_CREATE, "iis", env_dbid, org_id, by);

	return rc == DB_EDUP ? EPROT_EEXISTS : rc < 0 ? (int)rc : 0;
}

static const char SQL_DELETE[] = "DELETE FROM dagctl_protections WHERE env_id = ?";

int
eprot_delete(struct db *db, int64_t env_dbid)
{
	int64_t rc = db_exec(db, SQL_DELETE, "i", env_dbid);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_USERS[] =
    "SELECT u.public_id, u.email FROM dagctl_protection_users x JOIN users u ON u.id = x.user_id"
    " WHERE x.env_id = ? ORDER BY u.email";

int
eprot_users(struct db *db, struct arena *a, int64_t env_dbid, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_USERS, "i", env_dbid);
}

/* Only members of the org can be excepted. */
static const char SQL_USER_ADD[] =
    "INSERT IGNORE INTO dagctl_protection_users (env_id, user_id)"
    " SELECT ?, u.id FROM users u JOIN memberships m ON m.user_id = u.id"
    " WHERE u.public_id = ? AND m.org_id = ? AND m.status = 'active'";
static const char SQL_USER_IS[] =
    "SELECT 1 FROM users u JOIN memberships m ON m.user_id = u.id"
    " WHERE u.public_id = ? AND m.org_id = ? AND m.status = 'active'";

int
eprot_user_add(struct db *db, int64_t org_id, int64_t env_dbid, const char *user_id)
{
	int64_t rc = db_exec(db, SQL_USER_ADD, "isi", env_dbid, user_id, org_id);
	struct arena a = {0};
	struct db_res *r;

	if (rc != 0)
		return rc < 0 ? (int)rc : 0;
	/* Nothing inserted: already there, or no such member. */
	rc = db_query(db, &a, &r, SQL_USER_IS, "si", user_id, org_id);
	if (rc >= 0)
		rc = r->nrows > 0 ? 0 : EPROT_ENOTFOUND;
	arena_free(&a);
	return (int)rc;
}

static const char SQL_USER_REMOVE[] =
    "DELETE x FROM dagctl_protection_users x JOIN users u ON u.id = x.user_id"
    " WHERE x.env_id = ? AND u.public_id = ?";

int
eprot_user_remove(struct db *db, int64_t env_dbid, const char *user_id)
{
	int64_t rc = db_exec(db, SQL_USER_REMOVE, "is", env_dbid, user_id);

	if (rc < 0)
		return (int)rc;
	return rc == 0 ? EPROT_ENOTFOUND : 0;
}

static const char SQL_EXCEPTED[] =
    "SELECT 1 FROM dagctl_protection_users WHERE env_id = ? AND user_id = ?";

int
eprot_excepted(struct db *db, struct arena *a, int64_t env_dbid, int64_t user_id)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_EXCEPTED, "ii", env_dbid, user_id);

	return rc < 0 ? rc : r->nrows > 0;
}
