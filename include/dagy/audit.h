/* The audit trail: every mutation writes one row in its own transaction;
 * the audit log API reads them back. */
#ifndef DAGY_AUDIT_H
#define DAGY_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct principal;

/* details (may be NULL) is stolen; it must never hold a secret.
 * Returns 0 or an enum db_err. */
int audit_write(struct db *db, const struct principal *who, const char *action,
    const char *target_type, const char *target_id, json_t *details);
/* For mutations without a principal (the CLI, a login, the scheduler). */
int audit_write_as(struct db *db, int64_t org_id, int64_t user_id,
    const char *email, const char *ip, const char *action,
    const char *target_type, const char *target_id, json_t *details);

/* An audit row's values, for a statement that writes it together with
 * what it records (runs_create_audited); the target is that object. */
struct audit_row {
	char public_id[32];
	int64_t org_id, user_id;
	const char *email, *ip, *agent, *action, *target_type;
	const char *details; /* JSON text in the arena, or NULL */
};
/* details (may be NULL) is stolen, as by audit_write. */
void audit_row_init(struct audit_row *row, struct arena *a, int64_t org_id, int64_t user_id,
    const char *email, const char *ip, const char *agent, const char *action,
    const char *target_type, json_t *details);
/* The row audit_write writes for who. */
void audit_row_of(struct audit_row *row, struct arena *a, const struct principal *who,
    const char *action, const char *target_type, json_t *details);

/* Columns of an audit_list row. */
enum audit_col {
	AUDIT_C_ID, AUDIT_C_TIME, AUDIT_C_ACTOR, AUDIT_C_ACTION, AUDIT_C_TYPE,
	AUDIT_C_TARGET, AUDIT_C_DETAILS, AUDIT_C_IP, AUDIT_C_AGENT,
	AUDIT_C_KEY_TS, AUDIT_C_DBID, /* the keyset position */
};

/* Filters, each NULL for any; from and to are SQL DATETIME text, [from, to). */
struct audit_filter {
	const char *actor, *action, *type, *target, *from, *to;
};

/* The org's rows, newest first, after the row at (after_ts, after_id)
 * (AUDIT_C_KEY_TS, AUDIT_C_DBID of the previous page's last row; after_ts
 * NULL for the first page). */
int audit_list(struct db *db, struct arena *a, int64_t org_id,
    const struct audit_filter *f, const char *after_ts, int64_t after_id,
    int limit, struct db_res **rows);

#endif
