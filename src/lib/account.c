/* SQL for orgs, users and memberships. Emails are stored lowercased so the
 * unique keys compare them as people expect. */
#include <ctype.h>
#include <string.h>

#include "dagy/account.h"
#include "dagy/auth.h"
#include "dagy/crypto.h"
#include "dagy/ids.h"


static char *
lower(struct arena *a, const char *s)
{
	char *p = arena_strdup(a, s), *q;

	for (q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

static const char SQL_USER_INSERT[] =
    "INSERT INTO users (public_id, email, password_hash, super_admin)"
    " VALUES (?, ?, ?, ?)";
static const char SQL_USER_CLAIM_INVITES[] =
    "UPDATE memberships SET user_id = ?, status = 'active',"
    " joined_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)"
    " WHERE email = ? AND user_id IS NULL";
static const char SQL_USER_DEFAULT_ORG[] =
    "UPDATE users SET default_org_id = (SELECT org_id FROM memberships"
    " WHERE user_id = ? AND status = 'active' ORDER BY id LIMIT 1)"
    " WHERE id = ? AND default_org_id IS NULL";

int
account_user_create(struct db *db, const struct config *cfg, struct arena *a,
    const char *email, const char *password, int super_admin, int64_t *user_id)
{
	char pub[32], hash[CRYPTO_HASH_MAX];
	const char *em = lower(a, email);
	int64_t rc;

	if (password != NULL && crypto_hash_secret(cfg, password, hash) < 0)
		return DB_ERR;
	ids_new("user", pub, sizeof(pub));
	rc = db_exec(db, SQL_USER_INSERT, "sssi", pub, em,
	    password != NULL ? hash : NULL, (int64_t)(super_admin != 0));
	if (rc == DB_EDUP)
		return ACCOUNT_EEXISTS;
	if (rc < 0)
		return (int)rc;
	*user_id = db_insert_id(db);
	if ((rc = db_exec(db, SQL_USER_CLAIM_INVITES, "is", *user_id, em)) < 0)
		return (int)rc;
	rc = db_exec(db, SQL_USER_DEFAULT_ORG, "ii", *user_id, *user_id);
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_USER_FIND[] = "SELECT id FROM users WHERE email = ?";

int
account_user_find(struct db *db, struct arena *a, const char *email,
    int64_t *user_id)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_USER_FIND, "s", lower(a, email));

	if (rc < 0)
		return rc;
	if (r->nrows == 0)
		return ACCOUNT_ENOTFOUND;
	*user_id = db_int(r, 0, 0);
	return 0;
}

static const char SQL_USER_SET_PASSWORD[] =
    "UPDATE users SET password_hash = ? WHERE id = ?";

int
account_user_set_password(struct db *db, const struct config *cfg,
    int64_t user_id, const char *password)
{
	char hash[CRYPTO_HASH_MAX];
	int64_t rc;

	if (crypto_hash_secret(cfg, password, hash) < 0)
		return DB_ERR;
	rc = db_exec(db, SQL_USER_SET_PASSWORD, "si", hash, user_id);
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_ORG_INSERT[] =
    "INSERT INTO orgs (public_id, name, plan, owner_user_id) VALUES (?, ?, ?, ?)";
static const char SQL_MEMBER_INSERT_OWNER[] =
    "INSERT INTO memberships (public_id, org_id, user_id, email, role, status,"
    " joined_at) SELECT ?, ?, id, email, 'owner', 'active', UTC_TIMESTAMP(6)"
    " FROM users WHERE id = ?";

int
account_org_create(struct db *db, struct arena *a, const char *name,
    const char *plan, int64_t owner_id, int64_t *org_id, const char **public_id)
{
	char *pub = arena_alloc(a, 32), mpub[32];
	int64_t rc;

	ids_new("org", pub, 32);
	rc = db_exec(db, SQL_ORG_INSERT, "sssi", pub, name, plan, owner_id);
	if (rc == DB_EDUP)
		return ACCOUNT_EEXISTS;
	if (rc < 0)
		return (int)rc;
	*org_id = db_insert_id(db);
	ids_new("member", mpub, sizeof(mpub));
	if ((rc = db_exec(db, SQL_MEMBER_INSERT_OWNER, "sii", mpub, *org_id, owner_id)) < 0)
		return (int)rc;
	if ((rc = db_exec(db, SQL_USER_DEFAULT_ORG, "ii", owner_id, owner_id)) < 0 ||
	    (rc = auth_invalidate(db, NULL, owner_id)) < 0)
		return (int)rc;
	*public_id = pub;
	return 0;
}

static const char SQL_ORG_GET[] =
    "SELECT o.public_id, o.name, o.plan, u.email, " DB_TS("o.created_at")
    " FROM orgs o LEFT JOIN users u ON u.id = o.owner_user_id WHERE o.id = ?";

int
account_org_get(struct db *db, struct arena *a, int64_t org_id, struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_ORG_GET, "i", org_id);

	if (rc == 0 && (*row)->nrows == 0)
		return ACCOUNT_ENOTFOUND;
	return rc;
}

static const char SQL_ORG_FIND[] =
    "SELECT id FROM orgs WHERE public_id = ? OR name = ?";

int
account_org_find(struct db *db, struct arena *a, const char *name_or_id,
    int64_t *org_id)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_ORG_FIND, "ss", name_or_id, name_or_id);

	if (rc < 0)
		return rc;
	if (r->nrows == 0)
		return ACCOUNT_ENOTFOUND;
	*org_id = db_int(r, 0, 0);
	return 0;
}

