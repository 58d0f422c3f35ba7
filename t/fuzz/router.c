/* Fuzz target: the router over dagy-api's real route table, and the
 * path parameters it decodes. Input: "METHOD PATH". */
#include <stdlib.h>
#include <string.h>

#include "../../src/api/api.h"
#include "api.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server *srv = fuzz_api_server();
	struct router_match m;
	enum dialect d;
	char *s = fuzz_str(data, size), *sp, allow[128];
	unsigned i;

	if (s == NULL)
		return 0;
	if ((sp = strchr(s, ' ')) == NULL)
		goto done;
	*sp = '\0';
	switch (router_match(srv->rt, s, sp + 1, &m, allow, sizeof(allow), &d)) {
	case ROUTER_OK:
		/* Every parameter is one decoded, non-empty segment. */
		for (i = 0; i < m.nparams; i++)
			if (m.names[i] == NULL || m.values[i] == NULL ||
			    m.values[i] < sp + 1 || m.values[i] >= s + size)
				abort();
		break;
	case ROUTER_EMETHOD:
		if (allow[0] == '\0' || strlen(allow) >= sizeof(allow))
			abort();
		break;
	case ROUTER_ENOTFOUND:
		break;
	default:
		abort();
	}
done:
	free(s);
	return 0;
}
