/* Executing runs: steps start as soon as their dependencies succeed, up to
 * the worker's concurrency, each a child in its own process group with a
 * timeout (TERM, then KILL after a grace period) and retries with
 * exponential backoff. A failed step skips its descendants. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dagy/cmdline.h"
#include "dagy/config.h"
#include "dagy/flowspec.h"
#include "dagy/log.h"
#include "dagy/stepout.h"
#include "secretenv.h"
#include "worker.h"

#define DB_WAIT 5 /* seconds a step waits when its secrets cannot be read */

extern char **environ;

double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
timespec_sql(const struct timespec *ts, char out[32])
{
	struct tm tm;
	char base[24];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, 32, "%s.%06u", base, (unsigned)(ts->tv_nsec / 1000));
}

void
now_sql(char out[32])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	timespec_sql(&ts, out);
}

static int
terminal(enum step_state st)
{
	return st >= ST_SUCCESS;
}

static void
set_error(struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_error(struct step *s, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(s->error);
	s->error = strdup(buf);
}

/* Whether a successful branch step lets child c run: a child named in
 * the arm not taken is skipped; one named in neither arm always runs. */
static int
branch_skips(struct step *b, struct step *c)
{
	json_t *config = json_object_get(b->node, "config"), *v;
	const char *taken = json_string_value(json_object_get(b->outputs, "taken"));
	size_t i;

	if (taken == NULL)
		return 0;
	json_array_foreach(json_object_get(config, strcmp(taken, "then") == 0 ? "else" : "then"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), c->id) == 0)
			return 1;
	return 0;
}

/* The step's state changed: it is to be recorded, and its run looked at
 * again for steps that may start. */
static void
mark(struct step *s)
{
	s->dirty = 1;
	s->run->unrecorded = 1;
	s->run->changed = 1;
}

/* The step waits until at (monotonic seconds) to start again, logging why. */
static void
wait_retry(struct worker *w, struct step *s, double at, const char *note)
{
	store_log(w, s, 0, note, strlen(note), 0);
	s->st = ST_RETRY_WAIT;
	s->retry_at = at;
	w->nretry = 1;
	s->run->ready[s->run->nready++] = s->idx;
	mark(s);
}

/* A step's children learn how it ended: one that succeeded may release
 * them, one that did not dooms those still pending (unless the whole run
 * is being stopped, which settles every step itself). */
static void
settle(struct step *s)
{
	struct run *r = s->run;
	int i;

	r->nopen--;
	for (i = 0; i < s->nchildren; i++) {
		struct step *c = &r->steps[s->children[i]];

		if (c->st != ST_PENDING)
			continue;
		if (s->st == ST_SUCCESS && !(s->branch && branch_skips(s, c))) {
			if (--c->waiting == 0)
				r->ready[r->nready++] = c->idx;
		} else if (!r->cancelling && !r->lost) {
			c->st = ST_SKIPPED;
			now_sql(c->finished_at);
			mark(c);
			settle(c);
		}
	}
}

static void
finish_as(struct step *s, enum step_state st)
{
	s->st = st;
	now_sql(s->finished_at);
	mark(s);
	settle(s);
}

static char *
env_str(const char *name, const char *value)
{
	char *out;

	return asprintf(&out, "%s=%s", name, value) < 0 ? NULL : out;
}

/* "KEY=value" for the environment, from a JSON scalar. */
static char *
env_entry(const char *name, json_t *v)
{
	char *text = NULL, *out;

	if (json_is_string(v))
		text = strdup(json_string_value(v));
	else if (json_is_true(v))
		text = strdup("true");
	else if (json_is_false(v))
		text = strdup("false");
	else if (json_is_null(v) || v == NULL)
		text = strdup("");
	else
		text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (asprintf(&out, "%s=%s", name, text) < 0)
		out = NULL;
	free(text);
	return out;
}

static void
upper_name(const char *in, char *out, size_t n)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < n; i++)
		out[i] = isalnum((unsigned char)in[i]) ? (char)toupper((unsigned char)in[i]) : '_';
	out[i] = '\0';
}

/* Whether the worker's entry e gives way to the step's own: PWD, which
 * the step gets as its directory (as sh -c would set it), or a name the
 * node's env or its secrets set. Otherwise a name would appear twice, and
 * getenv (direct exec) and sh (which takes the last) would disagree. */
