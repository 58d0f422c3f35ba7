/* Vector DB nodes against Chroma's HTTP API (v2): chroma_upsert and
 * chroma_query stream the input records in batches (only a batch is held
 * in memory), chroma_delete removes ids. The collection is looked up by
 * name in config.tenant / config.database (Chroma's defaults otherwise);
 * upsert creates it when missing. */
#include <stdlib.h>
#include <string.h>

#include "nodes.h"

struct chroma {
	json_t *job, *config;
	char base[1200];     /* …/api/v2/tenants/T/databases/D/collections */
	char id[128];        /* the collection's id */
	long timeout;
};

static const char *
cfg_str(struct chroma *c, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(c->config, key));

	return v != NULL && *v != '\0' ? v : def;
}

/* POSTs body (stolen; NULL: GET) to base + path; the parsed answer (a new
 * reference) on 2xx, else NULL after saying why. *status is the status. */
static json_t *
call(struct chroma *c, const char *path, json_t *body, long *status)
{
	struct http_call h;
	char url[1500];
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t *resp = NULL;

	json_decref(body);
	memset(&h, 0, sizeof(h));
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	h.url = url;
	h.body = text;
	h.timeout = c->timeout;
	h.retries = 3;
	*status = 0;
	if (http_call(&h) < 0) {
		fprintf(stderr, "%s: no answer\n", url);
	} else if ((*status = h.status) < 200 || h.status > 299) {
		if (h.status != 404)
			fprintf(stderr, "%s answered %ld: %.300s\n", url, h.status,
			    h.resp != NULL ? h.resp : "");
	} else if ((resp = json_loadb(h.resp != NULL ? h.resp : "", h.resp_len,
	    JSON_DECODE_ANY, NULL)) == NULL) {
		fprintf(stderr, "%s answered with a body that is not JSON\n", url);
	}
	free(text);
	free(h.resp);
	return resp;
}

/* Finds the collection (creating it when create is set): 0 or -1. */
static int
collection(struct chroma *c, int create)
{
	const char *name = cfg_str(c, "collection", "");
	char path[600];
	json_t *r;
	long status;

	snprintf(path, sizeof(path), "/%s", name);
	r = call(c, path, NULL, &status);
	if (r == NULL && status == 404 && create)
		r = call(c, "", json_pack("{s:s, s:b}", "name", name, "get_or_create", 1), &status);
	if (r == NULL) {
		if (status == 404)
			fprintf(stderr, "no collection '%s' in Chroma\n", name);
		return -1;
	}
	snprintf(c->id, sizeof(c->id), "%s", json_string_value(json_object_get(r, "id")) ?
	    json_string_value(json_object_get(r, "id")) : "");
	json_decref(r);
	if (c->id[0] == '\0') {
		fprintf(stderr, "Chroma gave collection '%s' no id\n", name);
		return -1;
	}
	out_kv("collection_id", "%s", c->id);
	return 0;
}

/* An id as Chroma wants it: a string (numbers are written out). */
static json_t *
id_of(json_t *v)
{
	if (json_is_string(v))
		return json_incref(v);
	if (json_is_integer(v))
		return json_sprintf("%lld", (long long)json_integer_value(v));
	return NULL;
}

/* Sends one batch of records: upsert (ids, embeddings, documents,
 * metadatas) or query (query_embeddings). 0 or -1. */
