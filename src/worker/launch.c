/* The launcher: a small process forked when the worker starts, before it
 * grows, that spawns every step (posix_spawn, each in its own process
 * group), signals and reaps them, and reports to the worker over a
 * socketpair. When the worker dies, even by SIGKILL, its end of the socket
 * closes and the launcher kills every step's process group before it
 * exits, so no step outlives its worker. Spawning from here rather than
 * from the worker also keeps the cost of a spawn independent of how large
 * the worker has become. Runs' working directories are made and removed
 * here as well: on some filesystems a mkdir or a tree walk costs most of a
 * millisecond, which the worker's loop should not wait for.
 *
 * The launcher runs at most `slots` processes and queues the worker's
 * further requests: when a step exits, the next one starts here at once,
 * without the round trip through the worker that decides what is next. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

enum { REQ_SPAWN = 1, REQ_SIGNAL = 2, REQ_RMTREE = 3 };

/* What the worker sends. A spawn's strings follow in the same message, or
 * when they are many, in a memfd whose descriptor comes first. */
struct req {
	uint32_t kind;
	int32_t sig;
	uint64_t token;
	uint32_t argc, envc, has_stdin, in_memfd;
};

#define INLINE_MAX 65536

static int launch_send(int sock, struct msghdr *mh);

struct child {
	pid_t pid;
	uint64_t token;
};

static struct child *children;
static size_t nchildren, capchildren, slots;

/* A spawn waiting for a slot: its request, its strings and descriptors. */
struct pending {
	struct req q;
	char *body;
	size_t len;
	int fds[4], nfds;
	struct pending *next;
};

static struct pending *queue, **queue_tail = &queue;
/* Reports the worker has not taken yet. The launcher never blocks on the
 * worker, so the worker's own blocking sends always drain. */
static struct launch_msg *outq;
static size_t outlen, outcap;

static void
reply_at(int kind, uint64_t token, pid_t pid, int status, const struct timespec *at)
{
	if (outlen == outcap) {
		outcap = outcap ? outcap * 2 : 64;
		outq = realloc(outq, outcap * sizeof(*outq));
	}
	outq[outlen++] = (struct launch_msg){.kind = kind, .pid = pid, .status = status,
	    .token = token, .at = *at};
}

static void
reply(int kind, uint64_t token, pid_t pid, int status)
{
	static const struct timespec none;

	reply_at(kind, token, pid, status, &none);
}

static void
send_replies(int sock)
{
	size_t sent = 0;

	while (sent < outlen && send(sock, &outq[sent], sizeof(*outq), MSG_NOSIGNAL) ==
	    (ssize_t)sizeof(*outq))
		sent++;
	memmove(outq, outq + sent, (outlen - sent) * sizeof(*outq));
	outlen -= sent;
}

/* Reads the spawn's strings: cwd, path, shell command, argv, envp, each
 * NUL-terminated, in that order. */
static char *
read_body(int fd, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return NULL;
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static int
spawn_one(const char *path, char *const argv[], char *const envp[], const char *cwd,
    int in, int out, int err, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGQUIT);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, cwd);
	rc = posix_spawn(pid, path, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return rc;
}

