/* Fuzz target: next_token decoding (src/lib/page.c). The input is tried
 * as a token, and as a JSON key that must survive encode and decode. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/page.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena arena;
	const struct config *cfg = fuzz_config();
	char *s = fuzz_str(data, size);
	json_t *key, *back;

	if (s == NULL)
		return 0;
	json_decref(page_decode(cfg, s));
	key = json_loadb((const char *)data, size, 0, NULL);
	if (json_is_array(key)) {
		const char *token = page_encode(cfg, &arena, key);

		/* Tokens over 4096 bytes are refused; sort keys are far shorter. */
		back = page_decode(cfg, token);
		if (strlen(token) <= 4096 ? !json_equal(key, back) : back != NULL)
			abort();
		json_decref(back);
	}
	json_decref(key);
	arena_reset(&arena);
	free(s);
	return 0;
}
