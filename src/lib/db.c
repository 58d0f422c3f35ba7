/* MariaDB access through the binary protocol. Statements are prepared once
 * per connection and found again by the address of their SQL literal. */
#include <errno.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/config.h"
#include "dagy/db.h"
#include "dagy/log.h"

#define MAX_PARAMS 32

struct stmt_slot {
	const char *sql;
	MYSQL_STMT *stmt;
};

struct db {
	MYSQL *conn;
	const struct config *cfg;
	struct stmt_slot *stmts;
	size_t nstmts, capstmts;
	int in_tx;
	int64_t insert_id; /* of the last db_exec */
	uint64_t nerrors, nreconnects; /* for db_counters */
	int connected;                 /* ever, so the next connect is a reconnect */
	const char *init;              /* more session setup, on each connect */
	char err[512];
};

static int
is_conn_error(unsigned e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST ||
	    e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
	    e == CR_SERVER_LOST_EXTENDED || e == ER_CONNECTION_KILLED ||
	    e == ER_SERVER_SHUTDOWN || e == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */ ||
	    e == CR_COMMANDS_OUT_OF_SYNC ||
	    /* A Galera node outside the primary component (or still joining)
	     * refuses reads with "WSREP has not yet prepared node for
	     * application use" and writes with "Error while appending
	     * streaming replication fragment": nothing was committed. */
	    e == ER_UNKNOWN_COM_ERROR || e == ER_ERROR_DURING_COMMIT;
}

static int
map_error(struct db *db, unsigned e, const char *msg)
{
	snprintf(db->err, sizeof(db->err), "%u: %s", e, msg);
	if (e == ER_DUP_ENTRY || e == ER_DUP_KEY)
		return DB_EDUP;
	if (e == ER_NO_REFERENCED_ROW_2 || e == ER_ROW_IS_REFERENCED_2)
		return DB_EFK;
	/* Unique and foreign keys answer the user; the rest are faults. */
	db->nerrors++;
	/* Galera reports a transaction that lost certification to a
	 * conflicting one from another node as ER_LOCK_DEADLOCK too, at
	 * COMMIT or at its next statement: retried like any deadlock. */
	if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT)
		return DB_EDEADLOCK;
	if (is_conn_error(e))
		return DB_EUNAVAIL;
	log_err("database: %s", db->err);
	return DB_ERR;
}

static void
disconnect(struct db *db)
{
	size_t i;

	for (i = 0; i < db->nstmts; i++)
		mysql_stmt_close(db->stmts[i].stmt);
	db->nstmts = 0;
	if (db->conn != NULL)
		mysql_close(db->conn);
	db->conn = NULL;
	db->in_tx = 0;
}

static int
connect_db(struct db *db)
{
	const struct config *cfg = db->cfg;
	unsigned timeout = (unsigned)config_int(cfg, "database", "connect_timeout");
	/* A statement that gets no answer in read_timeout seconds ends the
	 * connection (DB_EUNAVAIL, then a reconnect). On Galera this bounds
	 * the wait of a client whose transaction was aborted by a replicated
	 * one without an answer (doc/scaling.md). */
	unsigned rw_timeout = (unsigned)config_int(cfg, "database", "read_timeout");
	const char *sock = config_str(cfg, "database", "socket");
	char lockwait[64];
	MYSQL *m;

	if ((m = mysql_init(NULL)) == NULL)
		return DB_ERR;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_INIT_COMMAND,
	    "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,"
	    "NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'");
	/* MariaDB's 50 s default, times the API's deadlock retries, would
	 * hold a request for minutes behind one stuck transaction. */
	snprintf(lockwait, sizeof(lockwait), "SET innodb_lock_wait_timeout = %lld",
	    config_int(cfg, "database", "lock_wait_timeout"));
	mysql_options(m, MYSQL_INIT_COMMAND, lockwait);
	if (db->init != NULL)
		mysql_options(m, MYSQL_INIT_COMMAND, db->init);
	if (mysql_real_connect(m, config_str(cfg, "database", "host"),
	    config_str(cfg, "database", "user"),
	    config_str(cfg, "database", "password"),
	    config_str(cfg, "database", "name"),
	    (unsigned)config_int(cfg, "database", "port"),
	    *sock ? sock : NULL, CLIENT_FOUND_ROWS) == NULL) {
		snprintf(db->err, sizeof(db->err), "connect: %s", mysql_error(m));
		mysql_close(m);
		db->nerrors++;
		return DB_EUNAVAIL;
	}
	db->conn = m;
	db->nreconnects += db->connected;
	db->connected = 1;
	return 0;
}

