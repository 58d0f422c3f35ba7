/* Sealing with AES-256-GCM (OpenSSL EVP), the keyring file, its check
 * against the database, key rotation, and the secrets table. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/ids.h"
#include "dagy/log.h"
#include "dagy/notify.h"
#include "dagy/projects.h"
#include "dagy/secrets.h"
#include "dagy/sensors.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define KEY_LEN 32
#define KEY_B64_LEN 44
#define CHECK_TEXT "dagy keyring check"
#define ROTATE_BATCH 200

struct ring_key {
	char id[SECRETS_KEY_ID_MAX];
	unsigned char key[KEY_LEN];
};

struct secrets_keyring {
	char *path;
	struct stat st; /* of the file as last read: a change means reload */
	size_t n;
	struct ring_key *keys; /* keys[0] seals */
};

static void
free_keys(struct ring_key *keys, size_t n)
{
	if (keys == NULL)
		return;
	OPENSSL_cleanse(keys, n * sizeof(*keys));
	free(keys);
}

static int
valid_key_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return i > 0 && i < SECRETS_KEY_ID_MAX;
}

/* Standard base64 with padding into out (at least 3 * strlen(in) / 4);
 * the decoded length, or -1. */
static int
b64_decode(const char *in, unsigned char *out)
{
	size_t len = strlen(in);
	int n, pad = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) < 0)
		return -1;
	return n - pad;
}

/* Parses the keyring file; the error names the file. */
static int
read_ring(const char *path, struct ring_key **keys, size_t *nkeys, struct stat *st,
    char *err, size_t errlen)
{
	FILE *f = NULL;
	struct ring_key *k = NULL, *grown;
	char line[512];
	size_t n = 0, i;
	int lineno = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "secrets key file %s: %s (create it with "
		    "`dagy secrets init`)", path, strerror(errno));
		goto fail;
	}
	if (fstat(fileno(f), st) < 0) {
		snprintf(err, errlen, "secrets key file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (st->st_mode & S_IRWXO) {
		snprintf(err, errlen, "secrets key file %s is accessible to every user "
		    "(mode %03o): chmod 600 it, or 640 with a group of the dagy user",
		    path, (unsigned)(st->st_mode & 0777));
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char id[SECRETS_KEY_ID_MAX + 1], b64[KEY_B64_LEN + 2];
		unsigned char raw[KEY_B64_LEN];
		int got;

		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0' || line[strspn(line, " \t")] == '#')
			continue;
		if (sscanf(line, "%40s %45s", id, b64) != 2 || !valid_key_id(id) ||
		    strlen(b64) != KEY_B64_LEN || (got = b64_decode(b64, raw)) != KEY_LEN) {
			snprintf(err, errlen, "secrets key file %s:%d: expected \"KEY_ID "
			    "BASE64_KEY\" with a 32-byte key", path, lineno);
			OPENSSL_cleanse(raw, sizeof(raw));
			OPENSSL_cleanse(line, sizeof(line));
			goto fail;
		}
		for (i = 0; i < n; i++)
			if (strcmp(k[i].id, id) == 0) {
				snprintf(err, errlen, "secrets key file %s:%d: key id '%s' "
				    "appears twice", path, lineno, id);
				goto fail;
			}
		if ((grown = realloc(k, (n + 1) * sizeof(*k))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		k = grown;
		memcpy(k[n].id, id, strlen(id) + 1); /* valid_key_id bounded it */
		memcpy(k[n].key, raw, KEY_LEN);
		OPENSSL_cleanse(raw, sizeof(raw));
		OPENSSL_cleanse(line, sizeof(line));
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "secrets key file %s holds no key", path);
		goto fail;
	}
	fclose(f);
	*keys = k;
	*nkeys = n;
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	free_keys(k, n);
	return -1;
}

int
secrets_keyring_load(struct secrets_keyring **out, const char *path, char *err,
    size_t errlen)
{
	struct secrets_keyring *k;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "[secrets] key_file is not set");
		return -1;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL || (k->path = strdup(path)) == NULL) {
		free(k);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (read_ring(path, &k->keys, &k->n, &k->st, err, errlen) < 0) {
		secrets_keyring_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

void
secrets_keyring_free(struct secrets_keyring *k)
{
	if (k == NULL)
		return;
	free_keys(k->keys, k->n);
	free(k->path);
	free(k);
}

const char *
secrets_keyring_current(const struct secrets_keyring *k)
{
	return k->keys[0].id;
}

/* Re-reads the file when it changed (a rotation writes it twice); a file
 * that became unreadable keeps the keys already held. */
static void
refresh(struct secrets_keyring *k)
{
	struct stat st;
	struct ring_key *keys;
	size_t n;
	char err[512];

	if (stat(k->path, &st) < 0 ||
	    (st.st_ino == k->st.st_ino && st.st_size == k->st.st_size &&
	    st.st_mtim.tv_sec == k->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == k->st.st_mtim.tv_nsec))
		return;
	if (read_ring(k->path, &keys, &n, &st, err, sizeof(err)) < 0) {
		log_warn("keeping the keys already loaded: %s", err);
		return;
	}
	free_keys(k->keys, k->n);
	k->keys = keys;
	k->n = n;
	k->st = st;
}

static const struct ring_key *
find_key(const struct secrets_keyring *k, const char *id)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->keys[i].id, id) == 0)
			return &k->keys[i];
	return NULL;
}

