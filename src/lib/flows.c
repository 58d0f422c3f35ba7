/* SQL of the flows and flow_versions tables. A flow row is locked while a
 * version is added, so concurrent registrations number versions in turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/flowspec.h"
#include "dagy/flows.h"
#include "dagy/ids.h"

#define VERSION_COLS \
	"f.name, v.version, v.seq, v.artifact_s3_uri, " DB_TS("v.created_at") ", " \
	DB_TS("v.updated_at") ", v.schedule, v.status, v.deployment_name," \
	" v.default_executor, v.tags, v.namespace, v.code_hash, v.spec, v.id, f.id," \
	" f.public_id, " DB_TS("f.created_at")

static const char SQL_FLOW_UPSERT[] =
    "INSERT INTO flows (public_id, org_id, name) VALUES (?, ?, ?)"
    " ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)";
static const char SQL_FLOW_LOCK[] =
    "SELECT latest_seq FROM flows WHERE id = ? FOR UPDATE";
static const char SQL_NEXT_INT[] =
    "SELECT COALESCE(MAX(CAST(version AS UNSIGNED)), 0) FROM flow_versions"
    " WHERE flow_id = ? AND version REGEXP '^[0-9]{1,18}$'";
static const char SQL_DEACTIVATE[] =
    "UPDATE flow_versions SET status = 'inactive', updated_at = UTC_TIMESTAMP(6)"
    " WHERE flow_id = ? AND status = 'active'";
static const char SQL_VERSION_INSERT[] =
    "INSERT INTO flow_versions (flow_id, org_id, version, seq, spec, code_hash,"
    " artifact_s3_uri, deployment_name, schedule, default_executor, namespace,"
    " tags, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_FLOW_BUMP[] =
    "UPDATE flows SET latest_seq = ?, updated_at = UTC_TIMESTAMP(6) WHERE id = ?";
static const char SQL_VERSION_BY_ID[] =
    "SELECT " VERSION_COLS " FROM flow_versions v JOIN flows f ON f.id = v.flow_id"
    " WHERE v.id = ?";

int
flows_register(struct db *db, struct arena *a, int64_t org_id,
    const struct flow_reg *reg, struct db_res **row)
{
	char pub[32], hash[65];
	const char *version = reg->version, *status = reg->status;
	char *spec = NULL, *tags = NULL;
	struct db_res *r;
	int64_t flow_id, version_id, seq, rc;

	ids_new("flow", pub, sizeof(pub));
	if ((rc = db_exec(db, SQL_FLOW_UPSERT, "sis", pub, org_id, reg->name)) < 0)
		return (int)rc;
	flow_id = db_insert_id(db);
	if ((rc = db_query(db, a, &r, SQL_FLOW_LOCK, "i", flow_id)) < 0)
		return (int)rc;
	seq = db_int(r, 0, 0) + 1;
	if (version == NULL) {
		int64_t n;

		if ((rc = db_query(db, a, &r, SQL_NEXT_INT, "i", flow_id)) < 0)
			return (int)rc;
		n = db_int(r, 0, 0);
		version = arena_printf(a, "%lld", (long long)(n >= seq ? n + 1 : seq));
	}
	if (status == NULL)
		status = "active";
	if (strcmp(status, "active") == 0 &&
	    (rc = db_exec(db, SQL_DEACTIVATE, "i", flow_id)) < 0)
		return (int)rc;
	if (reg->code_hash != NULL)
		snprintf(hash, sizeof(hash), "%s", reg->code_hash);
	else
		flowspec_hash(reg->canonical, hash);
	spec = json_dumps(reg->canonical, JSON_COMPACT | JSON_SORT_KEYS);
	tags = reg->tags != NULL ? json_dumps(reg->tags, JSON_COMPACT) : NULL;
	rc = db_exec(db, SQL_VERSION_INSERT, "iisisssssssss", flow_id, org_id,
	    version, seq, spec, hash, reg->artifact, reg->deployment_name,
	    reg->schedule, reg->executor, reg->namespace, tags, status);
	free(spec);
	free(tags);
	if (rc == DB_EDUP)
		return FLOWS_EEXISTS;
	if (rc < 0)
		return (int)rc;
	version_id = db_insert_id(db);
	if ((rc = db_exec(db, SQL_FLOW_BUMP, "ii", seq, flow_id)) < 0)
		return (int)rc;
	return db_query(db, a, row, SQL_VERSION_BY_ID, "i", version_id);
}

static const char SQL_LIST[] =
    "SELECT " VERSION_COLS " FROM flows f"
    " JOIN flow_versions v ON v.flow_id = f.id AND v.seq = f.latest_seq"
    " WHERE f.org_id = ? AND f.name > ? ORDER BY f.name LIMIT ?";

int
flows_list(struct db *db, struct arena *a, int64_t org_id, const char *after,
    int limit, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "isi", org_id, after ? after : "",
	    (int64_t)limit);
}

static const char SQL_LATEST[] =
    "SELECT " VERSION_COLS " FROM flows f"
    " JOIN flow_versions v ON v.flow_id = f.id AND v.seq = f.latest_seq"
    " WHERE f.org_id = ? AND f.name = ?";
static const char SQL_ONE[] =
    "SELECT " VERSION_COLS " FROM flows f JOIN flow_versions v ON v.flow_id = f.id"
    " WHERE f.org_id = ? AND f.name = ? AND v.version = ?";

int
flows_version(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const char *version, struct db_res **row)
{
	int rc = version == NULL ?
	    db_query(db, a, row, SQL_LATEST, "is", org_id, name) :
	    db_query(db, a, row, SQL_ONE, "iss", org_id, name, version);

	if (rc == 0 && (*row)->nrows == 0)
		return FLOWS_ENOTFOUND;
	return rc;
}

static const char SQL_VERSIONS[] =
    "SELECT " VERSION_COLS " FROM flows f JOIN flow_versions v ON v.flow_id = f.id"
    " WHERE f.org_id = ? AND f.name = ? ORDER BY v.seq DESC";

int
flows_versions(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **rows)
{
	int rc = db_query(db, a, rows, SQL_VERSIONS, "is", org_id, name);

	if (rc == 0 && (*rows)->nrows == 0)
		return FLOWS_ENOTFOUND;
	return rc;
}

static const char SQL_DELETE[] = "DELETE FROM flows WHERE org_id = ? AND name = ?";

int
flows_delete(struct db *db, int64_t org_id, const char *name)
{
	int64_t rc = db_exec(db, SQL_DELETE, "is", org_id, name);

	return rc < 0 ? (int)rc : rc > 0;
}

static const char SQL_OVERVIEW[] =
    "SELECT f.name, v.spec, v.code_hash, r.status, r.public_id, "
    DB_TS("COALESCE(r.started_at, r.created_at)") ","
    " COALESCE((SELECT d.schedule FROM deployments d WHERE d.flow_id = f.id"
    "  AND d.schedule IS NOT NULL ORDER BY d.id LIMIT 1),"
    " (SELECT COALESCE(s.cron_expression, CONCAT(s.interval_seconds, 's'))"
    "  FROM schedules s WHERE s.flow_id = f.id AND s.source = 'api' AND s.enabled = 1"
    "  AND s.mode IN ('cron', 'interval') ORDER BY s.id LIMIT 1))"
    " FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.seq = f.latest_seq"
    " LEFT JOIN runs r ON r.id = (SELECT MAX(id) FROM runs WHERE flow_id = f.id)"
    " WHERE f.org_id = ? AND (? IS NULL OR f.name = ?) ORDER BY f.name";

int
flows_overview(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **rows)
{
	int rc = db_query(db, a, rows, SQL_OVERVIEW, "iss", org_id, name, name);

	if (rc == 0 && name != NULL && (*rows)->nrows == 0)
		return FLOWS_ENOTFOUND;
	return rc;
}

static const char SQL_FIND[] =
    "SELECT id FROM flows WHERE org_id = ? AND (public_id = ? OR name = ?)"
    " ORDER BY public_id = ? DESC LIMIT 1";

int
flows_find(struct db *db, struct arena *a, int64_t org_id, const char *id_or_name,
    int64_t *flow_id)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, SQL_FIND, "isss", org_id, id_or_name, id_or_name,
	    id_or_name);

	if (rc < 0)
		return rc;
	if (r->nrows == 0)
		return FLOWS_ENOTFOUND;
	*flow_id = db_int(r, 0, 0);
	return 0;
}
