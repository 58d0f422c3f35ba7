/* /v1/sensors and the public POST /v1/webhooks/{token}: runs started by
 * events. A webhook fires through runs_api_trigger, as POST /v1/runs does
 * (same parameter checks, same audit), with its firing recorded in the
 * run's transaction so a redelivered event returns its first run. Polling
 * sensors are polled by dagy-worker (src/worker/sensors.c). Signing
 * secrets and polling headers are sealed by the secrets store. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/flows.h"
#include "dagy/ids.h"
#include "dagy/secrets.h"
#include "dagy/sensors.h"

static int sensor_create_h(struct req *r);
static int sensor_list_h(struct req *r);
static int sensor_get_h(struct req *r);
static int sensor_delete_h(struct req *r);
static int sensor_test_h(struct req *r);
static int sensor_firings_h(struct req *r);
static int webhook_h(struct req *r);

const struct route sensors_routes[] = {
	{"POST", "/v1/sensors", sensor_create_h, PERM_SENSORS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/sensors", sensor_list_h, PERM_SENSORS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/sensors/{sensor_id}", sensor_get_h, PERM_SENSORS_READ, 0, DIALECT_DAGY},
	{"DELETE", "/v1/sensors/{sensor_id}", sensor_delete_h, PERM_SENSORS_WRITE, 0, DIALECT_DAGY},
	{"POST", "/v1/sensors/{sensor_id}/test", sensor_test_h, PERM_SENSORS_WRITE, 0, DIALECT_DAGY},
	{"GET", "/v1/sensors/{sensor_id}/firings", sensor_firings_h, PERM_SENSORS_READ, 0,
	    DIALECT_DAGY},
	/* The body is read raw (a signature covers its exact bytes); the rate
	 * limit is per webhook token ([limits] webhook_requests). */
	{"POST", "/v1/webhooks/{token}", webhook_h, PERM_PUBLIC, ROUTE_LIMIT_TOKEN, DIALECT_DAGY},
};
const size_t sensors_routes_n = sizeof(sensors_routes) / sizeof(sensors_routes[0]);

#define TOKEN_PREFIX "wh_"

