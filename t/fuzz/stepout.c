/* Fuzz target: the step output protocol (src/lib/stepout.c). Each line of
 * the input is parsed as a stdout marker and as a $DAGY_OUTPUT line, from
 * a copy of exactly its bytes, so a read past the line is caught. */
#include <stdlib.h>
#include <string.h>

#include "dagy/stepout.h"
#include "fuzz.h"

/* What a parser found lies within the line, key before value. */
static void
check(const char *line, size_t n, const struct stepout *o)
{
	if (o->klen == 0 || o->klen > STEPOUT_KEY_MAX || o->key < line ||
	    o->value < o->key + o->klen || o->value + o->vlen > line + n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t at = 0;

	while (at < size) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t n = nl != NULL ? (size_t)(nl - (data + at)) + 1 : size - at;
		char *line = malloc(n > 0 ? n : 1);
		struct stepout o;

		memcpy(line, data + at, n);
		/* stdout lines come without their newline. */
		if (stepout_marker(line, n > 0 && line[n - 1] == '\n' ? n - 1 : n, &o))
			check(line, n, &o);
		if (stepout_kv(line, n, &o)) {
			check(line, n, &o);
			if (memchr(o.key, '=', o.klen) != NULL)
				abort();
		}
		free(line);
		at += n;
	}
	return 0;
}
