/* /v1/billing: the subscription, the plans (public), Stripe Checkout and
 * Billing Portal sessions, and Stripe's webhook (public, signed). What
 * Stripe does is in src/lib/billing.c; doc/billing.md tells the whole. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/billing.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/ids.h"
#include "dagy/log.h"
#include "dagy/ts.h"

#define URL_MAX 2048

static int billing_subscription_h(struct req *r);
static int billing_plans_h(struct req *r);
static int billing_checkout_h(struct req *r);
static int billing_portal_h(struct req *r);
static int billing_webhook_h(struct req *r);

const struct route billing_routes[] = {
	{"GET", "/v1/billing/subscription", billing_subscription_h, PERM_BILLING_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/billing/plans", billing_plans_h, PERM_PUBLIC, 0, DIALECT_DAGY},
	{"POST", "/v1/billing/checkout", billing_checkout_h, PERM_BILLING_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", "/v1/billing/portal", billing_portal_h, PERM_BILLING_WRITE, ROUTE_BODY, DIALECT_DAGY},
	/* No ROUTE_BODY: the signature is checked on the raw bytes first. */
	{"POST", "/v1/billing/webhook", billing_webhook_h, PERM_PUBLIC, 0, DIALECT_DAGY},
};
const size_t billing_routes_n = sizeof(billing_routes) / sizeof(billing_routes[0]);

static int
disabled(struct req *r)
{
	return api_error(r, API_E_BILLING_DISABLED, NULL,
	    "billing is not configured on this installation ([billing] stripe_secret_key"
	    " is unset): organizations stay on the plan they were given");
}

static int
billing_subscription_h(struct req *r)
{
	struct db_res *o;
	char sec[48];
	int rc;

	if ((rc = billing_org(r->db, &r->arena, r->who.org_id, &o)) < 0)
		return rc;
	if (o->nrows == 0)
		return api_error(r, API_E_NOT_FOUND, NULL, "organization not found");
	snprintf(sec, sizeof(sec), "plan.%s", db_val(o, 0, 0));
	return api_json(r, 200, json_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:f, s:o, s:b, s:o, s:s}",
	    "subscription_id", api_str_or_null(db_val(o, 0, 2)),
	    "plan", db_val(o, 0, 0),
	    "status", db_val(o, 0, 1) != NULL ? db_val(o, 0, 1) :
	    billing_enabled(r->srv->cfg) ? "none" : "active",
	    "billing_cycle_start", api_str_or_null(db_val(o, 0, 3)),
	    "billing_cycle_end", api_str_or_null(db_val(o, 0, 4)),
	    "billing_email", api_str_or_null(db_val(o, 0, 5)),
	    "monthly_cost_usd", config_num(r->srv->cfg, sec, "monthly_cost_usd"),
	    "payment_method", json_null(),
	    "billing_enabled", billing_enabled(r->srv->cfg),
	    "runs_blocked_after", api_str_or_null(db_val(o, 0, 7)),
	    "org_status", db_val(o, 0, 8)));
}

static int
billing_plans_h(struct req *r)
{
	json_t *items = json_array();
	int i;

	for (i = 0; i < USAGE_NPLANS; i++)
		json_array_append_new(items, billing_plan_json(r->srv->cfg, usage_plans[i]));
	return api_json(r, 200, json_pack("{s:o, s:b}", "items", items,
	    "billing_enabled", billing_enabled(r->srv->cfg)));
}

/* An http(s) URL field of at most URL_MAX bytes. */
static int
url_field(struct req *r, const char *field, const char **out)
{
	if (req_str(r, field, 1, URL_MAX, out) < 0)
		return -1;
	if (strncmp(*out, "https://", 8) != 0 && strncmp(*out, "http://", 7) != 0)
		return api_invalid(r, field, "must be an http or https URL"), -1;
	return 0;
}

/* The Idempotency-Key of a create: derived from the client's own key
 * (Idempotency-Key or X-Idempotency-Key), so its retries make one session,
 * else fresh. */
static const char *
idempotency(struct req *r, const char *what)
{
	const char *k = req_env(r, "HTTP_IDEMPOTENCY_KEY");
	char *out = arena_alloc(&r->arena, 128), rnd[25];
	uint8_t sha[32];
	char hex[65];

	if (k == NULL)
		k = req_env(r, "HTTP_X_IDEMPOTENCY_KEY");
	if (k != NULL && *k != '\0') {
		char *text = arena_alloc(&r->arena, strlen(k) + 128);

		sprintf(text, "%s:%s:%s", r->who.org_public_id, what, k);
		crypto_sha256(text, strlen(text), sha);
		crypto_hex(sha, hex);
		snprintf(out, 128, "dagy-%s-%.40s", what, hex);
	} else {
		ids_random_chars(rnd, 24);
		rnd[24] = '\0';
		snprintf(out, 128, "dagy-%s-%s", what, rnd);
	}
	return out;
}

/* Answers 502 with Stripe's reason. */
static int
upstream(struct req *r, const char *msg)
{
	log_warn("Stripe call for %s failed: %s", r->who.org_public_id, msg);
	return api_error(r, API_E_BAD_GATEWAY, NULL, "%s", msg);
}

