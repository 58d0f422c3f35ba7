/* The project syncer: a thread with its own connection and keyring that
 * claims dagctl projects due for a sync (FOR UPDATE SKIP LOCKED, then a
 * lease on next_sync_at, so one worker syncs a project at a time),
 * clones or fetches their branch with the real git, records the commits,
 * opens a plan when the branch moved, and drives plans: an explain run
 * in a worktree of the new commit, and after approval the execute run,
 * whose success moves the checkout the project's jobs run in. git runs
 * as a child process with a timeout, its exit status written to fd 3 by
 * the shell around it; this thread reaps it (the worker's loop reaps only
 * its launcher). */
#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dagy/config.h"
#include "dagy/dagctl_vars.h"
#include "dagy/db.h"
#include "dagy/flows.h"
#include "dagy/log.h"
#include "dagy/projects.h"
#include "dagy/runs.h"
#include "dagy/secrets.h"
#include "bgthread.h"
#include "worker.h"

extern char **environ;

#define OUT_MAX 65536

/* Runs argv (argv[0] looked up in PATH) in dir with the extra environment
 * entries env (NULL-terminated, may be NULL). Its output, up to OUT_MAX
 * bytes, lands in out (NUL-terminated, in a). Returns the exit status,
 * or -1 when it could not start or ran out of time (and was killed). */
static int
run(struct bgthread *s, struct arena *a, const char *dir, const char *const *argv,
    const char *const *env, char **out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int po[2] = {-1, -1}, ps[2] = {-1, -1}, rc = -1, open_fds = 2;
	size_t n = 0, nenv = 0, nargs = 0, k;
	char *buf = arena_alloc(a, OUT_MAX + 1), st[16] = "";
	size_t nst = 0;
	const char **av, **ev;
	pid_t pid = -1;
	time_t deadline = time(NULL) + config_int(s->cfg, "projects", "git_timeout_seconds");

	buf[0] = '\0';
	*out = buf;
	while (argv[nargs] != NULL)
		nargs++;
	while (environ[nenv] != NULL)
		nenv++;
	av = arena_alloc(a, (nargs + 5) * sizeof(*av));
	av[0] = "sh";
	av[1] = "-c";
	av[2] = "\"$@\"; echo $? >&3";
	av[3] = "sh";
	for (k = 0; k <= nargs; k++)
		av[4 + k] = argv[k];
	ev = arena_alloc(a, (nenv + 16) * sizeof(*ev));
	memcpy(ev, environ, nenv * sizeof(*ev));
	ev[nenv++] = "GIT_TERMINAL_PROMPT=0";
	for (k = 0; env != NULL && env[k] != NULL && k < 12; k++)
		ev[nenv++] = env[k];
	ev[nenv] = NULL;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(ps, O_CLOEXEC) < 0)
		goto done;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, po[1], 2);
	posix_spawn_file_actions_adddup2(&fa, ps[1], 3);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (dir != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, dir);
	posix_spawnattr_init(&at);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&pid, "/bin/sh", &fa, &at, (char *const *)av, (char *const *)ev);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(ps[1]);
	po[1] = ps[1] = -1;
	if (rc != 0) {
		pid = -1;
		rc = -1;
		goto done;
	}
	while (open_fds > 0) {
		struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = ps[0], .events = POLLIN}};
		time_t left = deadline - time(NULL);
		ssize_t got;
		char tmp[4096];

		if (left <= 0) {
			kill(-pid, SIGKILL);
			snprintf(buf, OUT_MAX, "%s timed out", argv[0]);
			rc = -1;
			goto done;
		}
		if (poll(p, 2, (int)(left > 1 ? 1000 : left * 1000)) < 0 && errno != EINTR)
			break;
		for (k = 0; k < 2; k++) {
			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(p[k].fd, tmp, sizeof(tmp));
			if (got <= 0) {
				close(p[k].fd);
				if (k == 0)
					po[0] = -1;
				else
					ps[0] = -1;
				open_fds--;
				continue;
			}
			if (k == 0 && n < OUT_MAX) {
				size_t take = (size_t)got < OUT_MAX - n ? (size_t)got : OUT_MAX - n;

				memcpy(buf + n, tmp, take);
				n += take;
				buf[n] = '\0';
			} else if (k == 1 && nst + (size_t)got < sizeof(st)) {
				memcpy(st + nst, tmp, (size_t)got);
				nst += (size_t)got;
				st[nst] = '\0';
			}
		}
		if (po[0] < 0 && ps[0] < 0)
			break;
	}
	rc = nst > 0 ? atoi(st) : -1;
