/* The SQL of artifact uploads (schema/014_artifacts.sql). */
#include <string.h>

#include "dagy/artifacts.h"
#include "dagy/crypto.h"

static const char SQL_EXPIRE[] =
    "UPDATE artifact_uploads SET status = 'expired', pending_slot = NULL,"
    " updated_at = UTC_TIMESTAMP(6)"
    " WHERE org_id = ? AND pending_slot = ? AND expires_at < UTC_TIMESTAMP(6)";
static const char SQL_ADD[] =
    "INSERT INTO artifact_uploads (org_id, upload_id, artifact_key, flow_name,"
    " flow_version, deployment_name, file_size, part_size, parts, pending_slot,"
    " expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)";

int
artifacts_add(struct db *db, int64_t org_id, const struct artifact_upload *u)
{
	char slot[65];
	uint8_t d[32];
	size_t nf = strlen(u->flow), nv = strlen(u->version);
	char buf[300];
	int64_t rc;

	/* name and version are at most 200 and 64 bytes (req_name, req_version). */
	memcpy(buf, u->flow, nf);
	buf[nf] = '\0';
	memcpy(buf + nf + 1, u->version, nv);
	crypto_sha256(buf, nf + 1 + nv, d);
	crypto_hex(d, slot);
	/* An upload of the same version left to expire gives way. */
	if ((rc = db_exec(db, SQL_EXPIRE, "is", org_id, slot)) < 0)
		return (int)rc;
	rc = db_exec(db, SQL_ADD, "isssssiiisi", org_id, u->upload_id, u->key,
	    u->flow, u->version, u->deployment, u->file_size, u->part_size, u->parts,
	    slot, (int64_t)u->expires_in);
	if (rc == DB_EDUP)
		return ARTIFACTS_EBUSY;
	return rc < 0 ? (int)rc : 0;
}

#define COLS "id, org_id, upload_id, artifact_key, flow_name, flow_version," \
    " deployment_name, file_size, part_size, parts, status," \
    " DATE_FORMAT(expires_at, '%Y-%m-%dT%H:%i:%sZ'), expires_at < UTC_TIMESTAMP(6)"

static const char SQL_GET[] =
    "SELECT " COLS " FROM artifact_uploads WHERE upload_id = ? AND org_id = ?";
static const char SQL_GET_ANY[] =
    "SELECT " COLS " FROM artifact_uploads WHERE upload_id = ?";

int
artifacts_get(struct db *db, struct arena *a, int64_t org_id,
    const char *upload_id, struct db_res **row)
{
	int rc = org_id != 0 ?
	    db_query(db, a, row, SQL_GET, "si", upload_id, org_id) :
	    db_query(db, a, row, SQL_GET_ANY, "s", upload_id);

	if (rc < 0)
		return rc;
	return (*row)->nrows == 0 ? ARTIFACTS_ENOTFOUND : 0;
}

static const char SQL_FINISH[] =
    "UPDATE artifact_uploads SET status = ?, pending_slot = NULL,"
    " updated_at = UTC_TIMESTAMP(6)"
    " WHERE upload_id = ? AND org_id = ? AND status = 'pending'";

int
artifacts_finish(struct db *db, int64_t org_id, const char *upload_id,
    const char *status)
{
	int64_t rc = db_exec(db, SQL_FINISH, "ssi", status, upload_id, org_id);

	return rc < 0 ? (int)rc : rc > 0;
}