/* "dagy-v1" NUL org NUL scope NUL name: no field can hold a NUL, so no
 * two triples give the same bytes. */
static unsigned char *
build_aad(struct arena *a, int64_t org_id, const char *scope, const char *name,
    size_t *len)
{
	char org[24];
	size_t ls, lo, lc, ln;
	unsigned char *p;

	snprintf(org, sizeof(org), "%lld", (long long)org_id);
	ls = sizeof("dagy-v1");
	lo = strlen(org) + 1;
	lc = strlen(scope) + 1;
	ln = strlen(name);
	p = arena_alloc(a, ls + lo + lc + ln);
	memcpy(p, "dagy-v1", ls);
	memcpy(p + ls, org, lo);
	memcpy(p + ls + lo, scope, lc);
	memcpy(p + ls + lo + lc, name, ln);
	*len = ls + lo + lc + ln;
	return p;
}

static int
seal_with(const struct ring_key *key, struct arena *a, int64_t org_id,
    const char *scope, const char *name, const char *value, size_t n,
    const char **sealed)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL, *aad;
	char *b64;
	size_t aadlen, len = NONCE_LEN + n + TAG_LEN;
	int outl, rc = -1;

	if (n > SECRETS_VALUE_MAX || (buf = malloc(len)) == NULL)
		goto fail;
	aad = build_aad(a, org_id, scope, name, &aadlen);
	if (crypto_random(buf, NONCE_LEN) < 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key->key, buf) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1 ||
	    EVP_EncryptUpdate(ctx, buf + NONCE_LEN, &outl, (const unsigned char *)value,
	    (int)n) != 1 ||
	    EVP_EncryptFinal_ex(ctx, buf + NONCE_LEN + outl, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + NONCE_LEN + n) != 1)
		goto fail;
	b64 = arena_alloc(a, 4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, buf, (int)len);
	*sealed = arena_printf(a, "v1.%s.%s", key->id, b64);
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return rc < 0 ? DB_ERR : 0;
}

int
secrets_seal(struct secrets_keyring *k, struct arena *a, int64_t org_id,
    const char *scope, const char *name, const char *value, size_t n,
    const char **sealed)
{
	refresh(k);
	return seal_with(&k->keys[0], a, org_id, scope, name, value, n, sealed);
}

int
secrets_sealed_key(const char *sealed, char out[SECRETS_KEY_ID_MAX])
{
	const char *dot;

	if (sealed == NULL || strncmp(sealed, "v1.", 3) != 0 ||
	    (dot = strchr(sealed + 3, '.')) == NULL ||
	    dot - (sealed + 3) >= SECRETS_KEY_ID_MAX || dot == sealed + 3)
		return -1;
	memcpy(out, sealed + 3, (size_t)(dot - (sealed + 3)));
	out[dot - (sealed + 3)] = '\0';
	return 0;
}

