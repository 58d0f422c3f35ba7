/* Stripe-Signature verification (the signatures below were made with
 * Python's hmac module, independently of crypto.c) and trace keys. */
#include <string.h>

#include "../tap.h"
#include "dagy/billing.h"
#include "dagy/exceptions.h"

#define SECRET "whsec_x"
#define BODY "{\"a\":1}"
/* HMAC-SHA256("whsec_x", "1700000000.{\"a\":1}") */
#define SIG "b3438763ab46d9634b9844c8722818eaf523f803db1327484c6067462a5fd6d1"
#define OTHER "0000000000000000000000000000000000000000000000000000000000000000"

static int
check(const char *secret, const char *header, const char *body, long now)
{
	return billing_verify(secret, header, body, strlen(body), (time_t)now, 300);
}

int
main(void)
{
	plan(16);
	is_int(0, check(SECRET, "t=1700000000,v1=" SIG, BODY, 1700000000), "a good signature");
	is_int(0, check(SECRET, "t=1700000000,v1=" OTHER ",v1=" SIG ",v0=" OTHER, BODY,
	    1700000100), "any of several v1, within the tolerance");
	is_int(BILLING_ESIG, check("whsec_y", "t=1700000000,v1=" SIG, BODY, 1700000000),
	    "another secret");
	is_int(BILLING_ESIG, check(SECRET, "t=1700000000,v1=" SIG, "{\"a\":2}", 1700000000),
	    "a tampered body");
	is_int(BILLING_ESIG, check(SECRET, "t=1700000001,v1=" SIG, BODY, 1700000000),
	    "another timestamp");
	is_int(BILLING_ESTALE, check(SECRET, "t=1700000000,v1=" SIG, BODY, 1700000301),
	    "older than the tolerance");
	is_int(BILLING_ESTALE, check(SECRET, "t=1700000000,v1=" SIG, BODY, 1699999699),
	    "from too far ahead");
	is_int(BILLING_ESIG, check(SECRET, "v1=" SIG, BODY, 1700000000), "no timestamp");
	is_int(BILLING_ESIG, check(SECRET, "t=1700000000", BODY, 1700000000), "no v1");
	is_int(BILLING_ESIG, check(SECRET, "t=1700000000,v0=" SIG, BODY, 1700000000),
	    "v0 is not a signature scheme dagy accepts");
	is_int(BILLING_ESIG, check("", "t=1700000000,v1=" SIG, BODY, 1700000000), "no secret");
	is_int(BILLING_ESIG, billing_verify(SECRET, NULL, BODY, 7, 1700000000, 300), "no header");
	ok(exceptions_key_valid("exc_20261201T230500Z_abc123"), "a trace key");
	ok(!exceptions_key_valid("exc_../../etc/passwd"), "no path in a key");
	ok(!exceptions_key_valid("trace_1"), "keys start with exc_");
	ok(!exceptions_key_valid(NULL), "nor is NULL one");
	return done_testing();
}
