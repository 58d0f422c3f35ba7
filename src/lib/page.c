/* A cursor is base64url(JSON {"v":1,"k":key}) "." base64url(HMAC-SHA256
 * truncated to 16 bytes). The key is [api] cursor_secret, or derived from
 * the database password so every process of an installation agrees. */
#include <string.h>

#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/page.h"

#define MAC_LEN 16
#define CURSOR_VERSION 1

static void
secret(const struct config *cfg, uint8_t key[32])
{
	const char *s = config_str(cfg, "api", "cursor_secret");
	char buf[600];

	if (*s == '\0') {
		snprintf(buf, sizeof(buf), "dagy-cursor:%s:%s",
		    config_str(cfg, "database", "password"),
		    config_str(cfg, "database", "name"));
		s = buf;
	}
	crypto_sha256(s, strlen(s), key);
}

static void
mac(const struct config *cfg, const char *data, size_t n, uint8_t out[32])
{
	uint8_t key[32];

	secret(cfg, key);
	crypto_hmac_sha256(key, sizeof(key), data, n, out);
}

const char *
page_encode(const struct config *cfg, struct arena *a, json_t *key)
{
	json_t *body = json_pack("{s:i, s:O}", "v", CURSOR_VERSION, "k", key);
	char *text = json_dumps(body, JSON_COMPACT);
	size_t n = strlen(text);
	char *out = arena_alloc(a, (n + 2) * 4 / 3 + 4 + 32);
	uint8_t m[32];

	crypto_b64url((const uint8_t *)text, n, out);
	mac(cfg, out, strlen(out), m);
	strcat(out, ".");
	crypto_b64url(m, MAC_LEN, out + strlen(out));
	free(text);
	json_decref(body);
	return out;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes unpadded base64url into out, which holds cap bytes; returns the
 * length, or -1 on a bad character or when out would overflow (the MAC
 * part of a token is the client's text, of any length). */
static long
unb64(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		int v = b64val(in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			if (o == cap)
				return -1;
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)o;
}

json_t *
page_decode(const struct config *cfg, const char *token)
{
	const char *dot = strchr(token, '.');
	uint8_t m[32], given[64], *raw = NULL;
	size_t n;
	long len;
	json_t *body = NULL, *key = NULL;

	if (dot == NULL || strlen(token) > 4096)
		return NULL;
	n = (size_t)(dot - token);
	mac(cfg, token, n, m);
	if (unb64(dot + 1, strlen(dot + 1), given, sizeof(given)) != MAC_LEN ||
	    !crypto_equal(m, given, MAC_LEN))
		return NULL;
	raw = malloc(n + 1);
	if ((len = unb64(token, n, raw, n)) > 0)
		body = json_loadb((const char *)raw, (size_t)len, 0, NULL);
	if (json_is_object(body) &&
	    json_integer_value(json_object_get(body, "v")) == CURSOR_VERSION &&
	    json_is_array(json_object_get(body, "k")))
		key = json_incref(json_object_get(body, "k"));
	json_decref(body);
	free(raw);
	return key;
}
