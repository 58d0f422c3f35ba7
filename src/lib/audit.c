/* Audit rows: who did what to which object, from where; and the queries
 * of the audit log API. */
#include <stdlib.h>

#include "dagy/audit.h"
#include "dagy/auth.h"
#include "dagy/db.h"
#include "dagy/ids.h"

static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_log (public_id, org_id, actor_user_id, actor_email,"
    " action, target_type, target_id, details, ip, user_agent)"
    " VALUES (?, NULLIF(?, 0), NULLIF(?, 0), ?, ?, ?, ?, ?, ?, LEFT(?, 255))";

void
audit_row_init(struct audit_row *row, struct arena *a, int64_t org_id, int64_t user_id,
    const char *email, const char *ip, const char *agent, const char *action,
    const char *target_type, json_t *details)
{
	char *text = details != NULL ? json_dumps(details, JSON_COMPACT) : NULL;

	ids_new("audit", row->public_id, sizeof(row->public_id));
	row->org_id = org_id;
	row->user_id = user_id;
	row->email = email;
	row->ip = ip;
	row->agent = agent;
	row->action = action;
	row->target_type = target_type;
	row->details = text != NULL ? arena_strdup(a, text) : NULL;
	free(text);
	json_decref(details);
}

void
audit_row_of(struct audit_row *row, struct arena *a, const struct principal *who,
    const char *action, const char *target_type, json_t *details)
{
	/* What an impersonation token does is marked as such in every row. */
	if (who->impersonated) {
		if (details == NULL)
			details = json_object();
		json_object_set_new(details, "impersonated", json_true());
		json_object_set_new(details, "impersonator", json_string(who->email));
	}
	audit_row_init(row, a, who->org_id, who->user_id, who->email, who->ip,
	    who->user_agent, action, target_type, details);
}

static int
write_row(struct db *db, const struct audit_row *row, const char *target_id)
{
	int64_t rc = db_exec(db, SQL_AUDIT_INSERT, "siisssssss", row->public_id, row->org_id,
	    row->user_id, row->email, row->action, row->target_type, target_id, row->details,
	    row->ip, row->agent);

	return rc < 0 ? (int)rc : 0;
}

int
audit_write_as(struct db *db, int64_t org_id, int64_t user_id,
    const char *email, const char *ip, const char *action,
    const char *target_type, const char *target_id, json_t *details)
{
	struct arena a = {0};
	struct audit_row row;
	int rc;

	audit_row_init(&row, &a, org_id, user_id, email, ip, NULL, action, target_type, details);
	rc = write_row(db, &row, target_id);
	arena_free(&a);
	return rc;
}

int
audit_write(struct db *db, const struct principal *who, const char *action,
    const char *target_type, const char *target_id, json_t *details)
{
	struct arena a = {0};
	struct audit_row row;
	int rc;

	audit_row_of(&row, &a, who, action, target_type, details);
	rc = write_row(db, &row, target_id);
	arena_free(&a);
	return rc;
}

/* Newest first through (org_id, created_at, id), or through (org_id,
 * target_type, target_id, created_at, id) for one resource; the other
 * filters are checked on the rows the index yields. An action matches by
 * its full name (flow.register) or its verb (register). */
#define AUDIT_COLS \
	"SELECT public_id, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ'), actor_email," \
	" action, target_type, target_id, details, ip, user_agent," \
	" DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f'), id FROM audit_log"
#define AUDIT_FILTERS \
	" AND (? IS NULL OR actor_email = ?)" \
	" AND (? IS NULL OR action = ? OR SUBSTRING_INDEX(action, '.', -1) = ?)" \
	" AND created_at >= ? AND created_at < ?" \
	" AND (created_at < ? OR (created_at = ? AND id < ?))" \
	" ORDER BY created_at DESC, id DESC LIMIT ?"
static const char SQL_BY_ORG[] = AUDIT_COLS " FORCE INDEX (ix_audit_org_time)"
    " WHERE org_id = ? AND (? IS NULL OR target_type = ?)"
    " AND (? IS NULL OR target_id = ?)" AUDIT_FILTERS;
static const char SQL_BY_TARGET[] = AUDIT_COLS " FORCE INDEX (ix_audit_org_target)"
    " WHERE org_id = ? AND target_type = ? AND target_id = ?" AUDIT_FILTERS;

int
audit_list(struct db *db, struct arena *a, int64_t org_id,
    const struct audit_filter *f, const char *after_ts, int64_t after_id,
    int limit, struct db_res **rows)
{
	const char *from = f->from != NULL ? f->from : "1000-01-01 00:00:00";
	const char *to = f->to != NULL ? f->to : "9999-12-31 23:59:59.999999";

	if (after_ts == NULL) {
		after_ts = "9999-12-31 23:59:59.999999";
		after_id = 0;
	}
	if (f->type != NULL && f->target != NULL)
		return db_query(db, a, rows, SQL_BY_TARGET, "isssssssssssii", org_id,
		    f->type, f->target, f->actor, f->actor, f->action, f->action,
		    f->action, from, to, after_ts, after_ts, after_id, (int64_t)limit);
	return db_query(db, a, rows, SQL_BY_ORG, "isssssssssssssii", org_id,
	    f->type, f->type, f->target, f->target, f->actor, f->actor, f->action,
	    f->action, f->action, from, to, after_ts, after_ts, after_id, (int64_t)limit);
}
