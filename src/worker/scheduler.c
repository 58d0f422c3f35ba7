/* Firing schedules. Due schedules are locked with FOR UPDATE SKIP LOCKED,
 * so of several workers one fires each; a slot becomes at most one run
 * (UNIQUE (schedule_id, scheduled_for) backs the check). Slots missed
 * while no worker ran follow the schedule's catch-up policy: all (capped
 * at [worker] catchup_max), skip (only the latest) or none. A slot less
 * than misfire_grace_seconds late is on time and fires under any policy.
 * A slot over the organization's plan quota is recorded as skipped. */
#include <stdlib.h>
#include <string.h>

#include "dagy/arena.h"
#include "dagy/config.h"
#include "dagy/db.h"
#include "dagy/log.h"
#include "dagy/runs.h"
#include "dagy/schedules.h"
#include "dagy/ts.h"
#include "dagy/usage.h"
#include "worker.h"

#define MAX_SLOTS 100000 /* enumerated per firing; older ones are dropped */

/* Run parameters: the flow's defaults under the schedule's own. */
static char *
params_for(const char *spec_text, const char *sched_params)
{
	json_t *spec = json_loads(spec_text, 0, NULL), *out = json_object(), *v, *given;
	const char *key;
	char *text;

	json_object_foreach(json_object_get(spec, "params"), key, v)
		if (json_object_get(v, "default") != NULL)
			json_object_set(out, key, json_object_get(v, "default"));
	given = sched_params != NULL ? json_loads(sched_params, 0, NULL) : NULL;
	json_object_update(out, given);
	text = json_dumps(out, JSON_COMPACT);
	json_decref(given);
	json_decref(out);
	json_decref(spec);
	return text;
}

/* Creates the run of one slot unless it exists; its id goes to run_id. */
static int
fire_slot(struct worker *w, struct arena *a, const struct db_res *s, unsigned i,
    time_t slot, char run_id[48])
{
	int64_t sid = db_int(s, i, SCHED_C_DBID);
	struct db_res *target;
	struct run_new n;
	const char *id, *slug;
	char slot_sql[32];
	char *params;
	int rc;

	ts_sql(slot, 0, slot_sql);
	if ((rc = sched_slot_taken(w->db, a, sid, slot_sql)) != 0 ||
	    (rc = usage_schedule_gate(w->db, a, w->cfg, db_int(s, i, SCHED_C_ORG_ID), sid,
	    db_val(s, i, SCHED_C_ID), slot_sql)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = sched_target(w->db, a, sid, &target)) < 0)
		return rc;
	params = params_for(db_val(target, 0, 1), db_val(s, i, SCHED_C_PARAMS));
	memset(&n, 0, sizeof(n));
	n.org_id = db_int(s, i, SCHED_C_ORG_ID);
	n.flow_id = db_int(s, i, SCHED_C_FLOW_ID);
	n.version_id = db_int(target, 0, 0);
	n.deployment_id = db_int(s, i, SCHED_C_DEPLOYMENT_ID);
	n.schedule_id = sid;
	n.flow_name = db_val(target, 0, 2);
	n.scheduled_for = slot_sql;
	n.status = "queued";
	n.trigger = "schedule";
	n.params = params;
	n.environment = db_val(target, 0, 3);
	rc = runs_create(w->db, a, &n, &id, &slug);
	free(params);
	if (rc == DB_EDUP)
		return 0;
	if (rc < 0)
		return rc;
	snprintf(run_id, 48, "%s", id);
	return 1;
}

