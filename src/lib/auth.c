/* Credentials and permissions. A bearer credential is
 * dagy_sk_<lookup>_<secret> (API key) or dagy_at_<lookup>_<secret> (access
 * token); the row is found by lookup id and the secret checked with
 * argon2id, which the cache spares on later requests of the same process. */
#include <string.h>
#include <time.h>

#include "dagy/auth.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/db.h"
#include "dagy/ids.h"
#include "dagy/limits.h"

#define LOOKUP_LEN 8
#define SECRET_BYTES 32
#define SECRET_LEN 43 /* base64url of 32 bytes */
#define PREFIX_LEN 8  /* "dagy_sk_" */
#define TOKEN_LEN (PREFIX_LEN + LOOKUP_LEN + 1 + SECRET_LEN)
#define CACHE_SLOTS 1024
#define LAST_USED_EVERY 60

static const char *const perm_names[PERM__MAX] = {
	"flows.read", "flows.write", "flows.delete",
	"runs.read", "runs.trigger", "runs.cancel",
	"schedules.read", "schedules.write", "schedules.delete",
	"api_keys.read", "api_keys.write", "api_keys.delete",
	"admin.members", "admin.api_keys", "admin.audit",
	"secrets.read", "secrets.write", "secrets.delete",
	"notifications.read", "notifications.write",
	"environments.read", "environments.write",
	"sensors.read", "sensors.write",
	"billing.read", "billing.write",
};

#define B PERM_BIT
static const uint64_t role_masks[4] = {
	/* owner */
	(B(PERM__MAX) - 1),
	/* admin */
	B(PERM_FLOWS_READ) | B(PERM_FLOWS_WRITE) | B(PERM_FLOWS_DELETE) |
	    B(PERM_RUNS_READ) | B(PERM_RUNS_TRIGGER) | B(PERM_RUNS_CANCEL) |
	    B(PERM_SCHEDULES_READ) | B(PERM_SCHEDULES_WRITE) |
	    B(PERM_API_KEYS_READ) | B(PERM_API_KEYS_WRITE) |
	    B(PERM_ADMIN_MEMBERS) | B(PERM_ADMIN_API_KEYS) | B(PERM_ADMIN_AUDIT) |
	    B(PERM_SECRETS_READ) | B(PERM_SECRETS_WRITE) |
	    B(PERM_NOTIFICATIONS_READ) | B(PERM_NOTIFICATIONS_WRITE) |
	    B(PERM_ENVIRONMENTS_READ) | B(PERM_ENVIRONMENTS_WRITE) |
	    B(PERM_SENSORS_READ) | B(PERM_SENSORS_WRITE) | B(PERM_BILLING_READ),
	/* developer */
	B(PERM_FLOWS_READ) | B(PERM_FLOWS_WRITE) |
	    B(PERM_RUNS_READ) | B(PERM_RUNS_TRIGGER) | B(PERM_RUNS_CANCEL) |
	    B(PERM_SCHEDULES_READ) | B(PERM_SCHEDULES_WRITE) |
	    B(PERM_SECRETS_READ) | B(PERM_SECRETS_WRITE) |
	    B(PERM_NOTIFICATIONS_READ) | B(PERM_ENVIRONMENTS_READ) |
	    B(PERM_SENSORS_READ) | B(PERM_SENSORS_WRITE),
	/* viewer */
	B(PERM_FLOWS_READ) | B(PERM_RUNS_READ) | B(PERM_SCHEDULES_READ) |
	    B(PERM_ENVIRONMENTS_READ) | B(PERM_BILLING_READ),
};
#undef B

const char *const auth_roles[4] = {"owner", "admin", "developer", "viewer"};

/* A verified credential and, for the generation it was loaded at, who it
 * acts as. Strings are copied in so a slot outlives the request arena. */
struct cache_slot {
	uint8_t sha[32];
	int64_t cred_id, gen;
	time_t verified_at, last_used_at;
	int loaded; /* the fields below hold the principal for gen */
	int denied; /* the org exists not, or the user is no active member */
	char org_asked[48]; /* the org the request named, "" for the default */
	int64_t user_id, org_id;
	int super_admin, impersonated, org_suspended;
	time_t runs_blocked_after;
	uint64_t perms;
	char email[256], org_public_id[48], org_name[208], role[16], plan[32];
};

