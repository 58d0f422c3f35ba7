/* The sender: a thread with its own connection and keyring that claims
 * due deliveries from the outbox, sends each to its channel — Slack's
 * incoming-webhook JSON, a signed JSON webhook, an email over SMTP, a
 * PagerDuty Events API v2 event — and records every attempt, retrying
 * with exponential backoff. Claims expire, so a delivery a dead worker
 * had claimed is sent by another. A send is at-least-once: a worker that
 * dies between the receiver's answer and the record sends it again. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/db.h"
#include "dagy/log.h"
#include "dagy/notify.h"
#include "dagy/secrets.h"
#include "bgthread.h"
#include "worker.h"

#define CLAIM_LEASE 120 /* seconds a claimed delivery is this worker's */
#define CLAIM_BATCH 16

/* What one attempt came to. */
struct outcome {
	long code;      /* HTTP status or SMTP reply; 0 when none */
	char error[512];
};

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static CURL *
easy(struct bgthread *s, const char *url)
{
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)config_int(s->cfg, "notifications",
	    "timeout_seconds"));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	return c;
}

static void
perform(CURL *c, struct outcome *o)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &o->code);
	if (rc != CURLE_OK)
		snprintf(o->error, sizeof(o->error), "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
}

/* POSTs body as JSON with extra header lines; a 2xx answer delivers. */
static void
post_json(struct bgthread *s, const char *url, const char *body, struct curl_slist *hdrs,
    struct outcome *o)
{
	CURL *c = easy(s, url);

	if (c == NULL) {
		snprintf(o->error, sizeof(o->error), "out of memory");
		return;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	perform(c, o);
	if (o->error[0] == '\0' && (o->code < 200 || o->code > 299))
		snprintf(o->error, sizeof(o->error), "HTTP status %ld", o->code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static const char *
str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v != NULL ? v : "";
}

/* "Run run_x of flow etl failed" and the like. */
static void
summary(json_t *ev, char *out, size_t n)
{
	const char *type = str(ev, "type");

	if (strcmp(type, "test") == 0)
		snprintf(out, n, "Test notification from dagy (rule %s)", str(ev, "rule"));
	else
		snprintf(out, n, "Run %s of flow %s %s", str(ev, "run_id"), str(ev, "flow_name"),
		    strcmp(type, "run.failed") == 0 ? "failed" :
		    strcmp(type, "run.completed") == 0 ? "completed" :
		    strcmp(type, "run.sla_breach") == 0 ? "is past its SLA" :
		    strcmp(type, "run.retrying") == 0 ? "is retrying a step" :
		    strcmp(type, "run.resolved") == 0 ? "completed again" : type);
}

static const char *
run_link(struct bgthread *s, json_t *ev, char *buf, size_t n)
{
	const char *base = config_str(s->cfg, "notifications", "base_url");

	if (*base == '\0' || *str(ev, "run_id") == '\0')
		return NULL;
	snprintf(buf, n, "%s/#/runs/%s", base, str(ev, "run_id"));
	return buf;
}

/* The lines every human-readable alert carries: what happened, the flow
 * and run, status, duration, error and a link when there is one. */
static void
describe(struct bgthread *s, json_t *ev, const char *bold, char *out, size_t n)
{
	json_t *dur = json_object_get(ev, "duration_seconds");
	char head[512], link[600];
	const char *url = run_link(s, ev, link, sizeof(link));
	size_t len;

	summary(ev, head, sizeof(head));
	len = (size_t)snprintf(out, n, "%s%s%s", bold, head, bold);
	if (*str(ev, "run_id") != '\0' && len < n)
		len += (size_t)snprintf(out + len, n - len, "\nFlow: %s  Run: %s\nStatus: %s",
		    str(ev, "flow_name"), str(ev, "run_id"), str(ev, "status"));
	if (json_is_number(dur) && len < n)
		len += (size_t)snprintf(out + len, n - len, "  Duration: %.1f s",
		    json_number_value(dur));
	if (*str(ev, "error") != '\0' && len < n)
		len += (size_t)snprintf(out + len, n - len, "\nError: %s", str(ev, "error"));
	if (url != NULL && len < n)
		snprintf(out + len, n - len, "\nOpen the run: %s", url);
}

static void
send_slack(struct bgthread *s, json_t *cfg, json_t *sec, json_t *ev, struct outcome *o)
{
	char head[512], text[2048];
	json_t *msg;
	char *body;

	summary(ev, head, sizeof(head));
	describe(s, ev, "*", text, sizeof(text));
	msg = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}]}", "text", head, "blocks", "type",
	    "section", "text", "type", "mrkdwn", "text", text);
	if (json_object_get(cfg, "channel") != NULL)
		json_object_set(msg, "channel", json_object_get(cfg, "channel"));
	if (json_object_get(cfg, "username") != NULL)
		json_object_set(msg, "username", json_object_get(cfg, "username"));
	body = json_dumps(msg, JSON_COMPACT);
	post_json(s, str(sec, "webhook_url"), body, NULL, o);
	free(body);
	json_decref(msg);
}

