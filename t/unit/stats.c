/* The request counters' shared mapping: counts from processes mapping the
 * same file add up, a dead process's block is taken over with its counts,
 * a file of another layout is reset, statuses and buckets land right. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "dagy/stats.h"

/* A child that maps path, counts n requests of route 3 and exits. */
static void
child(const char *path, int n, uint64_t layout)
{
	pid_t pid = fork();
	int st, i;

	if (pid == 0) {
		if (stats_open(path, 10, layout) < 0 || stats_attach() < 0)
			_exit(1);
		for (i = 0; i < n; i++)
			stats_request(3, i % 2 ? 200 : 404, 0.003);
		stats_db(2, 1);
		_exit(0);
	}
	waitpid(pid, &st, 0);
}

int
main(void)
{
	char path[] = "/tmp/dagy-stats-XXXXXX";
	struct stats_total *t = calloc(1, sizeof(*t));
	int fd = mkstemp(path), i;

	plan(14);
	if (fd < 0 || t == NULL)
		bail("no temp file");
	close(fd);
	child(path, 10, 42);
	child(path, 5, 42);
	if (stats_open(path, 10, 42) < 0)
		bail("cannot map %s", path);
	stats_sum(t);
	is_int(15, (long long)t->route[3].count, "two processes' requests add up");
	is_int(0, t->processes, "neither is alive any more");
	is_int(4, (long long)t->db_errors, "their MariaDB errors add up");
	for (i = 1; i < STATS_NSTATUS && stats_status((unsigned)i) != 200; i++)
		;
	is_int(7, (long long)t->route[3].status[i], "200s by status");
	for (i = 1; i < STATS_NSTATUS && stats_status((unsigned)i) != 404; i++)
		;
	is_int(8, (long long)t->route[3].status[i], "404s by status");
	is_int(15, (long long)t->route[3].bucket[2], "3 ms lands in the 5 ms bucket");
	is_int(45000, (long long)t->route[3].sum_us, "the latency sum in microseconds");

	/* This process takes a block over: the counts stay and grow. */
	ok(stats_attach() == 0, "attach");
	stats_request(3, 599, 100);
	stats_request(STATS_UNMATCHED, 404, 0.0001);
	stats_db(1, 0);
	stats_sum(t);
	is_int(16, (long long)t->route[3].count, "a taken-over block keeps its counts");
	is_int(1, (long long)t->route[3].status[0], "an unlisted status counts as other");
	is_int(15, (long long)t->route[3].bucket[2] + t->route[3].bucket[STATS_NBUCKETS - 1],
	    "100 s is in no finite bucket");
	is_int(1, (long long)t->route[STATS_UNMATCHED].count, "unmatched requests");
	ok(t->db_errors == 5 || t->db_errors == 3, "db totals add to the block's, not replace them");
	stats_close();

	/* Another route table: the file is reset rather than misread. */
	stats_open(path, 10, 43);
	stats_sum(t);
	is_int(0, (long long)t->route[3].count, "another layout starts from zero");
	stats_close();
	unlink(path);
	free(t);
	return done_testing();
}
