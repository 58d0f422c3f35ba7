/* Claiming queued runs, holding them with a lease, noticing cancels and
 * approvals, and re-queueing runs whose worker vanished. Every change is a
 * conditional update, so workers on any number of hosts agree through
 * MariaDB alone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dagy/arena.h"
#include "dagy/config.h"
#include "dagy/db.h"
#include "dagy/flowspec.h"
#include "dagy/log.h"
#include "dagy/notify.h"
#include "worker.h"

/* Runs of a suspended org, or of one whose failed payment's grace period
 * is over, stay queued (doc/admin.md, doc/billing.md). */
static const char SQL_PICK[] =
    "SELECT id FROM runs WHERE status = 'queued' AND NOT EXISTS (SELECT 1 FROM orgs o"
    " WHERE o.id = runs.org_id AND (o.status = 'suspended'"
    " OR o.runs_blocked_after <= UTC_TIMESTAMP(6))) ORDER BY id LIMIT ?"
    " FOR UPDATE SKIP LOCKED";
static const char SQL_TAKE[] =
    "UPDATE runs SET status = 'running', worker_id = ?,"
    " lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND,"
    " started_at = COALESCE(started_at, UTC_TIMESTAMP(6)),"
    " updated_at = UTC_TIMESTAMP(6) WHERE id = ? AND status = 'queued'";
static const char SQL_LOAD[] =
    "SELECT r.public_id, r.org_id, r.parameters, f.name, v.spec, r.environment,"
    " NULLIF(v.artifact_s3_uri, ''), v.code_hash,"
    /* Whether the org has SLA rules at all: most have none, and then the
     * claim skips looking for the run's (load_sla). */
    " EXISTS (SELECT 1 FROM alert_rules ar WHERE ar.org_id = r.org_id"
    "  AND ar.trigger_type = 'on_sla_breach' AND ar.enabled = 1),"
    /* Whether it was claimed before: a first claim inserts its steps
     * without reading them first. */
    " EXISTS (SELECT 1 FROM step_runs s WHERE s.run_id = r.id) FROM runs r"
    " JOIN flows f ON f.id = r.flow_id JOIN flow_versions v ON v.id = r.version_id"
    " WHERE r.id = ?";
static const char SQL_STEPS[] =
    "SELECT step_id, status, attempt, id FROM step_runs WHERE run_id = ?";
static const char SQL_STEPS_INSERT[] =
    "INSERT INTO step_runs (run_id, org_id, flow_id, step_id, type)"
    " SELECT r.id, r.org_id, r.flow_id, j.s, j.t FROM runs r, JSON_TABLE(?, '$[*]'"
    " COLUMNS(s VARCHAR(64) PATH '$[0]', t VARCHAR(32) PATH '$[1]')) j WHERE r.id = ?";
static const char SQL_OUTPUTS[] =
    "SELECT step_id, k, v FROM step_outputs WHERE run_id = ?";

static int
index_of(struct run *r, const char *id)
{
	json_t *v = id != NULL ? json_object_get(r->index, id) : NULL;

	return v != NULL ? (int)json_integer_value(v) : -1;
}

static enum step_state
state_of(const char *s)
{
	static const struct {
		const char *name;
		enum step_state st;
	} map[] = {
		{"success", ST_SUCCESS}, {"failed", ST_FAILED}, {"skipped", ST_SKIPPED},
		{"cancelled", ST_CANCELLED}, {"rejected", ST_REJECTED},
		{"waiting_approval", ST_WAITING_APPROVAL},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, s) == 0)
			return map[i].st;
	/* pending, or running under a worker that is gone: (re)start it. */
	return ST_PENDING;
}

/* The on_sla_breach rules of the run, each due at started_at + its SLA. */
static int
load_sla(struct worker *w, struct run *r, struct arena *a, int org_has_sla)
{
	struct db_res *rows;
	double now = now_mono();
	unsigned i;
	int rc;

	r->retried = json_array();
	r->breached = json_array();
	if (!org_has_sla)
		return 0;
	if ((rc = notify_sla_rules(w->db, a, r->id, &rows)) < 0 || rows->nrows == 0)
		return rc;
	r->sla = calloc(rows->nrows, sizeof(*r->sla));
	for (i = 0; i < rows->nrows; i++)
		r->sla[r->nsla++] = (struct sla){db_int(rows, i, 0),
		    now + strtod(db_val(rows, i, 1), NULL), 0};
	return 0;
}

/* Builds the in-memory run from its rows; step rows are created on the
 * first claim and reused on later ones, so finished steps stay finished. */
