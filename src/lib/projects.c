/* The SQL of dagctl projects, jobs and plans (see dagy/projects.h). */
#include <stdio.h>
#include <string.h>

#include "dagy/ids.h"
#include "dagy/projects.h"

#define PRJ_SELECT \
	"SELECT p.public_id, p.name, p.description, p.project_type, p.repository_url," \
	" p.branch, p.git_auth_method, p.settings, p.deployed, p.suspended," \
	" p.current_commit_sha, p.latest_commit_sha, p.latest_commit_message," \
	" p.commits_behind, p.sync_error, " DB_TS("p.created_at") ", " \
	DB_TS("p.updated_at") ", p.id, p.flow_id, p.org_id, p.sealed," \
	" (SELECT public_id FROM orgs WHERE id = p.org_id), p.deleted, " \
	DB_TS("p.synced_at") ", p.key_id FROM dagctl_projects p"

static const char SQL_INSERT[] =
    "INSERT INTO dagctl_projects (public_id, org_id, flow_id, name, description,"
    " project_type, repository_url, branch, git_auth_method, sealed, key_id, settings)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_NAME_TAKEN[] =
    "SELECT 1 FROM dagctl_projects WHERE org_id = ? AND name = ? AND deleted = 0";

int
projects_create(struct db *db, struct arena *a, int64_t org_id,
    const struct project_fields *f, struct db_res **row)
{
	struct db_res *r;
	int64_t rc;

	if ((rc = db_query(db, a, &r, SQL_NAME_TAKEN, "is", org_id, f->name)) < 0)
		return (int)rc;
	if (r->nrows > 0)
		return PROJECTS_EEXISTS;
	rc = db_exec(db, SQL_INSERT, "siisssssssss", f->public_id, org_id, f->flow_id, f->name,
	    f->description, f->type, f->url, f->branch, f->auth, f->sealed, f->key_id,
	    f->settings);
	if (rc == DB_EDUP)
		return PROJECTS_EEXISTS;
	if (rc < 0)
		return (int)rc;
	return projects_get(db, a, org_id, f->public_id, row);
}

static const char SQL_GET[] = PRJ_SELECT
    " WHERE p.org_id = ? AND p.public_id = ? AND p.deleted = 0";

int
projects_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, id);

	if (rc < 0)
		return rc;
	return (*row)->nrows == 0 ? PROJECTS_ENOTFOUND : 0;
}

static const char SQL_LIST[] = PRJ_SELECT
    " WHERE p.org_id = ? AND p.deleted = 0 ORDER BY p.name, p.id LIMIT ? OFFSET ?";
static const char SQL_COUNT[] =
    "SELECT COUNT(*) FROM dagctl_projects WHERE org_id = ? AND deleted = 0";

int
projects_list(struct db *db, struct arena *a, int64_t org_id, int page, int limit,
    struct db_res **rows, int64_t *total)
{
	struct db_res *c;
	int rc;

	if ((rc = db_query(db, a, &c, SQL_COUNT, "i", org_id)) < 0)
		return rc;
	*total = db_int(c, 0, 0);
	return db_query(db, a, rows, SQL_LIST, "iii", org_id, (int64_t)limit,
	    (int64_t)(page - 1) * limit);
}

static const char SQL_UPDATE[] =
    "UPDATE dagctl_projects SET"
    " current_commit_sha = IF(repository_url <> ? OR branch <> ?, NULL, current_commit_sha),"
    " next_sync_at = IF(deployed = 1, CURRENT_TIMESTAMP(6), NULL),"
    " name = ?, description = ?, repository_url = ?, branch = ?, git_auth_method = ?,"
    " sealed = ?, key_id = ?, settings = ?, updated_at = CURRENT_TIMESTAMP(6)"
    " WHERE id = ?";

int
projects_update(struct db *db, int64_t dbid, const struct project_fields *f)
{
	int64_t rc = db_exec(db, SQL_UPDATE, "ssssssssssi", f->url, f->branch, f->name,
	    f->description, f->url, f->branch, f->auth, f->sealed, f->key_id, f->settings,
	    dbid);

	return rc == DB_EDUP ? PROJECTS_EEXISTS : rc < 0 ? (int)rc : 0;
}

static const char SQL_STATE[] =
    "UPDATE dagctl_projects SET deployed = ?, suspended = ?,"
    " next_sync_at = IF(? = 1, CURRENT_TIMESTAMP(6), NULL),"
    " updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?";
/* Job schedules catch up with "skip": one that comes back on fires at
 * most its latest missed slot, not every slot it missed while off. */
