/* The directory store of uploaded bytes; see blobdir.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dagy/blobdir.h"

int
blobdir_path(const char *dir, const char *key, char *out, size_t outlen)
{
	if (*key == '\0' || strspn(key, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(key))
		return -1;
	if ((size_t)snprintf(out, outlen, "%s/%s", dir, key) >= outlen)
		return -1;
	return 0;
}

int
blobdir_put(const char *dir, const char *key, const void *data, size_t n)
{
	char path[1024], tmp[1100];
	const char *p = data;
	int fd = -1;

	if (blobdir_path(dir, key, path, sizeof(path)) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
		return -1;
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		n -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

int
blobdir_delete(const char *dir, const char *key)
{
	char path[1024];

	if (blobdir_path(dir, key, path, sizeof(path)) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}
