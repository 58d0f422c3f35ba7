/* The process's one MariaDB connection: prepared statements cached by their
 * SQL text's address, results copied into the request's arena, reconnect on
 * loss. SQL lives in the module that owns the table; this layer only runs it. */
#ifndef DAGY_DB_H
#define DAGY_DB_H

#include <stdint.h>

#include "dagy/arena.h"

struct config;
struct db;

/* A DATETIME column as the API shows it: "2026-03-02T10:30:00Z". */
#define DB_TS(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

enum db_err {
	DB_ERR = -1,       /* any other failure; logged */
	DB_EUNAVAIL = -2,  /* the server is gone and reconnecting failed */
	DB_EDUP = -3,      /* a unique key refused the row */
	DB_EDEADLOCK = -4, /* deadlock or lock wait timeout: retry the transaction */
	DB_EFK = -5,       /* a foreign key refused the change */
};

struct db_res {
	unsigned nrows, ncols;
	char **v; /* nrows * ncols values, row-major; NULL for SQL NULL */
};

/* Creates the handle and tries to connect; a failed connect is not an error
 * here: each call reconnects on demand. */
int db_open(struct db **out, const struct config *cfg);
/* The same, running init (a static string) after each connect as well, so
 * session variables survive reconnects. */
int db_open_init(struct db **out, const struct config *cfg, const char *init);
void db_close(struct db *db);

/* types: one letter per parameter, 's' const char * (NULL binds NULL),
 * 'i' int64_t, 'd' double. Returns rows affected (>= 0) or an enum db_err. */
int64_t db_exec(struct db *db, const char *sql, const char *types, ...);
/* As db_exec, and the result set is copied into a (freed with it). */
int db_query(struct db *db, struct arena *a, struct db_res **out,
    const char *sql, const char *types, ...);
/* Runs text SQL without preparing (migrations, DDL). */
int db_exec_raw(struct db *db, const char *sql);
int64_t db_insert_id(struct db *db);

int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* Connects if needed and checks the server answers: 0 or DB_EUNAVAIL. */
int db_ping(struct db *db);
const char *db_errmsg(struct db *db);
/* Faults since db_open (deadlocks, lost connections, failed connects and
 * other errors; not unique or foreign key refusals) and reconnects. */
void db_counters(const struct db *db, uint64_t *errors, uint64_t *reconnects);

static inline const char *
db_val(const struct db_res *r, unsigned row, unsigned col)
{
	return r->v[row * r->ncols + col];
}

int64_t db_int(const struct db_res *r, unsigned row, unsigned col);

#endif
