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
struct secrets_keyring;
struct step_secrets;

enum step_state {
	ST_PENDING, ST_RUNNING, ST_RETRY_WAIT, ST_WAITING_APPROVAL, ST_SUCCESS,
	ST_FAILED, ST_SKIPPED, ST_CANCELLED, ST_REJECTED,
};

/* A stream of a child: bytes until a newline make a line. */
struct step;
struct linebuf {
	int fd;          /* -1 once closed */
	struct step *owner;
	int stream;      /* 1 stdout, 2 stderr */
	char *buf;
	size_t len, cap;
	int overlong;    /* the current line was cut; skip to its newline */
	int watched;     /* in the loop's epoll */
};

struct run;

/* How a step runs, decided once when its run is loaded. */
enum step_kind { SK_BUILTIN, SK_SHELL, SK_PYTHON, SK_NOOP, SK_APPROVAL };

struct step {
	struct run *run;
	int idx;
	const char *id, *type;
	enum step_kind kind;
	int branch;          /* a branch node: its outputs say which children run */
	json_t *node;        /* borrowed from run->spec */
	int *deps, ndeps;
	int *children, nchildren; /* the steps that depend on this one */
	int waiting;         /* pending: dependencies not yet succeeded */
	enum step_state st;
	int attempt, retries, retry_delay, timeout;
	int lost_attempts;   /* attempts cut short by a worker's death */
	int64_t db_id;
	pid_t pid;           /* 0 when no process, -1 until the launcher starts it */
	struct linebuf out, err;
	double started, deadline, retry_at, kill_at, exited_at;
	double watch_at;     /* when its pipes join the loop's epoll (0: done) */
	int exited, wstatus, timed_out;
	int abandoned;       /* killed by the worker's shutdown, not recorded */
	int dirty;           /* state to record */
	int slot;            /* index in worker->procs while it has a process */
	char started_at[32], finished_at[32];
	int exit_code;       /* -1: none */
	char *error;         /* malloc'd */
	size_t log_bytes;
	int log_capped;
	json_t *outputs;     /* key -> value, recorded and for downstream env */
	json_t *new_outputs; /* [key, value] pairs not yet recorded */
	struct step_secrets *secrets; /* of this attempt (secretenv.c), or NULL */
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
	int nproc;           /* steps with a process */
	int nopen;           /* steps not finished */
	int *ready, nready;  /* steps that may start, in the order they could */
	int *outsteps, noutsteps; /* steps that have outputs */
	json_t *index;       /* step id -> index */
	int changed;         /* a step changed: look for steps to start */
	int unrecorded;      /* a step has state or outputs to record */
	int done_sent;       /* the verdict is in a batch */
	int done_recorded;   /* and the recorder wrote it */
	char workdir[600];
	char *environment;   /* NULL: none */
	char *artifact;      /* the version's code artifact URI; NULL: none */
	char *code_hash;     /* its checksum, for the worker's cache */
	int old_workdir;     /* the directory was there before this claim */
	json_t *retried;     /* step ids that went into a retry, for on_retry rules */
	struct sla {         /* on_sla_breach rules, due while the run runs */
		int64_t rule;
		double due;      /* monotonic */
		int fired;
	} *sla;
	int nsla;
	json_t *breached;    /* rule ids whose SLA passed, to record */
	struct run *next;
};

struct worker {
	const struct config *cfg;
	struct db *db;
	char name[160], host[128];
	int concurrency, max_runs, lease;
	/* Steps handed to the launcher at once: twice concurrency, so that
	 * the launcher, which runs concurrency of them, always has the next. */
	int inflight;
	int running;         /* steps handed to the launcher, in procs[0..running) */
	struct step **procs;
	int nretry;          /* 1: a step may be waiting to retry */
	double kill_grace;
	size_t max_line, max_step_log;
	struct run *runs;
	int nruns;
	json_t *logs;        /* pending log lines: [run, step, stream, ts, line, cut] */
	int stopping;
	char workdir[512];
	int launcher, epfd;  /* the launcher's socket; the loop's epoll */
	struct recorder *rec;
	struct bgthread *sender;  /* alert deliveries (deliver.c) */
	struct bgthread *syncer;  /* dagctl projects (projects.c) */
	struct bgthread *poller;  /* polling sensors (sensors.c) */
	int store_busy;      /* a batch is with the recorder */
	pid_t launcher_pid;
	char self_exe[4096]; /* this binary, which built-in steps run */
	struct secrets_keyring *keys; /* opens the secrets steps ask for */
	json_t *which;       /* "name\nPATH" -> program found lately */
	double which_at;
};