/* A header name: 1-64 letters, digits and '-'. */
static int
header_ok(const char *h)
{
	const char *p;

	if (h == NULL || *h == '\0' || strlen(h) > 64)
		return 0;
	for (p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
	return 1;
}

/* An optional string field of cfg that must be a header name; def when
 * absent. 0, or -1 after a 400. */
static int
header_field(struct req *r, json_t *cfg, const char *field, const char *def, json_t *shown)
{
	json_t *v = json_object_get(cfg, field);

	if (v == NULL) {
		if (def != NULL)
			json_object_set_new(shown, field, json_string(def));
		return 0;
	}
	if (!header_ok(json_string_value(v)))
		return api_invalid(r, arena_printf(&r->arena, "config_json.%s", field),
		    "must be a header name (letters, digits and '-')"), -1;
	json_object_set(shown, field, v);
	return 0;
}

/* An optional integer field from lo to hi, def when absent. */
static int
int_field(struct req *r, json_t *cfg, const char *field, long long lo, long long hi,
    long long def, json_t *shown)
{
	json_t *v = json_object_get(cfg, field);
	long long n = v == NULL ? def : json_is_integer(v) ? json_integer_value(v) : lo - 1;

	if (n < lo || n > hi)
		return api_invalid(r, arena_printf(&r->arena, "config_json.%s", field),
		    "must be a whole number from %lld to %lld", lo, hi), -1;
	json_object_set_new(shown, field, json_integer(n));
	return 0;
}

/* A webhook sensor's config_json: shown gets it with the signing secret
 * masked, secret the fields to seal. 0, or -1 after a 400. */
static int
check_webhook(struct req *r, json_t *cfg, json_t *shown, json_t *secret)
{
	long long max = r->srv->max_body;
	long long def = config_int(r->srv->cfg, "sensors", "webhook_max_body_bytes");
	json_t *v = json_object_get(cfg, "signing_secret"), *params;
	const char *scheme, *key, *k;

	if (v != NULL) {
		const char *s = json_string_value(v);

		if (s == NULL || strlen(s) < 16 || strlen(s) > 256)
			return api_invalid(r, "config_json.signing_secret",
			    "must be a string of 16 to 256 characters"), -1;
		json_object_set(secret, "signing_secret", v);
		json_object_set_new(shown, "signing_secret", json_string("***"));
	}
	v = json_object_get(cfg, "signature_scheme");
	scheme = v == NULL ? SENSORS_SCHEME_HMAC : json_string_value(v);
	if (scheme == NULL || (strcmp(scheme, SENSORS_SCHEME_HMAC) != 0 &&
	    strcmp(scheme, SENSORS_SCHEME_TIMESTAMPED) != 0))
		return api_invalid(r, "config_json.signature_scheme",
		    "must be " SENSORS_SCHEME_HMAC " or " SENSORS_SCHEME_TIMESTAMPED), -1;
	if (json_object_get(secret, "signing_secret") != NULL)
		json_object_set_new(shown, "signature_scheme", json_string(scheme));
	else if (v != NULL)
		return api_invalid(r, "config_json.signing_secret",
		    "is required with a signature_scheme"), -1;
	if (header_field(r, cfg, "signature_header",
	    json_object_get(secret, "signing_secret") == NULL ? NULL :
	    strcmp(scheme, SENSORS_SCHEME_HMAC) == 0 ? "X-Hub-Signature-256" : "Webhook-Signature",
	    shown) < 0 ||
	    header_field(r, cfg, "delivery_id_header", "Idempotency-Key", shown) < 0 ||
	    int_field(r, cfg, "tolerance_seconds", 1, 86400, 300, shown) < 0 ||
	    int_field(r, cfg, "max_body_bytes", 1, max, def < max ? def : max, shown) < 0)
		return -1;
	if ((params = json_object_get(cfg, "params")) != NULL) {
		if (!json_is_object(params))
			return api_invalid(r, "config_json.params",
			    "must map parameter names to JSON pointers into the body"), -1;
		json_object_foreach(params, key, v) {
			k = json_string_value(v);
			if (k == NULL || (*k != '\0' && *k != '/') || strlen(k) > 512)
				return api_invalid(r, "config_json.params", "'%s' must be a JSON "
				    "pointer such as /data/id", key), -1;
		}
		json_object_set(shown, "params", params);
	}
	json_object_foreach(cfg, key, v)
		if (json_object_get(shown, key) == NULL)
			return api_invalid(r, arena_printf(&r->arena, "config_json.%s", key),
			    "is not a webhook sensor setting"), -1;
	return 0;
}

/* A polling sensor's config_json, as check_webhook; *interval gets the
 * seconds between polls. */
static int
check_polling(struct req *r, json_t *cfg, json_t *shown, json_t *secret, int *interval)
{
	json_t *v = json_object_get(cfg, "url"), *cond, *hv;
	const char *s, *k;

	if (!api_url_ok(json_string_value(v)))
		return api_invalid(r, "config_json.url", "must be an http(s) URL"), -1;
	json_object_set(shown, "url", v);
	v = json_object_get(cfg, "method");
	s = v == NULL ? "GET" : json_string_value(v);
	if (s == NULL || (strcmp(s, "GET") != 0 && strcmp(s, "POST") != 0 &&
	    strcmp(s, "HEAD") != 0))
		return api_invalid(r, "config_json.method", "must be GET, POST or HEAD"), -1;
	json_object_set_new(shown, "method", json_string(s));
	if ((v = json_object_get(cfg, "headers")) != NULL) {
		json_t *masked;

		if (!json_is_object(v) || json_object_size(v) > 32)
			return api_invalid(r, "config_json.headers", "must be an object of at most "
			    "32 header names to values"), -1;
		json_object_foreach(v, k, hv)
			if (!header_ok(k) || !json_is_string(hv) ||
			    strlen(json_string_value(hv)) > 4096 ||
			    strpbrk(json_string_value(hv), "\r\n") != NULL)
				return api_invalid(r, "config_json.headers",
				    "must map header names to one-line string values"), -1;
		masked = json_object();
		json_object_foreach(v, k, hv)
			json_object_set_new(masked, k, json_string("***"));
		json_object_set(secret, "headers", v);
		json_object_set_new(shown, "headers", masked);
	}
	if (int_field(r, cfg, "interval_seconds", 10, 86400, 60, shown) < 0 ||
	    int_field(r, cfg, "timeout_seconds", 1, 60, 10, shown) < 0)
		return -1;
	*interval = (int)json_integer_value(json_object_get(shown, "interval_seconds"));
	cond = json_object_get(cfg, "condition");
	s = cond == NULL ? "hash_changed" : json_string_value(json_object_get(cond, "type"));
	if (cond != NULL && !json_is_object(cond))
		s = NULL;
	if (s != NULL && strcmp(s, "hash_changed") == 0) {
		json_object_set_new(shown, "condition", json_pack("{s:s}", "type", s));
	} else if (s != NULL && strcmp(s, "json_equals") == 0) {
		const char *p = json_string_value(json_object_get(cond, "pointer"));

		if (p == NULL || (*p != '\0' && *p != '/') || strlen(p) > 512)
			return api_invalid(r, "config_json.condition.pointer",
			    "must be a JSON pointer such as /status"), -1;
		if ((v = json_object_get(cond, "value")) == NULL)
			return api_invalid(r, "config_json.condition.value",
			    "is required: the value the pointer must equal"), -1;
		json_object_set_new(shown, "condition", json_pack("{s:s, s:s, s:O}", "type", s,
		    "pointer", p, "value", v));
	} else {
		return api_invalid(r, "config_json.condition.type",
		    "must be hash_changed or json_equals"), -1;
	}
	json_object_foreach(cfg, k, v)
		if (json_object_get(shown, k) == NULL)
			return api_invalid(r, arena_printf(&r->arena, "config_json.%s", k),
			    "is not a polling sensor setting"), -1;
	return 0;
}

/* An s3 sensor's config_json, as check_polling: bucket and prefix to
 * list, where the server is, and the credentials (sealed, shown masked). */
static int
check_s3(struct req *r, json_t *cfg, json_t *shown, json_t *secret, int *interval)
{
	static const char *const plain[] = {"bucket", "prefix", "region", "addressing"};
	static const char *const sealed[] = {"access_key", "secret_key"};
	json_t *v;
	const char *k, *s;
	size_t i;

	v = json_object_get(cfg, "endpoint");
	if (v != NULL && !api_url_ok(json_string_value(v)))
		return api_invalid(r, "config_json.endpoint", "must be an http(s) URL"), -1;
	json_object_set_new(shown, "endpoint", json_string(v != NULL ? json_string_value(v) :
	    "https://s3.amazonaws.com"));
	s = json_string_value(json_object_get(cfg, "bucket"));
	if (s == NULL || *s == '\0' || strlen(s) > 63 || strpbrk(s, "/ ") != NULL)
		return api_invalid(r, "config_json.bucket", "is required: a bucket name"), -1;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		v = json_object_get(cfg, plain[i]);
		if (v == NULL)
			continue;
		if (!json_is_string(v) || json_string_length(v) > 1024)
			return api_invalid(r, arena_printf(&r->arena, "config_json.%s", plain[i]),
			    "must be a string"), -1;
		json_object_set(shown, plain[i], v);
	}
	s = json_string_value(json_object_get(shown, "addressing"));
	if (s != NULL && strcmp(s, "auto") != 0 && strcmp(s, "path") != 0 &&
	    strcmp(s, "virtual") != 0)
		return api_invalid(r, "config_json.addressing", "must be auto, path or virtual"), -1;
	for (i = 0; i < sizeof(sealed) / sizeof(sealed[0]); i++) {
		v = json_object_get(cfg, sealed[i]);
		if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024)
			return api_invalid(r, arena_printf(&r->arena, "config_json.%s", sealed[i]),
			    "is required: a string"), -1;
		json_object_set(secret, sealed[i], v);
		json_object_set_new(shown, sealed[i], json_string("***"));
	}
	if (int_field(r, cfg, "interval_seconds", 10, 86400, 60, shown) < 0)
		return -1;
	*interval = (int)json_integer_value(json_object_get(shown, "interval_seconds"));
	json_object_foreach(cfg, k, v)
		if (json_object_get(shown, k) == NULL)
			return api_invalid(r, arena_printf(&r->arena, "config_json.%s", k),
			    "is not an s3 sensor setting"), -1;
	return 0;
}

