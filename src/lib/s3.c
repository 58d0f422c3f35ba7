/* The S3 client: Signature Version 4 over OpenSSL's HMAC-SHA256 (through
 * dagy/crypto.h), requests over libcurl, and just enough XML reading for
 * the answers of the calls dagy makes. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dagy/crypto.h"
#include "dagy/s3.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	char *endpoint_scheme, *authority, *base_path;
	char *region, *bucket, *access_key, *secret_key;
	int path_style, retries;
	long timeout;
	CURL *curl;
	int status;
	char err[512];
};

char *
s3_uri_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
		    (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

static int
kv_cmp(const void *a, const void *b)
{
	const struct s3_kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c != 0 ? c : strcmp(x->v, y->v);
}

/* The sorted, encoded query string of in (malloc'd). */
static char *
canonical_query(const struct s3_kv *q, size_t n)
{
	struct s3_kv *enc = calloc(n + 1, sizeof(*enc));
	char *out = NULL;
	size_t len = 0, i;
	FILE *f = NULL;
	int ok = 1;

	if (enc == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		enc[i].k = s3_uri_encode(q[i].k, 0);
		enc[i].v = s3_uri_encode(q[i].v != NULL ? q[i].v : "", 0);
		if (enc[i].k == NULL || enc[i].v == NULL)
			ok = 0;
	}
	if (ok) {
		qsort(enc, n, sizeof(*enc), kv_cmp);
		if ((f = open_memstream(&out, &len)) != NULL) {
			for (i = 0; i < n; i++)
				fprintf(f, "%s%s=%s", i ? "&" : "", enc[i].k, enc[i].v);
			fclose(f);
		}
	}
	for (i = 0; i < n; i++) {
		free((char *)enc[i].k);
		free((char *)enc[i].v);
	}
	free(enc);
	return out;
}

static int
hdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct s3_kv *)a)->k, ((const struct s3_kv *)b)->k);
}

/* Header values are trimmed and inner runs of spaces folded, as SigV4 says. */
static void
put_trimmed(FILE *f, const char *v)
{
	int space = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space)
			fputc(' ', f);
		space = 0;
		fputc(*v, f);
	}
}

char *
s3_canonical_request(const struct s3_sig_in *in)
{
	struct s3_kv *h = NULL;
	char *path = NULL, *query = NULL, *out = NULL;
	size_t len = 0, i;
	FILE *f;

	if ((h = malloc((in->nheaders + 1) * sizeof(*h))) == NULL)
		goto done;
	memcpy(h, in->headers, in->nheaders * sizeof(*h));
	qsort(h, in->nheaders, sizeof(*h), hdr_cmp);
	if ((path = s3_uri_encode(*in->path ? in->path : "/", 1)) == NULL ||
	    (query = canonical_query(in->query, in->nquery)) == NULL ||
	    (f = open_memstream(&out, &len)) == NULL)
		goto done;
	fprintf(f, "%s\n%s\n%s\n", in->method, path, query);
	for (i = 0; i < in->nheaders; i++) {
		fprintf(f, "%s:", h[i].k);
		put_trimmed(f, h[i].v);
		fputc('\n', f);
	}
	fputc('\n', f);
	for (i = 0; i < in->nheaders; i++)
		fprintf(f, "%s%s", i ? ";" : "", h[i].k);
	fprintf(f, "\n%s", in->payload_hash);
	fclose(f);
done:
	free(h);
	free(path);
	free(query);
	return out;
}

static void
hmac(const void *key, size_t klen, const char *msg, uint8_t out[32])
{
	crypto_hmac_sha256(key, klen, msg, strlen(msg), out);
}

