/* Fuzz target: webhook and Stripe signature headers (sensors_signature_ok
 * in src/lib/sensors.c, billing_verify in src/lib/billing.c). Input:
 * "HEADER\nBODY"; the header is tried in both sensor schemes and as a
 * Stripe-Signature, at a fixed time, against a fixed secret. A header
 * made by the signers themselves must verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/billing.h"
#include "dagy/crypto.h"
#include "dagy/sensors.h"
#include "fuzz.h"

#define SECRET "whsec_fuzz"
#define NOW 1772447400 /* 2026-03-02T10:30:00Z */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
	char *header = fuzz_str(data, hlen), *body, *text, want[65], good[128];
	size_t blen = nl != NULL ? size - hlen - 1 : 0;
	uint8_t mac[32];
	int n;

	if (header == NULL)
		return 0;
	/* The body exactly as long as it is, NUL bytes allowed. */
	body = malloc(blen > 0 ? blen : 1);
	memcpy(body, nl != NULL ? nl + 1 : data, blen);
	sensors_signature_ok(NULL, header, SECRET, body, blen, NOW, 300);
	sensors_signature_ok(SENSORS_SCHEME_TIMESTAMPED, header, SECRET, body, blen, NOW, 300);
	billing_verify(SECRET, header, body, blen, NOW, 300);

	/* The genuine timestamped signature of this body verifies. */
	n = snprintf(good, sizeof(good), "%d.", NOW);
	text = malloc((size_t)n + blen + 1);
	memcpy(text, good, (size_t)n);
	memcpy(text + n, body, blen);
	crypto_hmac_sha256(SECRET, strlen(SECRET), text, (size_t)n + blen, mac);
	crypto_hex(mac, want);
	snprintf(good, sizeof(good), "t=%d,v1=%s", NOW, want);
	if (!sensors_signature_ok(SENSORS_SCHEME_TIMESTAMPED, good, SECRET, body, blen, NOW, 300))
		abort();
	free(text);
	free(body);
	free(header);
	return 0;
}