/* Every parameter the sensor sets must be one the flow declares, so a
 * typo shows now rather than as a 400 to each event. names: an object
 * whose keys are parameter names. 0, or -1 after a 400 naming field. */
static int
check_declared(struct req *r, const char *spec_text, json_t *names, const char *field)
{
	json_t *spec = api_json_col(spec_text), *decl = json_object_get(spec, "params"), *v;
	const char *k;
	int rc = 0;

	json_object_foreach(names, k, v)
		if (json_object_get(decl, k) == NULL) {
			api_invalid(r, field, "the flow declares no parameter '%s'", k);
			rc = -1;
			break;
		}
	json_decref(spec);
	return rc;
}

static json_t *
sensor_json(const struct db_res *s, unsigned i, int full)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}",
	    "sensor_id", db_val(s, i, SENSORS_C_ID), "name", db_val(s, i, SENSORS_C_NAME),
	    "sensor_type", db_val(s, i, SENSORS_C_TYPE),
	    "flow_name", db_val(s, i, SENSORS_C_FLOW),
	    "enabled", db_int(s, i, SENSORS_C_ENABLED) != 0,
	    "created_at", db_val(s, i, SENSORS_C_CREATED));

	if (full) {
		json_object_set_new(o, "config_json", api_json_col(db_val(s, i, SENSORS_C_CONFIG)));
		json_object_set_new(o, "flow_params_json",
		    api_json_col(db_val(s, i, SENSORS_C_PARAMS)));
		if (strcmp(db_val(s, i, SENSORS_C_TYPE), "webhook") != 0) {
			json_object_set_new(o, "last_polled_at",
			    api_str_or_null(db_val(s, i, SENSORS_C_POLLED)));
			json_object_set_new(o, "last_poll_error",
			    api_str_or_null(db_val(s, i, SENSORS_C_POLL_ERROR)));
			json_object_set_new(o, "next_poll_at",
			    api_str_or_null(db_val(s, i, SENSORS_C_NEXT_POLL)));
		}
	}
	return o;
}

