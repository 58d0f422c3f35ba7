/* The poller: a thread with its own connection and keyring that claims
 * due polling sensors (each slot once across workers: the claim advances
 * next_poll_at under FOR UPDATE SKIP LOCKED), fetches each one's URL with
 * libcurl and its timeouts, and starts a run when the sensor's condition
 * fires: the body's hash changed since the last poll, or a JSON pointer
 * came to equal a value. The executor loop never waits on a poll. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/db.h"
#include "dagy/flows.h"
#include "dagy/log.h"
#include "dagy/runs.h"
#include "dagy/s3.h"
#include "dagy/secrets.h"
#include "dagy/sensors.h"
#include "dagy/usage.h"
#include "dagy/wake.h"
#include "bgthread.h"
#include "worker.h"

#define CLAIM_BATCH 8

/* A response body, kept up to a limit. */
struct body {
	char *p;
	size_t n, max;
	int over;
};

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *q;

	if (b->n + len > b->max) {
		b->over = 1;
		return 0;
	}
	if ((q = realloc(b->p, b->n + len + 1)) == NULL)
		return 0;
	b->p = q;
	memcpy(b->p + b->n, p, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

/* value with every {{secrets.NAME}} replaced by the org's secret, in a;
 * NULL with err set when one does not resolve. */
static char *
expand(struct bgthread *p, struct arena *a, int64_t org, const char *value, char *err,
    size_t errlen)
{
	const char *s = value, *open;
	char *out = arena_strdup(a, "");

	while ((open = strstr(s, "{{secrets.")) != NULL) {
		const char *close = strstr(open, "}}");
		char *name, *secret;
		size_t n;

		if (close == NULL)
			break;
		name = arena_strndup(a, open + 10, (size_t)(close - open - 10));
		if (secrets_resolve(p->db, p->keys, a, org, NULL, name, &secret, &n) < 0) {
			snprintf(err, errlen, "header secret '%s' cannot be read", name);
			return NULL;
		}
		out = arena_printf(a, "%s%.*s%s", out, (int)(open - s), s, secret);
		s = close + 2;
	}
	return arena_printf(a, "%s%s", out, s);
}

/* Fetches the sensor's URL into b; 0, or -1 with err. */
static int
fetch(struct bgthread *p, struct arena *a, int64_t org, json_t *cfg, json_t *sec,
    struct body *b, char *err, size_t errlen)
{
	const char *method = json_string_value(json_object_get(cfg, "method")), *k;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURL *c;
	json_t *v;
	int rc = -1;

	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot start an HTTP request");
		return -1;
	}
	json_object_foreach(json_object_get(sec, "headers"), k, v) {
		char *val = expand(p, a, org, json_string_value(v), err, errlen);

		if (val == NULL)
			goto done;
		hdrs = curl_slist_append(hdrs, arena_printf(a, "%s: %s", k, val));
	}
	curl_easy_setopt(c, CURLOPT_URL, json_string_value(json_object_get(cfg, "url")));
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT,
	    (long)json_integer_value(json_object_get(cfg, "timeout_seconds")));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dagy-sensor");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (method != NULL && strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (method != NULL && strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	if (curl_easy_perform(c) != CURLE_OK) {
		if (b->over)
			snprintf(err, errlen, "the response is over %zu bytes", b->max);
		else
			snprintf(err, errlen, "%s", errbuf[0] ? errbuf : "the request failed");
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(err, errlen, "the server answered %ld", code);
		goto done;
	}
	rc = 0;
done:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

/* Compact JSON text of v (stolen) in a. */
static const char *
json_text(struct arena *a, json_t *v)
{
	char *dump = json_dumps(v, JSON_COMPACT);
	const char *text = arena_strdup(a, dump != NULL ? dump : "null");

	free(dump);
	json_decref(v);
	return text;
}

