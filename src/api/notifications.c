/* /v1/channels and /v1/alert-rules: where alerts go and when they fire.
 * A channel's secret fields (URLs that carry tokens, headers, signing
 * secrets, SMTP passwords, routing keys) are sealed by the secrets store
 * and only shown masked. Nothing here sends anything: deliveries are rows
 * the worker sends, so an API request never waits on a third party. */
#include <ctype.h>
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/crypto.h"
#include "dagy/ids.h"
#include "dagy/notify.h"
#include "dagy/secrets.h"
#include "dagy/wake.h"
#include "dagy/config.h"

static int channel_create_h(struct req *r);
static int channel_list_h(struct req *r);
static int channel_get_h(struct req *r);
static int channel_delete_h(struct req *r);
static int rule_create_h(struct req *r);
static int rule_list_h(struct req *r);
static int rule_get_h(struct req *r);
static int rule_delete_h(struct req *r);
static int rule_test_h(struct req *r);
static int rule_deliveries_h(struct req *r);

const struct route notifications_routes[] = {
	{"POST", "/v1/channels", channel_create_h, PERM_NOTIFICATIONS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/channels", channel_list_h, PERM_NOTIFICATIONS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/channels/{channel_id}", channel_get_h, PERM_NOTIFICATIONS_READ, 0, DIALECT_DAGY},
	{"DELETE", "/v1/channels/{channel_id}", channel_delete_h, PERM_NOTIFICATIONS_WRITE, 0, DIALECT_DAGY},
	{"POST", "/v1/alert-rules", rule_create_h, PERM_NOTIFICATIONS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/alert-rules", rule_list_h, PERM_NOTIFICATIONS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/alert-rules/{rule_id}", rule_get_h, PERM_NOTIFICATIONS_READ, 0, DIALECT_DAGY},
	{"DELETE", "/v1/alert-rules/{rule_id}", rule_delete_h, PERM_NOTIFICATIONS_WRITE, 0, DIALECT_DAGY},
	{"POST", "/v1/alert-rules/{rule_id}/test", rule_test_h, PERM_NOTIFICATIONS_WRITE, 0, DIALECT_DAGY},
	{"GET", "/v1/alert-rules/{rule_id}/deliveries", rule_deliveries_h, PERM_NOTIFICATIONS_READ, 0, DIALECT_DAGY},
};
const size_t notifications_routes_n = sizeof(notifications_routes) / sizeof(notifications_routes[0]);

static const char *const channel_types[] = {"slack", "email", "webhook", "pagerduty"};
static const char *const triggers[] = {"on_failure", "on_success", "on_sla_breach", "on_retry"};

static int
one_of(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* user@domain.tld, without blanks, angle brackets or line breaks. */
static int
address_ok(const char *s)
{
	const char *at, *p;

	if (s == NULL || strlen(s) > 254 || (at = strchr(s, '@')) == NULL || at == s ||
	    strchr(at + 1, '@') != NULL || strchr(at + 1, '.') == NULL || at[1] == '.')
		return 0;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("<>()[],;:\\\"", *p) != NULL)
			return 0;
	return 1;
}

/* The scheme and host, then a masked path: enough to tell channels apart,
 * nothing of the token. */
static json_t *
mask_url(const char *u)
{
	const char *host = strstr(u, "://") + 3, *end = host + strcspn(host, "/?#");
	char buf[300];

	snprintf(buf, sizeof(buf), "%.*s/***", (int)(end - u) < 280 ? (int)(end - u) : 280, u);
	return json_string(buf);
}

/* Splits and checks a channel's config_json by type: shown gets what may
 * be shown (secrets masked), secret gets the fields to seal. Answers 400
 * itself (-1) naming the field. */
