/* Cron expressions (5 fields, names, ranges, steps, lists, @macros) and
 * their next firing in an IANA time zone. Daylight saving: a fixed local
 * time that does not exist fires once at the first instant after the gap;
 * one that occurs twice fires at its first occurrence; when the hour field
 * is "*" the schedule follows real time (skips the gap, fires twice in the
 * repeated hour). */
#ifndef DAGY_CRON_H
#define DAGY_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cron {
	uint64_t minute;      /* bits 0-59 */
	uint32_t hour;        /* bits 0-23 */
	uint32_t dom;         /* bits 1-31 */
	uint16_t month;       /* bits 1-12 */
	uint8_t dow;          /* bits 0-6, Sunday = 0 */
	unsigned dom_star : 1, dow_star : 1, hour_star : 1;
};

/* 0, or -1 with err saying which field is wrong and why. */
int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);
/* The first firing strictly after `after`, in zone tz ("UTC" or an IANA
 * name). Returns 0, or -1 when there is none within 10 years. */
int cron_next(const struct cron *c, const char *tz, time_t after, time_t *next);
/* 1 when tz names a zone of the system tzdata. */
int cron_tz_valid(const char *tz);
/* Parses an interval such as "90s", "30m", "2h", "1d"; seconds or -1. */
long long cron_interval(const char *s);

#endif
