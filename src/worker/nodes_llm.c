/* LLM nodes against an OpenAI-compatible API ([ai] base_url, api_key,
 * model, embedding_model): llm_chat, llm_map and llm_classify call
 * /chat/completions, llm_embed calls /embeddings. Calls retry on 429 and
 * 5xx honouring Retry-After (http_call); the tokens used are the step's
 * outputs prompt_tokens, completion_tokens and total_tokens. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodes.h"

struct llm {
	json_t *job, *config, *ai;
	char url[1024];
	const char *key, *model;
	long long prompt_tokens, completion_tokens, total_tokens, requests, retries;
};

static void
usage_add(struct llm *l, json_t *resp)
{
	json_t *u = json_object_get(resp, "usage");

	l->prompt_tokens += json_integer_value(json_object_get(u, "prompt_tokens"));
	l->completion_tokens += json_integer_value(json_object_get(u, "completion_tokens"));
	l->total_tokens += json_integer_value(json_object_get(u, "total_tokens"));
}

static void
usage_out(struct llm *l)
{
	out_kv("prompt_tokens", "%lld", l->prompt_tokens);
	out_kv("completion_tokens", "%lld", l->completion_tokens);
	out_kv("total_tokens", "%lld", l->total_tokens);
	out_kv("requests", "%lld", l->requests);
	out_kv("retries", "%lld", l->retries);
	out_kv("model", "%s", l->model);
}

/* POSTs body (stolen) to base_url + path; the parsed answer, or NULL
 * after saying why on stderr. */
static json_t *
post(struct llm *l, const char *path, json_t *body)
{
	struct http_call c;
	char url[1200];
	json_t *resp = NULL;
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "%s%s", l->url, path);
	c.url = url;
	c.bearer = l->key;
	c.body = text;
	c.timeout = (long)json_integer_value(json_object_get(l->ai, "timeout_seconds"));
	c.retries = (int)json_integer_value(json_object_get(l->ai, "max_retries"));
	if (http_call(&c) < 0) {
		fprintf(stderr, "%s: no answer\n", url);
	} else if (c.status < 200 || c.status > 299) {
		fprintf(stderr, "%s answered %ld: %.500s\n", url, c.status, c.resp != NULL ? c.resp : "");
	} else if ((resp = json_loadb(c.resp, c.resp_len, 0, NULL)) == NULL) {
		fprintf(stderr, "%s answered with a body that is not JSON\n", url);
	}
	l->requests++;
	l->retries += c.attempts > 0 ? c.attempts - 1 : 0;
	free(text);
	free(c.resp);
	return resp;
}

/* The assistant's text for one prompt (malloc'd), or NULL. */
static char *
chat(struct llm *l, const char *system, const char *prompt)
{
	json_t *msgs = json_array(), *body, *resp, *v;
	const char *text;
	char *out = NULL;

	if (system != NULL)
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system));
	json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", prompt));
	body = json_pack("{s:s, s:o}", "model", l->model, "messages", msgs);
	if ((v = json_object_get(l->config, "temperature")) != NULL)
		json_object_set(body, "temperature", v);
	if ((v = json_object_get(l->config, "max_tokens")) != NULL)
		json_object_set(body, "max_tokens", v);
	if ((resp = post(l, "/chat/completions", body)) == NULL)
		return NULL;
	usage_add(l, resp);
	text = json_string_value(cond_path(resp, "choices.0.message.content"));
	if (text == NULL)
		fprintf(stderr, "the answer has no choices[0].message.content\n");
	else
		out = strdup(text);
	json_decref(resp);
	return out;
}

/* {params, upstream}: what a llm_chat prompt's {{…}} may name. */
static json_t *
run_ctx(json_t *job)
{
	return json_pack("{s:O, s:O}", "params", json_object_get(job, "params"),
	    "upstream", json_object_get(job, "upstream"));
}