static int
load_run(struct worker *w, int64_t id, struct arena *a, struct run **out)
{
	struct db_res *row, *steps, *outs;
	struct run *r;
	json_t *nodes, *node;
	size_t i;
	int rc, fresh;

	if ((rc = db_query(w->db, a, &row, SQL_LOAD, "i", id)) < 0)
		return rc;
	if (row->nrows == 0)
		return DB_ERR;
	r = calloc(1, sizeof(*r));
	r->id = id;
	r->org_id = db_int(row, 0, 1);
	snprintf(r->public_id, sizeof(r->public_id), "%s", db_val(row, 0, 0));
	r->params = json_loads(db_val(row, 0, 2) ? db_val(row, 0, 2) : "{}", 0, NULL);
	if (r->params == NULL)
		r->params = json_object();
	r->flow_name = strdup(db_val(row, 0, 3));
	r->environment = db_val(row, 0, 5) != NULL ? strdup(db_val(row, 0, 5)) : NULL;
	if (db_val(row, 0, 6) != NULL) {
		r->artifact = strdup(db_val(row, 0, 6));
		r->code_hash = strdup(db_val(row, 0, 7) != NULL ? db_val(row, 0, 7) : "");
	}
	r->spec = json_loads(db_val(row, 0, 4), 0, NULL);
	nodes = json_object_get(r->spec, "nodes");
	r->nsteps = (int)json_array_size(nodes);
	r->steps = calloc((size_t)r->nsteps + 1, sizeof(*r->steps));
	snprintf(r->workdir, sizeof(r->workdir), "%s/%s", w->workdir, r->public_id);
	json_array_foreach(nodes, i, node) {
		struct step *s = &r->steps[i];

		s->run = r;
		s->idx = (int)i;
		s->node = node;
		s->id = json_string_value(json_object_get(node, "id"));
		s->type = json_string_value(json_object_get(node, "type"));
		s->kind = strcmp(s->type, "shell") == 0 ? SK_SHELL :
		    strcmp(s->type, "python_function") == 0 ? SK_PYTHON :
		    strcmp(s->type, "noop") == 0 ? SK_NOOP :
		    strcmp(s->type, "approval") == 0 ? SK_APPROVAL : SK_BUILTIN;
		s->branch = s->kind == SK_BUILTIN && strcmp(s->type, "branch") == 0;
		s->retries = (int)json_integer_value(json_object_get(node, "retries"));
		s->retry_delay = json_object_get(node, "retry_delay_seconds") != NULL ?
		    (int)json_integer_value(json_object_get(node, "retry_delay_seconds")) : 1;
		s->timeout = json_object_get(node, "timeout_seconds") != NULL ?
		    (int)json_integer_value(json_object_get(node, "timeout_seconds")) :
		    (int)config_int(w->cfg, "worker", "default_step_timeout_seconds");
		s->exit_code = -1;
		s->out.fd = s->err.fd = -1;
		s->outputs = json_object();
		s->new_outputs = json_array();
	}
	r->index = json_object();
	r->ready = calloc((size_t)r->nsteps + 1, sizeof(int));
	r->outsteps = calloc((size_t)r->nsteps + 1, sizeof(int));
	for (i = 0; i < (size_t)r->nsteps; i++)
		json_object_set_new(r->index, r->steps[i].id, json_integer((json_int_t)i));
	json_array_foreach(nodes, i, node) {
		json_t *deps = json_object_get(node, "depends_on"), *d;
		size_t k;

		r->steps[i].deps = calloc(json_array_size(deps) + 1, sizeof(int));
		json_array_foreach(deps, k, d) {
			int dep = index_of(r, json_string_value(d));

			r->steps[i].deps[r->steps[i].ndeps++] = dep;
			r->steps[dep].nchildren++;
		}
	}
	/* Each step's children, so a step that ends tells only them. */
	for (i = 0; i < (size_t)r->nsteps; i++) {
		r->steps[i].children = calloc((size_t)r->steps[i].nchildren + 1, sizeof(int));
		r->steps[i].nchildren = 0;
	}
	for (i = 0; i < (size_t)r->nsteps; i++) {
		int k;

		for (k = 0; k < r->steps[i].ndeps; k++) {
			struct step *dep = &r->steps[r->steps[i].deps[k]];

			dep->children[dep->nchildren++] = (int)i;
		}
	}
	/* A run claimed the first time has no steps yet, nor outputs. */
	if ((fresh = db_int(row, 0, 9) == 0)) {
		/* Rows go in graph order, which is how steps are listed later. */
		json_t *list = json_array(), *ordered = flowspec_order(r->spec), *o;
		char *text;

		json_array_foreach(ordered, i, o)
			json_array_append_new(list, json_pack("[O,O]", json_object_get(o, "id"),
			    json_object_get(o, "type")));
		json_decref(ordered);
		text = json_dumps(list, JSON_COMPACT);
		json_decref(list);
		/* Not INSERT … RETURNING: a re-executed prepared statement of
		 * that kind left libmariadb waiting for an answer MariaDB 10.11
		 * never sent (the worker hung in the claim). */
		rc = (int)db_exec(w->db, SQL_STEPS_INSERT, "si", text, id);
		free(text);
		if (rc < 0)
			goto fail;
	}
	if ((rc = db_query(w->db, a, &steps, SQL_STEPS, "i", id)) < 0)
		goto fail;
	for (i = 0; i < steps->nrows; i++) {
		int k = index_of(r, db_val(steps, (unsigned)i, 0));

		if (k < 0)
			continue;
		r->steps[k].st = state_of(db_val(steps, (unsigned)i, 1));
		r->steps[k].attempt = (int)db_int(steps, (unsigned)i, 2);
		r->steps[k].db_id = db_int(steps, (unsigned)i, 3);
		/* A step that was running when its worker died runs again as its
		 * next attempt, recorded at once; the lost one costs no retry. */
		if (strcmp(db_val(steps, (unsigned)i, 1), "running") == 0) {
			r->steps[k].dirty = 1;
			r->steps[k].lost_attempts++;
			r->unrecorded = 1;
		}
	}
	if (!fresh) {
		if ((rc = db_query(w->db, a, &outs, SQL_OUTPUTS, "i", id)) < 0)
			goto fail;
		for (i = 0; i < outs->nrows; i++) {
			int k = index_of(r, db_val(outs, (unsigned)i, 0));

			if (k < 0)
				continue;
			if (json_object_size(r->steps[k].outputs) == 0)
				r->outsteps[r->noutsteps++] = k;
			json_object_set_new(r->steps[k].outputs, db_val(outs, (unsigned)i, 1),
			    json_string(db_val(outs, (unsigned)i, 2)));
		}
	}
	if ((rc = load_sla(w, r, a, (int)db_int(row, 0, 8))) < 0)
		goto fail;
	exec_prepare(r);
	*out = r;
	return 0;
fail:
	run_free(r);
	return rc;
}