/* Params of a run: the flow's defaults under the sensor's own. */
static const char *
params_for(struct arena *a, const char *spec_text, const char *given_text)
{
	json_t *spec = json_loads(spec_text, 0, NULL), *out = json_object(), *v, *given;
	const char *key, *text;
	char *dump;

	json_object_foreach(json_object_get(spec, "params"), key, v)
		if (json_object_get(v, "default") != NULL)
			json_object_set(out, key, json_object_get(v, "default"));
	given = given_text != NULL ? json_loads(given_text, 0, NULL) : NULL;
	json_object_update(out, given);
	dump = json_dumps(out, JSON_COMPACT);
	text = arena_strdup(a, dump != NULL ? dump : "{}");
	free(dump);
	json_decref(given);
	json_decref(out);
	json_decref(spec);
	return text;
}

/* Starts the run of a firing and records it; the caller owns the
 * transaction. 1 (logged, nothing started) when the org is at a quota. */
static int
start_run(struct bgthread *p, struct arena *a, const struct db_res *s, unsigned i,
    const char *detail, const char *delivery, json_t *extra, const char **run_id)
{
	int64_t org = db_int(s, i, SENSORS_P_ORG);
	int64_t user = db_val(s, i, SENSORS_P_CREATOR) ? db_int(s, i, SENSORS_P_CREATOR) : 0;
	struct usage_refusal why;
	struct db_res *v;
	struct run_new n;
	const char *slug;
	int rc;

	if ((rc = usage_admit_org(p->db, a, p->cfg, org, &why)) != 0) {
		if (rc == 1)
			log_info("sensor %s: no run: quota %s reached (%lld of %lld)",
			    db_val(s, i, SENSORS_P_ID), why.quota, (long long)why.current,
			    (long long)why.limit);
		return rc;
	}
	if ((rc = flows_version(p->db, a, org, db_val(s, i, SENSORS_P_FLOW), NULL, &v)) < 0)
		return rc;
	memset(&n, 0, sizeof(n));
	n.org_id = org;
	n.flow_id = db_int(v, 0, FLOWS_V_FLOW_ID);
	n.version_id = db_int(v, 0, FLOWS_V_ID);
	n.user_id = user;
	n.flow_name = db_val(v, 0, FLOWS_V_NAME);
	n.status = "queued";
	n.trigger = "sensor";
	n.params = params_for(a, db_val(v, 0, FLOWS_V_SPEC), db_val(s, i, SENSORS_P_PARAMS));
	if (extra != NULL) {
		/* An s3 firing adds the object to the sensor's own parameters. */
		json_t *all = json_loads(n.params, 0, NULL);

		json_object_update(all, extra);
		n.params = json_text(a, all);
	}
	if ((rc = runs_create(p->db, a, &n, run_id, &slug)) < 0 ||
	    (rc = sensors_fire(p->db, db_int(s, i, SENSORS_P_DBID), org, "poll", delivery,
	    *run_id, detail)) < 0)
		return rc;
	return audit_write_as(p->db, org, user, arena_printf(a, "sensor:%s",
	    db_val(s, i, SENSORS_P_ID)), NULL, "run.trigger", "run", *run_id,
	    json_pack("{s:s, s:s, s:s}", "flow_name", n.flow_name, "flow_version",
	    db_val(v, 0, FLOWS_V_VERSION), "sensor_id", db_val(s, i, SENSORS_P_ID)));
}


/* An s3 sensor's poll: lists the bucket under the prefix and starts one
 * run per object (key and ETag) not fired for before. The firing's
 * delivery id is the SHA-256 of key and ETag, so a slot polled twice, or
 * by two workers, still starts one run per object. */
