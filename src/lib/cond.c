/* Evaluating and checking the conditions of filter and branch nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/cond.h"

json_t *
cond_path(json_t *v, const char *path)
{
	char part[256];
	const char *p = path, *dot;

	while (v != NULL && *p != '\0') {
		size_t n;

		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		if (json_is_object(v)) {
			v = json_object_get(v, part);
		} else if (json_is_array(v)) {
			char *end;
			long i = strtol(part, &end, 10);

			v = *part != '\0' && *end == '\0' && i >= 0 ? json_array_get(v, (size_t)i) : NULL;
		} else {
			return NULL;
		}
		p = dot != NULL ? dot + 1 : p + n;
	}
	return v;
}

/* A number, or a string that is one (outputs are strings): 1 with *d. */
static int
as_number(json_t *v, double *d)
{
	char *end;

	if (json_is_number(v)) {
		*d = json_number_value(v);
		return 1;
	}
	if (json_is_string(v) && json_string_length(v) > 0) {
		*d = strtod(json_string_value(v), &end);
		return *end == '\0';
	}
	return 0;
}

/* -2 when a and b do not compare, else -1, 0, 1. */
static int
compare(json_t *a, json_t *b)
{
	double x, y;

	if (a == NULL || b == NULL)
		return -2;
	if (as_number(a, &x) && as_number(b, &y))
		return x < y ? -1 : x > y;
	if (json_is_string(a) && json_is_string(b)) {
		int c = strcmp(json_string_value(a), json_string_value(b));

		return c < 0 ? -1 : c > 0;
	}
	if (json_equal(a, b))
		return 0;
	return -2;
}

static int
contains(json_t *hay, json_t *needle)
{
	json_t *v;
	size_t i;

	if (json_is_string(hay) && json_is_string(needle))
		return strstr(json_string_value(hay), json_string_value(needle)) != NULL;
	json_array_foreach(hay, i, v)
		if (compare(v, needle) == 0)
			return 1;
	return 0;
}

static const char *const ops[] = {"eq", "ne", "gt", "gte", "lt", "lte", "in",
	"not_in", "contains", "exists", "missing", NULL};

int
cond_check(json_t *cond, char *err, size_t errsz)
{
	json_t *list = json_object_get(cond, "all"), *c, *op;
	size_t i;

	if (!json_is_object(cond)) {
		snprintf(err, errsz, "a condition must be an object");
		return -1;
	}
	if (list == NULL)
		list = json_object_get(cond, "any");
	if (list != NULL) {
		if (!json_is_array(list) || json_array_size(list) == 0) {
			snprintf(err, errsz, "\"all\" and \"any\" take a non-empty array of conditions");
			return -1;
		}
		json_array_foreach(list, i, c)
			if (cond_check(c, err, errsz) < 0)
				return -1;
		return 0;
	}
	if ((c = json_object_get(cond, "not")) != NULL)
		return cond_check(c, err, errsz);
	op = json_object_get(cond, "op");
	if (!json_is_string(json_object_get(cond, "field")) || !json_is_string(op)) {
		snprintf(err, errsz, "a condition needs \"field\" and \"op\" (or all, any, not)");
		return -1;
	}
	for (i = 0; ops[i] != NULL && strcmp(ops[i], json_string_value(op)) != 0; i++)
		;
	if (ops[i] == NULL) {
		snprintf(err, errsz, "unknown op '%.40s' (eq, ne, gt, gte, lt, lte, in, not_in, "
		    "contains, exists, missing)", json_string_value(op));
		return -1;
	}
	if (i >= 6 && i <= 7 && !json_is_array(json_object_get(cond, "value"))) {
		snprintf(err, errsz, "op %s takes an array value", ops[i]);
		return -1;
	}
	return 0;
}

int
cond_eval(json_t *cond, json_t *ctx, char *err, size_t errsz)
{
	json_t *list, *c, *v, *want;
	const char *field, *op;
	size_t i;
	int r, cmp;

	if (!json_is_object(cond)) {
		snprintf(err, errsz, "a condition must be an object");
		return -1;
	}
	if ((list = json_object_get(cond, "all")) != NULL || (list = json_object_get(cond, "any")) != NULL) {
		int all = json_object_get(cond, "all") != NULL;

		if (!json_is_array(list)) {
			snprintf(err, errsz, "\"all\" and \"any\" take an array of conditions");
			return -1;
		}
		json_array_foreach(list, i, c) {
			if ((r = cond_eval(c, ctx, err, errsz)) < 0)
				return -1;
			if (r != all)
				return r;
		}
		return all;
	}
	if ((c = json_object_get(cond, "not")) != NULL)
		return (r = cond_eval(c, ctx, err, errsz)) < 0 ? -1 : !r;
	field = json_string_value(json_object_get(cond, "field"));
	op = json_string_value(json_object_get(cond, "op"));
	if (field == NULL || op == NULL) {
		snprintf(err, errsz, "a condition needs \"field\" and \"op\" (or all, any, not)");
		return -1;
	}
	v = cond_path(ctx, field);
	want = json_object_get(cond, "value");
	if (strcmp(op, "exists") == 0)
		return v != NULL && !json_is_null(v);
	if (strcmp(op, "missing") == 0)
		return v == NULL || json_is_null(v);
	if (strcmp(op, "in") == 0 || strcmp(op, "not_in") == 0) {
		if (!json_is_array(want)) {
			snprintf(err, errsz, "op %s takes an array value", op);
			return -1;
		}
		return contains(want, v) == (strcmp(op, "in") == 0);
	}
	if (strcmp(op, "contains") == 0)
		return v != NULL && contains(v, want);
	cmp = compare(v, want);
	if (strcmp(op, "eq") == 0)
		return cmp == 0;
	if (strcmp(op, "ne") == 0)
		return cmp != 0;
	if (strcmp(op, "gt") == 0)
		return cmp == 1;
	if (strcmp(op, "gte") == 0)
		return cmp == 0 || cmp == 1;
	if (strcmp(op, "lt") == 0)
		return cmp == -1;
	if (strcmp(op, "lte") == 0)
		return cmp == 0 || cmp == -1;
	snprintf(err, errsz, "unknown op '%s' (eq, ne, gt, gte, lt, lte, in, not_in, "
	    "contains, exists, missing)", op);
	return -1;
}