int
secrets_open(struct secrets_keyring *k, struct arena *a, int64_t org_id,
    const char *scope, const char *name, const char *sealed, char **value,
    size_t *n)
{
	char id[SECRETS_KEY_ID_MAX];
	const struct ring_key *key;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *raw = NULL, *aad;
	const char *b64;
	size_t aadlen;
	int len, ctlen, outl, rc = SECRETS_EFORMAT;
	char *pt;

	if (secrets_sealed_key(sealed, id) < 0)
		return SECRETS_EFORMAT;
	b64 = sealed + 3 + strlen(id) + 1;
	if ((key = find_key(k, id)) == NULL) {
		/* Perhaps sealed under a key a rotation added since. */
		refresh(k);
		if ((key = find_key(k, id)) == NULL)
			return SECRETS_EKEY;
	}
	if ((raw = malloc(strlen(b64) / 4 * 3 + 3)) == NULL)
		return DB_ERR;
	if ((len = b64_decode(b64, raw)) < NONCE_LEN + TAG_LEN)
		goto fail;
	ctlen = len - NONCE_LEN - TAG_LEN;
	pt = arena_alloc(a, (size_t)ctlen + 1);
	aad = build_aad(a, org_id, scope, name, &aadlen);
	rc = SECRETS_EAUTH;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key->key, raw) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)pt, &outl, raw + NONCE_LEN, ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    raw + NONCE_LEN + ctlen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)pt + outl, &outl) != 1) {
		/* Never hand out what an unauthenticated decryption produced. */
		OPENSSL_cleanse(pt, (size_t)ctlen + 1);
		goto fail;
	}
	pt[ctlen] = '\0';
	*value = pt;
	*n = (size_t)ctlen;
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	free(raw);
	return rc;
}

/* Writes keys to path through a temporary file and a rename, keeping the
 * mode and (when allowed) the owner of st. */