static int
sensor_create_h(struct req *r)
{
	const char *name, *type, *flow, *sealed = NULL, *secret_text;
	json_t *cfg = json_object_get(r->body_json, "config_json"), *params;
	json_t *enabled = json_object_get(r->body_json, "enabled"), *out;
	json_t *shown = NULL, *secret = NULL;
	char id[48], key_id[SECRETS_KEY_ID_MAX], token[64] = "", hash[65];
	struct sensor_new n;
	struct db_res *row, *v;
	int rc, interval = 0;

	if (req_str(r, "name", 1, 200, &name) < 0 ||
	    req_str(r, "sensor_type", 1, 16, &type) < 0 ||
	    req_name(r, "flow_name", 1, &flow) < 0 ||
	    req_json_field(r, "flow_params_json", 0, &params) < 0)
		return 0;
	if (*name == '\0')
		return api_invalid(r, "name", "must not be empty");
	if (strcmp(type, "webhook") != 0 && strcmp(type, "polling") != 0 &&
	    strcmp(type, "s3") != 0)
		return api_invalid(r, "sensor_type", "must be webhook, polling or s3");
	if (cfg != NULL && !json_is_object(cfg))
		return api_invalid(r, "config_json", "must be an object");
	if (enabled != NULL && !json_is_boolean(enabled))
		return api_invalid(r, "enabled", "must be true or false");
	if (params != NULL) {
		const char *k;
		json_t *pv;

		json_object_foreach(params, k, pv)
			if (json_is_object(pv) || json_is_array(pv))
				return api_invalid(r, "flow_params_json", "parameter '%s' must be a "
				    "string, number, boolean or null", k);
	}
	rc = flows_version(r->db, &r->arena, r->who.org_id, flow, NULL, &v);
	if (rc == FLOWS_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' not found", flow);
	if (rc < 0)
		return rc;
	shown = json_object();
	secret = json_object();
	cfg = cfg != NULL ? json_incref(cfg) : json_object();
	if (strcmp(type, "webhook") == 0)
		rc = check_webhook(r, cfg, shown, secret);
	else if (strcmp(type, "s3") == 0)
		rc = check_s3(r, cfg, shown, secret, &interval);
	else
		rc = check_polling(r, cfg, shown, secret, &interval);
	if (rc < 0 || (rc = check_declared(r, db_val(v, 0, FLOWS_V_SPEC), params,
	    "flow_params_json")) < 0 || (rc = check_declared(r, db_val(v, 0, FLOWS_V_SPEC),
	    json_object_get(shown, "params"), "config_json.params")) < 0)
		goto done;
	ids_new("sensor", id, sizeof(id));
	memset(&n, 0, sizeof(n));
	if (strcmp(type, "webhook") == 0) {
		uint8_t raw[32], sha[32];

		/* 256 random bits; only their hash is kept. */
		if (crypto_random(raw, sizeof(raw)) < 0) {
			rc = DB_ERR;
			goto done;
		}
		memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX));
		crypto_b64url(raw, sizeof(raw), token + strlen(TOKEN_PREFIX));
		crypto_sha256(token, strlen(token), sha);
		crypto_hex(sha, hash);
		n.token_hash = hash;
	}
	if (json_object_size(secret) > 0) {
		secret_text = api_json_text(r, secret);
		if ((rc = secrets_seal(r->srv->keys, &r->arena, r->who.org_id, SENSORS_SEAL_SCOPE,
		    id, secret_text, strlen(secret_text), &sealed)) < 0 ||
		    secrets_sealed_key(sealed, key_id) < 0) {
			rc = DB_ERR;
			goto done;
		}
		n.sealed = sealed;
		n.key_id = key_id;
	}
	n.public_id = id;
	n.name = name;
	n.type = type;
	n.flow = flow;
	n.config = api_json_text(r, shown);
	n.params = params != NULL ? api_json_text(r, params) : "{}";
	n.enabled = enabled == NULL || json_is_true(enabled);
	n.org_id = r->who.org_id;
	n.user_id = r->who.user_id;
	n.poll_interval = interval;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = sensors_create(r->db, &r->arena, &n, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "sensor.create", "sensor", id,
	    json_pack("{s:s, s:s, s:s}", "name", name, "sensor_type", type,
	    "flow_name", flow))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		goto done;
	out = sensor_json(row, 0, 1);
	/* The token is shown this once. */
	if (*token)
		json_object_set_new(out, "webhook_token", json_string(token));
	rc = api_json(r, 201, out);
