/* Timestamps at the API's edge: RFC 3339 in (offsets and fractions, as
 * Python's isoformat() prints them), "…Z" and SQL DATETIME out. */
#ifndef DAGY_TS_H
#define DAGY_TS_H

#include <time.h>

/* Parses "2026-03-02T10:30:00Z", "…T10:30:00.123456+05:30", "… 10:30:00"
 * (UTC) or a bare date. Returns 0 with *t (and *usec if not NULL), or -1. */
int ts_parse(const char *s, time_t *t, long *usec);
/* "2026-03-02T10:30:00Z" */
void ts_rfc3339(time_t t, char out[32]);
/* "2026-03-02 10:30:00.000000", for DATETIME(6) parameters. */
void ts_sql(time_t t, long usec, char out[32]);

#endif