int
s3_signature(const struct s3_sig_in *in, char sig[65], char **signed_headers)
{
	char *creq = s3_canonical_request(in), *sts = NULL, *k0 = NULL, hex[65];
	char date[9], *sh = NULL;
	uint8_t d[32], k[32];
	size_t len = 0, i;
	struct s3_kv *h = NULL;
	FILE *f;
	int rc = S3_ENOMEM;

	if (creq == NULL)
		goto done;
	memcpy(date, in->amz_date, 8);
	date[8] = '\0';
	crypto_sha256(creq, strlen(creq), d);
	crypto_hex(d, hex);
	if ((f = open_memstream(&sts, &len)) == NULL)
		goto done;
	fprintf(f, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date,
	    date, in->region, in->service, hex);
	fclose(f);
	if ((f = open_memstream(&k0, &len)) == NULL)
		goto done;
	fprintf(f, "AWS4%s", in->secret_key);
	fclose(f);
	hmac(k0, strlen(k0), date, k);
	hmac(k, 32, in->region, k);
	hmac(k, 32, in->service, k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, d);
	crypto_hex(d, sig);
	if (signed_headers != NULL) {
		if ((h = malloc((in->nheaders + 1) * sizeof(*h))) == NULL ||
		    (f = open_memstream(&sh, &len)) == NULL)
			goto done;
		memcpy(h, in->headers, in->nheaders * sizeof(*h));
		qsort(h, in->nheaders, sizeof(*h), hdr_cmp);
		for (i = 0; i < in->nheaders; i++)
			fprintf(f, "%s%s", i ? ";" : "", h[i].k);
		fclose(f);
		*signed_headers = sh;
	}
	rc = 0;
done:
	if (k0 != NULL)
		explicit_bzero(k0, strlen(k0));
	explicit_bzero(k, sizeof(k));
	free(h);
	free(creq);
	free(sts);
	free(k0);
	return rc;
}

char *
s3_authorization(const struct s3_sig_in *in)
{
	char sig[65], *sh = NULL, *out = NULL;
	size_t len = 0;
	FILE *f;

	if (s3_signature(in, sig, &sh) < 0)
		return NULL;
	if ((f = open_memstream(&out, &len)) != NULL) {
		fprintf(f, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
		    "SignedHeaders=%s, Signature=%s", in->access_key, in->amz_date,
		    in->region, in->service, sh, sig);
		fclose(f);
	}
	free(sh);
	return out;
}

/* Client */

struct s3 *
s3_new(const struct s3_config *cfg)
{
	struct s3 *s = calloc(1, sizeof(*s));
	const char *ep = cfg->endpoint, *p, *slash;

	if (s == NULL)
		return NULL;
	if ((p = strstr(ep, "://")) == NULL) {
		s->endpoint_scheme = strdup("https");
		p = ep;
	} else {
		s->endpoint_scheme = strndup(ep, (size_t)(p - ep));
		p += 3;
	}
	slash = strchr(p, '/');
	s->authority = slash ? strndup(p, (size_t)(slash - p)) : strdup(p);
	s->base_path = strdup(slash ? slash : "");
	/* A trailing slash of the endpoint is not part of the object path. */
	if (s->base_path != NULL && *s->base_path &&
	    s->base_path[strlen(s->base_path) - 1] == '/')
		s->base_path[strlen(s->base_path) - 1] = '\0';
	s->region = strdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
	s->bucket = strdup(cfg->bucket ? cfg->bucket : "");
	s->access_key = strdup(cfg->access_key ? cfg->access_key : "");
	s->secret_key = strdup(cfg->secret_key ? cfg->secret_key : "");
	s->path_style = cfg->path_style;
	s->timeout = cfg->timeout_seconds > 0 ? cfg->timeout_seconds : 30;
	s->retries = cfg->retries >= 0 ? cfg->retries : 0;
	s->curl = curl_easy_init();
	if (s->endpoint_scheme == NULL || s->authority == NULL || s->base_path == NULL ||
	    s->region == NULL || s->bucket == NULL || s->access_key == NULL ||
	    s->secret_key == NULL || s->curl == NULL) {
		s3_free(s);
		return NULL;
	}
	return s;
}

void
s3_free(struct s3 *s)
{
	if (s == NULL)
		return;
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	free(s->endpoint_scheme);
	free(s->authority);
	free(s->base_path);
	free(s->region);
	free(s->bucket);
	free(s->access_key);
	if (s->secret_key != NULL)
		explicit_bzero(s->secret_key, strlen(s->secret_key));
	free(s->secret_key);
	free(s);
}

const char *
s3_error(const struct s3 *s)
{
	return s->err;
}

int
s3_status(const struct s3 *s)
{
	return s->status;
}