/* Starts p now and frees it. */
static void
do_spawn(struct pending *p, int devnull)
{
	const struct req *q = &p->q;
	char *body = NULL, *cur, *end, **argv = NULL, **envp = NULL;
	const char *cwd, *path, *shcmd;
	int *fds = p->fds, nfds = p->nfds, i;
	struct timespec at = {0, 0};
	size_t len = p->len;
	uint32_t k;
	pid_t pid = 0;
	int rc = EINVAL;

	if (nfds < 2 + (q->in_memfd ? 1 : 0) + (q->has_stdin ? 1 : 0))
		goto done;
	if (q->in_memfd) {
		if ((body = read_body(fds[0], &len)) == NULL)
			goto done;
		cur = body;
		fds++;
	} else {
		cur = p->body;
	}
	argv = calloc(q->argc + 1, sizeof(*argv));
	envp = calloc(q->envc + 1, sizeof(*envp));
	end = cur + len;
#define NEXT(v) do { if (cur >= end) goto done; (v) = cur; cur += strlen(cur) + 1; } while (0)
	NEXT(cwd);
	NEXT(path);
	NEXT(shcmd);
	for (k = 0; k < q->argc; k++)
		NEXT(argv[k]);
	for (k = 0; k < q->envc; k++)
		NEXT(envp[k]);
#undef NEXT
	/* A run's first step makes its directory; a failure shows as the
	 * spawn's own, which cannot enter it. */
	(void)mkdir(cwd, 0700);
	clock_gettime(CLOCK_REALTIME, &at);
	rc = spawn_one(path, argv, envp, cwd, q->has_stdin ? fds[2] : devnull, fds[0],
	    fds[1], &pid);
	/* A command run without the shell that cannot be executed (missing,
	 * not executable, a script without #!) goes to the shell, which then
	 * does and says exactly what it always would. */
	if (rc != 0 && *shcmd != '\0') {
		char *sh[] = {"sh", "-c", (char *)shcmd, NULL};

		rc = spawn_one("/bin/sh", sh, envp, cwd, devnull, fds[0], fds[1], &pid);
	}
done:
	if (rc == 0) {
		if (nchildren == capchildren) {
			capchildren = capchildren ? capchildren * 2 : 64;
			children = realloc(children, capchildren * sizeof(*children));
		}
		children[nchildren++] = (struct child){pid, q->token};
		reply_at(LAUNCH_STARTED, q->token, pid, 0, &at);
	} else {
		reply(LAUNCH_FAILED, q->token, 0, rc);
	}
	for (i = 0; i < p->nfds; i++)
		close(p->fds[i]);
	free(argv);
	free(envp);
	free(body);
	free(p->body);
	free(p);
}

/* Starts queued spawns while there are free slots. */
static void
start_queued(int devnull)
{
	while (queue != NULL && nchildren < slots) {
		struct pending *p = queue;

		if ((queue = p->next) == NULL)
			queue_tail = &queue;
		do_spawn(p, devnull);
	}
}

/* A queued spawn that is signalled never starts: it ends as if the signal
 * had killed it. Returns 1 when the token was queued. */
static int
drop_queued(uint64_t token, int sig)
{
	struct pending **pp, *p;
	int i;

	for (pp = &queue; (p = *pp) != NULL; pp = &p->next) {
		if (p->q.token != token)
			continue;
		if ((*pp = p->next) == NULL)
			queue_tail = pp;
		for (i = 0; i < p->nfds; i++)
			close(p->fds[i]);
		reply(LAUNCH_EXITED, token, 0, sig & 0x7f);
		free(p->body);
		free(p);
		return 1;
	}
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
do_signal(const struct req *q)
{
	size_t i;

	if (q->sig != 0 && drop_queued(q->token, q->sig))
		return;
	for (i = 0; i < nchildren; i++)
		if (children[i].token == q->token)
			kill(-children[i].pid, q->sig);
}

static void
reap(int devnull)
{
	int wstatus;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		for (i = 0; i < nchildren; i++) {
			if (children[i].pid != pid)
				continue;
			/* Whatever the step left behind in its group goes too. */
			kill(-pid, SIGKILL);
			reply(LAUNCH_EXITED, children[i].token, pid, wstatus);
			children[i] = children[--nchildren];
			break;
		}
	start_queued(devnull);
}

/* Queues a spawn request, taking its descriptors; 0, or -1 after
 * answering that it failed (the caller keeps the descriptors). */
static int
enqueue(const struct req *q, const char *body, size_t len, const int *fds, int nfds)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->body = malloc(len + 1)) == NULL) {
		free(p);
		reply(LAUNCH_FAILED, q->token, 0, ENOMEM);
		return -1;
	}
	p->q = *q;
	p->len = len;
	memcpy(p->body, body, len);
	p->body[len] = '\0';
	memcpy(p->fds, fds, (size_t)nfds * sizeof(*fds));
	p->nfds = nfds;
	*queue_tail = p;
	queue_tail = &p->next;
	return 0;
}

/* Returns 1 after a request, 2 when there is none now, 0 when the worker
 * is gone. */