/* The event, signed as Stripe signs: t=<unix time>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>">, so a receiver can check it and refuse old replays. */
static void
send_webhook(struct bgthread *s, json_t *sec, json_t *ev, const char *id, struct outcome *o)
{
	const char *secret = str(sec, "signing_secret"), *k;
	struct curl_slist *hdrs = NULL;
	json_t *v;
	char *body, *signed_text, line[600], hex[65];
	uint8_t mac[32];
	time_t t = time(NULL);

	json_object_set_new(ev, "event_id", json_string(id));
	body = json_dumps(ev, JSON_COMPACT);
	if (asprintf(&signed_text, "%lld.%s", (long long)t, body) < 0) {
		free(body);
		return;
	}
	crypto_hmac_sha256(secret, strlen(secret), signed_text, strlen(signed_text), mac);
	crypto_hex(mac, hex);
	free(signed_text);
	snprintf(line, sizeof(line), "Dagy-Signature: t=%lld,v1=%s", (long long)t, hex);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "Dagy-Event-Id: %s", id);
	hdrs = curl_slist_append(hdrs, line);
	json_object_foreach(json_object_get(sec, "headers"), k, v) {
		snprintf(line, sizeof(line), "%s: %s", k, json_string_value(v));
		hdrs = curl_slist_append(hdrs, line);
	}
	post_json(s, str(sec, "url"), body, hdrs, o);
	free(body);
}

struct mail {
	char *text;
	size_t len, off;
};

static size_t
mail_read(char *p, size_t size, size_t n, void *arg)
{
	struct mail *m = arg;
	size_t want = size * n, left = m->len - m->off;

	if (want > left)
		want = left;
	memcpy(p, m->text + m->off, want);
	m->off += want;
	return want;
}

/* text with every line ending CRLF, as SMTP wants (a bare LF is refused
 * by strict servers); malloc'd, NULL when out of memory. */
static char *
crlf(const char *text)
{
	size_t n = 0, i, k = 0;
	char *out;

	for (i = 0; text[i] != '\0'; i++)
		n += text[i] == '\n' && (i == 0 || text[i - 1] != '\r') ? 2 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			out[k++] = '\r';
		out[k++] = text[i];
	}
	out[k] = '\0';
	return out;
}

static void
send_email(struct bgthread *s, json_t *cfg, json_t *sec, json_t *ev, const char *id,
    struct outcome *o)
{
	const char *security = str(cfg, "security"), *host = str(cfg, "smtp_host");
	struct curl_slist *rcpt = NULL;
	struct mail m = {NULL, 0, 0};
	char url[400], subject[512], date[64], text[2048], *details, *body = NULL;
	char *tolist = NULL;
	json_t *to;
	size_t i;
	time_t now = time(NULL);
	struct tm tm;
	CURL *c;

	snprintf(url, sizeof(url), "%s://%s:%lld", strcmp(security, "tls") == 0 ? "smtps" : "smtp",
	    host, (long long)json_integer_value(json_object_get(cfg, "smtp_port")));
	if ((c = easy(s, url)) == NULL)
		return;
	summary(ev, subject, sizeof(subject));
	describe(s, ev, "", text, sizeof(text));
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	details = json_dumps(ev, JSON_INDENT(2));
	json_array_foreach(json_object_get(cfg, "to"), i, to) {
		char *more;

		rcpt = curl_slist_append(rcpt, json_string_value(to));
		if (asprintf(&more, "%s%s%s", tolist != NULL ? tolist : "", i > 0 ? ", " : "",
		    json_string_value(to)) < 0)
			more = NULL;
		free(tolist);
		tolist = more;
	}
	if (asprintf(&body, "%s\n\n%s\n", text, details != NULL ? details : "") < 0)
		body = NULL;
	m.text = body != NULL ? crlf(body) : NULL;
	free(body);
	body = m.text;
	if (body == NULL || asprintf(&m.text, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n"
	    "Subject: [dagy] %s\r\nMessage-ID: <%s@dagy>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n%s", date, str(cfg, "from"),
	    tolist != NULL ? tolist : "", subject, id, body) < 0)
		m.text = NULL;
	m.len = m.text != NULL ? strlen(m.text) : 0;
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, str(cfg, "from"));
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &m);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	if (strcmp(security, "starttls") == 0)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (*str(cfg, "username") != '\0') {
		curl_easy_setopt(c, CURLOPT_USERNAME, str(cfg, "username"));
		curl_easy_setopt(c, CURLOPT_PASSWORD, str(sec, "password"));
	}
	perform(c, o);
	if (o->error[0] == '\0' && (o->code < 200 || o->code > 299))
		snprintf(o->error, sizeof(o->error), "SMTP reply %ld", o->code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(m.text);
	free(body);
	free(tolist);
	free(details);
}

