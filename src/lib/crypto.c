/* Thin wrappers so the rest of dagy never touches OpenSSL or libargon2. */
#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/config.h"
#include "dagy/crypto.h"

int
crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

void
crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t n, uint8_t out[32])
{
	unsigned len = 32;

	HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len);
}

void
crypto_sha256(const void *data, size_t n, uint8_t out[32])
{
	/* Fetched once: an implicit fetch per call costs more than the hash. */
	static EVP_MD *md;
	unsigned len = 32;

	if (md == NULL && (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		abort();
	EVP_Digest(data, n, out, &len, md, NULL);
}

void
crypto_hex(const uint8_t sha[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[sha[i] >> 4];
		out[2 * i + 1] = digits[sha[i] & 15];
	}
	out[64] = '\0';
}

void
crypto_b64url(const uint8_t *in, size_t n, char *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = tbl[v >> 6 & 63];
		out[o++] = tbl[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = tbl[v >> 6 & 63];
	}
	out[o] = '\0';
}

int
crypto_hash_secret(const struct config *cfg, const char *secret,
    char out[CRYPTO_HASH_MAX])
{
	uint8_t salt[16];
	uint32_t t = (uint32_t)config_int(cfg, "auth", "argon2_iterations");
	uint32_t m = (uint32_t)config_int(cfg, "auth", "argon2_memory_kib");
	uint32_t p = (uint32_t)config_int(cfg, "auth", "argon2_parallelism");

	if (crypto_random(salt, sizeof(salt)) < 0)
		return -1;
	if (argon2id_hash_encoded(t, m, p, secret, strlen(secret), salt,
	    sizeof(salt), 32, out, CRYPTO_HASH_MAX) != ARGON2_OK)
		return -1;
	return 0;
}

int
crypto_verify_secret(const char *encoded, const char *secret)
{
	return argon2id_verify(encoded, secret, strlen(secret)) == ARGON2_OK;
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
