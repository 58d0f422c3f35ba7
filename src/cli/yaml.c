/* Flow files in YAML, read with libyaml's event parser into jansson
 * values, so a flow pushed from YAML is the same request as from JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli.h"

/* A plain scalar as YAML 1.2's core schema types it. */
static json_t *
scalar(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	char *end;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, ev->data.scalar.length);
	if (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return json_false();
	errno = 0;
	{
		long long v = strtoll(s, &end, 10);

		if (*end == '\0' && errno == 0)
			return json_integer(v);
	}
	{
		double d = strtod(s, &end);

		if (*end == '\0' && end != s && strspn(s, "+-.0123456789eE") == strlen(s))
			return json_real(d);
	}
	return json_stringn(s, ev->data.scalar.length);
}

/* Parses the value whose first event is ev; NULL on error. */
static json_t *
value(yaml_parser_t *p, yaml_event_t *ev, char *err, size_t errlen)
{
	json_t *v = NULL, *k;
	yaml_event_t e;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return scalar(ev);
	case YAML_ALIAS_EVENT:
		snprintf(err, errlen, "line %zu: aliases are not supported",
		    ev->start_mark.line + 1);
		return NULL;
	case YAML_SEQUENCE_START_EVENT:
		v = json_array();
		for (;;) {
			if (!yaml_parser_parse(p, &e))
				goto syntax;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				return v;
			}
			k = value(p, &e, err, errlen);
			yaml_event_delete(&e);
			if (k == NULL)
				goto fail;
			json_array_append_new(v, k);
		}
	case YAML_MAPPING_START_EVENT:
		v = json_object();
		for (;;) {
			json_t *item;

			if (!yaml_parser_parse(p, &e))
				goto syntax;
			if (e.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&e);
				return v;
			}
			if (e.type != YAML_SCALAR_EVENT) {
				snprintf(err, errlen, "line %zu: a mapping key must be a scalar",
				    e.start_mark.line + 1);
				yaml_event_delete(&e);
				goto fail;
			}
			k = json_string((const char *)e.data.scalar.value);
			if (k != NULL && json_object_get(v, json_string_value(k)) != NULL) {
				snprintf(err, errlen, "line %zu: key '%s' given twice",
				    e.start_mark.line + 1, json_string_value(k));
				yaml_event_delete(&e);
				json_decref(k);
				goto fail;
			}
			yaml_event_delete(&e);
			if (!yaml_parser_parse(p, &e))
				goto syntax_k;
			item = value(p, &e, err, errlen);
			yaml_event_delete(&e);
			if (item == NULL || k == NULL) {
				json_decref(item);
				json_decref(k);
				goto fail;
			}
			json_object_set_new(v, json_string_value(k), item);
			json_decref(k);
		}
	default:
		snprintf(err, errlen, "line %zu: unexpected YAML event", ev->start_mark.line + 1);
		return NULL;
	}
syntax_k:
	json_decref(k);
syntax:
	snprintf(err, errlen, "line %zu: %s", p->problem_mark.line + 1,
	    p->problem != NULL ? p->problem : "syntax error");
fail:
	json_decref(v);
	return NULL;
}

json_t *
yaml_load_file(const char *path, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	json_t *doc = NULL;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	/* Skip the stream and document starts to the first value. */
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "line %zu: %s", p.problem_mark.line + 1,
			    p.problem != NULL ? p.problem : "syntax error");
			goto done;
		}
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		break;
	}
	if (ev.type == YAML_STREAM_END_EVENT)
		snprintf(err, errlen, "the file is empty");
	else
		doc = value(&p, &ev, err, errlen);
	yaml_event_delete(&ev);
done:
	yaml_parser_delete(&p);
	fclose(f);
	return doc;
}
