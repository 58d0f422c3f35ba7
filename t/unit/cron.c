/* Cron parsing and next-fire times, daylight saving included. Expected
 * instants were worked out by hand from the zones' published rules. */
#include <time.h>

#include "../tap.h"
#include "dagy/cron.h"

static time_t
iso(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return timegm(&tm);
}

static const char *
fmt(time_t t)
{
	static char buf[8][32];
	static int i;
	struct tm tm;

	i = (i + 1) % 8;
	gmtime_r(&t, &tm);
	strftime(buf[i], sizeof(buf[i]), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf[i];
}

/* Checks that the firings after `after` are exactly want[], in order. */
static void
fires(const char *expr, const char *tz, const char *after, const char **want,
    int n, const char *why)
{
	struct cron c;
	char err[256];
	time_t t = iso(after), next;
	int i;

	if (cron_parse(expr, &c, err, sizeof(err)) < 0) {
		ok(0, "%s: parse '%s': %s", why, expr, err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (cron_next(&c, tz, t, &next) < 0) {
			ok(0, "%s: no firing %d", why, i);
			return;
		}
		is_string(want[i], fmt(next), "%s [%s, %s] #%d", why, expr, tz, i + 1);
		t = next;
	}
}

#define FIRES(expr, tz, after, why, ...)                                      \
	do {                                                                  \
		const char *w[] = {__VA_ARGS__};                              \
		fires(expr, tz, after, w, sizeof(w) / sizeof(w[0]), why);     \
	} while (0)

static void
bad(const char *expr, const char *word)
{
	struct cron c;
	char err[256] = "";

	ok(cron_parse(expr, &c, err, sizeof(err)) < 0 && strstr(err, word) != NULL,
	    "'%s' refused, naming %s (%s)", expr, word, err);
}

int
main(void)
{
	plan(60);

	/* New York, spring forward 2025-03-09 02:00 EST -> 03:00 EDT. */
	FIRES("30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z",
	    "skipped 02:30 fires once right after the gap",
	    "2025-03-09T07:00:00Z", "2025-03-10T06:30:00Z");
	FIRES("30 1 * * *", "America/New_York", "2025-03-08T12:00:00Z",
	    "01:30 is untouched by the gap",
	    "2025-03-09T06:30:00Z", "2025-03-10T05:30:00Z");
	FIRES("0 * * * *", "America/New_York", "2025-03-09T06:30:00Z",
	    "hourly follows real time across the gap",
	    "2025-03-09T07:00:00Z", "2025-03-09T08:00:00Z");
	/* New York, fall back 2025-11-02 02:00 EDT -> 01:00 EST. */
	FIRES("30 1 * * *", "America/New_York", "2025-11-01T12:00:00Z",
	    "repeated 01:30 fires at its first occurrence only",
	    "2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z");
	FIRES("30 2 * * *", "America/New_York", "2025-11-01T12:00:00Z",
	    "02:30 after fall back", "2025-11-02T07:30:00Z");
	FIRES("0 * * * *", "America/New_York", "2025-11-02T04:30:00Z",
	    "hourly fires at 01:00 EDT and 01:00 EST",
	    "2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z", "2025-11-02T07:00:00Z");
	FIRES("*/30 * * * *", "America/New_York", "2025-11-02T05:00:00Z",
	    "half-hourly through the repeated hour in real-time order",
	    "2025-11-02T05:30:00Z", "2025-11-02T06:00:00Z", "2025-11-02T06:30:00Z");
	/* London: 2025-03-30 01:00 GMT -> 02:00 BST; 2025-10-26 back. */
	FIRES("30 1 * * *", "Europe/London", "2025-03-29T12:00:00Z",
	    "London gap", "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z");
	FIRES("30 1 * * *", "Europe/London", "2025-10-25T12:00:00Z",
	    "London repeated hour", "2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z");
	/* Lord Howe shifts by 30 minutes: 2025-10-05 02:00 -> 02:30 (+11),
	 * 2025-04-06 02:00 (+11) -> 01:30 (+10:30). */
	FIRES("15 2 * * *", "Australia/Lord_Howe", "2025-10-04T00:00:00Z",
	    "Lord Howe 30-minute gap", "2025-10-04T15:30:00Z", "2025-10-05T15:15:00Z");
	FIRES("45 1 * * *", "Australia/Lord_Howe", "2025-04-05T00:00:00Z",
	    "Lord Howe repeated half hour", "2025-04-05T14:45:00Z", "2025-04-06T15:15:00Z");
	FIRES("0 * * * *", "Australia/Lord_Howe", "2025-04-05T14:00:00Z",
	    "Lord Howe hourly in real time", "2025-04-05T15:30:00Z");
	/* Kolkata: +05:30 all year. */
	FIRES("0 9 * * *", "Asia/Kolkata", "2025-06-01T00:00:00Z",
	    "half-hour offset zone", "2025-06-01T03:30:00Z", "2025-06-02T03:30:00Z");
	/* Calendar corners. */
	FIRES("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "leap day",
	    "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z");
	FIRES("0 0 31 * *", "UTC", "2025-04-01T00:00:00Z", "31st skips short months",
	    "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z");
	FIRES("0 0 13 * 5", "UTC", "2025-06-01T00:00:00Z",
	    "day-of-month OR day-of-week", "2025-06-06T00:00:00Z",
	    "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z");
	FIRES("0 0 13 * 5", "UTC", "2025-07-12T00:00:00Z",
	    "a 13th that is no Friday", "2025-07-13T00:00:00Z");
	FIRES("0 0 * * 7", "UTC", "2025-06-02T00:00:00Z", "7 is Sunday",
	    "2025-06-08T00:00:00Z");
	FIRES("0 9 * jan MON-FRI", "UTC", "2025-12-31T12:00:00Z", "names",
	    "2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z");
	FIRES("5/20 * * * *", "UTC", "2025-06-01T00:00:00Z", "start/step",
	    "2025-06-01T00:05:00Z", "2025-06-01T00:25:00Z", "2025-06-01T00:45:00Z");
	FIRES("@daily", "UTC", "2025-06-01T00:00:00Z", "@daily is strictly after",
	    "2025-06-02T00:00:00Z");
	FIRES("@hourly", "Europe/London", "2025-06-01T00:10:00Z", "@hourly",
	    "2025-06-01T01:00:00Z");
	FIRES("0 12 1,15 */3 *", "UTC", "2025-01-02T00:00:00Z", "lists and month steps",
	    "2025-01-15T12:00:00Z", "2025-04-01T12:00:00Z");

	bad("0 0 30 2 *", "day-of-month");
	bad("0 0 31 4,6 *", "never occurs");
	bad("61 * * * *", "minute");
	bad("* 24 * * *", "hour");
	bad("* * * *", "5 fields");
	bad("* * * * * *", "5 fields");
	bad("@fortnightly", "macro");
	bad("*/0 * * * *", "minute");
	bad("5-1 * * * *", "minute");
	bad("* * * FOO *", "month");

	ok(cron_tz_valid("America/New_York"), "a real zone");
	ok(!cron_tz_valid("Mars/Olympus"), "no such zone");
	ok(!cron_tz_valid("../../etc/passwd"), "no path tricks");
	is_int(1800, cron_interval("30m"), "30m");
	is_int(-1, cron_interval("30x"), "30x is no interval");
	return done_testing();
}
