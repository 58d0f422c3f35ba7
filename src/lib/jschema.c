/* JSON Schema draft 2020-12 validation. Supported: type, enum, const,
 * the numeric, string, array and object assertions, properties,
 * patternProperties, additionalProperties, propertyNames, dependentRequired,
 * dependentSchemas, items, prefixItems, contains with minContains and
 * maxContains, allOf, anyOf, oneOf, not, if/then/else, $defs and $ref to
 * "#…" JSON pointers; format and the other annotations are ignored as the
 * draft allows. pattern uses POSIX extended regular expressions, which
 * agree with ECMA-262 on the common subset (classes, anchors, groups,
 * alternation, repetition) but have no \d, \w or lookaround. */
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/jschema.h"

static const char *const unsupported[] = {"$dynamicRef", "$dynamicAnchor",
	"$recursiveRef", "unevaluatedProperties", "unevaluatedItems", NULL};

/* Compiled patterns, kept for the process: a validator sees the same few
 * patterns for every record. When full, slots are reused in turn; a
 * pattern is used at once after lookup, so reuse never pulls one from
 * under a caller. */
static struct {
	char *src;
	regex_t re;
	int ok;
} re_cache[64];
static int re_n, re_next;

static regex_t *
pattern(const char *src)
{
	int i;

	for (i = 0; i < re_n; i++)
		if (strcmp(re_cache[i].src, src) == 0)
			return re_cache[i].ok ? &re_cache[i].re : NULL;
	if (re_n < 64) {
		i = re_n++;
	} else {
		i = re_next;
		re_next = (re_next + 1) % 64;
		free(re_cache[i].src);
		if (re_cache[i].ok)
			regfree(&re_cache[i].re);
	}
	re_cache[i].src = strdup(src);
	re_cache[i].ok = regcomp(&re_cache[i].re, src, REG_EXTENDED | REG_NOSUB) == 0;
	return re_cache[i].ok ? &re_cache[i].re : NULL;
}

