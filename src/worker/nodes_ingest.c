/* Ingestion nodes that read local data into a records file: file_ingest
 * (JSON Lines streamed; a JSON document loaded whole; CSV streamed, RFC
 * 4180 quoting) and inline_records. http_fetch (builtin.c) hands its
 * body to ingest_file when config.records is set. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"

static int
finish(struct rec_out *o)
{
	if (rec_close(o, 1) < 0)
		return 1;
	out_kv("records_path", "%s", o->path);
	out_kv("records", "%lld", o->n);
	out_kv("data_type", "json");
	printf("%lld records\n", o->n);
	return 0;
}

int
ingest_file(json_t *job, const char *path, const char *format)
{
	struct rec_out o;
	FILE *in = fopen(path, "r");
	int rc = 1, ch;

	if (in == NULL) {
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (rec_open(job, "", &o) < 0)
		goto done;
	/* Without a format: a document opening with '[' is one JSON array. */
	if (format == NULL) {
		while ((ch = fgetc(in)) == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			;
		format = ch == '[' ? "json" : "jsonl";
		rewind(in);
	}
	if (strcmp(format, "json") == 0) {
		json_error_t e;
		json_t *doc = json_loadf(in, JSON_DECODE_ANY, &e), *v;
		size_t i;

		if (doc == NULL) {
			fprintf(stderr, "%s is not JSON: line %d: %s\n", path, e.line, e.text);
			goto done;
		}
		if (json_is_array(doc)) {
			json_array_foreach(doc, i, v)
				rec_write(&o, v);
		} else {
			rec_write(&o, doc);
		}
		json_decref(doc);
	} else {
		char *line = NULL;
		size_t cap = 0;
		long long lineno = 0;
		json_t *rec;
		int got;

		while ((got = rec_next(in, &line, &cap, &lineno, &rec)) > 0) {
			rec_write(&o, rec);
			json_decref(rec);
		}
		free(line);
		if (got < 0)
			goto done;
	}
	rc = finish(&o);
done:
	rec_close(&o, 0);
	fclose(in);
	return rc;
}

static const char *
local_path(json_t *job, char *buf, size_t n)
{
	const char *p = json_string_value(json_object_get(job_config(job), "path"));
	const char *w = getenv("DAGY_WORKDIR");

	if (p[0] == '/')
		return p;
	snprintf(buf, n, "%s/%s", w != NULL ? w : ".", p);
	return buf;
}

/* One CSV record (fields may hold quoted newlines) into *fields (a new
 * array of strings): 1, 0 at the end of the file, -1 on a bad quote. */
static int
csv_record(FILE *in, int delim, json_t **fields, long long *lineno)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int ch, quoted = 0, started = 0, any = 0;

#define PUTC(c) do {                                                          \
		if (len + 2 > cap)                                            \
			buf = realloc(buf, cap = cap ? cap * 2 : 256);        \
		buf[len++] = (char)(c);                                       \
	} while (0)
	*fields = json_array();
	for (;;) {
		ch = fgetc(in);
		if (ch == EOF) {
			if (quoted) {
				free(buf);
				return -1;
			}
			break;
		}
		any = 1;
		if (quoted) {
			if (ch == '"') {
				int next = fgetc(in);

				if (next == '"') {
					PUTC('"');
					continue;
				}
				quoted = 0;
				if (next == EOF)
					break;
				ch = next;
			} else {
				if (ch == '\n')
					(*lineno)++;
				PUTC(ch);
				continue;
			}
		}
		if (ch == '"' && !started) {
			quoted = started = 1;
			continue;
		}
		if (ch == delim || ch == '\n') {
			json_array_append_new(*fields, json_stringn(buf != NULL ? buf : "", len));
			len = 0;
			started = 0;
			if (ch == '\n') {
				(*lineno)++;
				free(buf);
				return 1;
			}
			continue;
		}
		if (ch == '\r')
			continue;
		started = 1;
		PUTC(ch);
	}
#undef PUTC
	if (any)
		json_array_append_new(*fields, json_stringn(buf != NULL ? buf : "", len));
	free(buf);
	return any;
}

static int
csv_ingest(json_t *job)
{
	const char *d = json_string_value(json_object_get(job_config(job), "delimiter"));
	char buf[1024];
	const char *path = local_path(job, buf, sizeof(buf));
	json_t *header = NULL, *fields;
	long long lineno = 0;
	struct rec_out o;
	FILE *in;
	int rc = 1, got;

	if (d != NULL && strlen(d) != 1) {
		fprintf(stderr, "config.delimiter must be one character\n");
		return 1;
	}
	if ((in = fopen(path, "r")) == NULL) {
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (rec_open(job, "", &o) < 0)
		goto done;
	while ((got = csv_record(in, d != NULL ? d[0] : ',', &fields, &lineno)) > 0) {
		json_t *rec;
		size_t i;

		if (header == NULL) {
			header = fields;
			continue;
		}
		if (json_array_size(fields) == 1 && json_string_length(json_array_get(fields, 0)) == 0) {
			json_decref(fields);
			continue; /* a blank line */
		}
		rec = json_object();
		for (i = 0; i < json_array_size(header); i++)
			json_object_set(rec, json_string_value(json_array_get(header, i)),
			    i < json_array_size(fields) ? json_array_get(fields, i) : json_null());
		json_decref(fields);
		rec_write(&o, rec);
		json_decref(rec);
	}
	if (got < 0) {
		json_decref(fields);
		fprintf(stderr, "%s: unterminated quote near line %lld\n", path, lineno + 1);
		goto done;
	}
	json_decref(fields);
	rc = finish(&o);
done:
	json_decref(header);
	rec_close(&o, 0);
	fclose(in);
	return rc;
}

static int
inline_records(json_t *job)
{
	json_t *v;
	struct rec_out o;
	size_t i;

	if (rec_open(job, "", &o) < 0)
		return 1;
	json_array_foreach(json_object_get(job_config(job), "records"), i, v)
		rec_write(&o, v);
	return finish(&o);
}

int
nodes_ingest(json_t *job)
{
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));
	char buf[1024];

	if (strcmp(type, "file_ingest") == 0) {
		const char *format = json_string_value(json_object_get(job_config(job), "format"));

		if (format != NULL && strcmp(format, "csv") == 0)
			return csv_ingest(job);
		return ingest_file(job, local_path(job, buf, sizeof(buf)), format);
	}
	if (strcmp(type, "inline_records") == 0)
		return inline_records(job);
	return 2;
}
