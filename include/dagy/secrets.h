/* The one store of credentials at rest. Values are sealed with
 * AES-256-GCM under the current key of the keyring file named by
 * [secrets] key_file: a random 96-bit nonce each, and as associated data
 * the organization, a scope and a name, so a sealed value copied to
 * another row, scope or organization does not open. Every feature that
 * keeps a credential (secrets, environment variables, channel and S3
 * credentials, model keys, signing secrets) seals it here under a scope
 * of its own and registers its table for rotation in secrets.c.
 *
 * A sealed value is the text "v1.<key_id>.<base64(nonce | ciphertext |
 * tag)>"; the key id names the keyring entry that opens it. */
#ifndef DAGY_SECRETS_H
#define DAGY_SECRETS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct config;

#define SECRETS_KEY_ID_MAX 40
#define SECRETS_VALUE_MAX 65536

enum secrets_err {
	SECRETS_ENOTFOUND = -90,
	SECRETS_EEXISTS = -91,
	SECRETS_EKEY = -92,     /* no key in the keyring has that id */
	SECRETS_EAUTH = -93,    /* the value fails authentication: tampered or moved */
	SECRETS_EFORMAT = -94,  /* not a sealed value */
	SECRETS_EAMBIGUOUS = -95, /* the name exists in several environments */
};

struct secrets_keyring;

/* Reads the keyring file: lines "KEY_ID BASE64_KEY" (32 bytes), '#'
 * comments; the first key seals, all of them open. Refuses a missing,
 * unreadable, malformed or world-accessible file. 0, or -1 with err
 * naming the file and what is wrong. */
int secrets_keyring_load(struct secrets_keyring **out, const char *path,
    char *err, size_t errlen);
void secrets_keyring_free(struct secrets_keyring *k);
/* Loads the file named by [secrets] key_file and checks it against the
 * keys the database knows (secret_keys): the current key must be one of
 * them, or, in a database that knows none yet, becomes the first. When
 * the database is unreachable only the file is checked. 0, or -1 with
 * err naming the file. */
int secrets_keyring_open(struct secrets_keyring **out, const struct config *cfg,
    struct db *db, char *err, size_t errlen);
const char *secrets_keyring_current(const struct secrets_keyring *k);

/* Creates a keyring file holding one new key, with mode (0600, 0640);
 * refuses to overwrite an existing file. 0 or -1 with err. */
int secrets_keyring_create(const char *path, int mode, char *err, size_t errlen);

/* Seals n bytes of value for org under (scope, name) into *sealed (text
 * in a). The keyring is re-read first if its file changed, so a running
 * process follows a rotation. 0 or a secrets_err. */
int secrets_seal(struct secrets_keyring *k, struct arena *a, int64_t org_id,
    const char *scope, const char *name, const char *value, size_t n,
    const char **sealed);
/* Opens a sealed value into *value (NUL-terminated, *n bytes, in a).
 * SECRETS_EAUTH when it was tampered with or sealed for another org,
 * scope or name; SECRETS_EKEY when no key opens it. */
int secrets_open(struct secrets_keyring *k, struct arena *a, int64_t org_id,
    const char *scope, const char *name, const char *sealed, char **value,
    size_t *n);
/* The key id written in a sealed value, in out; -1 if it has none. */
int secrets_sealed_key(const char *sealed, char out[SECRETS_KEY_ID_MAX]);

/* Re-seals every registered value under a new key: writes the keyring
 * as new key + old keys, re-seals in batches until nothing under an old
 * key is left, then writes the new key alone and forgets the old ones.
 * Progress lines go to out. 0, or -1 with err (the keyring then still
 * holds the old keys, so nothing is lost). */
int secrets_rotate(struct secrets_keyring *k, struct db *db, FILE *out,
    char *err, size_t errlen);

/* The secrets table. SECRETS_C_* name the columns of a row. environment
 * "" is the organization-wide scope; in lookups NULL means "any", with
 * the organization-wide secret preferred and SECRETS_EAMBIGUOUS when
 * several environments hold the name and none is organization-wide. */
enum secrets_col {
	SECRETS_C_ID, SECRETS_C_NAME, SECRETS_C_ENV, SECRETS_C_CREATED,
	SECRETS_C_UPDATED, SECRETS_C_SEALED, SECRETS_C_DBID,
};

int secrets_create(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const char *name, const char *env, const char *value,
    struct db_res **row);
int secrets_get(struct db *db, struct arena *a, int64_t org_id,
    const char *name, const char *env, struct db_res **row);
/* Rows after (name, env) `after_name`/`after_env` (NULL: from the start),
 * by name then environment; env NULL lists every scope. */
int secrets_list(struct db *db, struct arena *a, int64_t org_id, const char *env,
    const char *after_name, const char *after_env, int limit, struct db_res **rows);
/* The value of a secrets_get row. */
int secrets_value(struct secrets_keyring *k, struct arena *a, int64_t org_id,
    const struct db_res *row, char **value, size_t *n);
int secrets_update(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const struct db_res *row, const char *value,
    struct db_res **after);
int secrets_delete(struct db *db, int64_t org_id, const struct db_res *row);
/* What a step asking for secret `name` in environment env (NULL or "":
 * none) gets: the environment's own secret, else the organization-wide
 * one. SECRETS_ENOTFOUND when neither exists. */
int secrets_resolve(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const char *env, const char *name, char **value, size_t *n);

#endif
