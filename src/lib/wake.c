/* Unix datagram wake-ups. Sockets of workers that died are unlinked by
 * the sender when connecting to them is refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dagy/wake.h"

int
wake_listen(const char *dir, char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/worker-%d.sock", dir,
	    (int)getpid()) >= (int)sizeof(sa.sun_path))
		return -1;
	unlink(sa.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	snprintf(path, sizeof(sa.sun_path), "%s", sa.sun_path);
	return fd;
}

/* What a sender remembers of the directory: the worker sockets in it as of
 * its last change, and a socket to send from. Listing the directory for
 * every wake-up was a quarter of a trigger's system calls. */
static struct {
	pthread_mutex_t mu;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct timespec mtime;
	int unsure;        /* listed in the tick of its last change */
	struct sockaddr_un *to;
	size_t n, cap;
	int fd;
} known = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

/* Lists dir's worker sockets again when it changed since the last look. */
static int
refresh(const char *dir)
{
	struct timespec now;
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (stat(dir, &st) < 0)
		return -1;
	if (strcmp(known.dir, dir) == 0 && !known.unsure &&
	    st.st_mtim.tv_sec == known.mtime.tv_sec && st.st_mtim.tv_nsec == known.mtime.tv_nsec)
		return 0;
	if (snprintf(known.dir, sizeof(known.dir), "%s", dir) >= (int)sizeof(known.dir) ||
	    (d = opendir(dir)) == NULL) {
		known.dir[0] = '\0';
		return -1;
	}
	/* A directory's time moves in clock ticks of some milliseconds: a
	 * socket made in the tick of this listing would not change it, so a
	 * listing that close to the last change is made again next time. */
	clock_gettime(CLOCK_REALTIME, &now);
	known.unsure = (double)(now.tv_sec - st.st_mtim.tv_sec) +
	    (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9 < 0.05;
	known.mtime = st.st_mtim;
	known.n = 0;
	while ((e = readdir(d)) != NULL) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		if (strncmp(e->d_name, "worker-", 7) != 0 || strstr(e->d_name, ".sock") == NULL ||
		    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
		    e->d_name) >= (int)sizeof(sa.sun_path))
			continue;
		if (known.n == known.cap) {
			size_t cap = known.cap ? known.cap * 2 : 8;
			struct sockaddr_un *to = realloc(known.to, cap * sizeof(*to));

			if (to == NULL) {
				known.unsure = 1;
				break;
			}
			known.to = to;
			known.cap = cap;
		}
		known.to[known.n++] = sa;
	}
	closedir(d);
	return 0;
}

void
wake_send(const char *dir, int kinds)
{
	char byte = (char)(kinds & WAKE_ALL);
	size_t i;

	pthread_mutex_lock(&known.mu);
	if (known.fd < 0)
		known.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (known.fd >= 0 && refresh(dir) == 0)
		for (i = 0; i < known.n; i++)
			/* A dead worker's socket goes; the directory's change makes
			 * the next wake-up list it again. */
			if (sendto(known.fd, &byte, 1, 0, (struct sockaddr *)&known.to[i],
			    sizeof(known.to[i])) < 0 && errno == ECONNREFUSED)
				unlink(known.to[i].sun_path);
	pthread_mutex_unlock(&known.mu);
}

int
wake_drain(int fd)
{
	unsigned char byte;
	int kinds = 0;

	while (recv(fd, &byte, 1, MSG_TRUNC) > 0)
		kinds |= byte >= 1 && byte <= WAKE_ALL ? byte : WAKE_ALL;
	return kinds;
}
