/* The SQL of sensors and their firings (see sensors.h). */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "dagy/crypto.h"
#include "dagy/ids.h"
#include "dagy/sensors.h"

#define SENSOR_COLS "s.public_id, s.name, s.sensor_type, s.flow_name, s.config," \
	" s.flow_params, s.enabled, " DB_TS("s.created_at") ", s.sealed, s.org_id," \
	" s.created_by, " DB_TS("s.last_polled_at") ", s.last_poll_error, " \
	DB_TS("s.next_poll_at") ", s.id, o.public_id, o.plan, o.status = 'suspended'," \
	" COALESCE(UNIX_TIMESTAMP(o.runs_blocked_after), 0)"

static const char SQL_INSERT[] =
    "INSERT INTO sensors (public_id, org_id, name, sensor_type, flow_name, config,"
    " flow_params, sealed, key_id, token_hash, enabled, created_by, poll_interval,"
    " next_poll_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), NULLIF(?, 0),"
    " IF(? > 0 AND ? = 1, UTC_TIMESTAMP(6), NULL))";
static const char SQL_GET[] =
    "SELECT " SENSOR_COLS " FROM sensors s JOIN orgs o ON o.id = s.org_id"
    " WHERE s.org_id = ? AND s.public_id = ?";
static const char SQL_LIST[] =
    "SELECT " SENSOR_COLS " FROM sensors s JOIN orgs o ON o.id = s.org_id"
    " WHERE s.org_id = ? AND s.id > ?"
    " ORDER BY s.id LIMIT ?";
static const char SQL_DELETE[] =
    "DELETE FROM sensors WHERE org_id = ? AND public_id = ?";
static const char SQL_BY_TOKEN[] =
    "SELECT " SENSOR_COLS " FROM sensors s JOIN orgs o ON o.id = s.org_id"
    " WHERE s.token_hash = ? AND s.enabled = 1"
    " AND s.sensor_type = 'webhook'";

int
sensors_create(struct db *db, struct arena *a, const struct sensor_new *n, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_INSERT, "sissssssssiiiii", n->public_id, n->org_id,
	    n->name, n->type, n->flow, n->config, n->params, n->sealed, n->key_id,
	    n->token_hash, (int64_t)n->enabled, n->user_id, (int64_t)n->poll_interval,
	    (int64_t)n->poll_interval, (int64_t)n->enabled);

	return rc < 0 ? (int)rc : sensors_get(db, a, n->org_id, n->public_id, row);
}

int
sensors_get(struct db *db, struct arena *a, int64_t org_id, const char *id, struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_GET, "is", org_id, id);

	return rc < 0 ? rc : (*row)->nrows == 0 ? SENSORS_ENOTFOUND : 0;
}

int
sensors_list(struct db *db, struct arena *a, int64_t org_id, int64_t after, int limit,
    struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "iii", org_id, after, (int64_t)limit);
}

int
sensors_delete(struct db *db, int64_t org_id, const char *id)
{
	int64_t rc = db_exec(db, SQL_DELETE, "is", org_id, id);

	return rc < 0 ? (int)rc : rc == 0 ? SENSORS_ENOTFOUND : 0;
}

int
sensors_by_token(struct db *db, struct arena *a, const char *token_hash, struct db_res **row)
{
	int rc = db_query(db, a, row, SQL_BY_TOKEN, "s", token_hash);

	return rc < 0 ? rc : (*row)->nrows == 0 ? SENSORS_ENOTFOUND : 0;
}

static const char SQL_FIRE[] =
    "INSERT INTO sensor_firings (public_id, sensor_id, org_id, source, delivery_id, run_id,"
    " run_public_id, detail)"
    " SELECT ?, ?, ?, ?, ?, r.id, r.public_id, ? FROM runs r WHERE r.public_id = ?"
    " AND r.org_id = ?";
static const char SQL_DELIVERED[] =
    "SELECT run_public_id FROM sensor_firings WHERE sensor_id = ? AND delivery_id = ?";
static const char SQL_FIRINGS[] =
    "SELECT public_id, source, delivery_id, run_public_id, detail, " DB_TS("created_at")
    ", id FROM sensor_firings WHERE sensor_id = ? AND (? = 0 OR id < ?)"
    " ORDER BY id DESC LIMIT ?";

int
sensors_fire(struct db *db, int64_t sensor_dbid, int64_t org_id, const char *source,
    const char *delivery_id, const char *run_id, const char *detail)
{
	char id[48];
	int64_t rc;

	ids_new("firing", id, sizeof(id));
	rc = db_exec(db, SQL_FIRE, "siissssi", id, sensor_dbid, org_id, source, delivery_id,
	    detail, run_id, org_id);
	return rc < 0 ? (int)rc : rc == 0 ? SENSORS_ENOTFOUND : 0;
}

int
sensors_delivered(struct db *db, struct arena *a, int64_t sensor_dbid,
    const char *delivery_id, const char **run_id)
{
	struct db_res *res;
	int rc = db_query(db, a, &res, SQL_DELIVERED, "is", sensor_dbid, delivery_id);

	if (rc < 0)
		return rc;
	if (res->nrows == 0)
		return SENSORS_ENOTFOUND;
	*run_id = db_val(res, 0, 0);
	return 0;
}

int
sensors_firings(struct db *db, struct arena *a, int64_t sensor_dbid, int64_t before,
    int limit, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_FIRINGS, "iiii", sensor_dbid, before, before,
	    (int64_t)limit);
}