static int
overridden(const char *e, json_t *node_env, char *const *secret_env)
{
	size_t len = strcspn(e, "="), i;

	if (len == 3 && strncmp(e, "PWD", 3) == 0)
		return 1;
	if (json_object_getn(node_env, e, len) != NULL)
		return 1;
	for (i = 0; secret_env != NULL && secret_env[i] != NULL; i++)
		if (strncmp(secret_env[i], e, len) == 0 && secret_env[i][len] == '=')
			return 1;
	return 0;
}

/* The step's environment: the worker's, less its own DAGY_ settings and
 * what the step sets itself, plus run facts, parameters, upstream outputs
 * and the node's env. The worker's own entries are shared, not copied:
 * *nbase says how many lead the array. */
static char **
build_env(struct step *s, size_t *nbase)
{
	struct run *r = s->run;
	json_t *node_env = json_object_get(s->node, "env");
	size_t n = 0, cap = 64, i;
	char **env = malloc(cap * sizeof(*env)), name[256];
	const char *key;
	json_t *v;
	int k;

#define ADD(e) do {                                                           \
		char *e_ = (e);                                               \
		if (e_ == NULL)                                               \
			break;                                                \
		if (n + 2 > cap)                                              \
			env = realloc(env, (cap *= 2) * sizeof(*env));        \
		env[n++] = e_;                                                \
	} while (0)
	for (i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "DAGY_", 5) != 0 &&
		    !overridden(environ[i], node_env, secretenv_env(s)))
			ADD(environ[i]);
	*nbase = n;
	ADD(env_str("PWD", r->workdir));
	ADD(env_str("DAGY_RUN_ID", r->public_id));
	ADD(env_str("DAGY_FLOW", r->flow_name));
	ADD(env_str("DAGY_STEP_ID", s->id));
	ADD(env_str("DAGY_OUTPUT", s->outpath));
	ADD(env_str("DAGY_WORKDIR", r->workdir));
	json_object_foreach(r->params, key, v) {
		char up[128];

		upper_name(key, up, sizeof(up));
		snprintf(name, sizeof(name), "DAGY_PARAM_%s", up);
		ADD(env_entry(name, v));
	}
	for (k = 0; k < r->noutsteps; k++) {
		struct step *u = &r->steps[r->outsteps[k]];
		char sid[80];

		if (u->st != ST_SUCCESS)
			continue;
		flowspec_env_name(u->id, sid);
		json_object_foreach(u->outputs, key, v) {
			char up[128];

			upper_name(key, up, sizeof(up));
			snprintf(name, sizeof(name), "DAGY_OUTPUT_%s_%s", sid, up);
			ADD(env_entry(name, v));
		}
	}
	json_object_foreach(node_env, key, v)
		if (!json_is_object(v)) /* {"secret": …}: from secretenv below */
			ADD(env_entry(key, v));
	for (i = 0; secretenv_env(s) != NULL && secretenv_env(s)[i] != NULL; i++)
		ADD(strdup(secretenv_env(s)[i]));
#undef ADD
	env[n] = NULL;
	return env;
}

