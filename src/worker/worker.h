/* dagy-worker's shared state: the runs it holds, their steps, and the
 * pieces that claim (claim.c), execute (executor.c), record (store.c) and
 * run built-in node types (builtin.c). Single-threaded around poll(). */
#ifndef DAGY_WORKER_H
#define DAGY_WORKER_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct config;
struct db;

enum step_state {
	ST_PENDING, ST_RUNNING, ST_RETRY_WAIT, ST_WAITING_APPROVAL, ST_SUCCESS,
	ST_FAILED, ST_SKIPPED, ST_CANCELLED, ST_REJECTED,
};

/* A stream of a child: bytes until a newline make a line. */
struct linebuf {
	int fd;          /* -1 once closed */
	char *buf;
	size_t len, cap;
	int overlong;    /* the current line was cut; skip to its newline */
};

struct run;

struct step {
	struct run *run;
	int idx;
	const char *id, *type;
	json_t *node;        /* borrowed from run->spec */
	int *deps, ndeps;
	enum step_state st;
	int attempt, retries, retry_delay, timeout;
	int64_t db_id;
	pid_t pid;           /* 0 when no process */
	struct linebuf out, err;
	double started, deadline, retry_at, kill_at, exited_at;
	int exited, wstatus, timed_out;
	int dirty;           /* state to record */
	char started_at[32], finished_at[32];
	int exit_code;       /* -1: none */
	char *error;         /* malloc'd */
	size_t log_bytes;
	int log_capped;
	json_t *outputs;     /* key -> value, recorded and for downstream env */
	json_t *new_outputs; /* [key, value] pairs not yet recorded */
	char outpath[720];
};

struct run {
	int64_t id, org_id;
	char public_id[48];
	char *flow_name;
	json_t *spec, *params;
	struct step *steps;
	int nsteps;
	int cancelling, lost, finished;
	int done_recorded;
	char workdir[600];
	struct run *next;
};

struct worker {
	const struct config *cfg;
	struct db *db;
	char name[160], host[128];
	int concurrency, max_runs, lease, running;
	double kill_grace;
	size_t max_line, max_step_log;
	struct run *runs;
	int nruns;
	json_t *logs;        /* pending log lines: [run, step, stream, ts, line, cut] */
	int stopping;
	char workdir[512];
};

/* claim.c */
int claim_runs(struct worker *w, int max);
int claim_heartbeat(struct worker *w);
int claim_reap(struct worker *w);
/* Reads cancels and approval decisions of the runs held. */
int claim_check(struct worker *w);
/* Gives back the runs still held, for another worker to resume. */
int claim_release(struct worker *w);

/* executor.c */
void exec_schedule(struct worker *w, double now);
void exec_reap_children(struct worker *w, double now);
void exec_read(struct worker *w, struct step *s, int which, double now);
void exec_timers(struct worker *w, double now);
double exec_next_timer(struct worker *w, double now);
void exec_cancel_run(struct worker *w, struct run *r, double now);
void exec_kill_all(struct worker *w);
void exec_step_decided(struct worker *w, struct step *s, int approved);
void run_free(struct run *r);
double now_mono(void);
void now_sql(char out[32]);

/* store.c: records everything dirty in one transaction. */
int store_flush(struct worker *w);
/* 1 when a state change, output or log line awaits store_flush. */
int store_pending(struct worker *w);
void store_log(struct worker *w, struct step *s, int stream, const char *line,
    size_t len, int cut);

/* scheduler.c: fires due slots; returns runs created and sets *next_due
 * (epoch of the earliest next slot, 0 if none), or a db_err. */
int sched_fire(struct worker *w, time_t *next_due);

/* builtin.c: runs in a forked child; returns the exit status. */
int builtin_http(struct step *s, json_t *params);

#endif
