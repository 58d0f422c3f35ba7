/* `dagy-worker --builtin`: the process of every built-in node step, its
 * job on stdin, so that timeouts, cancels and logs work as for any step.
 * http_fetch and webhook_post are here (libcurl): the response body goes
 * to stdout; status_code (and, for http_fetch, body when it is under 64
 * KiB) become outputs, and http_fetch with config.records also writes the
 * body as the step's records. The other node types go to their category's
 * file (nodes_*.c) by the table in builtin_main. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodes.h"
#include "worker.h"

#define BODY_OUTPUT_MAX 65536

struct sink {
	char *buf;
	size_t len;
	FILE *copy; /* the body for records, or NULL */
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink *k = arg;
	size_t bytes = size * n;

	fwrite(p, 1, bytes, stdout);
	if (k->copy != NULL)
		fwrite(p, 1, bytes, k->copy);
	if (k->len + bytes <= BODY_OUTPUT_MAX) {
		k->buf = realloc(k->buf, k->len + bytes + 1);
		memcpy(k->buf + k->len, p, bytes);
		k->len += bytes;
		k->buf[k->len] = '\0';
	} else {
		k->len = BODY_OUTPUT_MAX + 1;
	}
	return bytes;
}

/* job: {node, params, run_id, flow, step_id, timeout}, as the worker
 * wrote it. */
static int
builtin_http(json_t *job)
{
	json_t *node = json_object_get(job, "node"), *params = json_object_get(job, "params");
	json_t *config = json_object_get(node, "config"), *v, *body;
	const char *type = json_string_value(json_object_get(node, "type"));
	int webhook = type != NULL && strcmp(type, "webhook_post") == 0;
	const char *method = json_string_value(json_object_get(config, "method"));
	const char *key, *outpath = getenv("DAGY_OUTPUT");
	struct curl_slist *hdrs = NULL;
	struct sink sink = {NULL, 0, NULL};
	char bodypath[1024] = "";
	char *payload = NULL, errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	CURL *c;
	FILE *out;
	int ok;

	if ((c = curl_easy_init()) == NULL)
		return 2;
	curl_easy_setopt(c, CURLOPT_URL, json_string_value(json_object_get(config, "url")));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)json_integer_value(json_object_get(job, "timeout")));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dagy-worker");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	if (!webhook && json_is_true(json_object_get(config, "records"))) {
		const char *w = getenv("DAGY_WORKDIR");

		snprintf(bodypath, sizeof(bodypath), "%s/%s.body", w != NULL ? w : ".",
		    json_string_value(json_object_get(job, "step_id")));
		if ((sink.copy = fopen(bodypath, "w")) == NULL) {
			fprintf(stderr, "cannot write %s\n", bodypath);
			curl_easy_cleanup(c);
			return 1;
		}
	}
	json_object_foreach(json_object_get(config, "headers"), key, v) {
		char line[1024];

		if (json_is_string(v)) {
			snprintf(line, sizeof(line), "%s: %s", key, json_string_value(v));
			hdrs = curl_slist_append(hdrs, line);
		}
	}
	body = json_object_get(config, "body");
	if (webhook || body != NULL) {
		if (json_is_string(body))
			payload = strdup(json_string_value(body));
		else if (body != NULL)
			payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		else {
			json_t *def = json_pack("{s:O, s:O, s:O, s:O}", "run_id",
			    json_object_get(job, "run_id"), "flow", json_object_get(job, "flow"),
			    "step_id", json_object_get(job, "step_id"), "parameters", params);

			payload = json_dumps(def, JSON_COMPACT);
			json_decref(def);
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	}
	if (method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	fflush(stdout);
	if (rc != CURLE_OK) {
		fprintf(stderr, "%s %s failed: %s\n", webhook ? "webhook_post" : "http_fetch",
		    json_string_value(json_object_get(config, "url")),
		    *errbuf ? errbuf : curl_easy_strerror(rc));
		ok = 2;
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (outpath != NULL && (out = fopen(outpath, "w")) != NULL) {
		fprintf(out, "status_code=%ld\n", status);
		if (!webhook && sink.buf != NULL && sink.len <= BODY_OUTPUT_MAX &&
		    strchr(sink.buf, '\n') == NULL)
			fprintf(out, "body=%s\n", sink.buf);
		fclose(out);
	}
	ok = status >= 200 && status < 300 ? 0 : 1;
	if (ok != 0)
		fprintf(stderr, "HTTP status %ld\n", status);
	if (ok == 0 && sink.copy != NULL) {
		fclose(sink.copy);
		sink.copy = NULL;
		ok = ingest_file(job, bodypath, NULL);
	}
done:
	if (sink.copy != NULL)
		fclose(sink.copy);
	if (bodypath[0] != '\0')
		unlink(bodypath);
	fflush(stderr);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(payload);
	free(sink.buf);
	return ok;
}

int
builtin_main(void)
{
	json_error_t e;
	json_t *job = json_loadf(stdin, 0, &e);
	int rc;

	if (job == NULL) {
		fprintf(stderr, "dagy: bad built-in job: %s\n", e.text);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		json_decref(job);
		return 2;
	}
	{
		static const struct {
			const char *type;
			int (*fn)(json_t *job);
		} table[] = {
			{"http_fetch", builtin_http}, {"webhook_post", builtin_http},
			{"file_ingest", nodes_ingest},
			{"inline_records", nodes_ingest},
			{"s3_ingest", nodes_s3}, {"s3_write", nodes_s3},
			{"schema_validator", nodes_transform}, {"data_normalizer", nodes_transform},
			{"deduplicator", nodes_transform}, {"filter", nodes_transform},
			{"map", nodes_transform},
			{"llm_chat", nodes_llm}, {"llm_map", nodes_llm}, {"llm_classify", nodes_llm},
			{"llm_embed", nodes_llm},
			{"chroma_upsert", nodes_vectordb}, {"chroma_query", nodes_vectordb},
			{"chroma_delete", nodes_vectordb},
			{"email_send", nodes_notify}, {"slack_post", nodes_notify}, {"pagerduty_event", nodes_notify},
			{"branch", nodes_control}, {"fan_out", nodes_control},
			{"python_import", nodes_custom},
		};
		json_t *node = json_object_get(job, "node");
		const char *type = json_string_value(json_object_get(node, "type"));
		size_t i;

		rc = 2;
		for (i = 0; type != NULL && i < sizeof(table) / sizeof(table[0]); i++)
			if (strcmp(table[i].type, type) == 0)
				break;
		if (type != NULL && i < sizeof(table) / sizeof(table[0]))
			rc = table[i].fn(job);
		else if (json_object_get(node, "import_path") != NULL)
			rc = nodes_custom(job); /* an organization's custom node type */
		else
			fprintf(stderr, "dagy: no built-in node type '%s'\n", type != NULL ? type : "");
	}
	fflush(stdout);
	fflush(stderr);
	json_decref(job);
	curl_global_cleanup();
	return rc;
}
