/* Per-host counters shared by every dagy-api process of a host: request
 * rate limits (token buckets), failed-login throttling, the bound on
 * concurrent argon2 verifications and the API request counts that usage
 * metering flushes to MariaDB. They live in one shared mapping ([limits]
 * state_file, or memory shared with forked responders) updated with C11
 * atomics: no lock, no database write per request. Limits are per host: N hosts behind a balancer allow N times
 * the configured rates. Until limits_open is called (the CLI, the worker)
 * nothing is limited. */
#ifndef DAGY_LIMITS_H
#define DAGY_LIMITS_H

#include <stdint.h>

struct config;

/* What a bucket is kept for; part of its key. */
enum limits_scope {
	LIMITS_API_KEY,    /* by id */
	LIMITS_TOKEN,      /* an access token from a login, by id */
	LIMITS_ORG,
	LIMITS_ADDRESS,    /* the client address of requests without credentials */
	LIMITS_WEBHOOK,    /* a public webhook token */
	LIMITS_LOGIN_ACCOUNT,
	LIMITS_LOGIN_ADDRESS,
};

struct limits_verdict {
	int allowed;
	long long limit, remaining;
	long long reset;       /* epoch second when the bucket is full again */
	long long retry_after; /* seconds, when refused */
};

/* Maps the state file (created and sized on first use). Without one, or
 * if it cannot be opened (which is logged), the mapping is anonymous:
 * shared with the responders this process forks ([api] processes) but no
 * other. Call before forking responders. */
int limits_open(const struct config *cfg);
void limits_close(void);

/* The bucket key of a scope and an id or a name (name NULL: id). */
uint64_t limits_key(enum limits_scope scope, int64_t id, const char *name);

/* Takes one request from key's bucket, which holds `limit` requests and
 * refills fully in `window` seconds (GCRA: one atomic word per bucket).
 * limit 0 allows everything and reports limit 0. */
void limits_take(uint64_t key, long long limit, long long window,
    struct limits_verdict *v);

/* Failed-login throttling of one account or address: after soft failures
 * each attempt must wait slow_seconds after the last failure; after hard
 * failures every attempt is refused until lockout seconds have passed
 * since the last one. Failures are forgotten after lockout seconds
 * without one. soft 0 means no slowing, hard 0 no refusal. */
struct limits_login {
	long long soft, slow_seconds, hard, lockout;
};
/* 0 when an attempt may be checked now, else the seconds to wait. */
long long limits_login_wait(uint64_t key, const struct limits_login *rule);
void limits_login_failed(uint64_t key, const struct limits_login *rule);
/* A successful login forgets the account's failures. */
void limits_login_reset(uint64_t key);

/* Holds one of the host's argon2 slots ([limits] argon2_concurrency),
 * waiting up to argon2_wait_ms for one: 0, or -1 when none came free. */
int limits_argon2_enter(void);
void limits_argon2_leave(void);

/* Adds one request to org's count. */
void limits_count_request(int64_t org_id);
/* If this host's flush is due (every `every` seconds), claims it and moves
 * up to max counts into orgs[]/counts[] (zeroing them); returns how many,
 * 0 when there is nothing to do. */
int limits_flush_take(long long every, int64_t *orgs, uint64_t *counts, int max);
/* Puts counts back that could not be written. */
void limits_flush_return(int64_t org_id, uint64_t count);

#endif