static void
free_env(char **env, size_t nbase)
{
	size_t i;

	for (i = nbase; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* cmdline_which, remembering for a few seconds what it found along PATH,
 * so the thousandth step of a graph does not walk PATH again. */
static int
which(struct worker *w, const char *name, const char *path, const char *cwd, char *out,
    size_t outsz)
{
	double now = now_mono();
	char key[4096];
	json_t *hit;

	if (strchr(name, '/') != NULL || (size_t)snprintf(key, sizeof(key), "%s\n%s", name,
	    path != NULL ? path : "") >= sizeof(key))
		return cmdline_which(name, path, cwd, out, outsz);
	if (w->which == NULL || now - w->which_at > 5) {
		json_decref(w->which);
		w->which = json_object();
		w->which_at = now;
	}
	if ((hit = json_object_get(w->which, key)) != NULL) {
		snprintf(out, outsz, "%s", json_string_value(hit));
		return 0;
	}
	if (cmdline_which(name, path, cwd, out, outsz) < 0)
		return -1;
	/* Found relative to the step's directory: true only there. */
	if (out[0] == '/')
		json_object_set_new(w->which, key, json_string(out));
	return 0;
}

/* The value of PATH in a step's environment, or NULL. */
static const char *
env_path(char **env)
{
	size_t i;

	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			return env[i] + 5;
	return NULL;
}

/* The job of a built-in step, on its stdin: a memfd, or -1. Besides the
 * node it holds the outputs of the step's dependencies (where records
 * nodes find their input) and the [ai] settings, key included, which so
 * reach the step without passing through its environment or logs. */
static int
builtin_job(struct worker *w, struct step *s)
{
	json_t *up = json_object();
	json_t *job = json_pack("{s:O, s:O, s:s, s:s, s:s, s:i, s:o, s:{s:s, s:s, s:s, s:s,"
	    " s:I, s:I}}", "node", s->node,
	    "params", s->run->params, "run_id", s->run->public_id, "flow",
	    s->run->flow_name, "step_id", s->id, "timeout", s->timeout, "upstream", up,
	    "ai", "base_url", config_str(w->cfg, "ai", "base_url"),
	    "api_key", config_str(w->cfg, "ai", "api_key"),
	    "model", config_str(w->cfg, "ai", "model"),
	    "embedding_model", config_str(w->cfg, "ai", "embedding_model"),
	    "timeout_seconds", (json_int_t)config_int(w->cfg, "ai", "timeout_seconds"),
	    "max_retries", (json_int_t)config_int(w->cfg, "ai", "max_retries"));
	int k;

	for (k = 0; k < s->ndeps; k++) {
		struct step *d = &s->run->steps[s->deps[k]];

		json_object_set(up, d->id, d->outputs);
	}
	char *text = json_dumps(job, JSON_COMPACT);
	int fd = memfd_create("dagy-job", MFD_CLOEXEC);
	size_t len = text != NULL ? strlen(text) : 0;

	if (fd >= 0 && (text == NULL || write(fd, text, len) != (ssize_t)len ||
	    lseek(fd, 0, SEEK_SET) != 0)) {
		close(fd);
		fd = -1;
	}
	free(text);
	json_decref(job);
	return fd;
}

/* A step's pipes join the loop only once it has run for WATCH_AFTER: one
 * that ends sooner, as most do, is read once at its exit, and the loop
 * wakes for it once instead of also for its pipes' end. What it writes
 * meanwhile waits in the pipe, which holds 64 KiB. */
#define WATCH_AFTER 0.02

static void
attach(struct linebuf *lb, struct step *s, int fd, int stream)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	lb->fd = fd;
	lb->owner = s;
	lb->stream = stream;
	lb->watched = 0;
}

static void
watch(struct worker *w, struct step *s)
{
	struct linebuf *lbs[2] = {&s->out, &s->err};
	int i;

	for (i = 0; i < 2; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lbs[i]};

		if (lbs[i]->fd >= 0 && !lbs[i]->watched) {
			epoll_ctl(w->epfd, EPOLL_CTL_ADD, lbs[i]->fd, &ev);
			lbs[i]->watched = 1;
		}
	}
	s->watch_at = 0;
}

/* Asks the launcher for the step's process. A shell command with no shell
 * syntax runs its program directly, as make does; the others, and those
 * whose program is not found, run under /bin/sh -c. */
