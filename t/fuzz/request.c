/* Fuzz target: whole requests through dagy-api, above all JSON bodies
 * through the request validators (flow register, run trigger, schedule
 * create and the dialects' equivalents). Input: "METHOD URI\n" then the
 * body. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char *line, *sp;

	if (nl == NULL || (line = fuzz_str(data, (size_t)(nl - data))) == NULL)
		return 0;
	if ((sp = strchr(line, ' ')) != NULL && sp - line < 32 &&
	    strlen(sp + 1) < 8192) {
		*sp = '\0';
		fuzz_api_request(line, sp + 1, nl + 1, size - (size_t)(nl + 1 - data));
	}
	free(line);
	return 0;
}
