/* The host's shared counters: one shared mapping (of the state file, or
 * anonymous) of fixed-size open-addressed tables whose slots are pairs of
 * 64-bit atomics {key, value}. A slot is
 * claimed by a compare-and-swap of its key from 0; when every probe of a
 * key is taken, a slot whose value means "nothing remembered" (a full
 * bucket, forgotten failures) is taken over. Nothing is ever locked, so a
 * responder killed mid-request leaves nothing to clean up except an argon2
 * slot, which is reclaimed once its process is gone. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dagy/config.h"
#include "dagy/limits.h"
#include "dagy/log.h"
#include "dagy/shm.h"

#define STATE_MAGIC 0x64616779726c6d31ULL /* "dagyrlm1": change with the layout */
#define BUCKETS 16384 /* powers of two */
#define LOGINS 4096
#define ORGS 4096
#define PROBES 16
#define ARGON2_MAX 64

struct slot {
	_Atomic uint64_t key, val;
};

struct state {
	uint64_t magic;
	_Atomic int64_t flush_at_us;
	_Atomic int32_t argon2[ARGON2_MAX]; /* pids holding a verification */
	struct slot orgs[ORGS];       /* org id -> requests not yet flushed */
	struct slot buckets[BUCKETS]; /* key -> theoretical arrival time, µs */
	struct slot logins[LOGINS];   /* key -> last failure (ms) << 16 | failures */
};

static struct state *st;
static int argon2_max, argon2_held = -1;
static long long argon2_wait_ms;
/* A login slot whose last failure is older than the lockout may be taken
 * over: its count would start again from nothing anyway. Strangers'
 * failures so hold a slot for minutes, not for a day. */
static int64_t login_forget_ms = 86400000;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
limits_open(const struct config *cfg)
{
	const char *path = config_str(cfg, "limits", "state_file");
	struct state *p;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int shared;

	argon2_max = (int)config_int(cfg, "limits", "argon2_concurrency");
	if (argon2_max <= 0)
		argon2_max = cpus > 1 ? (int)(cpus / 2) : 1;
	if (argon2_max > ARGON2_MAX)
		argon2_max = ARGON2_MAX;
	argon2_wait_ms = config_int(cfg, "limits", "argon2_wait_ms");
	login_forget_ms = (config_int(cfg, "limits", "login_lockout_seconds") > 60 ?
	    config_int(cfg, "limits", "login_lockout_seconds") : 60) * 1000;
	/* Without a file, shared with the responders this process forks. */
	if ((p = shm_map(path, sizeof(*p), STATE_MAGIC, &shared)) == NULL)
		return -1;
	if (*path != '\0' && !shared)
		log_warn("[limits] state_file %s is not shared: rate limits and request "
		    "counts are kept per dagy-api", path);
	st = p;
	return 0;
}

void
limits_close(void)
{
	limits_argon2_leave();
	shm_unmap(st, sizeof(*st));
	st = NULL;
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t
limits_key(enum limits_scope scope, int64_t id, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)scope;
	const unsigned char *s = (const unsigned char *)name;

	/* FNV-1a over the name, or the id, then a finaliser. */
	if (s != NULL)
		for (; *s; s++)
			h = (h ^ *s) * 0x100000001b3ULL;
	else
		h = (h ^ (uint64_t)id) * 0x100000001b3ULL;
	h = mix(h);
	return h != 0 ? h : 1;
}

/* The slot of key in tab (n slots), claiming one if needed; idle(val,
 * now) says a slot may be taken over (NULL: never). NULL if the probes
 * are all taken by live keys. */
static struct slot *
find(struct slot *tab, unsigned n, uint64_t key, int (*idle)(uint64_t, int64_t),
    int64_t now)
{
	unsigned start = (unsigned)mix(key) & (n - 1), i;
	struct slot *spare = NULL;

	for (i = 0; i < PROBES; i++) {
		struct slot *s = &tab[(start + i) & (n - 1)];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);

		if (k == key)
			return s;
		if (k == 0) {
			if (atomic_compare_exchange_strong(&s->key, &k, key) || k == key)
				return s;
			continue;
		}
		if (spare == NULL && idle != NULL && idle(atomic_load(&s->val), now))
			spare = s;
	}
	if (spare != NULL) {
		uint64_t k = atomic_load(&spare->key);

		/* An idle value means the same to the new key as a fresh slot. */
		if (atomic_compare_exchange_strong(&spare->key, &k, key))
			return spare;
	}
	return NULL;
}

static int
bucket_idle(uint64_t tat, int64_t now)
{
	return (int64_t)tat <= now;
}

/* GCRA: the bucket holds `limit` requests, one coming back every
 * window / limit; the word is the time at which the bucket would be
 * empty if every request so far had come at once ("theoretical arrival
 * time"). A request is allowed when that time, moved on by one request,
 * is within `limit` intervals of now. */
void
limits_take(uint64_t key, long long limit, long long window,
    struct limits_verdict *v)
{
	int64_t now = now_us(), every, cap, tat, next;
	struct slot *s;