static int
start_step(struct worker *w, struct step *s, double now)
{
	json_t *config = json_object_get(s->node, "config");
	int out[2] = {-1, -1}, err[2] = {-1, -1}, in = -1, rc;
	char **env = NULL, path[4096], words[4096], *argv[64], why[512];
	const char *shcmd = NULL;
	size_t nbase = 0;

	s->attempt++;
	snprintf(s->outpath, sizeof(s->outpath), "%s/.output-%s-%d", s->run->workdir,
	    s->id, s->attempt);
	/* An earlier holder of the run on this host may have left one. */
	if (s->run->old_workdir)
		unlink(s->outpath);
	/* Secrets are opened now, just before the process needs them. */
	if ((rc = secretenv_step(w, s, why, sizeof(why))) == SECRETENV_EDB) {
		char note[600];

		/* MariaDB is away: the attempt waits for it, uncounted. */
		snprintf(note, sizeof(note), "[dagy] %s; trying again in %d s", why, DB_WAIT);
		s->attempt--;
		wait_retry(w, s, now + DB_WAIT, note);
		return -1;
	}
	if (rc < 0) {
		char note[600];

		snprintf(note, sizeof(note), "[dagy] %s", why);
		store_log(w, s, 0, note, strlen(note), 0);
		set_error(s, "%s", why);
		now_sql(s->started_at);
		finish_as(s, ST_FAILED);
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		log_syserr("pipe");
		goto fail;
	}
	env = build_env(s, &nbase);
	if (s->kind == SK_SHELL) {
		const char *cmd = json_string_value(json_object_get(config, "command"));

		if (cmdline_split(cmd, words, sizeof(words), argv, 64) > 0 &&
		    which(w, argv[0], env_path(env), s->run->workdir, path, sizeof(path)) == 0) {
			shcmd = cmd;
		} else {
			snprintf(path, sizeof(path), "/bin/sh");
			argv[0] = "sh";
			argv[1] = "-c";
			argv[2] = (char *)cmd;
			argv[3] = NULL;
		}
	} else if (s->kind == SK_PYTHON) {
		if (which(w, "python3", env_path(env), s->run->workdir, path, sizeof(path)) < 0)
			snprintf(path, sizeof(path), "python3");
		argv[0] = "python3";
		argv[1] = "-c";
		argv[2] = (char *)json_string_value(json_object_get(config, "code"));
		argv[3] = NULL;
	} else {
		snprintf(path, sizeof(path), "%s", w->self_exe);
		argv[0] = "dagy-worker";
		argv[1] = "--builtin";
		argv[2] = NULL;
		in = builtin_job(w, s);
	}
	rc = launch_spawn(w->launcher, (uint64_t)(uintptr_t)s, path, argv, env,
	    s->run->workdir, shcmd, in, out[1], err[1]);
	free_env(env, nbase);
	if (in >= 0)
		close(in);
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	if (rc < 0) {
		log_syserr("asking the launcher for a step");
		goto fail;
	}
	attach(&s->out, s, out[0], 1);
	attach(&s->err, s, err[0], 2);
	s->watch_at = 0;
	/* Its clock starts when the launcher says it has: it may wait there
	 * for a slot. */
	s->pid = -1;
	s->exited = s->timed_out = 0;
	s->kill_at = 0;
	s->st = ST_RUNNING;
	s->exit_code = -1;
	s->finished_at[0] = '\0';
	s->started_at[0] = '\0';
	s->slot = w->running;
	w->procs[w->running++] = s;
	s->run->nproc++;
	return 0;
fail:
	{
		int e = errno, i;

		for (i = 0; i < 2; i++) {
			if (out[i] >= 0)
				close(out[i]);
			if (err[i] >= 0)
				close(err[i]);
		}
		set_error(s, "could not start: %s", strerror(e));
	}
	finish_as(s, ST_FAILED);
	return -1;
}

static void
add_output(struct step *s, const char *key, size_t klen, const char *val, size_t vlen)
{
	char k[STEPOUT_KEY_MAX + 1], *masked;
	size_t mn = 0;
	json_t *v;

	if (klen == 0 || klen > STEPOUT_KEY_MAX)
		return;
	memcpy(k, key, klen);
	k[klen] = '\0';
	/* An output is shown as the step's logs are: without its secrets; one
	 * that cannot be masked (out of memory) is not kept at all. */
	masked = secretenv_mask_value(s->secrets, val, vlen, &mn);
	if (s->secrets != NULL && masked == NULL)
		return;
	/* Values that are not UTF-8 cannot be stored as JSON; drop them. */
	v = masked != NULL ? json_stringn(masked, mn) : json_stringn(val, vlen);
	free(masked);
	if (v == NULL)
		return;
	if (json_object_size(s->outputs) == 0)
		s->run->outsteps[s->run->noutsteps++] = s->idx;
	json_object_set_new(s->outputs, k, v);
	json_array_append_new(s->new_outputs, json_pack("[s, O]", k, v));
	s->run->unrecorded = 1;
}

/* Reads key=value lines of the $DAGY_OUTPUT file. */
static void
read_output_file(struct step *s)
{
	FILE *f = fopen(s->outpath, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct stepout o;

		if (stepout_kv(line, (size_t)n, &o))
			add_output(s, o.key, o.klen, o.value, o.vlen);
	}
	free(line);
	fclose(f);
	unlink(s->outpath);
}