done:
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (po[0] >= 0)
		close(po[0]);
	if (po[1] >= 0)
		close(po[1]);
	if (ps[0] >= 0)
		close(ps[0]);
	if (ps[1] >= 0)
		close(ps[1]);
	return rc;
}

/* The first line of a command's output, trimmed. */
static char *
line1(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
	return s;
}

/* The environment that gives git the project's credential: an
 * Authorization header for HTTPS, a key file for SSH. */
static int
credential(struct bgthread *s, struct arena *a, const struct db_res *p, const char *base,
    const char **env)
{
	const char *auth = db_val(p, 0, PRJ_C_AUTH), *sealed = db_val(p, 0, PRJ_C_SEALED);
	char *secret;
	size_t n;

	env[0] = NULL;
	if (sealed == NULL || strcmp(auth, "none") == 0)
		return 0;
	if (secrets_open(s->keys, a, db_int(p, 0, PRJ_C_ORG_ID), PROJECTS_SEAL_SCOPE,
	    db_val(p, 0, PRJ_C_ID), sealed, &secret, &n) < 0)
		return -1;
	if (strcmp(auth, "ssh") == 0) {
		const char *file = arena_printf(a, "%s/ssh_key", base);
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || write(fd, secret, n) != (ssize_t)n || (secret[n - 1] != '\n' &&
		    write(fd, "\n", 1) != 1)) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		env[0] = arena_printf(a, "GIT_SSH_COMMAND=ssh -i '%s' -o IdentitiesOnly=yes"
		    " -o BatchMode=yes -o StrictHostKeyChecking=accept-new", file);
		env[1] = NULL;
	} else {
		const char *pair = arena_printf(a, "x-access-token:%s", secret);
		char *b64 = arena_alloc(a, strlen(pair) * 4 / 3 + 8);

		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pair, (int)strlen(pair));
		env[0] = "GIT_CONFIG_COUNT=1";
		env[1] = "GIT_CONFIG_KEY_0=http.extraHeader";
		env[2] = arena_printf(a, "GIT_CONFIG_VALUE_0=Authorization: Basic %s", b64);
		env[3] = NULL;
	}
	return 0;
}

/* Queues a run of the project's flow running cmd in dir; *dbid is set. */
static int
start_run(struct bgthread *s, struct arena *a, const struct db_res *p, const char *cmd,
    const char *dir, int64_t *dbid)
{
	struct db_res *v, *row;
	struct run_new n;
	const char *id, *slug;
	json_t *params = json_pack("{s:s, s:s}", "command", cmd, "dir", dir);
	char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	json_decref(params);
	if ((rc = flows_version(s->db, a, db_int(p, 0, PRJ_C_ORG_ID), db_val(p, 0, PRJ_C_ID),
	    NULL, &v)) < 0)
		goto done;
	memset(&n, 0, sizeof(n));
	n.org_id = db_int(p, 0, PRJ_C_ORG_ID);
	n.flow_id = db_int(v, 0, FLOWS_V_FLOW_ID);
	n.version_id = db_int(v, 0, FLOWS_V_ID);
	n.flow_name = db_val(v, 0, FLOWS_V_NAME);
	n.status = "queued";
	n.trigger = "manual";
	n.environment = DVARS_ENV;
	n.params = text;
	n.tags = "{}";
	if ((rc = runs_create(s->db, a, &n, &id, &slug)) < 0 ||
	    (rc = runs_get(s->db, a, n.org_id, id, &row)) < 0)
		goto done;
	*dbid = db_int(row, 0, RUN_C_DBID);
done:
	free(text);
	return rc;
}

/* The framework commands of a plan's two phases. */
static const char *
plan_command(struct arena *a, const struct db_res *p, int execute)
{
	json_t *st;
	const char *env = "prod";

	if (strcmp(db_val(p, 0, PRJ_C_TYPE), "dbt") == 0)
		return execute ? "dbt build" : "dbt compile";
	st = json_loads(db_val(p, 0, PRJ_C_SETTINGS), 0, NULL);
	if (json_is_string(json_object_get(st, "sqlmesh_environment")))
		env = arena_strdup(a, json_string_value(json_object_get(st, "sqlmesh_environment")));
	json_decref(st);
	return arena_printf(a, execute ? "sqlmesh plan %s --auto-apply --no-prompts" :
	    "sqlmesh plan %s --explain --no-prompts", env);
}

