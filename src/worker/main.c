/* dagy-worker: claims queued runs and executes them. It runs in the
 * foreground (systemd, script/server), logs to stderr, and on SIGTERM
 * stops claiming, lets running steps finish within
 * [worker] shutdown_grace_seconds, then gives its runs back. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "dagy/config.h"
#include "dagy/db.h"
#include "dagy/exceptions.h"
#include "dagy/log.h"
#include "dagy/secrets.h"
#include "dagy/wake.h"
#include "bgthread.h"
#include "worker.h"

#define FLUSH_EVERY 0.050 /* seconds between batches while steps are busy */
#define MAX_EVENTS 64

static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	char c = (char)sig;
	int saved = errno;

	if (write(sig_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
	errno = saved;
}

static int
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void
mkdirs(const char *path)
{
	char buf[512], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	mkdir(buf, 0755);
}

/* Moves a finished run's directory aside at once, so a later claim of the
 * same run on this host starts clean, and has the launcher remove it. */
static void
drop_workdir(struct worker *w, struct run *r)
{
	static unsigned seq;
	char gone[sizeof(r->workdir) + 32];

	snprintf(gone, sizeof(gone), "%s.gone-%d-%u", r->workdir, (int)getpid(), seq++);
	if (rename(r->workdir, gone) == 0 && launch_rmtree(w->launcher, gone) < 0)
		log_warn("run %s: %s is left behind", r->public_id, gone);
}

/* Drops runs that are finished and recorded. */
static void
retire_runs(struct worker *w)
{
	struct run **pp = &w->runs;

	while (*pp != NULL) {
		struct run *r = *pp;
		if (r->nproc == 0 && r->finished && (r->done_recorded || r->lost)) {
			*pp = r->next;
			w->nruns--;
			drop_workdir(w, r);
			run_free(r);
			continue;
		}
		pp = &r->next;
	}
}

/* How long a stop may take to record what is left. */
static double
grace_of(const struct config *cfg)
{
	return (double)config_int(cfg, "worker", "shutdown_grace_seconds");
}

/* What an epoll event is about when it is not a step's stream. */
static char tag_signal, tag_wake, tag_launcher, tag_store;

static int
watch_fd(struct worker *w, int fd, void *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int
run_loop(struct worker *w, int wake_fd, int store_fd)
{
	double poll_every = config_int(w->cfg, "worker", "poll_interval_ms") / 1000.0;
	double grace = grace_of(w->cfg);
	double next_poll = 0, next_beat = 0, next_reap = 0, last_flush = 0;
	double stop_deadline = 0, next_fire = 0;
	int killed = 0, backlog = 0, lost_launcher = 0, claim_now = 0, check_now = 0;
	struct epoll_event evs[MAX_EVENTS];

	if (watch_fd(w, sig_pipe[0], &tag_signal) < 0 || watch_fd(w, w->launcher, &tag_launcher) < 0 ||
	    watch_fd(w, store_fd, &tag_store) < 0 ||
	    (wake_fd >= 0 && watch_fd(w, wake_fd, &tag_wake) < 0)) {
		log_syserr("epoll_ctl");
		return 1;
	}
	for (;;) {
		double now = now_mono(), wait, timer;
		int nev, k;

		if (now >= next_beat) {
			if (claim_heartbeat(w) < 0)
				log_warn("renewing leases failed: %s", db_errmsg(w->db));
			next_beat = now + w->lease / 3.0;
		}
		if (now >= next_reap) {
			claim_reap(w);
			next_reap = now + w->lease / 2.0;
		}
		if (!w->stopping && (now >= next_fire || now >= next_poll)) {
			time_t due = 0;
			int fired = sched_fire(w, &due);

			/* Sleep until the earliest slot, rechecking at each poll:
			 * the API wakes us when schedules change. */
			next_fire = due > 0 ? now + (double)(due - time(NULL)) : now + 3600;
			if (fired > 0) {
				next_poll = now;
				wake_send(config_str(w->cfg, "worker", "wake_dir"), WAKE_RUNS);
			}
		}
		exec_timers(w, now);
		/* Steps of runs already held go first; new runs get what is left. */
		exec_schedule(w, now);
		if (!w->stopping && (now >= next_poll || backlog || claim_now || check_now)) {
			int free_slots = w->inflight - w->running;
			int want = free_slots < w->max_runs - w->nruns ?
			    free_slots : w->max_runs - w->nruns;

			if (now >= next_poll || check_now) {
				if (claim_check(w) < 0)
					log_warn("checking runs failed: %s", db_errmsg(w->db));
				if (now >= next_poll)
					next_poll = now + poll_every;
				check_now = 0;
			}
			claim_now = 0;
			/* A full batch means more are queued: claim again as soon
			 * as a slot frees instead of waiting for the next poll. */
			if (want > 0) {
				int got = claim_runs(w, want);

				backlog = got == want;
				if (got > 0)
					exec_schedule(w, now);
			}
		}

		if (!w->store_busy && (w->running == 0 || now - last_flush >= FLUSH_EVERY) &&
		    store_flush(w))
			last_flush = now;
		retire_runs(w);
		if (w->stopping) {
			if (w->running == 0 && !store_pending(w) && !w->store_busy)
				break;
			if (now >= stop_deadline && !killed) {
				log_warn("shutdown grace over: killing %d running step(s)", w->running);
				exec_kill_all(w);
				killed = 1;
			}
		}

		wait = next_poll < next_beat ? next_poll : next_beat;
		if (next_fire < wait)
			wait = next_fire;
		if (next_reap < wait)
			wait = next_reap;
		timer = exec_next_timer(w, now);
		if (timer < wait)
			wait = timer;
		if (!w->store_busy && store_pending(w) && last_flush + FLUSH_EVERY < wait)
			wait = last_flush + FLUSH_EVERY;
		if (w->stopping && stop_deadline < wait && !killed)
			wait = stop_deadline;
		wait -= now;

		nev = epoll_wait(w->epfd, evs, MAX_EVENTS, wait <= 0 ? 0 : (int)(wait * 1000) + 1);
		if (nev < 0 && errno != EINTR) {
			log_syserr("epoll_wait");
			break;
		}
		now = now_mono();
		for (k = 0; k < nev; k++) {
			void *tag = evs[k].data.ptr;

			if (tag == &tag_signal) {
				char sigs[64];
				ssize_t got = read(sig_pipe[0], sigs, sizeof(sigs)), j;

				for (j = 0; j < got; j++)
					if ((sigs[j] == SIGTERM || sigs[j] == SIGINT) && !w->stopping) {
						log_info("stopping: no new runs; %d step(s) may finish "
						    "within %.0f s", w->running, grace);
						w->stopping = 1;
						stop_deadline = now + grace;
						exec_stop_queued(w);
					}
				/* Only the launcher is ours to reap: threads that run
				 * children of their own (git, for projects) wait for
				 * them themselves. */
				waitpid(w->launcher_pid, NULL, WNOHANG);
			} else if (tag == &tag_store) {
				store_collected(w);
			} else if (tag == &tag_wake) {
				int kinds = wake_drain(wake_fd);

				claim_now |= (kinds & WAKE_RUNS) != 0;
				check_now |= (kinds & WAKE_HELD) != 0;
				if (kinds & WAKE_SCHEDULES)
					next_fire = 0;
				if (kinds & WAKE_ALERTS)
					bg_poke(w->sender);
			} else if (tag == &tag_launcher) {
				struct launch_msg m;
				int got;

				while ((got = launch_recv(w->launcher, &m)) == 1)
					exec_launched(w, &m, now);
				if (got < 0 && !lost_launcher) {
					log_err("the step launcher is gone: killing running steps "
					    "and giving their runs back");
					exceptions_record(w->cfg, "dagy-worker", w->name,
					    "the step launcher died", json_pack("{s:i, s:i}",
					    "launcher_pid", (int)w->launcher_pid, "running", w->running),
					    NULL);
					epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->launcher, NULL);
					exec_abandon_all(w);
					w->stopping = lost_launcher = 1;
					stop_deadline = now;
				}
			} else {
				struct linebuf *lb = tag;

				/* The stream may have closed on an earlier event. */
				if (lb->fd >= 0)
					exec_read(w, lb->owner, lb->stream, now);
			}
		}
	}
	return lost_launcher ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct worker w;
	struct config *cfg = NULL;
	char err[512], wake_path[128] = "";
	int wake_fd = -1, store_fd, rc = 1, i;

	memset(&w, 0, sizeof(w));
	w.launcher = w.epfd = -1;
	log_init("dagy-worker", LOG_LVL_INFO);
	if (argc == 2 && strcmp(argv[1], "--builtin") == 0)
		return builtin_main();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0)
			return printf("dagy-worker %s\n", PACKAGE_VERSION), 0;
		fprintf(stderr, "usage: dagy-worker [--version]\n"
		    "Configuration: $DAGY_CONFIG or " CONFIG_DEFAULT_PATH "\n");
		return 2;
	}
	if (config_load(&cfg, NULL, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	if (log_to_file(config_str(cfg, "log", "file")) < 0) {
		log_syserr("cannot open log file %s", config_str(cfg, "log", "file"));
		goto done;
	}
	w.cfg = cfg;
	w.concurrency = (int)config_int(cfg, "worker", "concurrency");
	w.max_runs = (int)config_int(cfg, "worker", "max_runs");
	w.lease = (int)config_int(cfg, "worker", "lease_seconds");
	w.kill_grace = config_int(cfg, "worker", "kill_grace_ms") / 1000.0;
	w.max_line = (size_t)config_int(cfg, "worker", "max_log_line_bytes");
	w.max_step_log = (size_t)config_int(cfg, "worker", "max_step_log_bytes");
	if (w.concurrency < 1 || w.lease < 3 || w.max_runs < 1) {
		log_err("[worker] concurrency and max_runs must be >= 1, lease_seconds >= 3");
		goto done;
	}
	w.inflight = 2 * w.concurrency;
	w.procs = calloc((size_t)w.inflight, sizeof(*w.procs));
	/* First, while this process is small: every step is spawned from it. */
	if ((w.launcher = launch_start(&w.launcher_pid, w.concurrency)) < 0) {
		log_syserr("cannot start the step launcher");
		goto done;
	}
	if (readlink("/proc/self/exe", w.self_exe, sizeof(w.self_exe) - 1) < 0 ||
	    (w.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_syserr("dagy-worker");
		goto done;
	}
	gethostname(w.host, sizeof(w.host) - 1);
	snprintf(w.name, sizeof(w.name), "%s:%d", w.host, (int)getpid());
	snprintf(w.workdir, sizeof(w.workdir), "%s", config_str(cfg, "worker", "work_dir"));
	mkdirs(w.workdir);
	mkdirs(config_str(cfg, "worker", "wake_dir"));
	if ((wake_fd = wake_listen(config_str(cfg, "worker", "wake_dir"), wake_path)) < 0)
		log_warn("no wake-up socket in %s; polling only",
		    config_str(cfg, "worker", "wake_dir"));
	if (setup_signals() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		goto done;
	if (db_open(&w.db, cfg) < 0)
		goto done;
	/* A missing or wrong key file stops us here, not at the first secret. */
	if (secrets_keyring_open(&w.keys, cfg, w.db, err, sizeof(err)) < 0) {
		log_err("refusing to start: %s", err);
		goto done;
	}
	w.logs = json_array();
	if ((store_fd = store_start(&w)) < 0) {
		log_syserr("cannot start the recorder");
		goto done;
	}
	if ((w.sender = bg_start(&w, "the sender of alerts", deliver_pass)) == NULL ||
	    (w.syncer = bg_start(&w, "the syncer of projects", projects_pass)) == NULL ||
	    (w.poller = bg_start(&w, "the poller of sensors", sensors_pass)) == NULL)
		goto done;
	log_info("worker %s started: concurrency %d", w.name, w.concurrency);
	rc = run_loop(&w, wake_fd, store_fd);
	/* Everything recorded, then the runs given back: never the reverse. */
	store_drain(&w, grace_of(cfg));
	if (claim_release(&w) < 0)
		log_warn("releasing runs failed: %s", db_errmsg(w.db));
	while (w.runs != NULL) {
		struct run *r = w.runs;

		w.runs = r->next;
		r->finished = 0;
		run_free(r);
	}
	log_info("worker %s stopped", w.name);
done:
	bg_stop(&w.poller);
	bg_stop(&w.syncer);
	bg_stop(&w.sender);
	store_stop(&w);
	/* Closing its socket lets the launcher go; no step is left by now. */
	if (w.launcher >= 0) {
		close(w.launcher);
		waitpid(w.launcher_pid, NULL, 0);
	}
	if (w.epfd >= 0)
		close(w.epfd);
	if (wake_fd >= 0) {
		close(wake_fd);
		unlink(wake_path);
	}
	json_decref(w.logs);
	json_decref(w.which);
	free(w.procs);
	db_close(w.db);
	secrets_keyring_free(w.keys);
	curl_global_cleanup();
	config_free(cfg);
	return rc;
}