static int
check_config(struct req *r, const char *type, json_t *cfg, json_t *shown, json_t *secret)
{
	const char *s;
	json_t *v;

#define FIELD(name) (v = json_object_get(cfg, name), s = json_string_value(v))
#define BAD(name, ...) return api_invalid(r, "config_json." name, __VA_ARGS__), -1
	if (strcmp(type, "slack") == 0) {
		if (!api_url_ok(FIELD("webhook_url")))
			BAD("webhook_url", "must be the http(s) URL of a Slack incoming webhook");
		json_object_set(secret, "webhook_url", v);
		json_object_set_new(shown, "webhook_url", mask_url(s));
		if (FIELD("channel") != NULL || v != NULL) {
			if (s == NULL || strlen(s) > 80)
				BAD("channel", "must be a channel name such as #alerts");
			json_object_set(shown, "channel", v);
		}
		if (FIELD("username") != NULL || v != NULL) {
			if (s == NULL || strlen(s) > 80)
				BAD("username", "must be a string of at most 80 characters");
			json_object_set(shown, "username", v);
		}
	} else if (strcmp(type, "webhook") == 0) {
		if (!api_url_ok(FIELD("url")))
			BAD("url", "must be an http(s) URL");
		json_object_set(secret, "url", v);
		json_object_set_new(shown, "url", mask_url(s));
		if ((v = json_object_get(cfg, "headers")) != NULL) {
			const char *k;
			json_t *hv, *masked = json_object();

			if (!json_is_object(v))
				BAD("headers", "must be an object of header names to values");
			json_object_foreach(v, k, hv) {
				const char *p;

				for (p = k; *p && (isalnum((unsigned char)*p) || *p == '-'); p++)
					;
				if (*k == '\0' || *p != '\0' || !json_is_string(hv) ||
				    strpbrk(json_string_value(hv), "\r\n") != NULL) {
					json_decref(masked);
					BAD("headers", "must map header names to one-line string values");
				}
				json_object_set_new(masked, k, json_string("***"));
			}
			json_object_set(secret, "headers", v);
			json_object_set_new(shown, "headers", masked);
		}
		if (FIELD("signing_secret") != NULL || v != NULL) {
			if (s == NULL || strlen(s) < 16 || strlen(s) > 256)
				BAD("signing_secret", "must be a string of 16 to 256 characters");
			json_object_set(secret, "signing_secret", v);
		} else {
			uint8_t raw[32];
			char hex[65];

			/* None given: one is made, and shown once in the answer. */
			if (crypto_random(raw, sizeof(raw)) < 0)
				return DB_ERR;
			crypto_hex(raw, hex);
			json_object_set_new(secret, "signing_secret", json_pack("s+", "whsec_", hex));
		}
		json_object_set_new(shown, "signing_secret", json_string("***"));
	} else if (strcmp(type, "email") == 0) {
		long long port;

		/* A name or an address: it becomes the host of an smtp:// URL,
		 * where '@', ':' or '/' would change what curl connects to. */
		if (FIELD("smtp_host") == NULL || *s == '\0' || strlen(s) > 253 ||
		    s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")]
		    != '\0' || *s == '-' || *s == '.')
			BAD("smtp_host", "must be the SMTP server's host name");
		json_object_set(shown, "smtp_host", v);
		v = json_object_get(cfg, "smtp_port");
		port = v == NULL ? 587 : json_is_integer(v) ? json_integer_value(v) : -1;
		if (port < 1 || port > 65535)
			BAD("smtp_port", "must be a port number");
		json_object_set_new(shown, "smtp_port", json_integer(port));
		if (FIELD("security") == NULL && v == NULL)
			s = "starttls";
		if (s == NULL || (strcmp(s, "starttls") != 0 && strcmp(s, "tls") != 0 &&
		    strcmp(s, "none") != 0))
			BAD("security", "must be starttls, tls or none");
		json_object_set_new(shown, "security", json_string(s));
		if (FIELD("username") != NULL || v != NULL) {
			if (s == NULL || strlen(s) > 256)
				BAD("username", "must be a string");
			json_object_set(shown, "username", v);
		}
		if (FIELD("password") != NULL || v != NULL) {
			if (s == NULL || strlen(s) > 1024)
				BAD("password", "must be a string");
			json_object_set(secret, "password", v);
			json_object_set_new(shown, "password", json_string("***"));
		}
		if (!address_ok(FIELD("from")))
			BAD("from", "must be an email address");
		json_object_set(shown, "from", v);
		v = json_object_get(cfg, "to");
		if (json_is_string(v))
			v = json_pack("[O]", v);
		else
			json_incref(v);
		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 50) {
			json_decref(v);
			BAD("to", "must be an address or a list of 1 to 50 addresses");
		}
		{
			size_t i;
			json_t *a;

			json_array_foreach(v, i, a)
				if (!address_ok(json_string_value(a))) {
					json_decref(v);
					BAD("to", "must hold email addresses only");
				}
		}
		json_object_set_new(shown, "to", v);
	} else {
		if (FIELD("routing_key") == NULL || *s == '\0' || strlen(s) > 128)
			BAD("routing_key", "must be the PagerDuty integration's routing key");
		json_object_set(secret, "routing_key", v);
		json_object_set_new(shown, "routing_key", json_string("***"));
		if (FIELD("severity") == NULL && v == NULL)
			s = "error";
		if (s == NULL || (strcmp(s, "critical") != 0 && strcmp(s, "error") != 0 &&
		    strcmp(s, "warning") != 0 && strcmp(s, "info") != 0))
			BAD("severity", "must be critical, error, warning or info");
		json_object_set_new(shown, "severity", json_string(s));
		if (FIELD("events_url") != NULL || v != NULL) {
			if (!api_url_ok(s))
				BAD("events_url", "must be an http(s) URL");
			json_object_set(shown, "events_url", v);
		}
	}
