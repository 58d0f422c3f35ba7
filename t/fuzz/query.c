/* Fuzz target: query strings, form- and %-decoding, limit and next_token
 * (src/api/http.c, compiled in). Input: the query string. */
#include <stdlib.h>
#include <string.h>

#include "../../src/api/api.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena arena;
	static struct server srv;
	struct req r;
	json_t *after = NULL;
	char *s = fuzz_str(data, size);
	int limit;
	unsigned i;

	if (s == NULL)
		return 0;
	srv.cfg = (struct config *)fuzz_config();
	memset(&r, 0, sizeof(r));
	r.srv = &srv;
	r.arena = arena;
	r.query = s;
	r.dialect = DIALECT_DAGY;
	if (req_check_params(&r) == 0) {
		for (i = 0; i < r.nq; i++)
			if (*r.qnames[i] == '\0' || req_query(&r, r.qnames[i]) != r.qvalues[i])
				abort();
		if (req_page(&r, 50, 200, &limit, &after) == 0 &&
		    (limit < 1 || limit > 200))
			abort();
	}
	if (r.responded && r.status != 400)
		abort();
	json_decref(after);
	json_decref(r.resp);
	arena = r.arena;
	arena_reset(&arena);
	free(s);
	return 0;
}