static const char SQL_STATE_JOBS[] =
    "UPDATE schedules s JOIN dagctl_jobs j ON s.public_id = j.public_id"
    " SET s.enabled = (j.enabled = 1 AND ? = 1),"
    " s.updated_at = CURRENT_TIMESTAMP(6) WHERE j.project_id = ?";

int
projects_set_state(struct db *db, int64_t dbid, int deployed, int suspended)
{
	int64_t rc = db_exec(db, SQL_STATE, "iiii", (int64_t)deployed, (int64_t)suspended,
	    (int64_t)deployed, dbid);

	if (rc < 0)
		return (int)rc;
	rc = db_exec(db, SQL_STATE_JOBS, "ii", (int64_t)(deployed && !suspended), dbid);
	return rc < 0 ? (int)rc : 0;
}

static const char SQL_MARK_DELETED[] =
    "UPDATE dagctl_projects SET deleted = 1, deployed = 0, sealed = NULL, key_id = NULL,"
    " next_sync_at = CURRENT_TIMESTAMP(6), updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?";

int
projects_mark_deleted(struct db *db, int64_t dbid)
{
	int64_t rc = db_exec(db, SQL_MARK_DELETED, "i", dbid);

	return rc < 0 ? (int)rc : 0;
}

/* Jobs. */
#define JOB_SELECT \
	"SELECT public_id, name, description, command, schedule, enabled, slack_channel," \
	" slack_alerts_enabled, slack_alert_on_success, " DB_TS("created_at") ", " \
	DB_TS("updated_at") ", id FROM dagctl_jobs"

static const char SQL_JOB_INSERT[] =
    "INSERT INTO dagctl_jobs (public_id, org_id, project_id, name, description, command,"
    " schedule, enabled, slack_channel, slack_alerts_enabled, slack_alert_on_success)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

int
projects_job_create(struct db *db, struct arena *a, int64_t org_id, int64_t project_dbid,
    const struct job_fields *f, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_JOB_INSERT, "siissssisii", f->public_id, org_id,
	    project_dbid, f->name, f->description, f->command, f->schedule,
	    (int64_t)f->enabled, f->slack, (int64_t)f->slack_on, (int64_t)f->slack_success);

	if (rc == DB_EDUP)
		return PROJECTS_EEXISTS;
	if (rc < 0)
		return (int)rc;
	return projects_job_get(db, a, project_dbid, f->public_id, row);
}

static const char SQL_JOB_GET[] = JOB_SELECT " WHERE project_id = ? AND public_id = ?";

int
projects_job_get(struct db *db, struct arena *a, int64_t project_dbid, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_JOB_GET, "is", project_dbid, id);

	if (rc < 0)
		return rc;
	return (*row)->nrows == 0 ? PROJECTS_ENOTFOUND : 0;
}

static const char SQL_JOB_LIST[] = JOB_SELECT " WHERE project_id = ? ORDER BY name";

int
projects_job_list(struct db *db, struct arena *a, int64_t project_dbid, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_JOB_LIST, "i", project_dbid);
}

static const char SQL_JOB_UPDATE[] =
    "UPDATE dagctl_jobs SET name = ?, description = ?, command = ?, schedule = ?,"
    " enabled = ?, slack_channel = ?, slack_alerts_enabled = ?, slack_alert_on_success = ?,"
    " updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?";

int
projects_job_update(struct db *db, int64_t dbid, const struct job_fields *f)
{
	int64_t rc = db_exec(db, SQL_JOB_UPDATE, "ssssisiii", f->name, f->description,
	    f->command, f->schedule, (int64_t)f->enabled, f->slack, (int64_t)f->slack_on,
	    (int64_t)f->slack_success, dbid);

	return rc == DB_EDUP ? PROJECTS_EEXISTS : rc < 0 ? (int)rc : 0;
}

static const char SQL_JOB_DELETE[] = "DELETE FROM dagctl_jobs WHERE id = ?";

int
projects_job_delete(struct db *db, int64_t dbid)
{
	int64_t rc = db_exec(db, SQL_JOB_DELETE, "i", dbid);

	return rc < 0 ? (int)rc : 0;
}