/* Fires the due slots of one locked schedule row; returns runs created. */
static int
fire_schedule(struct worker *w, struct arena *a, const struct db_res *s,
    unsigned i, time_t now)
{
	long grace = (long)config_int(w->cfg, "worker", "misfire_grace_seconds");
	int cap = (int)config_int(w->cfg, "worker", "catchup_max");
	const char *policy = db_val(s, i, SCHED_C_CATCHUP);
	struct sched sc;
	time_t t = (time_t)db_int(s, i, SCHED_C_NEXT_EPOCH), next = 0, *slots;
	char last_id[48] = "", next_sql[32], last_sql[32] = "";
	int n = 0, first, k, fired = 0, rc = 0, missed = 0;

	if (sched_from_row(s, i, &sc) < 0) {
		log_warn("schedule %s: cannot read its rule; disabling its next run",
		    db_val(s, i, SCHED_C_ID));
		return sched_advance(w->db, db_int(s, i, SCHED_C_DBID), NULL, NULL, NULL);
	}
	slots = malloc(MAX_SLOTS * sizeof(*slots));
	/* Every slot from the stored next_run_at up to now is due. */
	while (t <= now && n < MAX_SLOTS) {
		slots[n++] = t;
		if (sched_next(&sc, t, &t) < 0) {
			t = 0;
			break;
		}
	}
	if (t > 0 && t <= now)
		sched_next(&sc, now, &t);
	next = t;
	for (k = 0; k < n; k++)
		missed += now - slots[k] > grace;
	/* Which of the due slots fire: on-time ones always; missed ones as the
	 * policy says. */
	if (strcmp(policy, "all") == 0) {
		first = missed > cap ? missed - cap : 0;
		if (first > 0)
			log_warn("schedule %s: %d slots were missed; catch-up is capped at %d, "
			    "so the oldest %d are dropped", db_val(s, i, SCHED_C_ID), missed,
			    cap, first);
	} else if (strcmp(policy, "skip") == 0) {
		first = n > 0 ? n - 1 : 0;
		if (missed > 1)
			log_info("schedule %s: %d slots were missed; firing only the latest",
			    db_val(s, i, SCHED_C_ID), missed);
	} else {
		first = missed;
		if (missed > 0)
			log_info("schedule %s: %d missed slots not run (catch-up none)",
			    db_val(s, i, SCHED_C_ID), missed);
	}
	for (k = first; k < n; k++) {
		char id[48];

		if ((rc = fire_slot(w, a, s, i, slots[k], id)) < 0)
			break;
		if (rc > 0) {
			fired++;
			snprintf(last_id, sizeof(last_id), "%s", id);
			ts_sql(slots[k], 0, last_sql);
		}
	}
	free(slots);
	if (rc < 0)
		return rc;
	if (next > 0)
		ts_sql(next, 0, next_sql);
	rc = sched_advance(w->db, db_int(s, i, SCHED_C_DBID), next > 0 ? next_sql : NULL,
	    *last_sql ? last_sql : NULL, *last_id ? last_id : NULL);
	if (fired > 0)
		log_info("schedule %s fired %d run(s), last %s", db_val(s, i, SCHED_C_ID),
		    fired, last_id);
	return rc < 0 ? rc : fired;
}

int
sched_fire(struct worker *w, time_t *next_due)
{
	struct arena a = {0};
	struct db_res *due;
	time_t now = time(NULL);
	int rc, total = 0;
	unsigned i;

	if ((rc = db_begin(w->db)) < 0)
		goto done;
	if ((rc = sched_due(w->db, &a, 20, &due)) < 0)
		goto fail;
	for (i = 0; i < due->nrows; i++) {
		struct db_res *row;
		int fired;

		if ((rc = sched_by_id(w->db, &a, db_int(due, i, 0), &row)) < 0)
			goto fail;
		if ((fired = fire_schedule(w, &a, row, 0, now)) < 0) {
			rc = fired;
			goto fail;
		}
		total += fired;
	}
	if ((rc = db_commit(w->db)) < 0)
		goto fail;
	rc = sched_earliest(w->db, &a, next_due);
	if (rc == 0)
		rc = total;
	goto done;
fail:
	db_rollback(w->db);
	if (rc != DB_EDEADLOCK)
		log_warn("firing schedules failed: %s", db_errmsg(w->db));
done:
	arena_free(&a);
	return rc;
}