static void
emit_line(struct worker *w, struct step *s, int stream, const char *p, size_t n, int cut)
{
	struct stepout o;

	if (stream == 1 && !cut && stepout_marker(p, n, &o))
		add_output(s, o.key, o.klen, o.value, o.vlen);
	if (s->log_capped)
		return;
	if (n > w->max_line) {
		n = w->max_line;
		cut = 1;
	}
	if (s->log_bytes + n > w->max_step_log) {
		char note[128];

		s->log_capped = 1;
		snprintf(note, sizeof(note), "[dagy] output truncated: over %zu bytes",
		    w->max_step_log);
		store_log(w, s, 0, note, strlen(note), 1);
		return;
	}
	s->log_bytes += n;
	store_log(w, s, stream, p, n, cut);
}

static void
close_stream(struct linebuf *lb)
{
	if (lb->fd >= 0)
		close(lb->fd);
	lb->fd = -1;
}

/* Emits what is left of a stream's last line. */
static void
flush_partial(struct worker *w, struct step *s, struct linebuf *lb, int stream)
{
	if (lb->len > 0 && !lb->overlong)
		emit_line(w, s, stream, lb->buf, lb->len, 0);
	lb->len = 0;
	lb->overlong = 0;
	free(lb->buf);
	lb->buf = NULL;
	lb->cap = 0;
}

static void finish_step(struct worker *w, struct step *s, double now);

/* The step has no process any more. */
static void
drop_proc(struct worker *w, struct step *s)
{
	struct step *last = w->procs[--w->running];

	w->procs[s->slot] = last;
	last->slot = s->slot;
	s->pid = 0;
	s->run->nproc--;
}

static void
try_finish(struct worker *w, struct step *s, double now)
{
	if (s->exited && s->out.fd < 0 && s->err.fd < 0)
		finish_step(w, s, now);
}

void
exec_read(struct worker *w, struct step *s, int which, double now)
{
	struct linebuf *lb = which == 1 ? &s->out : &s->err;
	char raw[65536];

	for (;;) {
		ssize_t n = read(lb->fd, raw, sizeof(raw));
		ssize_t i, start = 0;
		const char *chunk;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* What the mask held back joins the last line. */
			size_t left = secretenv_flush(s->secrets, which, &chunk);

			if (left > 0 && !lb->overlong) {
				lb->buf = realloc(lb->buf, lb->len + left + 1);
				lb->cap = lb->len + left + 1;
				memcpy(lb->buf + lb->len, chunk, left);
				lb->len += left;
			}
			close_stream(lb);
			try_finish(w, s, now);
			return;
		}
		/* Secret values become *** before the bytes are split in lines. */
		n = (ssize_t)secretenv_mask(s->secrets, which, raw, (size_t)n, &chunk);
		for (i = 0; i < n; i++) {
			if (chunk[i] != '\n')
				continue;
			if (lb->overlong) {
				lb->overlong = 0;
			} else if (lb->len > 0) {
				size_t take = (size_t)(i - start);

				if (lb->len + take > lb->cap) {
					lb->cap = lb->len + take + 1;
					lb->buf = realloc(lb->buf, lb->cap);
				}
				memcpy(lb->buf + lb->len, chunk + start, take);
				emit_line(w, s, which, lb->buf, lb->len + take, 0);
			} else {
				emit_line(w, s, which, chunk + start, (size_t)(i - start), 0);
			}
			lb->len = 0;
			start = i + 1;
		}
		/* Keep the unfinished tail; a line over the cap is logged cut. */
		if (start < n && !lb->overlong) {
			size_t take = (size_t)(n - start);

			if (lb->len + take > w->max_line) {
				take = w->max_line > lb->len ? w->max_line - lb->len : 0;
				if (lb->len + take > lb->cap) {
					lb->cap = lb->len + take + 1;
					lb->buf = realloc(lb->buf, lb->cap);
				}
				memcpy(lb->buf + lb->len, chunk + start, take);
				emit_line(w, s, which, lb->buf, lb->len + take, 1);
				lb->len = 0;
				lb->overlong = 1;
			} else {
				if (lb->len + take > lb->cap) {
					lb->cap = (lb->len + take) * 2;
					lb->buf = realloc(lb->buf, lb->cap);
				}
				memcpy(lb->buf + lb->len, chunk + start, take);
				lb->len += take;
			}
		}
	}
}

