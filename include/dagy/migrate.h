/* Forward-only schema migrations, compiled into every binary from
 * schema/NNN_name.sql and recorded in schema_migrations. */
#ifndef DAGY_MIGRATE_H
#define DAGY_MIGRATE_H

#include <stdio.h>

struct db;

struct migration {
	unsigned version;
	const char *name, *sql;
};

extern const struct migration migrations[];
extern const unsigned migrations_n;

/* Applies what is missing, reporting to out. Returns the number applied, or
 * -1 (after saying why) on failure or a database newer than this binary. */
int migrate_run(struct db *db, FILE *out);
/* The highest applied version (0 for none), or a negative db_err. */
int migrate_current(struct db *db);

#endif
