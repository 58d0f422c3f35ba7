/* Logging in remctl's shape: one call per severity, a swappable sink. */
#ifndef DAGY_LOG_H
#define DAGY_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

typedef void (*log_sink_fn)(enum log_level, const char *msg);

void log_init(const char *ident, enum log_level min);
void log_set_sink(log_sink_fn sink);
/* Sends stderr to path (appending) when path is not empty: spawn-fcgi
 * points a forked responder's stderr at /dev/null. Returns 0 or -1. */
int log_to_file(const char *path);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_err with ": strerror(errno)" appended. */
void log_syserr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