/* Plans. */
#define PLAN_SELECT \
	"SELECT l.public_id, l.group_id, l.plan_type, l.status, l.from_commit_sha," \
	" l.to_commit_sha, l.commit_message, l.commits_behind, l.triggered_by," \
	" l.plan_output, l.auto_discarded, l.decided_by, l.error_message, " \
	DB_TS("l.created_at") ", " DB_TS("l.updated_at") ", l.id, l.explain_run_id," \
	" l.execute_run_id, (SELECT status FROM runs WHERE id = l.explain_run_id)," \
	" (SELECT status FROM runs WHERE id = l.execute_run_id)," \
	" (SELECT public_id FROM runs WHERE id = l.explain_run_id)," \
	" (SELECT public_id FROM runs WHERE id = l.execute_run_id) FROM dagctl_plans l"

static const char SQL_PLAN_INSERT[] =
    "INSERT INTO dagctl_plans (public_id, group_id, org_id, project_id, from_commit_sha,"
    " to_commit_sha, commit_message, commits_behind, triggered_by)"
    " SELECT ?, ?, org_id, id, current_commit_sha, latest_commit_sha, latest_commit_message,"
    " commits_behind, ? FROM dagctl_projects"
    " WHERE id = ? AND org_id = ? AND latest_commit_sha IS NOT NULL";

int
projects_plan_create(struct db *db, struct arena *a, int64_t org_id, int64_t project_dbid,
    const char *triggered_by, struct db_res **row)
{
	char id[40], group[48];
	int64_t rc;

	ids_new("plan", id, sizeof(id));
	ids_new("plangroup", group, sizeof(group));
	rc = db_exec(db, SQL_PLAN_INSERT, "sssii", id, group, triggered_by, project_dbid,
	    org_id);
	if (rc < 0)
		return (int)rc;
	if (rc == 0)
		return PROJECTS_ENOTFOUND;
	return projects_plan_get(db, a, project_dbid, id, row);
}

static const char SQL_PLAN_GET[] = PLAN_SELECT " WHERE l.project_id = ? AND l.public_id = ?";

int
projects_plan_get(struct db *db, struct arena *a, int64_t project_dbid, const char *id,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_PLAN_GET, "is", project_dbid, id);

	if (rc < 0)
		return rc;
	return (*row)->nrows == 0 ? PROJECTS_ENOTFOUND : 0;
}

static const char SQL_PLAN_LIST[] = PLAN_SELECT
    " WHERE l.project_id = ? AND (? IS NULL OR l.status = ?)"
    " ORDER BY l.id DESC LIMIT ? OFFSET ?";
static const char SQL_PLAN_COUNT[] =
    "SELECT COUNT(*) FROM dagctl_plans WHERE project_id = ? AND (? IS NULL OR status = ?)";

int
projects_plan_list(struct db *db, struct arena *a, int64_t project_dbid, const char *status,
    int page, int limit, struct db_res **rows, int64_t *total)
{
	struct db_res *c;
	int rc;

	if ((rc = db_query(db, a, &c, SQL_PLAN_COUNT, "iss", project_dbid, status, status)) < 0)
		return rc;
	*total = db_int(c, 0, 0);
	return db_query(db, a, rows, SQL_PLAN_LIST, "issii", project_dbid, status, status,
	    (int64_t)limit, (int64_t)(page - 1) * limit);
}

int
projects_plan_pending(struct db *db, struct arena *a, int64_t project_dbid, int64_t *count)
{
	struct db_res *c;
	int rc = db_query(db, a, &c, SQL_PLAN_COUNT, "iss", project_dbid, "pending", "pending");

	if (rc < 0)
		return rc;
	*count = db_int(c, 0, 0);
	return 0;
}

/* MariaDB assigns left to right: the run ids are reset before status. */
static const char SQL_PLAN_MOVE[] =
    "UPDATE dagctl_plans SET decided_by = COALESCE(?, decided_by),"
    " explain_run_id = IF(status = 'failed' AND ? = 'running', NULL, explain_run_id),"
    " execute_run_id = IF(status = 'failed' AND ? = 'approved', NULL, execute_run_id),"
    " status = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND status = ?";

int
projects_plan_move(struct db *db, int64_t dbid, const char *from, const char *to,
    const char *who)
{
	return (int)db_exec(db, SQL_PLAN_MOVE, "ssssis", who, to, to, to, dbid, from);
}

/* The worker's side. Deleted projects come first: their workspace goes. */
static const char SQL_CLAIM[] = PRJ_SELECT
    " WHERE p.next_sync_at <= CURRENT_TIMESTAMP(6)"
    " ORDER BY p.next_sync_at LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char SQL_CLAIM_PUSH[] =
    "UPDATE dagctl_projects SET next_sync_at = CURRENT_TIMESTAMP(6) + INTERVAL ? SECOND"
    " WHERE id = ?";