static struct cache_slot cache[CACHE_SLOTS];

const char *
auth_perm_name(enum perm p)
{
	return p < PERM__MAX ? perm_names[p] : "";
}

enum perm
auth_perm_from_name(const char *name)
{
	int i;

	for (i = 0; i < PERM__MAX; i++)
		if (strcmp(perm_names[i], name) == 0)
			return (enum perm)i;
	return PERM__MAX;
}

uint64_t
auth_role_perms(const char *role)
{
	int i;

	for (i = 0; role != NULL && i < 4; i++)
		if (strcmp(auth_roles[i], role) == 0)
			return role_masks[i];
	return 0;
}

int
auth_role_valid(const char *role)
{
	return auth_role_perms(role) != 0;
}

json_t *
auth_scopes_json(uint64_t mask)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < PERM__MAX; i++)
		if (mask & PERM_BIT(i))
			json_array_append_new(a, json_string(perm_names[i]));
	return a;
}

int
auth_scopes_parse(json_t *scopes, uint64_t *mask, const char **bad)
{
	size_t i;
	json_t *v;

	*mask = 0;
	json_array_foreach(scopes, i, v) {
		enum perm p = json_is_string(v) ? auth_perm_from_name(json_string_value(v)) : PERM__MAX;

		if (p == PERM__MAX) {
			*bad = json_is_string(v) ? json_string_value(v) : "(not a string)";
			return -1;
		}
		*mask |= PERM_BIT(p);
	}
	return 0;
}

/* argon2id within the host's bound on concurrent verifications: 0 on a
 * match, AUTH_EUNAUTH, or AUTH_EBUSY when no slot came free in time. */
static int
verify(const char *encoded, const char *secret)
{
	int ok;

	if (limits_argon2_enter() < 0)
		return AUTH_EBUSY;
	ok = crypto_verify_secret(encoded, secret);
	limits_argon2_leave();
	return ok ? 0 : AUTH_EUNAUTH;
}

