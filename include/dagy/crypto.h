/* Randomness, hashing and secret storage: OpenSSL for random bytes and
 * SHA-256, libargon2 for argon2id. */
#ifndef DAGY_CRYPTO_H
#define DAGY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

struct config;

#define CRYPTO_HASH_MAX 160

int crypto_random(void *buf, size_t n);
void crypto_sha256(const void *data, size_t n, uint8_t out[32]);
/* HMAC-SHA256 of n bytes of data under a key of klen bytes. */
void crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t n,
    uint8_t out[32]);
/* Lowercase hex of a SHA-256 digest. */
void crypto_hex(const uint8_t sha[32], char out[65]);
/* Writes the unpadded base64url form of in (4 * n / 3 + 1 bytes fit). */
void crypto_b64url(const uint8_t *in, size_t n, char *out);
/* argon2id encoded hash of secret with the [auth] cost settings. */
int crypto_hash_secret(const struct config *cfg, const char *secret,
    char out[CRYPTO_HASH_MAX]);
/* 1 when secret matches the encoded hash, else 0. */
int crypto_verify_secret(const char *encoded, const char *secret);
/* Constant-time comparison of n bytes. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