int
projects_claim(struct db *db, struct arena *a, int lease, struct db_res **row)
{
	int64_t rc = db_query(db, a, row, SQL_CLAIM, "");

	if (rc < 0 || (*row)->nrows == 0)
		return (int)rc;
	rc = db_exec(db, SQL_CLAIM_PUSH, "ii", (int64_t)lease, db_int(*row, 0, PRJ_C_DBID));
	return rc < 0 ? (int)rc : 0;
}

/* A project deleted while its sync ran stays due, so the next claim
 * removes its workspace; otherwise undeployed projects stop syncing. */
static const char SQL_SYNCED[] =
    "UPDATE dagctl_projects SET current_commit_sha = COALESCE(?, current_commit_sha),"
    " latest_commit_sha = COALESCE(?, latest_commit_sha),"
    " latest_commit_message = COALESCE(?, latest_commit_message),"
    " commits_behind = IF(? IS NULL, ?, commits_behind), sync_error = ?,"
    " synced_at = CURRENT_TIMESTAMP(6),"
    " next_sync_at = IF(deleted = 1, CURRENT_TIMESTAMP(6),"
    " IF(deployed = 1, CURRENT_TIMESTAMP(6) + INTERVAL ? SECOND, NULL))"
    " WHERE id = ?";

int
projects_synced(struct db *db, int64_t dbid, const char *current, const char *latest,
    const char *message, int behind, const char *error, int poll)
{
	int64_t rc = db_exec(db, SQL_SYNCED, "ssssisii", current, latest, message, error,
	    (int64_t)behind, error, (int64_t)poll, dbid);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_MOVED[] =
    "UPDATE dagctl_projects SET current_commit_sha = ?, commits_behind = ?,"
    " updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?";

int
projects_moved(struct db *db, int64_t dbid, const char *sha, int behind)
{
	int64_t rc = db_exec(db, SQL_MOVED, "sii", sha, (int64_t)behind, dbid);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_PURGE[] = "DELETE FROM dagctl_projects WHERE id = ? AND deleted = 1";

int
projects_purge(struct db *db, int64_t dbid)
{
	int64_t rc = db_exec(db, SQL_PURGE, "i", dbid);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_OPEN[] = PLAN_SELECT
    " WHERE l.project_id = ? AND l.status IN ('running', 'approved') ORDER BY l.id";

int
projects_plans_open(struct db *db, struct arena *a, int64_t project_dbid,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_OPEN, "i", project_dbid);
}

static const char SQL_DISCARD[] =
    "UPDATE dagctl_plans SET status = 'rejected', auto_discarded = 1,"
    " updated_at = CURRENT_TIMESTAMP(6) WHERE project_id = ? AND to_commit_sha <> ?"
    " AND plan_type = 'explain' AND status IN ('running', 'pending')";

int
projects_plans_discard(struct db *db, int64_t project_dbid, const char *sha)
{
	int64_t rc = db_exec(db, SQL_DISCARD, "is", project_dbid, sha);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_EXISTS[] =
    "SELECT 1 FROM dagctl_plans WHERE project_id = ? AND to_commit_sha = ? LIMIT 1";

int
projects_plan_exists(struct db *db, struct arena *a, int64_t project_dbid, const char *sha)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_EXISTS, "is", project_dbid, sha);

	return rc < 0 ? rc : r->nrows > 0;
}

static const char SQL_STARTED[] =
    "UPDATE dagctl_plans SET explain_run_id = IF(? = 0, ?, explain_run_id),"
    " execute_run_id = IF(? = 1, ?, execute_run_id),"
    " plan_type = IF(? = 1, 'execute', plan_type), status = 'running',"
    " updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?";

int
projects_plan_started(struct db *db, int64_t plan_dbid, int execute, int64_t run_dbid)
{
	int64_t rc = db_exec(db, SQL_STARTED, "iiiiii", (int64_t)execute, run_dbid,
	    (int64_t)execute, run_dbid, (int64_t)execute, plan_dbid);

	return rc < 0 ? (int)rc : 0;
}

static const char SQL_END[] =
    "UPDATE dagctl_plans SET status = ?, plan_output = COALESCE(?, plan_output),"
    " error_message = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ? AND status = ?";

int
projects_plan_end(struct db *db, int64_t plan_dbid, const char *from, const char *to,
    const char *output, const char *error)
{
	int64_t rc = db_exec(db, SQL_END, "sssis", to, output, error, plan_dbid, from);

	return rc < 0 ? (int)rc : 0;
}
