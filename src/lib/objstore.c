/* The object store behind artifacts: [storage] backend = dir keeps objects
 * as files under [storage] dir (uploads in dir/.uploads/<id>/<part>); s3
 * talks to a bucket through dagy/s3.h. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/objstore.h"
#include "dagy/s3.h"

struct objstore {
	enum objstore_kind kind;
	char *dir, *prefix, *bucket;
	struct s3 *s3;
	char err[512];
};

static void
set_err(struct objstore *os, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
set_err(struct objstore *os, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(os->err, sizeof(os->err), fmt, ap);
	va_end(ap);
}

int
objstore_open(struct objstore **out, const struct config *cfg, char *err,
    size_t errlen)
{
	struct objstore *os = calloc(1, sizeof(*os));
	const char *backend = config_str(cfg, "storage", "backend");
	const char *endpoint = config_str(cfg, "storage", "endpoint");
	const char *addressing = config_str(cfg, "storage", "addressing");

	*out = NULL;
	if (os == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	{
		const char *p = config_str(cfg, "storage", "prefix");
		size_t n = strlen(p);

		/* "dagy" and "dagy/" both put objects under dagy/. */
		if (asprintf(&os->prefix, "%s%s", p, n > 0 && p[n - 1] != '/' ? "/" : "") < 0)
			os->prefix = NULL;
		if (os->prefix == NULL || os->prefix[0] == '/') {
			snprintf(err, errlen, "[storage] prefix must not start with '/'");
			goto fail;
		}
	}
	if (strcmp(backend, "none") == 0) {
		os->kind = OBJSTORE_NONE;
	} else if (strcmp(backend, "s3") == 0 ||
	    (strcmp(backend, "auto") == 0 && *endpoint != '\0')) {
		struct s3_config sc = {.endpoint = endpoint,
			.region = config_str(cfg, "storage", "region"),
			.bucket = config_str(cfg, "storage", "bucket"),
			.access_key = config_str(cfg, "storage", "access_key"),
			.secret_key = config_str(cfg, "storage", "secret_key"),
			.timeout_seconds = config_int(cfg, "storage", "timeout_seconds"),
			.retries = (int)config_int(cfg, "storage", "retries")};

		if (*endpoint == '\0' || *sc.bucket == '\0') {
			snprintf(err, errlen, "[storage] backend s3 needs endpoint and bucket");
			goto fail;
		}
		if (strcmp(addressing, "path") == 0)
			sc.path_style = 1;
		else if (strcmp(addressing, "virtual") == 0)
			sc.path_style = 0;
		else if (strcmp(addressing, "auto") == 0)
			/* AWS wants virtual-host style; other servers mostly path style. */
			sc.path_style = strstr(endpoint, "amazonaws.com") == NULL;
		else {
			snprintf(err, errlen, "[storage] addressing must be auto, path or virtual");
			goto fail;
		}
		os->kind = OBJSTORE_S3;
		os->bucket = strdup(sc.bucket);
		if ((os->s3 = s3_new(&sc)) == NULL) {
			snprintf(err, errlen, "cannot set up the S3 client");
			goto fail;
		}
	} else if (strcmp(backend, "dir") == 0 || strcmp(backend, "auto") == 0) {
		os->kind = OBJSTORE_DIR;
		os->dir = strdup(config_str(cfg, "storage", "dir"));
		if (os->dir == NULL || os->dir[0] != '/') {
			snprintf(err, errlen, "[storage] dir must be an absolute path");
			goto fail;
		}
	} else {
		snprintf(err, errlen, "[storage] backend must be auto, dir, s3 or none");
		goto fail;
	}
	*out = os;
	return 0;
fail:
	objstore_free(os);
	return -1;
}

void
objstore_free(struct objstore *os)
{
	if (os == NULL)
		return;
	s3_free(os->s3);
	free(os->dir);
	free(os->prefix);
	free(os->bucket);
	free(os);
}

enum objstore_kind
objstore_kind(const struct objstore *os)
{
	return os->kind;
}

const char *
objstore_error(const struct objstore *os)
{
	return os->err;
}

const char *
objstore_prefix(const struct objstore *os)
{
	return os->prefix;
}

