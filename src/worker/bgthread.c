/* The lifecycle the worker's background threads share: start with their
 * own connection and keyring, passes with sleeps that an eventfd ends
 * early, and a stop that waits for the pass under way. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dagy/config.h"
#include "dagy/db.h"
#include "dagy/log.h"
#include "dagy/secrets.h"
#include "bgthread.h"
#include "worker.h"

int
bg_quitting(struct bgthread *t)
{
	int q;

	pthread_mutex_lock(&t->mu);
	q = t->quit;
	pthread_mutex_unlock(&t->mu);
	return q;
}

void
bg_poke(struct bgthread *t)
{
	uint64_t one = 1;

	if (t != NULL && write(t->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_syserr("eventfd");
}

static void *
bg_main(void *arg)
{
	struct bgthread *t = arg;
	struct pollfd p = {.fd = t->efd, .events = POLLIN};

	while (!bg_quitting(t)) {
		int wait_ms = t->pass(t);
		uint64_t n;

		if (wait_ms > 0 && poll(&p, 1, wait_ms) > 0 && read(t->efd, &n, sizeof(n)) < 0 &&
		    errno != EAGAIN)
			log_syserr("eventfd");
	}
	return NULL;
}

struct bgthread *
bg_start(struct worker *w, const char *what, int (*pass)(struct bgthread *))
{
	struct bgthread *t = calloc(1, sizeof(*t));
	char err[512];

	if (t == NULL)
		return NULL;
	t->what = what;
	t->cfg = w->cfg;
	t->name = w->name;
	t->pass = pass;
	t->efd = -1;
	pthread_mutex_init(&t->mu, NULL);
	/* A keyring of its own: opening re-reads the file after a rotation,
	 * which must not race the executor's. */
	if (secrets_keyring_load(&t->keys, config_str(w->cfg, "secrets", "key_file"), err,
	    sizeof(err)) < 0) {
		log_err("%s: %s", what, err);
		goto fail;
	}
	if ((t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 || db_open(&t->db, w->cfg) < 0 ||
	    pthread_create(&t->thread, NULL, bg_main, t) != 0) {
		log_syserr("cannot start %s", what);
		goto fail;
	}
	return t;
fail:
	if (t->efd >= 0)
		close(t->efd);
	db_close(t->db);
	secrets_keyring_free(t->keys);
	pthread_mutex_destroy(&t->mu);
	free(t);
	return NULL;
}

void
bg_stop(struct bgthread **tp)
{
	struct bgthread *t = *tp;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->quit = 1;
	pthread_mutex_unlock(&t->mu);
	bg_poke(t);
	pthread_join(t->thread, NULL);
	close(t->efd);
	db_close(t->db);
	secrets_keyring_free(t->keys);
	pthread_mutex_destroy(&t->mu);
	free(t);
	*tp = NULL;
}
