/* Random public identifiers, unbiased over a 36-character alphabet. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dagy/crypto.h"
#include "dagy/ids.h"

void
ids_random_chars(char *out, size_t n)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t i = 0;

	while (i < n) {
		uint8_t buf[32];
		size_t j;

		if (crypto_random(buf, sizeof(buf)) < 0)
			abort();
		/* 252 = 7 * 36: rejecting above it keeps every character equally likely. */
		for (j = 0; j < sizeof(buf) && i < n; j++)
			if (buf[j] < 252)
				out[i++] = alpha[buf[j] % 36];
	}
	out[n] = '\0';
}

void
ids_new(const char *prefix, char *out, size_t outlen)
{
	char r[IDS_RANDOM_LEN + 1];

	ids_random_chars(r, IDS_RANDOM_LEN);
	snprintf(out, outlen, "%s_%s", prefix, r);
}