int
db_open(struct db **out, const struct config *cfg)
{
	return db_open_init(out, cfg, NULL);
}

int
db_open_init(struct db **out, const struct config *cfg, const char *init)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return DB_ERR;
	db->cfg = cfg;
	db->init = init;
	if (connect_db(db) < 0)
		log_warn("database not reachable yet: %s", db->err);
	*out = db;
	return 0;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	disconnect(db);
	free(db->stmts);
	free(db);
}

void
db_counters(const struct db *db, uint64_t *errors, uint64_t *reconnects)
{
	*errors = db->nerrors;
	*reconnects = db->nreconnects;
}

const char *
db_errmsg(struct db *db)
{
	return db->err;
}

static int
ensure_conn(struct db *db)
{
	if (db->conn != NULL)
		return 0;
	return connect_db(db);
}

static MYSQL_STMT *
get_stmt(struct db *db, const char *sql, int *rc)
{
	MYSQL_STMT *st;
	size_t i;

	for (i = 0; i < db->nstmts; i++)
		if (db->stmts[i].sql == sql)
			return db->stmts[i].stmt;
	if ((st = mysql_stmt_init(db->conn)) == NULL) {
		*rc = map_error(db, mysql_errno(db->conn), mysql_error(db->conn));
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		*rc = map_error(db, mysql_stmt_errno(st), mysql_stmt_error(st));
		if (*rc == DB_ERR)
			log_err("while preparing: %s", sql);
		mysql_stmt_close(st);
		return NULL;
	}
	if (db->nstmts == db->capstmts) {
		size_t cap = db->capstmts ? db->capstmts * 2 : 64;
		struct stmt_slot *s = realloc(db->stmts, cap * sizeof(*s));

		if (s == NULL)
			abort();
		db->stmts = s;
		db->capstmts = cap;
	}
	db->stmts[db->nstmts].sql = sql;
	db->stmts[db->nstmts].stmt = st;
	db->nstmts++;
	return st;
}

struct params {
	MYSQL_BIND bind[MAX_PARAMS];
	long long ints[MAX_PARAMS];
	double dbls[MAX_PARAMS];
	unsigned long lens[MAX_PARAMS];
	my_bool nulls[MAX_PARAMS];
	unsigned n;
};

static int
collect_params(struct params *p, const char *types, va_list ap)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	for (i = 0; types[i] != '\0'; i++) {
		MYSQL_BIND *b = &p->bind[i];
		const char *s;

		if (i == MAX_PARAMS)
			return DB_ERR;
		switch (types[i]) {
		case 's':
			s = va_arg(ap, const char *);
			b->buffer_type = MYSQL_TYPE_STRING;
			if (s == NULL) {
				p->nulls[i] = 1;
				b->is_null = &p->nulls[i];
				break;
			}
			b->buffer = (void *)s;
			p->lens[i] = strlen(s);
			b->buffer_length = p->lens[i];
			b->length = &p->lens[i];
			break;
		case 'i':
			p->ints[i] = va_arg(ap, int64_t);
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &p->ints[i];
			break;
		case 'd':
			p->dbls[i] = va_arg(ap, double);
			b->buffer_type = MYSQL_TYPE_DOUBLE;
			b->buffer = &p->dbls[i];
			break;
		default:
			return DB_ERR;
		}
	}
	p->n = i;
	return 0;
}