done:
	json_decref(cfg);
	json_decref(shown);
	json_decref(secret);
	return rc < 0 && r->responded ? 0 : rc;
}

static json_t *
sensor_item(const struct db_res *rows, unsigned i)
{
	return sensor_json(rows, i, 0);
}

static int
sensor_list_h(struct req *r)
{
	return api_list_by_key(r, sensors_list, sensor_item, SENSORS_C_DBID);
}

/* The sensor named by the path, or -1 after answering 404. */
static int
load_sensor(struct req *r, struct db_res **row)
{
	const char *id = req_param(r, "sensor_id");
	int rc = sensors_get(r->db, &r->arena, r->who.org_id, id, row);

	if (rc == SENSORS_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "sensor '%s' not found", id), -1;
	return rc;
}

static int
sensor_get_h(struct req *r)
{
	struct db_res *row;
	int rc = load_sensor(r, &row);

	return rc < 0 ? (r->responded ? 0 : rc) : api_json(r, 200, sensor_json(row, 0, 1));
}

static int
sensor_delete_h(struct req *r)
{
	const char *id = req_param(r, "sensor_id");
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = sensors_delete(r->db, r->who.org_id, id)) == SENSORS_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "sensor '%s' not found", id);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "sensor.delete", "sensor", id,
	    NULL)) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

/* What a firing records, handed to runs_api_trigger's in_txn hook. */
struct firing {
	int64_t sensor_dbid;
	const char *source, *delivery_id, *detail;
};

static int
record_firing(struct req *r, const char *run_id, void *arg)
{
	const struct firing *f = arg;

	return sensors_fire(r->db, f->sensor_dbid, r->who.org_id, f->source, f->delivery_id,
	    run_id, f->detail);
}

/* Starts a run of the sensor's flow with params, recording the firing in
 * the run's transaction. 0 with *run_id; 1 after a 4xx; DB_EDUP when the
 * delivery already fired (rolled back); or a db_err. */
static int
fire(struct req *r, const struct db_res *s, json_t *params, struct firing *f,
    const char **run_id)
{
	struct run_trigger t;
	struct run_created run;
	int rc;

	memset(&t, 0, sizeof(t));
	t.flow = db_val(s, 0, SENSORS_C_FLOW);
	t.params = params;
	t.execute = 1;
	t.trigger = "sensor";
	t.in_txn = record_firing;
	t.in_txn_arg = f;
	f->sensor_dbid = db_int(s, 0, SENSORS_C_DBID);
	if ((rc = runs_api_trigger(r, &t, &run)) != 0) {
		if (rc == DB_EDUP)
			db_rollback(r->db);
		return rc;
	}
	json_decref(run.params);
	*run_id = run.id;
	return 0;
}