static int
upsert_batch(struct chroma *c, json_t *batch)
{
	const char *idf = cfg_str(c, "id_field", "id"), *ef = cfg_str(c, "embedding_field", "embedding");
	const char *df = cfg_str(c, "document_field", NULL);
	json_t *mf = json_object_get(c->config, "metadata_fields");
	json_t *ids = json_array(), *embs = json_array(), *docs = json_array(), *metas = json_array();
	json_t *rec, *body, *r;
	char path[200];
	size_t i, k;
	long status;

	json_array_foreach(batch, i, rec) {
		json_t *id = id_of(cond_path(rec, idf)), *e = cond_path(rec, ef), *m, *f;

		if (id == NULL || !json_is_array(e)) {
			fprintf(stderr, "record %zu of the batch lacks a string or integer '%s' or an "
			    "array '%s'\n", i, idf, ef);
			json_decref(id);
			json_decref(ids), json_decref(embs), json_decref(docs), json_decref(metas);
			return -1;
		}
		json_array_append_new(ids, id);
		json_array_append(embs, e);
		if (df != NULL) {
			json_t *d = cond_path(rec, df);

			json_array_append_new(docs, json_is_string(d) ? json_incref(d) : json_null());
		}
		m = json_object();
		json_array_foreach(mf, k, f) {
			json_t *v = json_is_string(f) ? cond_path(rec, json_string_value(f)) : NULL;

			/* Chroma's metadata values are scalars. */
			if (v != NULL && (json_is_string(v) || json_is_number(v) || json_is_boolean(v)))
				json_object_set(m, json_string_value(f), v);
		}
		json_array_append_new(metas, json_object_size(m) > 0 ? m : (json_decref(m), json_null()));
	}
	body = json_pack("{s:o, s:o}", "ids", ids, "embeddings", embs);
	if (df != NULL)
		json_object_set_new(body, "documents", docs);
	else
		json_decref(docs);
	if (json_array_size(mf) > 0)
		json_object_set_new(body, "metadatas", metas);
	else
		json_decref(metas);
	snprintf(path, sizeof(path), "/%s/upsert", c->id);
	r = call(c, path, body, &status);
	json_decref(r);
	return r != NULL ? 0 : -1;
}

static int
query_batch(struct chroma *c, json_t *batch, struct rec_out *o)
{
	const char *ef = cfg_str(c, "embedding_field", "embedding");
	const char *target = cfg_str(c, "target", "matches");
	json_t *n = json_object_get(c->config, "n_results"), *where = json_object_get(c->config, "where");
	json_t *q = json_array(), *rec, *body, *r;
	char path[200];
	size_t i;
	long status;

	json_array_foreach(batch, i, rec) {
		json_t *e = cond_path(rec, ef);

		if (!json_is_array(e)) {
			fprintf(stderr, "record %zu of the batch has no array '%s'\n", i, ef);
			json_decref(q);
			return -1;
		}
		json_array_append(q, e);
	}
	body = json_pack("{s:o, s:I, s:[sss]}", "query_embeddings", q, "n_results",
	    n != NULL ? json_integer_value(n) : (json_int_t)3, "include", "documents", "metadatas",
	    "distances");
	if (where != NULL)
		json_object_set(body, "where", where);
	snprintf(path, sizeof(path), "/%s/query", c->id);
	if ((r = call(c, path, body, &status)) == NULL)
		return -1;
	json_array_foreach(batch, i, rec) {
		json_t *ids = json_array_get(json_object_get(r, "ids"), i), *matches = json_array(), *id;
		size_t k;

		json_array_foreach(ids, k, id) {
			json_t *d = json_array_get(json_array_get(json_object_get(r, "documents"), i), k);
			json_t *m = json_array_get(json_array_get(json_object_get(r, "metadatas"), i), k);
			json_t *dist = json_array_get(json_array_get(json_object_get(r, "distances"), i), k);

			json_array_append_new(matches, json_pack("{s:O, s:O, s:O, s:O}", "id", id,
			    "distance", dist != NULL ? dist : json_null(),
			    "document", d != NULL ? d : json_null(), "metadata", m != NULL ? m : json_null()));
		}
		json_object_set_new(rec, target, matches);
		rec_write(o, rec);
	}
	json_decref(r);
	return 0;
}

/* Streams the input records to fn in batches; query results are written
 * to the step's records. */