/* Splits a bearer credential; returns its kind or CRED_NONE if malformed. */
static enum cred_kind
parse_token(const char *t, char lookup[LOOKUP_LEN + 1], const char **secret)
{
	enum cred_kind kind;
	size_t i;

	if (strlen(t) != TOKEN_LEN)
		return CRED_NONE;
	if (strncmp(t, "dagy_sk_", PREFIX_LEN) == 0)
		kind = CRED_API_KEY;
	else if (strncmp(t, "dagy_at_", PREFIX_LEN) == 0)
		kind = CRED_ACCESS_TOKEN;
	else
		return CRED_NONE;
	for (i = 0; i < LOOKUP_LEN; i++) {
		char c = t[PREFIX_LEN + i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return CRED_NONE;
		lookup[i] = c;
	}
	lookup[LOOKUP_LEN] = '\0';
	if (t[PREFIX_LEN + LOOKUP_LEN] != '_')
		return CRED_NONE;
	*secret = t + PREFIX_LEN + LOOKUP_LEN + 1;
	return kind;
}

/* The hot path reads one row of one table: the credential's hash and its
 * authorisation generation. The generation is bumped (auth_invalidate)
 * whenever its user's memberships change, so the cached principal is
 * reloaded, with the joins below, only when it may have changed. */
static const char SQL_KEY_ROW[] =
    "SELECT id, secret_hash, authz_gen FROM api_keys"
    " WHERE lookup_id = ? AND revoked_at IS NULL"
    " AND (expires_at IS NULL OR expires_at > UTC_TIMESTAMP(6))";
static const char SQL_TOKEN_ROW[] =
    "SELECT id, secret_hash, authz_gen FROM access_tokens"
    " WHERE lookup_id = ? AND revoked_at IS NULL"
    " AND expires_at > UTC_TIMESTAMP(6)";

/* Each returns: user id, email, super_admin, org id, org public id, org
 * name, role, scope mask, plan, impersonated, org status, the epoch second
 * from which the org's runs are blocked (NULL: never). A key acts in the
 * org it was made in unless the request names another org of its user; an
 * access token in the named org or the user's default. An impersonation
 * token (admin.h) acts with owner rights in its org only, without the
 * super admin flag. */
#define SQL_WHO_TAIL \
    " LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = u.id" \
    "  AND m.status = 'active' WHERE c.id = ?"
#define SQL_WHO_ORG_COLS \
    " o.status, UNIX_TIMESTAMP(o.runs_blocked_after)"
#define SQL_WHO_KEY \
    "SELECT u.id, u.email, u.super_admin, o.id, o.public_id, o.name, m.role," \
    " c.scope_mask, o.plan, 0," SQL_WHO_ORG_COLS \
    " FROM api_keys c JOIN users u ON u.id = c.user_id"
#define SQL_WHO_TOKEN \
    "SELECT u.id, u.email, u.super_admin AND c.impersonate_org_id IS NULL," \
    " o.id, o.public_id, o.name, CASE WHEN c.impersonate_org_id IS NULL THEN m.role" \
    " WHEN c.impersonate_org_id = o.id THEN 'owner' END," \
    " NULL, o.plan, c.impersonate_org_id IS NOT NULL," SQL_WHO_ORG_COLS \
    " FROM access_tokens c JOIN users u ON u.id = c.user_id"
static const char SQL_WHO_KEY_OWN[] =
    SQL_WHO_KEY " LEFT JOIN orgs o ON o.id = c.org_id" SQL_WHO_TAIL;
static const char SQL_WHO_KEY_ORG[] =
    SQL_WHO_KEY " LEFT JOIN orgs o ON o.public_id = ?" SQL_WHO_TAIL;
static const char SQL_WHO_TOKEN_OWN[] =
    SQL_WHO_TOKEN " LEFT JOIN orgs o ON o.id = COALESCE(c.impersonate_org_id,"
    " u.default_org_id)" SQL_WHO_TAIL;
static const char SQL_WHO_TOKEN_ORG[] =
    SQL_WHO_TOKEN " LEFT JOIN orgs o ON o.public_id = ?" SQL_WHO_TAIL;

static const char SQL_KEY_TOUCH[] =
    "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char SQL_INVALIDATE_KEYS[] =
    "UPDATE api_keys k JOIN users u ON u.id = k.user_id"
    " SET k.authz_gen = k.authz_gen + 1 WHERE u.email = ? OR u.id = ?";
static const char SQL_INVALIDATE_TOKENS[] =
    "UPDATE access_tokens t JOIN users u ON u.id = t.user_id"
    " SET t.authz_gen = t.authz_gen + 1 WHERE u.email = ? OR u.id = ?";
static const char SQL_INVALIDATE_ORG_KEYS[] =
    "UPDATE api_keys k JOIN memberships m ON m.user_id = k.user_id"
    " SET k.authz_gen = k.authz_gen + 1 WHERE m.org_id = ?";
static const char SQL_INVALIDATE_ORG_TOKENS[] =
    "UPDATE access_tokens t SET t.authz_gen = t.authz_gen + 1"
    " WHERE t.impersonate_org_id = ? OR t.user_id IN"
    " (SELECT m.user_id FROM memberships m WHERE m.org_id = ?)";

int
auth_invalidate(struct db *db, const char *email, int64_t user_id)
{
	int64_t rc = db_exec(db, SQL_INVALIDATE_KEYS, "si", email, user_id);

	if (rc >= 0)
		rc = db_exec(db, SQL_INVALIDATE_TOKENS, "si", email, user_id);
	return rc < 0 ? (int)rc : 0;
}

int
auth_invalidate_org(struct db *db, int64_t org_id)
{
	int64_t rc = db_exec(db, SQL_INVALIDATE_ORG_KEYS, "i", org_id);

	if (rc >= 0)
		rc = db_exec(db, SQL_INVALIDATE_ORG_TOKENS, "ii", org_id, org_id);
	return rc < 0 ? (int)rc : 0;
}

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

/* Loads who the credential acts as into the slot. */
static int
load_principal(struct db *db, struct arena *a, enum cred_kind kind,
    const char *org, struct cache_slot *slot)
{
	struct db_res *r;
	int rc;

	if (kind == CRED_API_KEY && org != NULL)
		rc = db_query(db, a, &r, SQL_WHO_KEY_ORG, "si", org, slot->cred_id);
	else if (kind == CRED_API_KEY)
		rc = db_query(db, a, &r, SQL_WHO_KEY_OWN, "i", slot->cred_id);
	else if (org != NULL)
		rc = db_query(db, a, &r, SQL_WHO_TOKEN_ORG, "si", org, slot->cred_id);
	else
		rc = db_query(db, a, &r, SQL_WHO_TOKEN_OWN, "i", slot->cred_id);
	if (rc < 0)
		return rc;
	if (r->nrows != 1)
		return AUTH_EUNAUTH;
	slot->user_id = db_int(r, 0, 0);
	copy(slot->email, sizeof(slot->email), db_val(r, 0, 1));
	slot->super_admin = db_int(r, 0, 2) != 0;
	slot->org_id = db_val(r, 0, 6) != NULL ? db_int(r, 0, 3) : 0;
	/* No org at all is fine (a new user); an org without membership is not. */
	slot->denied = db_val(r, 0, 6) == NULL && (db_val(r, 0, 3) != NULL || org != NULL);
	copy(slot->org_public_id, sizeof(slot->org_public_id), db_val(r, 0, 4));
	copy(slot->org_name, sizeof(slot->org_name), db_val(r, 0, 5));
	copy(slot->role, sizeof(slot->role), db_val(r, 0, 6));
	copy(slot->plan, sizeof(slot->plan), db_val(r, 0, 8));
	slot->impersonated = db_int(r, 0, 9) != 0;
	slot->org_suspended = db_val(r, 0, 10) != NULL &&
	    strcmp(db_val(r, 0, 10), "suspended") == 0;
	slot->runs_blocked_after = db_val(r, 0, 11) != NULL ? (time_t)db_int(r, 0, 11) : 0;
	slot->perms = auth_role_perms(db_val(r, 0, 6));
	if (kind == CRED_API_KEY)
		slot->perms &= (uint64_t)strtoull(db_val(r, 0, 7), NULL, 10);
	slot->loaded = 1;
	copy(slot->org_asked, sizeof(slot->org_asked), org);
	return 0;
}

int
auth_authenticate(struct db *db, const struct config *cfg, struct arena *a,
    const char *token, const char *org_public_id, struct principal *p)
{
	char lookup[LOOKUP_LEN + 1];
	const char *secret;
	enum cred_kind kind;
	struct db_res *res;
	struct cache_slot *slot;
	uint8_t sha[32];
	time_t now = time(NULL);
	int64_t id, gen;
	int rc;

	memset(p, 0, sizeof(*p));
	if (token == NULL || (kind = parse_token(token, lookup, &secret)) == CRED_NONE)
		return AUTH_EUNAUTH;
	if (org_public_id != NULL && strlen(org_public_id) >= sizeof(slot->org_asked))
		return AUTH_ENOT_MEMBER;
	rc = db_query(db, a, &res, kind == CRED_API_KEY ? SQL_KEY_ROW : SQL_TOKEN_ROW,
	    "s", lookup);
	if (rc < 0)
		return rc;
	if (res->nrows != 1)
		return AUTH_EUNAUTH;
	id = db_int(res, 0, 0);
	gen = db_int(res, 0, 2);

	crypto_sha256(token, strlen(token), sha);
	slot = &cache[(sha[0] | sha[1] << 8) % CACHE_SLOTS];
	if (!(crypto_equal(slot->sha, sha, 32) && slot->cred_id == id &&
	    now - slot->verified_at < config_int(cfg, "auth", "cache_ttl_seconds"))) {
		if ((rc = verify(db_val(res, 0, 1), secret)) < 0)
			return rc;
		memcpy(slot->sha, sha, 32);
		slot->cred_id = id;
		slot->verified_at = now;
		slot->last_used_at = 0;
		slot->loaded = 0;
	}
	if (!slot->loaded || slot->gen != gen ||
	    strcmp(slot->org_asked, org_public_id != NULL ? org_public_id : "") != 0) {
		slot->gen = gen;
		if ((rc = load_principal(db, a, kind, org_public_id, slot)) < 0) {
			slot->loaded = 0;
			return rc;
		}
	}
	if (slot->denied)
		return AUTH_ENOT_MEMBER;

	p->kind = kind;
	p->cred_id = id;
	p->user_id = slot->user_id;
	p->email = arena_strdup(a, slot->email);
	p->super_admin = slot->super_admin;
	p->impersonated = slot->impersonated;
	if (slot->org_id != 0) {
		p->org_suspended = slot->org_suspended;
		p->runs_blocked_after = slot->runs_blocked_after;
		p->org_id = slot->org_id;
		p->org_public_id = arena_strdup(a, slot->org_public_id);
		p->org_name = arena_strdup(a, slot->org_name);
		p->role = arena_strdup(a, slot->role);
		p->plan = arena_strdup(a, slot->plan);
		p->perms = slot->perms;
	}
	/* last_used_at is advisory: one write a minute per key and process
	 * keeps it useful without a write on every read. */
	if (kind == CRED_API_KEY && now - slot->last_used_at >= LAST_USED_EVERY) {
		slot->last_used_at = now;
		if ((rc = (int)db_exec(db, SQL_KEY_TOUCH, "i", id)) < 0)
			return rc;
	}
	return 0;
}

/* Makes "dagy_xx_<lookup>_<secret>" and the argon2id hash of the secret. */
static int
new_credential(const struct config *cfg, const char *kind, char *token,
    char lookup[LOOKUP_LEN + 1], char hash[CRYPTO_HASH_MAX])
{
	uint8_t raw[SECRET_BYTES];
	char secret[SECRET_LEN + 2];

	ids_random_chars(lookup, LOOKUP_LEN);
	if (crypto_random(raw, sizeof(raw)) < 0)
		return -1;
	crypto_b64url(raw, sizeof(raw), secret);
	snprintf(token, TOKEN_LEN + 1, "dagy_%s_%s_%s", kind, lookup, secret);
	return crypto_hash_secret(cfg, secret, hash);
}

static const char SQL_KEY_INSERT[] =
    "INSERT INTO api_keys (public_id, lookup_id, secret_hash, org_id, user_id,"
    " name, scope_mask, scopes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

int
auth_key_create(struct db *db, const struct config *cfg, struct arena *a,
    int64_t org_id, int64_t user_id, const char *name, json_t *scopes,
    const char **key_id, const char **key_out, const char **key_prefix)
{
	char *token = arena_alloc(a, TOKEN_LEN + 1);
	char *pub = arena_alloc(a, 32);
	char lookup[LOOKUP_LEN + 1], hash[CRYPTO_HASH_MAX];
	uint64_t mask = PERM_BIT(PERM__MAX) - 1;
	const char *bad;
	char *scopes_text;
	int64_t rc;

	if (scopes != NULL && auth_scopes_parse(scopes, &mask, &bad) < 0)
		return DB_ERR;
	if (new_credential(cfg, "sk", token, lookup, hash) < 0)
		return DB_ERR;
	ids_new("key", pub, 32);
	{
		json_t *list = auth_scopes_json(mask);
		char *s = json_dumps(list, JSON_COMPACT);

		scopes_text = arena_strdup(a, s);
		free(s);
		json_decref(list);
	}
	rc = db_exec(db, SQL_KEY_INSERT, "sssiisis", pub, lookup, hash, org_id,
	    user_id, name, (int64_t)mask, scopes_text);
	if (rc < 0)
		return (int)rc;
	*key_id = pub;
	*key_out = token;
	*key_prefix = arena_printf(a, "%.*s***", PREFIX_LEN + LOOKUP_LEN, token);
	return 0;
}

static const char SQL_KEY_LIST[] =
    "SELECT k.public_id, k.name, CONCAT('dagy_sk_', k.lookup_id, '***'),"
    " k.scope_mask, DATE_FORMAT(k.created_at, '%Y-%m-%dT%H:%i:%sZ'),"
    " DATE_FORMAT(k.last_used_at, '%Y-%m-%dT%H:%i:%sZ'), u.email"
    " FROM api_keys k JOIN users u ON u.id = k.user_id"
    " WHERE k.org_id = ? AND k.revoked_at IS NULL ORDER BY k.id DESC";
static const char SQL_KEY_REVOKE[] =
    "UPDATE api_keys SET revoked_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND public_id = ? AND revoked_at IS NULL";

int
auth_key_list(struct db *db, struct arena *a, int64_t org_id,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_KEY_LIST, "i", org_id);
}

