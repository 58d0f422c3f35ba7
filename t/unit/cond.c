/* Conditions of filter and branch nodes: each op, numbers in strings,
 * combinators, dotted paths, and malformed conditions refused. */
#include "../tap.h"
#include "dagy/cond.h"

static const struct {
	const char *cond;
	int want;
} cases[] = {
	{"{\"field\": \"age\", \"op\": \"gte\", \"value\": 18}", 1},
	{"{\"field\": \"age\", \"op\": \"gt\", \"value\": 30}", 0},
	{"{\"field\": \"count\", \"op\": \"gt\", \"value\": 9}", 1},   /* "10" > 9 as numbers */
	{"{\"field\": \"count\", \"op\": \"eq\", \"value\": 10}", 1},
	{"{\"field\": \"name\", \"op\": \"eq\", \"value\": \"Ann\"}", 1},
	{"{\"field\": \"name\", \"op\": \"ne\", \"value\": \"Bob\"}", 1},
	{"{\"field\": \"name\", \"op\": \"lt\", \"value\": \"Bob\"}", 1},
	{"{\"field\": \"name\", \"op\": \"contains\", \"value\": \"nn\"}", 1},
	{"{\"field\": \"tags\", \"op\": \"contains\", \"value\": \"b\"}", 1},
	{"{\"field\": \"tags\", \"op\": \"contains\", \"value\": \"z\"}", 0},
	{"{\"field\": \"name\", \"op\": \"in\", \"value\": [\"Ann\", \"Bob\"]}", 1},
	{"{\"field\": \"name\", \"op\": \"not_in\", \"value\": [\"Ann\"]}", 0},
	{"{\"field\": \"addr.city\", \"op\": \"eq\", \"value\": \"Oslo\"}", 1},
	{"{\"field\": \"tags.1\", \"op\": \"eq\", \"value\": \"b\"}", 1},
	{"{\"field\": \"nothing\", \"op\": \"missing\"}", 1},
	{"{\"field\": \"none\", \"op\": \"missing\"}", 1},
	{"{\"field\": \"age\", \"op\": \"exists\"}", 1},
	{"{\"field\": \"nothing\", \"op\": \"eq\", \"value\": null}", 0},
	{"{\"field\": \"age\", \"op\": \"gt\", \"value\": \"x\"}", 0},
	{"{\"all\": [{\"field\": \"age\", \"op\": \"gt\", \"value\": 1},"
	    " {\"field\": \"name\", \"op\": \"eq\", \"value\": \"Ann\"}]}", 1},
	{"{\"any\": [{\"field\": \"age\", \"op\": \"gt\", \"value\": 99},"
	    " {\"field\": \"name\", \"op\": \"eq\", \"value\": \"Ann\"}]}", 1},
	{"{\"not\": {\"field\": \"name\", \"op\": \"eq\", \"value\": \"Ann\"}}", 0},
	{"{\"field\": \"age\", \"op\": \"between\", \"value\": 1}", -1},
	{"{\"field\": \"name\", \"op\": \"in\", \"value\": \"Ann\"}", -1},
	{"{\"op\": \"eq\", \"value\": 1}", -1},
	{"{\"all\": []}", -1},
	{"[1]", -1},
};

int
main(void)
{
	json_t *ctx = json_loads("{\"age\": 30, \"count\": \"10\", \"name\": \"Ann\","
	    " \"tags\": [\"a\", \"b\"], \"addr\": {\"city\": \"Oslo\"}, \"none\": null}", 0, NULL);
	size_t n = sizeof(cases) / sizeof(cases[0]), i;
	char err[256];

	plan((int)n);
	for (i = 0; i < n; i++) {
		json_t *c = json_loads(cases[i].cond, JSON_DECODE_ANY, NULL);
		int checked = cond_check(c, err, sizeof(err));
		int got = checked < 0 ? -1 : cond_eval(c, ctx, err, sizeof(err));

		ok(got == cases[i].want, "%s -> %d", cases[i].cond, got);
		json_decref(c);
	}
	json_decref(ctx);
	return tap_failed != 0;
}