static void
set_err(struct s3 *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

/* Host and raw path of key (NULL: the bucket itself), malloc'd. */
static int
address(struct s3 *s, const char *key, char **host, char **path)
{
	int n;

	if (s->path_style) {
		*host = strdup(s->authority);
		n = asprintf(path, "%s/%s%s%s", s->base_path, s->bucket,
		    key ? "/" : "", key ? key : "");
	} else {
		n = asprintf(host, "%s.%s", s->bucket, s->authority);
		if (n >= 0)
			n = asprintf(path, "%s/%s", s->base_path, key ? key : "");
	}
	if (n < 0 || *host == NULL)
		return S3_ENOMEM;
	return 0;
}

static void
amz_now(time_t now, char out[17])
{
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

char *
s3_presign(struct s3 *s, const char *method, const char *key,
    const struct s3_kv *query, size_t nquery, long expires, time_t now)
{
	struct s3_kv q[16], h[1];
	char date[17], cred[256], exp[24], sig[65];
	char *host = NULL, *path = NULL, *epath = NULL, *qs = NULL, *url = NULL;
	struct s3_sig_in in;
	size_t i, n = 0;

	if (nquery > 10)
		return NULL;
	amz_now(now ? now : time(NULL), date);
	snprintf(cred, sizeof(cred), "%s/%.8s/%s/s3/aws4_request", s->access_key,
	    date, s->region);
	snprintf(exp, sizeof(exp), "%ld", expires);
	q[n++] = (struct s3_kv){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
	q[n++] = (struct s3_kv){"X-Amz-Credential", cred};
	q[n++] = (struct s3_kv){"X-Amz-Date", date};
	q[n++] = (struct s3_kv){"X-Amz-Expires", exp};
	q[n++] = (struct s3_kv){"X-Amz-SignedHeaders", "host"};
	for (i = 0; i < nquery; i++)
		q[n++] = query[i];
	if (address(s, key, &host, &path) < 0)
		goto done;
	h[0] = (struct s3_kv){"host", host};
	in = (struct s3_sig_in){.method = method, .path = path, .query = q,
		.nquery = n, .headers = h, .nheaders = 1,
		.payload_hash = "UNSIGNED-PAYLOAD", .amz_date = date,
		.region = s->region, .service = "s3", .access_key = s->access_key,
		.secret_key = s->secret_key};
	if (s3_signature(&in, sig, NULL) < 0 ||
	    (epath = s3_uri_encode(path, 1)) == NULL ||
	    (qs = canonical_query(q, n)) == NULL)
		goto done;
	if (asprintf(&url, "%s://%s%s?%s&X-Amz-Signature=%s", s->endpoint_scheme,
	    host, epath, qs, sig) < 0)
		url = NULL;
done:
	free(host);
	free(path);
	free(epath);
	free(qs);
	return url;
}

/* One request: a body from memory (data, n) or a file (in), the answer to
 * out (a file, capped at max) or to a memory buffer (*resp). */
struct xfer {
	const char *method, *key;
	const struct s3_kv *query;
	size_t nquery;
	const void *data;
	size_t n;
	FILE *in;
	long long in_len;
	FILE *out;
	long long max, got;
	char *resp;
	size_t resp_len;
	FILE *resp_f;
	char *etag;
	int over, code; /* code: the status line's, as headers arrive */
};

static size_t
on_write(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	size_t n = sz * nm;

	if (x->out != NULL && x->code >= 200 && x->code < 300) {
		if (x->max > 0 && x->got + (long long)n > x->max) {
			x->over = 1;
			return 0;
		}
		x->got += (long long)n;
		return fwrite(p, 1, n, x->out) == n ? n : 0;
	}
	return fwrite(p, 1, n, x->resp_f);
}

static size_t
on_header(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;
	size_t n = sz * nm, len = n;

	if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);

		x->code = sp != NULL ? atoi(sp + 1) : 0;
		free(x->etag);
		x->etag = NULL;
	} else if (n > 5 && strncasecmp(p, "etag:", 5) == 0) {
		const char *v = p + 5;

		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
			len--;
		while (v < p + len && *v == ' ')
			v++;
		free(x->etag);
		x->etag = strndup(v, (size_t)(p + len - v));
	}
	return n;
}

static size_t
on_read(char *p, size_t sz, size_t nm, void *arg)
{
	struct xfer *x = arg;

	if (x->in != NULL)
		return fread(p, 1, sz * nm, x->in);
	{
		size_t n = sz * nm, left = x->n - (size_t)x->got;

		if (n > left)
			n = left;
		memcpy(p, (const char *)x->data + x->got, n);
		x->got += (long long)n;
		return n;
	}
}

/* The text of the first <tag>…</tag> in xml after *from, entities
 * decoded (malloc'd), or NULL; *from moves past it. */
static char *
xml_take(const char *xml, const char *tag, const char **from)
{
	char open[64], close[64], *out, *o;
	const char *a, *b, *p;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((a = strstr(from ? *from : xml, open)) == NULL)
		return NULL;
	a += strlen(open);
	if ((b = strstr(a, close)) == NULL)
		return NULL;
	if (from != NULL)
		*from = b + strlen(close);
	if ((out = malloc((size_t)(b - a) + 1)) == NULL)
		return NULL;
	for (p = a, o = out; p < b; p++) {
		static const struct { const char *e; char c; } ents[] = {
			{"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'},
			{"&apos;", '\''}, {"&#34;", '"'}, {"&#39;", '\''},
		};
		size_t i, n = sizeof(ents) / sizeof(ents[0]);

		for (i = 0; *p == '&' && i < n; i++)
			if (strncmp(p, ents[i].e, strlen(ents[i].e)) == 0)
				break;
		if (*p == '&' && i < n) {
			*o++ = ents[i].c;
			p += strlen(ents[i].e) - 1;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* Runs x with signing and retries. 0 on a 2xx, S3_EHTTP (error text
 * from the answer), S3_ENET or S3_EIO. */
static int
perform(struct s3 *s, struct xfer *x)
{
	char date[17], hash[65], *host = NULL, *path = NULL, *epath = NULL;
	char *qs = NULL, *url = NULL, *auth = NULL, *hv[5] = {0};
	struct s3_kv h[3];
	struct curl_slist *hl = NULL;
	int attempt, rc = S3_ENOMEM, i;
	CURLcode cc = CURLE_OK;

	s->status = 0;
	s->err[0] = '\0';
	if (address(s, x->key, &host, &path) < 0 ||
	    (epath = s3_uri_encode(path, 1)) == NULL ||
	    (qs = canonical_query(x->query, x->nquery)) == NULL)
		goto done;
	if (asprintf(&url, "%s://%s%s%s%s", s->endpoint_scheme, host, epath,
	    *qs ? "?" : "", qs) < 0) {
		url = NULL;
		goto done;
	}
	if (x->in != NULL) {
		snprintf(hash, sizeof(hash), "UNSIGNED-PAYLOAD");
	} else {
		uint8_t d[32];

		crypto_sha256(x->data != NULL ? x->data : "", x->n, d);
		crypto_hex(d, hash);
	}
	for (attempt = 0; attempt <= s->retries; attempt++) {
		struct s3_sig_in in;

		if (attempt > 0)
			usleep((useconds_t)(200000u << (attempt - 1 < 4 ? attempt - 1 : 4)));
		amz_now(time(NULL), date);
		h[0] = (struct s3_kv){"host", host};
		h[1] = (struct s3_kv){"x-amz-content-sha256", hash};
		h[2] = (struct s3_kv){"x-amz-date", date};
		in = (struct s3_sig_in){.method = x->method, .path = path,
			.query = x->query, .nquery = x->nquery, .headers = h,
			.nheaders = 3, .payload_hash = hash, .amz_date = date,
			.region = s->region, .service = "s3", .access_key = s->access_key,
			.secret_key = s->secret_key};
		free(auth);
		if ((auth = s3_authorization(&in)) == NULL)
			goto done;
		for (i = 0; i < 5; i++)
			free(hv[i]);
		memset(hv, 0, sizeof(hv));
		if (asprintf(&hv[0], "Host: %s", host) < 0 ||
		    asprintf(&hv[1], "x-amz-content-sha256: %s", hash) < 0 ||
		    asprintf(&hv[2], "x-amz-date: %s", date) < 0 ||
		    asprintf(&hv[3], "Authorization: %s", auth) < 0 ||
		    asprintf(&hv[4], "Expect:") < 0)
			goto done;
		curl_slist_free_all(hl);
		hl = NULL;
		for (i = 0; i < 5; i++)
			hl = curl_slist_append(hl, hv[i]);
		/* A retry starts each stream over. */
		x->got = 0;
		x->over = 0;
		x->code = 0;
		if (x->in != NULL && fseek(x->in, 0, SEEK_SET) != 0) {
			rc = S3_EIO;
			goto done;
		}
		if (x->out != NULL && (fflush(x->out) != 0 ||
		    ftruncate(fileno(x->out), 0) != 0 || fseek(x->out, 0, SEEK_SET) != 0)) {
			rc = S3_EIO;
			goto done;
		}
		if (x->resp_f != NULL)
			fclose(x->resp_f);
		free(x->resp);
		x->resp = NULL;
		if ((x->resp_f = open_memstream(&x->resp, &x->resp_len)) == NULL)
			goto done;
		curl_easy_reset(s->curl);
		curl_easy_setopt(s->curl, CURLOPT_URL, url);
		curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, x->method);
		curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, s->timeout < 10 ? s->timeout : 10L);
		/* A stalled transfer times out; a large one that moves does not. */
		curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, s->timeout);
		curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, x);
		if (strcmp(x->method, "HEAD") == 0)
			curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
		if (x->in != NULL || x->data != NULL || strcmp(x->method, "PUT") == 0 ||
		    strcmp(x->method, "POST") == 0) {
			curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(s->curl, CURLOPT_READDATA, x);
			curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE,
			    (curl_off_t)(x->in != NULL ? x->in_len : (long long)x->n));
		}
		cc = curl_easy_perform(s->curl);
		fflush(x->resp_f);
		if (x->out != NULL)
			fflush(x->out);
		if (x->over) {
			set_err(s, "object is over the limit of %lld bytes", x->max);
			rc = S3_EIO;
			goto done;
		}
		if (cc != CURLE_OK && x->code == 0) {
			set_err(s, "%s: %s", host, curl_easy_strerror(cc));
			rc = S3_ENET;
			continue;
		}
		{
			long code = 0;

			curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
			s->status = (int)code;
		}
		if (s->status >= 200 && s->status < 300 && cc == CURLE_OK) {
			rc = 0;
			goto done;
		}
		{
			char *code = x->resp ? xml_take(x->resp, "Code", NULL) : NULL;
			char *msg = x->resp ? xml_take(x->resp, "Message", NULL) : NULL;

			if (cc != CURLE_OK)
				set_err(s, "%d: %s", s->status, curl_easy_strerror(cc));
			else
				set_err(s, "%d %s%s%s", s->status, code ? code : "error",
				    msg ? ": " : "", msg ? msg : "");
			free(code);
			free(msg);
		}
		rc = S3_EHTTP;
		if (s->status < 500)
			goto done;
	}
done:
	if (x->resp_f != NULL) {
		fclose(x->resp_f);
		x->resp_f = NULL;
	}
	curl_slist_free_all(hl);
	for (i = 0; i < 5; i++)
		free(hv[i]);
	free(auth);
	free(host);
	free(path);
	free(epath);
	free(qs);
	free(url);
	return rc;
}