static void
poll_s3(struct bgthread *p, const struct db_res *s, unsigned i, json_t *cfg, json_t *sec,
    char *err, size_t errlen)
{
	const char *addr = json_string_value(json_object_get(cfg, "addressing"));
	const char *ep = json_string_value(json_object_get(cfg, "endpoint"));
	const char *bucket = json_string_value(json_object_get(cfg, "bucket"));
	const char *id = db_val(s, i, SENSORS_P_ID);
	struct s3_config sc = {.endpoint = ep, .bucket = bucket,
		.region = json_string_value(json_object_get(cfg, "region")),
		.access_key = json_string_value(json_object_get(sec, "access_key")),
		.secret_key = json_string_value(json_object_get(sec, "secret_key")),
		.timeout_seconds = 30, .retries = 2};
	struct s3_object *objs = NULL;
	struct s3 *c;
	size_t n = 0, k;
	int fired = 0;

	sc.path_style = addr != NULL && strcmp(addr, "virtual") == 0 ? 0 :
	    addr != NULL && strcmp(addr, "path") == 0 ? 1 : strstr(ep, "amazonaws.com") == NULL;
	if ((c = s3_new(&sc)) == NULL) {
		snprintf(err, errlen, "cannot set up the S3 client");
		return;
	}
	if (s3_list(c, json_string_value(json_object_get(cfg, "prefix")), &objs, &n) < 0) {
		snprintf(err, errlen, "listing s3://%s: %s", bucket, s3_error(c));
		goto done;
	}
	for (k = 0; k < n && fired < 100 && !bg_quitting(p); k++) {
		struct arena a = {0};
		const char *etag = objs[k].etag != NULL ? objs[k].etag : "";
		char *both = arena_printf(&a, "%s\n%s", objs[k].key, etag), hex[65];
		const char *run_id = NULL, *seen;
		json_t *extra;
		uint8_t sha[32];
		int rc;

		crypto_sha256(both, strlen(both), sha);
		crypto_hex(sha, hex);
		if (sensors_delivered(p->db, &a, db_int(s, i, SENSORS_P_DBID), hex, &seen) == 0) {
			arena_free(&a);
			continue;
		}
		extra = json_pack("{s:s, s:s, s:s}", "s3_bucket", bucket, "s3_key", objs[k].key,
		    "s3_etag", etag);
		if ((rc = db_begin(p->db)) == 0 &&
		    (rc = start_run(p, &a, s, i, json_text(&a, json_pack("{s:s, s:s, s:s, s:I}",
		    "bucket", bucket, "key", objs[k].key, "etag", etag, "size",
		    (json_int_t)objs[k].size)), hex, extra, &run_id)) == 0)
			rc = db_commit(p->db);
		json_decref(extra);
		if (rc == 1) {
			/* At a quota: the object fires on a later poll. */
			db_rollback(p->db);
			arena_free(&a);
			break;
		}
		if (rc < 0) {
			db_rollback(p->db);
			/* DB_EDUP: another poll fired for this object first. */
			if (rc != DB_EDUP)
				log_warn("sensor %s: starting a run for %s failed: %s", id,
				    objs[k].key, db_errmsg(p->db));
		} else {
			log_info("sensor %s fired for s3://%s/%s: run %s", id, bucket, objs[k].key,
			    run_id);
			fired++;
		}
		arena_free(&a);
	}
	if (fired > 0)
		wake_send(config_str(p->cfg, "worker", "wake_dir"), WAKE_RUNS);
done:
	s3_objects_free(objs, n);
	s3_free(c);
}

