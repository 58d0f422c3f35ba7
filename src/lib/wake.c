/* Unix datagram wake-ups. Sockets of workers that died are unlinked by
 * the sender when connecting to them is refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

void
wake_send(const char *dir, int kinds)
{
	char byte = (char)(kinds & WAKE_ALL);
	struct sockaddr_un sa;
	struct dirent *e;
	DIR *d;
	int fd;

	if ((d = opendir(dir)) == NULL)
		return;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "worker-", 7) != 0 ||
		    strstr(e->d_name, ".sock") == NULL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
		    e->d_name) >= (int)sizeof(sa.sun_path))
			continue;
		if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		    errno == ECONNREFUSED)
			unlink(sa.sun_path);
	}
	close(fd);
	closedir(d);
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
