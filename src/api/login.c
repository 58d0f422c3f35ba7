/* POST /v1/auth/login and /v1/auth/logout: email and password to an
 * access token, and its revocation. */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"

static int login(struct req *r);
static int logout(struct req *r);

const struct route login_routes[] = {
	{"POST", "/v1/auth/login", login, PERM_PUBLIC, ROUTE_BODY | ROUTE_LOGIN, DIALECT_DAGY},
	{"POST", "/v1/auth/logout", logout, PERM_AUTHENTICATED, 0, DIALECT_DAGY},
};
const size_t login_routes_n = sizeof(login_routes) / sizeof(login_routes[0]);

static int
login(struct req *r)
{
	const char *email, *password, *token, *expires;
	int64_t user_id = 0;
	int rc;

	if (req_str(r, "email", 1, 254, &email) < 0 ||
	    req_str(r, "password", 1, 1024, &password) < 0)
		return 0;
	if (strchr(email, '@') == NULL)
		return api_invalid(r, "email", "is not an email address");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = auth_login(r->db, r->srv->cfg, &r->arena, email, password, &token,
	    &expires, &user_id);
	if (rc == AUTH_EUNAUTH) {
		db_rollback(r->db);
		return api_error(r, API_E_UNAUTHORIZED, NULL,
		    "wrong email or password");
	}
	if (rc == AUTH_EBUSY) {
		db_rollback(r->db);
		api_header(r, "Retry-After: 1");
		return api_error(r, API_E_SERVICE_UNAVAILABLE, NULL,
		    "too many credential checks at once; retry shortly");
	}
	if (rc < 0 ||
	    (rc = audit_write_as(r->db, 0, user_id, email, req_env(r, "REMOTE_ADDR"),
	    "auth.login", "user", email, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:s}", "access_token", token,
	    "token_type", "Bearer", "expires_at", expires));
}

static int
logout(struct req *r)
{
	int rc;

	if (r->who.kind != CRED_ACCESS_TOKEN)
		return api_error(r, API_E_VALIDATION, NULL,
		    "logout ends access tokens; delete an API key with "
		    "DELETE /v1/api-keys/{key_id}");
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = auth_logout(r->db, r->who.cred_id)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "auth.logout", "user", r->who.email, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}
