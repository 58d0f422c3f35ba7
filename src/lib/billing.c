/* Stripe: plans from dagy.conf, form-encoded calls with libcurl,
 * Stripe-Signature verification and the SQL of applied webhook events. */
#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/audit.h"
#include "dagy/auth.h"
#include "dagy/billing.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/log.h"
#include "dagy/usage.h"

#define RESP_MAX (1024 * 1024)

/* The secret key: the file's first line when a file is named, else the
 * setting; "" when neither. */
static const char *
secret_key(const struct config *cfg, char *buf, size_t n)
{
	const char *file = config_str(cfg, "billing", "stripe_secret_key_file");
	FILE *f;

	if (*file == '\0')
		return config_str(cfg, "billing", "stripe_secret_key");
	buf[0] = '\0';
	if ((f = fopen(file, "r")) != NULL) {
		if (fgets(buf, (int)n, f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

int
billing_enabled(const struct config *cfg)
{
	char buf[256];

	return *secret_key(cfg, buf, sizeof(buf)) != '\0';
}

const char *
billing_price_id(const struct config *cfg, const char *plan)
{
	char sec[48];

	snprintf(sec, sizeof(sec), "plan.%s", plan);
	return config_str(cfg, sec, "stripe_price_id");
}

const char *
billing_plan_of_price(const struct config *cfg, const char *price)
{
	int i;

	if (price == NULL || *price == '\0')
		return NULL;
	for (i = 0; i < USAGE_NPLANS; i++)
		if (strcmp(billing_price_id(cfg, usage_plans[i]), price) == 0)
			return usage_plans[i];
	return NULL;
}

static json_t *
limit(int64_t v)
{
	return v > 0 ? json_integer(v) : json_null();
}

json_t *
billing_plan_json(const struct config *cfg, const char *plan)
{
	struct usage_plan p;
	char sec[48], name[48];
	const char *price;

	snprintf(sec, sizeof(sec), "plan.%s", plan);
	snprintf(name, sizeof(name), "%s", config_str(cfg, sec, "display_name"));
	if (name[0] == '\0') {
		snprintf(name, sizeof(name), "%s", plan);
		name[0] = (char)toupper((unsigned char)name[0]);
	}
	usage_plan(cfg, plan, &p);
	price = billing_price_id(cfg, plan);
	return json_pack("{s:s, s:s, s:f, s:o, s:{s:o, s:o, s:o, s:o}}", "plan_id", plan,
	    "name", name, "monthly_cost_usd", config_num(cfg, sec, "monthly_cost_usd"),
	    "stripe_price_id", *price != '\0' ? json_string(price) : json_null(),
	    "limits", "monthly_runs", limit(p.monthly_runs), "monthly_tasks",
	    limit(p.monthly_tasks), "monthly_step_seconds", limit(p.monthly_step_seconds),
	    "concurrent_runs", limit(p.concurrent_runs));
}

int
billing_verify(const char *secret, const char *header, const char *body,
    size_t len, time_t now, long tolerance)
{
	char expect[65], *signed_text;
	const char *p = header;
	uint8_t mac[32];
	long long t = -1;
	int found = 0, n;

	if (secret == NULL || *secret == '\0' || header == NULL)
		return BILLING_ESIG;
	/* The timestamp first: the signatures are checked against it. */
	while (p != NULL && *p != '\0') {
		if (strncmp(p, "t=", 2) == 0)
			t = strtoll(p + 2, NULL, 10);
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	if (t <= 0)
		return BILLING_ESIG;
	n = snprintf(NULL, 0, "%lld.", t);
	if ((signed_text = malloc((size_t)n + len + 1)) == NULL)
		return BILLING_ESIG;
	snprintf(signed_text, (size_t)n + 1, "%lld.", t);
	memcpy(signed_text + n, body, len);
	crypto_hmac_sha256(secret, strlen(secret), signed_text, (size_t)n + len, mac);
	free(signed_text);
	crypto_hex(mac, expect);
	for (p = header; p != NULL && *p != '\0'; ) {
		const char *end = strchr(p, ',');
		size_t l = end != NULL ? (size_t)(end - p) : strlen(p);

		if (l == 67 && strncmp(p, "v1=", 3) == 0 && crypto_equal(p + 3, expect, 64))
			found = 1;
		p = end != NULL ? end + 1 : NULL;
	}
	if (!found)
		return BILLING_ESIG;
	if (t < (long long)now - tolerance || t > (long long)now + tolerance)
		return BILLING_ESTALE;
	return 0;
}

char *
billing_form_add(struct arena *a, char *form, const char *name, const char *value)
{
	char *enc = curl_easy_escape(NULL, value, 0), *out;
	size_t n = (form != NULL ? strlen(form) : 0) + strlen(name) + strlen(enc) + 3;

	out = arena_alloc(a, n);
	snprintf(out, n, "%s%s%s=%s", form != NULL ? form : "",
	    form != NULL && *form != '\0' ? "&" : "", name, enc);
	curl_free(enc);
	return out;
}

struct body {
	char *p;
	size_t n;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->n + n > RESP_MAX || (p = realloc(b->p, b->n + n + 1)) == NULL)
		return 0;
	memcpy(p + b->n, data, n);
	b->p = p;
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

int
billing_stripe_post(const struct config *cfg, const char *path, const char *form,
    const char *idem, json_t **resp, char *msg, size_t msglen)
{
	char url[1024], auth[320], idh[300], key[256], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct body b = {NULL, 0};
	CURL *c = curl_easy_init();
	long code = 0;
	json_t *doc = NULL;
	int rc = BILLING_EUPSTREAM;
	CURLcode cc;

	*resp = NULL;
	if (c == NULL) {
		snprintf(msg, msglen, "Stripe could not be reached: out of memory");
		return rc;
	}
	snprintf(url, sizeof(url), "%s%s", config_str(cfg, "billing", "stripe_api_base"), path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", secret_key(cfg, key, sizeof(key)));
	snprintf(idh, sizeof(idh), "Idempotency-Key: %s", idem);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, idh);
	h = curl_slist_append(h, "Stripe-Version: 2024-06-20");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)config_int(cfg, "billing", "timeout_seconds"));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		snprintf(msg, msglen, "Stripe could not be reached: %s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	doc = b.p != NULL ? json_loadb(b.p, b.n, 0, NULL) : NULL;
	if (code >= 200 && code < 300 && json_is_object(doc)) {
		*resp = doc;
		doc = NULL;
		rc = 0;
	} else {
		const char *m = json_string_value(json_object_get(json_object_get(doc, "error"),
		    "message"));

		snprintf(msg, msglen, "Stripe answered %ld: %s", code,
		    m != NULL ? m : "no error message");
	}
done:
	json_decref(doc);
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static const char SQL_EVENT[] =
    "INSERT INTO stripe_events (event_id, type) VALUES (?, ?)";
static const char SQL_EVENT_ORG[] = "UPDATE stripe_events SET org_id = ? WHERE event_id = ?";
static const char SQL_ORG_BY_PUBLIC[] = "SELECT id, public_id FROM orgs WHERE public_id = ?";
static const char SQL_ORG_BY_CUSTOMER[] =
    "SELECT id, public_id FROM orgs WHERE stripe_customer_id = ?";
static const char SQL_CHECKOUT[] =
    "UPDATE orgs SET stripe_customer_id = COALESCE(?, stripe_customer_id),"
    " stripe_subscription_id = COALESCE(?, stripe_subscription_id),"
    " plan = COALESCE(?, plan), subscription_status = 'active',"
    " billing_email = COALESCE(?, billing_email), runs_blocked_after = NULL,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
/* Only an event no older than the last one applied (018). */
static const char SQL_SUBSCRIPTION[] =
    "UPDATE orgs SET stripe_customer_id = COALESCE(?, stripe_customer_id),"
    " stripe_subscription_id = ?, plan = COALESCE(?, plan), subscription_status = ?,"
    " period_start = COALESCE(FROM_UNIXTIME(NULLIF(?, 0)), period_start),"
    " period_end = COALESCE(FROM_UNIXTIME(NULLIF(?, 0)), period_end),"
    " stripe_subscription_event_at = ?,"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?"
    " AND (stripe_subscription_event_at IS NULL OR stripe_subscription_event_at <= ?)";
static const char SQL_PAID[] =
    "UPDATE orgs SET runs_blocked_after = NULL, subscription_status = 'active',"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char SQL_FAILED[] =
    "UPDATE orgs SET runs_blocked_after = COALESCE(runs_blocked_after,"
    " UTC_TIMESTAMP(6) + INTERVAL ? SECOND), subscription_status = 'past_due',"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ?";

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The org an event's object belongs to: metadata.org_id or
 * client_reference_id (set by our checkout), else its Stripe customer. */
static int
event_org(struct db *db, struct arena *a, json_t *obj, int64_t *id, const char **pub)
{
	const char *o = str(json_object_get(obj, "metadata"), "org_id");
	struct db_res *r;
	int rc;

	if (o == NULL)
		o = str(obj, "client_reference_id");
	if (o == NULL && json_is_object(json_object_get(obj, "subscription_details")))
		o = str(json_object_get(json_object_get(obj, "subscription_details"), "metadata"),
		    "org_id");
	if (o != NULL)
		rc = db_query(db, a, &r, SQL_ORG_BY_PUBLIC, "s", o);
	else if (str(obj, "customer") != NULL)
		rc = db_query(db, a, &r, SQL_ORG_BY_CUSTOMER, "s", str(obj, "customer"));
	else
		return 0;
	if (rc < 0)
		return rc;
	if (r->nrows == 0)
		return 0;
	*id = db_int(r, 0, 0);
	*pub = db_val(r, 0, 1);
	return 1;
}

/* The plan of a subscription object: its first item's price. */
static const char *
subscription_plan(const struct config *cfg, json_t *sub)
{
	json_t *item = json_array_get(json_object_get(json_object_get(sub, "items"), "data"), 0);

	return billing_plan_of_price(cfg, str(json_object_get(item, "price"), "id"));
}

static int64_t
period(json_t *sub, const char *k)
{
	json_t *v = json_object_get(sub, k);
	json_t *item = json_array_get(json_object_get(json_object_get(sub, "items"), "data"), 0);

	/* Newer API versions keep the period on the item. */
	if (!json_is_integer(v))
		v = json_object_get(item, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int
plan_known(const char *plan)
{
	int i;

	for (i = 0; i < USAGE_NPLANS; i++)
		if (strcmp(plan, usage_plans[i]) == 0)
			return 1;
	return 0;
}

/* Applies a handled event to org: 0, 1 when a subscription event was
 * older than the org's last one (nothing changed), or a db_err. */
static int
apply(struct db *db, const struct config *cfg, const char *type,
    json_t *obj, int64_t org, const char *pub, const char *event_id, int64_t created)
{
	const char *plan = NULL, *status = NULL;
	int64_t rc;

	if (strcmp(type, "checkout.session.completed") == 0) {
		plan = str(json_object_get(obj, "metadata"), "plan");
		if (plan != NULL && !plan_known(plan))
			plan = NULL;
		rc = db_exec(db, SQL_CHECKOUT, "ssssi", str(obj, "customer"),
		    str(obj, "subscription"), plan,
		    str(json_object_get(obj, "customer_details"), "email"), org);
		status = "active";
	} else if (strncmp(type, "customer.subscription.", 22) == 0) {
		int gone = strcmp(type + 22, "deleted") == 0;

		status = gone ? "canceled" : str(obj, "status");
		if (status == NULL)
			status = "active";
		/* A subscription that ended leaves the org on the free plan. */
		plan = gone || strcmp(status, "canceled") == 0 ||
		    strcmp(status, "incomplete_expired") == 0 ? "free" :
		    subscription_plan(cfg, obj);
		rc = db_exec(db, SQL_SUBSCRIPTION, "ssssiiiii", str(obj, "customer"),
		    gone ? NULL : str(obj, "id"), plan, status, period(obj, "current_period_start"),
		    period(obj, "current_period_end"), created, org, created);
		if (rc == 0) {
			log_info("Stripe event %s (%s) is older than the org's last "
			    "subscription change: not applied", event_id, type);
			return 1;
		}
	} else if (strcmp(type, "invoice.paid") == 0) {
		status = "active";
		rc = db_exec(db, SQL_PAID, "i", org);
	} else {
		status = "past_due";
		rc = db_exec(db, SQL_FAILED, "ii",
		    (int64_t)config_int(cfg, "billing", "payment_grace_seconds"), org);
	}
	if (rc < 0)
		return (int)rc;
	if ((rc = auth_invalidate_org(db, org)) < 0)
		return (int)rc;
	return audit_write_as(db, org, 0, "stripe", NULL, "billing.event", "org", pub,
	    json_pack("{s:s, s:s, s:s?, s:s?}", "event_id", event_id, "type", type,
	    "plan", plan, "status", status));
}

static int
handled(const char *type)
{
	static const char *const types[] = {"checkout.session.completed",
		"customer.subscription.created", "customer.subscription.updated",
		"customer.subscription.deleted", "invoice.paid", "invoice.payment_failed"};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return 1;
	return 0;
}

int
billing_apply(struct db *db, const struct config *cfg, struct arena *a,
    json_t *event, enum billing_outcome *out)
{
	const char *id = str(event, "id"), *type = str(event, "type"), *pub = NULL;
	json_t *obj = json_object_get(json_object_get(event, "data"), "object");
	int64_t org = 0;
	int rc;

	*out = BILLING_IGNORED;
	if (id == NULL || type == NULL)
		return 0;
	if ((rc = db_begin(db)) < 0)
		return rc;
	if ((rc = (int)db_exec(db, SQL_EVENT, "ss", id, type)) == DB_EDUP) {
		db_rollback(db);
		*out = BILLING_REPLAY;
		return 0;
	}
	if (rc < 0)
		goto fail;
	if (handled(type) && json_is_object(obj)) {
		if ((rc = event_org(db, a, obj, &org, &pub)) < 0)
			goto fail;
		if (rc == 0) {
			log_warn("Stripe event %s (%s) names no organization of this installation",
			    id, type);
		} else {
			/* Stripe's events carry created; one that does not is
			 * taken as made now. */
			json_int_t created = json_integer_value(json_object_get(event, "created"));
			int applied = apply(db, cfg, type, obj, org, pub, id,
			    created > 0 ? (int64_t)created : (int64_t)time(NULL));

			if ((rc = applied) < 0 ||
			    (rc = (int)db_exec(db, SQL_EVENT_ORG, "is", org, id)) < 0)
				goto fail;
			*out = applied == 1 ? BILLING_IGNORED : BILLING_APPLIED;
		}
	}
	if ((rc = db_commit(db)) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	return rc;
}

static const char SQL_BILLING_ORG[] =
    "SELECT plan, subscription_status, stripe_subscription_id, " DB_TS("period_start") ","
    " " DB_TS("period_end") ", billing_email, stripe_customer_id, "
    DB_TS("runs_blocked_after") ", status, public_id, name FROM orgs WHERE id = ?";

int
billing_org(struct db *db, struct arena *a, int64_t org_id, struct db_res **row)
{
	return db_query(db, a, row, SQL_BILLING_ORG, "i", org_id);
}