/* launch.c: the launcher process that spawns, signals and reaps steps. */
enum { LAUNCH_STARTED = 1, LAUNCH_FAILED = 2, LAUNCH_EXITED = 3 };
struct launch_msg {
	uint32_t kind;   /* LAUNCH_* */
	int32_t pid;
	int32_t status;  /* FAILED: an errno; EXITED: a wait status */
	uint32_t pad;
	uint64_t token;  /* the worker's name for the step */
	struct timespec at; /* STARTED: the wall-clock time of the spawn */
};
/* Forks the launcher, which runs at most max_running steps and queues the
 * rest; returns the worker's end of the socket (non-blocking for reads) or
 * -1. */
int launch_start(pid_t *pid, int max_running);
/* Asks for a step process, started now or when a running one exits: path
 * with argv and envp in cwd, stdout and stderr to out and err, stdin from
 * in (-1: /dev/null). shcmd, when not NULL, is run by /bin/sh -c instead
 * if path cannot be executed. The descriptors are copied; the caller
 * closes its own. 0 or -1. */
int launch_spawn(int sock, uint64_t token, const char *path, char *const argv[],
    char *const envp[], const char *cwd, const char *shcmd, int in, int out, int err);
/* Signals the step's process group, if it still runs. */
int launch_signal(int sock, uint64_t token, int sig);
/* Removes a directory tree, after the requests sent before this one. */
int launch_rmtree(int sock, const char *path);
/* 1 with a report in *m, 0 when there is none now, -1 when the launcher is
 * gone. */
int launch_recv(int sock, struct launch_msg *m);


/* claim.c */
int claim_runs(struct worker *w, int max);
int claim_heartbeat(struct worker *w);
int claim_reap(struct worker *w);
/* Reads cancels and approval decisions of the runs held. */
int claim_check(struct worker *w);
/* Gives back the runs still held, for another worker to resume. */
int claim_release(struct worker *w);

/* executor.c */
/* Counts what each step of a loaded run waits for and queues what is
 * ready. */
void exec_prepare(struct run *r);
void exec_schedule(struct worker *w, double now);
/* Takes a report of the launcher: a step started, could not start, or exited. */
void exec_launched(struct worker *w, const struct launch_msg *m, double now);
void exec_read(struct worker *w, struct step *s, int which, double now);
void exec_timers(struct worker *w, double now);
double exec_next_timer(struct worker *w, double now);
void exec_cancel_run(struct worker *w, struct run *r, double now);
void exec_kill_all(struct worker *w);
/* A stopping worker starts nothing new: steps still waiting in the
 * launcher are taken back, and their runs given back with the rest. */
void exec_stop_queued(struct worker *w);
/* The launcher is gone: kills what it started and forgets the processes;
 * their steps stay as recorded, running, for the next holder to re-run. */
void exec_abandon_all(struct worker *w);
void exec_step_decided(struct worker *w, struct step *s, int approved);
void run_free(struct run *r);
double now_mono(void);
void now_sql(char out[32]);
/* The same for a given wall-clock time. */
void timespec_sql(const struct timespec *ts, char out[32]);

/* store.c: the recorder thread, which writes what changed in batches.
 * store_start returns its eventfd, readable when a batch is done. */
int store_start(struct worker *w);
/* Hands everything unrecorded to the recorder unless it is busy; 1 if it
 * did. */
int store_flush(struct worker *w);
/* Takes a finished batch's outcome (verdicts written, runs lost). */
int store_collected(struct worker *w);
/* 1 when a state change, output or log line awaits store_flush. */
int store_pending(struct worker *w);
/* Records everything before the worker gives its runs back. */
int store_drain(struct worker *w, double timeout);
void store_stop(struct worker *w);
void store_log(struct worker *w, struct step *s, int stream, const char *line,
    size_t len, int cut);

/* The passes of the background threads (bgthread.h), each returning how
 * long to sleep. deliver.c: sends due alert deliveries; poke w->sender
 * when some may be due now (the recorder queued some, or the API asked).
 * projects.c: keeps dagctl projects' checkouts in sync and drives their
 * plans. sensors.c: polls due sensors. */
struct bgthread;
int deliver_pass(struct bgthread *t);
int projects_pass(struct bgthread *t);
int sensors_pass(struct bgthread *t);

/* scheduler.c: fires due slots; returns runs created and sets *next_due
 * (epoch of the earliest next slot, 0 if none), or a db_err. */
int sched_fire(struct worker *w, time_t *next_due);

/* builtin.c: `dagy-worker --builtin`, the process of a built-in or custom
 * node step: reads its job from stdin; returns the exit status. */
int builtin_main(void);

/* artifacts.c: unpacks the artifact of r's flow version, if it has one,
 * into r->workdir before any step starts. 0, or -1 after logging why
 * (the steps then run without the code). */
int artifacts_fetch_run(struct worker *w, struct run *r);

#endif
