/* The super admin console's SQL: organizations across the platform
 * (customers), their members and sessions, their status (suspended:
 * writes and runs refused, reads allowed) and the console's own settings
 * of them (notes, feature flags, quota overrides). Every function takes
 * the org's internal id; callers are gated by the super_admin flag. */
#ifndef DAGY_ADMIN_H
#define DAGY_ADMIN_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

/* Columns of an admin_customer row. */
enum admin_col {
	ADMIN_C_PUBLIC, ADMIN_C_NAME, ADMIN_C_OWNER, ADMIN_C_PLAN, ADMIN_C_STATUS,
	ADMIN_C_MEMBERS, ADMIN_C_CREATED, ADMIN_C_UPDATED, ADMIN_C_OVERRIDES,
	ADMIN_C_FLAGS, ADMIN_C_NOTES, ADMIN_C_CREDITS, ADMIN_C_DBID,
};

/* Filters of the list, each NULL for any; search matches the org name or
 * the owner's email, case-insensitively. */
struct admin_filter {
	const char *status, *plan, *search;
};

/* Orgs matching f, oldest first, up to limit; *total counts them all. */
int admin_customers(struct db *db, struct arena *a, const struct admin_filter *f,
    int limit, struct db_res **rows, int64_t *total);
/* One org by public id: 1 row, or 0 rows. */
int admin_customer(struct db *db, struct arena *a, const char *public_id,
    struct db_res **row);
/* Sets the given fields (NULL: unchanged; overrides and flags are JSON
 * text). The caller owns the transaction. */
int admin_customer_update(struct db *db, int64_t org_id, const char *plan,
    const char *overrides, const char *flags, const char *notes);
/* Sets status ("active", "suspended") and makes every process reload the
 * org's credentials. The caller owns the transaction. */
int admin_set_status(struct db *db, int64_t org_id, const char *status);
/* Rows: email, role, joined_at (or invited at), membership status. */
int admin_members(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows);
/* Rows: email, last_login_at, current_token_issued_at, live tokens; users
 * of org with a live access token. */
int admin_sessions(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows);
/* Revokes the live access tokens of member email of org; returns how
 * many, or a db_err. */
int64_t admin_revoke_sessions(struct db *db, int64_t org_id, const char *email);

#endif