#undef FIELD
#undef BAD
	return 0;
}

static json_t *
channel_json(const struct db_res *c, unsigned i, int full)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s}",
	    "channel_id", db_val(c, i, NOTIFY_C_ID), "name", db_val(c, i, NOTIFY_C_NAME),
	    "channel_type", db_val(c, i, NOTIFY_C_TYPE),
	    "enabled", db_int(c, i, NOTIFY_C_ENABLED) != 0,
	    "created_at", db_val(c, i, NOTIFY_C_CREATED));

	if (full)
		json_object_set_new(o, "config_json", api_json_col(db_val(c, i, NOTIFY_C_CONFIG)));
	return o;
}

static int
channel_create_h(struct req *r)
{
	const char *name, *type, *sealed = NULL, *shown_text, *secret_text;
	json_t *cfg, *enabled = json_object_get(r->body_json, "enabled"), *out;
	json_t *shown = NULL, *secret = NULL;
	char id[48], key_id[SECRETS_KEY_ID_MAX];
	struct db_res *row;
	int rc;

	if (req_str(r, "name", 1, 200, &name) < 0 || req_str(r, "channel_type", 1, 16, &type) < 0)
		return 0;
	if (*name == '\0')
		return api_invalid(r, "name", "must not be empty");
	if (!one_of(type, channel_types, 4))
		return api_invalid(r, "channel_type", "must be slack, email, webhook or pagerduty");
	if ((cfg = json_object_get(r->body_json, "config_json")) == NULL || !json_is_object(cfg))
		return api_invalid(r, "config_json", "must be an object");
	if (enabled != NULL && !json_is_boolean(enabled))
		return api_invalid(r, "enabled", "must be true or false");
	shown = json_object();
	secret = json_object();
	if ((rc = check_config(r, type, cfg, shown, secret)) < 0)
		goto done;
	ids_new("channel", id, sizeof(id));
	shown_text = api_json_text(r, shown);
	secret_text = api_json_text(r, secret);
	if ((rc = secrets_seal(r->srv->keys, &r->arena, r->who.org_id, NOTIFY_SEAL_SCOPE, id,
	    secret_text, strlen(secret_text), &sealed)) < 0 ||
	    secrets_sealed_key(sealed, key_id) < 0) {
		rc = DB_ERR;
		goto done;
	}
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = notify_channel_create(r->db, &r->arena, r->who.org_id, id, name, type,
	    shown_text, sealed, key_id, enabled == NULL || json_is_true(enabled), &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "channel.create", "channel", id,
	    json_pack("{s:s, s:s}", "name", name, "channel_type", type))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		goto done;
	out = channel_json(row, 0, 0);
	/* A signing secret dagy made is shown this once. */
	if (strcmp(type, "webhook") == 0 && json_object_get(cfg, "signing_secret") == NULL)
		json_object_set(out, "signing_secret", json_object_get(secret, "signing_secret"));
	rc = api_json(r, 201, out);
done:
	json_decref(shown);
	json_decref(secret);
	return rc < 0 && r->responded ? 0 : rc;
}

static json_t *
channel_item(const struct db_res *rows, unsigned i)
{
	return channel_json(rows, i, 0);
}

static int
channel_list_h(struct req *r)
{
	return api_list_by_key(r, notify_channel_list, channel_item, NOTIFY_C_DBID);
}

