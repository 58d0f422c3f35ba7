/* The fuzz targets' shared set-up: configuration and quiet logging. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dagy/config.h"
#include "dagy/log.h"
#include "fuzz.h"

static void
no_log(enum log_level lvl, const char *msg)
{
	(void)lvl;
	(void)msg;
}

const struct config *
fuzz_config(void)
{
	static struct config *cfg;
	char path[] = "/tmp/dagy-fuzz-XXXXXX", err[256];
	FILE *f;
	int fd;

	if (cfg != NULL)
		return cfg;
	log_set_sink(no_log);
	if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fputs("[database]\nhost = localhost\nsocket = /nonexistent/dagy-fuzz.sock\n"
	    "connect_timeout = 1\n[api]\ncursor_secret = fuzz\n"
	    "[worker]\nwake_dir = /nonexistent/dagy-fuzz-wake\n", f);
	fclose(f);
	if (config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz config: %s\n", err);
		abort();
	}
	unlink(path);
	return cfg;
}

char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s;

	if (memchr(data, '\0', size) != NULL)
		return NULL;
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