static void
finish_step(struct worker *w, struct step *s, double now)
{
	struct run *r = s->run;
	int code = WIFEXITED(s->wstatus) ? WEXITSTATUS(s->wstatus) : -1;

	flush_partial(w, s, &s->out, 1);
	flush_partial(w, s, &s->err, 2);
	/* Outputs of a step that succeeded, read while its secrets are at
	 * hand to be masked. */
	if (!s->abandoned && !r->cancelling && !r->lost && !s->timed_out && code == 0)
		read_output_file(s);
	secretenv_done(s);
	drop_proc(w, s);
	if (s->abandoned) {
		/* Killed by the worker's own shutdown: not the step's failure.
		 * It stays running, and its run goes back to the queue. */
		static const char note[] = "[dagy] stopped by the worker's shutdown; "
		    "the step runs again elsewhere";

		/* One that waited in the launcher never ran: nothing to say. */
		if (s->started_at[0] != '\0')
			store_log(w, s, 0, note, sizeof(note) - 1, 0);
		unlink(s->outpath);
		return;
	}
	s->exit_code = code;
	if (r->cancelling || r->lost) {
		set_error(s, "cancelled");
		finish_as(s, ST_CANCELLED);
		unlink(s->outpath);
		return;
	}
	if (!s->timed_out && code == 0) {
		free(s->error);
		s->error = NULL;
		finish_as(s, ST_SUCCESS);
		return;
	}
	unlink(s->outpath);
	if (s->timed_out)
		set_error(s, "timed out after %d s", s->timeout);
	else if (WIFSIGNALED(s->wstatus))
		set_error(s, "killed by signal %d", WTERMSIG(s->wstatus));
	else
		set_error(s, "exit code %d", code);
	if (s->attempt - s->lost_attempts <= s->retries) {
		double delay = s->retry_delay * pow(2, s->attempt - 1);
		char note[256];

		if (delay > 3600)
			delay = 3600;
		snprintf(note, sizeof(note), "[dagy] attempt %d failed (%s); retrying in %.0f s",
		    s->attempt, s->error, delay);
		json_array_append_new(r->retried, json_string(s->id));
		wait_retry(w, s, now + delay, note);
		return;
	}
	finish_as(s, ST_FAILED);
}

void
exec_launched(struct worker *w, const struct launch_msg *m, double now)
{
	struct step *s = (struct step *)(uintptr_t)m->token;

	if (m->kind == LAUNCH_STARTED) {
		s->pid = m->pid;
		s->started = now;
		s->deadline = now + s->timeout;
		/* When the launcher spawned it, not when the report came. */
		timespec_sql(&m->at, s->started_at);
		s->watch_at = now + WATCH_AFTER;
		mark(s);
		return;
	}
	if (s->started_at[0] == '\0')
		now_sql(s->started_at);
	if (m->kind == LAUNCH_FAILED) {
		char note[256];

		snprintf(note, sizeof(note), "[dagy] cannot run %s step: %s", s->type,
		    strerror(m->status));
		store_log(w, s, 2, note, strlen(note), 0);
	}
	s->exited = 1;
	s->wstatus = m->kind == LAUNCH_FAILED ? 127 << 8 : m->status;
	s->exited_at = now;
	/* Pipes not yet watched are read now; the last end finishes the step.
	 * One still held open by a process the step left behind is watched. */
	if (s->out.fd >= 0 && !s->out.watched)
		exec_read(w, s, 1, now);
	if (s->pid != 0 && s->err.fd >= 0 && !s->err.watched)
		exec_read(w, s, 2, now);
	if (s->pid == 0)
		return;
	watch(w, s);
	try_finish(w, s, now);
}

static void
signal_group(struct worker *w, struct step *s, int sig)
{
	if (s->pid != 0 && !s->exited)
		launch_signal(w->launcher, (uint64_t)(uintptr_t)s, sig);
}

