/* The credits ledger: an organization's balance (orgs.credits_balance)
 * and every grant and consumption behind it (credit_ledger), changed
 * together in the caller's transaction. AI Studio consumes credits here;
 * super admins grant them (POST /v1/admin/customers/{id}/credits). */
#ifndef DAGY_CREDITS_H
#define DAGY_CREDITS_H

#include <stdint.h>

#include "dagy/db.h"

enum credits_err {
	CREDITS_ENOORG = -20,       /* no such organization */
	CREDITS_EINSUFFICIENT = -21, /* the balance would go below zero */
};

/* *balance of org, or CREDITS_ENOORG. */
int credits_balance(struct db *db, int64_t org_id, double *balance);
/* Adds amount (> 0 grants; < 0 takes back, never below zero) with a
 * reason ("admin_grant", "purchase", ...) and an optional reference.
 * Locks the org row until the transaction ends. 0 with *balance after,
 * CREDITS_ENOORG, CREDITS_EINSUFFICIENT or a db_err. */
int credits_grant(struct db *db, int64_t org_id, double amount, const char *reason,
    const char *reference, int64_t actor_user_id, double *balance);
/* Takes amount (> 0) for reason ("ai_studio.message", ...) and reference
 * (a request or turn id): as credits_grant, CREDITS_EINSUFFICIENT when the
 * balance is short, leaving it untouched. */
int credits_consume(struct db *db, int64_t org_id, double amount, const char *reason,
    const char *reference, int64_t actor_user_id, double *balance);

#endif
