/* AI Studio's tables: sessions with their canvas and bound flow, the
 * messages of each (an assistant message keeps its turn's whole answer
 * under the turn's key for replay), attachments, and the credits each
 * organization used per month. Every query carries the org. */
#ifndef DAGY_AISTUDIO_H
#define DAGY_AISTUDIO_H

#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

/* A session row. */
enum ai_sess_col { AI_S_ID, AI_S_TITLE, AI_S_TIER, AI_S_STATUS, AI_S_CANVAS,
	AI_S_FLOW, AI_S_TURNS, AI_S_CREDITS, AI_S_CREATED, AI_S_UPDATED,
	AI_S_DBID, AI_S_USER };

int ai_session_create(struct db *db, struct arena *a, int64_t org_id,
    int64_t user_id, const char *title, const char *tier, struct db_res **row);
/* One session by public id (0 rows when the org has none such). */
int ai_session_get(struct db *db, struct arena *a, int64_t org_id,
    const char *id, struct db_res **row);
int ai_session_by_flow(struct db *db, struct arena *a, int64_t org_id,
    const char *flow, struct db_res **row);
/* The user's sessions, newest first, below internal id before (0: from
 * the top); status NULL: any. */
int ai_session_list(struct db *db, struct arena *a, int64_t org_id,
    int64_t user_id, const char *status, int64_t before, int limit,
    struct db_res **rows);
/* Sets one of the columns "title", "tier", "status", "canvas" (JSON
 * text) or "flow_name" (DB_EDUP: another session is bound to it). Returns
 * rows affected or a db_err. */
int ai_session_set(struct db *db, int64_t org_id, int64_t dbid,
    const char *column, const char *value);
/* One more turn costing credits, unless the session has had max_turns:
 * 1, 0 when it has, or a db_err. A conditional update, so that turns at
 * once cannot both take the last one. */
int ai_session_turn(struct db *db, int64_t org_id, int64_t dbid, double credits,
    int max_turns);
int ai_session_delete(struct db *db, int64_t org_id, int64_t dbid);

/* Messages: role, content, intent, created_at, status_code, oldest first. */
enum ai_msg_col { AI_M_ROLE, AI_M_CONTENT, AI_M_INTENT, AI_M_CREATED, AI_M_STATUS };
int ai_msg_list(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    struct db_res **rows);
/* key, hash and response (JSON text) may be NULL; DB_EDUP when the key
 * is taken. */
int ai_msg_add(struct db *db, int64_t org_id, int64_t session, const char *role,
    const char *content, const char *intent, const char *key, const char *hash,
    int status, const char *response);
/* The answer kept under a turn key: request_hash, status_code, response. */
enum ai_turn_col { AI_T_HASH, AI_T_STATUS, AI_T_RESPONSE };
int ai_turn_find(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    const char *key, struct db_res **row);

/* Attachments. */
enum ai_att_col { AI_A_ID, AI_A_FILENAME, AI_A_KIND, AI_A_SIZE, AI_A_STATUS,
	AI_A_CHARS, AI_A_TRUNC, AI_A_CREATED, AI_A_EXPIRES, AI_A_DBID,
	AI_A_HASH, AI_A_UPLOADED, AI_A_SESSION, AI_A_EXPIRED, AI_A_TEXT };
int ai_att_create(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    const char *filename, const char *kind, int64_t size, const char *upload_hash,
    int ttl_seconds, struct db_res **row);
/* By public id within a session (session 0: any session of the org). */
int ai_att_get(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    const char *id, struct db_res **row);
/* By public id alone, for the signed upload (the org is not known yet). */
int ai_att_get_for_upload(struct db *db, struct arena *a, const char *id,
    struct db_res **row);
int ai_att_list(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    struct db_res **rows);
int ai_att_count(struct db *db, struct arena *a, int64_t org_id, int64_t session,
    int64_t *n);
int ai_att_uploaded(struct db *db, int64_t dbid, int64_t bytes);
int ai_att_ready(struct db *db, int64_t org_id, int64_t dbid, const char *text,
    int64_t chars, int truncated);
int ai_att_delete(struct db *db, int64_t org_id, int64_t dbid);

/* Credits the org used in period ("2026-03"). */
int ai_credits_used(struct db *db, struct arena *a, int64_t org_id,
    const char *period, double *used);
/* Adds amount to the period's use unless that would pass allowance: 1,
 * 0 when it would (nothing charged), or a db_err. */
int ai_credits_charge(struct db *db, int64_t org_id, const char *period,
    double amount, double allowance);

#endif