int
auth_key_revoke(struct db *db, int64_t org_id, const char *key_id)
{
	int64_t rc = db_exec(db, SQL_KEY_REVOKE, "is", org_id, key_id);

	return rc < 0 ? (int)rc : rc > 0;
}

static const char SQL_USER_BY_EMAIL[] =
    "SELECT id, password_hash FROM users WHERE email = ?";
static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO access_tokens (lookup_id, secret_hash, user_id, expires_at,"
    " impersonate_org_id) VALUES (?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND,"
    " NULLIF(?, 0))";
static const char SQL_TOKEN_EXPIRY[] =
    "SELECT DATE_FORMAT(expires_at, '%Y-%m-%dT%H:%i:%sZ') FROM access_tokens WHERE id = ?";
static const char SQL_TOKEN_REVOKE[] =
    "UPDATE access_tokens SET revoked_at = UTC_TIMESTAMP(6)"
    " WHERE id = ? AND revoked_at IS NULL";

/* Stores a new access token (impersonating org_id unless 0). */
static int
issue_token(struct db *db, struct arena *a, int64_t user_id, int64_t org_id,
    int64_t ttl, const char *lookup, const char *hash, const char *tok,
    const char **token, const char **expires_at)
{
	struct db_res *res;
	int rc;

	rc = (int)db_exec(db, SQL_TOKEN_INSERT, "ssiii", lookup, hash, user_id, ttl,
	    org_id);
	if (rc < 0)
		return rc;
	if ((rc = db_query(db, a, &res, SQL_TOKEN_EXPIRY, "i", db_insert_id(db))) < 0)
		return rc;
	*token = tok;
	*expires_at = db_val(res, 0, 0);
	return 0;
}

int
auth_login(struct db *db, const struct config *cfg, struct arena *a,
    const char *email, const char *password, const char **token,
    const char **expires_at, int64_t *user_id)
{
	/* Verified when the email is unknown so both failures take as long. */
	static char dummy[CRYPTO_HASH_MAX];
	char lookup[LOOKUP_LEN + 1], hash[CRYPTO_HASH_MAX];
	char *tok = arena_alloc(a, TOKEN_LEN + 1);
	struct db_res *res;
	int rc;

	if ((rc = db_query(db, a, &res, SQL_USER_BY_EMAIL, "s", email)) < 0)
		return rc;
	if (res->nrows == 0 || db_val(res, 0, 1) == NULL) {
		if (dummy[0] == '\0' && crypto_hash_secret(cfg, "x", dummy) < 0)
			return DB_ERR;
		rc = verify(dummy, password);
		return rc == AUTH_EBUSY ? rc : AUTH_EUNAUTH;
	}
	if ((rc = verify(db_val(res, 0, 1), password)) < 0)
		return rc;
	*user_id = db_int(res, 0, 0);
	if (new_credential(cfg, "at", tok, lookup, hash) < 0)
		return DB_ERR;
	return issue_token(db, a, *user_id, 0,
	    (int64_t)config_int(cfg, "auth", "token_ttl_seconds"), lookup, hash, tok,
	    token, expires_at);
}

int
auth_impersonate(struct db *db, const struct config *cfg, struct arena *a,
    int64_t user_id, int64_t org_id, int64_t ttl, const char **token,
    const char **expires_at)
{
	char lookup[LOOKUP_LEN + 1], hash[CRYPTO_HASH_MAX];
	char *tok = arena_alloc(a, TOKEN_LEN + 1);

	if (new_credential(cfg, "at", tok, lookup, hash) < 0)
		return DB_ERR;
	return issue_token(db, a, user_id, org_id, ttl, lookup, hash, tok, token,
	    expires_at);
}

int
auth_logout(struct db *db, int64_t token_id)
{
	int64_t rc = db_exec(db, SQL_TOKEN_REVOKE, "i", token_id);

	return rc < 0 ? (int)rc : 0;
}
