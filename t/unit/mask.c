/* The stream masker: whole values, values split across writes and lines,
 * twice on a line, overlapping values, and what is held back. */
#include "../tap.h"
#include "dagy/mask.h"

/* Feeds the pieces to m one by one and returns all it let through. */
static char *
run(struct mask *m, const char *const *pieces)
{
	static char buf[4096];
	const char *out;
	size_t len = 0, n;

	for (; *pieces != NULL; pieces++) {
		n = mask_push(m, *pieces, strlen(*pieces), &out);
		memcpy(buf + len, out, n);
		len += n;
	}
	n = mask_flush(m, &out);
	memcpy(buf + len, out, n);
	buf[len + n] = '\0';
	return buf;
}

int
main(void)
{
	struct mask *m = mask_new(), *e = mask_new();
	const char *out;
	size_t n;

	plan(11);
	mask_add(m, "sk_live_123", 11);
	mask_add(m, "line1\nline2", 11);
	mask_add(m, "", 0);
	mask_add(m, "sk_live_123", 11);

	is_string("key=***\n", run(m, (const char *[]){"key=sk_live_123\n", NULL}), "a whole value");
	is_string("*** and *** again\n", run(m, (const char *[]){"sk_live_123 and sk_live_123 again\n", NULL}),
	    "twice on one line");
	is_string("key=***\n", run(m, (const char *[]){"key=sk_li", "ve_123\n", NULL}), "split across two writes");
	is_string("key=***!\n", run(m, (const char *[]){"key=s", "k", "_", "live_", "12", "3!\n", NULL}),
	    "split across many writes");
	is_string("a ***\nb\n", run(m, (const char *[]){"a line1\n", "line2\nb\n", NULL}),
	    "a value that spans a line boundary");
	is_string("sk_live_12\n", run(m, (const char *[]){"sk_live_12", "\n", NULL}),
	    "a prefix that does not complete is let through");
	is_string("sk_live", run(m, (const char *[]){"sk_live", NULL}), "held back bytes come out at the end");
	n = mask_push(m, "x sk_l", 6, &out);
	ok(n == 2 && memcmp(out, "x ", 2) == 0, "what could start a value waits");
	mask_flush(m, &out);

	mask_add(e, "abc", 3);
	mask_add(e, "abcdef", 6);
	is_string("[***]", run(e, (const char *[]){"[abcd", "ef]", NULL}),
	    "the longer value wins, even across writes");
	is_string("[***d]", run(e, (const char *[]){"[abcd]", NULL}), "the shorter one where the longer fails");
	{
		struct mask *none = mask_new();

		is_string("plain", run(none, (const char *[]){"pla", "in", NULL}), "no values: as is");
		mask_free(none);
	}
	mask_free(m);
	mask_free(e);
	return done_testing();
}
