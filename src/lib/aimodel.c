/* Chat completions over libcurl, whole or streamed; see aimodel.h. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dagy/aimodel.h"

struct call {
	const struct aimodel_req *q;
	char *body;          /* the raw answer (whole mode) or unparsed stream tail */
	size_t len, cap;
	char *content;       /* streamed content so far */
	size_t clen, ccap;
	long tokens;
	int aborted, bad;
	time_t last_idle;
};

static int
grow(char **p, size_t *cap, size_t need)
{
	char *n;
	size_t c = *cap ? *cap : 4096;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((n = realloc(*p, c)) == NULL)
		return -1;
	*p = n;
	*cap = c;
	return 0;
}

static int
append(char **p, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (grow(p, cap, *len + n + 1) < 0)
		return -1;
	memcpy(*p + *len, s, n);
	*len += n;
	(*p)[*len] = '\0';
	return 0;
}

/* One "data: {...}" line of the model's stream. */
static void
stream_line(struct call *c, const char *line, size_t n)
{
	json_t *ev, *delta, *u;
	const char *text;

	if (n < 5 || strncmp(line, "data:", 5) != 0)
		return;
	line += 5;
	n -= 5;
	while (n > 0 && *line == ' ')
		line++, n--;
	if (n >= 6 && strncmp(line, "[DONE]", 6) == 0)
		return;
	if ((ev = json_loadb(line, n, 0, NULL)) == NULL) {
		c->bad = 1;
		return;
	}
	delta = json_object_get(json_array_get(json_object_get(ev, "choices"), 0), "delta");
	text = json_string_value(json_object_get(delta, "content"));
	if (text != NULL && *text != '\0') {
		size_t tl = strlen(text);

		if (append(&c->content, &c->clen, &c->ccap, text, tl) < 0)
			c->bad = 1;
		else if (c->q->on_delta(c->q->arg, text, tl) != 0)
			c->aborted = 1;
	}
	if ((u = json_object_get(ev, "usage")) != NULL)
		c->tokens = (long)json_integer_value(json_object_get(u, "total_tokens"));
	json_decref(ev);
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct call *c = arg;
	size_t n = size * nmemb, start = 0, i;

	if (append(&c->body, &c->len, &c->cap, data, n) < 0)
		return 0;
	if (c->q->on_delta == NULL)
		return n;
	for (i = 0; i < c->len; i++)
		if (c->body[i] == '\n') {
			size_t e = i;

			if (e > start && c->body[e - 1] == '\r')
				e--;
			stream_line(c, c->body + start, e - start);
			start = i + 1;
			if (c->aborted)
				return 0;
		}
	memmove(c->body, c->body + start, c->len - start);
	c->len -= start;
	c->body[c->len] = '\0';
	return n;
}

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct call *c = arg;
	time_t now = time(NULL);

	(void)dt, (void)dn, (void)ut, (void)un;
	if (c->q->on_idle == NULL || now == c->last_idle)
		return 0;
	c->last_idle = now;
	if (c->q->on_idle(c->q->arg) != 0) {
		c->aborted = 1;
		return 1;
	}
	return 0;
}

int
aimodel_chat(const struct aimodel_req *q, char **content, long *tokens,
    char *err, size_t errlen)
{
	struct call c;
	CURL *h = NULL;
	struct curl_slist *hdr = NULL;
	json_t *req = NULL, *resp = NULL;
	char *payload = NULL, url[1200], auth[1100];
	size_t bl = strlen(q->base_url);
	long status = 0;
	CURLcode cc;
	int rc = AIMODEL_EHTTP;

	memset(&c, 0, sizeof(c));
	c.q = q;
	c.last_idle = time(NULL);
	*content = NULL;
	*tokens = 0;
	snprintf(url, sizeof(url), "%.*s/chat/completions",
	    (int)(bl > 0 && q->base_url[bl - 1] == '/' ? bl - 1 : bl), q->base_url);
	req = json_pack("{s:s, s:O, s:b}", "model", q->model, "messages", q->messages,
	    "stream", q->on_delta != NULL);
	if (q->json_mode)
		json_object_set_new(req, "response_format", json_pack("{s:s}", "type", "json_object"));
	payload = json_dumps(req, JSON_COMPACT);
	if ((h = curl_easy_init()) == NULL || payload == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (q->on_delta != NULL)
		hdr = curl_slist_append(hdr, "Accept: text/event-stream");
	if (q->key != NULL && *q->key != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", q->key);
		hdr = curl_slist_append(hdr, auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, q->timeout_seconds);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (c.aborted) {
		snprintf(err, errlen, "stopped: the client went away");
		rc = AIMODEL_EABORT;
		goto fail;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "the model endpoint did not answer: %s",
		    curl_easy_strerror(cc));
		goto fail;
	}
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "the model endpoint answered HTTP %ld", status);
		goto fail;
	}
	rc = AIMODEL_EPROTO;
	if (q->on_delta != NULL) {
		if (c.len > 0)
			stream_line(&c, c.body, c.len);
		if (c.bad || c.content == NULL) {
			snprintf(err, errlen, "the model's stream held no content");
			goto fail;
		}
		*content = c.content;
		c.content = NULL;
		*tokens = c.tokens;
	} else {
		const char *text;

		resp = c.body != NULL ? json_loadb(c.body, c.len, 0, NULL) : NULL;
		text = json_string_value(json_object_get(json_object_get(json_array_get(
		    json_object_get(resp, "choices"), 0), "message"), "content"));
		if (text == NULL) {
			snprintf(err, errlen, "the model's answer held no message content");
			goto fail;
		}
		if ((*content = strdup(text)) == NULL)
			goto fail;
		*tokens = (long)json_integer_value(json_object_get(
		    json_object_get(resp, "usage"), "total_tokens"));
	}
	rc = 0;
fail:
	json_decref(resp);
	json_decref(req);
	free(payload);
	free(c.body);
	free(c.content);
	curl_slist_free_all(hdr);
	if (h != NULL)
		curl_easy_cleanup(h);
	return rc;
}
