/* The worker's background threads (alert sender, sensor poller, project
 * syncer): each has its own database connection and keyring, so it never
 * waits on the executor's, and runs passes until the worker stops it. */
#ifndef DAGY_WORKER_BGTHREAD_H
#define DAGY_WORKER_BGTHREAD_H

#include <pthread.h>

struct config;
struct db;
struct secrets_keyring;
struct worker;

struct bgthread {
	const char *what;            /* for the log: "the sender of alerts" */
	const struct config *cfg;
	const char *name;            /* the worker's */
	struct db *db;
	struct secrets_keyring *keys;
	/* One pass; returns how many ms to sleep before the next (0: at
	 * once). A poke or a stop ends the sleep early. */
	int (*pass)(struct bgthread *t);
	pthread_t thread;
	pthread_mutex_t mu;
	int quit;
	int efd;
};

/* Starts a thread running pass; NULL (logged) when it cannot. */
struct bgthread *bg_start(struct worker *w, const char *what, int (*pass)(struct bgthread *));
/* Whether the thread is asked to stop: a pass checks it between items. */
int bg_quitting(struct bgthread *t);
/* Ends the thread's sleep now (t may be NULL). */
void bg_poke(struct bgthread *t);
/* Stops the thread, waits for its pass to end and frees it. */
void bg_stop(struct bgthread **t);

#endif
