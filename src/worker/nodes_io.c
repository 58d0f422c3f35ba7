/* What the built-in nodes share: records files in the run's workspace,
 * step outputs, dotted paths, conditions, templates and HTTP with retries. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dagy/cond.h"
#include "nodes.h"

json_t *
job_config(json_t *job)
{
	static json_t *empty;
	json_t *c = json_object_get(json_object_get(job, "node"), "config");

	if (json_is_object(c))
		return c;
	if (empty == NULL)
		empty = json_object();
	return empty;
}

static const char *
workdir(void)
{
	const char *w = getenv("DAGY_WORKDIR");

	return w != NULL ? w : ".";
}

FILE *
rec_input(json_t *job, char *path, size_t pathsz)
{
	const char *given = json_string_value(json_object_get(job_config(job), "input"));
	json_t *deps = json_object_get(json_object_get(job, "node"), "depends_on"), *d;
	json_t *up = json_object_get(job, "upstream");
	FILE *f;
	size_t i;

	path[0] = '\0';
	if (given != NULL) {
		snprintf(path, pathsz, given[0] == '/' ? "%s" : "%2$s/%1$s", given, workdir());
	} else {
		json_array_foreach(deps, i, d) {
			const char *p = json_string_value(json_object_get(json_object_get(up,
			    json_string_value(d)), "records_path"));

			if (p != NULL) {
				snprintf(path, pathsz, "%s", p);
				break;
			}
		}
	}
	if (path[0] == '\0') {
		fprintf(stderr, "no input records: set config.input or depend on a step "
		    "that has a records_path output\n");
		return NULL;
	}
	if ((f = fopen(path, "r")) == NULL)
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
	return f;
}

int
rec_next(FILE *in, char **line, size_t *cap, long long *lineno, json_t **rec)
{
	ssize_t n;

	while ((n = getline(line, cap, in)) > 0) {
		json_error_t e;
		ssize_t k = 0;

		(*lineno)++;
		while (k < n && ((*line)[k] == ' ' || (*line)[k] == '\t' || (*line)[k] == '\r' ||
		    (*line)[k] == '\n'))
			k++;
		if (k == n)
			continue;
		*rec = json_loadb(*line, (size_t)n, JSON_DECODE_ANY, &e);
		if (*rec == NULL) {
			fprintf(stderr, "line %lld is not JSON: %s\n", *lineno, e.text);
			return -1;
		}
		return 1;
	}
	return 0;
}

int
rec_open(json_t *job, const char *suffix, struct rec_out *o)
{
	const char *step = json_string_value(json_object_get(job, "step_id"));

	memset(o, 0, sizeof(*o));
	snprintf(o->path, sizeof(o->path), "%s/%s%s.jsonl", workdir(), step, suffix);
	snprintf(o->tmp, sizeof(o->tmp), "%s.part", o->path);
	if ((o->f = fopen(o->tmp, "w")) == NULL) {
		fprintf(stderr, "cannot write %s: %s\n", o->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

int
rec_write(struct rec_out *o, json_t *rec)
{
	if (json_dumpf(rec, o->f, JSON_COMPACT | JSON_ENCODE_ANY) < 0 || fputc('\n', o->f) == EOF)
		return -1;
	o->n++;
	return 0;
}

int
rec_close(struct rec_out *o, int commit)
{
	int rc = 0;

	if (o->f == NULL)
		return 0;
	if (fclose(o->f) != 0)
		rc = -1;
	o->f = NULL;
	if (commit && rc == 0 && rename(o->tmp, o->path) < 0)
		rc = -1;
	if (!commit || rc < 0)
		unlink(o->tmp);
	if (commit && rc < 0)
		fprintf(stderr, "cannot write %s: %s\n", o->path, strerror(errno));
	return rc;
}

void
out_kv(const char *key, const char *fmt, ...)
{
	const char *path = getenv("DAGY_OUTPUT");
	char *v = NULL, *p;
	va_list ap;
	FILE *f;
	int n;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	va_start(ap, fmt);
	n = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		for (p = v; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		fprintf(f, "%s=%s\n", key, v);
	}
	free(v);
	fclose(f);
}

char *
render(const char *tpl, json_t *ctx)
{
	size_t cap = strlen(tpl) + 64, len = 0;
	char *out = malloc(cap);
	const char *p = tpl;

#define PUT(s, n) do {                                                        \
		size_t n_ = (n);                                              \
		if (len + n_ + 1 > cap) {                                     \
			cap = (len + n_ + 1) * 2;                             \
			out = realloc(out, cap);                              \
		}                                                             \
		memcpy(out + len, (s), n_);                                   \
		len += n_;                                                    \
	} while (0)
	while (*p != '\0') {
		const char *open = strstr(p, "{{"), *close;
		char path[256];
		json_t *v;

		if (open == NULL || (close = strstr(open + 2, "}}")) == NULL) {
			PUT(p, strlen(p));
			break;
		}
		PUT(p, (size_t)(open - p));
		snprintf(path, sizeof(path), "%.*s", (int)(close - open - 2), open + 2);
		{
			char *s = path, *e = path + strlen(path);

			while (*s == ' ')
				s++;
			while (e > s && e[-1] == ' ')
				*--e = '\0';
			v = cond_path(ctx, s);
		}
		if (json_is_string(v)) {
			PUT(json_string_value(v), json_string_length(v));
		} else if (v != NULL && !json_is_null(v)) {
			char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			PUT(t, strlen(t));
			free(t);
		}
		p = close + 2;
	}
#undef PUT
	out[len] = '\0';
	return out;
}

#define RESP_MAX ((size_t)64 << 20)

static size_t
on_resp(char *p, size_t size, size_t n, void *arg)
{
	struct http_call *c = arg;
	size_t bytes = size * n;

	if (c->resp_len + bytes > RESP_MAX)
		return 0;
	c->resp = realloc(c->resp, c->resp_len + bytes + 1);
	memcpy(c->resp + c->resp_len, p, bytes);
	c->resp_len += bytes;
	c->resp[c->resp_len] = '\0';
	return bytes;
}

int
http_call(struct http_call *c)
{
	double backoff = 0.5;
	int attempt;

	for (attempt = 0; attempt <= c->retries; attempt++) {
		struct curl_slist *h = NULL;
		char auth[2048], errbuf[CURL_ERROR_SIZE] = "";
		curl_off_t after = -1;
		CURL *k = curl_easy_init();
		CURLcode rc;
		double wait;

		if (k == NULL)
			return -1;
		free(c->resp);
		c->resp = NULL;
		c->resp_len = 0;
		c->status = 0;
		c->attempts = attempt + 1;
		curl_easy_setopt(k, CURLOPT_URL, c->url);
		curl_easy_setopt(k, CURLOPT_TIMEOUT, c->timeout > 0 ? c->timeout : 60L);
		curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 30L);
		curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(k, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(k, CURLOPT_USERAGENT, "dagy-worker");
		curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_resp);
		curl_easy_setopt(k, CURLOPT_WRITEDATA, c);
		if (c->bearer != NULL && *c->bearer != '\0') {
			snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->bearer);
			h = curl_slist_append(h, auth);
		}
		if (c->body != NULL) {
			h = curl_slist_append(h, "Content-Type: application/json");
			curl_easy_setopt(k, CURLOPT_POSTFIELDS, c->body);
		}
		curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
		rc = curl_easy_perform(k);
		if (rc == CURLE_OK) {
			curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &c->status);
			curl_easy_getinfo(k, CURLINFO_RETRY_AFTER, &after);
		}
		curl_slist_free_all(h);
		curl_easy_cleanup(k);
		if (rc == CURLE_OK && c->status != 429 && c->status < 500)
			return 0;
		if (attempt == c->retries)
			break;
		/* curl reports 0 when there was no Retry-After. */
		wait = after > 0 ? (double)after : backoff;
		if (wait > 120)
			wait = 120;
		backoff *= 2;
		if (rc != CURLE_OK)
			fprintf(stderr, "[dagy] %s: %s; retrying in %.1f s\n", c->url,
			    *errbuf ? errbuf : curl_easy_strerror(rc), wait);
		else
			fprintf(stderr, "[dagy] %s answered %ld; retrying in %.1f s%s\n", c->url,
			    c->status, wait, after > 0 ? " (Retry-After)" : "");
		fflush(stderr);
		{
			struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
	}
	return c->status > 0 ? 0 : -1;
}
