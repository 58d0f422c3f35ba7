/* SQL of the deployments table. */
#include "dagy/deployments.h"
#include "dagy/flows.h"
#include "dagy/ids.h"
#include "dagy/schedules.h"

#define DEPLOY_SELECT \
	"SELECT d.name, f.name, v.version, d.environment, d.schedule," \
	" d.default_executor, d.execution_mode, d.tags, d.dep_package_slugs, " \
	DB_TS("d.updated_at") ", d.promoted_from_env, d.promoted_from_deployment, " \
	DB_TS("d.promoted_at") ", d.public_id, d.status, " DB_TS("d.created_at") \
	", v.seq, v.id, f.id, d.id" \
	" FROM deployments d JOIN flows f ON f.id = d.flow_id" \
	" JOIN flow_versions v ON v.id = d.version_id"

static const char SQL_GET[] = DEPLOY_SELECT " WHERE d.org_id = ? AND d.name = ?";

int
deploy_get(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, name);

	if (rc == 0 && (*row)->nrows == 0)
		return DEPLOY_ENOTFOUND;
	return rc;
}

/* Reads the row back and brings its schedule in step. */
static int
reload(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row)
{
	int rc = deploy_get(db, a, org_id, name, row);

	if (rc < 0)
		return rc;
	return sched_sync_deployment(db, a, org_id, db_int(*row, 0, DEPLOY_C_DBID),
	    db_int(*row, 0, DEPLOY_C_FLOW_ID), name, db_val(*row, 0, DEPLOY_C_SCHEDULE));
}

static const char SQL_INSERT[] =
    "INSERT INTO deployments (public_id, org_id, name, flow_id, version_id,"
    " environment, schedule, default_executor, execution_mode, tags,"
    " dep_package_slugs) VALUES (?, ?, ?, ?, ?, COALESCE(?, 'production'),"
    " NULLIF(?, ''), COALESCE(?, ''), COALESCE(?, 'nano'), ?, ?)";
static const char SQL_REPOINT[] =
    "UPDATE deployments SET previous_version_id = IF(version_id = ?,"
    " previous_version_id, version_id), version_id = ?, flow_id = ?,"
    " updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND name = ?";

int
deploy_upsert(struct db *db, struct arena *a, int64_t org_id, const char *name,
    int64_t flow_id, int64_t version_id, const struct deploy_settings *s,
    int *created, struct db_res **row)
{
	struct db_res *cur;
	char pub[32];
	int64_t rc;

	rc = deploy_get(db, a, org_id, name, &cur);
	if (rc < 0 && rc != DEPLOY_ENOTFOUND)
		return (int)rc;
	*created = rc == DEPLOY_ENOTFOUND;
	if (*created) {
		ids_new("deploy", pub, sizeof(pub));
		rc = db_exec(db, SQL_INSERT, "sisiissssss", pub, org_id, name, flow_id,
		    version_id, s->environment, s->schedule, s->executor, s->mode,
		    s->tags, s->slugs);
		if (rc < 0)
			return (int)rc;
		return reload(db, a, org_id, name, row);
	}
	if ((rc = db_exec(db, SQL_REPOINT, "iiiis", version_id, version_id, flow_id,
	    org_id, name)) < 0)
		return (int)rc;
	return deploy_update_settings(db, a, org_id, name, s, row);
}

static const char SQL_LIST[] =
    DEPLOY_SELECT " WHERE d.org_id = ? AND d.name > ? ORDER BY d.name LIMIT ?";
static const char SQL_LIST_ENV[] =
    DEPLOY_SELECT " WHERE d.org_id = ? AND d.environment = ? AND d.name > ?"
    " ORDER BY d.name LIMIT ?";

int
deploy_list(struct db *db, struct arena *a, int64_t org_id,
    const char *environment, const char *after, int limit, struct db_res **rows)
{
	if (after == NULL)
		after = "";
	if (environment != NULL)
		return db_query(db, a, rows, SQL_LIST_ENV, "issi", org_id, environment,
		    after, (int64_t)limit);
	return db_query(db, a, rows, SQL_LIST, "isi", org_id, after, (int64_t)limit);
}

static const char SQL_VERSION_OF_FLOW[] =
    "SELECT id FROM flow_versions WHERE flow_id = ? AND version = ?";
static const char SQL_PREVIOUS[] =
    "SELECT previous_version_id FROM deployments WHERE org_id = ? AND name = ?"
    " AND previous_version_id IS NOT NULL";
static const char SQL_SET_VERSION[] =
    "UPDATE deployments SET previous_version_id = version_id, version_id = ?,"
    " updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND name = ?";

int
deploy_set_version(struct db *db, struct arena *a, int64_t org_id,
    const char *name, const char *version, struct db_res **row)
{
	struct db_res *cur, *r;
	int64_t rc, target;

	if ((rc = deploy_get(db, a, org_id, name, &cur)) < 0)
		return (int)rc;
	if (version != NULL) {
		rc = db_query(db, a, &r, SQL_VERSION_OF_FLOW, "is",
		    db_int(cur, 0, DEPLOY_C_FLOW_ID), version);
		if (rc < 0)
			return (int)rc;
		if (r->nrows == 0)
			return FLOWS_ENOTFOUND;
	} else {
		if ((rc = db_query(db, a, &r, SQL_PREVIOUS, "is", org_id, name)) < 0)
			return (int)rc;
		if (r->nrows == 0)
			return DEPLOY_ENOPREV;
	}
	target = db_int(r, 0, 0);
	if (target != db_int(cur, 0, DEPLOY_C_VERSION_ID) &&
	    (rc = db_exec(db, SQL_SET_VERSION, "iis", target, org_id, name)) < 0)
		return (int)rc;
	return deploy_get(db, a, org_id, name, row);
}

static const char SQL_SETTINGS[] =
    "UPDATE deployments SET environment = COALESCE(?, environment),"
    " schedule = IF(? IS NULL, schedule, NULLIF(?, '')),"
    " default_executor = COALESCE(?, default_executor),"
    " execution_mode = COALESCE(?, execution_mode),"
    " tags = COALESCE(?, tags), dep_package_slugs = COALESCE(?, dep_package_slugs),"
    " updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND name = ?";

int
deploy_update_settings(struct db *db, struct arena *a, int64_t org_id,
    const char *name, const struct deploy_settings *s, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_SETTINGS, "sssssssis", s->environment,
	    s->schedule, s->schedule, s->executor, s->mode, s->tags, s->slugs,
	    org_id, name);

	if (rc < 0)
		return (int)rc;
	return reload(db, a, org_id, name, row);
}

static const char SQL_DELETE[] = "DELETE FROM deployments WHERE org_id = ? AND name = ?";

int
deploy_delete(struct db *db, int64_t org_id, const char *name)
{
	int64_t rc = db_exec(db, SQL_DELETE, "is", org_id, name);

	return rc < 0 ? (int)rc : rc > 0;
}

static const char SQL_PROMOTED[] =
    "UPDATE deployments SET promoted_from_env = ?, promoted_from_deployment = ?,"
    " promoted_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND name = ?";

int
deploy_mark_promoted(struct db *db, int64_t org_id, const char *name,
    const char *from_env, const char *from_deployment)
{
	int64_t rc = db_exec(db, SQL_PROMOTED, "ssis", from_env, from_deployment, org_id, name);

	return rc < 0 ? (int)rc : 0;
}