static int
llm_chat(struct llm *l)
{
	json_t *ctx = run_ctx(l->job);
	char *prompt = render(json_string_value(json_object_get(l->config, "prompt")), ctx);
	char *text = chat(l, json_string_value(json_object_get(l->config, "system")), prompt);
	const char *w = getenv("DAGY_WORKDIR");
	char path[1024];
	FILE *f;

	json_decref(ctx);
	free(prompt);
	if (text == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/%s.txt", w != NULL ? w : ".",
	    json_string_value(json_object_get(l->job, "step_id")));
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
		out_kv("text_path", "%s", path);
	}
	printf("%s\n", text);
	out_kv("response", "%.65000s", text);
	usage_out(l);
	free(text);
	return 0;
}

/* Runs fn over every input record into the step's records file. */
static int
over_records(struct llm *l, int (*fn)(struct llm *, json_t *rec))
{
	char path[1024], *line = NULL;
	size_t cap = 0;
	long long lineno = 0;
	struct rec_out o;
	json_t *rec;
	FILE *in = rec_input(l->job, path, sizeof(path));
	int rc = 1, got;

	if (in == NULL)
		return 1;
	if (rec_open(l->job, "", &o) < 0)
		goto done;
	while ((got = rec_next(in, &line, &cap, &lineno, &rec)) > 0) {
		int bad = !json_is_object(rec) || fn(l, rec) < 0;

		if (!bad)
			rec_write(&o, rec);
		json_decref(rec);
		if (bad)
			goto done;
	}
	if (got < 0 || rec_close(&o, 1) < 0)
		goto done;
	out_kv("records_path", "%s", o.path);
	out_kv("records", "%lld", o.n);
	out_kv("data_type", "json");
	usage_out(l);
	printf("%lld records, %lld tokens\n", o.n, l->total_tokens);
	rc = 0;
done:
	rec_close(&o, 0);
	free(line);
	fclose(in);
	return rc;
}

static int
map_one(struct llm *l, json_t *rec)
{
	const char *target = json_string_value(json_object_get(l->config, "target"));
	char *prompt = render(json_string_value(json_object_get(l->config, "prompt")), rec);
	char *text = chat(l, json_string_value(json_object_get(l->config, "system")), prompt);

	free(prompt);
	if (text == NULL)
		return -1;
	json_object_set_new(rec, target != NULL ? target : "llm_output", json_string(text));
	free(text);
	return 0;
}

static int
classify_one(struct llm *l, json_t *rec)
{
	json_t *labels = json_object_get(l->config, "labels"), *lab;
	const char *field = json_string_value(json_object_get(l->config, "field"));
	const char *target = json_string_value(json_object_get(l->config, "target"));
	json_t *v = cond_path(rec, field), *match = json_null();
	char *list = json_dumps(labels, JSON_COMPACT), *prompt, *text, *s, *e;
	size_t i;

	if (asprintf(&prompt, "Classify the text into exactly one of these labels: %s. "
	    "Answer with the label only.\n\nText: %s", list,
	    json_is_string(v) ? json_string_value(v) : "") < 0)
		prompt = NULL;
	free(list);
	text = prompt != NULL ? chat(l, NULL, prompt) : NULL;
	free(prompt);
	if (text == NULL)
		return -1;
	/* The answer, trimmed of space, quotes and a final full stop. */
	for (s = text; *s && (isspace((unsigned char)*s) || *s == '"' || *s == '\''); s++)
		;
	for (e = s + strlen(s); e > s && (isspace((unsigned char)e[-1]) || e[-1] == '"' ||
	    e[-1] == '\'' || e[-1] == '.'); e--)
		;
	*e = '\0';
	json_array_foreach(labels, i, lab)
		if (json_is_string(lab) && strcasecmp(json_string_value(lab), s) == 0)
			match = lab;
	if (json_is_null(match))
		fprintf(stderr, "answer '%.200s' is none of the labels; %s is null\n", s,
		    target != NULL ? target : "label");
	json_object_set(rec, target != NULL ? target : "label", match);
	free(text);
	return 0;
}

