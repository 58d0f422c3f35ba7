/* An S3 client: AWS Signature Version 4 (headers and presigned URLs),
 * path- or virtual-host-style addressing, and the object and multipart
 * calls dagy uses, over libcurl with timeouts and retries. Strings it
 * returns are malloc'd and freed by the caller. */
#ifndef DAGY_S3_H
#define DAGY_S3_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum s3_err {
	S3_EHTTP = -60,    /* the server answered an error; see s3_error() */
	S3_ENET = -61,     /* no answer (connection, timeout) after the retries */
	S3_EPROTO = -62,   /* an answer dagy cannot read */
	S3_ENOMEM = -63,
	S3_EIO = -64,      /* a local file could not be read or written */
};

struct s3_kv {
	const char *k, *v;
};

/* What Signature Version 4 signs. Header names are lowercase; the signer
 * sorts headers and query parameters itself. path is the raw path (the
 * signer URI-encodes it, keeping '/'). */
struct s3_sig_in {
	const char *method, *path;
	const struct s3_kv *query;
	size_t nquery;
	const struct s3_kv *headers;
	size_t nheaders;
	const char *payload_hash; /* hex SHA-256, or "UNSIGNED-PAYLOAD" */
	const char *amz_date;     /* YYYYMMDDTHHMMSSZ */
	const char *region, *service, *access_key, *secret_key;
};

/* The canonical request (malloc'd), for tests and debugging. */
char *s3_canonical_request(const struct s3_sig_in *in);
/* The hex signature of in; *signed_headers (malloc'd, may be NULL when not
 * wanted) gets "host;x-amz-date"-style text. 0 or S3_ENOMEM. */
int s3_signature(const struct s3_sig_in *in, char sig[65], char **signed_headers);
/* The value of the Authorization header for in (malloc'd) or NULL. */
char *s3_authorization(const struct s3_sig_in *in);
/* RFC 3986 encoding as SigV4 wants it (malloc'd); slash kept when set. */
char *s3_uri_encode(const char *s, int keep_slash);

struct s3_config {
	const char *endpoint;  /* "https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:4568" */
	const char *region, *bucket, *access_key, *secret_key;
	int path_style;        /* 1: endpoint/bucket/key; 0: bucket.host/key */
	long timeout_seconds;  /* connecting (at most 10 s), and a stalled transfer */
	int retries;           /* further attempts on 5xx and connection errors */
};

struct s3;

/* A client over a copy of cfg, or NULL. */
struct s3 *s3_new(const struct s3_config *cfg);
void s3_free(struct s3 *s);
/* The last failure's text: "404 NoSuchKey: The specified key does not
 * exist." or a transport error. Valid until the next call. */
const char *s3_error(const struct s3 *s);
/* The HTTP status of the last answer (0: none). */
int s3_status(const struct s3 *s);

/* A presigned URL for method on key, valid expires seconds from now
 * (time(NULL) when now is 0), with extra query parameters (partNumber,
 * uploadId). malloc'd, or NULL. */
char *s3_presign(struct s3 *s, const char *method, const char *key,
    const struct s3_kv *query, size_t nquery, long expires, time_t now);

int s3_create_multipart(struct s3 *s, const char *key, char **upload_id);
/* Uploads n bytes from data as part number part; *etag gets its ETag. */
int s3_upload_part(struct s3 *s, const char *key, const char *upload_id,
    int part, const void *data, size_t n, char **etag);
/* parts[i] is the ETag of part i + 1. */
int s3_complete_multipart(struct s3 *s, const char *key, const char *upload_id,
    const char *const *etags, size_t nparts);
int s3_abort_multipart(struct s3 *s, const char *key, const char *upload_id);
/* Writes the object to out, at most max bytes (0: no cap; over it:
 * S3_EIO with the error saying so); *size gets its length. */
int s3_get_object(struct s3 *s, const char *key, FILE *out, long long max,
    long long *size);
int s3_put_object(struct s3 *s, const char *key, const void *data, size_t n);
/* Uploads the file at path (streamed, UNSIGNED-PAYLOAD). */
int s3_put_file(struct s3 *s, const char *key, const char *path);
int s3_delete_object(struct s3 *s, const char *key);

struct s3_object {
	char *key, *etag;
	long long size;
};
/* Every object under prefix (all pages), in key order; free with
 * s3_objects_free. */
int s3_list(struct s3 *s, const char *prefix, struct s3_object **objs, size_t *n);
void s3_objects_free(struct s3_object *objs, size_t n);

#endif
