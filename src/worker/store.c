/* Recording execution: every state change, output and log line gathered
 * since the last flush is written in one transaction, so a wide graph
 * costs one commit per burst of activity, not one per step. Updates are
 * conditional on the run still being this worker's. */
#include <stdlib.h>
#include <string.h>

#include "dagy/arena.h"
#include "dagy/db.h"
#include "dagy/log.h"
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

static const char SQL_STEP[] =
    "UPDATE step_runs s JOIN runs r ON r.id = s.run_id"
    " SET s.status = ?, s.attempt = ?, s.exit_code = NULLIF(?, -1), s.error = ?,"
    " s.started_at = NULLIF(?, ''), s.finished_at = NULLIF(?, ''), s.worker = ?,"
    " s.updated_at = UTC_TIMESTAMP(6)"
    " WHERE s.id = ? AND r.worker_id = ?";
static const char SQL_OUTPUT[] =
    "INSERT INTO step_outputs (run_id, step_id, k, v) VALUES (?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE v = VALUES(v)";
static const char SQL_RUN_DONE[] =
    "UPDATE runs SET status = ?, completed_at = UTC_TIMESTAMP(6), error = ?,"
    " output = ?, lease_expires_at = NULL, updated_at = UTC_TIMESTAMP(6)"
    " WHERE id = ? AND worker_id = ? AND status = 'running'";
static const char SQL_RUN_TOUCH[] =
    "UPDATE runs SET updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char SQL_LOGS[] =
    "INSERT INTO step_logs (run_id, step_id, stream, ts, line, truncated)"
    " SELECT j.r, j.s, j.st, j.ts, j.l, j.c FROM JSON_TABLE(?, '$[*]' COLUMNS("
    " r BIGINT PATH '$[0]', s VARCHAR(64) PATH '$[1]', st INT PATH '$[2]',"
    " ts DATETIME(6) PATH '$[3]', l LONGTEXT PATH '$[4]', c INT PATH '$[5]')) j";

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

static int
record_run(struct worker *w, struct run *r)
{
	int64_t rc = 0;
	int i, touched = 0;

	if (r->lost)
		return 0;
	for (i = 0; i < r->nsteps; i++) {
		struct step *s = &r->steps[i];
		size_t k;
		json_t *kv;

		if (s->dirty) {
			rc = db_exec(w->db, SQL_STEP, "siissssis", state_names[s->st],
			    (int64_t)s->attempt, (int64_t)s->exit_code, s->error,
			    s->started_at, s->finished_at, w->name, s->db_id, w->name);
			if (rc < 0)
				return (int)rc;
			if (rc == 0)
				r->lost = 1;
			touched = 1;
		}
		json_array_foreach(s->new_outputs, k, kv) {
			if ((rc = db_exec(w->db, SQL_OUTPUT, "isss", r->id, s->id,
			    json_string_value(json_array_get(kv, 0)),
			    json_string_value(json_array_get(kv, 1)))) < 0)
				return (int)rc;
		}
	}
	if (r->finished && !r->cancelling && !r->lost) {
		const char *status;
		char *error, *output;

		verdict(r, &status, &error, &output);
		rc = db_exec(w->db, SQL_RUN_DONE, "sssis", status, error, output, r->id, w->name);
		if (rc >= 0)
			log_info("run %s %s", r->public_id, status);
		free(error);
		free(output);
	} else if (touched) {
		/* Keeps updated_at moving for clients polling by it. */
		rc = db_exec(w->db, SQL_RUN_TOUCH, "i", r->id);
	}
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_RUN_EXISTS[] = "SELECT 1 FROM runs WHERE id = ?";

/* A run deleted under us (its flow was deleted) makes inserts fail on the
 * foreign key: let it go, with the log lines gathered for it. */
static void
drop_vanished(struct worker *w)
{
	struct arena a = {0};
	struct run *r;
	json_t *kept = json_array(), *line;
	size_t i;

	for (r = w->runs; r != NULL; r = r->next) {
		struct db_res *res;

		if (db_query(w->db, &a, &res, SQL_RUN_EXISTS, "i", r->id) == 0 &&
		    res->nrows == 0) {
			log_warn("run %s was deleted while running", r->public_id);
			r->lost = 1;
			exec_cancel_run(w, r, now_mono());
		}
	}
	json_array_foreach(w->logs, i, line) {
		int64_t id = (int64_t)json_integer_value(json_array_get(line, 0));

		for (r = w->runs; r != NULL && r->id != id; r = r->next)
			;
		if (r != NULL && !r->lost)
			json_array_append(kept, line);
	}
	json_array_clear(w->logs);
	json_array_extend(w->logs, kept);
	json_decref(kept);
	arena_free(&a);
}

int
store_pending(struct worker *w)
{
	struct run *r;
	int i;

	if (json_array_size(w->logs) > 0)
		return 1;
	for (r = w->runs; r != NULL; r = r->next) {
		if (r->finished && !r->done_recorded && !r->lost)
			return 1;
		for (i = 0; i < r->nsteps; i++)
			if (r->steps[i].dirty || json_array_size(r->steps[i].new_outputs) > 0)
				return 1;
	}
	return 0;
}

int
store_flush(struct worker *w)
{
	struct run *r;
	int rc, i;
	char *logs = NULL;

	if (!store_pending(w))
		return 0;
	if ((rc = db_begin(w->db)) < 0)
		goto fail;
	for (r = w->runs; r != NULL; r = r->next)
		if (!r->done_recorded && (rc = record_run(w, r)) < 0)
			goto fail;
	if (json_array_size(w->logs) > 0) {
		logs = json_dumps(w->logs, JSON_COMPACT);
		if ((rc = (int)db_exec(w->db, SQL_LOGS, "s", logs)) < 0)
			goto fail;
	}
	if ((rc = db_commit(w->db)) < 0)
		goto fail;
	free(logs);
	json_array_clear(w->logs);
	for (r = w->runs; r != NULL; r = r->next) {
		for (i = 0; i < r->nsteps; i++) {
			r->steps[i].dirty = 0;
			json_array_clear(r->steps[i].new_outputs);
		}
		if (r->finished)
			r->done_recorded = 1;
	}
	return 0;
fail:
	free(logs);
	db_rollback(w->db);
	if (rc == DB_EFK) {
		drop_vanished(w);
		return rc;
	}
	if (rc != DB_EDEADLOCK && rc != DB_EUNAVAIL)
		log_warn("recording execution failed: %s", db_errmsg(w->db));
	return rc;
}