/* The captured output of a run's steps, one text. */
static const char *
run_output(struct bgthread *s, struct arena *a, int64_t run_dbid)
{
	struct db_res *rows;
	size_t n = 0, k;
	char *out;
	unsigned i;

	if (runs_logs(s->db, a, run_dbid, NULL, 0, 2000, &rows) < 0)
		return NULL;
	for (i = 0; i < rows->nrows; i++)
		n += strlen(db_val(rows, i, 5)) + 1;
	out = arena_alloc(a, n + 1);
	for (i = 0, k = 0; i < rows->nrows; i++)
		k += (size_t)sprintf(out + k, "%s\n", db_val(rows, i, 5));
	out[k] = '\0';
	return out;
}

static int
ended(const char *status)
{
	return status != NULL && (strcmp(status, "completed") == 0 ||
	    strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0);
}

/* Moves each open plan of the project on by one step. */
static void
drive_plans(struct bgthread *s, struct arena *a, const struct db_res *p, const char *base,
    const char *repo, const char *const *cred)
{
	struct db_res *l;
	unsigned i;
	char *out;

	if (projects_plans_open(s->db, a, db_int(p, 0, PRJ_C_DBID), &l) < 0)
		return;
	for (i = 0; i < l->nrows; i++) {
		const char *st = db_val(l, i, PLAN_C_STATUS), *type = db_val(l, i, PLAN_C_TYPE);
		const char *wt = arena_printf(a, "%s/plans/%s", base, db_val(l, i, PLAN_C_ID));
		int64_t plan = db_int(l, i, PLAN_C_DBID), run_dbid;
		int execute = strcmp(st, "approved") == 0;

		if (execute || (strcmp(st, "running") == 0 && strcmp(type, "explain") == 0 &&
		    db_val(l, i, PLAN_C_EXPLAIN_RUN) == NULL)) {
			const char *add[] = {"git", "worktree", "add", "--detach", "-f", wt,
				db_val(l, i, PLAN_C_TO), NULL};

			if (access(wt, F_OK) != 0 && run(s, a, repo, add, cred, &out) != 0) {
				projects_plan_end(s->db, plan, st, "failed", NULL,
				    arena_printf(a, "git worktree add failed: %.300s", out));
				continue;
			}
			if (start_run(s, a, p, plan_command(a, p, execute), wt, &run_dbid) == 0)
				projects_plan_started(s->db, plan, execute, run_dbid);
			continue;
		}
		if (strcmp(st, "running") != 0)
			continue;
		if (strcmp(type, "explain") == 0 && ended(db_val(l, i, PLAN_C_EXPLAIN_STATUS))) {
			int ok = strcmp(db_val(l, i, PLAN_C_EXPLAIN_STATUS), "completed") == 0;

			projects_plan_end(s->db, plan, "running", ok ? "pending" : "failed",
			    run_output(s, a, db_int(l, i, PLAN_C_EXPLAIN_RUN)),
			    ok ? NULL : "the explain run did not succeed");
		} else if (strcmp(type, "execute") == 0 &&
		    ended(db_val(l, i, PLAN_C_EXECUTE_STATUS))) {
			int ok = strcmp(db_val(l, i, PLAN_C_EXECUTE_STATUS), "completed") == 0;

			if (ok) {
				const char *co[] = {"git", "checkout", "-q", "--detach",
					db_val(l, i, PLAN_C_TO), NULL};
				const char *rm[] = {"git", "worktree", "remove", "--force", wt, NULL};
				const char *cnt[] = {"git", "rev-list", "--count",
					arena_printf(a, "HEAD..origin/%s", db_val(p, 0, PRJ_C_BRANCH)),
					NULL};

				if (run(s, a, repo, co, NULL, &out) == 0) {
					int behind = run(s, a, repo, cnt, NULL, &out) == 0 ? atoi(out) : 0;

					projects_moved(s->db, db_int(p, 0, PRJ_C_DBID),
					    db_val(l, i, PLAN_C_TO), behind);
				}
				run(s, a, repo, rm, NULL, &out);
			}
			projects_plan_end(s->db, plan, "running", ok ? "completed" : "failed",
			    run_output(s, a, db_int(l, i, PLAN_C_EXECUTE_RUN)),
			    ok ? NULL : "the execute run did not succeed");
		}
	}
}