static int
channel_get_h(struct req *r)
{
	const char *id = req_param(r, "channel_id");
	struct db_res *row;
	int rc = notify_channel_get(r->db, &r->arena, r->who.org_id, id, &row);

	if (rc == NOTIFY_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "channel '%s' not found", id);
	return rc < 0 ? rc : api_json(r, 200, channel_json(row, 0, 1));
}

static int
channel_delete_h(struct req *r)
{
	const char *id = req_param(r, "channel_id");
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = notify_channel_delete(r->db, r->who.org_id, id)) == NOTIFY_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "channel '%s' not found", id);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "channel.delete", "channel", id,
	    NULL)) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

static json_t *
rule_json(const struct db_res *ar, unsigned i)
{
	const char *sla = db_val(ar, i, NOTIFY_R_SLA), *ch = db_val(ar, i, NOTIFY_R_CHANNELS);

	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:s}",
	    "rule_id", db_val(ar, i, NOTIFY_R_ID), "name", db_val(ar, i, NOTIFY_R_NAME),
	    "trigger", db_val(ar, i, NOTIFY_R_TRIGGER),
	    "flow_name", api_str_or_null(db_val(ar, i, NOTIFY_R_FLOW)),
	    "channel_ids", ch != NULL ? api_json_col(ch) : json_array(),
	    "sla_seconds", sla != NULL ? json_integer(db_int(ar, i, NOTIFY_R_SLA)) : json_null(),
	    "enabled", db_int(ar, i, NOTIFY_R_ENABLED) != 0,
	    "created_at", db_val(ar, i, NOTIFY_R_CREATED));
}

static int
rule_create_h(struct req *r)
{
	const char *name, *trigger, *flow = NULL;
	json_t *channels = json_object_get(r->body_json, "channel_ids"), *v, *c;
	json_t *enabled = json_object_get(r->body_json, "enabled");
	json_int_t sla = 0;
	struct db_res *row;
	char id[48];
	size_t i;
	int rc;

	if (req_str(r, "name", 1, 200, &name) < 0 || req_str(r, "trigger", 1, 16, &trigger) < 0)
		return 0;
	if (*name == '\0')
		return api_invalid(r, "name", "must not be empty");
	if (!one_of(trigger, triggers, 4))
		return api_invalid(r, "trigger", "must be on_failure, on_success, on_sla_breach "
		    "or on_retry");
	if (!json_is_array(channels) || json_array_size(channels) == 0 ||
	    json_array_size(channels) > 20)
		return api_invalid(r, "channel_ids", "must be a list of 1 to 20 channel ids");
	json_array_foreach(channels, i, c)
		if (!json_is_string(c) || strlen(json_string_value(c)) > 40)
			return api_invalid(r, "channel_ids", "must hold channel ids");
	v = json_object_get(r->body_json, "flow_name");
	if (v != NULL && !json_is_null(v) && req_name(r, "flow_name", 0, &flow) < 0)
		return 0;
	v = json_object_get(r->body_json, "sla_seconds");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || (sla = json_integer_value(v)) < 1 || sla > 30 * 86400)
			return api_invalid(r, "sla_seconds", "must be a number of seconds from 1 "
			    "to 2592000");
	}
	if (strcmp(trigger, "on_sla_breach") == 0 && sla == 0)
		return api_invalid(r, "sla_seconds", "is required for on_sla_breach");
	if (enabled != NULL && !json_is_boolean(enabled))
		return api_invalid(r, "enabled", "must be true or false");
	ids_new("rule", id, sizeof(id));
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = notify_rule_create(r->db, &r->arena, r->who.org_id, id, name, trigger, flow,
	    (int64_t)sla, enabled == NULL || json_is_true(enabled),
	    api_json_text(r, channels), &row);
	if (rc == NOTIFY_ECHANNEL || rc == NOTIFY_EFLOW) {
		db_rollback(r->db);
		return rc == NOTIFY_EFLOW ?
		    api_invalid(r, "flow_name", "names no flow of this organization") :
		    api_invalid(r, "channel_ids", "names a channel that does not exist");
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "alert_rule.create", "alert_rule", id,
	    json_pack("{s:s, s:s}", "name", name, "trigger", trigger))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, rule_json(row, 0));
}

static int
rule_list_h(struct req *r)
{
	return api_list_by_key(r, notify_rule_list, rule_json, NOTIFY_R_DBID);
}

