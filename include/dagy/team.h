/* An organization's team as dagctl shows it: members with their user ids
 * and invitations whose tokens expire (argon2id-hashed, looked up by an
 * id in clear, like API keys). Callers own the transaction. */
#ifndef DAGY_TEAM_H
#define DAGY_TEAM_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct config;

enum team_err {
	TEAM_ENOTFOUND = -120,
	TEAM_EEXPIRED = -121,   /* the invitation's time ran out */
	TEAM_ELAST_OWNER = -122,
	TEAM_EEXISTS = -123,
};

enum team_mcol {
	TEAM_M_ID, TEAM_M_EMAIL, TEAM_M_ROLE, TEAM_M_CREATED, TEAM_M_UPDATED,
	TEAM_M_USER_DBID,
};

/* Active members, oldest first. */
int team_members(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows);
/* One active member by user public id. */
int team_member(struct db *db, struct arena *a, int64_t org_id, const char *user_id,
    struct db_res **row);
/* Removes a member; TEAM_ELAST_OWNER for the last owner (owner rows are
 * locked first, so concurrent removals cannot leave none). */
int team_member_remove(struct db *db, struct arena *a, int64_t org_id, const char *user_id);

enum team_icol {
	TEAM_I_ID, TEAM_I_EMAIL, TEAM_I_ROLE, TEAM_I_INVITED_BY, TEAM_I_EXPIRES,
	TEAM_I_CREATED, TEAM_I_DBID, TEAM_I_ORG_ID, TEAM_I_HASH, TEAM_I_EXPIRED,
	TEAM_I_ORG_PUBLIC,
};

/* A new invitation valid for ttl seconds: *token (in a) is shown once. */
int team_invite(struct db *db, const struct config *cfg, struct arena *a, int64_t org_id,
    const char *email, const char *role, const char *by, int64_t ttl,
    const char **token, struct db_res **row);
/* Pending invitations (not accepted, revoked or expired), newest first. */
int team_invitations(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows);
int team_revoke(struct db *db, int64_t org_id, const char *id);
/* The pending invitation a token names (locked for the transaction), or
 * TEAM_ENOTFOUND; TEAM_EEXPIRED when its time ran out. */
int team_token(struct db *db, struct arena *a, const char *token, struct db_res **row);
int team_accepted(struct db *db, int64_t dbid);

#endif