/* One claimed project: clone or fetch, record, open and drive plans. */
static void
sync_one(struct bgthread *s, struct arena *a, const struct db_res *p)
{
	const char *dir = config_str(s->cfg, "projects", "dir"), *id = db_val(p, 0, PRJ_C_ID);
	const char *base = arena_printf(a, "%s/%s", dir, id);
	const char *repo = arena_printf(a, "%s/repo", base);
	const char *branch = db_val(p, 0, PRJ_C_BRANCH);
	const char *tracking = arena_printf(a, "origin/%s", branch);
	const char *cred[8], *error = NULL;
	char *out, *current = NULL, *latest = NULL, *message = NULL;
	int poll_s = config_int(s->cfg, "projects", "poll_seconds"), behind = 0;

	if (db_int(p, 0, PRJ_C_DELETED)) {
		const char *rm[] = {"rm", "-rf", "--", base, NULL};

		if (run(s, a, NULL, rm, NULL, &out) == 0)
			projects_purge(s->db, db_int(p, 0, PRJ_C_DBID));
		return;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		log_syserr("mkdir %s", dir);
	if (mkdir(base, 0700) < 0 && errno != EEXIST) {
		error = "the project workspace cannot be made";
		goto done;
	}
	if (credential(s, a, p, base, cred) < 0) {
		error = "the repository credential cannot be opened";
		goto done;
	}
	if (db_val(p, 0, PRJ_C_CURRENT) == NULL || access(arena_printf(a, "%s/.git", repo),
	    F_OK) != 0) {
		const char *rm[] = {"rm", "-rf", "--", repo, NULL};
		const char *clone[] = {"git", "clone", "-q", "--branch", branch, "--single-branch",
			"--", db_val(p, 0, PRJ_C_URL), repo, NULL};

		run(s, a, NULL, rm, NULL, &out);
		if (run(s, a, NULL, clone, cred, &out) != 0) {
			error = arena_printf(a, "git clone failed: %.500s", line1(out));
			goto done;
		}
	} else {
		const char *fetch[] = {"git", "fetch", "-q", "origin",
			arena_printf(a, "+refs/heads/%s:refs/remotes/origin/%s", branch, branch), NULL};

		if (run(s, a, repo, fetch, cred, &out) != 0) {
			error = arena_printf(a, "git fetch failed: %.500s", line1(out));
			goto done;
		}
	}
	{
		const char *head[] = {"git", "rev-parse", "HEAD", NULL};
		const char *tip[] = {"git", "rev-parse", tracking, NULL};
		const char *msg[] = {"git", "log", "-1", "--format=%s", tracking, NULL};
		const char *cnt[] = {"git", "rev-list", "--count",
			arena_printf(a, "HEAD..%s", tracking), NULL};

		if (run(s, a, repo, head, NULL, &out) != 0 || (current = line1(out)) == NULL ||
		    run(s, a, repo, tip, NULL, &out) != 0 || (latest = line1(out)) == NULL ||
		    run(s, a, repo, msg, NULL, &out) != 0 || (message = line1(out)) == NULL ||
		    run(s, a, repo, cnt, NULL, &out) != 0) {
			error = "the checkout cannot be read";
			current = latest = message = NULL;
			goto done;
		}
		behind = atoi(out);
	}
done:
	if (projects_synced(s->db, db_int(p, 0, PRJ_C_DBID), current, latest, message, behind,
	    error, poll_s) < 0)
		return;
	if (error != NULL)
		log_warn("project %s: %s", id, error);
	/* The branch moved past the checkout: a plan for its tip, once. */
	if (latest != NULL && strcmp(latest, current) != 0 &&
	    projects_plan_exists(s->db, a, db_int(p, 0, PRJ_C_DBID), latest) == 0) {
		struct db_res *row;

		projects_plans_discard(s->db, db_int(p, 0, PRJ_C_DBID), latest);
		projects_plan_create(s->db, a, db_int(p, 0, PRJ_C_ORG_ID),
		    db_int(p, 0, PRJ_C_DBID), "git_sync", &row);
	}
	if (error == NULL)
		drive_plans(s, a, p, base, repo, cred);
}

int
projects_pass(struct bgthread *s)
{
	/* A sync runs about ten git commands, each within the timeout; the
	 * lease outlasts them all, so no other worker takes the project. */
	int lease = 12 * config_int(s->cfg, "projects", "git_timeout_seconds");
	struct arena a = {0};
	struct db_res *row = NULL;
	int rc, wait_ms = 250;

	if (db_begin(s->db) == 0) {
		rc = projects_claim(s->db, &a, lease, &row);
		if (rc < 0 || db_commit(s->db) < 0) {
			db_rollback(s->db);
			row = NULL;
		}
		if (row != NULL && row->nrows > 0) {
			sync_one(s, &a, row);
			wait_ms = 0;
		}
	}
	arena_free(&a);
	return wait_ms;
}
