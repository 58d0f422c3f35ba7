/* The directory store of exception traces: <exceptions_dir>/<key>.json,
 * written to a temporary name and renamed, so a reader never sees half a
 * trace. Keys sort by time: exc_YYYYMMDDTHHMMSSZ_<random>. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/exceptions.h"
#include "dagy/ids.h"
#include "dagy/log.h"
#include "dagy/ts.h"

#define LIST_MAX 1000

static const char *
dir_of(const struct config *cfg)
{
	return config_str(cfg, "admin", "exceptions_dir");
}

int
exceptions_key_valid(const char *key)
{
	size_t i, n = key != NULL ? strlen(key) : 0;

	if (n < 5 || n >= EXCEPTIONS_KEY_MAX || strncmp(key, "exc_", 4) != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
		    (key[i] >= '0' && key[i] <= '9') || key[i] == '_'))
			return 0;
	return 1;
}

int
exceptions_record(const struct config *cfg, const char *source,
    const char *request_id, const char *message, json_t *context,
    char key[EXCEPTIONS_KEY_MAX])
{
	char k[EXCEPTIONS_KEY_MAX], rnd[13], when[32], path[4096], tmp[4128];
	time_t now = time(NULL);
	struct tm tm;
	json_t *doc;
	char host[256] = "";

	gmtime_r(&now, &tm);
	ids_random_chars(rnd, 12);
	rnd[12] = '\0';
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(k, sizeof(k), "exc_%s_%s", when, rnd);
	ts_rfc3339(now, when);
	gethostname(host, sizeof(host) - 1);
	if (context != NULL && !json_is_array(context))
		context = json_pack("[o]", context);
	doc = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:i, s:o}", "key", k, "time", when,
	    "source", source, "request_id", request_id, "message",
	    message != NULL ? message : "", "host", host, "pid", (int)getpid(),
	    "context", context != NULL ? context : json_array());
	if (key != NULL)
		snprintf(key, EXCEPTIONS_KEY_MAX, "%s", k);
	if (doc == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s.json", dir_of(cfg), k);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((mkdir(dir_of(cfg), 0750) < 0 && errno != EEXIST) ||
	    json_dump_file(doc, tmp, JSON_INDENT(1)) < 0 || rename(tmp, path) < 0) {
		log_syserr("cannot write exception trace %s", path);
		unlink(tmp);
	}
	json_decref(doc);
	return 0;
}

static int
newest_first(const void *a, const void *b)
{
	return -strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *
exceptions_list(const struct config *cfg, int limit)
{
	DIR *d = opendir(dir_of(cfg));
	struct dirent *e;
	char *names[LIST_MAX], path[4096];
	size_t n = 0, i;
	json_t *items = json_array();

	if (d == NULL)
		return errno == ENOENT ? items : (json_decref(items), NULL);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char *name;

		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		name = strndup(e->d_name, len - 5);
		if (name == NULL || !exceptions_key_valid(name)) {
			free(name);
			continue;
		}
		/* Keep the newest LIST_MAX: drop the oldest when full. */
		if (n == LIST_MAX) {
			qsort(names, n, sizeof(names[0]), newest_first);
			if (strcmp(name, names[n - 1]) < 0) {
				free(name);
				continue;
			}
			free(names[--n]);
		}
		names[n++] = name;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), newest_first);
	for (i = 0; i < n; i++) {
		if ((int)i < limit) {
			json_t *doc;
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s.json", dir_of(cfg), names[i]);
			if ((doc = json_load_file(path, 0, NULL)) != NULL && stat(path, &st) == 0)
				json_array_append_new(items, json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:I}",
				    "key", names[i], "time", json_object_get(doc, "time"),
				    "source", json_object_get(doc, "source"),
				    "request_id", json_object_get(doc, "request_id"),
				    "message", json_object_get(doc, "message"),
				    "size_bytes", (json_int_t)st.st_size));
			json_decref(doc);
		}
		free(names[i]);
	}
	return items;
}

json_t *
exceptions_get(const struct config *cfg, const char *key)
{
	char path[4096];

	if (!exceptions_key_valid(key))
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.json", dir_of(cfg), key);
	return json_load_file(path, 0, NULL);
}

int
exceptions_delete(const struct config *cfg, const char *key)
{
	char path[4096];

	if (!exceptions_key_valid(key))
		return 0;
	snprintf(path, sizeof(path), "%s/%s.json", dir_of(cfg), key);
	if (unlink(path) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* [admin] download_secret, or one derived from the database password so
 * every process of an installation agrees. */
void
exceptions_sign(const struct config *cfg, const char *key, time_t expires,
    char out[65])
{
	const char *s = config_str(cfg, "admin", "download_secret");
	char secret[600], msg[128];
	uint8_t mac[32];

	if (*s == '\0') {
		snprintf(secret, sizeof(secret), "dagy-exceptions:%s:%s",
		    config_str(cfg, "database", "password"),
		    config_str(cfg, "database", "name"));
		s = secret;
	}
	snprintf(msg, sizeof(msg), "%s:%lld", key, (long long)expires);
	crypto_hmac_sha256(s, strlen(s), msg, strlen(msg), mac);
	crypto_hex(mac, out);
}

int
exceptions_signed(const struct config *cfg, const char *key, time_t expires,
    const char *sig)
{
	char want[65];

	if (sig == NULL || strlen(sig) != 64 || expires < time(NULL) ||
	    !exceptions_key_valid(key))
		return 0;
	exceptions_sign(cfg, key, expires, want);
	return crypto_equal(want, sig, 64);
}