/* llm_embed sends texts in batches; the batch's records wait in memory. */
static int
llm_embed(struct llm *l)
{
	const char *field = json_string_value(json_object_get(l->config, "field"));
	const char *target = json_string_value(json_object_get(l->config, "target"));
	json_int_t batch = json_integer_value(json_object_get(l->config, "batch_size"));
	char path[1024], *line = NULL;
	size_t cap = 0, i;
	long long lineno = 0;
	struct rec_out o;
	json_t *rec, *pending = json_array();
	FILE *in = rec_input(l->job, path, sizeof(path));
	int rc = 1, got = 1;

	if (batch <= 0 || batch > 2048)
		batch = 64;
	if (in == NULL) {
		json_decref(pending);
		return 1;
	}
	if (rec_open(l->job, "", &o) < 0)
		goto done;
	while (got > 0) {
		json_t *texts, *resp, *data;

		got = rec_next(in, &line, &cap, &lineno, &rec);
		if (got < 0)
			goto done;
		if (got > 0) {
			if (!json_is_object(rec)) {
				json_decref(rec);
				fprintf(stderr, "line %lld is not an object\n", lineno);
				goto done;
			}
			json_array_append_new(pending, rec);
		}
		if (json_array_size(pending) == 0 ||
		    (got > 0 && (json_int_t)json_array_size(pending) < batch))
			continue;
		texts = json_array();
		json_array_foreach(pending, i, rec) {
			json_t *v = cond_path(rec, field);

			json_array_append_new(texts, json_string(json_is_string(v) ?
			    json_string_value(v) : ""));
		}
		resp = post(l, "/embeddings", json_pack("{s:s, s:o}", "model", l->model, "input", texts));
		if (resp == NULL)
			goto done;
		usage_add(l, resp);
		data = json_object_get(resp, "data");
		json_array_foreach(pending, i, rec) {
			json_t *d, *vec = NULL;
			size_t k;

			/* Answers carry their index; do not trust their order. */
			json_array_foreach(data, k, d)
				if ((size_t)json_integer_value(json_object_get(d, "index")) == i)
					vec = json_object_get(d, "embedding");
			if (!json_is_array(vec)) {
				fprintf(stderr, "the answer has no embedding for input %zu\n", i);
				json_decref(resp);
				goto done;
			}
			json_object_set(rec, target != NULL ? target : "embedding", vec);
			rec_write(&o, rec);
		}
		json_decref(resp);
		json_array_clear(pending);
	}
	if (rec_close(&o, 1) < 0)
		goto done;
	out_kv("records_path", "%s", o.path);
	out_kv("records", "%lld", o.n);
	out_kv("data_type", "json");
	usage_out(l);
	printf("%lld records embedded\n", o.n);
	rc = 0;
done:
	json_decref(pending);
	rec_close(&o, 0);
	free(line);
	fclose(in);
	return rc;
}

static int
llm_map(struct llm *l)
{
	return over_records(l, map_one);
}

static int
llm_classify(struct llm *l)
{
	return over_records(l, classify_one);
}

int
nodes_llm(json_t *job)
{
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));
	const char *base;
	struct llm l;
	size_t n;

	memset(&l, 0, sizeof(l));
	l.job = job;
	l.config = job_config(job);
	l.ai = json_object_get(job, "ai");
	base = json_string_value(json_object_get(l.ai, "base_url"));
	if (base == NULL || *base == '\0') {
		fprintf(stderr, "[ai] base_url is not set\n");
		return 1;
	}
	snprintf(l.url, sizeof(l.url), "%s", base);
	n = strlen(l.url);
	while (n > 0 && l.url[n - 1] == '/')
		l.url[--n] = '\0';
	/* A key the node's env hands over (e.g. {"AI_API_KEY": {"secret": …}})
	 * wins over [ai] api_key. */
	l.key = getenv("AI_API_KEY");
	if (l.key == NULL || *l.key == '\0')
		l.key = json_string_value(json_object_get(l.ai, "api_key"));
	l.model = json_string_value(json_object_get(l.config, "model"));
	if (l.model == NULL)
		l.model = json_string_value(json_object_get(l.ai, strcmp(type, "llm_embed") == 0 ?
		    "embedding_model" : "model"));
	if (l.model == NULL)
		l.model = "";
	if (strcmp(type, "llm_chat") == 0)
		return llm_chat(&l);
	if (strcmp(type, "llm_map") == 0)
		return llm_map(&l);
	if (strcmp(type, "llm_classify") == 0)
		return llm_classify(&l);
	if (strcmp(type, "llm_embed") == 0)
		return llm_embed(&l);
	return 2;
}