static void
send_pagerduty(struct bgthread *s, json_t *cfg, json_t *sec, json_t *ev, const char *kind,
    const char *id, struct outcome *o)
{
	const char *url = json_object_get(cfg, "events_url") != NULL ? str(cfg, "events_url") :
	    "https://events.pagerduty.com/v2/enqueue";
	char head[512], dedup[600], link[600];
	const char *runurl = run_link(s, ev, link, sizeof(link));
	json_t *msg;
	char *body;

	summary(ev, head, sizeof(head));
	/* One incident per rule and flow: a later success resolves it. */
	if (strcmp(kind, "test") == 0)
		snprintf(dedup, sizeof(dedup), "dagy/test/%s", id);
	else
		snprintf(dedup, sizeof(dedup), "dagy/%s/%s", str(ev, "rule_id"), str(ev, "flow_name"));
	msg = json_pack("{s:s, s:s, s:s}", "routing_key", str(sec, "routing_key"),
	    "event_action", strcmp(kind, "resolve") == 0 ? "resolve" : "trigger", "dedup_key",
	    dedup);
	if (strcmp(kind, "resolve") != 0)
		json_object_set_new(msg, "payload", json_pack("{s:s, s:s, s:s, s:O}", "summary",
		    head, "source", "dagy", "severity", str(cfg, "severity"), "custom_details", ev));
	if (runurl != NULL)
		json_object_set_new(msg, "links", json_pack("[{s:s, s:s}]", "href", runurl,
		    "text", "Open the run"));
	body = json_dumps(msg, JSON_COMPACT);
	post_json(s, url, body, NULL, o);
	free(body);
	json_decref(msg);
}

/* Sends one claimed delivery (a notify_claim row) and records it. */
static void
deliver(struct bgthread *s, const struct db_res *d, unsigned i)
{
	struct arena a = {0};
	struct outcome o = {0, ""};
	const char *type = db_val(d, i, NOTIFY_S_TYPE), *id = db_val(d, i, NOTIFY_S_ID);
	json_t *cfg = json_loads(db_val(d, i, NOTIFY_S_CONFIG), 0, NULL);
	json_t *ev = json_loads(db_val(d, i, NOTIFY_S_EVENT), 0, NULL), *sec = NULL;
	int attempt = (int)db_int(d, i, NOTIFY_S_ATTEMPTS) + 1;
	int max = (int)config_int(s->cfg, "notifications", "max_attempts");
	long backoff = (long)config_int(s->cfg, "notifications", "backoff_ms");
	struct timespec t0, t1;
	const char *outcome;
	char *plain = NULL;
	size_t n;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = db_val(d, i, NOTIFY_S_SEALED) == NULL ? SECRETS_EFORMAT :
	    secrets_open(s->keys, &a, db_int(d, i, NOTIFY_S_ORG), NOTIFY_SEAL_SCOPE,
	    db_val(d, i, NOTIFY_S_CHANNEL), db_val(d, i, NOTIFY_S_SEALED), &plain, &n);
	if (rc < 0 || (sec = json_loads(plain, 0, NULL)) == NULL || cfg == NULL || ev == NULL)
		snprintf(o.error, sizeof(o.error), "the channel's credentials cannot be opened "
		    "(%s)", rc == SECRETS_EKEY ? "sealed under a key the key file does not hold" :
		    "tampered with or moved");
	else if (strcmp(type, "slack") == 0)
		send_slack(s, cfg, sec, ev, &o);
	else if (strcmp(type, "webhook") == 0)
		send_webhook(s, sec, ev, id, &o);
	else if (strcmp(type, "email") == 0)
		send_email(s, cfg, sec, ev, id, &o);
	else
		send_pagerduty(s, cfg, sec, ev, db_val(d, i, NOTIFY_S_KIND), id, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	outcome = o.error[0] == '\0' ? "delivered" : attempt >= max ? "failed" : "pending";
	while (attempt > 1 && backoff < 3600000 && --attempt > 0)
		backoff *= 2;
	attempt = (int)db_int(d, i, NOTIFY_S_ATTEMPTS) + 1;
	if (notify_record(s->db, db_int(d, i, NOTIFY_S_DBID), attempt, o.code,
	    o.error[0] ? o.error : NULL, (long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000), outcome, backoff, s->name) < 0)
		log_warn("recording delivery %s failed: %s", id, db_errmsg(s->db));
	else if (strcmp(outcome, "delivered") == 0)
		log_info("delivery %s (%s) delivered", id, type);
	else
		log_warn("delivery %s (%s) attempt %d: %s%s", id, type, attempt, o.error,
		    strcmp(outcome, "failed") == 0 ? "; giving up" : "");
	json_decref(cfg);
	json_decref(ev);
	json_decref(sec);
	arena_free(&a);
}

int
deliver_pass(struct bgthread *s)
{
	struct arena a = {0};
	struct db_res *rows;
	int64_t due;
	unsigned i;
	int wait_ms = 5000;

	if (notify_claim(s->db, &a, s->name, CLAIM_LEASE, CLAIM_BATCH, &rows) == 0) {
		for (i = 0; i < rows->nrows && !bg_quitting(s); i++)
			deliver(s, rows, i);
		if (rows->nrows == CLAIM_BATCH)
			wait_ms = 0;
	}
	/* Sleep until the next one is due; new ones poke the thread. */
	if (wait_ms > 0 && (due = notify_next_due(s->db, &a)) >= 0 && due < wait_ms)
		wait_ms = (int)due + 1;
	arena_free(&a);
	return wait_ms;
}