/* The rule named by the path, or -1 after answering 404. */
static int
load_rule(struct req *r, struct db_res **row)
{
	const char *id = req_param(r, "rule_id");
	int rc = notify_rule_get(r->db, &r->arena, r->who.org_id, id, row);

	if (rc == NOTIFY_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "alert rule '%s' not found", id), -1;
	return rc;
}

static int
rule_get_h(struct req *r)
{
	struct db_res *row;
	int rc = load_rule(r, &row);

	return rc < 0 ? (r->responded ? 0 : rc) : api_json(r, 200, rule_json(row, 0));
}

static int
rule_delete_h(struct req *r)
{
	const char *id = req_param(r, "rule_id");
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = notify_rule_delete(r->db, r->who.org_id, id)) == NOTIFY_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "alert rule '%s' not found", id);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "alert_rule.delete", "alert_rule", id,
	    NULL)) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

static int
rule_test_h(struct req *r)
{
	struct db_res *row;
	json_t *event;
	int64_t n;
	int rc;

	if ((rc = load_rule(r, &row)) < 0)
		return r->responded ? 0 : rc;
	event = json_pack("{s:s, s:s, s:s, s:s}", "type", "test", "message",
	    "A test notification from dagy", "sent_by", r->who.email,
	    "created_at", api_now(r));
	if ((rc = db_begin(r->db)) < 0) {
		json_decref(event);
		return rc;
	}
	n = notify_rule_test(r->db, db_int(row, 0, NOTIFY_R_DBID), api_json_text(r, event));
	json_decref(event);
	if (n < 0 || (rc = audit_write(r->db, &r->who, "alert_rule.test", "alert_rule",
	    db_val(row, 0, NOTIFY_R_ID), NULL)) < 0 || (rc = db_commit(r->db)) < 0)
		return n < 0 ? (int)n : rc;
	wake_send(config_str(r->srv->cfg, "worker", "wake_dir"), WAKE_ALERTS);
	/* Queued for the worker, which sends it within moments; each
	 * attempt shows in GET .../deliveries. */
	return api_json(r, 200, json_pack("{s:s, s:s}", "status", "sent", "message",
	    arena_printf(&r->arena, "Test notification sent to %lld channel%s", (long long)n,
	    n == 1 ? "" : "s")));
}

static int
rule_deliveries_h(struct req *r)
{
	struct db_res *row, *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc;
	unsigned i;

	if ((rc = load_rule(r, &row)) < 0)
		return r->responded ? 0 : rc;
	if (req_page(r, 20, 100, &limit, &after) < 0)
		return 0;
	rc = notify_deliveries_list(r->db, &r->arena, db_int(row, 0, NOTIFY_R_DBID),
	    (int64_t)json_integer_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++) {
		const char *attempts = db_val(rows, i, NOTIFY_D_ATTEMPT_LIST);

		json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:I,"
		    " s:o, s:o, s:s, s:o, s:o}",
		    "delivery_id", db_val(rows, i, NOTIFY_D_ID),
		    "channel_id", db_val(rows, i, NOTIFY_D_CHANNEL),
		    "run_id", api_str_or_null(db_val(rows, i, NOTIFY_D_RUN)),
		    "trigger", db_val(rows, i, NOTIFY_D_TRIGGER),
		    "kind", db_val(rows, i, NOTIFY_D_KIND),
		    "status", db_val(rows, i, NOTIFY_D_STATUS),
		    "attempts", (json_int_t)db_int(rows, i, NOTIFY_D_ATTEMPTS),
		    "next_attempt_at", strcmp(db_val(rows, i, NOTIFY_D_STATUS), "pending") == 0 ?
		    json_string(db_val(rows, i, NOTIFY_D_NEXT)) : json_null(),
		    "last_error", api_str_or_null(db_val(rows, i, NOTIFY_D_ERROR)),
		    "created_at", db_val(rows, i, NOTIFY_D_CREATED),
		    "delivered_at", api_str_or_null(db_val(rows, i, NOTIFY_D_DELIVERED)),
		    "attempt_log", attempts != NULL ? api_json_col(attempts) : json_array()));
	}
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[I]", (json_int_t)db_int(rows, limit - 1, NOTIFY_D_DBID));
	return api_page(r, items, key);
}
