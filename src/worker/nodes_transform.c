/* Transform nodes: schema_validator, data_normalizer, deduplicator, filter
 * and map. Each streams its input records file line by line into its own,
 * so memory stays at one record — except the deduplicator, which keeps 16
 * bytes of SHA-256 per distinct record (see doc/nodes.md). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dagy/crypto.h"
#include "dagy/jschema.h"
#include "nodes.h"

struct pass {
	json_t *job, *config;
	struct rec_out out, bad;
	long long in, dropped;
	json_t *schema;      /* schema_validator */
	const char *on_invalid;
	long long logged;
	uint8_t *set;        /* deduplicator: open addressing, 16-byte keys */
	size_t cap, used;
};

/* One record: 1 keep (written to out, possibly changed in place), 0 drop,
 * -1 fail the step. */
typedef int (*rec_fn)(struct pass *p, json_t **rec, long long lineno);

static int
each(struct pass *p, rec_fn fn)
{
	char path[1024], *line = NULL;
	size_t cap = 0;
	long long lineno = 0;
	json_t *rec;
	FILE *in;
	int rc = 1, got;

	if ((in = rec_input(p->job, path, sizeof(path))) == NULL) {
		rec_close(&p->bad, 0);
		return 1;
	}
	if (rec_open(p->job, "", &p->out) < 0)
		goto done;
	while ((got = rec_next(in, &line, &cap, &lineno, &rec)) > 0) {
		int keep;

		p->in++;
		keep = fn(p, &rec, lineno);
		if (keep > 0 && rec_write(&p->out, rec) < 0) {
			fprintf(stderr, "writing %s failed\n", p->out.tmp);
			keep = -1;
		}
		json_decref(rec);
		if (keep < 0)
			goto done;
		p->dropped += keep == 0;
	}
	if (got < 0)
		goto done;
	if (rec_close(&p->out, 1) < 0 || rec_close(&p->bad, 1) < 0)
		goto done;
	out_kv("records_path", "%s", p->out.path);
	out_kv("records", "%lld", p->out.n);
	out_kv("input_records", "%lld", p->in);
	out_kv("data_type", "json");
	{
		/* The step process's peak memory, for the record (doc/nodes.md). */
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			out_kv("max_rss_kb", "%ld", ru.ru_maxrss);
	}
	printf("%lld records in, %lld out\n", p->in, p->out.n);
	rc = 0;
done:
	rec_close(&p->out, 0);
	rec_close(&p->bad, 0);
	free(line);
	fclose(in);
	return rc;
}

static int
validate(struct pass *p, json_t **rec, long long lineno)
{
	char err[512];

	if (jschema_valid(p->schema, p->schema, *rec, err, sizeof(err)))
		return 1;
	if (p->logged++ < 10 || strcmp(p->on_invalid, "fail") == 0)
		fprintf(stderr, "record %lld (line %lld) is invalid: %s\n", p->in, lineno, err);
	if (strcmp(p->on_invalid, "fail") == 0)
		return -1;
	if (p->bad.f != NULL && rec_write(&p->bad, *rec) < 0)
		return -1;
	return 0;
}

static int
schema_validator(struct pass *p)
{
	char err[512];
	int rc;

	p->schema = json_object_get(p->config, "schema");
	p->on_invalid = json_string_value(json_object_get(p->config, "on_invalid"));
	if (p->on_invalid == NULL)
		p->on_invalid = "split";
	if (jschema_check(p->schema, err, sizeof(err)) < 0) {
		fprintf(stderr, "config.schema cannot be used: %s\n", err);
		return 1;
	}
	if (strcmp(p->on_invalid, "split") == 0 && rec_open(p->job, ".invalid", &p->bad) < 0)
		return 1;
	rc = each(p, validate);
	if (rc == 0) {
		out_kv("valid", "%lld", p->out.n);
		out_kv("invalid", "%lld", p->dropped);
		if (strcmp(p->on_invalid, "split") == 0)
			out_kv("invalid_path", "%s", p->bad.path);
	}
	return rc;
}