static int
sensor_test_h(struct req *r)
{
	struct firing f = {0, "test", NULL, NULL};
	struct db_res *row;
	const char *run_id;
	json_t *params, *detail;
	int rc;

	if ((rc = load_sensor(r, &row)) < 0)
		return r->responded ? 0 : rc;
	params = api_json_col(db_val(row, 0, SENSORS_C_PARAMS));
	detail = json_pack("{s:s}", "tested_by", r->who.email);
	f.detail = api_json_text(r, detail);
	json_decref(detail);
	rc = fire(r, row, json_is_object(params) ? params : NULL, &f, &run_id);
	json_decref(params);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, json_pack("{s:s, s:s, s:s}", "status", "success",
	    "message", "Test event triggered successfully", "run_id", run_id));
}

static int
sensor_firings_h(struct req *r)
{
	struct db_res *row, *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc;
	unsigned i;

	if ((rc = load_sensor(r, &row)) < 0)
		return r->responded ? 0 : rc;
	if (req_page(r, 20, 100, &limit, &after) < 0)
		return 0;
	rc = sensors_firings(r->db, &r->arena, db_int(row, 0, SENSORS_C_DBID),
	    (int64_t)json_integer_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++) {
		const char *detail = db_val(rows, i, SENSORS_F_DETAIL);

		json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:s, s:o, s:s}",
		    "firing_id", db_val(rows, i, SENSORS_F_ID),
		    "source", db_val(rows, i, SENSORS_F_SOURCE),
		    "delivery_id", api_str_or_null(db_val(rows, i, SENSORS_F_DELIVERY)),
		    "run_id", db_val(rows, i, SENSORS_F_RUN),
		    "detail", detail != NULL ? api_json_col(detail) : json_null(),
		    "created_at", db_val(rows, i, SENSORS_F_CREATED)));
	}
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[I]", (json_int_t)db_int(rows, limit - 1, SENSORS_F_DBID));
	return api_page(r, items, key);
}

/* A request header by its HTTP name. */
static const char *
header(struct req *r, const char *name)
{
	char *cgi, *p;

	if (name == NULL)
		return NULL;
	cgi = arena_printf(&r->arena, "HTTP_%s", name);
	for (p = cgi + 5; *p; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	return req_env(r, cgi);
}

/* Whether the request carries a valid signature of its body under
 * secret, in the sensor's scheme. */
static int
signature_ok(struct req *r, json_t *cfg, const char *secret)
{
	return sensors_signature_ok(json_string_value(json_object_get(cfg, "signature_scheme")),
	    header(r, json_string_value(json_object_get(cfg, "signature_header"))), secret,
	    r->body, r->body_len, time(NULL),
	    json_integer_value(json_object_get(cfg, "tolerance_seconds")));
}

static int
accepted(struct req *r, const char *run_id, int duplicate)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "run_id", run_id, "status", "queued",
	    "message", duplicate ? "Event already received; its run was started before" :
	    "Event received and flow triggered");

	if (duplicate)
		json_object_set_new(o, "duplicate", json_true());
	return api_json(r, 202, o);
}