static void
xfer_done(struct xfer *x)
{
	free(x->resp);
	free(x->etag);
}

int
s3_create_multipart(struct s3 *s, const char *key, char **upload_id)
{
	struct s3_kv q[] = {{"uploads", ""}};
	struct xfer x = {.method = "POST", .key = key, .query = q, .nquery = 1};
	int rc = perform(s, &x);

	*upload_id = NULL;
	if (rc == 0 && (*upload_id = xml_take(x.resp, "UploadId", NULL)) == NULL) {
		set_err(s, "no UploadId in the answer");
		rc = S3_EPROTO;
	}
	xfer_done(&x);
	return rc;
}

int
s3_upload_part(struct s3 *s, const char *key, const char *upload_id, int part,
    const void *data, size_t n, char **etag)
{
	char num[16];
	struct s3_kv q[] = {{"partNumber", num}, {"uploadId", upload_id}};
	struct xfer x = {.method = "PUT", .key = key, .query = q, .nquery = 2,
		.data = data, .n = n};
	int rc;

	snprintf(num, sizeof(num), "%d", part);
	rc = perform(s, &x);
	*etag = NULL;
	if (rc == 0) {
		*etag = x.etag;
		x.etag = NULL;
	}
	xfer_done(&x);
	return rc;
}

int
s3_complete_multipart(struct s3 *s, const char *key, const char *upload_id,
    const char *const *etags, size_t nparts)
{
	struct s3_kv q[] = {{"uploadId", upload_id}};
	struct xfer x = {.method = "POST", .key = key, .query = q, .nquery = 1};
	char *body = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&body, &len);
	int rc;

	if (f == NULL)
		return S3_ENOMEM;
	fputs("<CompleteMultipartUpload>", f);
	for (i = 0; i < nparts; i++) {
		const char *e;

		fprintf(f, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
		/* ETags are hex in quotes; anything else is escaped. */
		for (e = etags[i]; *e; e++)
			if (*e == '"')
				fputs("&quot;", f);
			else if (*e == '&')
				fputs("&amp;", f);
			else if (*e == '<')
				fputs("&lt;", f);
			else if (*e == '>')
				fputs("&gt;", f);
			else
				fputc(*e, f);
		fputs("</ETag></Part>", f);
	}
	fputs("</CompleteMultipartUpload>", f);
	fclose(f);
	x.data = body;
	x.n = len;
	rc = perform(s, &x);
	/* S3 may answer 200 with an error document after a long assembly. */
	if (rc == 0 && x.resp != NULL && strstr(x.resp, "<Error>") != NULL) {
		char *code = xml_take(x.resp, "Code", NULL);

		set_err(s, "%s", code ? code : "error");
		free(code);
		rc = S3_EHTTP;
	}
	free(body);
	xfer_done(&x);
	return rc;
}

