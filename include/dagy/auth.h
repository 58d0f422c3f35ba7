/* Who is asking and what they may do: the permission list, the role matrix,
 * API keys and access tokens, and the per-process verification cache. */
#ifndef DAGY_AUTH_H
#define DAGY_AUTH_H

#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "dagy/arena.h"

struct config;
struct db;
struct db_res;

/* Order is stored in api_keys.scope_mask: append only, never reorder. */
enum perm {
	PERM_FLOWS_READ,
	PERM_FLOWS_WRITE,
	PERM_FLOWS_DELETE,
	PERM_RUNS_READ,
	PERM_RUNS_TRIGGER,
	PERM_RUNS_CANCEL,
	PERM_SCHEDULES_READ,
	PERM_SCHEDULES_WRITE,
	PERM_SCHEDULES_DELETE,
	PERM_API_KEYS_READ,
	PERM_API_KEYS_WRITE,
	PERM_API_KEYS_DELETE,
	PERM_ADMIN_MEMBERS,
	PERM_ADMIN_API_KEYS,
	PERM_ADMIN_AUDIT,
	PERM_SECRETS_READ,
	PERM_SECRETS_WRITE,
	PERM_SECRETS_DELETE,
	PERM_NOTIFICATIONS_READ,
	PERM_NOTIFICATIONS_WRITE,
	PERM_ENVIRONMENTS_READ,
	PERM_ENVIRONMENTS_WRITE,
	PERM_SENSORS_READ,
	PERM_SENSORS_WRITE,
	PERM_BILLING_READ,
	PERM_BILLING_WRITE,
	PERM__MAX,
	/* Route markers, not permissions: */
	PERM_PUBLIC = 100, /* no credentials needed */
	PERM_AUTHENTICATED, /* any valid credential */
	PERM_SUPER_ADMIN,
};

#define PERM_BIT(p) ((uint64_t)1 << (p))

enum cred_kind { CRED_NONE, CRED_API_KEY, CRED_ACCESS_TOKEN };

struct principal {
	enum cred_kind kind;
	int64_t cred_id;
	int64_t user_id;
	const char *email;
	int super_admin;
	int impersonated; /* an impersonation token of a super admin (admin.h) */
	int org_suspended; /* writes and runs refused, reads allowed */
	time_t runs_blocked_after; /* 0, or when a failed payment's grace ended */
	int64_t org_id; /* 0 when the user has no organization yet */
	const char *org_public_id, *org_name, *role, *plan;
	uint64_t perms; /* the role's permissions narrowed by the key's scopes */
	const char *ip, *user_agent;
};

enum auth_err {
	AUTH_EUNAUTH = -10,    /* missing, malformed, unknown, revoked or expired */
	AUTH_ENOT_MEMBER = -11, /* the credential is valid but not in that org */
	AUTH_EBUSY = -12,      /* every argon2 slot of the host stayed taken */
};

const char *auth_perm_name(enum perm p);
/* PERM__MAX when name is no permission. */
enum perm auth_perm_from_name(const char *name);
/* The permission mask of a role name, 0 for no such role. */
uint64_t auth_role_perms(const char *role);
int auth_role_valid(const char *role);
extern const char *const auth_roles[4];

/* Verifies "Bearer" credentials and fills p for the organization named by
 * org_public_id (NULL: the credential's own, or the user's default).
 * Returns 0, an enum auth_err or an enum db_err. */
int auth_authenticate(struct db *db, const struct config *cfg, struct arena *a,
    const char *token, const char *org_public_id, struct principal *p);

/* Makes every process reload, on its next request, what the credentials of
 * the user (by email, or by id when email is NULL) may do. Call in the
 * transaction of any change to the user's memberships, roles or default
 * organization. */
int auth_invalidate(struct db *db, const char *email, int64_t user_id);

/* As auth_invalidate for every credential acting in org (its members'
 * and impersonation tokens): call in the transaction that changes the
 * org's status, plan or run block. */
int auth_invalidate_org(struct db *db, int64_t org_id);

/* Creates an API key for user in org; *key_out is the full key, shown once.
 * scopes NULL means the role's full set. The caller owns the transaction. */
int auth_key_create(struct db *db, const struct config *cfg, struct arena *a,
    int64_t org_id, int64_t user_id, const char *name, json_t *scopes,
    const char **key_id, const char **key_out, const char **key_prefix);
/* Rows: key_id, name, key_prefix, scope_mask, created_at, last_used_at,
 * owner email; the org's live keys, newest first. */
int auth_key_list(struct db *db, struct arena *a, int64_t org_id,
    struct db_res **rows);
/* 1 if the key was revoked, 0 if the org has no such live key. */
int auth_key_revoke(struct db *db, int64_t org_id, const char *key_id);
/* Returns a JSON array of scope names for a stored mask. */
json_t *auth_scopes_json(uint64_t mask);
/* 0, or -1 with *bad naming the first unknown scope. */
int auth_scopes_parse(json_t *scopes, uint64_t *mask, const char **bad);

/* Email + password to a new access token; AUTH_EUNAUTH for any mismatch. */
int auth_login(struct db *db, const struct config *cfg, struct arena *a,
    const char *email, const char *password, const char **token,
    const char **expires_at, int64_t *user_id);
int auth_logout(struct db *db, int64_t token_id);
/* A new access token of super admin user_id acting with owner rights in
 * org_id only, for ttl seconds; as auth_login. */
int auth_impersonate(struct db *db, const struct config *cfg, struct arena *a,
    int64_t user_id, int64_t org_id, int64_t ttl, const char **token,
    const char **expires_at);

#endif
