/* AI Studio's SQL: sessions, messages, attachments, credits. */
#include <stdlib.h>
#include <string.h>

#include "dagy/aistudio.h"
#include "dagy/ids.h"

#define SESS_SELECT \
	"SELECT public_id, title, tier, status, canvas, flow_name, turns," \
	" credits_used, " DB_TS("created_at") ", " DB_TS("updated_at") ", id, user_id" \
	" FROM ai_sessions"

int
ai_session_create(struct db *db, struct arena *a, int64_t org_id, int64_t user_id,
    const char *title, const char *tier, struct db_res **row)
{
	char id[40];
	int64_t rc;

	ids_new("ss", id, sizeof(id));
	rc = db_exec(db, "INSERT INTO ai_sessions (public_id, org_id, user_id, title,"
	    " tier, canvas) VALUES (?, ?, ?, ?, ?, '{\"nodes\": [], \"edges\": []}')",
	    "siiss", id, org_id, user_id, title, tier);
	if (rc < 0)
		return (int)rc;
	return ai_session_get(db, a, org_id, id, row);
}

int
ai_session_get(struct db *db, struct arena *a, int64_t org_id, const char *id,
    struct db_res **row)
{
	return db_query(db, a, row, SESS_SELECT " WHERE org_id = ? AND public_id = ?",
	    "is", org_id, id);
}

int
ai_session_by_flow(struct db *db, struct arena *a, int64_t org_id,
    const char *flow, struct db_res **row)
{
	return db_query(db, a, row, SESS_SELECT " WHERE org_id = ? AND flow_name = ?",
	    "is", org_id, flow);
}

int
ai_session_list(struct db *db, struct arena *a, int64_t org_id, int64_t user_id,
    const char *status, int64_t before, int limit, struct db_res **rows)
{
	return db_query(db, a, rows, SESS_SELECT " WHERE org_id = ? AND user_id = ?"
	    " AND (? IS NULL OR status = ?) AND (? = 0 OR id < ?)"
	    " ORDER BY id DESC LIMIT ?", "iissiii", org_id, user_id, status, status,
	    before, before, (int64_t)limit);
}

int
ai_session_set(struct db *db, int64_t org_id, int64_t dbid, const char *column,
    const char *value)
{
	/* One statement per column: the column name is never spliced in. */
	static const struct { const char *col, *sql; } set[] = {
		{"title", "UPDATE ai_sessions SET title = ?, updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND id = ?"},
		{"tier", "UPDATE ai_sessions SET tier = ?, updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND id = ?"},
		{"status", "UPDATE ai_sessions SET status = ?, updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND id = ?"},
		{"canvas", "UPDATE ai_sessions SET canvas = ?, updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND id = ?"},
		{"flow_name", "UPDATE ai_sessions SET flow_name = ?, updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND id = ?"},
	};
	size_t i;

	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		if (strcmp(set[i].col, column) == 0)
			return (int)db_exec(db, set[i].sql, "sii", value, org_id, dbid);
	return DB_ERR;
}

int
ai_session_turn(struct db *db, int64_t org_id, int64_t dbid, double credits, int max_turns)
{
	return (int)db_exec(db, "UPDATE ai_sessions SET turns = turns + 1,"
	    " credits_used = credits_used + ?, updated_at = UTC_TIMESTAMP(6)"
	    " WHERE org_id = ? AND id = ? AND turns < ?", "diii", credits, org_id, dbid,
	    (int64_t)max_turns);
}

int
ai_session_delete(struct db *db, int64_t org_id, int64_t dbid)
{
	return (int)db_exec(db, "DELETE FROM ai_sessions WHERE org_id = ? AND id = ?",
	    "ii", org_id, dbid);
}

int
ai_msg_list(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    struct db_res **rows)
{
	return db_query(db, a, rows, "SELECT role, content, intent, "
	    DB_TS("created_at") ", status_code FROM ai_messages"
	    " WHERE org_id = ? AND session_id = ? ORDER BY id", "ii", org_id, session);
}

int
ai_msg_add(struct db *db, int64_t org_id, int64_t session, const char *role,
    const char *content, const char *intent, const char *key, const char *hash,
    int status, const char *response)
{
	int64_t rc = db_exec(db, "INSERT INTO ai_messages (session_id, org_id, role,"
	    " content, intent, turn_key, request_hash, status_code, response)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?)", "iisssssis", session,
	    org_id, role, content, intent, key, hash, (int64_t)status, response);

	return rc < 0 ? (int)rc : 0;
}

