/* The SQL of dagctl's team view: members and invitations (dagy/team.h). */
#include <string.h>

#include "dagy/auth.h"
#include "dagy/crypto.h"
#include "dagy/ids.h"
#include "dagy/team.h"

#define MEMBER_SELECT \
	"SELECT u.public_id, m.email, m.role, " DB_TS("m.added_at") ", " \
	DB_TS("m.updated_at") ", u.id FROM memberships m JOIN users u ON u.id = m.user_id"

static const char SQL_MEMBERS[] = MEMBER_SELECT
    " WHERE m.org_id = ? AND m.status = 'active' ORDER BY m.id";

int
team_members(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_MEMBERS, "i", org_id);
}

static const char SQL_MEMBER[] = MEMBER_SELECT
    " WHERE m.org_id = ? AND m.status = 'active' AND u.public_id = ?";

int
team_member(struct db *db, struct arena *a, int64_t org_id, const char *user_id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_MEMBER, "is", org_id, user_id);

	if (rc < 0)
		return rc;
	return (*row)->nrows == 0 ? TEAM_ENOTFOUND : 0;
}

static const char SQL_OWNERS_LOCK[] =
    "SELECT email FROM memberships WHERE org_id = ? AND role = 'owner'"
    " AND status = 'active' FOR UPDATE";
static const char SQL_REMOVE[] =
    "DELETE FROM memberships WHERE org_id = ? AND user_id = ?";

int
team_member_remove(struct db *db, struct arena *a, int64_t org_id, const char *user_id)
{
	struct db_res *owners, *m;
	int64_t rc;

	if ((rc = db_query(db, a, &owners, SQL_OWNERS_LOCK, "i", org_id)) < 0 ||
	    (rc = team_member(db, a, org_id, user_id, &m)) < 0)
		return (int)rc;
	if (strcmp(db_val(m, 0, TEAM_M_ROLE), "owner") == 0 && owners->nrows <= 1)
		return TEAM_ELAST_OWNER;
	if ((rc = db_exec(db, SQL_REMOVE, "ii", org_id, db_int(m, 0, TEAM_M_USER_DBID))) < 0 ||
	    (rc = auth_invalidate(db, db_val(m, 0, TEAM_M_EMAIL), 0)) < 0)
		return (int)rc;
	return 0;
}

#define INVITE_SELECT \
	"SELECT i.public_id, i.email, i.role, i.invited_by, " DB_TS("i.expires_at") ", " \
	DB_TS("i.created_at") ", i.id, i.org_id, i.secret_hash," \
	" i.expires_at <= UTC_TIMESTAMP(6), (SELECT public_id FROM orgs WHERE id = i.org_id)" \
	" FROM dagctl_invitations i"

static const char SQL_INVITE[] =
    "INSERT INTO dagctl_invitations (public_id, org_id, email, role, lookup_id,"
    " secret_hash, invited_by, expires_at)"
    " VALUES (?, ?, LOWER(?), ?, ?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)";
static const char SQL_INVITE_GET[] = INVITE_SELECT " WHERE i.public_id = ?";
static const char SQL_MEMBER_EXISTS[] =
    "SELECT 1 FROM memberships WHERE org_id = ? AND email = LOWER(?) AND status = 'active'";

int
team_invite(struct db *db, const struct config *cfg, struct arena *a, int64_t org_id,
    const char *email, const char *role, const char *by, int64_t ttl,
    const char **token, struct db_res **row)
{
	unsigned char raw[32];
	char id[40], lookup[9], secret[48], hash[CRYPTO_HASH_MAX];
	struct db_res *x;
	int64_t rc;

	if ((rc = db_query(db, a, &x, SQL_MEMBER_EXISTS, "is", org_id, email)) < 0)
		return (int)rc;
	if (x->nrows > 0)
		return TEAM_EEXISTS;
	if (crypto_random(raw, sizeof(raw)) < 0)
		return DB_ERR;
	crypto_b64url(raw, sizeof(raw), secret);
	ids_random_chars(lookup, 8);
	lookup[8] = '\0';
	if (crypto_hash_secret(cfg, secret, hash) < 0)
		return DB_ERR;
	ids_new("inv", id, sizeof(id));
	rc = db_exec(db, SQL_INVITE, "sisssssi", id, org_id, email, role, lookup, hash, by, ttl);
	if (rc < 0)
		return (int)rc;
	*token = arena_printf(a, "dctl_inv_%s_%s", lookup, secret);
	return db_query(db, a, row, SQL_INVITE_GET, "s", id);
}

static const char SQL_PENDING[] = INVITE_SELECT
    " WHERE i.org_id = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL"
    " AND i.expires_at > UTC_TIMESTAMP(6) ORDER BY i.id DESC";

int
team_invitations(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_PENDING, "i", org_id);
}

static const char SQL_REVOKE[] =
    "UPDATE dagctl_invitations SET revoked_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND public_id = ? AND accepted_at IS NULL AND revoked_at IS NULL";

int
team_revoke(struct db *db, int64_t org_id, const char *id)
{
	int64_t rc = db_exec(db, SQL_REVOKE, "is", org_id, id);

	if (rc < 0)
		return (int)rc;
	return rc == 0 ? TEAM_ENOTFOUND : 0;
}

static const char SQL_TOKEN[] = INVITE_SELECT
    " WHERE i.lookup_id = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL FOR UPDATE";

int
team_token(struct db *db, struct arena *a, const char *token, struct db_res **row)
{
	char lookup[9];
	int rc;

	if (strncmp(token, "dctl_inv_", 9) != 0 || strlen(token) < 9 + 8 + 1 + 43 ||
	    token[17] != '_')
		return TEAM_ENOTFOUND;
	memcpy(lookup, token + 9, 8);
	lookup[8] = '\0';
	if ((rc = db_query(db, a, row, SQL_TOKEN, "s", lookup)) < 0)
		return rc;
	if ((*row)->nrows == 0 || !crypto_verify_secret(db_val(*row, 0, TEAM_I_HASH), token + 18))
		return TEAM_ENOTFOUND;
	return db_int(*row, 0, TEAM_I_EXPIRED) ? TEAM_EEXPIRED : 0;
}

static const char SQL_ACCEPTED[] =
    "UPDATE dagctl_invitations SET accepted_at = UTC_TIMESTAMP(6) WHERE id = ?";

int
team_accepted(struct db *db, int64_t dbid)
{
	int64_t rc = db_exec(db, SQL_ACCEPTED, "i", dbid);

	return rc < 0 ? (int)rc : 0;
}
