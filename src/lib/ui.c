/* UI configuration's SQL: content documents, org preferences, and the
 * dashboard's figures (each served by an index on org_id first). */
#include "dagy/ui.h"

int
ui_content_get(struct db *db, struct arena *a, const char *name, const char **text)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, "SELECT content FROM ui_content WHERE name = ?",
	    "s", name);

	if (rc < 0)
		return rc;
	*text = r->nrows > 0 ? db_val(r, 0, 0) : NULL;
	return 0;
}

int
ui_content_put(struct db *db, const char *name, const char *text)
{
	int64_t rc = db_exec(db, "INSERT INTO ui_content (name, content) VALUES (?, ?)"
	    " ON DUPLICATE KEY UPDATE content = VALUES(content),"
	    " updated_at = UTC_TIMESTAMP(6)", "ss", name, text);

	return rc < 0 ? (int)rc : 0;
}

int
ui_prefs_get(struct db *db, struct arena *a, int64_t org_id, const char **text)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, "SELECT preferences FROM ui_org_settings"
	    " WHERE org_id = ?", "i", org_id);

	if (rc < 0)
		return rc;
	*text = r->nrows > 0 ? db_val(r, 0, 0) : NULL;
	return 0;
}

int
ui_prefs_put(struct db *db, int64_t org_id, const char *text)
{
	int64_t rc = db_exec(db, "INSERT INTO ui_org_settings (org_id, preferences)"
	    " VALUES (?, ?) ON DUPLICATE KEY UPDATE preferences = VALUES(preferences),"
	    " updated_at = UTC_TIMESTAMP(6)", "is", org_id, text);

	return rc < 0 ? (int)rc : 0;
}

int
ui_runs_by_status(struct db *db, struct arena *a, int64_t org_id, int days,
    struct db_res **rows)
{
	/* ix_runs_org_created (org_id, created_at, status) covers this. */
	return db_query(db, a, rows, "SELECT status, COUNT(*) FROM runs"
	    " WHERE org_id = ? AND created_at >= UTC_TIMESTAMP(6) - INTERVAL ? DAY"
	    " GROUP BY status ORDER BY status", "ii", org_id, (int64_t)days);
}

int
ui_recent_runs(struct db *db, struct arena *a, int64_t org_id, int limit,
    struct db_res **rows)
{
	return db_query(db, a, rows, "SELECT r.public_id, f.name, r.status, "
	    DB_TS("r.created_at") ", " DB_TS("r.completed_at") " FROM runs r"
	    " JOIN flows f ON f.id = r.flow_id WHERE r.org_id = ?"
	    " ORDER BY r.id DESC LIMIT ?", "ii", org_id, (int64_t)limit);
}

int
ui_counts(struct db *db, struct arena *a, int64_t org_id, int64_t *flows,
    int64_t *schedules)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, "SELECT (SELECT COUNT(*) FROM flows WHERE org_id = ?),"
	    " (SELECT COUNT(*) FROM schedules WHERE org_id = ? AND enabled = 1)",
	    "ii", org_id, org_id);

	if (rc < 0)
		return rc;
	*flows = db_int(r, 0, 0);
	*schedules = db_int(r, 0, 1);
	return 0;
}
