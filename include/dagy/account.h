/* Users, organizations and memberships: the tables the CLI and the
 * identity endpoints share. Callers own the transaction. */
#ifndef DAGY_ACCOUNT_H
#define DAGY_ACCOUNT_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct config;

enum account_err {
	ACCOUNT_EEXISTS = -20,
	ACCOUNT_ENOTFOUND = -21,
	ACCOUNT_ELAST_OWNER = -22,
};

struct member {
	const char *member_id, *email, *role, *status, *added_at, *joined_at,
	    *updated_at;
};

/* Creates a user (password may be NULL: no login, keys only) and turns
 * pending invitations for the email into active memberships. */
int account_user_create(struct db *db, const struct config *cfg, struct arena *a,
    const char *email, const char *password, int super_admin, int64_t *user_id);
int account_user_find(struct db *db, struct arena *a, const char *email,
    int64_t *user_id);
int account_user_set_password(struct db *db, const struct config *cfg,
    int64_t user_id, const char *password);

/* Creates an org with owner as its owner member; it becomes the owner's
 * default org if they had none. Columns of *row: see account_org_get. */
int account_org_create(struct db *db, struct arena *a, const char *name,
    const char *plan, int64_t owner_id, int64_t *org_id, const char **public_id);
/* Row: public_id, name, plan, owner email, created_at. */
int account_org_get(struct db *db, struct arena *a, int64_t org_id,
    struct db_res **row);
int account_org_find(struct db *db, struct arena *a, const char *name_or_id,
    int64_t *org_id);
/* Rows: public_id, name, plan, role, created_at, for the user's active orgs. */
int account_orgs_of_user(struct db *db, struct arena *a, int64_t user_id,
    struct db_res **rows);

int account_member_add(struct db *db, struct arena *a, int64_t org_id,
    const char *email, const char *role, struct member *m);
int account_member_list(struct db *db, struct arena *a, int64_t org_id,
    struct member **ms, unsigned *n);
int account_member_set_role(struct db *db, struct arena *a, int64_t org_id,
    const char *email, const char *role, struct member *m);

#endif
