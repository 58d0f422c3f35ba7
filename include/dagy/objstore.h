/* Where artifacts live: a directory (the default) or an S3 bucket, behind
 * one interface. Multipart uploads go straight to S3 with presigned part
 * URLs; with the directory store dagy-api itself takes the parts. */
#ifndef DAGY_OBJSTORE_H
#define DAGY_OBJSTORE_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct config;

enum objstore_kind { OBJSTORE_NONE, OBJSTORE_DIR, OBJSTORE_S3 };

enum objstore_err {
	OBJSTORE_EREFUSED = -70, /* the store refused (bad part, no such upload) */
	OBJSTORE_EFAIL = -71,    /* the store failed or could not be reached */
	OBJSTORE_ENOTFOUND = -72,
	OBJSTORE_ETOOBIG = -73,
};

struct objstore;

/* The store [storage] describes; OBJSTORE_NONE when backend = none.
 * 0, or -1 with err set (a bad setting). */
int objstore_open(struct objstore **out, const struct config *cfg, char *err,
    size_t errlen);
void objstore_free(struct objstore *os);
enum objstore_kind objstore_kind(const struct objstore *os);
/* The last failure, for logs and 4xx messages (never a credential). */
const char *objstore_error(const struct objstore *os);
/* [storage] prefix, e.g. "dagy/". */
const char *objstore_prefix(const struct objstore *os);
/* "s3://bucket/key" or "file:///dir/key" (malloc'd). */
char *objstore_uri(const struct objstore *os, const char *key);
/* The key of uri in this store, or NULL when uri is not of this store. */
const char *objstore_key_of(const struct objstore *os, const char *uri);

int objstore_initiate(struct objstore *os, const char *key, char **upload_id);
/* S3: a presigned PUT URL of part (malloc'd). */
char *objstore_part_url(struct objstore *os, const char *key,
    const char *upload_id, int part, long expires);
/* Directory store: n bytes of part read from in, stored; *etag (malloc'd)
 * is its quoted MD5, as S3 answers. */
int objstore_put_part(struct objstore *os, const char *upload_id, int part,
    FILE *in, long long n, char **etag);
/* Assembles parts 1..n (etags[i]: part i + 1) into key. A part missing or
 * whose ETag differs: OBJSTORE_EREFUSED. */
int objstore_complete(struct objstore *os, const char *key, const char *upload_id,
    const char *const *etags, size_t n);
int objstore_abort(struct objstore *os, const char *key, const char *upload_id);
/* The object into out (at most max bytes; 0: no cap). */
int objstore_get(struct objstore *os, const char *key, FILE *out, long long max,
    long long *size);
int objstore_delete(struct objstore *os, const char *key);

/* Whether s is a directory store upload id (hex, 32 characters). */
int objstore_upload_id_ok(const char *s);

#endif
