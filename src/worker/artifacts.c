/* A run's deployed code: the artifact of its flow version is fetched from
 * the object store once per code_hash into a cache under [worker]
 * work_dir/.artifacts (checked against the hash, capped at [storage]
 * max_artifact_bytes), then unpacked with libarchive (zip, tar.gz, …)
 * into the run's workdir, refusing entries that would land outside it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "dagy/arena.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/db.h"
#include "dagy/log.h"
#include "dagy/objstore.h"
#include "worker.h"

static struct objstore *store;

/* An entry may not be absolute or climb out with "..". */
static int
path_ok(const char *p)
{
	const char *s = p;

	if (p == NULL || *p == '\0' || *p == '/')
		return 0;
	while (s != NULL) {
		if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return 0;
		if ((s = strchr(s, '/')) != NULL)
			s++;
	}
	return 1;
}

static int
unpack(const char *archive_path, const char *dest, long long max_bytes)
{
	long long total = 0;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	int rc = -1, r;

	archive_read_support_format_all(in);
	archive_read_support_filter_all(in);
	/* Entry names are checked by path_ok and then made absolute under dest,
	 * so libarchive's own absolute-path check cannot be asked for. */
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	if (archive_read_open_filename(in, archive_path, 65536) != ARCHIVE_OK) {
		log_err("artifact %s: %s", archive_path, archive_error_string(in));
		goto done;
	}
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const char *link = archive_entry_hardlink(e);
		char *full = NULL;

		if (!path_ok(name) || (link != NULL && !path_ok(link))) {
			log_err("artifact %s: refusing entry '%s' outside the workspace",
			    archive_path, name ? name : "");
			goto done;
		}
		if (asprintf(&full, "%s/%s", dest, name) < 0)
			goto done;
		archive_entry_set_pathname(e, full);
		free(full);
		if (link != NULL) {
			if (asprintf(&full, "%s/%s", dest, link) < 0)
				goto done;
			archive_entry_set_hardlink(e, full);
			free(full);
		}
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			log_err("artifact %s: %s", archive_path, archive_error_string(out));
			goto done;
		}
		if (archive_entry_size(e) > 0) {
			const void *buf;
			size_t len;
			la_int64_t off;

			while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
				if ((total += (long long)len) > max_bytes) {
					log_err("artifact %s: unpacks to more than %lld bytes "
					    "([storage] max_unpacked_bytes)", archive_path, max_bytes);
					goto done;
				}
				if (archive_write_data_block(out, buf, len, off) != ARCHIVE_OK) {
					log_err("artifact %s: %s", archive_path, archive_error_string(out));
					goto done;
				}
			}
			if (r != ARCHIVE_EOF) {
				log_err("artifact %s: %s", archive_path, archive_error_string(in));
				goto done;
			}
		}
		archive_write_finish_entry(out);
	}
	if (r != ARCHIVE_EOF) {
		log_err("artifact %s: %s", archive_path, archive_error_string(in));
		goto done;
	}
	rc = 0;
done:
	archive_read_free(in);
	archive_write_free(out);
	return rc;
}

static int
file_sha256(const char *path, char hex[65])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int dl;
	FILE *f = fopen(path, "rb");
	size_t k;
	int rc = -1;

	if (f != NULL && c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
		while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
			EVP_DigestUpdate(c, buf, k);
		EVP_DigestFinal_ex(c, d, &dl);
		crypto_hex(d, hex);
		rc = ferror(f) ? -1 : 0;
	}
	if (f != NULL)
		fclose(f);
	EVP_MD_CTX_free(c);
	return rc;
}

/* The cached archive of hash, fetched if needed: 0 with path set. */
static int
cached(struct worker *w, const char *uri, const char *hash, char *path, size_t n)
{
	char dir[600], tmp[700], got[65], err[256];
	const char *key;
	long long size;
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), "%s/.artifacts", w->workdir);
	snprintf(path, n, "%s/%s", dir, hash);
	if (access(path, R_OK) == 0)
		return 0;
	if (store == NULL && objstore_open(&store, w->cfg, err, sizeof(err)) < 0) {
		log_err("artifact storage: %s", err);
		return -1;
	}
	if ((key = objstore_key_of(store, uri)) == NULL) {
		log_err("artifact %s is not in the configured [storage]", uri);
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_syserr("cannot create %s", dir);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, hash, (int)getpid());
	if ((f = fopen(tmp, "wb")) == NULL) {
		log_syserr("cannot create %s", tmp);
		return -1;
	}
	rc = objstore_get(store, key, f, config_int(w->cfg, "storage", "max_artifact_bytes"),
	    &size);
	if (fclose(f) != 0 && rc == 0)
		rc = -1;
	if (rc < 0) {
		log_err("fetching artifact %s: %s", uri, objstore_error(store));
	} else if (file_sha256(tmp, got) < 0 || strcmp(got, hash) != 0) {
		log_err("artifact %s: SHA-256 %s is not the version's code_hash %s", uri,
		    got, hash);
		rc = -1;
	} else if (rename(tmp, path) < 0) {
		log_syserr("cannot rename %s", tmp);
		rc = -1;
	}
	if (rc < 0)
		unlink(tmp);
	return rc < 0 ? -1 : 0;
}

int
artifacts_fetch_run(struct worker *w, struct run *r)
{
	char path[700];

	if (r->artifact == NULL)
		return 0;
	if (mkdir(r->workdir, 0700) < 0 && errno != EEXIST)
		log_syserr("mkdir %s", r->workdir);
	if (cached(w, r->artifact, r->code_hash, path, sizeof(path)) < 0 ||
	    unpack(path, r->workdir, config_int(w->cfg, "storage", "max_unpacked_bytes")) < 0) {
		log_err("run %s: its artifact %s could not be unpacked; steps run without it",
		    r->public_id, r->artifact);
		return -1;
	}
	log_info("run %s: unpacked artifact %s", r->public_id, r->artifact);
	return 0;
}
