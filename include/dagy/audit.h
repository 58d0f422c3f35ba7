/* The audit trail: every mutation writes one row in its own transaction. */
#ifndef DAGY_AUDIT_H
#define DAGY_AUDIT_H

#include <jansson.h>
#include <stdint.h>

struct db;
struct principal;

/* details (may be NULL) is stolen; it must never hold a secret.
 * Returns 0 or an enum db_err. */
int audit_write(struct db *db, const struct principal *who, const char *action,
    const char *target_type, const char *target_id, json_t *details);
/* For mutations without a principal (the CLI, a login). */
int audit_write_as(struct db *db, int64_t org_id, int64_t user_id,
    const char *email, const char *ip, const char *action,
    const char *target_type, const char *target_id, json_t *details);

#endif
