/* Masking secret values in a byte stream: each value a step was handed is
 * replaced by "***" in what is stored of its output, also when a write
 * splits it or it spans lines. One mask per stream: it holds back a tail
 * that could still become a secret until the next write or the end. */
#ifndef DAGY_MASK_H
#define DAGY_MASK_H

#include <stddef.h>

#define MASK_TEXT "***"

struct mask;

struct mask *mask_new(void);
void mask_free(struct mask *m);
/* Adds a value to hide (copied; empty values are ignored). */
int mask_add(struct mask *m, const char *value, size_t n);
/* Feeds n bytes; *out (owned by the mask, valid until its next call)
 * receives the masked bytes that are final. Returns their length. */
size_t mask_push(struct mask *m, const char *in, size_t n, const char **out);
/* At the end of the stream: the bytes held back, masked. */
size_t mask_flush(struct mask *m, const char **out);
/* A whole value through m, which must hold nothing back: a malloc'd,
 * NUL-terminated masked copy (its length in *outn), NULL when out of
 * memory. */
char *mask_string(struct mask *m, const char *in, size_t n, size_t *outn);

#endif
