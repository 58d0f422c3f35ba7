/* Baseline for bench/api: a libfcgi responder that runs one prepared,
 * indexed SELECT per request on its own MariaDB connection, the least an
 * authenticated read can cost. Connects with the [database] settings of
 * $DAGY_CONFIG via the environment variables bench/api exports. */
#include <fcgiapp.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
	static const char sql[] = "SELECT email FROM users WHERE id = ?";
	MYSQL *m = mysql_init(NULL);
	MYSQL_STMT *st;
	MYSQL_BIND p, out;
	long long id = 1;
	char email[256], body[512];
	unsigned long len;
	FCGX_Request r;

	if (mysql_real_connect(m, NULL, getenv("BENCH_DB_USER"),
	    getenv("BENCH_DB_PASSWORD"), "dagy", 0, getenv("BENCH_DB_SOCKET"), 0) == NULL)
		return fprintf(stderr, "%s\n", mysql_error(m)), 1;
	st = mysql_stmt_init(m);
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0)
		return fprintf(stderr, "%s\n", mysql_stmt_error(st)), 1;
	memset(&p, 0, sizeof(p));
	p.buffer_type = MYSQL_TYPE_LONGLONG;
	p.buffer = &id;
	mysql_stmt_bind_param(st, &p);
	memset(&out, 0, sizeof(out));
	out.buffer_type = MYSQL_TYPE_STRING;
	out.buffer = email;
	out.buffer_length = sizeof(email) - 1;
	out.length = &len;
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		int n;

		email[0] = '\0';
		if (mysql_stmt_execute(st) == 0) {
			mysql_stmt_bind_result(st, &out);
			if (mysql_stmt_fetch(st) == 0)
				email[len] = '\0';
			mysql_stmt_free_result(st);
		}
		n = snprintf(body, sizeof(body), "{\"user_email\":\"%s\"}", email);
		FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: %d\r\n\r\n", n);
		FCGX_PutStr(body, n, r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
