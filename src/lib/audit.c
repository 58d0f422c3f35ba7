/* Audit rows: who did what to which object, from where. */
#include <stdlib.h>

#include "dagy/audit.h"
#include "dagy/auth.h"
#include "dagy/db.h"
#include "dagy/ids.h"

static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_log (public_id, org_id, actor_user_id, actor_email,"
    " action, target_type, target_id, details, ip)"
    " VALUES (?, NULLIF(?, 0), NULLIF(?, 0), ?, ?, ?, ?, ?, ?)";

int
audit_write_as(struct db *db, int64_t org_id, int64_t user_id,
    const char *email, const char *ip, const char *action,
    const char *target_type, const char *target_id, json_t *details)
{
	char pub[32];
	char *text = details != NULL ? json_dumps(details, JSON_COMPACT) : NULL;
	int64_t rc;

	ids_new("audit", pub, sizeof(pub));
	rc = db_exec(db, SQL_AUDIT_INSERT, "siissssss", pub, org_id, user_id,
	    email, action, target_type, target_id, text, ip);
	free(text);
	json_decref(details);
	return rc < 0 ? (int)rc : 0;
}

int
audit_write(struct db *db, const struct principal *who, const char *action,
    const char *target_type, const char *target_id, json_t *details)
{
	return audit_write_as(db, who->org_id, who->user_id, who->email, who->ip,
	    action, target_type, target_id, details);
}
