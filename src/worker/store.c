/* Recording execution: every state change, output and log line gathered
 * since the last batch is written by the recorder thread in one
 * transaction of a few set-based statements, so a wide graph costs one
 * commit per burst of activity and the executor never waits for it.
 * Updates are conditional on the run still being this worker's. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dagy/arena.h"
#include "dagy/db.h"
#include "dagy/exceptions.h"
#include "dagy/log.h"
#include "dagy/notify.h"
#include "bgthread.h"
#include "worker.h"

static const char *const state_names[] = {
	[ST_PENDING] = "pending", [ST_RUNNING] = "running",
	[ST_RETRY_WAIT] = "running", [ST_WAITING_APPROVAL] = "waiting_approval",
	[ST_SUCCESS] = "success", [ST_FAILED] = "failed", [ST_SKIPPED] = "skipped",
	[ST_CANCELLED] = "cancelled", [ST_REJECTED] = "rejected",
};

/* Copies p into a string that is valid UTF-8, replacing bad bytes by '?'
 * (process output is bytes; JSON and the log column are text). */
static json_t *
utf8_string(const char *p, size_t n)
{
	json_t *v = json_stringn(p, n);
	char *copy;
	size_t i;

	if (v != NULL)
		return v;
	copy = malloc(n + 1);
	for (i = 0; i < n;) {
		unsigned char c = (unsigned char)p[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 :
		    (c >> 3) == 30 ? 4 : 0;
		size_t k;
		int ok = len > 0 && i + len <= n;

		for (k = 1; ok && k < len; k++)
			ok = ((unsigned char)p[i + k] >> 6) == 2;
		if (ok && len > 1) {
			/* jansson also refuses overlong forms and surrogates. */
			json_t *probe = json_stringn(p + i, len);

			ok = probe != NULL;
			json_decref(probe);
		}
		if (!ok) {
			copy[i++] = '?';
			continue;
		}
		memcpy(copy + i, p + i, len);
		i += len;
	}
	v = json_stringn(copy, n);
	free(copy);
	return v != NULL ? v : json_string("?");
}

void
store_log(struct worker *w, struct step *s, int stream, const char *line,
    size_t len, int cut)
{
	char ts[32];

	if (s->run->lost)
		return;
	now_sql(ts);
	json_array_append_new(w->logs, json_pack("[I, s, i, s, o, i]",
	    (json_int_t)s->run->id, s->id, stream, ts, utf8_string(line, len), cut));
}

/* One batch of changes, self-contained so the recorder thread never
 * touches the worker's runs: every row starts with its run's id. */
struct batch {
	json_t *steps;    /* [run, step row, status, attempt, exit, error, started, finished] */
	json_t *outputs;  /* [run, step, key, value] */
	json_t *done;     /* [run, status, error, output] */
	json_t *logs;     /* [run, step, stream, ts, line, cut] */
	json_t *retried;  /* [run, step]: a step went into a retry */
	json_t *breached; /* [run, rule]: the run is past the rule's SLA */
	int step_runs;    /* how many runs the steps belong to */
	int64_t queued;   /* deliveries the batch queued */
	int rc;           /* set by the recorder: 0 or the db_err that stopped it */
	json_t *recorded; /* runs whose verdict was written */
	json_t *lost;     /* runs no longer this worker's */
	json_t *vanished; /* runs deleted meanwhile */
};

/* The recorder: a thread with its own connection that writes batches in
 * order, retrying until each is stored, so the loop that starts steps never
 * waits for a commit. */
struct recorder {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct db *db;
	const struct config *cfg;
	const char *name;
	struct batch *todo, *done;  /* one batch at a time in each slot */
	int quit, give_up;
	int efd;                    /* eventfd: a batch is done */
};

/* The list drives each statement (STRAIGHT_JOIN): otherwise the optimiser
 * may scan a run's steps and re-read the list for each of them. */
static const char SQL_STEPS[] =
    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS("
    " id BIGINT PATH '$[1]', st VARCHAR(20) PATH '$[2]', at INT PATH '$[3]',"
    " ec INT PATH '$[4]', er TEXT PATH '$[5]', sa VARCHAR(32) PATH '$[6]',"
    " fa VARCHAR(32) PATH '$[7]')) j STRAIGHT_JOIN step_runs s ON s.id = j.id"
    " STRAIGHT_JOIN runs r ON r.id = s.run_id AND r.worker_id = ?"
    " SET s.status = j.st, s.attempt = j.at, s.exit_code = NULLIF(j.ec, -1),"
    " s.error = j.er, s.started_at = NULLIF(j.sa, ''), s.finished_at = NULLIF(j.fa, ''),"
    " s.worker = ?, s.updated_at = UTC_TIMESTAMP(6),"
    /* Keeps the run's updated_at moving for clients polling by it. */
    " r.updated_at = UTC_TIMESTAMP(6)";
/* Usage of the steps this batch finishes, counted per batch rather than by
 * the step_runs trigger, which skips this connection (017): a task is a
 * newly finished attempt of a step that ran, not an approval. Run before
 * SQL_STEPS, while finished_at is still the old one. */
#define STEP_LIST \
    "JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[1]', sa VARCHAR(32) PATH '$[6]'," \
    " fa VARCHAR(32) PATH '$[7]')) j STRAIGHT_JOIN step_runs s ON s.id = j.id" \
    " STRAIGHT_JOIN runs r ON r.id = s.run_id AND r.worker_id = ?"
#define STEP_NEWLY_FINISHED \
    " WHERE j.fa <> '' AND j.sa <> '' AND NOT (s.finished_at <=> CAST(j.fa AS DATETIME(6)))" \
    " AND s.type <> 'approval'"
#define STEP_MS "GREATEST(0, ROUND(TIMESTAMPDIFF(MICROSECOND, j.sa, j.fa) / 1000))"
static const char SQL_USAGE_HOURLY[] =
    "INSERT INTO usage_hourly (org_id, hour, shard, task_count, step_ms)"
    " SELECT s.org_id, DATE_FORMAT(j.fa, '%Y-%m-%d %H:00:00') h, CONNECTION_ID() % 4,"
    " COUNT(*), SUM(" STEP_MS ") FROM " STEP_LIST STEP_NEWLY_FINISHED
    " GROUP BY s.org_id, h"
    " ON DUPLICATE KEY UPDATE task_count = task_count + VALUES(task_count),"
    " step_ms = step_ms + VALUES(step_ms)";
static const char SQL_USAGE_DAILY[] =
    "INSERT INTO usage_daily (org_id, day, flow_name, executor, shard, task_count, step_ms)"
    " SELECT s.org_id, DATE(j.fa) d, COALESCE(f.name, '') fl, r.executor, CONNECTION_ID() % 4,"
    " COUNT(*), SUM(" STEP_MS ") FROM " STEP_LIST
    " LEFT JOIN flows f ON f.id = s.flow_id" STEP_NEWLY_FINISHED
    " GROUP BY s.org_id, d, fl, r.executor"
    " ON DUPLICATE KEY UPDATE task_count = task_count + VALUES(task_count),"
    " step_ms = step_ms + VALUES(step_ms)";
static const char SQL_OUTPUTS[] =
    "INSERT INTO step_outputs (run_id, step_id, k, v)"
    " SELECT j.r, j.s, j.k, j.v FROM JSON_TABLE(?, '$[*]' COLUMNS("
    " r BIGINT PATH '$[0]', s VARCHAR(64) PATH '$[1]', k VARCHAR(128) PATH '$[2]',"
    " v LONGTEXT PATH '$[3]')) j"
    " ON DUPLICATE KEY UPDATE v = VALUES(v)";
static const char SQL_DONE[] =
    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[0]',"
    " st VARCHAR(16) PATH '$[1]', er TEXT PATH '$[2]', ou LONGTEXT PATH '$[3]')) j"
    " STRAIGHT_JOIN runs r ON r.id = j.id"
    " SET r.status = j.st, r.completed_at = UTC_TIMESTAMP(6), r.error = j.er,"
    " r.output = j.ou, r.lease_expires_at = NULL, r.updated_at = UTC_TIMESTAMP(6)"
    " WHERE r.worker_id = ? AND r.status = 'running'";
static const char SQL_LOGS[] =
    "INSERT INTO step_logs (run_id, step_id, stream, ts, line, truncated)"
    " SELECT j.r, j.s, j.st, j.ts, j.l, j.c FROM JSON_TABLE(?, '$[*]' COLUMNS("
    " r BIGINT PATH '$[0]', s VARCHAR(64) PATH '$[1]', st INT PATH '$[2]',"
    " ts DATETIME(6) PATH '$[3]', l LONGTEXT PATH '$[4]', c INT PATH '$[5]')) j";
/* Which of a batch's runs are not this worker's any more, or are gone. */
static const char SQL_NOT_MINE[] =
    "SELECT j.id, r.id IS NULL FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[0]')) j"
    " LEFT JOIN runs r ON r.id = j.id"
    " WHERE r.id IS NULL OR r.worker_id IS NULL OR r.worker_id <> ? OR r.status <> 'running'";
static const char SQL_RECORDED[] =
    "SELECT r.id FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$[0]',"
    " st VARCHAR(16) PATH '$[1]')) j"
    " STRAIGHT_JOIN runs r ON r.id = j.id WHERE r.worker_id = ? AND r.status = j.st";

static void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	json_decref(b->steps);
	json_decref(b->outputs);
	json_decref(b->done);
	json_decref(b->logs);
	json_decref(b->retried);
	json_decref(b->breached);
	json_decref(b->recorded);
	json_decref(b->lost);
	json_decref(b->vanished);
	free(b);
}

/* The run's verdict once every step is done. */
static void
verdict(struct run *r, const char **status, char **error, char **output)
{
	json_t *out = json_object();
	int i;

	*status = "completed";
	*error = NULL;
	for (i = 0; i < r->nsteps; i++) {
		struct step *s = &r->steps[i];

		json_object_update(out, s->outputs);
		if ((s->st == ST_FAILED || s->st == ST_REJECTED) && *error == NULL) {
			*status = "failed";
			if (asprintf(error, "step '%s' %s: %s", s->id,
			    s->st == ST_REJECTED ? "was rejected" : "failed",
			    s->error != NULL ? s->error : "unknown error") < 0)
				*error = NULL;
		}
	}
	*output = json_dumps(out, JSON_COMPACT);
	json_decref(out);
}

/* Moves a run's unrecorded changes into b. Strings are copied: the batch
 * is read on another thread. */
static void
collect_run(struct batch *b, struct run *r)
{
	json_int_t id = (json_int_t)r->id;
	int i, any = 0;
	size_t k;
	json_t *kv;

	r->unrecorded = 0;
	for (i = 0; i < r->nsteps; i++) {
		struct step *s = &r->steps[i];
		size_t k;
		json_t *kv;

		if (s->dirty) {
			json_array_append_new(b->steps, json_pack("[I, I, s, i, i, s?, s, s]", id,
			    (json_int_t)s->db_id, state_names[s->st], s->attempt, s->exit_code,
			    s->error, s->started_at, s->finished_at));
			s->dirty = 0;
			any = 1;
		}
		json_array_foreach(s->new_outputs, k, kv)
			json_array_append_new(b->outputs, json_pack("[I, s, s, s]", id, s->id,
			    json_string_value(json_array_get(kv, 0)),
			    json_string_value(json_array_get(kv, 1))));
		json_array_clear(s->new_outputs);
	}
	b->step_runs += any;
	json_array_foreach(r->retried, k, kv)
		json_array_append_new(b->retried, json_pack("[I, O]", id, kv));
	json_array_clear(r->retried);
	json_array_foreach(r->breached, k, kv)
		json_array_append_new(b->breached, json_pack("[I, O]", id, kv));
	json_array_clear(r->breached);
	if (r->finished && !r->cancelling && !r->done_sent) {
		const char *status;
		char *error, *output;

		verdict(r, &status, &error, &output);
		json_array_append_new(b->done, json_pack("[I, s, s?, s]", id, status, error,
		    output));
		free(error);
		free(output);
		r->done_sent = 1;
	}
}

/* Every run id of the batch, once. */
static json_t *
batch_runs(const struct batch *b)
{
	json_t *seen = json_object(), *ids = json_array(), *lists[] = {b->steps, b->outputs,
	    b->done, b->logs, b->retried, b->breached}, *row;
	size_t i, k;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		json_array_foreach(lists[i], k, row) {
			char key[32];
			json_int_t id = json_integer_value(json_array_get(row, 0));

			snprintf(key, sizeof(key), "%lld", (long long)id);
			if (json_object_get(seen, key) == NULL) {
				json_object_set_new(seen, key, json_true());
				json_array_append_new(ids, json_pack("[I]", id));
			}
		}
	json_decref(seen);
	return ids;
}

/* Drops every row of the runs in gone (a JSON array of ids). */
static void
batch_drop(struct batch *b, const json_t *gone)
{
	json_t *lists[] = {b->steps, b->outputs, b->done, b->logs, b->retried, b->breached};
	size_t i, k, g;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (k = json_array_size(lists[i]); k-- > 0;) {
			json_int_t id = json_integer_value(json_array_get(json_array_get(lists[i], k), 0));

			for (g = 0; g < json_array_size(gone); g++)
				if (json_integer_value(json_array_get(gone, g)) == id) {
					json_array_remove(lists[i], k);
					break;
				}
		}
}

/* Runs one statement whose only parameter is a JSON list (and, with name,
 * the worker's name once or twice); an empty list costs nothing. */
static int64_t
exec_list(struct db *db, const char *sql, json_t *list, const char *name, int names)
{
	char *text;
	int64_t rc;

	if (json_array_size(list) == 0)
		return 0;
	text = json_dumps(list, JSON_COMPACT);
	rc = names == 2 ? db_exec(db, sql, "sss", text, name, name) :
	    names == 1 ? db_exec(db, sql, "ss", text, name) : db_exec(db, sql, "s", text);
	free(text);
	return rc;
}

/* Finds which of the batch's runs are lost or vanished and takes them out,
 * so the rest can be written. Returns how many or a db_err. */
static int
sort_out(struct recorder *rec, struct batch *b)
{
	struct arena a = {0};
	struct db_res *res;
	json_t *ids = batch_runs(b), *gone = json_array();
	char *text = json_dumps(ids, JSON_COMPACT);
	unsigned i;
	int rc;

	rc = db_query(rec->db, &a, &res, SQL_NOT_MINE, "ss", text, rec->name);
	if (rc == 0) {
		for (i = 0; i < res->nrows; i++) {
			json_int_t id = db_int(res, i, 0);

			json_array_append_new(gone, json_integer(id));
			json_array_append_new(db_int(res, i, 1) ? b->vanished : b->lost,
			    json_integer(id));
		}
		batch_drop(b, gone);
		rc = (int)json_array_size(gone);
	}
	free(text);
	json_decref(ids);
	json_decref(gone);
	arena_free(&a);
	return rc;
}

/* Runs one outbox statement over list, adding what it queued to *queued. */
static int
outbox(struct db *db, json_t *list, int64_t (*fn)(struct db *, const char *, const char *),
    const char *name, int64_t *queued)
{
	char *text;
	int64_t rc;

	if (json_array_size(list) == 0)
		return 0;
	text = json_dumps(list, JSON_COMPACT);
	rc = fn(db, text, name);
	free(text);
	if (rc > 0)
		*queued += rc;
	return rc < 0 ? (int)rc : 0;
}

/* One attempt at writing b in one transaction. sorted: the batch's runs
 * were just checked, so fewer rows than steps is no reason to look again. */
static int
write_batch(struct recorder *rec, struct batch *b, int sorted)
{
	struct arena a = {0};
	struct db_res *res;
	int64_t rc;
	unsigned i;
	char *text = NULL, *steps = NULL;

	if ((rc = db_begin(rec->db)) < 0)
		goto fail;
	/* The step list, dumped once for the three statements that read it. */
	if (json_array_size(b->steps) > 0) {
		if ((steps = json_dumps(b->steps, JSON_COMPACT)) == NULL) {
			rc = DB_ERR;
			goto fail;
		}
		if ((rc = db_exec(rec->db, SQL_USAGE_HOURLY, "ss", steps, rec->name)) < 0 ||
		    (rc = db_exec(rec->db, SQL_USAGE_DAILY, "ss", steps, rec->name)) < 0 ||
		    (rc = db_exec(rec->db, SQL_STEPS, "sss", steps, rec->name, rec->name)) < 0)
			goto fail;
		free(steps);
		steps = NULL;
	}
	/* Rows changed count each step and each run once. */
	if (rc < (int64_t)json_array_size(b->steps) + b->step_runs && !sorted) {
		/* Some run is not ours any more: write none of this, sort the
		 * batch out and try again. */
		db_rollback(rec->db);
		if ((rc = sort_out(rec, b)) < 0)
			goto fail;
		return write_batch(rec, b, 1);
	}
	if ((rc = exec_list(rec->db, SQL_OUTPUTS, b->outputs, NULL, 0)) < 0 ||
	    (rc = exec_list(rec->db, SQL_LOGS, b->logs, NULL, 0)) < 0 ||
	    (rc = exec_list(rec->db, SQL_DONE, b->done, rec->name, 1)) < 0)
		goto fail;
	/* The outbox: alerts these changes cause, in the same transaction. */
	b->queued = 0;
	if ((rc = outbox(rec->db, b->done, notify_outbox_verdicts, rec->name, &b->queued)) < 0 ||
	    (rc = outbox(rec->db, b->retried, notify_outbox_retries, rec->name, &b->queued)) < 0 ||
	    (rc = outbox(rec->db, b->breached, notify_outbox_sla, rec->name, &b->queued)) < 0)
		goto fail;
	json_array_clear(b->recorded);
	if (json_array_size(b->done) > 0) {
		text = json_dumps(b->done, JSON_COMPACT);
		if ((rc = db_query(rec->db, &a, &res, SQL_RECORDED, "ss", text, rec->name)) < 0)
			goto fail;
		for (i = 0; i < res->nrows; i++)
			json_array_append_new(b->recorded, json_integer(db_int(res, i, 0)));
	}
	if ((rc = db_commit(rec->db)) < 0)
		goto fail;
	free(text);
	arena_free(&a);
	return 0;
fail:
	free(steps);
	free(text);
	arena_free(&a);
	db_rollback(rec->db);
	/* A run deleted under us (its flow was deleted) makes inserts fail on
	 * the foreign key: let it go, with everything gathered for it. */
	if (rc == DB_EFK && !sorted && sort_out(rec, b) > 0)
		return write_batch(rec, b, 1);
	return (int)rc;
}

static void *
recorder_main(void *arg)
{
	struct recorder *rec = arg;

	pthread_mutex_lock(&rec->mu);
	for (;;) {
		struct batch *b;
		double delay = 0.01;
		time_t warned = 0;
		uint64_t one = 1;

		while (rec->todo == NULL && !rec->quit)
			pthread_cond_wait(&rec->cv, &rec->mu);
		if (rec->todo == NULL)
			break;
		b = rec->todo;
		pthread_mutex_unlock(&rec->mu);
		while ((b->rc = write_batch(rec, b, 0)) < 0) {
			struct timespec ts;
			int stop;

			if (b->rc != DB_EDEADLOCK && time(NULL) - warned >= 10) {
				log_warn("recording execution failed: %s; retrying", db_errmsg(rec->db));
				/* An outage is no internal error; anything else is. */
				if (b->rc != DB_EUNAVAIL)
					exceptions_record(rec->cfg, "dagy-worker", rec->name,
					    "recording execution failed", json_pack("{s:i, s:s}",
					    "rc", b->rc, "db_error", db_errmsg(rec->db)), NULL);
				warned = time(NULL);
			}
			pthread_mutex_lock(&rec->mu);
			stop = rec->give_up;
			pthread_mutex_unlock(&rec->mu);
			if (stop)
				break;
			ts.tv_sec = (time_t)delay;
			ts.tv_nsec = (long)((delay - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
			delay = delay * 2 < 1 ? delay * 2 : 1;
		}
		pthread_mutex_lock(&rec->mu);
		rec->todo = NULL;
		rec->done = b;
		if (write(rec->efd, &one, sizeof(one)) < 0)
			log_syserr("eventfd");
	}
	pthread_mutex_unlock(&rec->mu);
	return NULL;
}

int
store_start(struct worker *w)
{
	struct recorder *rec = calloc(1, sizeof(*rec));

	if (rec == NULL)
		return -1;
	rec->name = w->name;
	rec->cfg = w->cfg;
	pthread_mutex_init(&rec->mu, NULL);
	pthread_cond_init(&rec->cv, NULL);
	if ((rec->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    db_open_init(&rec->db, w->cfg, "SET @dagy_usage_by_batch = 1") < 0 ||
	    pthread_create(&rec->thread, NULL, recorder_main, rec) != 0) {
		if (rec->efd >= 0)
			close(rec->efd);
		db_close(rec->db);
		free(rec);
		return -1;
	}
	w->rec = rec;
	return rec->efd;
}

static struct run *
find_run(struct worker *w, json_int_t id)
{
	struct run *r;

	for (r = w->runs; r != NULL && r->id != (int64_t)id; r = r->next)
		;
	return r;
}

/* Applies what the recorder learnt writing a batch. */
static void
absorb(struct worker *w, struct batch *b)
{
	json_t *v;
	size_t i;

	json_array_foreach(b->lost, i, v) {
		struct run *r = find_run(w, json_integer_value(v));

		if (r != NULL && !r->lost) {
			log_warn("run %s is no longer this worker's; stopping its steps",
			    r->public_id);
			r->lost = 1;
			exec_cancel_run(w, r, now_mono());
		}
	}
	json_array_foreach(b->vanished, i, v) {
		struct run *r = find_run(w, json_integer_value(v));

		if (r != NULL && !r->lost) {
			log_warn("run %s was deleted while running", r->public_id);
			r->lost = 1;
			exec_cancel_run(w, r, now_mono());
		}
	}
	json_array_foreach(b->done, i, v) {
		json_int_t id = json_integer_value(json_array_get(v, 0));
		struct run *r = find_run(w, id);
		json_t *x;
		size_t k;

		if (r == NULL)
			continue;
		json_array_foreach(b->recorded, k, x)
			if (json_integer_value(x) == id) {
				r->done_recorded = 1;
				log_info("run %s %s", r->public_id,
				    json_string_value(json_array_get(v, 1)));
			}
		/* A verdict that was not written belongs to a run not ours. */
		if (!r->done_recorded)
			r->lost = 1;
	}
}

int
store_collected(struct worker *w)
{
	struct recorder *rec = w->rec;
	struct batch *b;
	uint64_t n;

	if (read(rec->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_syserr("eventfd");
	pthread_mutex_lock(&rec->mu);
	b = rec->done;
	rec->done = NULL;
	pthread_mutex_unlock(&rec->mu);
	if (b == NULL)
		return 0;
	w->store_busy = 0;
	absorb(w, b);
	if (b->queued > 0)
		bg_poke(w->sender);
	batch_free(b);
	return 1;
}

int
store_pending(struct worker *w)
{
	struct run *r;

	if (json_array_size(w->logs) > 0)
		return 1;
	for (r = w->runs; r != NULL; r = r->next)
		if (!r->lost && (r->unrecorded || (r->finished && !r->cancelling && !r->done_sent)))
			return 1;
	return 0;
}

int
store_flush(struct worker *w)
{
	struct recorder *rec = w->rec;
	struct batch *b;
	struct run *r;

	if (w->store_busy || !store_pending(w))
		return 0;
	b = calloc(1, sizeof(*b));
	b->steps = json_array();
	b->outputs = json_array();
	b->done = json_array();
	b->recorded = json_array();
	b->lost = json_array();
	b->vanished = json_array();
	b->retried = json_array();
	b->breached = json_array();
	b->logs = w->logs;
	w->logs = json_array();
	for (r = w->runs; r != NULL; r = r->next)
		if (!r->lost)
			collect_run(b, r);
	pthread_mutex_lock(&rec->mu);
	rec->todo = b;
	pthread_cond_signal(&rec->cv);
	pthread_mutex_unlock(&rec->mu);
	w->store_busy = 1;
	return 1;
}

int
store_drain(struct worker *w, double timeout)
{
	struct pollfd p = {.fd = w->rec->efd, .events = POLLIN};
	double until = now_mono() + timeout;

	while (w->store_busy || store_pending(w)) {
		double left = until - now_mono();

		store_flush(w);
		if (left <= 0) {
			log_warn("shutdown: gave up recording after %.0f s", timeout);
			return -1;
		}
		if (poll(&p, 1, (int)(left * 1000) + 1) > 0)
			store_collected(w);
	}
	return 0;
}

void
store_stop(struct worker *w)
{
	struct recorder *rec = w->rec;

	if (rec == NULL)
		return;
	pthread_mutex_lock(&rec->mu);
	rec->quit = rec->give_up = 1;
	pthread_cond_signal(&rec->cv);
	pthread_mutex_unlock(&rec->mu);
	pthread_join(rec->thread, NULL);
	batch_free(rec->todo);
	batch_free(rec->done);
	db_close(rec->db);
	close(rec->efd);
	pthread_mutex_destroy(&rec->mu);
	pthread_cond_destroy(&rec->cv);
	free(rec);
	w->rec = NULL;
}
