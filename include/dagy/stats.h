/* Request counters of every dagy-api process of a host, for GET /metrics:
 * requests by route, method and status with a latency histogram, and the
 * process's MariaDB errors and reconnects. Each process owns one block of
 * a shared mapping (shm.h) and adds to it with relaxed atomics; a scrape
 * sums the blocks. No lock, no database write per request. A block whose
 * process has died is taken over by the next process with its counts, so
 * the sums never go down while the mapping lives. */
#ifndef DAGY_STATS_H
#define DAGY_STATS_H

#include <stdint.h>

#define STATS_MAX_ROUTES 511 /* route indexes 0..510; 511 counts unmatched */
#define STATS_UNMATCHED STATS_MAX_ROUTES
#define STATS_NSTATUS 30     /* see stats_status; the last is "other" */
#define STATS_NBUCKETS 11    /* finite latency bounds; +Inf is the count */

/* Upper bounds of the latency buckets, seconds. */
extern const double stats_bounds[STATS_NBUCKETS];

/* Maps path (or an anonymous mapping, shared with processes forked after
 * this call) for nroutes routes; layout is a hash of the route table, so
 * another binary's file is reset rather than misread. 0 or -1. */
int stats_open(const char *path, unsigned nroutes, uint64_t layout);
void stats_close(void);
/* Claims this process's block; call in each responder after any fork.
 * 0, or -1 when every block is held by a live process (counted nowhere). */
int stats_attach(void);

/* One answered request: route index (or STATS_UNMATCHED), HTTP status,
 * seconds from accept to the end of the response. */
void stats_request(unsigned route, int status, double seconds);
/* This process's MariaDB error and reconnect totals (db_counters). */
void stats_db(uint64_t errors, uint64_t reconnects);

/* The sums over all blocks, filled by stats_sum into caller memory. */
struct stats_route {
	uint64_t status[STATS_NSTATUS];
	uint64_t bucket[STATS_NBUCKETS]; /* per bucket, not cumulative */
	uint64_t count, sum_us;
};
struct stats_total {
	struct stats_route route[STATS_MAX_ROUTES + 1];
	uint64_t db_errors, db_reconnects;
	unsigned processes; /* blocks with a live process */
};
int stats_sum(struct stats_total *out);
/* The HTTP status counted at index i ("other" is 0). */
int stats_status(unsigned i);

#endif
