/* The step output protocol's line parsers (stepout.h). */
#include <string.h>

#include "dagy/stepout.h"

static const char MARKER[] = "::daggle-output name=";
#define MARKER_LEN (sizeof(MARKER) - 1)

int
stepout_marker(const char *line, size_t n, struct stepout *o)
{
	const char *k, *sep;

	if (n <= MARKER_LEN || memcmp(line, MARKER, MARKER_LEN) != 0)
		return 0;
	k = line + MARKER_LEN;
	if ((sep = memmem(k, n - MARKER_LEN, "::", 2)) == NULL)
		return 0;
	o->key = k;
	o->klen = (size_t)(sep - k);
	o->value = sep + 2;
	o->vlen = n - (size_t)(o->value - line);
	return o->klen > 0 && o->klen <= STEPOUT_KEY_MAX;
}

int
stepout_kv(const char *line, size_t n, struct stepout *o)
{
	const char *eq;

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if ((eq = memchr(line, '=', n)) == NULL)
		return 0;
	o->key = line;
	o->klen = (size_t)(eq - line);
	o->value = eq + 1;
	o->vlen = n - o->klen - 1;
	return o->klen > 0 && o->klen <= STEPOUT_KEY_MAX;
}
