/* Applies the embedded migrations in order. MariaDB commits DDL
 * implicitly, so each statement runs on its own and the version row is
 * written after the last one; a migration that failed half-way is re-run
 * by hand after fixing the cause, which is why each is small. */
#include <stdlib.h>
#include <string.h>

#include "dagy/arena.h"
#include "dagy/db.h"
#include "dagy/migrate.h"

static const char SQL_CREATE[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT UNSIGNED NOT NULL PRIMARY KEY,"
    " name VARCHAR(200) NOT NULL,"
    " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
    ") ENGINE=InnoDB";
static const char SQL_CURRENT[] =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
static const char SQL_RECORD[] =
    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";
static const char SQL_APPLIED[] =
    "SELECT 1 FROM schema_migrations WHERE version = ?";

int
migrate_current(struct db *db)
{
	struct arena a = {0};
	struct db_res *r;
	int rc;

	if ((rc = db_exec_raw(db, SQL_CREATE)) < 0)
		return rc;
	if ((rc = db_query(db, &a, &r, SQL_CURRENT, "")) == 0)
		rc = (int)db_int(r, 0, 0);
	arena_free(&a);
	return rc;
}

/* Runs each ";"-terminated statement of sql; statements never contain a
 * semicolon at the end of a line inside them. */
static int
apply(struct db *db, const char *sql, FILE *out)
{
	char *copy = strdup(sql), *stmt = copy, *p;
	int rc = 0;

	for (p = copy; *p != '\0'; p++) {
		if (*p != ';' || (p[1] != '\n' && p[1] != '\0'))
			continue;
		*p = '\0';
		while (*stmt == '\n' || *stmt == ' ')
			stmt++;
		if (*stmt != '\0' && (rc = db_exec_raw(db, stmt)) < 0) {
			fprintf(out, "failed: %s\nin: %.200s\n", db_errmsg(db), stmt);
			break;
		}
		stmt = p + 1;
	}
	free(copy);
	return rc;
}

int
migrate_run(struct db *db, FILE *out)
{
	unsigned i;
	int cur, applied = 0;

	if ((cur = migrate_current(db)) < 0) {
		fprintf(out, "cannot read schema version: %s\n", db_errmsg(db));
		return -1;
	}
	if (migrations_n > 0 && (unsigned)cur > migrations[migrations_n - 1].version) {
		fprintf(out, "database schema is version %d, newer than this dagy "
		    "(%u): upgrade dagy instead\n", cur, migrations[migrations_n - 1].version);
		return -1;
	}
	for (i = 0; i < migrations_n; i++) {
		const struct migration *m = &migrations[i];
		struct arena a = {0};
		struct db_res *res;
		int have;

		/* Each one not yet recorded, not only those above the highest:
		 * migrations written side by side can land out of order. */
		if (db_query(db, &a, &res, SQL_APPLIED, "i", (int64_t)m->version) < 0) {
			arena_free(&a);
			fprintf(out, "cannot read schema version: %s\n", db_errmsg(db));
			return -1;
		}
		have = res->nrows > 0;
		arena_free(&a);
		if (have)
			continue;
		fprintf(out, "applying %03u_%s\n", m->version, m->name);
		if (apply(db, m->sql, out) < 0 ||
		    db_exec(db, SQL_RECORD, "is", (int64_t)m->version, m->name) < 0)
			return -1;
		applied++;
	}
	return applied;
}
