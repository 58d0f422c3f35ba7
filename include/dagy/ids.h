/* Public identifiers: a type prefix and 16 random lowercase characters
 * (about 82 bits), e.g. "org_k3x9…". Internal keys stay BIGINT. */
#ifndef DAGY_IDS_H
#define DAGY_IDS_H

#include <stddef.h>

#define IDS_RANDOM_LEN 16

/* Writes prefix "_" random into out (at least strlen(prefix) + 18 bytes). */
void ids_new(const char *prefix, char *out, size_t outlen);
/* Fills out with n random characters of [a-z0-9]. */
void ids_random_chars(char *out, size_t n);

#endif