	memset(v, 0, sizeof(*v));
	v->allowed = 1;
	v->limit = limit;
	v->reset = now / 1000000;
	if (limit <= 0 || st == NULL)
		return;
	if (window < 1)
		window = 1;
	every = window * 1000000 / limit;
	if (every < 1)
		every = 1;
	cap = every * limit;
	if ((s = find(st->buckets, BUCKETS, key, bucket_idle, now)) == NULL) {
		/* A full table fails open rather than refusing strangers. */
		v->remaining = limit - 1;
		return;
	}
	tat = (int64_t)atomic_load(&s->val);
	do {
		/* A time further ahead than a full bucket means the clock went
		 * back: start afresh rather than refuse until it catches up. */
		next = (tat > now && tat - now <= cap ? tat : now) + every;
		if (next - now > cap) {
			v->allowed = 0;
			v->remaining = 0;
			v->retry_after = (next - cap - now + 999999) / 1000000;
			if (v->retry_after < 1)
				v->retry_after = 1;
			v->reset = (tat + 999999) / 1000000;
			return;
		}
	} while (!atomic_compare_exchange_weak(&s->val, (uint64_t *)&tat, (uint64_t)next));
	v->remaining = (cap - (next - now)) / every;
	v->reset = (next + 999999) / 1000000;
}

static int
login_idle(uint64_t val, int64_t now)
{
	return (int64_t)(val >> 16) + login_forget_ms <= now / 1000;
}

/* Milliseconds until the attempt may be checked, 0 for now. */
static long long
login_wait_ms(uint64_t val, const struct limits_login *rule, long long now)
{
	long long count = (long long)(val & 0xffff), last = (long long)(val >> 16);

	if (last > now) /* the clock went back */
		last = now;
	if (count == 0 || now - last >= rule->lockout * 1000)
		return 0;
	if (rule->hard > 0 && count >= rule->hard)
		return last + rule->lockout * 1000 - now;
	if (rule->soft > 0 && count >= rule->soft && now - last < rule->slow_seconds * 1000)
		return last + rule->slow_seconds * 1000 - now;
	return 0;
}

long long
limits_login_wait(uint64_t key, const struct limits_login *rule)
{
	int64_t now = now_us();
	struct slot *s;

	if (st == NULL || (s = find(st->logins, LOGINS, key, login_idle, now)) == NULL)
		return 0;
	return (login_wait_ms(atomic_load(&s->val), rule, now / 1000) + 999) / 1000;
}

void
limits_login_failed(uint64_t key, const struct limits_login *rule)
{
	int64_t now = now_us();
	struct slot *s;
	uint64_t val, next, count;

	if (st == NULL || (s = find(st->logins, LOGINS, key, login_idle, now)) == NULL)
		return;
	val = atomic_load(&s->val);
	do {
		count = val & 0xffff;
		if (now / 1000 - (long long)(val >> 16) >= rule->lockout * 1000)
			count = 0;
		if (count < 0xffff)
			count++;
		next = (uint64_t)(now / 1000) << 16 | count;
	} while (!atomic_compare_exchange_weak(&s->val, &val, next));
}

void
limits_login_reset(uint64_t key)
{
	struct slot *s;

	if (st != NULL && (s = find(st->logins, LOGINS, key, NULL, 0)) != NULL)
		atomic_store(&s->val, 0);
}

int
limits_argon2_enter(void)
{
	int64_t deadline = now_us() + argon2_wait_ms * 1000;
	int32_t pid = (int32_t)getpid();
	int i;

	if (st == NULL ||
	    (argon2_held >= 0 && atomic_load(&st->argon2[argon2_held]) == pid))
		return 0;
	for (;;) {
		struct timespec pause = {0, 2000000};

		for (i = 0; i < argon2_max; i++) {
			int32_t free_slot = 0;

			if (atomic_compare_exchange_strong(&st->argon2[i], &free_slot, pid)) {
				argon2_held = i;
				return 0;
			}
		}
		/* A responder that died holding a slot gives it back here. */
		for (i = 0; i < argon2_max; i++) {
			int32_t holder = atomic_load(&st->argon2[i]);

			if (holder > 0 && kill(holder, 0) < 0 && errno == ESRCH)
				atomic_compare_exchange_strong(&st->argon2[i], &holder, 0);
		}
		if (now_us() >= deadline)
			return -1;
		nanosleep(&pause, NULL);
	}
}

void
limits_argon2_leave(void)
{
	int32_t me = (int32_t)getpid();

	/* Only the holder gives it back, not a child that inherited the index. */
	if (st != NULL && argon2_held >= 0)
		atomic_compare_exchange_strong(&st->argon2[argon2_held], &me, 0);
	argon2_held = -1;
}

void
limits_count_request(int64_t org_id)
{
	struct slot *s;

	if (st != NULL && org_id > 0 &&
	    (s = find(st->orgs, ORGS, (uint64_t)org_id, NULL, 0)) != NULL)
		atomic_fetch_add_explicit(&s->val, 1, memory_order_relaxed);
}

void
limits_flush_return(int64_t org_id, uint64_t count)
{
	struct slot *s;

	if (st != NULL && (s = find(st->orgs, ORGS, (uint64_t)org_id, NULL, 0)) != NULL)
		atomic_fetch_add(&s->val, count);
}

int
limits_flush_take(long long every, int64_t *orgs, uint64_t *counts, int max)
{
	int64_t now = now_us(), due;
	int n = 0;
	unsigned i;

	if (st == NULL)
		return 0;
	due = atomic_load(&st->flush_at_us);
	/* Due, or further ahead than one interval: the clock went back. */
	if ((now < due && due - now <= every * 1000000) ||
	    !atomic_compare_exchange_strong(&st->flush_at_us, &due, now + every * 1000000))
		return 0;
	for (i = 0; i < ORGS && n < max; i++) {
		uint64_t k = atomic_load(&st->orgs[i].key), c;

		if (k == 0 || atomic_load(&st->orgs[i].val) == 0)
			continue;
		if ((c = atomic_exchange(&st->orgs[i].val, 0)) > 0) {
			orgs[n] = (int64_t)k;
			counts[n++] = c;
		}
	}
	return n;
}
