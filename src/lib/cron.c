/* Our own cron: no library handles time zones and daylight saving the way
 * DESIGN.md asks. Local wall times are mapped to instants with the
 * system tzdata through localtime_r; the process is single-threaded, so
 * switching TZ between calls is safe. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dagy/cron.h"

#define SEARCH_DAYS (366 * 10)

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY",
	"JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU",
	"FRI", "SAT"};

struct field {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] means lo + i */
};

static const struct field fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day-of-month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	{"day-of-week", 0, 7, dow_names},
};

/* Reads a number or a name at *p; -1 if neither. */
static int
read_value(const char **p, const struct field *f)
{
	int i, v = 0;

	if (isdigit((unsigned char)**p)) {
		while (isdigit((unsigned char)**p) && v < 1000)
			v = v * 10 + (*(*p)++ - '0');
		return v;
	}
	if (f->names != NULL)
		for (i = 0; i < (f == &fields[3] ? 12 : 7); i++)
			if (strncasecmp(*p, f->names[i], 3) == 0 &&
			    !isalpha((unsigned char)(*p)[3])) {
				*p += 3;
				return f == &fields[3] ? i + 1 : i;
			}
	return -1;
}

/* Parses one field into bits; -1 with err set. */
static int
parse_field(const char *text, const struct field *f, uint64_t *bits, int *star,
    char *err, size_t errlen)
{
	char buf[128], *item, *save = NULL;

	*bits = 0;
	*star = strcmp(text, "*") == 0;
	if (strlen(text) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", text);
	for (item = strtok_r(buf, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		const char *p = item;
		int lo, hi, step = 1, v;

		if (*p == '*') {
			lo = f->lo;
			hi = f == &fields[4] ? 6 : f->hi;
			p++;
		} else {
			if ((lo = read_value(&p, f)) < 0)
				goto bad;
			hi = lo;
			if (*p == '-') {
				p++;
				if ((hi = read_value(&p, f)) < 0)
					goto bad;
			}
		}
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p) || (step = read_value(&p, f)) <= 0)
				goto bad;
			/* "5/15" means from 5 to the end, every 15. */
			if (hi == lo && item[0] != '*')
				hi = f == &fields[4] ? 6 : f->hi;
		}
		if (*p != '\0')
			goto bad;
		if (lo < f->lo || hi > f->hi || lo > hi) {
			snprintf(err, errlen, "%s field '%s': values must be %d-%d%s",
			    f->name, text, f->lo, f->hi, lo > hi ? " and ranges ascending" : "");
			return -1;
		}
		for (v = lo; v <= hi; v += step)
			*bits |= (uint64_t)1 << (f == &fields[4] && v == 7 ? 0 : v);
	}
	if (*bits == 0)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s field '%s' is not a number, name, range, step or list",
	    f->name, text);
	return -1;
}

static int
days_in_month(int month, int year)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : d[month - 1];
}

int
cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	static const struct {
		const char *name, *expr;
	} macros[] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
		{"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
		{"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	char buf[256], *part[5], *tok, *save = NULL;
	uint64_t bits;
	int n = 0, star, i, m, d;

	memset(c, 0, sizeof(*c));
	while (isspace((unsigned char)*expr))
		expr++;
	if (*expr == '@') {
		for (i = 0; i < (int)(sizeof(macros) / sizeof(macros[0])); i++)
			if (strcasecmp(expr, macros[i].name) == 0)
				return cron_parse(macros[i].expr, c, err, errlen);
		snprintf(err, errlen, "unknown macro '%s'; use @hourly, @daily, @weekly, "
		    "@monthly or @yearly", expr);
		return -1;
	}
	if (strlen(expr) >= sizeof(buf)) {
		snprintf(err, errlen, "expression is too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", expr);
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save))
		if (n++ < 5)
			part[n - 1] = tok;
	if (n != 5) {
		snprintf(err, errlen, "expected 5 fields (minute hour day-of-month "
		    "month day-of-week), got %d", n);
		return -1;
	}
	for (i = 0; i < 5; i++) {
		if (parse_field(part[i], &fields[i], &bits, &star, err, errlen) < 0)
			return -1;
		switch (i) {
		case 0: c->minute = bits; break;
		case 1: c->hour = (uint32_t)bits; c->hour_star = star; break;
		case 2: c->dom = (uint32_t)bits; c->dom_star = star; break;
		case 3: c->month = (uint16_t)bits; break;
		case 4: c->dow = (uint8_t)bits; c->dow_star = star; break;
		}
	}
	/* With any weekday allowed, a day-of-month that no chosen month has
	 * (30 February) would never fire: refuse it now, not loop later. */
	if (c->dow_star && !c->dom_star) {
		for (m = 1; m <= 12; m++)
			for (d = 1; d <= days_in_month(m, 2000); d++)
				if ((c->month >> m & 1) && (c->dom >> d & 1))
					return 0;
		snprintf(err, errlen, "day-of-month '%s' never occurs in month '%s'",
		    part[2], part[3]);
		return -1;
	}
	return 0;
}