int
s3_abort_multipart(struct s3 *s, const char *key, const char *upload_id)
{
	struct s3_kv q[] = {{"uploadId", upload_id}};
	struct xfer x = {.method = "DELETE", .key = key, .query = q, .nquery = 1};
	int rc = perform(s, &x);

	xfer_done(&x);
	return rc;
}

int
s3_get_object(struct s3 *s, const char *key, FILE *out, long long max,
    long long *size)
{
	struct xfer x = {.method = "GET", .key = key, .out = out, .max = max};
	int rc = perform(s, &x);

	if (size != NULL)
		*size = x.got;
	xfer_done(&x);
	return rc;
}

int
s3_put_object(struct s3 *s, const char *key, const void *data, size_t n)
{
	struct xfer x = {.method = "PUT", .key = key, .data = data ? data : "", .n = n};
	int rc = perform(s, &x);

	xfer_done(&x);
	return rc;
}

int
s3_put_file(struct s3 *s, const char *key, const char *path)
{
	struct xfer x = {.method = "PUT", .key = key};
	struct stat st;
	int rc;

	if ((x.in = fopen(path, "rb")) == NULL || fstat(fileno(x.in), &st) < 0) {
		set_err(s, "%s: %s", path, strerror(errno));
		if (x.in != NULL)
			fclose(x.in);
		return S3_EIO;
	}
	x.in_len = st.st_size;
	rc = perform(s, &x);
	fclose(x.in);
	xfer_done(&x);
	return rc;
}

