/* dagctl's Team section (/api/v1/organizations/members, …/invitations):
 * the organization's members with dagctl's role words (reader is dagy's
 * viewer) and invitations whose token, shown once, expires and is
 * accepted by the invitee, signed in as the invited email. */
#include <string.h>
#include <strings.h>

#include "api.h"
#include "dagy/account.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/team.h"

static int members_list(struct req *r);
static int member_role(struct req *r);
static int member_remove(struct req *r);
static int invites_list(struct req *r);
static int invite_create(struct req *r);
static int invite_revoke(struct req *r);
static int invite_accept(struct req *r);

#define O "/api/v1/organizations"
#define D DIALECT_DAGCTL
const struct route dagctl_team_routes[] = {
	{"GET", O "/members", members_list, PERM_AUTHENTICATED, 0, D},
	{"PUT", O "/members/{user_id}/role", member_role, PERM_ADMIN_MEMBERS, ROUTE_BODY, D},
	{"DELETE", O "/members/{user_id}", member_remove, PERM_ADMIN_MEMBERS, 0, D},
	{"GET", O "/invitations", invites_list, PERM_ADMIN_MEMBERS, 0, D},
	{"POST", O "/invitations", invite_create, PERM_ADMIN_MEMBERS, ROUTE_BODY, D},
	{"DELETE", O "/invitations/{invitation_id}", invite_revoke, PERM_ADMIN_MEMBERS, 0, D},
	{"POST", O "/invitations/accept", invite_accept, PERM_AUTHENTICATED, ROUTE_BODY, D},
};
const size_t dagctl_team_routes_n = sizeof(dagctl_team_routes) / sizeof(dagctl_team_routes[0]);

/* dagy's role word as dagctl says it, and back (NULL: no such role). */
static const char *
to_dagctl(const char *role)
{
	return strcmp(role, "viewer") == 0 ? "reader" : role;
}

static const char *
from_dagctl(const char *role)
{
	static const char *const roles[] = {"owner", "admin", "developer"};
	size_t k;

	if (strcmp(role, "reader") == 0)
		return "viewer";
	for (k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
		if (strcmp(role, roles[k]) == 0)
			return roles[k];
	return NULL;
}

static int
is_owner(struct req *r)
{
	return r->who.super_admin || (r->who.role != NULL && strcmp(r->who.role, "owner") == 0);
}

/* Only owners hand out owner and admin. 0, or -1 after answering. */
static int
may_grant(struct req *r, const char *role)
{
	if ((strcmp(role, "owner") == 0 || strcmp(role, "admin") == 0) && !is_owner(r))
		return api_error(r, API_E_FORBIDDEN, NULL, "only owners can assign the %s role",
		    role), -1;
	return 0;
}

static int
org_needed(struct req *r)
{
	if (r->who.org_id == 0)
		return api_error(r, API_E_FORBIDDEN, NULL, "no organization: send "
		    "X-Organization-ID"), -1;
	return 0;
}

static json_t *
member_json(struct req *r, const struct db_res *m, unsigned i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", db_val(m, i, TEAM_M_ID),
	    "organization_id", r->who.org_public_id, "email", db_val(m, i, TEAM_M_EMAIL),
	    "role", to_dagctl(db_val(m, i, TEAM_M_ROLE)), "created_at",
	    db_val(m, i, TEAM_M_CREATED), "updated_at", db_val(m, i, TEAM_M_UPDATED));
}

static int
members_list(struct req *r)
{
	struct db_res *rows;
	json_t *items;
	unsigned i;
	int rc;

	if (org_needed(r) < 0)
		return 0;
	if ((rc = team_members(r->db, &r->arena, r->who.org_id, &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, member_json(r, rows, i));
	return api_json(r, 200, json_pack("{s:o, s:i}", "members", items, "total",
	    (int)rows->nrows));
}

/* The member of the path, not the caller; 1 after answering. */
static int
target(struct req *r, struct db_res **m, const char *verb)
{
	int rc = team_member(r->db, &r->arena, r->who.org_id, req_param(r, "user_id"), m);

	if (rc == TEAM_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "member '%s' not found", req_param(r, "user_id"));
		return 1;
	}
	if (rc < 0)
		return rc;
	if (db_int(*m, 0, TEAM_M_USER_DBID) == r->who.user_id) {
		api_error(r, API_E_FORBIDDEN, NULL, "you cannot %s yourself", verb);
		return 1;
	}
	/* Admins manage developers and readers only. */
	if (!is_owner(r) && (strcmp(db_val(*m, 0, TEAM_M_ROLE), "owner") == 0 ||
	    strcmp(db_val(*m, 0, TEAM_M_ROLE), "admin") == 0)) {
		api_error(r, API_E_FORBIDDEN, NULL, "only owners can %s an %s",
		    verb, db_val(*m, 0, TEAM_M_ROLE));
		return 1;
	}
	return 0;
}

static int
member_role(struct req *r)
{
	struct db_res *m;
	struct member mm;
	const char *word, *role;
	int rc;

	if (req_str(r, "role", 1, 16, &word) < 0)
		return 0;
	if ((role = from_dagctl(word)) == NULL)
		return api_invalid(r, "role", "must be owner, admin, developer or reader");
	if (may_grant(r, role) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = target(r, &m, "change the role of")) != 0) {
		db_rollback(r->db);
		return rc < 0 ? rc : 0;
	}
	rc = account_member_set_role(r->db, &r->arena, r->who.org_id, db_val(m, 0, TEAM_M_EMAIL),
	    role, &mm);
	if (rc == ACCOUNT_ELAST_OWNER) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "the last owner cannot be demoted");
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "member.role", "member",
	    db_val(m, 0, TEAM_M_ID), json_pack("{s:s, s:s}", "from",
	    db_val(m, 0, TEAM_M_ROLE), "to", role))) < 0 ||
	    (rc = team_member(r->db, &r->arena, r->who.org_id, db_val(m, 0, TEAM_M_ID), &m)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:o, s:s}", "member", member_json(r, m, 0),
	    "message", "Member role updated successfully"));
}