/* Binds and executes; on a lost connection outside a transaction it
 * reconnects and tries once more, so a MariaDB restart costs no request. */
static MYSQL_STMT *
run(struct db *db, const char *sql, struct params *p, int *rc)
{
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		MYSQL_STMT *st;

		*rc = 0;
		if ((*rc = ensure_conn(db)) < 0)
			return NULL;
		if ((st = get_stmt(db, sql, rc)) == NULL)
			goto retry;
		if (mysql_stmt_param_count(st) != p->n) {
			log_err("statement wants %lu parameters, given %u: %s",
			    mysql_stmt_param_count(st), p->n, sql);
			*rc = DB_ERR;
			return NULL;
		}
		if (p->n > 0 && mysql_stmt_bind_param(st, p->bind) != 0) {
			*rc = map_error(db, mysql_stmt_errno(st), mysql_stmt_error(st));
			return NULL;
		}
		if (mysql_stmt_execute(st) == 0)
			return st;
		*rc = map_error(db, mysql_stmt_errno(st), mysql_stmt_error(st));
		if (*rc == DB_ERR && mysql_stmt_errno(st) == ER_NEED_REPREPARE) {
			/* The table changed under a cached statement (migration). */
			disconnect(db);
			continue;
		}
retry:
		if (*rc != DB_EUNAVAIL)
			return NULL;
		if (db->in_tx) {
			disconnect(db);
			return NULL;
		}
		disconnect(db);
	}
	return NULL;
}

int64_t
db_exec(struct db *db, const char *sql, const char *types, ...)
{
	struct params p;
	MYSQL_STMT *st;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = collect_params(&p, types, ap);
	va_end(ap);
	if (rc < 0)
		return rc;
	if ((st = run(db, sql, &p, &rc)) == NULL)
		return rc;
	if (mysql_stmt_field_count(st) > 0)
		mysql_stmt_free_result(st);
	db->insert_id = (int64_t)mysql_stmt_insert_id(st);
	return (int64_t)mysql_stmt_affected_rows(st);
}

int64_t
db_insert_id(struct db *db)
{
	return db->insert_id;
}

#define MIN_COLBUF 64

int
db_query(struct db *db, struct arena *a, struct db_res **out, const char *sql,
    const char *types, ...)
{
	struct params p;
	MYSQL_STMT *st;
	MYSQL_BIND *rb;
	unsigned long *lens;
	my_bool *nulls;
	struct db_res *res;
	unsigned ncols, cap = 0, c;
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = collect_params(&p, types, ap);
	va_end(ap);
	if (rc < 0)
		return rc;
	if ((st = run(db, sql, &p, &rc)) == NULL)
		return rc;
	res = arena_calloc(a, sizeof(*res));
	ncols = mysql_stmt_field_count(st);
	res->ncols = ncols;
	if (ncols == 0)
		goto done;
	if (mysql_stmt_store_result(st) != 0) {
		rc = map_error(db, mysql_stmt_errno(st), mysql_stmt_error(st));
		goto fail;
	}
	rb = arena_calloc(a, ncols * sizeof(*rb));
	lens = arena_calloc(a, ncols * sizeof(*lens));
	nulls = arena_calloc(a, ncols * sizeof(*nulls));
	for (c = 0; c < ncols; c++) {
		rb[c].buffer_type = MYSQL_TYPE_STRING;
		rb[c].buffer = arena_alloc(a, MIN_COLBUF);
		rb[c].buffer_length = MIN_COLBUF;
		rb[c].length = &lens[c];
		rb[c].is_null = &nulls[c];
	}
	if (mysql_stmt_bind_result(st, rb) != 0) {
		rc = map_error(db, mysql_stmt_errno(st), mysql_stmt_error(st));
		goto fail;
	}
	for (;;) {
		int f = mysql_stmt_fetch(st);

		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			rc = map_error(db, mysql_stmt_errno(st), mysql_stmt_error(st));
			goto fail;
		}
		if (res->nrows == cap) {
			char **v;

			cap = cap ? cap * 2 : 8;
			v = arena_alloc(a, (size_t)cap * ncols * sizeof(char *));
			if (res->nrows > 0)
				memcpy(v, res->v, (size_t)res->nrows * ncols * sizeof(char *));
			res->v = v;
		}
		for (c = 0; c < ncols; c++) {
			char **slot = &res->v[res->nrows * ncols + c];

			if (nulls[c]) {
				*slot = NULL;
			} else if (lens[c] < MIN_COLBUF) {
				*slot = arena_strndup(a, rb[c].buffer, lens[c]);
			} else {
				/* Truncated: fetch the whole value into its own buffer. */
				MYSQL_BIND big;
				unsigned long got = 0;

				memset(&big, 0, sizeof(big));
				*slot = arena_alloc(a, lens[c] + 1);
				big.buffer_type = MYSQL_TYPE_STRING;
				big.buffer = *slot;
				big.buffer_length = lens[c] + 1;
				big.length = &got;
				if (mysql_stmt_fetch_column(st, &big, c, 0) != 0) {
					rc = map_error(db, mysql_stmt_errno(st), mysql_stmt_error(st));
					goto fail;
				}
				(*slot)[lens[c]] = '\0';
			}
		}
		res->nrows++;
	}
