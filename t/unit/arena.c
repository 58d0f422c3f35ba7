/* The request arena: alignment, large blocks, printf, reset. */
#include <stdint.h>

#include "../tap.h"
#include "dagy/arena.h"

int
main(void)
{
	struct arena a = {0};
	char *big, *s;
	int i, aligned = 1;

	plan(6);
	for (i = 0; i < 1000; i++)
		if ((uintptr_t)arena_alloc(&a, (size_t)i % 13 + 1) % _Alignof(max_align_t) != 0)
			aligned = 0;
	ok(aligned, "allocations are aligned");
	big = arena_alloc(&a, 100000);
	memset(big, 'x', 100000);
	ok(big[99999] == 'x', "a block larger than a chunk");
	s = arena_printf(&a, "%s-%d", "run", 42);
	is_string("run-42", s, "printf");
	is_string("abc", arena_strndup(&a, "abcdef", 3), "strndup");
	ok(arena_strdup(&a, NULL) == NULL, "strdup of NULL");
	arena_reset(&a);
	s = arena_strdup(&a, "after reset");
	is_string("after reset", s, "usable after reset");
	arena_free(&a);
	return done_testing();
}
