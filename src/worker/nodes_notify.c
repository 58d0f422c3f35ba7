/* Notification nodes: slack_post (an incoming-webhook URL) and
 * pagerduty_event (Events API v2) over HTTP, retrying 429 and 5xx like
 * every other call (http_call); email_send over SMTP (libcurl).
 * webhook_post is in builtin.c. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodes.h"

static int
send_json(const char *url, json_t *body, long timeout, json_t **answer)
{
	struct http_call c;
	char *text = json_dumps(body, JSON_COMPACT);
	int rc = 1;

	memset(&c, 0, sizeof(c));
	c.url = url;
	c.body = text;
	c.timeout = timeout;
	c.retries = 3;
	if (http_call(&c) < 0) {
		fprintf(stderr, "%s: no answer\n", url);
	} else {
		out_kv("status_code", "%ld", c.status);
		if (c.status >= 200 && c.status < 300) {
			rc = 0;
			if (answer != NULL && c.resp != NULL)
				*answer = json_loadb(c.resp, c.resp_len, 0, NULL);
		} else {
			fprintf(stderr, "%s answered %ld: %.300s\n", url, c.status,
			    c.resp != NULL ? c.resp : "");
		}
	}
	free(text);
	free(c.resp);
	return rc;
}

static int
slack_post(json_t *job, json_t *config)
{
	json_t *body = json_pack("{s:O}", "text", json_object_get(config, "text")), *v;
	int rc;

	if ((v = json_object_get(config, "channel")) != NULL)
		json_object_set(body, "channel", v);
	if ((v = json_object_get(config, "username")) != NULL)
		json_object_set(body, "username", v);
	rc = send_json(json_string_value(json_object_get(config, "webhook_url")), body,
	    (long)json_integer_value(json_object_get(job, "timeout")), NULL);
	json_decref(body);
	return rc;
}

static int
pagerduty_event(json_t *job, json_t *config)
{
	const char *url = json_string_value(json_object_get(config, "url"));
	const char *action = json_string_value(json_object_get(config, "event_action"));
	const char *sev = json_string_value(json_object_get(config, "severity"));
	const char *src = json_string_value(json_object_get(config, "source"));
	json_t *body, *answer = NULL, *v;
	int rc;

	body = json_pack("{s:O, s:s, s:{s:O, s:s, s:s, s:{s:O, s:O, s:O}}}",
	    "routing_key", json_object_get(config, "routing_key"),
	    "event_action", action != NULL ? action : "trigger",
	    "payload", "summary", json_object_get(config, "summary"),
	    "severity", sev != NULL ? sev : "error",
	    "source", src != NULL ? src : "dagy",
	    "custom_details", "run_id", json_object_get(job, "run_id"),
	    "flow", json_object_get(job, "flow"), "step_id", json_object_get(job, "step_id"));
	if ((v = json_object_get(config, "dedup_key")) != NULL)
		json_object_set(body, "dedup_key", v);
	rc = send_json(url != NULL ? url : "https://events.pagerduty.com/v2/enqueue", body,
	    (long)json_integer_value(json_object_get(job, "timeout")), &answer);
	if (rc == 0 && json_is_string(json_object_get(answer, "dedup_key")))
		out_kv("dedup_key", "%s", json_string_value(json_object_get(answer, "dedup_key")));
	json_decref(answer);
	json_decref(body);
	return rc;
}

struct payload {
	const char *p;
	size_t left;
};

static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct payload *m = arg;
	size_t take = size * n < m->left ? size * n : m->left;

	memcpy(buf, m->p, take);
	m->p += take;
	m->left -= take;
	return take;
}

/* Appends s to *out with bare LFs as CRLF, and CR or LF dropped when
 * header is set (a header value may not start a new header). */
static void
put(char **out, size_t *len, const char *s, int header)
{
	size_t n = strlen(s), i;

	*out = realloc(*out, *len + 2 * n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '\r' || (header && s[i] == '\n'))
			continue;
		if (s[i] == '\n')
			(*out)[(*len)++] = '\r';
		(*out)[(*len)++] = s[i];
	}
	(*out)[*len] = '\0';
}

static int
email_send(json_t *job, json_t *config)
{
	json_t *ctx = json_pack("{s:O, s:O}", "params", json_object_get(job, "params"),
	    "upstream", json_object_get(job, "upstream")), *to;
	const char *from = json_string_value(json_object_get(config, "from"));
	const char *user = json_string_value(json_object_get(config, "username"));
	const char *pass = getenv("SMTP_PASSWORD");
	char *subject = render(json_string_value(json_object_get(config, "subject")), ctx);
	char *text = render(json_string_value(json_object_get(config, "text")), ctx);
	char *msg = NULL, date[64], addr[600], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = NULL;
	struct payload m;
	size_t len = 0, i;
	time_t now = time(NULL);
	struct tm tm;
	CURL *c;
	CURLcode rc;

	json_decref(ctx);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	put(&msg, &len, "Date: ", 0);
	put(&msg, &len, date, 1);
	put(&msg, &len, "\nFrom: ", 0);
	put(&msg, &len, from, 1);
	put(&msg, &len, "\nTo: ", 0);
	json_array_foreach(json_object_get(config, "to"), i, to) {
		put(&msg, &len, i > 0 ? ", " : "", 0);
		put(&msg, &len, json_string_value(to), 1);
		snprintf(addr, sizeof(addr), "<%s>", json_string_value(to));
		rcpt = curl_slist_append(rcpt, addr);
	}
	put(&msg, &len, "\nSubject: ", 0);
	put(&msg, &len, subject, 1);
	put(&msg, &len, "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n", 0);
	put(&msg, &len, text, 0);
	put(&msg, &len, "\n", 0);
	m.p = msg;
	m.left = len;
	snprintf(addr, sizeof(addr), "<%s>", from);
	if ((c = curl_easy_init()) == NULL)
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, json_string_value(json_object_get(config, "smtp_url")));
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	if (!json_is_false(json_object_get(config, "starttls")))
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (user != NULL)
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
	if (pass != NULL)
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &m);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)json_integer_value(json_object_get(job, "timeout")));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fprintf(stderr, "sending mail failed: %s\n", *errbuf ? errbuf : curl_easy_strerror(rc));
	else {
		out_kv("recipients", "%zu", json_array_size(json_object_get(config, "to")));
		printf("mail to %zu recipient(s) accepted\n", json_array_size(json_object_get(config, "to")));
	}
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(msg);
	free(subject);
	free(text);
	return rc == CURLE_OK ? 0 : 1;
}

int
nodes_notify(json_t *job)
{
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));

	if (strcmp(type, "slack_post") == 0)
		return slack_post(job, job_config(job));
	if (strcmp(type, "pagerduty_event") == 0)
		return pagerduty_event(job, job_config(job));
	if (strcmp(type, "email_send") == 0)
		return email_send(job, job_config(job));
	return 2;
}