int
cron_tz_valid(const char *tz)
{
	char path[512];
	struct stat st;

	if (tz == NULL || *tz == '\0' || strlen(tz) > 200 || tz[0] == '/' ||
	    strstr(tz, "..") != NULL)
		return 0;
	if (strcmp(tz, "UTC") == 0)
		return 1;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void
use_tz(const char *tz)
{
	static char current[256];

	if (strcmp(current, tz) == 0)
		return;
	snprintf(current, sizeof(current), "%s", tz);
	setenv("TZ", tz, 1);
	tzset();
}

static long
gmtoff(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_gmtoff;
}

/* The instants at which the local wall time w (seconds as if UTC) occurs:
 * returns 0 in a gap (with *gap_end the first instant after it), 1, or 2
 * when the clock passes it twice (first in out[0]). Zones change offset at
 * most once within a day either side, which holds for all of tzdata. */
static int
local_instants(time_t w, time_t out[2], time_t *gap_end)
{
	long before = gmtoff(w - 86400), after = gmtoff(w + 86400);
	int n = 0;

	if (gmtoff(w - before) == before)
		out[n++] = w - before;
	if (after != before && gmtoff(w - after) == after)
		out[n++] = w - after;
	if (n == 2 && out[1] < out[0]) {
		time_t t = out[0];
		out[0] = out[1];
		out[1] = t;
	}
	if (n == 0) {
		/* Binary search for the transition between the two readings. */
		time_t lo = w - (before > after ? before : after);
		time_t hi = w - (before > after ? after : before);

		while (hi - lo > 1) {
			time_t mid = lo + (hi - lo) / 2;

			if (gmtoff(mid) == before)
				lo = mid;
			else
				hi = mid;
		}
		*gap_end = hi;
	}
	return n;
}

static int
day_matches(const struct cron *c, const struct tm *day)
{
	int dom_ok = c->dom >> day->tm_mday & 1;
	int dow_ok = c->dow >> day->tm_wday & 1;

	if (!(c->month >> (day->tm_mon + 1) & 1))
		return 0;
	/* Classic cron: when both day fields are restricted, either matches. */
	if (!c->dom_star && !c->dow_star)
		return dom_ok || dow_ok;
	return dom_ok && dow_ok;
}

int
cron_next(const struct cron *c, const char *tz, time_t after, time_t *next)
{
	struct tm local, day;
	time_t day0, best = 0;
	int i, found_day = -1;

	use_tz(tz);
	localtime_r(&after, &local);
	/* Start a day early: a repeated hour can put the next firing at a
	 * local time before after's own. */
	memset(&day, 0, sizeof(day));
	day.tm_year = local.tm_year;
	day.tm_mon = local.tm_mon;
	day.tm_mday = local.tm_mday - 1;
	day0 = timegm(&day);
	/* Instants of one local day can interleave with the next day's around
	 * a transition, so the search goes one day past the first hit. */
	for (i = 0; i < SEARCH_DAYS && (found_day < 0 || i <= found_day + 1); i++) {
		time_t dstart = day0 + (time_t)i * 86400;
		int h, m;

		gmtime_r(&dstart, &day);
		if (!day_matches(c, &day))
			continue;
		for (h = 0; h < 24; h++) {
			if (!(c->hour >> h & 1))
				continue;
			for (m = 0; m < 60; m++) {
				time_t w = dstart + h * 3600 + m * 60, at[2], gap_end = 0;
				int n, k;

				if (!(c->minute >> m & 1) || w <= after - 15 * 3600)
					continue;
				n = local_instants(w, at, &gap_end);
				if (n == 0) {
					if (c->hour_star)
						continue;
					at[0] = gap_end;
					n = 1;
				} else if (n == 2 && !c->hour_star) {
					n = 1;
				}
				for (k = 0; k < n; k++)
					if (at[k] > after && (best == 0 || at[k] < best)) {
						best = at[k];
						if (found_day < 0)
							found_day = i;
					}
			}
		}
	}
	if (best == 0)
		return -1;
	*next = best;
	return 0;
}

long long
cron_interval(const char *s)
{
	char *end;
	long long n;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	n = strtoll(s, &end, 10);
	if (n <= 0 || n > 100000000)
		return -1;
	if (strcmp(end, "s") == 0)
		return n;
	if (strcmp(end, "m") == 0)
		return n * 60;
	if (strcmp(end, "h") == 0)
		return n * 3600;
	if (strcmp(end, "d") == 0)
		return n * 86400;
	return -1;
}
