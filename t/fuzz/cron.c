/* Fuzz target: cron expressions and intervals, and next firings in a
 * time zone (src/lib/cron.c). Input: "ZONE\nEXPRESSION\nAFTER" with AFTER
 * seconds since the epoch (optional). */
#include <stdlib.h>
#include <string.h>

#include "dagy/cron.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), *expr, *at, err[256];
	struct cron c;
	time_t after = 1772447400, next; /* 2026-03-02T10:30:00Z */

	if (s == NULL)
		return 0;
	if ((expr = strchr(s, '\n')) == NULL)
		goto done;
	*expr++ = '\0';
	if ((at = strchr(expr, '\n')) != NULL) {
		*at++ = '\0';
		/* Within a span localtime handles: years 1900 to 9999. */
		after = (time_t)(strtoll(at, NULL, 10) % 253402300799LL);
		if (after < -2208988800LL)
			after = -2208988800LL;
	}
	cron_interval(expr);
	if (cron_parse(expr, &c, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();
		goto done;
	}
	if (!cron_tz_valid(s))
		goto done;
	if (cron_next(&c, s, after, &next) == 0 && next <= after)
		abort();
done:
	free(s);
	return 0;
}