/* Polls one claimed sensor and fires it if its condition says so. */
static void
poll_one(struct bgthread *p, const struct db_res *s, unsigned i)
{
	struct arena a = {0};
	const char *id = db_val(s, i, SENSORS_P_ID), *old = db_val(s, i, SENSORS_P_STATE);
	const char *state = NULL, *run_id = NULL, *type, *detail = NULL;
	json_t *cfg = json_loads(db_val(s, i, SENSORS_P_CONFIG), 0, NULL), *sec = NULL;
	struct body b = {NULL, 0, (size_t)config_int(p->cfg, "sensors", "poll_max_body_bytes"), 0};
	char err[512] = "", hex[65];
	int fires = 0, rc;

	if (db_val(s, i, SENSORS_P_SEALED) != NULL) {
		char *plain;
		size_t n;

		if (secrets_open(p->keys, &a, db_int(s, i, SENSORS_P_ORG), SENSORS_SEAL_SCOPE, id,
		    db_val(s, i, SENSORS_P_SEALED), &plain, &n) < 0 ||
		    (sec = json_loads(plain, 0, NULL)) == NULL)
			snprintf(err, sizeof(err), "the sensor's headers cannot be opened");
	}
	if (err[0] == '\0' && strcmp(db_val(s, i, SENSORS_P_TYPE), "s3") == 0) {
		poll_s3(p, s, i, cfg, sec, err, sizeof(err));
		state = "listed";
	} else if (err[0] == '\0' && fetch(p, &a, db_int(s, i, SENSORS_P_ORG), cfg, sec, &b,
	    err, sizeof(err)) == 0) {
		type = json_string_value(json_object_get(json_object_get(cfg, "condition"), "type"));
		if (type != NULL && strcmp(type, "json_equals") == 0) {
			json_t *cond = json_object_get(cfg, "condition");
			json_t *doc = b.p != NULL ? json_loadb(b.p, b.n, JSON_DECODE_ANY, NULL) : NULL;
			json_t *got = sensors_pointer(doc, json_string_value(json_object_get(cond,
			    "pointer")));
			int match = got != NULL && json_equal(got, json_object_get(cond, "value"));

			/* It fires when the condition comes to hold, not while it holds. */
			state = match ? "1" : "0";
			fires = match && (old == NULL || strcmp(old, "1") != 0);
			detail = json_text(&a, json_pack("{s:s, s:O}", "condition",
			    "json_equals", "value", got != NULL ? got : json_null()));
			json_decref(doc);
		} else {
			uint8_t sha[32];

			crypto_sha256(b.p != NULL ? b.p : "", b.n, sha);
			crypto_hex(sha, hex);
			state = hex;
			/* The first poll only learns what the body is. */
			fires = old != NULL && strcmp(old, hex) != 0;
			detail = json_text(&a, json_pack("{s:s, s:s, s:s}", "condition",
			    "hash_changed", "previous_sha256", old != NULL ? old : "", "sha256", hex));
		}
	}
	if ((rc = db_begin(p->db)) < 0)
		goto fail;
	if ((rc = sensors_poll_record(p->db, db_int(s, i, SENSORS_P_DBID), old, state,
	    err[0] ? err : NULL)) < 0)
		goto fail;
	if (rc == 1 && fires && (rc = start_run(p, &a, s, i, detail, NULL, NULL, &run_id)) != 0) {
		/* At a quota, the change stays unseen, to fire on a later poll. */
		if (rc < 0)
			goto fail;
		db_rollback(p->db);
		goto done;
	}
	if ((rc = db_commit(p->db)) < 0)
		goto fail;
	if (err[0])
		log_warn("sensor %s: poll failed: %s", id, err);
	if (run_id != NULL) {
		log_info("sensor %s fired: run %s", id, run_id);
		wake_send(config_str(p->cfg, "worker", "wake_dir"), WAKE_RUNS);
	}
	goto done;
fail:
	db_rollback(p->db);
	log_warn("sensor %s: recording its poll failed: %s", id, db_errmsg(p->db));
done:
	free(b.p);
	json_decref(cfg);
	json_decref(sec);
	arena_free(&a);
}

int
sensors_pass(struct bgthread *p)
{
	struct arena a = {0};
	struct db_res *rows;
	int64_t due;
	unsigned i;
	int wait_ms = 5000;

	if (sensors_poll_claim(p->db, &a, CLAIM_BATCH, &rows) == 0) {
		for (i = 0; i < rows->nrows && !bg_quitting(p); i++)
			poll_one(p, rows, i);
		if (rows->nrows == CLAIM_BATCH)
			wait_ms = 0;
	}
	/* New sensors are seen within the 5 s fallback. */
	if (wait_ms > 0 && (due = sensors_poll_next(p->db, &a)) >= 0 && due < wait_ms)
		wait_ms = (int)due + 1;
	arena_free(&a);
	return wait_ms;
}