int
ai_turn_find(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    const char *key, struct db_res **row)
{
	return db_query(db, a, row, "SELECT request_hash, status_code, response"
	    " FROM ai_messages WHERE org_id = ? AND session_id = ? AND turn_key = ?",
	    "iis", org_id, session, key);
}

#define ATT_SELECT \
	"SELECT public_id, filename, kind, size_bytes, status, text_chars, truncated, " \
	DB_TS("created_at") ", " DB_TS("expires_at") ", id, upload_hash, uploaded_bytes," \
	" session_id, expires_at < UTC_TIMESTAMP(6)"

int
ai_att_create(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    const char *filename, const char *kind, int64_t size, const char *upload_hash,
    int ttl_seconds, struct db_res **row)
{
	char id[40];
	int64_t rc;

	ids_new("att", id, sizeof(id));
	rc = db_exec(db, "INSERT INTO ai_attachments (public_id, session_id, org_id,"
	    " filename, kind, size_bytes, upload_hash, expires_at) VALUES (?, ?, ?, ?, ?,"
	    " ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)", "siissisi", id, session,
	    org_id, filename, kind, size, upload_hash, (int64_t)ttl_seconds);
	if (rc < 0)
		return (int)rc;
	return ai_att_get(db, a, org_id, session, id, row);
}

int
ai_att_get(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    const char *id, struct db_res **row)
{
	return db_query(db, a, row, ATT_SELECT " FROM ai_attachments WHERE org_id = ?"
	    " AND (? = 0 OR session_id = ?) AND public_id = ?", "iiis", org_id,
	    session, session, id);
}

int
ai_att_get_for_upload(struct db *db, struct arena *a, const char *id,
    struct db_res **row)
{
	return db_query(db, a, row, ATT_SELECT ", org_id FROM ai_attachments"
	    " WHERE public_id = ?", "s", id);
}

int
ai_att_list(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    struct db_res **rows)
{
	return db_query(db, a, rows, ATT_SELECT ", text FROM ai_attachments"
	    " WHERE org_id = ? AND session_id = ? ORDER BY id", "ii", org_id, session);
}

int
ai_att_count(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    int64_t *n)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, "SELECT COUNT(*) FROM ai_attachments"
	    " WHERE org_id = ? AND session_id = ?", "ii", org_id, session);

	if (rc < 0)
		return rc;
	*n = db_int(r, 0, 0);
	return 0;
}

int
ai_att_uploaded(struct db *db, int64_t dbid, int64_t bytes)
{
	return (int)db_exec(db, "UPDATE ai_attachments SET uploaded_bytes = ?"
	    " WHERE id = ? AND status = 'pending'", "ii", bytes, dbid);
}

int
ai_att_ready(struct db *db, int64_t org_id, int64_t dbid, const char *text,
    int64_t chars, int truncated)
{
	return (int)db_exec(db, "UPDATE ai_attachments SET status = 'ready', text = ?,"
	    " text_chars = ?, truncated = ? WHERE org_id = ? AND id = ?", "siiii",
	    text, chars, (int64_t)truncated, org_id, dbid);
}

int
ai_att_delete(struct db *db, int64_t org_id, int64_t dbid)
{
	return (int)db_exec(db, "DELETE FROM ai_attachments WHERE org_id = ? AND id = ?",
	    "ii", org_id, dbid);
}

int
ai_credits_used(struct db *db, struct arena *a, int64_t org_id,
    const char *period, double *used)
{
	struct db_res *r;
	int rc = db_query(db, a, &r, "SELECT used FROM ai_credits WHERE org_id = ?"
	    " AND period = ?", "is", org_id, period);

	if (rc < 0)
		return rc;
	*used = r->nrows > 0 ? strtod(db_val(r, 0, 0), NULL) : 0;
	return 0;
}

int
ai_credits_charge(struct db *db, int64_t org_id, const char *period, double amount,
    double allowance)
{
	int64_t rc = db_exec(db, "INSERT IGNORE INTO ai_credits (org_id, period, used)"
	    " VALUES (?, ?, 0)", "is", org_id, period);

	if (rc >= 0)
		rc = db_exec(db, "UPDATE ai_credits SET used = used + ?"
		    " WHERE org_id = ? AND period = ? AND used + ? <= ?", "disdd", amount, org_id,
		    period, amount, allowance);
	return (int)rc;
}