static int
webhook_h(struct req *r)
{
	const char *token = req_param(r, "token"), *delivery, *run_id, *k;
	json_t *cfg = NULL, *sec = NULL, *body = NULL, *params = NULL, *map, *v;
	struct firing f = {0, "webhook", NULL, NULL};
	struct db_res *s;
	uint8_t sha[32];
	char hash[65];
	char *plain;
	size_t n;
	int rc = 0;

	crypto_sha256(token, strlen(token), sha);
	crypto_hex(sha, hash);
	rc = sensors_by_token(r->db, &r->arena, hash, &s);
	/* Unknown and disabled look the same from outside. */
	if (rc == SENSORS_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "webhook not found");
	if (rc < 0)
		return rc;
	cfg = api_json_col(db_val(s, 0, SENSORS_C_CONFIG));
	if ((long long)r->body_len > json_integer_value(json_object_get(cfg, "max_body_bytes"))) {
		rc = api_error(r, API_E_PAYLOAD_TOO_LARGE, NULL, "the body of %zu bytes is over "
		    "this webhook's limit of %lld bytes", r->body_len,
		    (long long)json_integer_value(json_object_get(cfg, "max_body_bytes")));
		goto done;
	}
	if (db_val(s, 0, SENSORS_C_SEALED) != NULL) {
		if ((rc = secrets_open(r->srv->keys, &r->arena, db_int(s, 0, SENSORS_C_ORG),
		    SENSORS_SEAL_SCOPE, db_val(s, 0, SENSORS_C_ID), db_val(s, 0, SENSORS_C_SEALED),
		    &plain, &n)) < 0 || (sec = json_loads(plain, 0, NULL)) == NULL) {
			rc = DB_ERR;
			goto done;
		}
		if ((k = json_string_value(json_object_get(sec, "signing_secret"))) != NULL &&
		    !signature_ok(r, cfg, k)) {
			rc = api_error(r, API_E_UNAUTHORIZED, NULL,
			    "missing or invalid signature");
			goto done;
		}
	}
	if (r->body_len == 0)
		body = json_object();
	else if ((body = json_loadb(r->body, r->body_len, JSON_DECODE_ANY |
	    JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		rc = api_invalid(r, "body", "must be JSON");
		goto done;
	}
	params = api_json_col(db_val(s, 0, SENSORS_C_PARAMS));
	if (!json_is_object(params)) {
		json_decref(params);
		params = json_object();
	}
	map = json_object_get(cfg, "params");
	json_object_foreach(map, k, v)
		if ((v = sensors_pointer(body, json_string_value(v))) != NULL)
			json_object_set(params, k, v);
	delivery = header(r, json_string_value(json_object_get(cfg, "delivery_id_header")));
	if (delivery != NULL && (*delivery == '\0' || strlen(delivery) > 200)) {
		rc = api_invalid(r, json_string_value(json_object_get(cfg, "delivery_id_header")),
		    "must be 1 to 200 characters");
		goto done;
	}
	/* The sensor acts for the organization, as the user who made it. */
	memset(&r->who, 0, sizeof(r->who));
	r->who.org_id = db_int(s, 0, SENSORS_C_ORG);
	r->who.user_id = db_val(s, 0, SENSORS_C_CREATOR) ? db_int(s, 0, SENSORS_C_CREATOR) : 0;
	r->who.email = arena_printf(&r->arena, "sensor:%s", db_val(s, 0, SENSORS_C_ID));
	r->who.ip = req_env(r, "REMOTE_ADDR");
	/* Its runs count against the org's plan, and a suspended org's
	 * webhooks start none, as its API calls would not. */
	r->who.org_public_id = db_val(s, 0, SENSORS_C_ORG_ID);
	r->who.plan = db_val(s, 0, SENSORS_C_ORG_PLAN);
	r->who.org_suspended = (int)db_int(s, 0, SENSORS_C_ORG_SUSPENDED);
	r->who.runs_blocked_after = (time_t)db_int(s, 0, SENSORS_C_ORG_BLOCKED);
	if (api_org_gate(r, 1, 1) < 0) {
		rc = 0;
		goto done;
	}
	f.delivery_id = delivery;
	if (delivery != NULL && (rc = sensors_delivered(r->db, &r->arena,
	    db_int(s, 0, SENSORS_C_DBID), delivery, &run_id)) != SENSORS_ENOTFOUND) {
		if (rc == 0)
			rc = accepted(r, run_id, 1);
		goto done;
	}
	v = json_pack("{s:o, s:I}", "remote_addr", api_str_or_null(r->who.ip),
	    "body_bytes", (json_int_t)r->body_len);
	f.detail = api_json_text(r, v);
	json_decref(v);
	rc = fire(r, s, params, &f, &run_id);
	/* The same delivery raced in on another connection and won. */
	if (rc == DB_EDUP && (rc = sensors_delivered(r->db, &r->arena,
	    db_int(s, 0, SENSORS_C_DBID), delivery, &run_id)) == 0) {
		rc = accepted(r, run_id, 1);
		goto done;
	}
	if (rc == 0)
		rc = accepted(r, run_id, 0);
	else if (rc > 0)
		rc = 0;
done:
	json_decref(cfg);
	json_decref(sec);
	json_decref(body);
	json_decref(params);
	return rc;
}