int
claim_runs(struct worker *w, int max)
{
	struct arena a = {0};
	struct db_res *ids;
	struct run *loaded[64];
	int n = 0, rc, i;
	unsigned k;

	if (max > 64)
		max = 64;
	if (max <= 0)
		return 0;
	if ((rc = db_begin(w->db)) < 0)
		goto done;
	if ((rc = db_query(w->db, &a, &ids, SQL_PICK, "i", (int64_t)max)) < 0)
		goto fail;
	for (k = 0; k < ids->nrows; k++) {
		int64_t id = db_int(ids, k, 0);
		int64_t got = db_exec(w->db, SQL_TAKE, "sii", w->name, (int64_t)w->lease, id);

		if (got < 0) {
			rc = (int)got;
			goto fail;
		}
		if (got == 0)
			continue;
		if ((rc = load_run(w, id, &a, &loaded[n])) < 0)
			goto fail;
		n++;
	}
	if ((rc = db_commit(w->db)) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		struct run **tail = &w->runs;

		while (*tail != NULL)
			tail = &(*tail)->next;
		*tail = loaded[i];
		w->nruns++;
		/* The launcher makes the directory with the first step. */
		loaded[i]->old_workdir = access(loaded[i]->workdir, F_OK) == 0;
		/* The deployed code, if the version has an artifact (artifacts.c). */
		artifacts_fetch_run(w, loaded[i]);
		log_info("claimed run %s (%s, %d steps)", loaded[i]->public_id,
		    loaded[i]->flow_name, loaded[i]->nsteps);
	}
	rc = n;
	goto done;
fail:
	db_rollback(w->db);
	for (i = 0; i < n; i++)
		run_free(loaded[i]);
	if (rc != DB_EDEADLOCK)
		log_warn("claiming runs failed: %s", db_errmsg(w->db));
done:
	arena_free(&a);
	return rc;
}

/* Only the runs this worker holds: one whose claim committed while the
 * answer was lost (a database node dying mid-COMMIT) bears its name but is
 * not held, and must not be kept alive — it is given back instead. */
static const char SQL_RENEW[] =
    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$')) j"
    " STRAIGHT_JOIN runs r ON r.id = j.id"
    " SET r.lease_expires_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND"
    " WHERE r.worker_id = ? AND r.status = 'running'";
static const char SQL_DISOWN[] =
    "UPDATE runs SET status = 'queued', worker_id = NULL, lease_expires_at = NULL,"
    " updated_at = UTC_TIMESTAMP(6) WHERE worker_id = ? AND status = 'running'"
    " AND id NOT IN (SELECT j.id FROM JSON_TABLE(?, '$[*]' COLUMNS(id BIGINT PATH '$')) j)";
static const char SQL_WORKER_BEAT[] =
    "INSERT INTO workers (name, host, pid, concurrency) VALUES (?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE heartbeat_at = UTC_TIMESTAMP(6)";

