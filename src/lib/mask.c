/* The stream masker: at each position the longest value that matches is
 * replaced; a tail that is a prefix of some value waits for more bytes. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dagy/mask.h"

struct value {
	char *s;
	size_t n;
};

struct mask {
	struct value *v; /* longest first */
	size_t nv;
	unsigned char first[256]; /* bytes some value starts with */
	char *pend;      /* bytes not yet decided */
	size_t npend, cappend;
	char *out;
	size_t nout, capout;
};

struct mask *
mask_new(void)
{
	return calloc(1, sizeof(struct mask));
}

void
mask_free(struct mask *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nv; i++) {
		OPENSSL_cleanse(m->v[i].s, m->v[i].n);
		free(m->v[i].s);
	}
	if (m->pend != NULL)
		OPENSSL_cleanse(m->pend, m->cappend);
	free(m->v);
	free(m->pend);
	free(m->out);
	free(m);
}

int
mask_add(struct mask *m, const char *value, size_t n)
{
	struct value *grown;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < m->nv; i++)
		if (m->v[i].n == n && memcmp(m->v[i].s, value, n) == 0)
			return 0;
	if ((grown = realloc(m->v, (m->nv + 1) * sizeof(*grown))) == NULL)
		return -1;
	m->v = grown;
	/* Keep longest first, so a value containing another wins. */
	for (i = m->nv; i > 0 && m->v[i - 1].n < n; i--)
		m->v[i] = m->v[i - 1];
	if ((m->v[i].s = malloc(n)) == NULL)
		return -1;
	memcpy(m->v[i].s, value, n);
	m->v[i].n = n;
	m->nv++;
	m->first[(unsigned char)*value] = 1;
	return 0;
}

static int
grow(char **buf, size_t *cap, size_t need)
{
	char *p;
	size_t c = *cap ? *cap : 256;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((p = realloc(*buf, c)) == NULL)
		return -1;
	*buf = p;
	*cap = c;
	return 0;
}

static void
emit(struct mask *m, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (grow(&m->out, &m->capout, m->nout + n) < 0)
		abort();
	memcpy(m->out + m->nout, s, n);
	m->nout += n;
}

/* Decides what it can of buf[0..n): returns how many bytes were decided;
 * the rest (a possible start of a value) stays when !final. */
static size_t
scan(struct mask *m, const char *buf, size_t n, int final)
{
	size_t i = 0, j, start = 0;

	while (i < n) {
		int matched = 0;

		if (!m->first[(unsigned char)buf[i]]) {
			i++;
			continue;
		}
		for (j = 0; j < m->nv; j++) {
			const struct value *v = &m->v[j];

			if (v->n > n - i) {
				/* A value longer than what is here may still match once
				 * more bytes come: wait rather than let a shorter one
				 * match and show the rest of the longer. */
				if (!final && memcmp(buf + i, v->s, n - i) == 0) {
					emit(m, buf + start, i - start);
					return i;
				}
				continue;
			}
			if (memcmp(buf + i, v->s, v->n) == 0) {
				emit(m, buf + start, i - start);
				emit(m, MASK_TEXT, sizeof(MASK_TEXT) - 1);
				i += v->n;
				start = i;
				matched = 1;
				break;
			}
		}
		if (!matched)
			i++;
	}
	emit(m, buf + start, n - start);
	return n;
}

size_t
mask_push(struct mask *m, const char *in, size_t n, const char **out)
{
	size_t done;

	m->nout = 0;
	if (m->nv == 0) {
		*out = in;
		return n;
	}
	if (grow(&m->pend, &m->cappend, m->npend + n) < 0)
		abort();
	memcpy(m->pend + m->npend, in, n);
	m->npend += n;
	done = scan(m, m->pend, m->npend, 0);
	memmove(m->pend, m->pend + done, m->npend - done);
	m->npend -= done;
	*out = m->out;
	return m->nout;
}

char *
mask_string(struct mask *m, const char *in, size_t n, size_t *outn)
{
	const char *part;
	size_t a = mask_push(m, in, n, &part), b;
	char *s = malloc(a + 1), *t;

	if (s == NULL)
		return NULL;
	memcpy(s, part, a);
	b = mask_flush(m, &part);
	if ((t = realloc(s, a + b + 1)) == NULL) {
		free(s);
		return NULL;
	}
	s = t;
	memcpy(s + a, part, b);
	s[a + b] = '\0';
	*outn = a + b;
	return s;
}

size_t
mask_flush(struct mask *m, const char **out)
{
	m->nout = 0;
	if (m->npend > 0)
		scan(m, m->pend, m->npend, 1);
	m->npend = 0;
	*out = m->out != NULL ? m->out : "";
	return m->nout;
}
