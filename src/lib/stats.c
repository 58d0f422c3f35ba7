/* The request counters' mapping: a header, then one block per process,
 * each a flat array of 64-bit atomics written by its owner only. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "dagy/shm.h"
#include "dagy/stats.h"

#define BLOCKS 32

const double stats_bounds[STATS_NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

static const int statuses[STATS_NSTATUS - 1] = {
	200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406, 408,
	409, 410, 411, 412, 413, 414, 415, 422, 429, 500, 501, 502, 503, 504,
};

struct block_route {
	_Atomic uint64_t status[STATS_NSTATUS];
	_Atomic uint64_t bucket[STATS_NBUCKETS];
	_Atomic uint64_t count, sum_us;
};

struct block {
	_Atomic int32_t pid;
	_Atomic uint64_t db_errors, db_reconnects;
	struct block_route route[STATS_MAX_ROUTES + 1];
};

struct region {
	uint64_t magic;
	struct block block[BLOCKS];
};

static struct region *reg;
static struct block *mine;
static unsigned status_ix[600]; /* HTTP status -> index + 1 */
static uint64_t db_base[2];       /* a dead owner's db totals */

int
stats_open(const char *path, unsigned nroutes, uint64_t layout)
{
	int shared;
	unsigned i;

	if (nroutes > STATS_MAX_ROUTES)
		return -1;
	for (i = 0; i < STATS_NSTATUS - 1; i++)
		status_ix[statuses[i]] = i + 1;
	reg = shm_map(path, sizeof(*reg), layout ^ 0x6461677973746174ULL, &shared);
	return reg != NULL ? 0 : -1;
}

void
stats_close(void)
{
	shm_unmap(reg, sizeof(*reg));
	reg = NULL;
	mine = NULL;
}

static int
alive(int32_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

int
stats_attach(void)
{
	int32_t me = (int32_t)getpid(), old;
	unsigned i;

	mine = NULL;
	db_base[0] = db_base[1] = 0;
	if (reg == NULL)
		return -1;
	/* A free block first, then one whose process is gone. */
	for (i = 0; i < BLOCKS; i++) {
		old = 0;
		if (atomic_compare_exchange_strong(&reg->block[i].pid, &old, me)) {
			mine = &reg->block[i];
			return 0;
		}
	}
	for (i = 0; i < BLOCKS; i++) {
		old = atomic_load(&reg->block[i].pid);
		if (!alive(old) &&
		    atomic_compare_exchange_strong(&reg->block[i].pid, &old, me)) {
			mine = &reg->block[i];
			/* The dead process's totals stay: ours add to them. */
			db_base[0] = atomic_load(&mine->db_errors);
			db_base[1] = atomic_load(&mine->db_reconnects);
			return 0;
		}
	}
	return -1;
}

int
stats_status(unsigned i)
{
	return i == 0 ? 0 : statuses[i - 1];
}

void
stats_request(unsigned route, int status, double seconds)
{
	struct block_route *b;
	unsigned k, s;
	uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;

	if (mine == NULL)
		return;
	if (route > STATS_UNMATCHED)
		route = STATS_UNMATCHED;
	b = &mine->route[route];
	s = status > 0 && status < 600 ? status_ix[status] : 0;
	for (k = 0; k < STATS_NBUCKETS && seconds > stats_bounds[k]; k++)
		;
	atomic_fetch_add_explicit(&b->status[s], 1, memory_order_relaxed);
	if (k < STATS_NBUCKETS)
		atomic_fetch_add_explicit(&b->bucket[k], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->sum_us, us, memory_order_relaxed);
}

void
stats_db(uint64_t errors, uint64_t reconnects)
{
	if (mine == NULL)
		return;
	atomic_store_explicit(&mine->db_errors, db_base[0] + errors, memory_order_relaxed);
	atomic_store_explicit(&mine->db_reconnects, db_base[1] + reconnects,
	    memory_order_relaxed);
}

int
stats_sum(struct stats_total *out)
{
	unsigned i, r, k;

	memset(out, 0, sizeof(*out));
	if (reg == NULL)
		return -1;
	for (i = 0; i < BLOCKS; i++) {
		struct block *b = &reg->block[i];
		int32_t pid = atomic_load_explicit(&b->pid, memory_order_relaxed);

		if (pid == 0)
			continue;
		out->processes += alive(pid);
		out->db_errors += atomic_load_explicit(&b->db_errors, memory_order_relaxed);
		out->db_reconnects += atomic_load_explicit(&b->db_reconnects,
		    memory_order_relaxed);
		for (r = 0; r <= STATS_MAX_ROUTES; r++) {
			struct block_route *br = &b->route[r];
			struct stats_route *o = &out->route[r];

			if (atomic_load_explicit(&br->count, memory_order_relaxed) == 0)
				continue;
			for (k = 0; k < STATS_NSTATUS; k++)
				o->status[k] += atomic_load_explicit(&br->status[k],
				    memory_order_relaxed);
			for (k = 0; k < STATS_NBUCKETS; k++)
				o->bucket[k] += atomic_load_explicit(&br->bucket[k],
				    memory_order_relaxed);
			o->count += atomic_load_explicit(&br->count, memory_order_relaxed);
			o->sum_us += atomic_load_explicit(&br->sum_us, memory_order_relaxed);
		}
	}
	return 0;
}
