/* The shared counters: token buckets, login throttling, the argon2 bound
 * and request counts, across processes mapping the same file. */
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"
#include "dagy/config.h"
#include "dagy/limits.h"

/* Runs fn in a child that maps the state file afresh, as another
 * responder does; returns its exit status. */
static int
in_child(const struct config *cfg, int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		limits_close();
		if (limits_open(cfg) < 0)
			_exit(99);
		_exit(fn());
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
take_one(void)
{
	struct limits_verdict v;

	limits_take(limits_key(LIMITS_API_KEY, 1, NULL), 3, 60, &v);
	return v.allowed ? (int)v.remaining : 50;
}

/* Takes an argon2 slot (and, exiting, dies holding it): 0, or 1 if none. */
static int
argon2_try(void)
{
	return limits_argon2_enter() == 0 ? 0 : 1;
}

int
main(void)
{
	char dir[] = "/tmp/dagy-limits-XXXXXX", conf[128], state[128], err[256];
	struct limits_login rule = {2, 1, 4, 60};
	struct limits_verdict v;
	struct config *cfg;
	int64_t orgs[8];
	uint64_t counts[8], total = 0;
	uint64_t key = limits_key(LIMITS_API_KEY, 1, NULL);
	FILE *f;
	int i, n;

	plan(27);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	snprintf(conf, sizeof(conf), "%s/dagy.conf", dir);
	snprintf(state, sizeof(state), "%s/limits", dir);
	if ((f = fopen(conf, "w")) == NULL)
		bail("fopen");
	fprintf(f, "[limits]\nstate_file = %s\nargon2_concurrency = 1\nargon2_wait_ms = 50\n", state);
	fclose(f);
	if (config_load(&cfg, conf, err, sizeof(err)) < 0 || limits_open(cfg) < 0)
		bail("open: %s", err);

	limits_take(key, 3, 60, &v);
	ok(v.allowed && v.limit == 3 && v.remaining == 2, "first of 3: allowed, 2 left");
	ok(v.reset >= time(NULL) + 19 && v.reset <= time(NULL) + 21,
	    "full again one interval (20 s) later");
	is_int(1, in_child(cfg, take_one), "another process takes the second: 1 left");
	limits_take(key, 3, 60, &v);
	ok(v.allowed && v.remaining == 0, "third: allowed, none left");
	limits_take(key, 3, 60, &v);
	ok(!v.allowed && v.remaining == 0, "fourth: refused");
	ok(v.retry_after >= 19 && v.retry_after <= 20, "retry after one interval");
	is_int(50, in_child(cfg, take_one), "refused in the other process too");
	limits_take(limits_key(LIMITS_API_KEY, 2, NULL), 3, 60, &v);
	ok(v.allowed && v.remaining == 2, "another key has its own bucket");
	limits_take(limits_key(LIMITS_TOKEN, 1, NULL), 3, 60, &v);
	ok(v.allowed && v.remaining == 2, "a token with the same id too");
	limits_take(limits_key(LIMITS_ADDRESS, 0, "10.0.0.1"), 0, 60, &v);
	ok(v.allowed && v.limit == 0, "limit 0: unlimited");
	for (i = 0; i < 100; i++)
		limits_take(limits_key(LIMITS_ORG, 5, NULL), 100, 1, &v);
	ok(v.allowed && v.remaining == 0, "100 in a burst of 100");
	limits_take(limits_key(LIMITS_ORG, 5, NULL), 100, 1, &v);
	ok(!v.allowed && v.retry_after == 1, "the 101st waits a second at most");

	key = limits_key(LIMITS_LOGIN_ACCOUNT, 0, "a@example.com");
	is_int(0, limits_login_wait(key, &rule), "no failures: no wait");
	limits_login_failed(key, &rule);
	is_int(0, limits_login_wait(key, &rule), "one failure: no wait");
	limits_login_failed(key, &rule);
	is_int(1, limits_login_wait(key, &rule), "two (soft): wait a second");
	limits_login_failed(key, &rule);
	limits_login_failed(key, &rule);
	ok(limits_login_wait(key, &rule) >= 59, "four (hard): locked out");
	is_int(0, limits_login_wait(limits_key(LIMITS_LOGIN_ACCOUNT, 0, "b@example.com"), &rule),
	    "another account is not");
	limits_login_reset(key);
	is_int(0, limits_login_wait(key, &rule), "a reset forgets");

	is_int(0, limits_argon2_enter(), "an argon2 slot");
	is_int(1, in_child(cfg, argon2_try), "the only one: another process waits, then gives up");
	limits_argon2_leave();
	is_int(0, in_child(cfg, argon2_try), "free again: taken by a process that dies with it");
	is_int(0, limits_argon2_enter(), "a dead holder's slot is reclaimed");
	limits_argon2_leave();

	for (i = 0; i < 3; i++)
		limits_count_request(7);
	limits_count_request(9);
	limits_count_request(9);
	n = limits_flush_take(3600, orgs, counts, 8);
	for (i = 0; i < n; i++)
		total += counts[i] * (uint64_t)orgs[i];
	ok(n == 2 && total == 3 * 7 + 2 * 9, "a flush takes every org's count");
	limits_count_request(7);
	is_int(0, limits_flush_take(3600, orgs, counts, 8), "the next is not due yet");
	limits_flush_return(9, 2);
	limits_close();
	if (limits_open(cfg) < 0)
		bail("reopen");
	limits_take(limits_key(LIMITS_API_KEY, 1, NULL), 3, 60, &v);
	ok(!v.allowed, "the state outlives the process that mapped it");
	is_int(0, limits_flush_take(3600, orgs, counts, 8), "the flush time too");
	limits_close();
	limits_take(limits_key(LIMITS_API_KEY, 1, NULL), 3, 60, &v);
	ok(v.allowed && v.limit == 3, "unmapped: nothing is limited");
	config_free(cfg);
	unlink(state);
	unlink(conf);
	rmdir(dir);
	return done_testing();
}