/* "FirstName", "first name", "First-Name" -> "first_name". */
static void
snake(const char *in, char *out, size_t n)
{
	size_t k = 0;
	const char *p;

	for (p = in; *p != '\0' && k + 2 < n; p++) {
		unsigned char ch = (unsigned char)*p;

		if (isupper(ch)) {
			if (k > 0 && out[k - 1] != '_' && p > in &&
			    (islower((unsigned char)p[-1]) || isdigit((unsigned char)p[-1])))
				out[k++] = '_';
			out[k++] = (char)tolower(ch);
		} else if (isalnum(ch) || ch >= 0x80) {
			out[k++] = (char)ch;
		} else if (k > 0 && out[k - 1] != '_') {
			out[k++] = '_';
		}
	}
	while (k > 0 && out[k - 1] == '_')
		k--;
	out[k] = '\0';
}

static json_t *
trimmed(json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return json_stringn(s, n);
}

static json_t *
lowered(json_t *v)
{
	char *s = strdup(json_string_value(v)), *q;
	json_t *out;

	for (q = s; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	out = json_string(s);
	free(s);
	return out;
}

static int
normalize(struct pass *p, json_t **rec, long long lineno)
{
	json_t *c = p->config, *out, *v, *lc;
	const char *key, *kc = json_string_value(json_object_get(c, "key_case"));
	int trim = !json_is_false(json_object_get(c, "trim"));
	int drop_nulls = json_is_true(json_object_get(c, "drop_nulls"));
	size_t i;

	(void)lineno;
	if (!json_is_object(*rec))
		return 1;
	out = json_object();
	json_object_foreach(*rec, key, v) {
		const char *name = json_string_value(json_object_get(json_object_get(c, "rename"), key));
		char nk[512];

		snprintf(nk, sizeof(nk), "%s", name != NULL ? name : key);
		if (kc != NULL && strcmp(kc, "snake") == 0) {
			char tmp[512];

			snake(nk, tmp, sizeof(tmp));
			snprintf(nk, sizeof(nk), "%s", tmp);
		} else if (kc != NULL && strcmp(kc, "lower") == 0) {
			char *q;

			for (q = nk; *q; q++)
				*q = (char)tolower((unsigned char)*q);
		}
		if (json_is_null(v) && drop_nulls)
			continue;
		json_object_set_new(out, nk, trim && json_is_string(v) ? trimmed(v) : json_incref(v));
	}
	json_array_foreach(json_object_get(c, "lowercase"), i, lc) {
		v = json_is_string(lc) ? json_object_get(out, json_string_value(lc)) : NULL;
		if (json_is_string(v))
			json_object_set_new(out, json_string_value(lc), lowered(v));
	}
	json_object_foreach(json_object_get(c, "defaults"), key, v)
		if (json_object_get(out, key) == NULL || json_is_null(json_object_get(out, key)))
			json_object_set(out, key, v);
	json_decref(*rec);
	*rec = out;
	return 1;
}

static int
data_normalizer(struct pass *p)
{
	return each(p, normalize);
}

/* Inserts a 16-byte key; 1 if it was new. Grows at 70% full. */
static int
set_add(struct pass *p, const uint8_t key[16])
{
	static const uint8_t zero[16];
	size_t i;

	if (p->used * 10 >= p->cap * 7) {
		size_t cap = p->cap ? p->cap * 2 : 1 << 16, k;
		uint8_t *n = calloc(cap, 16);

		for (k = 0; k < p->cap; k++) {
			uint8_t *e = p->set + k * 16;
			uint64_t h;

			if (memcmp(e, zero, 16) == 0)
				continue;
			memcpy(&h, e, 8);
			for (i = h & (cap - 1); memcmp(n + i * 16, zero, 16) != 0; i = (i + 1) & (cap - 1))
				;
			memcpy(n + i * 16, e, 16);
		}
		free(p->set);
		p->set = n;
		p->cap = cap;
	}
	{
		uint64_t h;

		memcpy(&h, key, 8);
		for (i = h & (p->cap - 1); memcmp(p->set + i * 16, zero, 16) != 0;
		    i = (i + 1) & (p->cap - 1))
			if (memcmp(p->set + i * 16, key, 16) == 0)
				return 0;
	}
	memcpy(p->set + i * 16, key, 16);
	p->used++;
	return 1;
}

static int
dedupe(struct pass *p, json_t **rec, long long lineno)
{
	json_t *keys = json_object_get(p->config, "keys"), *basis = *rec, *k;
	uint8_t sha[32], key[16];
	char *text;
	size_t i;

	(void)lineno;
	if (json_array_size(keys) > 0) {
		basis = json_array();
		json_array_foreach(keys, i, k) {
			json_t *v = json_is_string(k) ? cond_path(*rec, json_string_value(k)) : NULL;

			json_array_append(basis, v != NULL ? v : json_null());
		}
	}
	text = json_dumps(basis, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (basis != *rec)
		json_decref(basis);
	crypto_sha256(text, strlen(text), sha);
	free(text);
	memcpy(key, sha, 16);
	/* The all-zero key marks an empty slot; a digest that starts so is
	 * nudged (one bit of 128 lost, once in 2^128). */
	key[15] |= key[0] == 0 && key[1] == 0 ? 1 : 0;
	return set_add(p, key);
}

static int
deduplicator(struct pass *p)
{
	int rc = each(p, dedupe);

	if (rc == 0) {
		out_kv("duplicates", "%lld", p->dropped);
		out_kv("distinct", "%zu", p->used);
	}
	free(p->set);
	return rc;
}

static int
keep_if(struct pass *p, json_t **rec, long long lineno)
{
	char err[256];
	int r = cond_eval(json_object_get(p->config, "condition"), *rec, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "config.condition: %s (record on line %lld)\n", err, lineno);
	return r;
}

static int
filter(struct pass *p)
{
	int rc = each(p, keep_if);

	if (rc == 0)
		out_kv("dropped", "%lld", p->dropped);
	return rc;
}

static int
map_one(struct pass *p, json_t **rec, long long lineno)
{
	json_t *c = p->config, *out, *v, *f;
	const char *key;
	size_t i;

	(void)lineno;
	if (!json_is_object(*rec))
		return 1;
	out = json_deep_copy(*rec);
	json_object_foreach(json_object_get(c, "copy"), key, v) {
		json_t *src = json_is_string(v) ? cond_path(*rec, json_string_value(v)) : NULL;

		json_object_set(out, key, src != NULL ? src : json_null());
	}
	json_object_foreach(json_object_get(c, "set"), key, v) {
		if (json_is_string(v) && strstr(json_string_value(v), "{{") != NULL) {
			char *s = render(json_string_value(v), *rec);

			json_object_set_new(out, key, json_string(s));
			free(s);
		} else {
			json_object_set(out, key, v);
		}
	}
	if (json_object_get(c, "select") != NULL) {
		json_t *kept = json_object();

		json_array_foreach(json_object_get(c, "select"), i, f)
			if (json_is_string(f) && json_object_get(out, json_string_value(f)) != NULL)
				json_object_set(kept, json_string_value(f),
				    json_object_get(out, json_string_value(f)));
		json_decref(out);
		out = kept;
	}
	json_array_foreach(json_object_get(c, "drop"), i, f)
		if (json_is_string(f))
			json_object_del(out, json_string_value(f));
	json_decref(*rec);
	*rec = out;
	return 1;
}

static int
map(struct pass *p)
{
	return each(p, map_one);
}

int
nodes_transform(json_t *job)
{
	static const struct {
		const char *type;
		int (*fn)(struct pass *);
	} table[] = {
		{"schema_validator", schema_validator}, {"data_normalizer", data_normalizer},
		{"deduplicator", deduplicator}, {"filter", filter}, {"map", map},
	};
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));
	struct pass p;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.job = job;
	p.config = job_config(job);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].type, type) == 0)
			return table[i].fn(&p);
	return 2;
}
