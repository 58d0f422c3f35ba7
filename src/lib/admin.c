/* SQL of the super admin console: customers, members, sessions, status. */
#include <string.h>

#include "dagy/admin.h"
#include "dagy/auth.h"

#define CUSTOMER_COLS \
    "SELECT o.public_id, o.name, u.email, o.plan, o.status," \
    " (SELECT COUNT(*) FROM memberships m WHERE m.org_id = o.id AND m.status = 'active')," \
    " " DB_TS("o.created_at") ", " DB_TS("o.updated_at") ", o.quota_overrides," \
    " o.feature_flags, o.notes, o.credits_balance, o.id" \
    " FROM orgs o LEFT JOIN users u ON u.id = o.owner_user_id"
#define CUSTOMER_FILTER \
    " WHERE (? IS NULL OR o.status = ?) AND (? IS NULL OR o.plan = ?)" \
    " AND (? IS NULL OR LOCATE(LOWER(?), LOWER(o.name)) > 0" \
    "  OR LOCATE(LOWER(?), LOWER(COALESCE(u.email, ''))) > 0)"

static const char SQL_CUSTOMERS[] = CUSTOMER_COLS CUSTOMER_FILTER " ORDER BY o.id LIMIT ?";
static const char SQL_CUSTOMERS_COUNT[] =
    "SELECT COUNT(*) FROM orgs o LEFT JOIN users u ON u.id = o.owner_user_id"
    CUSTOMER_FILTER;
static const char SQL_CUSTOMER[] = CUSTOMER_COLS " WHERE o.public_id = ?";
static const char SQL_UPDATE[] =
    "UPDATE orgs SET plan = COALESCE(?, plan), quota_overrides = COALESCE(?, quota_overrides),"
    " feature_flags = COALESCE(?, feature_flags), notes = COALESCE(?, notes),"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char SQL_STATUS[] =
    "UPDATE orgs SET status = ?, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char SQL_MEMBERS[] =
    "SELECT email, role, " DB_TS("COALESCE(joined_at, added_at)") ", status"
    " FROM memberships WHERE org_id = ? ORDER BY id";
static const char SQL_SESSIONS[] =
    "SELECT u.email, " DB_TS("MAX(t.created_at)") ","
    " " DB_TS("MAX(CASE WHEN t.revoked_at IS NULL AND t.expires_at > UTC_TIMESTAMP(6)"
    " THEN t.created_at END)") ","
    " SUM(t.revoked_at IS NULL AND t.expires_at > UTC_TIMESTAMP(6))"
    " FROM memberships m JOIN users u ON u.id = m.user_id"
    " JOIN access_tokens t ON t.user_id = u.id AND t.impersonate_org_id IS NULL"
    " WHERE m.org_id = ? GROUP BY u.id, u.email"
    " HAVING SUM(t.revoked_at IS NULL AND t.expires_at > UTC_TIMESTAMP(6)) > 0"
    " ORDER BY u.email";
static const char SQL_REVOKE[] =
    "UPDATE access_tokens t JOIN memberships m ON m.user_id = t.user_id AND m.org_id = ?"
    " SET t.revoked_at = UTC_TIMESTAMP(6)"
    " WHERE m.email = ? AND t.revoked_at IS NULL AND t.expires_at > UTC_TIMESTAMP(6)";

int
admin_customers(struct db *db, struct arena *a, const struct admin_filter *f,
    int limit, struct db_res **rows, int64_t *total)
{
	struct db_res *n;
	int rc;

	if ((rc = db_query(db, a, &n, SQL_CUSTOMERS_COUNT, "sssssss", f->status, f->status,
	    f->plan, f->plan, f->search, f->search, f->search)) < 0)
		return rc;
	*total = db_int(n, 0, 0);
	return db_query(db, a, rows, SQL_CUSTOMERS, "sssssssi", f->status, f->status,
	    f->plan, f->plan, f->search, f->search, f->search, (int64_t)limit);
}

int
admin_customer(struct db *db, struct arena *a, const char *public_id,
    struct db_res **row)
{
	return db_query(db, a, row, SQL_CUSTOMER, "s", public_id);
}

int
admin_customer_update(struct db *db, int64_t org_id, const char *plan,
    const char *overrides, const char *flags, const char *notes)
{
	int64_t rc = db_exec(db, SQL_UPDATE, "ssssi", plan, overrides, flags, notes, org_id);

	if (rc >= 0 && plan != NULL)
		rc = auth_invalidate_org(db, org_id);
	return rc < 0 ? (int)rc : 0;
}

int
admin_set_status(struct db *db, int64_t org_id, const char *status)
{
	int64_t rc = db_exec(db, SQL_STATUS, "si", status, org_id);

	if (rc >= 0)
		rc = auth_invalidate_org(db, org_id);
	return rc < 0 ? (int)rc : 0;
}

int
admin_members(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_MEMBERS, "i", org_id);
}

int
admin_sessions(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_SESSIONS, "i", org_id);
}

int64_t
admin_revoke_sessions(struct db *db, int64_t org_id, const char *email)
{
	return db_exec(db, SQL_REVOKE, "is", org_id, email);
}
