/* The worker's figures for GET /metrics, read from MariaDB at scrape time
 * through indexes only: runs waiting and running, the queue's oldest run,
 * live workers, overdue schedules, pending alert deliveries, and what
 * runs, steps and deliveries did in the last window seconds (counts and
 * histograms). The work is bounded by
 * the rows that changed in the window plus two queries per organization,
 * whatever the tables hold. */
#ifndef DAGY_GAUGES_H
#define DAGY_GAUGES_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

#define GAUGES_NBOUNDS 12

/* Delivery outcomes counted, in gauges' arrays' order. */
#define GAUGES_DELIVERY_ENDED 2 /* delivered, failed */
extern const char *const gauges_delivery_ended[GAUGES_DELIVERY_ENDED];

/* Upper bounds of every histogram here, seconds. */
extern const double gauges_bounds[GAUGES_NBOUNDS];

struct gauges_hist {
	uint64_t le[GAUGES_NBOUNDS]; /* cumulative, as Prometheus wants */
	uint64_t count;
	double sum;
};

/* The run and step statuses counted, in gauges' arrays' order. */
#define GAUGES_RUN_ACTIVE 3   /* created, queued, running */
#define GAUGES_RUN_ENDED 3    /* completed, failed, cancelled */
#define GAUGES_STEP_ENDED 5   /* success, failed, skipped, cancelled, rejected */
extern const char *const gauges_run_active[GAUGES_RUN_ACTIVE];
extern const char *const gauges_run_ended[GAUGES_RUN_ENDED];
extern const char *const gauges_step_ended[GAUGES_STEP_ENDED];

struct gauges {
	int64_t runs[GAUGES_RUN_ACTIVE];
	double oldest_queued; /* seconds; 0 when none waits */
	int64_t workers_alive, schedules_overdue;
	double schedule_overdue_max; /* seconds past the most overdue slot */
	int64_t deliveries_pending;  /* alert deliveries waiting for an attempt */
	/* In the window: */
	int64_t runs_ended[GAUGES_RUN_ENDED];
	int64_t steps_started, steps_ended[GAUGES_STEP_ENDED];
	int64_t deliveries_ended[GAUGES_DELIVERY_ENDED];
	struct gauges_hist step_duration, claim_to_start, schedule_lateness;
};

/* Fills g. window: seconds looked back; lease: seconds after which a
 * worker without a heartbeat is dead. 0 or a db_err. */
int gauges_read(struct db *db, struct arena *a, int64_t window, int64_t lease,
    struct gauges *g);

#endif