static int
write_ring(const char *path, const struct ring_key *keys, size_t n, mode_t mode,
    const struct stat *st, char *err, size_t errlen)
{
	char *tmp = NULL;
	FILE *f = NULL;
	size_t i;
	int fd = -1;

	if ((tmp = malloc(strlen(path) + 8)) == NULL)
		goto fail;
	sprintf(tmp, "%s.new", path);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)) < 0 ||
	    fchmod(fd, mode) < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (st != NULL && fchown(fileno(f), st->st_uid, st->st_gid) < 0 && errno != EPERM) {
		snprintf(err, errlen, "cannot chown %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fprintf(f, "# dagy secrets keyring: \"KEY_ID BASE64_KEY\" per line. The first key\n"
	    "# seals new values; the others only open old ones (during a rotation).\n"
	    "# Losing this file loses every secret. Keep it 0600 or 0640 root:dagy.\n");
	for (i = 0; i < n; i++) {
		char b64[KEY_B64_LEN + 1];

		EVP_EncodeBlock((unsigned char *)b64, keys[i].key, KEY_LEN);
		fprintf(f, "%s %s\n", keys[i].id, b64);
		OPENSSL_cleanse(b64, sizeof(b64));
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fclose(f);
	f = NULL;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	return -1;
}

static int
new_key(struct ring_key *k)
{
	char rnd[7], date[16];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	ids_random_chars(rnd, 6);
	snprintf(k->id, sizeof(k->id), "k%s-%s", date, rnd);
	return crypto_random(k->key, KEY_LEN);
}

int
secrets_keyring_create(const char *path, int mode, char *err, size_t errlen)
{
	struct ring_key k;
	struct stat st;
	int rc;

	if (stat(path, &st) == 0) {
		snprintf(err, errlen, "secrets key file %s exists already; it is kept "
		    "(`dagy secrets rotate-key` replaces the key)", path);
		return -1;
	}
	if (new_key(&k) < 0) {
		snprintf(err, errlen, "no random bytes");
		return -1;
	}
	rc = write_ring(path, &k, 1, (mode_t)mode, NULL, err, errlen);
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

static const char SQL_KEYS[] = "SELECT key_id, check_value FROM secret_keys";
static const char SQL_KEY_ADD[] =
    "INSERT IGNORE INTO secret_keys (key_id, check_value) VALUES (?, ?)";
static const char SQL_KEYS_FORGET[] = "DELETE FROM secret_keys WHERE key_id <> ?";

/* Records the current key with a value only it opens. */
static int
register_current(struct secrets_keyring *k, struct db *db, struct arena *a)
{
	const char *check;
	int64_t rc;

	if ((rc = seal_with(&k->keys[0], a, 0, "keyring", k->keys[0].id, CHECK_TEXT,
	    strlen(CHECK_TEXT), &check)) < 0)
		return (int)rc;
	rc = db_exec(db, SQL_KEY_ADD, "ss", k->keys[0].id, check);
	return rc < 0 ? (int)rc : 0;
}

static int
check_opens(struct secrets_keyring *k, struct arena *a, const char *id,
    const char *check)
{
	char *v;
	size_t n;

	return secrets_open(k, a, 0, "keyring", id, check, &v, &n) == 0 &&
	    n == strlen(CHECK_TEXT) && memcmp(v, CHECK_TEXT, n) == 0;
}

/* 0 when the keyring opens what the database holds; -1 with err. */
static int
verify(struct secrets_keyring *k, struct db *db, char *err, size_t errlen)
{
	struct arena a = {0};
	struct db_res *rows;
	unsigned i;
	int rc, have_current = 0, have_other = 0;

	if ((rc = db_query(db, &a, &rows, SQL_KEYS, "")) < 0) {
		log_warn("cannot check the secrets key file %s against the database "
		    "yet: %s", k->path, db_errmsg(db));
		rc = 0;
		goto done;
	}
	for (i = 0; i < rows->nrows; i++) {
		const char *id = db_val(rows, i, 0);

		if (find_key(k, id) == NULL)
			continue;
		if (!check_opens(k, &a, id, db_val(rows, i, 1))) {
			snprintf(err, errlen, "secrets key file %s holds a key '%s' that is "
			    "not the key the database knows by that id: wrong key file",
			    k->path, id);
			rc = -1;
			goto done;
		}
		if (strcmp(id, k->keys[0].id) == 0)
			have_current = 1;
		else
			have_other = 1;
	}
	if (rows->nrows > 0 && !have_current && !have_other) {
		snprintf(err, errlen, "secrets key file %s holds none of the keys the "
		    "stored secrets were sealed with (it has '%s'; the database knows "
		    "'%s'): wrong key file", k->path, k->keys[0].id, db_val(rows, 0, 0));
		rc = -1;
		goto done;
	}
	/* First start, or the middle of a rotation: the current key joins. */
	if (!have_current && (rc = register_current(k, db, &a)) < 0) {
		snprintf(err, errlen, "cannot record the secrets key: %s", db_errmsg(db));
		rc = -1;
	}
done:
	arena_free(&a);
	return rc;
}

int
secrets_keyring_open(struct secrets_keyring **out, const struct config *cfg,
    struct db *db, char *err, size_t errlen)
{
	struct secrets_keyring *k;

	if (secrets_keyring_load(&k, config_str(cfg, "secrets", "key_file"), err, errlen) < 0)
		return -1;
	if (db != NULL && db_ping(db) != 0)
		log_warn("database unreachable: the secrets key file %s is not checked "
		    "against it; a wrong key fails each value it cannot open", k->path);
	else if (db != NULL && verify(k, db, err, errlen) < 0) {
		secrets_keyring_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

/* Every table holding sealed values: a batch of rows under another key
 * than ? with id > ? (id, org_id, scope, name, sealed), and the
 * conditional update that re-seals one. New credential tables add a row. */
static const char SQL_ROT_SECRETS[] =
    "SELECT id, org_id, CONCAT('secret/', environment), name, ciphertext FROM secrets"
    " WHERE key_id <> ? AND id > ? ORDER BY id LIMIT ?";
static const char SQL_ROT_SECRETS_SET[] =
    "UPDATE secrets SET ciphertext = ?, key_id = ? WHERE id = ? AND ciphertext = ?";
static const char SQL_ROT_VARS[] =
    "SELECT v.id, v.org_id, CONCAT('var/', e.name), v.var_key, v.ciphertext"
    " FROM env_variables v JOIN environments e ON e.id = v.env_id"
    " WHERE v.key_id <> ? AND v.id > ? ORDER BY v.id LIMIT ?";
static const char SQL_ROT_VARS_SET[] =
    "UPDATE env_variables SET ciphertext = ?, key_id = ? WHERE id = ? AND ciphertext = ?";

static const char SQL_ROT_CHANNELS[] =
    "SELECT id, org_id, '" NOTIFY_SEAL_SCOPE "', public_id, sealed FROM channels"
    " WHERE sealed IS NOT NULL AND key_id <> ? AND id > ? ORDER BY id LIMIT ?";
static const char SQL_ROT_CHANNELS_SET[] =
    "UPDATE channels SET sealed = ?, key_id = ? WHERE id = ? AND sealed = ?";

static const char SQL_ROT_SENSORS[] =
    "SELECT id, org_id, '" SENSORS_SEAL_SCOPE "', public_id, sealed FROM sensors"
    " WHERE sealed IS NOT NULL AND key_id <> ? AND id > ? ORDER BY id LIMIT ?";
static const char SQL_ROT_SENSORS_SET[] =
    "UPDATE sensors SET sealed = ?, key_id = ? WHERE id = ? AND sealed = ?";

static const char SQL_ROT_PROJECTS[] =
    "SELECT id, org_id, '" PROJECTS_SEAL_SCOPE "', public_id, sealed FROM dagctl_projects"
    " WHERE sealed IS NOT NULL AND key_id <> ? AND id > ? ORDER BY id LIMIT ?";
static const char SQL_ROT_PROJECTS_SET[] =
    "UPDATE dagctl_projects SET sealed = ?, key_id = ? WHERE id = ? AND sealed = ?";

static const struct sealed_table {
	const char *what, *select, *update;
} sealed_tables[] = {
	{"secrets", SQL_ROT_SECRETS, SQL_ROT_SECRETS_SET},
	{"environment variables", SQL_ROT_VARS, SQL_ROT_VARS_SET},
	{"notification channels", SQL_ROT_CHANNELS, SQL_ROT_CHANNELS_SET},
	{"sensors", SQL_ROT_SENSORS, SQL_ROT_SENSORS_SET},
	{"dagctl project credentials", SQL_ROT_PROJECTS, SQL_ROT_PROJECTS_SET},
};

/* One pass over a table; counts what was re-sealed and what would not
 * open (those stay as they are: no key can make them readable). */
static int
reseal_table(struct secrets_keyring *k, struct db *db, const struct sealed_table *t,
    long *done, long *bad)
{
	struct arena a = {0};
	struct db_res *rows;
	int64_t last = 0;
	unsigned i;
	int rc;

	for (;;) {
		if ((rc = db_begin(db)) < 0 ||
		    (rc = db_query(db, &a, &rows, t->select, "sii", k->keys[0].id, last,
		    (int64_t)ROTATE_BATCH)) < 0)
			goto fail;
		for (i = 0; i < rows->nrows; i++) {
			int64_t org = db_int(rows, i, 1);
			const char *scope = db_val(rows, i, 2), *name = db_val(rows, i, 3);
			const char *old = db_val(rows, i, 4), *sealed;
			char *v;
			size_t n;

			last = db_int(rows, i, 0);
			if (secrets_open(k, &a, org, scope, name, old, &v, &n) < 0) {
				(*bad)++;
				continue;
			}
			rc = seal_with(&k->keys[0], &a, org, scope, name, v, n, &sealed);
			OPENSSL_cleanse(v, n);
			if (rc < 0 || (rc = (int)db_exec(db, t->update, "ssis", sealed,
			    k->keys[0].id, last, old)) < 0)
				goto fail;
			(*done)++;
		}
		if ((rc = db_commit(db)) < 0)
			goto fail;
		if (rows->nrows < ROTATE_BATCH)
			break;
		arena_reset(&a);
	}
	arena_free(&a);
	return 0;
fail:
	db_rollback(db);
	arena_free(&a);
	return rc;
}

int
secrets_rotate(struct secrets_keyring *k, struct db *db, FILE *out, char *err,
    size_t errlen)
{
	struct ring_key *ring = NULL;
	struct arena a = {0};
	size_t i, pass, nring = k->n + 1;
	long done = 0, bad = 0;
	int rc = -1;

	if ((ring = calloc(nring, sizeof(*ring))) == NULL || new_key(&ring[0]) < 0) {
		snprintf(err, errlen, "out of memory or randomness");
		goto fail;
	}
	memcpy(ring + 1, k->keys, k->n * sizeof(*ring));
	/* From here, every process that seals uses the new key, and the old
	 * ones still open what is not re-sealed yet. */
	if (write_ring(k->path, ring, nring, k->st.st_mode & 0777, &k->st, err, errlen) < 0)
		goto fail;
	refresh(k);
	if (strcmp(k->keys[0].id, ring[0].id) != 0) {
		snprintf(err, errlen, "%s changed under the rotation", k->path);
		goto fail;
	}
	if (register_current(k, db, &a) < 0) {
		snprintf(err, errlen, "cannot record the new key: %s", db_errmsg(db));
		goto fail;
	}
	fprintf(out, "new key %s; re-sealing\n", ring[0].id);
	/* The second pass catches values a process sealed under an old key
	 * while it had not yet seen the new file. */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			sleep(1);
		for (i = 0; i < sizeof(sealed_tables) / sizeof(sealed_tables[0]); i++) {
			long d = 0, b = 0;

			if (reseal_table(k, db, &sealed_tables[i], &d, &b) < 0) {
				snprintf(err, errlen, "re-sealing %s failed (the old keys are "
				    "kept; run rotate-key again): %s", sealed_tables[i].what,
				    db_errmsg(db));
				goto fail;
			}
			if (pass == 0 || d > 0)
				fprintf(out, "%s: %ld re-sealed\n", sealed_tables[i].what, d);
			done += d;
			if (pass == 1)
				bad += b;
		}
	}
	if (bad > 0)
		fprintf(out, "%ld value(s) did not open under any key (tampered with); "
		    "left as they are\n", bad);
	if (write_ring(k->path, ring, 1, k->st.st_mode & 0777, &k->st, err, errlen) < 0)
		goto fail;
	refresh(k);
	if (db_exec(db, SQL_KEYS_FORGET, "s", ring[0].id) < 0) {
		snprintf(err, errlen, "cannot forget the old keys: %s", db_errmsg(db));
		goto fail;
	}
	fprintf(out, "%ld value(s) now sealed under %s; old keys removed from %s\n",
	    done, ring[0].id, k->path);
	rc = 0;
fail:
	free_keys(ring, ring != NULL ? nring : 0);
	arena_free(&a);
	return rc;
}

#define SECRETS_SELECT \
	"SELECT public_id, name, environment, " DB_TS("created_at") ", " \
	DB_TS("updated_at") ", ciphertext, id FROM secrets"

static const char SQL_GET_ENV[] =
    SECRETS_SELECT " WHERE org_id = ? AND name = ? AND environment = ?";
static const char SQL_GET_ANY[] =
    SECRETS_SELECT " WHERE org_id = ? AND name = ? ORDER BY environment LIMIT 2";

int
secrets_get(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const char *env, struct db_res **row)
{
	int rc;

	if (env != NULL)
		rc = db_query(db, a, row, SQL_GET_ENV, "iss", org_id, name, env);
	else
		rc = db_query(db, a, row, SQL_GET_ANY, "is", org_id, name);
	if (rc < 0)
		return rc;
	if ((*row)->nrows == 0)
		return SECRETS_ENOTFOUND;
	if ((*row)->nrows > 1 && *db_val(*row, 0, SECRETS_C_ENV) != '\0')
		return SECRETS_EAMBIGUOUS;
	return 0;
}

static const char *
scope_of(struct arena *a, const char *env)
{
	return arena_printf(a, "secret/%s", env != NULL ? env : "");
}

static const char SQL_INSERT[] =
    "INSERT INTO secrets (public_id, org_id, environment, name, key_id, ciphertext)"
    " VALUES (?, ?, ?, ?, ?, ?)";

int
secrets_create(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const char *name, const char *env, const char *value,
    struct db_res **row)
{
	const char *sealed;
	char pub[40];
	int64_t rc;

	if (env == NULL)
		env = "";
	if ((rc = secrets_seal(k, a, org_id, scope_of(a, env), name, value,
	    strlen(value), &sealed)) < 0)
		return (int)rc;
	ids_new("secret", pub, sizeof(pub));
	rc = db_exec(db, SQL_INSERT, "sissss", pub, org_id, env, name,
	    secrets_keyring_current(k), sealed);
	if (rc == DB_EDUP)
		return SECRETS_EEXISTS;
	if (rc < 0)
		return (int)rc;
	return secrets_get(db, a, org_id, name, env, row);
}

static const char SQL_LIST[] = SECRETS_SELECT
    " WHERE org_id = ? AND (? IS NULL OR environment = ?) AND (name, environment) > (?, ?)"
    " ORDER BY name, environment LIMIT ?";

int
secrets_list(struct db *db, struct arena *a, int64_t org_id, const char *env,
    const char *after_name, const char *after_env, int limit, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "issssi", org_id, env, env,
	    after_name != NULL ? after_name : "", after_env != NULL ? after_env : "",
	    (int64_t)limit);
}

int
secrets_value(struct secrets_keyring *k, struct arena *a, int64_t org_id,
    const struct db_res *row, char **value, size_t *n)
{
	return secrets_open(k, a, org_id, scope_of(a, db_val(row, 0, SECRETS_C_ENV)),
	    db_val(row, 0, SECRETS_C_NAME), db_val(row, 0, SECRETS_C_SEALED), value, n);
}

static const char SQL_UPDATE[] =
    "UPDATE secrets SET key_id = ?, ciphertext = ?, updated_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND id = ?";

int
secrets_update(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const struct db_res *row, const char *value,
    struct db_res **after)
{
	const char *env = db_val(row, 0, SECRETS_C_ENV), *sealed;
	int64_t rc;

	if ((rc = secrets_seal(k, a, org_id, scope_of(a, env),
	    db_val(row, 0, SECRETS_C_NAME), value, strlen(value), &sealed)) < 0)
		return (int)rc;
	if ((rc = db_exec(db, SQL_UPDATE, "ssii", secrets_keyring_current(k), sealed,
	    org_id, db_int(row, 0, SECRETS_C_DBID))) < 0)
		return (int)rc;
	return secrets_get(db, a, org_id, db_val(row, 0, SECRETS_C_NAME), env, after);
}

static const char SQL_DELETE[] = "DELETE FROM secrets WHERE org_id = ? AND id = ?";

int
secrets_delete(struct db *db, int64_t org_id, const struct db_res *row)
{
	int64_t rc = db_exec(db, SQL_DELETE, "ii", org_id, db_int(row, 0, SECRETS_C_DBID));

	return rc < 0 ? (int)rc : 0;
}

/* The environment's own secret sorts after the organization-wide ''. */
static const char SQL_RESOLVE[] = SECRETS_SELECT
    " WHERE org_id = ? AND name = ? AND environment IN (?, '')"
    " ORDER BY environment DESC LIMIT 1";

int
secrets_resolve(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const char *env, const char *name, char **value, size_t *n)
{
	struct db_res *row;
	int rc = db_query(db, a, &row, SQL_RESOLVE, "iss", org_id, name,
	    env != NULL ? env : "");

	if (rc < 0)
		return rc;
	if (row->nrows == 0)
		return SECRETS_ENOTFOUND;
	return secrets_value(k, a, org_id, row, value, n);
}
