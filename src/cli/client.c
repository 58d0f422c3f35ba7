/* The user commands' HTTP client: where the API is and which key to use,
 * the config file `dagy login` writes, and JSON requests over libcurl. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_URL "http://127.0.0.1:8787"

static char *
xstrdup(const char *s)
{
	char *d = s != NULL ? strdup(s) : NULL;

	if (s != NULL && d == NULL) {
		fprintf(stderr, "dagy: out of memory\n");
		exit(1);
	}
	return d;
}

/* The config file's path: $XDG_CONFIG_HOME/dagy/config or ~/.config/dagy/config. */
static char *
config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char buf[4096];

	if (xdg != NULL && *xdg != '\0')
		snprintf(buf, sizeof(buf), "%s/dagy/config", xdg);
	else
		snprintf(buf, sizeof(buf), "%s/.config/dagy/config", home != NULL ? home : ".");
	return xstrdup(buf);
}

/* Reads "url = …" and "key = …" lines; the rest is ignored. */
static void
read_config(struct client *c, char **url, char **key)
{
	FILE *f = fopen(c->config, "r");
	char line[4096];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '='), *k = line, *v, *e;

		if (line[0] == '#' || eq == NULL)
			continue;
		*eq = '\0';
		v = eq + 1;
		while (*k == ' ' || *k == '\t')
			k++;
		for (e = eq; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\r\n")] = '\0';
		for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = '\0';
		if (strcmp(k, "url") == 0 && *url == NULL)
			*url = xstrdup(v);
		else if (strcmp(k, "key") == 0 && *key == NULL)
			*key = xstrdup(v);
	}
	fclose(f);
}

int
client_init(struct client *c, int *argc, char **argv)
{
	char *url = NULL, *key = NULL;
	int i, n = 1;

	memset(c, 0, sizeof(*c));
	c->config = config_path();
	for (i = 1; i < *argc; i++) {
		if ((strcmp(argv[i], "--url") == 0 || strcmp(argv[i], "--key") == 0) &&
		    i + 1 < *argc) {
			char **dst = argv[i][2] == 'u' ? &url : &key;

			free(*dst);
			*dst = xstrdup(argv[++i]);
		} else if (strncmp(argv[i], "--url=", 6) == 0) {
			free(url);
			url = xstrdup(argv[i] + 6);
		} else if (strncmp(argv[i], "--key=", 6) == 0) {
			free(key);
			key = xstrdup(argv[i] + 6);
		} else if (strcmp(argv[i], "--json") == 0) {
			c->json = 1;
		} else if (strcmp(argv[i], "--url") == 0 || strcmp(argv[i], "--key") == 0) {
			fprintf(stderr, "dagy: %s needs a value\n", argv[i]);
			free(url);
			free(key);
			return -1;
		} else {
			argv[n++] = argv[i];
		}
	}
	argv[n] = NULL;
	*argc = n;
	if (url == NULL && getenv("DAGY_URL") != NULL && *getenv("DAGY_URL") != '\0')
		url = xstrdup(getenv("DAGY_URL"));
	if (key == NULL && getenv("DAGY_API_KEY") != NULL && *getenv("DAGY_API_KEY") != '\0')
		key = xstrdup(getenv("DAGY_API_KEY"));
	read_config(c, &url, &key);
	if (url == NULL)
		url = xstrdup(DEFAULT_URL);
	/* "http://host:port/" and "http://host:port" mean the same. */
	while (strlen(url) > 0 && url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	c->url = url;
	c->key = key;
	return 0;
}

void
client_free(struct client *c)
{
	free(c->url);
	free(c->key);
	free(c->config);
}

int
client_save(const struct client *c)
{
	char dir[4096], *slash;
	FILE *f;
	int fd;

	snprintf(dir, sizeof(dir), "%s", c->config);
	/* Make the directories (~/.config, then dagy). */
	for (slash = strchr(dir + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "dagy: cannot create %s: %s\n", dir, strerror(errno));
			return -1;
		}
		*slash = '/';
	}
	if ((fd = open(c->config, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    fchmod(fd, 0600) < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "dagy: cannot write %s: %s\n", c->config, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "# Written by dagy login.\nurl = %s\nkey = %s\n", c->url, c->key);
	if (fclose(f) != 0) {
		fprintf(stderr, "dagy: cannot write %s: %s\n", c->config, strerror(errno));
		return -1;
	}
	return 0;
}

struct buf {
	char *p;
	size_t len;
};

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	char *p = realloc(b->p, b->len + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, size * n);
	b->p = p;
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

int
client_call(const struct client *c, const char *method, const char *path,
    json_t *body, int anonymous, json_t **out)
{
	struct curl_slist *h = NULL;
	struct buf b = {0};
	char *url = NULL, *auth = NULL, *text = NULL, errbuf[CURL_ERROR_SIZE] = "";
	long status = -1;
	CURL *curl;
	CURLcode rc;

	*out = NULL;
	if ((curl = curl_easy_init()) == NULL)
		return fprintf(stderr, "dagy: cannot start libcurl\n"), -1;
	if (asprintf(&url, "%s%s", c->url, path) < 0)
		goto fail;
	h = curl_slist_append(h, "Accept: application/json");
	if (!anonymous && c->key != NULL) {
		if (asprintf(&auth, "Authorization: Bearer %s", c->key) < 0)
			goto fail;
		h = curl_slist_append(h, auth);
	}
	/* A POST without a body still says so (web servers want a length). */
	if (body != NULL || (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)) {
		text = body != NULL ? json_dumps(body, JSON_COMPACT) : strdup("{}");
		if (text == NULL)
			goto fail;
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if ((rc = curl_easy_perform(curl)) != CURLE_OK) {
		fprintf(stderr, "dagy: %s %s: %s\n", method, url,
		    *errbuf ? errbuf : curl_easy_strerror(rc));
		goto fail;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (b.len > 0)
		*out = json_loadb(b.p, b.len, JSON_DECODE_ANY, NULL);
	if (b.len > 0 && *out == NULL) {
		fprintf(stderr, "dagy: %s %s: HTTP %ld with a body that is not JSON\n",
		    method, url, status);
		status = -1;
	}
fail:
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	free(url);
	free(auth);
	free(text);
	free(b.p);
	return (int)status;
}

int
client_fail(int status, json_t *err)
{
	const char *msg = json_string_value(json_object_get(err, "message"));

	if (msg == NULL)
		msg = json_string_value(json_object_get(err, "error"));
	if (msg != NULL)
		fprintf(stderr, "dagy: %s (HTTP %d)\n", msg, status);
	else
		fprintf(stderr, "dagy: the API answered HTTP %d\n", status);
	json_decref(err);
	return 1;
}

char *
client_path(const char *fmt, ...)
{
	char out[4096];
	size_t n = 0;
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	for (p = fmt; *p != '\0' && n < sizeof(out) - 4; p++) {
		if (p[0] == '%' && p[1] == 's') {
			const unsigned char *s = va_arg(ap, const unsigned char *);

			for (; *s != '\0' && n < sizeof(out) - 4; s++) {
				if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL)
					out[n++] = (char)*s;
				else
					n += (size_t)snprintf(out + n, 4, "%%%02X", *s);
			}
			p++;
		} else {
			out[n++] = *p;
		}
	}
	va_end(ap);
	out[n] = '\0';
	return xstrdup(out);
}
