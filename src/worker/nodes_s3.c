/* The S3 nodes: s3_ingest downloads one object (key) or every object
 * under a prefix into the step's workspace, s3_write uploads a file or a
 * directory's files from it. Credentials come from the step's environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), which a node fills from
 * secrets with "env": {"AWS_ACCESS_KEY_ID": {"secret": "…"}, …}. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dagy/s3.h"
#include "nodes.h"

/* A path inside the workspace: relative, without "..". */
static int
inside(const char *p)
{
	const char *s = p;

	if (p == NULL || *p == '/')
		return 0;
	while (s != NULL) {
		if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return 0;
		if ((s = strchr(s, '/')) != NULL)
			s++;
	}
	return 1;
}

static struct s3 *
client(json_t *c)
{
	const char *ep = json_string_value(json_object_get(c, "endpoint"));
	const char *addr = json_string_value(json_object_get(c, "addressing"));
	struct s3_config sc = {
		.endpoint = ep != NULL ? ep : "https://s3.amazonaws.com",
		.region = json_string_value(json_object_get(c, "region")),
		.bucket = json_string_value(json_object_get(c, "bucket")),
		.access_key = getenv("AWS_ACCESS_KEY_ID"),
		.secret_key = getenv("AWS_SECRET_ACCESS_KEY"),
		.timeout_seconds = 300, .retries = 3};

	if (sc.access_key == NULL || sc.secret_key == NULL) {
		fprintf(stderr, "s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be "
		    "set (a node env entry {\"secret\": name} for each)\n");
		return NULL;
	}
	sc.path_style = addr != NULL ? strcmp(addr, "virtual") != 0 :
	    strstr(sc.endpoint, "amazonaws.com") == NULL;
	if (addr != NULL && strcmp(addr, "path") == 0)
		sc.path_style = 1;
	return s3_new(&sc);
}

/* Creates the directories of path (a file's). */
static void
parents(char *path)
{
	char *s;

	for (s = path + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(path, 0755);
			*s = '/';
		}
}

static int
fetch(struct s3 *s, const char *key, const char *dest)
{
	char *tmp = NULL, *d = strdup(dest);
	FILE *f;
	int rc;

	parents(d);
	free(d);
	if (asprintf(&tmp, "%s.part", dest) < 0)
		return -1;
	if ((f = fopen(tmp, "wb")) == NULL) {
		fprintf(stderr, "s3_ingest: %s: %s\n", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	rc = s3_get_object(s, key, f, 0, NULL);
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, dest) < 0)
		rc = -1;
	if (rc < 0) {
		fprintf(stderr, "s3_ingest: %s: %s\n", key, s3_error(s));
		remove(tmp);
	}
	free(tmp);
	return rc;
}

static int
s3_ingest(json_t *job)
{
	json_t *c = job_config(job);
	const char *key = json_string_value(json_object_get(c, "key"));
	const char *prefix = json_string_value(json_object_get(c, "prefix"));
	const char *dir = json_string_value(json_object_get(c, "path"));
	struct s3_object *objs = NULL;
	struct s3 *s;
	size_t n = 0, i, got = 0;
	int rc = 1;

	if (dir == NULL)
		dir = ".";
	if (!inside(dir)) {
		fprintf(stderr, "s3_ingest: path must be relative to the workspace\n");
		return 2;
	}
	if ((key == NULL) == (prefix == NULL)) {
		fprintf(stderr, "s3_ingest: give key or prefix\n");
		return 2;
	}
	if ((s = client(c)) == NULL)
		return 1;
	if (key != NULL) {
		const char *base = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
		char *dest = NULL;

		if (*base == '\0' || asprintf(&dest, "%s/%s", dir, base) < 0)
			goto done;
		if (fetch(s, key, dest) == 0) {
			got = 1;
			out_kv("path", "%s", dest);
			rc = 0;
		}
		free(dest);
		goto done;
	}
	if (s3_list(s, prefix, &objs, &n) < 0) {
		fprintf(stderr, "s3_ingest: listing %s: %s\n", prefix, s3_error(s));
		goto done;
	}
	for (i = 0; i < n; i++) {
		const char *rel = objs[i].key + strlen(prefix);
		char *dest = NULL;

		while (*rel == '/')
			rel++;
		if (*rel == '\0' || rel[strlen(rel) - 1] == '/')
			continue; /* "directory" markers */
		if (!inside(rel)) {
			fprintf(stderr, "s3_ingest: skipping %s: it would land outside the workspace\n",
			    objs[i].key);
			continue;
		}
		if (asprintf(&dest, "%s/%s", dir, rel) < 0)
			goto done;
		if (fetch(s, objs[i].key, dest) < 0) {
			free(dest);
			goto done;
		}
		free(dest);
		got++;
	}
	out_kv("path", "%s", dir);
	rc = 0;
done:
	if (rc == 0) {
		out_kv("objects", "%zu", got);
		printf("s3_ingest: %zu object(s) into %s\n", got, dir);
	}
	s3_objects_free(objs, n);
	s3_free(s);
	return rc;
}

/* Uploads path (a file, or a directory's files, recursively) to key or
 * under prefix; counts into *n. 0 or -1. */
static int
put_tree(struct s3 *s, const char *path, const char *key, int *n)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "s3_write: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		if (s3_put_file(s, key, path) < 0) {
			fprintf(stderr, "s3_write: %s: %s\n", key, s3_error(s));
			return -1;
		}
		printf("s3_write: %s -> %s\n", path, key);
		(*n)++;
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || (d = opendir(path)) == NULL)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char *p = NULL, *k = NULL;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (asprintf(&p, "%s/%s", path, e->d_name) < 0 ||
		    asprintf(&k, "%s%s%s", key, *key && key[strlen(key) - 1] != '/' ? "/" : "",
		    e->d_name) < 0)
			rc = -1;
		else
			rc = put_tree(s, p, k, n);
		free(p);
		free(k);
	}
	closedir(d);
	return rc;
}

static int
s3_write(json_t *job)
{
	json_t *c = job_config(job);
	const char *path = json_string_value(json_object_get(c, "path"));
	const char *key = json_string_value(json_object_get(c, "key"));
	const char *prefix = json_string_value(json_object_get(c, "prefix"));
	struct stat st;
	struct s3 *s;
	int n = 0, rc;

	if (!inside(path)) {
		fprintf(stderr, "s3_write: path must be relative to the workspace\n");
		return 2;
	}
	if ((key == NULL) == (prefix == NULL)) {
		fprintf(stderr, "s3_write: give key (one file) or prefix\n");
		return 2;
	}
	if (key != NULL && (stat(path, &st) < 0 || !S_ISREG(st.st_mode))) {
		fprintf(stderr, "s3_write: with key, path must be a file\n");
		return 1;
	}
	if ((s = client(c)) == NULL)
		return 1;
	if (key == NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		char *k = NULL;

		rc = asprintf(&k, "%s%s", prefix, base) < 0 ? -1 : put_tree(s, path, k, &n);
		free(k);
	} else {
		rc = put_tree(s, path, key != NULL ? key : prefix, &n);
	}
	s3_free(s);
	if (rc < 0)
		return 1;
	out_kv("objects", "%d", n);
	return 0;
}

int
nodes_s3(json_t *job)
{
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));

	if (strcmp(type, "s3_ingest") == 0)
		return s3_ingest(job);
	if (strcmp(type, "s3_write") == 0)
		return s3_write(job);
	return 2;
}
