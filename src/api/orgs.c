/* /v1/orgs: organizations, their members and the role matrix. Routes
 * under /v1/orgs/{org_id} take the organization from the path: a caller
 * who is not a member gets 404, as if it did not exist. */
#include <string.h>

#include "api.h"
#include "dagy/account.h"
#include "dagy/audit.h"

static int orgs_create(struct req *r);
static int orgs_list(struct req *r);
static int members_add(struct req *r);
static int members_list(struct req *r);
static int members_set_role(struct req *r);
static int roles_get(struct req *r);

const struct route orgs_routes[] = {
	{"POST", "/v1/orgs", orgs_create, PERM_AUTHENTICATED, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/orgs", orgs_list, PERM_AUTHENTICATED, 0, DIALECT_DAGY},
	{"POST", "/v1/orgs/{org_id}/members", members_add, PERM_ADMIN_MEMBERS,
	    ROUTE_BODY | ROUTE_ORG_FROM_PATH, DIALECT_DAGY},
	{"GET", "/v1/orgs/{org_id}/members", members_list, PERM_ADMIN_MEMBERS,
	    ROUTE_ORG_FROM_PATH, DIALECT_DAGY},
	{"PATCH", "/v1/orgs/{org_id}/members/{email}/role", members_set_role,
	    PERM_ADMIN_MEMBERS, ROUTE_BODY | ROUTE_ORG_FROM_PATH, DIALECT_DAGY},
	{"GET", "/v1/orgs/{org_id}/roles", roles_get, PERM_ADMIN_MEMBERS,
	    ROUTE_ORG_FROM_PATH, DIALECT_DAGY},
};
const size_t orgs_routes_n = sizeof(orgs_routes) / sizeof(orgs_routes[0]);

static int
valid_plan(const char *p)
{
	size_t i;

	for (i = 0; i < USAGE_NPLANS; i++)
		if (strcmp(usage_plans[i], p) == 0)
			return 1;
	return 0;
}

static int
valid_email(const char *e)
{
	const char *at = strchr(e, '@');

	return at != NULL && at != e && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
	    strpbrk(e, " \t\r\n/") == NULL;
}

static int
orgs_create(struct req *r)
{
	const char *name, *plan, *pub;
	struct db_res *row;
	int64_t org_id;
	int rc;

	if (req_str(r, "org_name", 1, 200, &name) < 0 ||
	    req_str(r, "plan", 0, 32, &plan) < 0)
		return 0;
	if (plan == NULL)
		plan = "free";
	if (!valid_plan(plan))
		return api_invalid(r, "plan", "must be one of free, starter, professional, enterprise");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = account_org_create(r->db, &r->arena, name, plan, r->who.user_id, &org_id, &pub);
	if (rc == ACCOUNT_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL,
		    "an organization named '%s' already exists", name);
	}
	if (rc < 0 ||
	    (rc = audit_write_as(r->db, org_id, r->who.user_id, r->who.email, r->who.ip,
	    "org.create", "org", pub, json_pack("{s:s, s:s}", "org_name", name, "plan", plan))) < 0 ||
	    (rc = account_org_get(r->db, &r->arena, org_id, &row)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "org_id", db_val(row, 0, 0), "org_name", db_val(row, 0, 1),
	    "plan", db_val(row, 0, 2), "owner_email", db_val(row, 0, 3),
	    "created_at", db_val(row, 0, 4)));
}

static int
orgs_list(struct req *r)
{
	struct db_res *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = account_orgs_of_user(r->db, &r->arena, r->who.user_id, &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s}",
		    "org_id", db_val(rows, i, 0), "org_name", db_val(rows, i, 1),
		    "plan", db_val(rows, i, 2), "role", db_val(rows, i, 3),
		    "created_at", db_val(rows, i, 4)));
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

static int
read_role(struct req *r, const char **role)
{
	if (req_str(r, "role", 1, 16, role) < 0)
		return -1;
	if (!auth_role_valid(*role))
		return api_invalid(r, "role", "must be one of owner, admin, developer, viewer"), -1;
	return 0;
}

static int
members_add(struct req *r)
{
	const char *email, *role;
	struct member m;
	int rc;

	if (req_str(r, "email", 1, 254, &email) < 0)
		return 0;
	if (!valid_email(email))
		return api_invalid(r, "email", "is not an email address");
	if (read_role(r, &role) < 0)
		return 0;
	/* Only an owner may make another owner. */
	if (strcmp(role, "owner") == 0 && strcmp(r->who.role, "owner") != 0)
		return api_error(r, API_E_FORBIDDEN, NULL, "only an owner can add an owner");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = account_member_add(r->db, &r->arena, r->who.org_id, email, role, &m);
	if (rc == ACCOUNT_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL,
		    "%s is already a member of this organization", email);
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, "member.add", "member", m.email,
	    json_pack("{s:s}", "role", role))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "member_id", m.member_id, "email", m.email, "role", m.role,
	    "added_at", m.added_at, "status", m.status));
}

static int
members_list(struct req *r)
{
	struct member *ms;
	unsigned i, n;
	json_t *items;
	int rc;

	if ((rc = account_member_list(r->db, &r->arena, r->who.org_id, &ms, &n)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}",
		    "member_id", ms[i].member_id, "email", ms[i].email,
		    "role", ms[i].role, "status", ms[i].status,
		    "joined_at", api_str_or_null(ms[i].joined_at),
		    "added_at", ms[i].added_at));
	return api_json(r, 200, json_pack("{s:o}", "items", items));
}

static int
members_set_role(struct req *r)
{
	const char *email = req_param(r, "email"), *role;
	struct member m;
	int rc;

	if (read_role(r, &role) < 0)
		return 0;
	if (strcmp(role, "owner") == 0 && strcmp(r->who.role, "owner") != 0)
		return api_error(r, API_E_FORBIDDEN, NULL, "only an owner can make an owner");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = account_member_set_role(r->db, &r->arena, r->who.org_id, email, role, &m);
	if (rc == ACCOUNT_ENOTFOUND || rc == ACCOUNT_ELAST_OWNER) {
		db_rollback(r->db);
		if (rc == ACCOUNT_ENOTFOUND)
			return api_error(r, API_E_NOT_FOUND, NULL,
			    "%s is not a member of this organization", email);
		return api_error(r, API_E_CONFLICT, NULL,
		    "%s is the last owner; make another member owner first", email);
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, "member.role", "member", m.email,
	    json_pack("{s:s}", "role", role))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:s, s:s}",
	    "member_id", m.member_id, "email", m.email, "role", m.role,
	    "updated_at", m.updated_at));
}

static int
roles_get(struct req *r)
{
	json_t *roles = json_object();
	size_t i;

	for (i = 0; i < 4; i++)
		json_object_set_new(roles, auth_roles[i],
		    auth_scopes_json(auth_role_perms(auth_roles[i])));
	return api_json(r, 200, json_pack("{s:o}", "roles", roles));
}
