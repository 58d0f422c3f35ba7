/* Best-effort wake-ups from the API to the workers: each worker binds a
 * datagram socket in [worker] wake_dir; the API sends one byte to each
 * after queueing a run, a cancel or a decision. Workers poll anyway. The
 * byte says what changed, so that a queued run costs the worker one claim
 * and not also a look at every run it holds and at the schedules. */
#ifndef DAGY_WAKE_H
#define DAGY_WAKE_H

/* Binds dir/worker-<pid>.sock; returns the non-blocking fd or -1. The
 * path is written to path (at least 108 bytes). */
int wake_listen(const char *dir, char *path);
#define WAKE_RUNS 1      /* runs were queued: claim */
#define WAKE_HELD 2      /* held runs changed (cancel, decision): check them */
#define WAKE_SCHEDULES 4 /* schedules changed: recompute the next slot */
#define WAKE_ALERTS 8    /* alerts were queued: send them */
#define WAKE_ALL 15

/* Sends a wake-up of kinds (WAKE_*) to every worker socket in dir; never
 * fails. */
void wake_send(const char *dir, int kinds);
/* Reads and discards pending wake-ups; returns the union of their kinds,
 * 0 if there were none. A byte of no known kinds means all. */
int wake_drain(int fd);

#endif