static int
check_at(json_t *s, const char *where, char *err, size_t errsz, int depth)
{
	const char *key;
	json_t *v, *sub;
	size_t i;
	char w[512];

	if (depth > 64) {
		snprintf(err, errsz, "%s: nested too deeply", where);
		return -1;
	}
	if (json_is_boolean(s))
		return 0;
	if (!json_is_object(s)) {
		snprintf(err, errsz, "%s: a schema must be an object or a boolean", where);
		return -1;
	}
	json_object_foreach(s, key, v) {
		for (i = 0; unsupported[i] != NULL; i++)
			if (strcmp(unsupported[i], key) == 0) {
				snprintf(err, errsz, "%s: %s is not supported", where, key);
				return -1;
			}
		snprintf(w, sizeof(w), "%s/%s", where, key);
		if (strcmp(key, "$ref") == 0 && (!json_is_string(v) || json_string_value(v)[0] != '#')) {
			snprintf(err, errsz, "%s: only local references (\"#…\") are supported", w);
			return -1;
		}
		if ((strcmp(key, "type") == 0 && !json_is_string(v) && !json_is_array(v)) ||
		    ((strcmp(key, "enum") == 0 || strcmp(key, "required") == 0 ||
		    strcmp(key, "allOf") == 0 || strcmp(key, "anyOf") == 0 ||
		    strcmp(key, "oneOf") == 0 || strcmp(key, "prefixItems") == 0) && !json_is_array(v)) ||
		    ((strcmp(key, "properties") == 0 || strcmp(key, "patternProperties") == 0 ||
		    strcmp(key, "$defs") == 0 || strcmp(key, "definitions") == 0 ||
		    strcmp(key, "dependentRequired") == 0 ||
		    strcmp(key, "dependentSchemas") == 0) && !json_is_object(v)) ||
		    ((strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0 ||
		    strcmp(key, "exclusiveMinimum") == 0 || strcmp(key, "exclusiveMaximum") == 0) &&
		    !json_is_number(v)) ||
		    (strcmp(key, "multipleOf") == 0 && (!json_is_number(v) || json_number_value(v) <= 0)) ||
		    ((strcmp(key, "minLength") == 0 || strcmp(key, "maxLength") == 0 ||
		    strcmp(key, "minItems") == 0 || strcmp(key, "maxItems") == 0 ||
		    strcmp(key, "minProperties") == 0 || strcmp(key, "maxProperties") == 0 ||
		    strcmp(key, "minContains") == 0 || strcmp(key, "maxContains") == 0) &&
		    (!json_is_integer(v) || json_integer_value(v) < 0))) {
			snprintf(err, errsz, "%s: has the wrong type of value", w);
			return -1;
		}
		if (strcmp(key, "pattern") == 0 && (!json_is_string(v) || pattern(json_string_value(v)) == NULL)) {
			snprintf(err, errsz, "%s: not a regular expression this validator understands", w);
			return -1;
		}
		if (strcmp(key, "type") == 0) {
			static const char *const types[] = {"null", "boolean", "object", "array",
				"number", "string", "integer", NULL};
			json_t *t;
			size_t k, j;

			for (k = 0; k < (json_is_array(v) ? json_array_size(v) : 1); k++) {
				t = json_is_array(v) ? json_array_get(v, k) : v;
				for (j = 0; types[j] != NULL && (!json_is_string(t) ||
				    strcmp(types[j], json_string_value(t)) != 0); j++)
					;
				if (types[j] == NULL) {
					snprintf(err, errsz, "%s: unknown type", w);
					return -1;
				}
			}
		}
		/* Subschemas. */
		if (strcmp(key, "properties") == 0 || strcmp(key, "patternProperties") == 0 ||
		    strcmp(key, "$defs") == 0 || strcmp(key, "definitions") == 0 ||
		    strcmp(key, "dependentSchemas") == 0) {
			const char *k2;

			json_object_foreach(v, k2, sub) {
				char w2[600];

				if (strcmp(key, "patternProperties") == 0 && pattern(k2) == NULL) {
					snprintf(err, errsz, "%s: '%s' is not a regular expression this "
					    "validator understands", w, k2);
					return -1;
				}
				snprintf(w2, sizeof(w2), "%s/%s", w, k2);
				if (check_at(sub, w2, err, errsz, depth + 1) < 0)
					return -1;
			}
		} else if (strcmp(key, "allOf") == 0 || strcmp(key, "anyOf") == 0 ||
		    strcmp(key, "oneOf") == 0 || strcmp(key, "prefixItems") == 0) {
			json_array_foreach(v, i, sub) {
				char w2[600];

				snprintf(w2, sizeof(w2), "%s/%zu", w, i);
				if (check_at(sub, w2, err, errsz, depth + 1) < 0)
					return -1;
			}
		} else if (strcmp(key, "items") == 0 || strcmp(key, "additionalProperties") == 0 ||
		    strcmp(key, "not") == 0 || strcmp(key, "if") == 0 || strcmp(key, "then") == 0 ||
		    strcmp(key, "else") == 0 || strcmp(key, "contains") == 0 ||
		    strcmp(key, "propertyNames") == 0) {
			if (check_at(v, w, err, errsz, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

int
jschema_check(json_t *schema, char *err, size_t errsz)
{
	return check_at(schema, "#", err, errsz, 0);
}

/* Equality as JSON Schema means it: 1 and 1.0 are the same number. */
static int
equal(json_t *a, json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_is_array(a) && json_is_array(b)) {
		size_t i;

		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!equal(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	}
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;

		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach(a, k, v)
			if (json_object_get(b, k) == NULL || !equal(v, json_object_get(b, k)))
				return 0;
		return 1;
	}
	return json_equal(a, b);
}

static int
type_is(json_t *inst, const char *t)
{
	if (strcmp(t, "null") == 0)
		return json_is_null(inst);
	if (strcmp(t, "boolean") == 0)
		return json_is_boolean(inst);
	if (strcmp(t, "object") == 0)
		return json_is_object(inst);
	if (strcmp(t, "array") == 0)
		return json_is_array(inst);
	if (strcmp(t, "string") == 0)
		return json_is_string(inst);
	if (strcmp(t, "number") == 0)
		return json_is_number(inst);
	if (strcmp(t, "integer") == 0)
		return json_is_integer(inst) || (json_is_real(inst) &&
		    floor(json_real_value(inst)) == json_real_value(inst) &&
		    isfinite(json_real_value(inst)));
	return 0;
}

/* Code points of a UTF-8 string (jansson holds only valid UTF-8). */
static size_t
length(json_t *s)
{
	const unsigned char *p = (const unsigned char *)json_string_value(s);
	size_t n = 0, i, len = json_string_length(s);

	for (i = 0; i < len; i++)
		n += (p[i] & 0xC0) != 0x80;
	return n;
}

/* Resolves "#/a/b~1c" in root. */
static json_t *
resolve(json_t *root, const char *ref)
{
	json_t *v = root;
	const char *p = ref + 1;
	char part[256];

	while (v != NULL && *p == '/') {
		size_t n = 0;

		p++;
		while (*p != '\0' && *p != '/' && n + 1 < sizeof(part)) {
			if (p[0] == '~' && p[1] == '0') {
				part[n++] = '~';
				p += 2;
			} else if (p[0] == '~' && p[1] == '1') {
				part[n++] = '/';
				p += 2;
			} else {
				part[n++] = *p++;
			}
		}
		part[n] = '\0';
		if (json_is_object(v)) {
			v = json_object_get(v, part);
		} else if (json_is_array(v)) {
			char *end;
			long i = strtol(part, &end, 10);

			v = *part && *end == '\0' && i >= 0 ? json_array_get(v, (size_t)i) : NULL;
		} else {
			v = NULL;
		}
	}
	return *p == '\0' ? v : NULL;
}

struct ctx {
	json_t *root;
	char *err;
	size_t errsz;
	int depth;
	int quiet; /* inside anyOf/oneOf/not/if: failures are not the answer */
};

static int valid(struct ctx *c, json_t *s, json_t *inst, const char *at);

static int
no(struct ctx *c, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
no(struct ctx *c, const char *at, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	if (c->quiet)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errsz, "%s: %s", *at ? at : "/", what);
	return 0;
}

static int
quietly(struct ctx *c, json_t *s, json_t *inst, const char *at)
{
	int r;

	c->quiet++;
	r = valid(c, s, inst, at);
	c->quiet--;
	return r;
}

static void
child_at(char *out, size_t n, const char *at, const char *key)
{
	snprintf(out, n, "%s/%s", at, key);
}

static int
valid_object(struct ctx *c, json_t *s, json_t *inst, const char *at)
{
	json_t *props = json_object_get(s, "properties"), *pats = json_object_get(s, "patternProperties");
	json_t *addl = json_object_get(s, "additionalProperties"), *v, *req, *sub;
	const char *key;
	size_t i;
	char where[1024];

	if ((v = json_object_get(s, "minProperties")) != NULL &&
	    json_object_size(inst) < (size_t)json_integer_value(v))
		return no(c, at, "has fewer than %lld properties (minProperties)",
		    (long long)json_integer_value(v));
	if ((v = json_object_get(s, "maxProperties")) != NULL &&
	    json_object_size(inst) > (size_t)json_integer_value(v))
		return no(c, at, "has more than %lld properties (maxProperties)",
		    (long long)json_integer_value(v));
	json_array_foreach(json_object_get(s, "required"), i, req)
		if (json_is_string(req) && json_object_get(inst, json_string_value(req)) == NULL)
			return no(c, at, "lacks required property '%s'", json_string_value(req));
	json_object_foreach(json_object_get(s, "dependentRequired"), key, v)
		if (json_object_get(inst, key) != NULL)
			json_array_foreach(v, i, req)
				if (json_is_string(req) && json_object_get(inst, json_string_value(req)) == NULL)
					return no(c, at, "has '%s' but lacks '%s' (dependentRequired)", key,
					    json_string_value(req));
	json_object_foreach(json_object_get(s, "dependentSchemas"), key, sub)
		if (json_object_get(inst, key) != NULL && !valid(c, sub, inst, at))
			return 0;
	json_object_foreach(inst, key, v) {
		int matched = 0;
		const char *pk;
		json_t *ps;

		child_at(where, sizeof(where), at, key);
		if ((sub = json_object_get(s, "propertyNames")) != NULL) {
			json_t *name = json_string(key);
			int ok = valid(c, sub, name, where);

			json_decref(name);
			if (!ok)
				return 0;
		}
		if ((ps = json_object_get(props, key)) != NULL) {
			matched = 1;
			if (!valid(c, ps, v, where))
				return 0;
		}
		json_object_foreach(pats, pk, ps) {
			regex_t *re = pattern(pk);

			if (re != NULL && regexec(re, key, 0, NULL, 0) == 0) {
				matched = 1;
				if (!valid(c, ps, v, where))
					return 0;
			}
		}
		if (!matched && addl != NULL) {
			if (json_is_false(addl))
				return no(c, where, "is not allowed (additionalProperties)");
			if (!valid(c, addl, v, where))
				return 0;
		}
	}
	return 1;
}

static int
valid_array(struct ctx *c, json_t *s, json_t *inst, const char *at)
{
	json_t *prefix = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
	json_t *contains = json_object_get(s, "contains"), *v;
	size_t n = json_array_size(inst), i, j, hits = 0;
	char where[1024], idx[32];

	if ((v = json_object_get(s, "minItems")) != NULL && n < (size_t)json_integer_value(v))
		return no(c, at, "has fewer than %lld items (minItems)", (long long)json_integer_value(v));
	if ((v = json_object_get(s, "maxItems")) != NULL && n > (size_t)json_integer_value(v))
		return no(c, at, "has more than %lld items (maxItems)", (long long)json_integer_value(v));
	if (json_is_true(json_object_get(s, "uniqueItems")))
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (equal(json_array_get(inst, i), json_array_get(inst, j)))
					return no(c, at, "items %zu and %zu are equal (uniqueItems)", i, j);
	for (i = 0; i < n; i++) {
		json_t *sub = i < json_array_size(prefix) ? json_array_get(prefix, i) : items;

		snprintf(idx, sizeof(idx), "%zu", i);
		child_at(where, sizeof(where), at, idx);
		if (sub != NULL && !valid(c, sub, json_array_get(inst, i), where))
			return 0;
		if (contains != NULL && quietly(c, contains, json_array_get(inst, i), where))
			hits++;
	}
	if (contains != NULL) {
		json_t *mn = json_object_get(s, "minContains"), *mx = json_object_get(s, "maxContains");
		size_t lo = mn != NULL ? (size_t)json_integer_value(mn) : 1;

		if (hits < lo)
			return no(c, at, "has %zu items matching \"contains\", fewer than %zu", hits, lo);
		if (mx != NULL && hits > (size_t)json_integer_value(mx))
			return no(c, at, "has %zu items matching \"contains\", more than %lld (maxContains)",
			    hits, (long long)json_integer_value(mx));
	}
	return 1;
}

static int
valid_scalar(struct ctx *c, json_t *s, json_t *inst, const char *at)
{
	json_t *v;

	if (json_is_number(inst)) {
		double x = json_number_value(inst);

		if ((v = json_object_get(s, "minimum")) != NULL && x < json_number_value(v))
			return no(c, at, "is less than %g (minimum)", json_number_value(v));
		if ((v = json_object_get(s, "maximum")) != NULL && x > json_number_value(v))
			return no(c, at, "is greater than %g (maximum)", json_number_value(v));
		if ((v = json_object_get(s, "exclusiveMinimum")) != NULL && x <= json_number_value(v))
			return no(c, at, "is not greater than %g (exclusiveMinimum)", json_number_value(v));
		if ((v = json_object_get(s, "exclusiveMaximum")) != NULL && x >= json_number_value(v))
			return no(c, at, "is not less than %g (exclusiveMaximum)", json_number_value(v));
		if ((v = json_object_get(s, "multipleOf")) != NULL) {
			double q = x / json_number_value(v);

			if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1, fabs(q)))
				return no(c, at, "is not a multiple of %g", json_number_value(v));
		}
	}
	if (json_is_string(inst)) {
		size_t n = length(inst);

		if ((v = json_object_get(s, "minLength")) != NULL && n < (size_t)json_integer_value(v))
			return no(c, at, "is shorter than %lld characters (minLength)",
			    (long long)json_integer_value(v));
		if ((v = json_object_get(s, "maxLength")) != NULL && n > (size_t)json_integer_value(v))
			return no(c, at, "is longer than %lld characters (maxLength)",
			    (long long)json_integer_value(v));
		if ((v = json_object_get(s, "pattern")) != NULL && json_is_string(v)) {
			regex_t *re = pattern(json_string_value(v));

			if (re == NULL || regexec(re, json_string_value(inst), 0, NULL, 0) != 0)
				return no(c, at, "does not match the pattern %s", json_string_value(v));
		}
	}
	return 1;
}

static int
valid(struct ctx *c, json_t *s, json_t *inst, const char *at)
{
	json_t *v, *sub;
	size_t i;
	int r = 1;

	if (json_is_true(s))
		return 1;
	if (json_is_false(s))
		return no(c, at, "is not allowed (false schema)");
	if (!json_is_object(s))
		return 1;
	if (++c->depth > 128) {
		c->depth--;
		return no(c, at, "schema references nest too deeply");
	}
	if ((v = json_object_get(s, "$ref")) != NULL) {
		json_t *target = resolve(c->root, json_string_value(v));

		if (target == NULL) {
			r = no(c, at, "$ref %s resolves to nothing", json_string_value(v));
			goto done;
		}
		if (!(r = valid(c, target, inst, at)))
			goto done;
	}
	if ((v = json_object_get(s, "type")) != NULL) {
		int any = 0;

		if (json_is_string(v))
			any = type_is(inst, json_string_value(v));
		json_array_foreach(v, i, sub)
			any |= json_is_string(sub) && type_is(inst, json_string_value(sub));
		if (!any) {
			char *t = json_dumps(v, JSON_ENCODE_ANY);

			r = no(c, at, "must be of type %s", t);
			free(t);
			goto done;
		}
	}
	if ((v = json_object_get(s, "const")) != NULL && !equal(v, inst)) {
		r = no(c, at, "must equal the const value");
		goto done;
	}
	if ((v = json_object_get(s, "enum")) != NULL) {
		int found = 0;

		json_array_foreach(v, i, sub)
			found |= equal(sub, inst);
		if (!found) {
			r = no(c, at, "is not one of the enum values");
			goto done;
		}
	}
	if (!(r = valid_scalar(c, s, inst, at)))
		goto done;
	if (json_is_object(inst) && !(r = valid_object(c, s, inst, at)))
		goto done;
	if (json_is_array(inst) && !(r = valid_array(c, s, inst, at)))
		goto done;
	json_array_foreach(json_object_get(s, "allOf"), i, sub)
		if (!(r = valid(c, sub, inst, at)))
			goto done;
	if ((v = json_object_get(s, "anyOf")) != NULL) {
		int any = 0;

		json_array_foreach(v, i, sub)
			if ((any = quietly(c, sub, inst, at)))
				break;
		if (!any) {
			r = no(c, at, "matches none of anyOf");
			goto done;
		}
	}
	if ((v = json_object_get(s, "oneOf")) != NULL) {
		int n = 0;

		json_array_foreach(v, i, sub)
			n += quietly(c, sub, inst, at);
		if (n != 1) {
			r = no(c, at, "matches %d of oneOf, not exactly one", n);
			goto done;
		}
	}
	if ((v = json_object_get(s, "not")) != NULL && quietly(c, v, inst, at)) {
		r = no(c, at, "must not match the \"not\" schema");
		goto done;
	}
	if ((v = json_object_get(s, "if")) != NULL) {
		json_t *branch = quietly(c, v, inst, at) ? json_object_get(s, "then") :
		    json_object_get(s, "else");

		if (branch != NULL && !(r = valid(c, branch, inst, at)))
			goto done;
	}
done:
	c->depth--;
	return r;
}

int
jschema_valid(json_t *root, json_t *schema, json_t *instance, char *err, size_t errsz)
{
	struct ctx c = {root, err, errsz, 0, 0};

	err[0] = '\0';
	return valid(&c, schema, instance, "");
}