static int
batches(struct chroma *c, int query)
{
	json_int_t size = json_integer_value(json_object_get(c->config, "batch_size"));
	char path[1024], *line = NULL;
	size_t cap = 0;
	long long lineno = 0, sent = 0;
	json_t *batch = json_array(), *rec;
	struct rec_out o;
	FILE *in = rec_input(c->job, path, sizeof(path));
	int rc = 1, got = 1;

	memset(&o, 0, sizeof(o));
	if (size <= 0 || size > 1000)
		size = 100;
	if (in == NULL || collection(c, !query) < 0 || (query && rec_open(c->job, "", &o) < 0))
		goto done;
	while (got > 0) {
		if ((got = rec_next(in, &line, &cap, &lineno, &rec)) < 0)
			goto done;
		if (got > 0) {
			if (!json_is_object(rec)) {
				fprintf(stderr, "line %lld is not an object\n", lineno);
				json_decref(rec);
				goto done;
			}
			json_array_append_new(batch, rec);
		}
		if (json_array_size(batch) == 0 || (got > 0 && (json_int_t)json_array_size(batch) < size))
			continue;
		if ((query ? query_batch(c, batch, &o) : upsert_batch(c, batch)) < 0)
			goto done;
		sent += (long long)json_array_size(batch);
		json_array_clear(batch);
	}
	if (query) {
		if (rec_close(&o, 1) < 0)
			goto done;
		out_kv("records_path", "%s", o.path);
		out_kv("records", "%lld", o.n);
		out_kv("data_type", "json");
		printf("%lld queries answered\n", sent);
	} else {
		out_kv("upserted", "%lld", sent);
		printf("%lld records upserted into %s\n", sent, cfg_str(c, "collection", ""));
	}
	rc = 0;
done:
	rec_close(&o, 0);
	json_decref(batch);
	free(line);
	if (in != NULL)
		fclose(in);
	return rc;
}

static int
chroma_delete(struct chroma *c)
{
	json_t *ids = json_object_get(c->config, "ids"), *list = json_array(), *v, *r;
	char path[200];
	size_t i;
	long status;

	json_array_foreach(ids, i, v)
		if ((v = id_of(v)) != NULL)
			json_array_append_new(list, v);
	if (ids == NULL) {
		char p[1024], *line = NULL;
		size_t cap = 0;
		long long lineno = 0;
		FILE *in = rec_input(c->job, p, sizeof(p));
		json_t *rec;
		int got;

		if (in == NULL) {
			json_decref(list);
			return 1;
		}
		while ((got = rec_next(in, &line, &cap, &lineno, &rec)) > 0) {
			if ((v = id_of(cond_path(rec, cfg_str(c, "id_field", "id")))) != NULL)
				json_array_append_new(list, v);
			json_decref(rec);
		}
		free(line);
		fclose(in);
		if (got < 0) {
			json_decref(list);
			return 1;
		}
	}
	if (collection(c, 0) < 0) {
		json_decref(list);
		return 1;
	}
	out_kv("deleted", "%zu", json_array_size(list));
	snprintf(path, sizeof(path), "/%s/delete", c->id);
	r = call(c, path, json_pack("{s:o}", "ids", list), &status);
	json_decref(r);
	return r != NULL ? 0 : 1;
}

int
nodes_vectordb(json_t *job)
{
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));
	struct chroma c;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.job = job;
	c.config = job_config(job);
	c.timeout = (long)json_integer_value(json_object_get(job, "timeout"));
	snprintf(c.base, sizeof(c.base), "%s", cfg_str(&c, "url", ""));
	n = strlen(c.base);
	while (n > 0 && c.base[n - 1] == '/')
		c.base[--n] = '\0';
	snprintf(c.base + n, sizeof(c.base) - n, "/api/v2/tenants/%s/databases/%s/collections",
	    cfg_str(&c, "tenant", "default_tenant"), cfg_str(&c, "database", "default_database"));
	if (strcmp(type, "chroma_upsert") == 0)
		return batches(&c, 0);
	if (strcmp(type, "chroma_query") == 0)
		return batches(&c, 1);
	if (strcmp(type, "chroma_delete") == 0)
		return chroma_delete(&c);
	return 2;
}
