/* Sealing and the keyring file: round trip, associated data, tampering,
 * wrong keys, and the files the loader must refuse. */
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "dagy/secrets.h"

static char dir[] = "/tmp/dagy-secrets-XXXXXX";

static const char *
path_of(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void
write_file(const char *name, const char *text, int mode)
{
	FILE *f = fopen(path_of(name), "w");

	if (f == NULL)
		bail("cannot write %s", name);
	fputs(text, f);
	fclose(f);
	chmod(path_of(name), (mode_t)mode);
}

static struct secrets_keyring *
load(const char *name)
{
	struct secrets_keyring *k = NULL;
	char err[512];

	if (secrets_keyring_load(&k, path_of(name), err, sizeof(err)) < 0)
		diag("%s", err);
	return k;
}

int
main(void)
{
	struct arena a = {0};
	struct secrets_keyring *k, *k2, *both;
	const char *sealed, *sealed2;
	const char *value = "sk_live_1234567890abcdefghijklmnop";
	char err[512], id[SECRETS_KEY_ID_MAX], *out, *tampered, line[256];
	size_t n;
	struct stat st;
	FILE *f;
	int rc;

	plan(27);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");

	is_int(0, secrets_keyring_create(path_of("a.key"), 0600, err, sizeof(err)),
	    "a keyring file is created");
	stat(path_of("a.key"), &st);
	is_int(0600, st.st_mode & 0777, "with mode 0600");
	is_int(-1, secrets_keyring_create(path_of("a.key"), 0600, err, sizeof(err)),
	    "an existing keyring is never overwritten");
	ok((k = load("a.key")) != NULL, "the new keyring loads");
	if (k == NULL)
		bail("no keyring");

	is_int(0, secrets_seal(k, &a, 7, "secret/production", "api-key-prod", value,
	    strlen(value), &sealed), "a value is sealed");
	ok(strstr(sealed, value) == NULL && strstr(sealed, "sk_live") == NULL,
	    "the sealed text does not contain the value");
	ok(secrets_sealed_key(sealed, id) == 0 && strcmp(id, secrets_keyring_current(k)) == 0,
	    "the sealed text names its key");
	rc = secrets_open(k, &a, 7, "secret/production", "api-key-prod", sealed, &out, &n);
	ok(rc == 0 && n == strlen(value) && strcmp(out, value) == 0, "and opens again");
	secrets_seal(k, &a, 7, "secret/production", "api-key-prod", value, strlen(value),
	    &sealed2);
	ok(strcmp(sealed, sealed2) != 0, "each sealing has its own nonce");

	is_int(SECRETS_EAUTH, secrets_open(k, &a, 8, "secret/production", "api-key-prod",
	    sealed, &out, &n), "another organization cannot open it");
	is_int(SECRETS_EAUTH, secrets_open(k, &a, 7, "secret/staging", "api-key-prod",
	    sealed, &out, &n), "nor another environment");
	is_int(SECRETS_EAUTH, secrets_open(k, &a, 7, "secret/production", "api-key-dev",
	    sealed, &out, &n), "nor another name");

	tampered = arena_strdup(&a, sealed);
	tampered[strlen(tampered) - 6] = tampered[strlen(tampered) - 6] == 'A' ? 'B' : 'A';
	is_int(SECRETS_EAUTH, secrets_open(k, &a, 7, "secret/production", "api-key-prod",
	    tampered, &out, &n), "a tampered ciphertext fails authentication");
	is_int(SECRETS_EFORMAT, secrets_open(k, &a, 7, "secret/production", "api-key-prod",
	    "plain text", &out, &n), "text that is not sealed is refused");

	/* Another key under the same id is a wrong key file. */
	f = fopen(path_of("a.key"), "r");
	while (fgets(line, sizeof(line), f) != NULL && line[0] == '#')
		;
	fclose(f);
	snprintf(err, sizeof(err), "%s AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", id);
	write_file("wrong.key", err, 0600);
	ok((k2 = load("wrong.key")) != NULL, "a keyring with another key loads");
	is_int(SECRETS_EAUTH, secrets_open(k2, &a, 7, "secret/production", "api-key-prod",
	    sealed, &out, &n), "but does not open the value");
	write_file("other.key", "k-other AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0600);
	secrets_keyring_free(k2);
	k2 = load("other.key");
	is_int(SECRETS_EKEY, secrets_open(k2, &a, 7, "secret/production", "api-key-prod",
	    sealed, &out, &n), "a keyring without the value's key says so");

	/* During a rotation the file holds the new key first and the old after. */
	snprintf(err, sizeof(err), "# rotation\nk-other AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n%s",
	    line);
	write_file("both.key", err, 0640);
	ok((both = load("both.key")) != NULL, "a keyring of two keys (0640) loads");
	is_string("k-other", secrets_keyring_current(both), "the first key seals");
	rc = secrets_open(both, &a, 7, "secret/production", "api-key-prod", sealed, &out, &n);
	ok(rc == 0 && strcmp(out, value) == 0, "an older key still opens its values");
	secrets_seal(both, &a, 7, "var/x", "K", "", 0, &sealed2);
	rc = secrets_open(both, &a, 7, "var/x", "K", sealed2, &out, &n);
	ok(rc == 0 && n == 0 && *out == '\0', "an empty value round-trips");

	ok(load("missing.key") == NULL, "a missing key file is refused");
	write_file("open.key", line, 0644);
	ok(secrets_keyring_load(&k2, path_of("open.key"), err, sizeof(err)) < 0 &&
	    strstr(err, path_of("open.key")) != NULL && strstr(err, "chmod") != NULL,
	    "a world-readable key file is refused, naming the file");
	write_file("bad.key", "k1 tooshort\n", 0600);
	ok(secrets_keyring_load(&k2, path_of("bad.key"), err, sizeof(err)) < 0 &&
	    strstr(err, "bad.key:1") != NULL, "a malformed key file is refused with its line");
	write_file("empty.key", "# nothing\n", 0600);
	ok(load("empty.key") == NULL, "a key file without keys is refused");
	snprintf(err, sizeof(err), "%s%s", line, line);
	write_file("twice.key", err, 0600);
	ok(load("twice.key") == NULL, "a key id given twice is refused");
	ok(secrets_keyring_load(&k2, "", err, sizeof(err)) < 0 &&
	    strstr(err, "key_file") != NULL, "an unset key_file is named");

	secrets_keyring_free(k);
	secrets_keyring_free(k2);
	secrets_keyring_free(both);
	arena_free(&a);
	{
		const char *names[] = {"a.key", "wrong.key", "other.key", "both.key",
		    "open.key", "bad.key", "empty.key", "twice.key"};
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			unlink(path_of(names[i]));
		rmdir(dir);
	}
	return done_testing();
}
