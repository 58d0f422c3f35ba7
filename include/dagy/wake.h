/* Best-effort wake-ups from the API to the workers: each worker binds a
 * datagram socket in [worker] wake_dir; the API sends one byte to each
 * after queueing a run, a cancel or a decision. Workers poll anyway. */
#ifndef DAGY_WAKE_H
#define DAGY_WAKE_H

/* Binds dir/worker-<pid>.sock; returns the non-blocking fd or -1. The
 * path is written to path (at least 108 bytes). */
int wake_listen(const char *dir, char *path);
/* Sends a wake-up to every worker socket in dir; never fails. */
void wake_all(const char *dir);
/* Reads and discards pending wake-ups; returns how many there were. */
int wake_drain(int fd);

#endif