static int
take_request(int sock, int devnull)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	static char body[INLINE_MAX + 1];
	struct req q;
	struct iovec iov[2] = {{&q, sizeof(q)}, {body, INLINE_MAX}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.buf,
	    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	int fds[4], nfds = 0, i;
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 2 : 0;
	if (n == 0)
		return 0;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (i = 0; i < got && nfds < 4; i++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	if ((size_t)n >= sizeof(q) && q.kind == REQ_SPAWN) {
		if (enqueue(&q, body, (size_t)n - sizeof(q), fds, nfds) == 0)
			nfds = 0;
		start_queued(devnull);
	} else if ((size_t)n == sizeof(q) && q.kind == REQ_SIGNAL) {
		do_signal(&q);
	} else if ((size_t)n > sizeof(q) && q.kind == REQ_RMTREE) {
		body[n - (ssize_t)sizeof(q)] = '\0';
		nftw(body, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return 1;
}

static void __attribute__((noreturn))
launcher_main(int sock, size_t max_running)
{
	struct pollfd pfd[2];
	sigset_t chld;
	size_t i;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC), sfd;

	slots = max_running;
	prctl(PR_SET_NAME, "dagy-launcher");
	/* Ctrl-C reaches the whole foreground group: the worker stops
	 * gracefully and the launcher must keep its steps until it has. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	pfd[0] = (struct pollfd){.fd = sock, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	fcntl(sock, F_SETFL, O_NONBLOCK);
	for (;;) {
		pfd[0].events = POLLIN | (outlen > 0 ? POLLOUT : 0);
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		/* Requests first: a signal for a queued step must drop it before
		 * a reap gives it the slot. */
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			int rc;

			while ((rc = take_request(sock, devnull)) == 1)
				;
			if (rc == 0)
				break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap(devnull);
		}
		send_replies(sock);
	}
	for (i = 0; i < nchildren; i++)
		kill(-children[i].pid, SIGKILL);
	_exit(0);
}

int
launch_start(pid_t *pid, int max_running)
{
	int sv[2];
	int size = 4 * INLINE_MAX;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if ((*pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (*pid == 0) {
		close(sv[0]);
		launcher_main(sv[1], (size_t)max_running);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	return sv[0];
}

/* Appends s and its NUL to the body. */
static void
put(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		*buf = realloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
}

int
launch_spawn(int sock, uint64_t token, const char *path, char *const argv[],
    char *const envp[], const char *cwd, const char *shcmd, int in, int out, int err)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct req q = {.kind = REQ_SPAWN, .token = token, .has_stdin = in >= 0};
	struct iovec iov[2] = {{&q, sizeof(q)}, {NULL, 0}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.buf};
	struct cmsghdr *c;
	int fds[4], nfds = 0, memfd = -1, rc = -1;
	size_t len = 0, cap = 4096;
	char *body = malloc(cap);
	uint32_t i;

	put(&body, &len, &cap, cwd);
	put(&body, &len, &cap, path);
	put(&body, &len, &cap, shcmd ? shcmd : "");
	for (i = 0; argv[i] != NULL; i++)
		put(&body, &len, &cap, argv[i]);
	q.argc = i;
	for (i = 0; envp[i] != NULL; i++)
		put(&body, &len, &cap, envp[i]);
	q.envc = i;
	if (len <= INLINE_MAX) {
		iov[1] = (struct iovec){body, len};
	} else {
		/* Over what one message carries: the body goes by memfd. */
		if ((memfd = memfd_create("dagy-spawn", MFD_CLOEXEC)) < 0 ||
		    write(memfd, body, len) != (ssize_t)len)
			goto fail;
		q.in_memfd = 1;
		fds[nfds++] = memfd;
	}
	fds[nfds++] = out;
	fds[nfds++] = err;
	if (in >= 0)
		fds[nfds++] = in;
	mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	rc = launch_send(sock, &mh);
fail:
	if (memfd >= 0)
		close(memfd);
	free(body);
	return rc;
}

int
launch_signal(int sock, uint64_t token, int sig)
{
	struct req q = {.kind = REQ_SIGNAL, .sig = sig, .token = token};
	struct iovec iov = {&q, sizeof(q)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	return launch_send(sock, &mh);
}

int
launch_rmtree(int sock, const char *path)
{
	struct req q = {.kind = REQ_RMTREE};
	struct iovec iov[2] = {{&q, sizeof(q)}, {(void *)path, strlen(path) + 1}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	return launch_send(sock, &mh);
}

static int
launch_send(int sock, struct msghdr *mh)
{
	struct pollfd p = {.fd = sock, .events = POLLOUT};

	/* The socket is non-blocking for reads; a full buffer only means the
	 * launcher is busy, so wait for room. */
	for (;;) {
		if (sendmsg(sock, mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || poll(&p, 1, 1000) < 0)
			return -1;
	}
}

int
launch_recv(int sock, struct launch_msg *m)
{
	ssize_t n = recv(sock, m, sizeof(*m), 0);

	if (n == (ssize_t)sizeof(*m))
		return 1;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}
