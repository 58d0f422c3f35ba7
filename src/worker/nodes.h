/* Built-in node types run by `dagy-worker --builtin`: each category's
 * entry point and the helpers they share (records files, outputs,
 * conditions, HTTP with retries). A step's records pass between nodes as
 * JSON Lines files in the run's workspace ($DAGY_WORKDIR), named by the
 * `records_path` output, so no node holds a whole data set in memory. */
#ifndef DAGY_WORKER_NODES_H
#define DAGY_WORKER_NODES_H

#include <jansson.h>
#include <stdio.h>

#include "dagy/cond.h"

/* Every entry point takes the job ({node, params, run_id, flow, step_id,
 * timeout, upstream, ai}) and returns the step's exit status: 0 success,
 * 1 the node's own failure (said on stderr), 2 a bad job. */
int nodes_transform(json_t *job);
int nodes_ingest(json_t *job);
int nodes_llm(json_t *job);
int nodes_vectordb(json_t *job);
int nodes_notify(json_t *job);
int nodes_control(json_t *job);
int nodes_custom(json_t *job);
int nodes_s3(json_t *job);

/* nodes_ingest.c: a JSON Lines file, or a JSON document (format "json",
 * or NULL: by its first character), as the step's records. */
int ingest_file(json_t *job, const char *path, const char *format);

/* nodes_io.c */
struct rec_out {
	FILE *f;
	char path[1024], tmp[1040];
	long long n;
};
/* The step's input records: config.input (relative to the workspace), else
 * the records_path of its first upstream step that has one. Opened, or
 * NULL after saying why on stderr. */
FILE *rec_input(json_t *job, char *path, size_t pathsz);
/* Reads the next record (an object or any JSON value) into *rec (a new
 * reference): 1, 0 at the end, -1 on a line that is not JSON (said on
 * stderr, with its line number). Blank lines are skipped. */
int rec_next(FILE *in, char **line, size_t *cap, long long *lineno, json_t **rec);
/* Opens $DAGY_WORKDIR/<step_id><suffix>.jsonl for writing (a temporary
 * name, renamed by rec_close). 0 or -1. */
int rec_open(json_t *job, const char *suffix, struct rec_out *o);
int rec_write(struct rec_out *o, json_t *rec);
/* Renames the file into place (commit 1) or removes it (0). 0 or -1. */
int rec_close(struct rec_out *o, int commit);
/* Appends key=value to $DAGY_OUTPUT; newlines in value become spaces. */
void out_kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces each {{path}} in tpl by the value at path in ctx (strings as
 * they are, other values as JSON, missing ones as ""). malloc'd. */
char *render(const char *tpl, json_t *ctx);
/* The node's config (borrowed, never NULL: an empty object is kept). */
json_t *job_config(json_t *job);

/* An HTTP exchange with retries on 429 and 5xx (honouring Retry-After,
 * else exponential backoff from 0.5 s) and on connection failures. */
struct http_call {
	const char *url, *bearer;   /* bearer may be NULL */
	const char *body;           /* JSON text POSTed, or NULL for GET */
	long timeout;               /* seconds per attempt */
	int retries;                /* attempts after the first */
	/* results */
	long status;
	char *resp;                 /* malloc'd body (at most 64 MiB kept) */
	size_t resp_len;
	int attempts;
};
/* 0 when a response arrived (any status), -1 when none did. */
int http_call(struct http_call *c);

#endif
