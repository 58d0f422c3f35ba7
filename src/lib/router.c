/* The route table: patterns compiled to segment arrays once, matched by
 * comparing segments. Where two patterns match, the one with a literal
 * segment earlier wins (/v1/runs/cleanup beats /v1/runs/{id}). */
#include <stdlib.h>
#include <string.h>

#include "dagy/log.h"
#include "dagy/router.h"

struct compiled {
	const struct route *route;
	unsigned nsegs;
	const char *segs[ROUTER_MAX_SEGS]; /* literal text, or NULL for a param */
	char *names[ROUTER_MAX_SEGS];      /* param name where segs[i] is NULL */
	char *storage;
};

struct router {
	struct compiled *c;
	size_t n, cap;
	/* Indexes into c by segment count: a path is compared only with the
	 * patterns as long as it, in the order they were added. */
	size_t *by_len[ROUTER_MAX_SEGS + 1];
	size_t nby_len[ROUTER_MAX_SEGS + 1], capby_len[ROUTER_MAX_SEGS + 1];
};

struct router *
router_new(void)
{
	return calloc(1, sizeof(struct router));
}

void
router_free(struct router *rt)
{
	size_t i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->n; i++)
		free(rt->c[i].storage);
	for (i = 0; i <= ROUTER_MAX_SEGS; i++)
		free(rt->by_len[i]);
	free(rt->c);
	free(rt);
}

/* Splits s (modified) on '/', ignoring empty segments. */
static int
split(char *s, char **segs, unsigned max)
{
	unsigned n = 0;
	char *p = s;

	while (*p != '\0') {
		char *slash;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		if (n == max)
			return -1;
		segs[n++] = p;
		if ((slash = strchr(p, '/')) == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	return (int)n;
}

static int
same_shape(const struct compiled *a, const struct compiled *b)
{
	unsigned i;

	if (a->nsegs != b->nsegs)
		return 0;
	for (i = 0; i < a->nsegs; i++) {
		if ((a->segs[i] == NULL) != (b->segs[i] == NULL))
			return 0;
		if (a->segs[i] != NULL && strcmp(a->segs[i], b->segs[i]) != 0)
			return 0;
	}
	return 1;
}

int
router_add(struct router *rt, const struct route *routes, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		struct compiled c;
		char *segs[ROUTER_MAX_SEGS];
		int ns;
		unsigned k;

		memset(&c, 0, sizeof(c));
		c.route = &routes[i];
		c.storage = strdup(routes[i].pattern);
		if ((ns = split(c.storage, segs, ROUTER_MAX_SEGS)) < 0) {
			log_err("route %s: too many segments", routes[i].pattern);
			free(c.storage);
			return -1;
		}
		c.nsegs = (unsigned)ns;
		for (k = 0; k < c.nsegs; k++) {
			size_t len = strlen(segs[k]);

			if (segs[k][0] == '{' && segs[k][len - 1] == '}') {
				segs[k][len - 1] = '\0';
				c.names[k] = segs[k] + 1;
			} else {
				c.segs[k] = segs[k];
			}
		}
		for (j = 0; j < rt->n; j++) {
			if (strcmp(rt->c[j].route->method, routes[i].method) == 0 &&
			    same_shape(&rt->c[j], &c)) {
				log_err("duplicate route %s %s (also %s)", routes[i].method,
				    routes[i].pattern, rt->c[j].route->pattern);
				free(c.storage);
				return -1;
			}
		}
		if (rt->n == rt->cap) {
			size_t cap = rt->cap ? rt->cap * 2 : 64;
			struct compiled *nc = realloc(rt->c, cap * sizeof(*nc));

			if (nc == NULL)
				abort();
			rt->c = nc;
			rt->cap = cap;
		}
		if (rt->nby_len[c.nsegs] == rt->capby_len[c.nsegs]) {
			size_t cap = rt->capby_len[c.nsegs] ? rt->capby_len[c.nsegs] * 2 : 32;
			size_t *ni = realloc(rt->by_len[c.nsegs], cap * sizeof(*ni));

			if (ni == NULL)
				abort();
			rt->by_len[c.nsegs] = ni;
			rt->capby_len[c.nsegs] = cap;
		}
		rt->by_len[c.nsegs][rt->nby_len[c.nsegs]++] = rt->n;
		rt->c[rt->n++] = c;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
router_url_decode(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/* A score that prefers literal segments at earlier positions; -1 if the
 * path does not match. */
static long
score(const struct compiled *c, char **segs, unsigned ns)
{
	long s = 0;
	unsigned i;

	if (c->nsegs != ns)
		return -1;
	for (i = 0; i < ns; i++) {
		s <<= 1;
		if (c->segs[i] != NULL) {
			if (c->segs[i][0] != segs[i][0] || strcmp(c->segs[i], segs[i]) != 0)
				return -1;
			s |= 1;
		}
	}
	return s;
}

int
router_match(const struct router *rt, const char *method, char *path,
    struct router_match *m, char *allow, size_t allowlen, enum dialect *dialect)
{
	char *segs[ROUTER_MAX_SEGS];
	const struct compiled *best = NULL;
	long best_score = -1;
	int ns, path_matched = 0, best_prefix = -1;
	size_t i, used = 0;
	unsigned k;

	memset(m, 0, sizeof(*m));
	if (allowlen > 0)
		allow[0] = '\0';
	*dialect = DIALECT_DAGY;
	if ((ns = split(path, segs, ROUTER_MAX_SEGS)) < 0)
		return ROUTER_ENOTFOUND;
	for (i = 0; i < rt->nby_len[ns]; i++) {
		const struct compiled *c = &rt->c[rt->by_len[ns][i]];
		long s = score(c, segs, (unsigned)ns);

		if (s < 0)
			continue;
		path_matched = 1;
		if (strcmp(c->route->method, method) != 0) {
			size_t len = strlen(c->route->method);

			if (strstr(allow, c->route->method) == NULL &&
			    used + len + 3 < allowlen) {
				if (used > 0) {
					memcpy(allow + used, ", ", 2);
					used += 2;
				}
				memcpy(allow + used, c->route->method, len + 1);
				used += len;
			}
			continue;
		}
		if (s > best_score) {
			best_score = s;
			best = c;
		}
	}
	if (best == NULL) {
		/* The dialect of the nearest miss decides the error's format;
		 * looked for only now, as it compares every route. */
		for (i = 0; i < rt->n; i++) {
			const struct compiled *c = &rt->c[i];
			int prefix = 0;

			while (prefix < ns && (unsigned)prefix < c->nsegs && c->segs[prefix] != NULL &&
			    strcmp(c->segs[prefix], segs[prefix]) == 0)
				prefix++;
			if (prefix > best_prefix) {
				best_prefix = prefix;
				*dialect = c->route->dialect;
			}
		}
		return path_matched ? ROUTER_EMETHOD : ROUTER_ENOTFOUND;
	}
	m->route = best->route;
	*dialect = best->route->dialect;
	for (k = 0; k < best->nsegs; k++) {
		if (best->segs[k] != NULL || m->nparams == ROUTER_MAX_PARAMS)
			continue;
		if (router_url_decode(segs[k]) < 0)
			return ROUTER_ENOTFOUND;
		m->names[m->nparams] = best->names[k];
		m->values[m->nparams] = segs[k];
		m->nparams++;
	}
	return ROUTER_OK;
}
