/* Creating and mapping a host's shared memory. Sizing and the first
 * initialisation happen under flock; after that the users' atomics are the
 * only synchronisation, so a process killed at any point leaves nothing to
 * clean up. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dagy/log.h"
#include "dagy/shm.h"

void *
shm_map(const char *path, size_t size, uint64_t magic, int *shared_file)
{
	void *p = MAP_FAILED;
	struct stat sb;
	int fd = -1;

	*shared_file = 0;
	if (path != NULL && *path != '\0' &&
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0) {
		if (flock(fd, LOCK_EX) == 0 && fstat(fd, &sb) == 0 &&
		    ((size_t)sb.st_size == size ||
		    (ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)size) == 0)))
			p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED && *(uint64_t *)p != magic) {
			memset(p, 0, size);
			*(volatile uint64_t *)p = magic;
		}
		flock(fd, LOCK_UN);
		close(fd);
		*shared_file = p != MAP_FAILED;
	}
	if (p == MAP_FAILED) {
		if (path != NULL && *path != '\0')
			log_warn("cannot map %s (%s): shared with forked processes only",
			    path, strerror(errno));
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		*(uint64_t *)p = magic;
	}
	return p;
}

void
shm_unmap(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}
