/* /v1/api-keys: create (the key is shown once), list, revoke. Keys belong
 * to an organization; their scopes narrow the holder's role. */
#include <stdlib.h>

#include "api.h"
#include "dagy/audit.h"

static int keys_create(struct req *r);
static int keys_list(struct req *r);
static int keys_delete(struct req *r);

const struct route api_keys_routes[] = {
	{"POST", "/v1/api-keys", keys_create, PERM_ADMIN_API_KEYS, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/api-keys", keys_list, PERM_ADMIN_API_KEYS, 0, DIALECT_DAGY},
	{"DELETE", "/v1/api-keys/{key_id}", keys_delete, PERM_ADMIN_API_KEYS, 0, DIALECT_DAGY},
};
const size_t api_keys_routes_n = sizeof(api_keys_routes) / sizeof(api_keys_routes[0]);

static int
keys_create(struct req *r)
{
	const char *name, *key_id, *key, *prefix, *bad;
	json_t *scopes = json_object_get(r->body_json, "scopes");
	uint64_t mask;
	int rc;

	if (req_str(r, "name", 1, 200, &name) < 0)
		return 0;
	if (scopes != NULL && !json_is_null(scopes)) {
		if (!json_is_array(scopes) || json_array_size(scopes) == 0)
			return api_invalid(r, "scopes", "must be a non-empty array of permissions");
		if (auth_scopes_parse(scopes, &mask, &bad) < 0)
			return api_invalid(r, "scopes", "'%s' is not a permission", bad);
	} else {
		scopes = NULL;
	}
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = auth_key_create(r->db, r->srv->cfg, &r->arena, r->who.org_id,
	    r->who.user_id, name, scopes, &key_id, &key, &prefix)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "api_key.create", "api_key", key_id,
	    json_pack("{s:s}", "name", name))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	if (scopes == NULL)
		scopes = auth_scopes_json(PERM_BIT(PERM__MAX) - 1);
	else
		json_incref(scopes);
	return api_json(r, 201, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}",
	    "key_id", key_id, "name", name, "key", key, "key_prefix", prefix,
	    "scopes", scopes, "created_at", api_now(r)));
}

static int
keys_list(struct req *r)
{
	struct db_res *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = auth_key_list(r->db, &r->arena, r->who.org_id, &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:s}",
		    "key_id", db_val(rows, i, 0), "name", db_val(rows, i, 1),
		    "key_prefix", db_val(rows, i, 2),
		    "scopes", auth_scopes_json(strtoull(db_val(rows, i, 3), NULL, 10)),
		    "created_at", db_val(rows, i, 4),
		    "last_used_at", api_str_or_null(db_val(rows, i, 5)),
		    "created_by", db_val(rows, i, 6)));
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

static int
keys_delete(struct req *r)
{
	const char *key_id = req_param(r, "key_id");
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = auth_key_revoke(r->db, r->who.org_id, key_id)) < 0)
		return rc;
	if (rc == 0) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "API key '%s' not found", key_id);
	}
	if ((rc = audit_write(r->db, &r->who, "api_key.delete", "api_key", key_id, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}
