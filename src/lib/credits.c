/* SQL of the credits ledger: the balance row is locked, checked, moved
 * and the ledger row written in the caller's transaction. */
#include <stdlib.h>

#include "dagy/credits.h"

static const char SQL_BALANCE[] = "SELECT credits_balance FROM orgs WHERE id = ?";
static const char SQL_LOCK[] = "SELECT credits_balance FROM orgs WHERE id = ? FOR UPDATE";
static const char SQL_SET[] =
    "UPDATE orgs SET credits_balance = credits_balance + ? WHERE id = ?";
static const char SQL_LEDGER[] =
    "INSERT INTO credit_ledger (org_id, amount, balance_after, reason, reference,"
    " actor_user_id) SELECT id, ?, credits_balance, ?, ?, NULLIF(?, 0) FROM orgs WHERE id = ?";

static int
read_balance(struct db *db, const char *sql, int64_t org_id, double *balance)
{
	struct arena a = {0};
	struct db_res *r;
	int rc = db_query(db, &a, &r, sql, "i", org_id);

	if (rc == 0 && r->nrows == 0)
		rc = CREDITS_ENOORG;
	else if (rc == 0)
		*balance = strtod(db_val(r, 0, 0), NULL);
	arena_free(&a);
	return rc;
}

int
credits_balance(struct db *db, int64_t org_id, double *balance)
{
	return read_balance(db, SQL_BALANCE, org_id, balance);
}

/* Moves the balance by amount; refuses a result below zero. */
static int
move(struct db *db, int64_t org_id, double amount, const char *reason,
    const char *reference, int64_t actor, double *balance)
{
	double now;
	int64_t rc;

	if ((rc = read_balance(db, SQL_LOCK, org_id, &now)) < 0)
		return (int)rc;
	/* Amounts are stored to 4 decimals: compare with that tolerance. */
	if (now + amount < -0.00005)
		return CREDITS_EINSUFFICIENT;
	if ((rc = db_exec(db, SQL_SET, "di", amount, org_id)) < 0 ||
	    (rc = db_exec(db, SQL_LEDGER, "dssii", amount, reason, reference, actor,
	    org_id)) < 0)
		return (int)rc;
	return read_balance(db, SQL_BALANCE, org_id, balance);
}

int
credits_grant(struct db *db, int64_t org_id, double amount, const char *reason,
    const char *reference, int64_t actor_user_id, double *balance)
{
	return move(db, org_id, amount, reason, reference, actor_user_id, balance);
}

int
credits_consume(struct db *db, int64_t org_id, double amount, const char *reason,
    const char *reference, int64_t actor_user_id, double *balance)
{
	if (amount < 0)
		amount = -amount;
	return move(db, org_id, -amount, reason, reference, actor_user_id, balance);
}