char *
objstore_uri(const struct objstore *os, const char *key)
{
	char *u = NULL;

	if (os->kind == OBJSTORE_S3 && asprintf(&u, "s3://%s/%s", os->bucket, key) < 0)
		return NULL;
	if (os->kind == OBJSTORE_DIR && asprintf(&u, "file://%s/%s", os->dir, key) < 0)
		return NULL;
	return u;
}

const char *
objstore_key_of(const struct objstore *os, const char *uri)
{
	size_t n;

	if (os->kind == OBJSTORE_S3 && strncmp(uri, "s3://", 5) == 0) {
		n = strlen(os->bucket);
		if (strncmp(uri + 5, os->bucket, n) == 0 && uri[5 + n] == '/')
			return uri + 6 + n;
	}
	if (os->kind == OBJSTORE_DIR && strncmp(uri, "file://", 7) == 0) {
		n = strlen(os->dir);
		if (strncmp(uri + 7, os->dir, n) == 0 && uri[7 + n] == '/')
			return uri + 8 + n;
	}
	return NULL;
}

int
objstore_upload_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 32;
}

/* Keys come from dagy itself, but a ".." segment is refused all the same. */
static int
key_ok(const char *key)
{
	const char *p = key;

	if (*key == '\0' || *key == '/')
		return 0;
	while (p != NULL) {
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return 0;
		if ((p = strchr(p, '/')) != NULL)
			p++;
	}
	return 1;
}

