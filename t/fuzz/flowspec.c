/* Fuzz target: flow specs through validation and canonicalisation, and
 * builder canvases through their check and conversion (src/lib/flowspec.c).
 * The canonical form must be a fixed point. Input: a JSON document. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/flowspec.h"
#include "fuzz.h"

static void
canonical(json_t *spec)
{
	struct flowspec_err e;
	json_t *c = flowspec_canonical(spec, 86400, &e), *again, *order;
	char h1[65], h2[65];

	if (c == NULL) {
		if (e.msg[0] == '\0')
			abort();
		return;
	}
	if ((again = flowspec_canonical(c, 86400, &e)) == NULL)
		abort();
	flowspec_hash(c, h1);
	flowspec_hash(again, h2);
	if (strcmp(h1, h2) != 0)
		abort();
	order = flowspec_order(c);
	if (json_array_size(order) != json_array_size(json_object_get(c, "nodes")))
		abort();
	json_decref(order);
	json_decref(again);
	json_decref(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct flowspec_err e;

	if (json_is_object(v)) {
		canonical(v);
		if (flowspec_check_canvas(v, &e) == 0) {
			json_t *spec = flowspec_from_canvas(v);

			canonical(spec);
			json_decref(spec);
		}
	}
	json_decref(v);
	return 0;
}
