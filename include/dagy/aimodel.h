/* One call of an OpenAI-compatible chat-completions endpoint over libcurl,
 * whole or streamed (Server-Sent Events from the model, each content
 * delta handed to a callback as it arrives). Used by AI Studio turns,
 * which the spec makes synchronous. */
#ifndef DAGY_AIMODEL_H
#define DAGY_AIMODEL_H

#include <jansson.h>
#include <stddef.h>

enum aimodel_err {
	AIMODEL_EHTTP = -70,    /* no answer, or an HTTP error status */
	AIMODEL_EPROTO = -71,   /* an answer that is not chat completions */
	AIMODEL_EABORT = -72,   /* a callback asked to stop (client gone) */
};

struct aimodel_req {
	const char *base_url; /* ".../v1"; "/chat/completions" is appended */
	const char *key;      /* bearer key, or NULL/"" for none */
	const char *model;
	long timeout_seconds;
	json_t *messages;     /* borrowed */
	int json_mode;        /* ask for response_format json_object */
	/* Streaming when set: each content delta; nonzero stops the call. */
	int (*on_delta)(void *arg, const char *text, size_t n);
	/* Called about every second while waiting; nonzero stops the call. */
	int (*on_idle)(void *arg);
	void *arg;
};

/* Sends the request; 0 with *content (malloc'd, the caller frees) and
 * *tokens (total tokens the model reported, 0 when it did not), or an
 * aimodel_err with err saying why (never the key). */
int aimodel_chat(const struct aimodel_req *q, char **content, long *tokens,
    char *err, size_t errlen);

#endif