static const char SQL_POLL_DUE[] =
    "SELECT s.id, s.public_id, s.org_id, s.flow_name, s.config, s.flow_params, s.sealed,"
    " s.poll_state, s.created_by, s.sensor_type FROM sensors s"
    " WHERE s.next_poll_at <= UTC_TIMESTAMP(6) ORDER BY s.next_poll_at LIMIT ?"
    " FOR UPDATE SKIP LOCKED";
static const char SQL_POLL_ADVANCE[] =
    "UPDATE sensors SET next_poll_at = UTC_TIMESTAMP(6) + INTERVAL poll_interval SECOND"
    " WHERE id = ?";
static const char SQL_POLL_RECORD[] =
    "UPDATE sensors SET poll_state = COALESCE(?, poll_state), last_poll_error = ?,"
    " last_polled_at = UTC_TIMESTAMP(6) WHERE id = ? AND poll_state <=> ?";
static const char SQL_POLL_NEXT[] =
    "SELECT GREATEST(0, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), MIN(next_poll_at))"
    " DIV 1000) FROM sensors WHERE next_poll_at IS NOT NULL";

int
sensors_poll_claim(struct db *db, struct arena *a, int limit, struct db_res **rows)
{
	unsigned i;
	int rc;

	if ((rc = db_begin(db)) < 0)
		return rc;
	if ((rc = db_query(db, a, rows, SQL_POLL_DUE, "i", (int64_t)limit)) < 0)
		goto fail;
	for (i = 0; i < (*rows)->nrows; i++) {
		int64_t n = db_exec(db, SQL_POLL_ADVANCE, "i", db_int(*rows, i, SENSORS_P_DBID));

		if (n < 0) {
			rc = (int)n;
			goto fail;
		}
	}
	if ((rc = db_commit(db)) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	return rc;
}

int
sensors_poll_record(struct db *db, int64_t sensor_dbid, const char *old_state,
    const char *state, const char *error)
{
	int64_t rc = db_exec(db, SQL_POLL_RECORD, "ssis", state, error, sensor_dbid, old_state);

	return rc < 0 ? (int)rc : rc > 0;
}

int64_t
sensors_poll_next(struct db *db, struct arena *a)
{
	struct db_res *res;
	int rc = db_query(db, a, &res, SQL_POLL_NEXT, "");

	if (rc < 0)
		return rc;
	return db_val(res, 0, 0) == NULL ? -1 : db_int(res, 0, 0);
}

json_t *
sensors_pointer(json_t *doc, const char *ptr)
{
	char tok[256];

	if (ptr == NULL || (*ptr != '\0' && *ptr != '/'))
		return NULL;
	while (doc != NULL && *ptr == '/') {
		size_t n = 0;

		for (ptr++; *ptr != '\0' && *ptr != '/'; ptr++) {
			char c = *ptr;

			if (c == '~') {
				if (ptr[1] == '0')
					c = '~';
				else if (ptr[1] == '1')
					c = '/';
				else
					return NULL;
				ptr++;
			}
			if (n + 1 >= sizeof(tok))
				return NULL;
			tok[n++] = c;
		}
		tok[n] = '\0';
		if (json_is_object(doc)) {
			doc = json_object_get(doc, tok);
		} else if (json_is_array(doc)) {
			char *end;
			unsigned long i = strtoul(tok, &end, 10);

			/* Digits only, no leading zero. */
			if (n == 0 || *end != '\0' || tok[0] == '-' || tok[0] == '+' ||
			    (tok[0] == '0' && n > 1))
				return NULL;
			doc = json_array_get(doc, i);
		} else {
			return NULL;
		}
	}
	return doc;
}

/* A lower- or upper-case hex HMAC-SHA256 of data under key, compared in
 * constant time. */
static int
hmac_matches(const char *key, const char *data, size_t n, const char *hex, size_t hexlen)
{
	uint8_t mac[32];
	char want[65], got[65];
	size_t i;

	if (hexlen != 64)
		return 0;
	crypto_hmac_sha256(key, strlen(key), data, n, mac);
	crypto_hex(mac, want);
	for (i = 0; i < 64; i++)
		got[i] = (char)tolower((unsigned char)hex[i]);
	got[64] = '\0';
	return crypto_equal(want, got, 64);
}

int
sensors_signature_ok(const char *scheme, const char *header, const char *secret,
    const char *body, size_t len, time_t now, long long tolerance)
{
	char stamp[32], *text;
	const char *p;
	long long t = -1;
	size_t sl;
	int ok = 0;

	if (header == NULL)
		return 0;
	if (scheme == NULL || strcmp(scheme, SENSORS_SCHEME_HMAC) == 0)
		return strncmp(header, "sha256=", 7) == 0 &&
		    hmac_matches(secret, body, len, header + 7, strlen(header + 7));
	for (p = header; *p; p += strcspn(p, ",")) {
		p += strspn(p, ", ");
		if (strncmp(p, "t=", 2) == 0 && t < 0)
			t = strtoll(p + 2, NULL, 10);
	}
	/* Both sides positive: the difference cannot overflow. */
	if (t <= 0 || now <= 0 || (t > (long long)now ? t - (long long)now :
	    (long long)now - t) > tolerance)
		return 0;
	/* "<t>.<body>", the body as given, NUL bytes and all. */
	sl = (size_t)snprintf(stamp, sizeof(stamp), "%lld.", t);
	if ((text = malloc(sl + len + 1)) == NULL)
		return 0;
	memcpy(text, stamp, sl);
	memcpy(text + sl, body, len);
	for (p = header; *p; p += strcspn(p, ",")) {
		p += strspn(p, ", ");
		if (strncmp(p, "v1=", 3) == 0 &&
		    hmac_matches(secret, text, sl + len, p + 3, strcspn(p + 3, ",")))
			ok = 1;
	}
	free(text);
	return ok;
}