int
s3_delete_object(struct s3 *s, const char *key)
{
	struct xfer x = {.method = "DELETE", .key = key};
	int rc = perform(s, &x);

	xfer_done(&x);
	return rc;
}

void
s3_objects_free(struct s3_object *objs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(objs[i].key);
		free(objs[i].etag);
	}
	free(objs);
}

int
s3_list(struct s3 *s, const char *prefix, struct s3_object **objs, size_t *n)
{
	struct s3_object *v = NULL;
	size_t cap = 0, cnt = 0;
	char *token = NULL;
	int rc;

	for (;;) {
		struct s3_kv q[3] = {{"list-type", "2"}, {"prefix", prefix ? prefix : ""},
			{"continuation-token", token}};
		struct xfer x = {.method = "GET", .key = NULL, .query = q,
			.nquery = token ? 3 : 2};
		const char *p;
		char *c, *trunc;

		if ((rc = perform(s, &x)) < 0) {
			xfer_done(&x);
			goto fail;
		}
		p = x.resp;
		while ((c = xml_take(x.resp, "Contents", &p)) != NULL) {
			char *sz = xml_take(c, "Size", NULL);

			if (cnt == cap) {
				struct s3_object *nv;

				cap = cap ? cap * 2 : 64;
				if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
					free(c);
					free(sz);
					xfer_done(&x);
					rc = S3_ENOMEM;
					goto fail;
				}
				v = nv;
			}
			v[cnt].key = xml_take(c, "Key", NULL);
			v[cnt].etag = xml_take(c, "ETag", NULL);
			v[cnt].size = sz ? atoll(sz) : 0;
			if (v[cnt].key != NULL)
				cnt++;
			else
				free(v[cnt].etag);
			free(sz);
			free(c);
		}
		trunc = xml_take(x.resp, "IsTruncated", NULL);
		free(token);
		token = NULL;
		if (trunc != NULL && strcmp(trunc, "true") == 0)
			token = xml_take(x.resp, "NextContinuationToken", NULL);
		free(trunc);
		xfer_done(&x);
		if (token == NULL)
			break;
	}
	*objs = v;
	*n = cnt;
	return 0;
fail:
	free(token);
	s3_objects_free(v, cnt);
	*objs = NULL;
	*n = 0;
	return rc;
}
