/* SQL of the dag_drafts table. */
#include "dagy/drafts.h"
#include "dagy/ids.h"

#define DRAFT_SELECT \
	"SELECT public_id, name, description, canvas_json, flow_name, executor, " \
	DB_TS("created_at") ", " DB_TS("updated_at") ", id FROM dag_drafts"

static const char SQL_GET[] = DRAFT_SELECT " WHERE org_id = ? AND public_id = ?";
static const char SQL_INSERT[] =
    "INSERT INTO dag_drafts (public_id, org_id, name, description, canvas_json,"
    " flow_name, executor, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

int
drafts_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, id);

	if (rc == 0 && (*row)->nrows == 0)
		return DRAFTS_ENOTFOUND;
	return rc;
}

int
drafts_create(struct db *db, struct arena *a, int64_t org_id, int64_t user_id,
    const struct draft_fields *f, struct db_res **row)
{
	char *pub = arena_alloc(a, 32);
	int64_t rc;

	ids_new("draft", pub, 32);
	rc = db_exec(db, SQL_INSERT, "sisssssi", pub, org_id, f->name,
	    f->description, f->canvas, f->flow_name, f->executor, user_id);
	if (rc < 0)
		return (int)rc;
	return drafts_get(db, a, org_id, pub, row);
}

static const char SQL_LIST[] =
    DRAFT_SELECT " WHERE org_id = ? AND id < ? ORDER BY id DESC LIMIT ?";

int
drafts_list(struct db *db, struct arena *a, int64_t org_id, int64_t before,
    int limit, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "iii", org_id,
	    before > 0 ? before : INT64_MAX, (int64_t)limit);
}

static const char SQL_UPDATE[] =
    "UPDATE dag_drafts SET name = COALESCE(?, name),"
    " description = COALESCE(?, description), canvas_json = COALESCE(?, canvas_json),"
    " flow_name = COALESCE(?, flow_name), executor = COALESCE(?, executor),"
    " updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND public_id = ?";

int
drafts_update(struct db *db, struct arena *a, int64_t org_id, const char *id,
    const struct draft_fields *f, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_UPDATE, "sssssis", f->name, f->description,
	    f->canvas, f->flow_name, f->executor, org_id, id);

	if (rc < 0)
		return (int)rc;
	return drafts_get(db, a, org_id, id, row);
}

static const char SQL_DELETE[] = "DELETE FROM dag_drafts WHERE org_id = ? AND public_id = ?";

int
drafts_delete(struct db *db, int64_t org_id, const char *id)
{
	int64_t rc = db_exec(db, SQL_DELETE, "is", org_id, id);

	return rc < 0 ? (int)rc : rc > 0;
}