static int
mkdirs(const char *path)
{
	char *p = strdup(path), *s;
	int rc = 0;

	if (p == NULL)
		return -1;
	for (s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0750) < 0 && errno != EEXIST)
				rc = -1;
			*s = '/';
		}
	if (mkdir(p, 0750) < 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

static int
s3_rc(struct objstore *os, int rc)
{
	if (rc == 0)
		return 0;
	set_err(os, "%s", s3_error(os->s3));
	if (rc == S3_EHTTP && s3_status(os->s3) == 404)
		return OBJSTORE_ENOTFOUND;
	if (rc == S3_EHTTP && s3_status(os->s3) >= 400 && s3_status(os->s3) < 500)
		return OBJSTORE_EREFUSED;
	if (rc == S3_EIO && strstr(s3_error(os->s3), "over the limit") != NULL)
		return OBJSTORE_ETOOBIG;
	return OBJSTORE_EFAIL;
}

static char *
upload_dir(const struct objstore *os, const char *upload_id)
{
	char *d = NULL;

	if (asprintf(&d, "%s/.uploads/%s", os->dir, upload_id) < 0)
		return NULL;
	return d;
}

int
objstore_initiate(struct objstore *os, const char *key, char **upload_id)
{
	*upload_id = NULL;
	if (!key_ok(key)) {
		set_err(os, "bad key");
		return OBJSTORE_EREFUSED;
	}
	if (os->kind == OBJSTORE_S3)
		return s3_rc(os, s3_create_multipart(os->s3, key, upload_id));
	if (os->kind == OBJSTORE_DIR) {
		uint8_t r[16];
		char *id = malloc(33), *d;
		int i;

		if (id == NULL || crypto_random(r, sizeof(r)) < 0) {
			free(id);
			return OBJSTORE_EFAIL;
		}
		for (i = 0; i < 16; i++)
			snprintf(id + 2 * i, 3, "%02x", r[i]);
		if ((d = upload_dir(os, id)) == NULL || mkdirs(d) < 0) {
			set_err(os, "cannot create %s: %s", d ? d : "upload dir", strerror(errno));
			free(d);
			free(id);
			return OBJSTORE_EFAIL;
		}
		free(d);
		*upload_id = id;
		return 0;
	}
	set_err(os, "storage is disabled");
	return OBJSTORE_EFAIL;
}

char *
objstore_part_url(struct objstore *os, const char *key, const char *upload_id,
    int part, long expires)
{
	char num[16];
	struct s3_kv q[] = {{"partNumber", num}, {"uploadId", upload_id}};

	if (os->kind != OBJSTORE_S3)
		return NULL;
	snprintf(num, sizeof(num), "%d", part);
	return s3_presign(os->s3, "PUT", key, q, 2, expires, 0);
}

static void
md5_etag(EVP_MD_CTX *c, char out[35])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_DigestFinal_ex(c, d, &n);
	out[0] = '"';
	for (i = 0; i < n && i < 16; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", d[i]);
	out[33] = '"';
	out[34] = '\0';
}

int
objstore_put_part(struct objstore *os, const char *upload_id, int part, FILE *in,
    long long n, char **etag)
{
	char *d = NULL, *path = NULL, *tmp = NULL, buf[65536], tag[35];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	FILE *f = NULL;
	long long got = 0;
	int rc = OBJSTORE_EFAIL;

	*etag = NULL;
	if (c == NULL || EVP_DigestInit_ex(c, EVP_md5(), NULL) != 1)
		goto done;
	if (os->kind != OBJSTORE_DIR || !objstore_upload_id_ok(upload_id)) {
		rc = OBJSTORE_EREFUSED;
		goto done;
	}
	if ((d = upload_dir(os, upload_id)) == NULL ||
	    asprintf(&path, "%s/%d", d, part) < 0 || asprintf(&tmp, "%s/%d.tmp", d, part) < 0)
		goto done;
	if (access(d, F_OK) < 0) {
		set_err(os, "no such upload");
		rc = OBJSTORE_ENOTFOUND;
		goto done;
	}
	if ((f = fopen(tmp, "wb")) == NULL) {
		set_err(os, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	while (got < n) {
		size_t want = n - got < (long long)sizeof(buf) ? (size_t)(n - got) : sizeof(buf);
		size_t k = fread(buf, 1, want, in);

		if (k == 0)
			break;
		EVP_DigestUpdate(c, buf, k);
		if (fwrite(buf, 1, k, f) != k) {
			set_err(os, "%s: %s", tmp, strerror(errno));
			goto done;
		}
		got += (long long)k;
	}
	if (got != n) {
		set_err(os, "part %d: got %lld of %lld bytes", part, got, n);
		rc = OBJSTORE_EREFUSED;
		goto done;
	}
	if (fclose(f) != 0) {
		f = NULL;
		goto done;
	}
	f = NULL;
	if (rename(tmp, path) < 0)
		goto done;
	md5_etag(c, tag);
	if ((*etag = strdup(tag)) != NULL)
		rc = 0;
done:
	if (f != NULL) {
		fclose(f);
		unlink(tmp);
	}
	EVP_MD_CTX_free(c);
	free(d);
	free(path);
	free(tmp);
	return rc;
}

/* ETags compare without their quotes, as S3 compares them. */
static int
etag_eq(const char *a, const char *b)
{
	size_t la, lb;

	if (*a == '"')
		a++;
	if (*b == '"')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la > 0 && a[la - 1] == '"')
		la--;
	if (lb > 0 && b[lb - 1] == '"')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

static int
rm_upload(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *e;

	if (dh == NULL)
		return errno == ENOENT ? OBJSTORE_ENOTFOUND : OBJSTORE_EFAIL;
	while ((e = readdir(dh)) != NULL) {
		char *p = NULL;

		if (e->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", d, e->d_name) >= 0) {
			unlink(p);
			free(p);
		}
	}
	closedir(dh);
	return rmdir(d) == 0 ? 0 : OBJSTORE_EFAIL;
}

static int
dir_complete(struct objstore *os, const char *key, const char *upload_id,
    const char *const *etags, size_t n)
{
	char *d = NULL, *dst = NULL, *tmp = NULL, *slash, buf[65536], tag[35];
	FILE *out = NULL, *in = NULL;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int rc = OBJSTORE_EFAIL;
	size_t i, k;

	if (c == NULL || !objstore_upload_id_ok(upload_id) ||
	    (d = upload_dir(os, upload_id)) == NULL ||
	    asprintf(&dst, "%s/%s", os->dir, key) < 0 ||
	    asprintf(&tmp, "%s/assembled", d) < 0)
		goto done;
	if (access(d, F_OK) < 0) {
		set_err(os, "no such upload");
		rc = OBJSTORE_EREFUSED;
		goto done;
	}
	if ((out = fopen(tmp, "wb")) == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		char *p = NULL;

		if (asprintf(&p, "%s/%zu", d, i + 1) < 0)
			goto done;
		in = fopen(p, "rb");
		free(p);
		if (in == NULL) {
			set_err(os, "part %zu was not uploaded", i + 1);
			rc = OBJSTORE_EREFUSED;
			goto done;
		}
		EVP_DigestInit_ex(c, EVP_md5(), NULL);
		while ((k = fread(buf, 1, sizeof(buf), in)) > 0) {
			EVP_DigestUpdate(c, buf, k);
			if (fwrite(buf, 1, k, out) != k)
				goto done;
		}
		fclose(in);
		in = NULL;
		md5_etag(c, tag);
		if (!etag_eq(tag, etags[i])) {
			set_err(os, "part %zu: ETag %s does not match the part uploaded",
			    i + 1, etags[i]);
			rc = OBJSTORE_EREFUSED;
			goto done;
		}
	}
	if (fclose(out) != 0) {
		out = NULL;
		goto done;
	}
	out = NULL;
	if ((slash = strrchr(dst, '/')) != NULL) {
		*slash = '\0';
		if (mkdirs(dst) < 0)
			goto done;
		*slash = '/';
	}
	if (rename(tmp, dst) < 0) {
		set_err(os, "%s: %s", dst, strerror(errno));
		goto done;
	}
	rm_upload(d);
	rc = 0;
done:
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	if (rc != 0 && tmp != NULL)
		unlink(tmp);
	EVP_MD_CTX_free(c);
	free(d);
	free(dst);
	free(tmp);
	return rc;
}

int
objstore_complete(struct objstore *os, const char *key, const char *upload_id,
    const char *const *etags, size_t n)
{
	if (!key_ok(key))
		return OBJSTORE_EREFUSED;
	if (os->kind == OBJSTORE_S3)
		return s3_rc(os, s3_complete_multipart(os->s3, key, upload_id, etags, n));
	if (os->kind == OBJSTORE_DIR)
		return dir_complete(os, key, upload_id, etags, n);
	return OBJSTORE_EFAIL;
}

int
objstore_abort(struct objstore *os, const char *key, const char *upload_id)
{
	if (os->kind == OBJSTORE_S3)
		return s3_rc(os, s3_abort_multipart(os->s3, key, upload_id));
	if (os->kind == OBJSTORE_DIR) {
		char *d;
		int rc;

		if (!objstore_upload_id_ok(upload_id) || (d = upload_dir(os, upload_id)) == NULL)
			return OBJSTORE_ENOTFOUND;
		rc = rm_upload(d);
		free(d);
		return rc;
	}
	return OBJSTORE_EFAIL;
}

int
objstore_get(struct objstore *os, const char *key, FILE *out, long long max,
    long long *size)
{
	*size = 0;
	if (!key_ok(key))
		return OBJSTORE_ENOTFOUND;
	if (os->kind == OBJSTORE_S3)
		return s3_rc(os, s3_get_object(os->s3, key, out, max, size));
	if (os->kind == OBJSTORE_DIR) {
		char *p = NULL, buf[65536];
		FILE *in;
		size_t k;

		if (asprintf(&p, "%s/%s", os->dir, key) < 0)
			return OBJSTORE_EFAIL;
		in = fopen(p, "rb");
		free(p);
		if (in == NULL)
			return errno == ENOENT ? OBJSTORE_ENOTFOUND : OBJSTORE_EFAIL;
		while ((k = fread(buf, 1, sizeof(buf), in)) > 0) {
			if (max > 0 && *size + (long long)k > max) {
				fclose(in);
				set_err(os, "object is over the limit of %lld bytes", max);
				return OBJSTORE_ETOOBIG;
			}
			if (fwrite(buf, 1, k, out) != k) {
				fclose(in);
				return OBJSTORE_EFAIL;
			}
			*size += (long long)k;
		}
		fclose(in);
		return fflush(out) == 0 ? 0 : OBJSTORE_EFAIL;
	}
	return OBJSTORE_EFAIL;
}

int
objstore_delete(struct objstore *os, const char *key)
{
	if (!key_ok(key))
		return OBJSTORE_ENOTFOUND;
	if (os->kind == OBJSTORE_S3)
		return s3_rc(os, s3_delete_object(os->s3, key));
	if (os->kind == OBJSTORE_DIR) {
		char *p = NULL;
		int rc;

		if (asprintf(&p, "%s/%s", os->dir, key) < 0)
			return OBJSTORE_EFAIL;
		rc = unlink(p) == 0 || errno == ENOENT ? 0 : OBJSTORE_EFAIL;
		free(p);
		return rc;
	}
	return OBJSTORE_EFAIL;
}