void
exec_timers(struct worker *w, double now)
{
	struct run *r;
	int i;

	/* Backwards: a step that finishes here leaves the list. */
	for (i = w->running - 1; i >= 0; i--) {
		struct step *s = w->procs[i];

		if (s->pid > 0 && !s->exited && s->watch_at > 0 && now >= s->watch_at)
			watch(w, s);
		if (s->pid > 0 && !s->exited && !s->timed_out && now >= s->deadline) {
			s->timed_out = 1;
			signal_group(w, s, SIGTERM);
			s->kill_at = now + w->kill_grace;
		}
		if (!s->exited && s->kill_at > 0 && now >= s->kill_at) {
			signal_group(w, s, SIGKILL);
			s->kill_at = 0;
		}
		/* A daemon the step spawned outside its group may hold the
		 * pipes open; stop waiting for it after a second. */
		if (s->exited && now >= s->exited_at + 1) {
			close_stream(&s->out);
			close_stream(&s->err);
			try_finish(w, s, now);
		}
	}
	if (w->nretry > 0)
		for (r = w->runs; r != NULL; r = r->next)
			for (i = 0; i < r->nsteps; i++)
				if (r->steps[i].st == ST_RETRY_WAIT && now >= r->steps[i].retry_at)
					r->changed = 1;
	/* An SLA breach fires while the run still runs, once per rule. */
	for (r = w->runs; r != NULL; r = r->next)
		for (i = 0; i < r->nsla; i++)
			if (!r->sla[i].fired && now >= r->sla[i].due && !r->finished &&
			    !r->cancelling && !r->lost) {
				r->sla[i].fired = 1;
				json_array_append_new(r->breached, json_integer(r->sla[i].rule));
				r->unrecorded = 1;
			}
}

double
exec_next_timer(struct worker *w, double now)
{
	double next = now + 3600;
	struct run *r;
	int i;

#define EARLIER(t) do { if ((t) > 0 && (t) < next) next = (t); } while (0)
	for (i = 0; i < w->running; i++) {
		struct step *s = w->procs[i];

		if (s->pid > 0 && !s->exited && !s->timed_out)
			EARLIER(s->deadline);
		if (s->pid > 0 && !s->exited)
			EARLIER(s->watch_at);
		if (!s->exited)
			EARLIER(s->kill_at);
		if (s->exited)
			EARLIER(s->exited_at + 1);
	}
	for (r = w->runs; r != NULL; r = r->next)
		for (i = 0; i < r->nsla; i++)
			if (!r->sla[i].fired)
				EARLIER(r->sla[i].due);
	if (w->nretry > 0) {
		w->nretry = 0;
		for (r = w->runs; r != NULL; r = r->next)
			for (i = 0; i < r->nsteps; i++)
				if (r->steps[i].st == ST_RETRY_WAIT) {
					EARLIER(r->steps[i].retry_at);
					w->nretry = 1;
				}
	}
#undef EARLIER
	return next;
}

void
exec_cancel_run(struct worker *w, struct run *r, double now)
{
	double grace = w->kill_grace < 0.5 ? w->kill_grace : 0.5;
	int i;

	r->cancelling = 1;
	/* Steps still queued at the launcher first, so that none of them
	 * takes the slot a killed one frees. */
	for (i = 0; i < r->nsteps; i++)
		if (r->steps[i].pid == -1) {
			signal_group(w, &r->steps[i], SIGTERM);
			r->steps[i].kill_at = now + grace;
		}
	for (i = 0; i < r->nsteps; i++) {
		struct step *s = &r->steps[i];

		if (s->pid == -1) {
			continue;
		} else if (s->pid != 0) {
			signal_group(w, s, SIGTERM);
			s->kill_at = now + grace;
		} else if (!terminal(s->st)) {
			set_error(s, "cancelled");
			finish_as(s, ST_CANCELLED);
		}
	}
}

void
exec_kill_all(struct worker *w)
{
	struct run *r;
	int i;

	for (r = w->runs; r != NULL; r = r->next)
		for (i = 0; i < r->nsteps; i++)
			if (r->steps[i].pid != 0 && !r->steps[i].exited) {
				r->steps[i].abandoned = 1;
				signal_group(w, &r->steps[i], SIGKILL);
			}
}

void
exec_stop_queued(struct worker *w)
{
	int i;

	for (i = 0; i < w->running; i++)
		if (w->procs[i]->pid == -1 && !w->procs[i]->exited) {
			w->procs[i]->abandoned = 1;
			signal_group(w, w->procs[i], SIGKILL);
		}
}

