/* Runs a fuzz target over its seed corpus (t/fuzz/corpus/NAME) and its
 * regression inputs (t/fuzz/regressions/NAME), one TAP test per file,
 * NAME being this program's name without ".t". A crash, a sanitizer
 * report or a leak ends the program, which fails the test. Run from the
 * top of the source tree, as script/test does. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "fuzz.h"

#define MAX_FILES 4096

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the regular files of dir to paths; the count, or -1 when the
 * directory is missing (the seed corpus must exist). */
static int
list(const char *dir, char **paths, int n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return errno == ENOENT ? -1 : n;
	while ((e = readdir(d)) != NULL && n < MAX_FILES) {
		if (e->d_name[0] == '.')
			continue;
		if ((paths[n] = malloc(strlen(dir) + strlen(e->d_name) + 2)) == NULL)
			abort();
		sprintf(paths[n++], "%s/%s", dir, e->d_name);
	}
	closedir(d);
	return n;
}

static void
run(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0)
		bail("cannot read %s", path);
	/* Exactly len bytes, so an overread is the sanitizer's to catch. */
	if ((buf = malloc(len > 0 ? (size_t)len : 1)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len)
		bail("cannot read %s", path);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
}

int
main(int argc, char **argv)
{
	static char *paths[MAX_FILES];
	const char *name = strrchr(argv[0], '/');
	char target[64], dir[256];
	int n, seeds, i;

	(void)argc;
	name = name != NULL ? name + 1 : argv[0];
	snprintf(target, sizeof(target), "%.*s", (int)strcspn(name, "."), name);
	snprintf(dir, sizeof(dir), "t/fuzz/corpus/%s", target);
	if ((seeds = list(dir, paths, 0)) <= 0)
		bail("no seed corpus in %s (run from the top of the tree)", dir);
	snprintf(dir, sizeof(dir), "t/fuzz/regressions/%s", target);
	if ((n = list(dir, paths, seeds)) < 0)
		n = seeds;
	qsort(paths, (size_t)n, sizeof(paths[0]), cmp);
	plan(n);
	for (i = 0; i < n; i++) {
		run(paths[i]);
		ok(1, "%s", paths[i]);
		free(paths[i]);
	}
	return 0;
}
