/* Log lines go to stderr by default (journald and spawn-fcgi capture it);
 * tests swap the sink to capture them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dagy/log.h"

static const char *log_ident = "dagy";
static enum log_level log_min = LOG_LVL_INFO;
static log_sink_fn log_sink;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_init(const char *ident, enum log_level min)
{
	log_ident = ident;
	log_min = min;
}

void
log_set_sink(log_sink_fn sink)
{
	log_sink = sink;
}

int
log_to_file(const char *path)
{
	if (path == NULL || *path == '\0')
		return 0;
	if (freopen(path, "a", stderr) == NULL)
		return -1;
	setvbuf(stderr, NULL, _IOLBF, 0);
	return 0;
}

static void
log_emit(enum log_level lvl, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048];
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	if (lvl < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix != NULL) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", suffix);
	}
	if (log_sink != NULL) {
		log_sink(lvl, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%d] %s: %s\n", stamp, ts.tv_nsec / 1000000,
	    log_ident, (int)getpid(), level_names[lvl], msg);
}

#define LOG_FN(name, lvl)                                                     \
	void name(const char *fmt, ...)                                       \
	{                                                                     \
		va_list ap;                                                   \
		va_start(ap, fmt);                                            \
		log_emit(lvl, fmt, ap, NULL);                                 \
		va_end(ap);                                                   \
	}
LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_err, LOG_LVL_ERR)

void
log_syserr(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, fmt, ap, strerror(saved));
	va_end(ap);
}
