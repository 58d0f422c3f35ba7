/* Billing with Stripe: plans as data ([plan.NAME] stripe_price_id,
 * display_name, monthly_cost_usd), Checkout and Billing Portal sessions
 * over Stripe's HTTP API, and the webhook: Stripe-Signature verification
 * and the events that change an organization's subscription and plan.
 * With [billing] stripe_secret_key unset, billing is off: every org stays
 * on its plan from dagy.conf and the Stripe calls are refused plainly. */
#ifndef DAGY_BILLING_H
#define DAGY_BILLING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct config;

enum billing_err {
	BILLING_ESIG = -30,     /* no, malformed or wrong Stripe-Signature */
	BILLING_ESTALE = -31,   /* its timestamp is outside the tolerance */
	BILLING_EUPSTREAM = -32, /* Stripe failed or refused; see the message */
};

/* Whether a Stripe secret key is configured ([billing] stripe_secret_key
 * or stripe_secret_key_file). */
int billing_enabled(const struct config *cfg);
/* The plan's Stripe price id, "" when it is not sold. */
const char *billing_price_id(const struct config *cfg, const char *plan);
/* The plan sold as price id, or NULL. */
const char *billing_plan_of_price(const struct config *cfg, const char *price);
/* {"plan_id", "name", "monthly_cost_usd", "stripe_price_id", "limits"}. */
json_t *billing_plan_json(const struct config *cfg, const char *plan);

/* Checks header ("t=…,v1=…[,v1=…]") against HMAC-SHA256 of "t.body"
 * under secret, with tolerance seconds around now: 0, BILLING_ESIG or
 * BILLING_ESTALE. */
int billing_verify(const char *secret, const char *header, const char *body,
    size_t len, time_t now, long tolerance);

/* POSTs form (already encoded) to [billing] stripe_api_base + path with
 * the secret key and Idempotency-Key idem. 0 with *resp (a new reference),
 * or BILLING_EUPSTREAM with msg set to Stripe's message or the transport
 * error. */
int billing_stripe_post(const struct config *cfg, const char *path, const char *form,
    const char *idem, json_t **resp, char *msg, size_t msglen);
/* Appends "&name=value" (value URL-encoded) to the form in a. */
char *billing_form_add(struct arena *a, char *form, const char *name, const char *value);

/* What billing_apply did with an event. */
enum billing_outcome { BILLING_APPLIED, BILLING_IGNORED, BILLING_REPLAY };

/* Applies a verified event in its own transaction: records its id (a
 * replay changes nothing), then updates the org's subscription, plan and
 * run block, with an audit row. 0 with *out, or a db_err. */
int billing_apply(struct db *db, const struct config *cfg, struct arena *a,
    json_t *event, enum billing_outcome *out);

/* The org's billing columns: plan, subscription_status, stripe_subscription_id,
 * period start, period end (RFC 3339), billing_email, stripe_customer_id,
 * runs_blocked_after, status, public id, name. */
int billing_org(struct db *db, struct arena *a, int64_t org_id, struct db_res **row);

#endif
