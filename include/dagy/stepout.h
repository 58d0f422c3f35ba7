/* The step output protocol: how a step hands values to later steps, as a
 * "::daggle-output name=KEY::VALUE" line on its stdout or a "KEY=VALUE"
 * line in the $DAGY_OUTPUT file. Parsers of a step's bytes, which come
 * from whatever the step runs: they never read past n, and fuzzed. */
#ifndef DAGY_STEPOUT_H
#define DAGY_STEPOUT_H

#include <stddef.h>

#define STEPOUT_KEY_MAX 128

struct stepout {
	const char *key, *value; /* within the line parsed, not terminated */
	size_t klen, vlen;
};

/* A stdout line (without its newline) that is a daggle-output marker with
 * a key of 1 to STEPOUT_KEY_MAX bytes: 1 and *o, else 0. */
int stepout_marker(const char *line, size_t n, struct stepout *o);
/* A $DAGY_OUTPUT line, its line end (\n, \r\n) ignored: 1 and *o when it
 * holds '=' after a key of 1 to STEPOUT_KEY_MAX bytes, else 0. */
int stepout_kv(const char *line, size_t n, struct stepout *o);

#endif