done:
	mysql_stmt_free_result(st);
	*out = res;
	return 0;
fail:
	mysql_stmt_free_result(st);
	return rc;
}

int
db_exec_raw(struct db *db, const char *sql)
{
	int rc;

	if ((rc = ensure_conn(db)) < 0)
		return rc;
	if (mysql_real_query(db->conn, sql, strlen(sql)) != 0) {
		rc = map_error(db, mysql_errno(db->conn), mysql_error(db->conn));
		if (rc == DB_EUNAVAIL)
			disconnect(db);
		return rc;
	}
	do {
		MYSQL_RES *r = mysql_store_result(db->conn);

		if (r != NULL)
			mysql_free_result(r);
	} while (mysql_next_result(db->conn) == 0);
	return 0;
}

int
db_begin(struct db *db)
{
	int rc;

	if ((rc = ensure_conn(db)) < 0)
		return rc;
	if (mysql_real_query(db->conn, "START TRANSACTION", 17) != 0) {
		rc = map_error(db, mysql_errno(db->conn), mysql_error(db->conn));
		disconnect(db);
		/* The connection was idle, so one reconnect is safe. */
		if (rc != DB_EUNAVAIL || (rc = ensure_conn(db)) < 0)
			return rc;
		if (mysql_real_query(db->conn, "START TRANSACTION", 17) != 0)
			return map_error(db, mysql_errno(db->conn), mysql_error(db->conn));
	}
	db->in_tx = 1;
	return 0;
}

int
db_commit(struct db *db)
{
	int rc = 0;

	if (db->conn == NULL)
		return DB_EUNAVAIL;
	if (mysql_commit(db->conn) != 0) {
		rc = map_error(db, mysql_errno(db->conn), mysql_error(db->conn));
		if (rc == DB_EUNAVAIL)
			disconnect(db);
	}
	db->in_tx = 0;
	return rc;
}

void
db_rollback(struct db *db)
{
	if (db->conn != NULL && mysql_rollback(db->conn) != 0)
		disconnect(db);
	db->in_tx = 0;
}

int
db_ping(struct db *db)
{
	int rc;

	if ((rc = ensure_conn(db)) < 0)
		return rc;
	if (mysql_ping(db->conn) != 0) {
		disconnect(db);
		if ((rc = ensure_conn(db)) < 0)
			return rc;
	}
	return 0;
}

int64_t
db_int(const struct db_res *r, unsigned row, unsigned col)
{
	const char *v = db_val(r, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}