static int
billing_checkout_h(struct req *r)
{
	const char *plan, *ok_url, *cancel_url, *price, *customer;
	struct db_res *o;
	char msg[512], exp[32];
	char *form = NULL;
	json_t *resp, *e;
	int rc, i, known = 0;

	if (req_str(r, "plan", 1, 32, &plan) < 0 || url_field(r, "success_url", &ok_url) < 0 ||
	    url_field(r, "cancel_url", &cancel_url) < 0)
		return 0;
	for (i = 0; i < USAGE_NPLANS; i++)
		known |= strcmp(plan, usage_plans[i]) == 0;
	if (!known)
		return api_invalid(r, "plan", "no such plan; GET /v1/billing/plans lists them");
	if (!billing_enabled(r->srv->cfg))
		return disabled(r);
	if (*(price = billing_price_id(r->srv->cfg, plan)) == '\0')
		return api_invalid(r, "plan", "plan '%s' is not sold through Stripe here", plan);
	if ((rc = billing_org(r->db, &r->arena, r->who.org_id, &o)) < 0)
		return rc;
	customer = o->nrows == 1 ? db_val(o, 0, 6) : NULL;
	form = billing_form_add(&r->arena, form, "mode", "subscription");
	form = billing_form_add(&r->arena, form, "line_items[0][price]", price);
	form = billing_form_add(&r->arena, form, "line_items[0][quantity]", "1");
	form = billing_form_add(&r->arena, form, "success_url", ok_url);
	form = billing_form_add(&r->arena, form, "cancel_url", cancel_url);
	form = billing_form_add(&r->arena, form, "client_reference_id", r->who.org_public_id);
	if (customer != NULL)
		form = billing_form_add(&r->arena, form, "customer", customer);
	else
		form = billing_form_add(&r->arena, form, "customer_email", r->who.email);
	form = billing_form_add(&r->arena, form, "metadata[org_id]", r->who.org_public_id);
	form = billing_form_add(&r->arena, form, "metadata[plan]", plan);
	form = billing_form_add(&r->arena, form, "subscription_data[metadata][org_id]",
	    r->who.org_public_id);
	if (billing_stripe_post(r->srv->cfg, "/v1/checkout/sessions", form,
	    idempotency(r, "checkout"), &resp, msg, sizeof(msg)) < 0)
		return upstream(r, msg);
	if (json_string_value(json_object_get(resp, "id")) == NULL) {
		json_decref(resp);
		return upstream(r, "Stripe's answer has no session id");
	}
	e = json_object_get(resp, "expires_at");
	if (json_is_integer(e))
		ts_rfc3339((time_t)json_integer_value(e), exp);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "billing.checkout", "org", r->who.org_public_id,
	    json_pack("{s:s, s:O}", "plan", plan, "checkout_id", json_object_get(resp, "id")))) < 0 ||
	    (rc = db_commit(r->db)) < 0) {
		json_decref(resp);
		return rc;
	}
	rc = api_json(r, 201, json_pack("{s:O, s:O, s:o}", "checkout_id",
	    json_object_get(resp, "id"), "url", json_object_get(resp, "url"),
	    "expires_at", json_is_integer(e) ? json_string(exp) : json_null()));
	json_decref(resp);
	return rc;
}

static int
billing_portal_h(struct req *r)
{
	const char *ret, *customer;
	struct db_res *o;
	char msg[512], *form = NULL;
	json_t *resp;
	int rc;

	if (url_field(r, "return_url", &ret) < 0)
		return 0;
	if (!billing_enabled(r->srv->cfg))
		return disabled(r);
	if ((rc = billing_org(r->db, &r->arena, r->who.org_id, &o)) < 0)
		return rc;
	if (o->nrows == 0 || (customer = db_val(o, 0, 6)) == NULL)
		return api_error(r, API_E_CONFLICT, NULL,
		    "organization '%s' has no Stripe customer yet; subscribe through"
		    " POST /v1/billing/checkout first", r->who.org_public_id);
	form = billing_form_add(&r->arena, form, "customer", customer);
	form = billing_form_add(&r->arena, form, "return_url", ret);
	if (billing_stripe_post(r->srv->cfg, "/v1/billing_portal/sessions", form,
	    idempotency(r, "portal"), &resp, msg, sizeof(msg)) < 0)
		return upstream(r, msg);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "billing.portal", "org", r->who.org_public_id,
	    NULL)) < 0 || (rc = db_commit(r->db)) < 0) {
		json_decref(resp);
		return rc;
	}
	rc = api_json(r, 201, json_pack("{s:O, s:O}", "portal_session_id",
	    json_object_get(resp, "id"), "url", json_object_get(resp, "url")));
	json_decref(resp);
	return rc;
}

static int
billing_webhook_h(struct req *r)
{
	const struct config *cfg = r->srv->cfg;
	enum billing_outcome out;
	json_t *event;
	int rc;

	rc = billing_verify(config_str(cfg, "billing", "webhook_secret"),
	    req_env(r, "HTTP_STRIPE_SIGNATURE"), r->body, r->body_len, time(NULL),
	    (long)config_int(cfg, "billing", "webhook_tolerance_seconds"));
	if (rc == BILLING_ESTALE)
		return api_error(r, API_E_VALIDATION, NULL,
		    "Stripe-Signature timestamp is outside the tolerance of %lld s",
		    config_int(cfg, "billing", "webhook_tolerance_seconds"));
	if (rc < 0)
		return api_error(r, API_E_VALIDATION, NULL,
		    "missing or invalid Stripe-Signature");
	event = json_loadb(r->body, r->body_len, 0, NULL);
	if (!json_is_object(event)) {
		json_decref(event);
		return api_invalid(r, "body", "must be a Stripe event object");
	}
	rc = billing_apply(r->db, cfg, &r->arena, event, &out);
	json_decref(event);
	if (rc < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:b, s:s}", "received", 1, "outcome",
	    out == BILLING_APPLIED ? "applied" : out == BILLING_REPLAY ? "duplicate" :
	    "ignored"));
}