void
exec_abandon_all(struct worker *w)
{
	struct run *r;
	int i;

	for (r = w->runs; r != NULL; r = r->next)
		for (i = 0; i < r->nsteps; i++) {
			struct step *s = &r->steps[i];

			if (s->pid == 0)
				continue;
			if (s->pid > 0 && !s->exited)
				kill(-s->pid, SIGKILL);
			close_stream(&s->out);
			close_stream(&s->err);
			drop_proc(w, s);
		}
}

void
exec_step_decided(struct worker *w, struct step *s, int approved)
{
	(void)w;
	if (!approved)
		set_error(s, "rejected");
	finish_as(s, approved ? ST_SUCCESS : ST_REJECTED);
}

void
exec_prepare(struct run *r)
{
	int i, k;

	r->nopen = r->nready = 0;
	for (i = 0; i < r->nsteps; i++)
		r->nopen += !terminal(r->steps[i].st);
	for (i = 0; i < r->nsteps; i++) {
		struct step *s = &r->steps[i];
		int doomed = 0;

		if (s->st != ST_PENDING)
			continue;
		s->waiting = 0;
		for (k = 0; k < s->ndeps; k++) {
			enum step_state st = r->steps[s->deps[k]].st;

			s->waiting += st != ST_SUCCESS;
			doomed |= terminal(st) && st != ST_SUCCESS;
			/* A branch that ended before this claim chose its arm. */
			doomed |= st == ST_SUCCESS && r->steps[s->deps[k]].branch &&
			    branch_skips(&r->steps[s->deps[k]], s);
		}
		if (doomed) {
			finish_as(s, ST_SKIPPED);
		} else if (s->waiting == 0 && s->st == ST_PENDING) {
			r->ready[r->nready++] = i;
		}
	}
	for (i = 0; i < r->nsteps; i++)
		if (r->steps[i].st == ST_RETRY_WAIT)
			r->ready[r->nready++] = i;
	r->changed = 1;
}

/* Starts what is ready, in the order it became ready. Returns 0 when the
 * worker has no slot left for what remains. */
static int
start_ready(struct worker *w, struct run *r, double now)
{
	int i, kept = 0, full = 0;

	for (i = 0; i < r->nready; i++) {
		struct step *s = &r->steps[r->ready[i]];

		if (s->st == ST_RETRY_WAIT && now < s->retry_at) {
			r->ready[kept++] = s->idx;
			continue;
		}
		if (s->st != ST_PENDING && s->st != ST_RETRY_WAIT)
			continue;
		if (s->kind == SK_NOOP) {
			now_sql(s->started_at);
			finish_as(s, ST_SUCCESS);
		} else if (s->kind == SK_APPROVAL) {
			now_sql(s->started_at);
			s->st = ST_WAITING_APPROVAL;
			mark(s);
		} else if (!full && w->running < w->inflight && !w->stopping) {
			start_step(w, s, now);
		} else {
			full = 1;
			r->ready[kept++] = s->idx;
		}
	}
	r->nready = kept;
	return !full;
}

void
exec_schedule(struct worker *w, double now)
{
	struct run *r;

	for (r = w->runs; r != NULL; r = r->next) {
		if (r->finished || !r->changed)
			continue;
		r->changed = 0;
		/* No slot now: look again when there is one. */
		if (!r->cancelling && !r->lost && !start_ready(w, r, now))
			r->changed = 1;
		r->finished = r->nopen == 0 && r->nproc == 0;
	}
}

void
run_free(struct run *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nsteps; i++) {
		struct step *s = &r->steps[i];

		close_stream(&s->out);
		close_stream(&s->err);
		free(s->out.buf);
		free(s->err.buf);
		free(s->deps);
		free(s->children);
		free(s->error);
		json_decref(s->outputs);
		json_decref(s->new_outputs);
		secretenv_done(s);
	}
	free(r->environment);
	free(r->artifact);
	free(r->code_hash);
	free(r->steps);
	free(r->ready);
	free(r->sla);
	json_decref(r->retried);
	json_decref(r->breached);
	json_decref(r->index);
	free(r->outsteps);
	free(r->flow_name);
	json_decref(r->spec);
	json_decref(r->params);
	free(r);
}
