/* The SQL of dagctl's environment variable flags (dagy/dagctl_vars.h). */
#include "dagy/dagctl_vars.h"

#define SELECT "SELECT name, is_sensitive, " DB_TS("created_at") ", " DB_TS("updated_at") \
	" FROM dagctl_env_vars"

static const char SQL_LIST[] = SELECT " WHERE org_id = ? ORDER BY name";

int
dvars_list(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "i", org_id);
}

static const char SQL_GET[] = SELECT " WHERE org_id = ? AND name = ?";

int
dvars_get(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, name);

	if (rc < 0)
		return rc;
	return (*row)->nrows == 0 ? DVARS_ENOTFOUND : 0;
}

static const char SQL_CREATE[] =
    "INSERT INTO dagctl_env_vars (org_id, name, is_sensitive) VALUES (?, ?, ?)";

int
dvars_create(struct db *db, int64_t org_id, const char *name, int sensitive)
{
	int64_t rc = db_exec(db, SQL_CREATE, "isi", org_id, name, (int64_t)sensitive);

	return rc == DB_EDUP ? DVARS_EEXISTS : rc < 0 ? (int)rc : 0;
}

static const char SQL_UPDATE[] =
    "UPDATE dagctl_env_vars SET is_sensitive = ?, updated_at = CURRENT_TIMESTAMP(6)"
    " WHERE org_id = ? AND name = ?";

int
dvars_update(struct db *db, int64_t org_id, const char *name, int sensitive)
{
	int64_t rc = db_exec(db, SQL_UPDATE, "iis", (int64_t)sensitive, org_id, name);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_DELETE[] = "DELETE FROM dagctl_env_vars WHERE org_id = ? AND name = ?";

int
dvars_delete(struct db *db, int64_t org_id, const char *name)
{
	int64_t rc = db_exec(db, SQL_DELETE, "is", org_id, name);

	if (rc < 0)
		return (int)rc;
	return rc == 0 ? DVARS_ENOTFOUND : 0;
}