static int
member_remove(struct req *r)
{
	struct db_res *m;
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = target(r, &m, "remove")) != 0) {
		db_rollback(r->db);
		return rc < 0 ? rc : 0;
	}
	rc = team_member_remove(r->db, &r->arena, r->who.org_id, db_val(m, 0, TEAM_M_ID));
	if (rc == TEAM_ELAST_OWNER) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "the last owner cannot be removed");
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "member.remove", "member",
	    db_val(m, 0, TEAM_M_ID), json_pack("{s:s}", "email", db_val(m, 0, TEAM_M_EMAIL)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s}", "message", "Member removed successfully"));
}

static json_t *
invite_json(const struct db_res *v, unsigned i)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", db_val(v, i, TEAM_I_ID),
	    "organization_id", db_val(v, i, TEAM_I_ORG_PUBLIC), "email", db_val(v, i, TEAM_I_EMAIL),
	    "role", to_dagctl(db_val(v, i, TEAM_I_ROLE)), "status", "pending",
	    "expires_at", db_val(v, i, TEAM_I_EXPIRES), "created_at", db_val(v, i, TEAM_I_CREATED));

	if (db_val(v, i, TEAM_I_INVITED_BY) != NULL)
		json_object_set_new(o, "invited_by", json_string(db_val(v, i, TEAM_I_INVITED_BY)));
	return o;
}

static int
invites_list(struct req *r)
{
	struct db_res *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = team_invitations(r->db, &r->arena, r->who.org_id, &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, invite_json(rows, i));
	return api_json(r, 200, json_pack("{s:o, s:i}", "invitations", items, "total",
	    (int)rows->nrows));
}

static int
invite_create(struct req *r)
{
	struct db_res *row;
	const char *email, *word, *role, *token;
	json_t *o;
	int rc;

	if (req_str(r, "email", 1, 254, &email) < 0 || req_str(r, "role", 1, 16, &word) < 0)
		return 0;
	if (strchr(email, '@') == NULL || email[strcspn(email, " \t\r\n<>")] != '\0')
		return api_invalid(r, "email", "must be an email address");
	if ((role = from_dagctl(word)) == NULL)
		return api_invalid(r, "role", "must be owner, admin, developer or reader");
	if (may_grant(r, role) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = team_invite(r->db, r->srv->cfg, &r->arena, r->who.org_id, email, role, r->who.email,
	    3600LL * config_int(r->srv->cfg, "team", "invitation_ttl_hours"), &token, &row);
	if (rc == TEAM_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "%s is already a member", email);
	}
	/* The token is the invitee's alone: not in the trail. */
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "invitation.create", "invitation",
	    db_val(row, 0, TEAM_I_ID), json_pack("{s:s, s:s}", "email", email, "role", role))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	o = invite_json(row, 0);
	json_object_set_new(o, "token", json_string(token));
	return api_json(r, 201, o);
}

static int
invite_revoke(struct req *r)
{
	const char *id = req_param(r, "invitation_id");
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = team_revoke(r->db, r->who.org_id, id);
	if (rc == TEAM_ENOTFOUND) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "invitation '%s' not found", id);
	}
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "invitation.revoke", "invitation", id,
	    NULL)) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s}", "message", "Invitation revoked successfully"));
}

static int
invite_accept(struct req *r)
{
	struct db_res *v;
	struct member m;
	const char *token;
	int rc;

	if (req_str(r, "token", 1, 200, &token) < 0)
		return 0;
	if (r->who.email == NULL)
		return api_error(r, API_E_FORBIDDEN, NULL, "accept as the invited user");
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = team_token(r->db, &r->arena, token, &v);
	if (rc == TEAM_ENOTFOUND || rc == TEAM_EEXPIRED) {
		db_rollback(r->db);
		return api_error(r, rc == TEAM_EEXPIRED ? API_E_CONFLICT : API_E_NOT_FOUND, NULL,
		    rc == TEAM_EEXPIRED ? "the invitation has expired" : "no such invitation");
	}
	if (rc < 0)
		return rc;
	if (strcasecmp(r->who.email, db_val(v, 0, TEAM_I_EMAIL)) != 0) {
		db_rollback(r->db);
		return api_error(r, API_E_FORBIDDEN, NULL, "the invitation is for another email");
	}
	rc = account_member_add(r->db, &r->arena, db_int(v, 0, TEAM_I_ORG_ID),
	    db_val(v, 0, TEAM_I_EMAIL), db_val(v, 0, TEAM_I_ROLE), &m);
	if (rc == ACCOUNT_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "already a member");
	}
	if (rc < 0 || (rc = team_accepted(r->db, db_int(v, 0, TEAM_I_DBID))) < 0 ||
	    (rc = audit_write_as(r->db, db_int(v, 0, TEAM_I_ORG_ID), r->who.user_id,
	    r->who.email, r->who.ip, "invitation.accept", "invitation", db_val(v, 0, TEAM_I_ID),
	    json_pack("{s:s}", "role", db_val(v, 0, TEAM_I_ROLE)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:s}", "message",
	    "Invitation accepted successfully", "organization_id",
	    db_val(v, 0, TEAM_I_ORG_PUBLIC), "role", to_dagctl(db_val(v, 0, TEAM_I_ROLE))));
}