int
claim_heartbeat(struct worker *w)
{
	json_t *held = json_array();
	struct run *r;
	char *list;
	int64_t rc;

	for (r = w->runs; r != NULL; r = r->next)
		json_array_append_new(held, json_integer((json_int_t)r->id));
	list = json_dumps(held, JSON_COMPACT);
	json_decref(held);
	rc = db_exec(w->db, SQL_RENEW, "sis", list, (int64_t)w->lease, w->name);
	if (rc >= 0 && (rc = db_exec(w->db, SQL_DISOWN, "ss", w->name, list)) > 0)
		log_warn("gave back %lld run(s) bearing this worker's name that it does not "
		    "hold (a claim whose commit was answered too late)", (long long)rc);
	if (rc >= 0)
		rc = db_exec(w->db, SQL_WORKER_BEAT, "ssii", w->name, w->host,
		    (int64_t)getpid(), (int64_t)w->concurrency);
	free(list);
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_REAP[] =
    "UPDATE runs SET status = 'queued', worker_id = NULL, lease_expires_at = NULL,"
    " updated_at = UTC_TIMESTAMP(6)"
    " WHERE status = 'running' AND lease_expires_at < UTC_TIMESTAMP(6)";
static const char SQL_WORKERS_GONE[] =
    "DELETE FROM workers WHERE heartbeat_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND";
static const char SQL_MARKS_OLD[] =
    "DELETE FROM page_marks WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL 1 HOUR";

int
claim_reap(struct worker *w)
{
	int64_t rc = db_exec(w->db, SQL_REAP, "");

	if (rc > 0)
		log_warn("re-queued %lld run(s) whose worker stopped renewing its lease",
		    (long long)rc);
	if (rc >= 0)
		rc = db_exec(w->db, SQL_WORKERS_GONE, "i", (int64_t)w->lease * 4);
	if (rc >= 0)
		rc = db_exec(w->db, SQL_MARKS_OLD, "");
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_RUN_STATE[] = "SELECT status, worker_id FROM runs WHERE id = ?";
static const char SQL_DECISIONS[] =
    "SELECT step_id, status FROM step_runs WHERE run_id = ? AND type = 'approval'"
    " AND status IN ('success', 'rejected')";

int
claim_check(struct worker *w)
{
	struct arena a = {0};
	struct run *r;
	double now = now_mono();
	int rc = 0;

	for (r = w->runs; r != NULL; r = r->next) {
		struct db_res *res;
		int i, waiting = 0;

		if (r->finished || r->lost)
			continue;
		if ((rc = db_query(w->db, &a, &res, SQL_RUN_STATE, "i", r->id)) < 0)
			break;
		if (res->nrows == 0 || db_val(res, 0, 1) == NULL ||
		    strcmp(db_val(res, 0, 1), w->name) != 0) {
			log_warn("run %s is no longer ours; stopping its steps", r->public_id);
			r->lost = 1;
			exec_cancel_run(w, r, now);
			continue;
		}
		if (strcmp(db_val(res, 0, 0), "cancelled") == 0 && !r->cancelling) {
			log_info("run %s cancelled", r->public_id);
			exec_cancel_run(w, r, now);
			continue;
		}
		for (i = 0; i < r->nsteps; i++)
			waiting |= r->steps[i].st == ST_WAITING_APPROVAL;
		if (!waiting)
			continue;
		if ((rc = db_query(w->db, &a, &res, SQL_DECISIONS, "i", r->id)) < 0)
			break;
		for (i = 0; i < (int)res->nrows; i++) {
			int k;

			for (k = 0; k < r->nsteps; k++)
				if (strcmp(r->steps[k].id, db_val(res, (unsigned)i, 0)) == 0 &&
				    r->steps[k].st == ST_WAITING_APPROVAL)
					exec_step_decided(w, &r->steps[k],
					    strcmp(db_val(res, (unsigned)i, 1), "success") == 0);
		}
	}
	arena_free(&a);
	return rc;
}

static const char SQL_RELEASE[] =
    "UPDATE runs SET status = 'queued', worker_id = NULL, lease_expires_at = NULL,"
    " updated_at = UTC_TIMESTAMP(6) WHERE worker_id = ? AND status = 'running'";
static const char SQL_WORKER_GONE[] = "DELETE FROM workers WHERE name = ?";

int
claim_release(struct worker *w)
{
	int64_t rc = db_exec(w->db, SQL_RELEASE, "s", w->name);

	if (rc > 0)
		log_info("released %lld unfinished run(s) for another worker", (long long)rc);
	if (rc >= 0)
		rc = db_exec(w->db, SQL_WORKER_GONE, "s", w->name);
	return rc < 0 ? (int)rc : 0;
}