static const char SQL_ORGS_OF_USER[] =
    "SELECT o.public_id, o.name, o.plan, m.role, " DB_TS("o.created_at")
    " FROM memberships m JOIN orgs o ON o.id = m.org_id"
    " WHERE m.user_id = ? AND m.status = 'active' ORDER BY o.id";

int
account_orgs_of_user(struct db *db, struct arena *a, int64_t user_id,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_ORGS_OF_USER, "i", user_id);
}

#define MEMBER_COLS "m.public_id, m.email, m.role, m.status, " DB_TS("m.added_at") \
	", " DB_TS("m.joined_at") ", " DB_TS("m.updated_at")

static void
member_from_row(const struct db_res *r, unsigned i, struct member *m)
{
	m->member_id = db_val(r, i, 0);
	m->email = db_val(r, i, 1);
	m->role = db_val(r, i, 2);
	m->status = db_val(r, i, 3);
	m->added_at = db_val(r, i, 4);
	m->joined_at = db_val(r, i, 5);
	m->updated_at = db_val(r, i, 6);
}

static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO memberships (public_id, org_id, user_id, email, role, status,"
    " joined_at) SELECT ?, ?, u.id, ?, ?, IF(u.id IS NULL, 'invited', 'active'),"
    " IF(u.id IS NULL, NULL, UTC_TIMESTAMP(6))"
    " FROM (SELECT 1) one LEFT JOIN users u ON u.email = ?";
/* A new member whose user exists gets this org as default if they had none. */
static const char SQL_MEMBER_DEFAULT_ORG[] =
    "UPDATE users SET default_org_id = ? WHERE email = ? AND default_org_id IS NULL";
static const char SQL_MEMBER_GET[] =
    "SELECT " MEMBER_COLS " FROM memberships m WHERE m.org_id = ? AND m.email = ?";
static const char SQL_MEMBER_LIST[] =
    "SELECT " MEMBER_COLS " FROM memberships m WHERE m.org_id = ? ORDER BY m.id";

int
account_member_add(struct db *db, struct arena *a, int64_t org_id,
    const char *email, const char *role, struct member *m)
{
	const char *em = lower(a, email);
	struct db_res *r;
	char pub[32];
	int64_t rc;

	ids_new("member", pub, sizeof(pub));
	rc = db_exec(db, SQL_MEMBER_INSERT, "sisss", pub, org_id, em, role, em);
	if (rc == DB_EDUP)
		return ACCOUNT_EEXISTS;
	if (rc < 0)
		return (int)rc;
	if ((rc = db_exec(db, SQL_MEMBER_DEFAULT_ORG, "is", org_id, em)) < 0 ||
	    (rc = auth_invalidate(db, em, 0)) < 0)
		return (int)rc;
	if ((rc = db_query(db, a, &r, SQL_MEMBER_GET, "is", org_id, em)) < 0)
		return (int)rc;
	member_from_row(r, 0, m);
	return 0;
}

int
account_member_list(struct db *db, struct arena *a, int64_t org_id,
    struct member **ms, unsigned *n)
{
	struct db_res *r;
	unsigned i;
	int rc;

	if ((rc = db_query(db, a, &r, SQL_MEMBER_LIST, "i", org_id)) < 0)
		return rc;
	*ms = arena_alloc(a, (r->nrows + 1) * sizeof(**ms));
	for (i = 0; i < r->nrows; i++)
		member_from_row(r, i, &(*ms)[i]);
	*n = r->nrows;
	return 0;
}

static const char SQL_OWNERS_LOCK[] =
    "SELECT email FROM memberships WHERE org_id = ? AND role = 'owner'"
    " AND status = 'active' FOR UPDATE";
static const char SQL_MEMBER_SET_ROLE[] =
    "UPDATE memberships SET role = ?, updated_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND email = ?";

int
account_member_set_role(struct db *db, struct arena *a, int64_t org_id,
    const char *email, const char *role, struct member *m)
{
	const char *em = lower(a, email);
	struct db_res *owners, *r;
	int64_t rc;

	/* Locking the owner rows serialises concurrent demotions, so two
	 * owners cannot demote each other at once and leave none. */
	if ((rc = db_query(db, a, &owners, SQL_OWNERS_LOCK, "i", org_id)) < 0)
		return (int)rc;
	if ((rc = db_query(db, a, &r, SQL_MEMBER_GET, "is", org_id, em)) < 0)
		return (int)rc;
	if (r->nrows == 0)
		return ACCOUNT_ENOTFOUND;
	if (strcmp(db_val(r, 0, 2), "owner") == 0 && strcmp(role, "owner") != 0 &&
	    strcmp(db_val(r, 0, 3), "active") == 0 && owners->nrows <= 1)
		return ACCOUNT_ELAST_OWNER;
	if ((rc = db_exec(db, SQL_MEMBER_SET_ROLE, "sis", role, org_id, em)) < 0 ||
	    (rc = auth_invalidate(db, em, 0)) < 0)
		return (int)rc;
	if ((rc = db_query(db, a, &r, SQL_MEMBER_GET, "is", org_id, em)) < 0)
		return (int)rc;
	member_from_row(r, 0, m);
	return 0;
}
