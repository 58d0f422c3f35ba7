/* /v1/dag-drafts: the visual builder's drafts, and publish (an extension)
 * that turns one into a flow version through the flow validation. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/drafts.h"
#include "dagy/flowspec.h"

static int drafts_create_h(struct req *r);
static int drafts_list_h(struct req *r);
static int drafts_get_h(struct req *r);
static int drafts_update_h(struct req *r);
static int drafts_delete_h(struct req *r);
static int drafts_publish(struct req *r);

const struct route drafts_routes[] = {
	{"POST", "/v1/dag-drafts", drafts_create_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/dag-drafts", drafts_list_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/dag-drafts/{draft_id}", drafts_get_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"PUT", "/v1/dag-drafts/{draft_id}", drafts_update_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"DELETE", "/v1/dag-drafts/{draft_id}", drafts_delete_h, PERM_FLOWS_WRITE, 0, DIALECT_DAGY},
	{"POST", "/v1/dag-drafts/{draft_id}/publish", drafts_publish, PERM_FLOWS_WRITE,
	    ROUTE_BODY, DIALECT_DAGY},
};
const size_t drafts_routes_n = sizeof(drafts_routes) / sizeof(drafts_routes[0]);

static json_t *
draft_json(const struct db_res *d, unsigned i, int with_canvas)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:s}",
	    "draft_id", db_val(d, i, DRAFT_C_ID), "name", db_val(d, i, DRAFT_C_NAME),
	    "description", api_str_or_null(db_val(d, i, DRAFT_C_DESCRIPTION)),
	    "flow_name", api_str_or_null(db_val(d, i, DRAFT_C_FLOW)),
	    "executor", api_str_or_null(db_val(d, i, DRAFT_C_EXECUTOR)),
	    "created_at", db_val(d, i, DRAFT_C_CREATED),
	    "updated_at", db_val(d, i, DRAFT_C_UPDATED));

	if (with_canvas)
		json_object_set_new(o, "canvas_json", api_json_col(db_val(d, i, DRAFT_C_CANVAS)));
	return o;
}

/* Reads the body's fields; canvas_json is checked for shape and cycles. */
static int
read_fields(struct req *r, struct draft_fields *f, int create)
{
	json_t *canvas = json_object_get(r->body_json, "canvas_json");
	struct flowspec_err e;

	memset(f, 0, sizeof(*f));
	if (req_str(r, "name", create, 200, &f->name) < 0 ||
	    req_str(r, "description", 0, 10000, &f->description) < 0 ||
	    req_name(r, "flow_name", 0, &f->flow_name) < 0 ||
	    req_str(r, "executor", 0, 64, &f->executor) < 0)
		return -1;
	if (canvas == NULL && create)
		return api_invalid(r, "canvas_json", "is required"), -1;
	if (canvas != NULL) {
		char *text;

		if (flowspec_check_canvas(canvas, &e) < 0)
			return api_error(r, API_E_VALIDATION, json_pack("{s:s, s:s, s:s}",
			    "node", e.node, "field", e.field, "reason", e.msg),
			    "invalid canvas_json: %s", e.msg), -1;
		text = json_dumps(canvas, JSON_COMPACT);
		f->canvas = arena_strdup(&r->arena, text);
		free(text);
	}
	return 0;
}

static int
not_found(struct req *r)
{
	return api_error(r, API_E_NOT_FOUND, NULL, "draft '%s' not found",
	    req_param(r, "draft_id"));
}

static int
drafts_create_h(struct req *r)
{
	struct draft_fields f;
	struct db_res *row;
	int rc;

	if (read_fields(r, &f, 1) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = drafts_create(r->db, &r->arena, r->who.org_id, r->who.user_id, &f, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "draft.create", "draft",
	    db_val(row, 0, DRAFT_C_ID), json_pack("{s:s}", "name", f.name))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, draft_json(row, 0, 0));
}

static json_t *
draft_item(const struct db_res *rows, unsigned i)
{
	return draft_json(rows, i, 0);
}

static int
drafts_list_h(struct req *r)
{
	return api_list_by_key(r, drafts_list, draft_item, DRAFT_C_SEQ);
}

static int
drafts_get_h(struct req *r)
{
	struct db_res *row;
	int rc = drafts_get(r->db, &r->arena, r->who.org_id, req_param(r, "draft_id"), &row);

	if (rc == DRAFTS_ENOTFOUND)
		return not_found(r);
	if (rc < 0)
		return rc;
	return api_json(r, 200, draft_json(row, 0, 1));
}

static int
drafts_update_h(struct req *r)
{
	const char *id = req_param(r, "draft_id");
	struct draft_fields f;
	struct db_res *row;
	int rc;

	if (read_fields(r, &f, 0) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = drafts_get(r->db, &r->arena, r->who.org_id, id, &row);
	if (rc == DRAFTS_ENOTFOUND) {
		db_rollback(r->db);
		return not_found(r);
	}
	if (rc < 0 ||
	    (rc = drafts_update(r->db, &r->arena, r->who.org_id, id, &f, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "draft.update", "draft", id, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s, s:s}", "draft_id", id,
	    "name", db_val(row, 0, DRAFT_C_NAME), "updated_at", db_val(row, 0, DRAFT_C_UPDATED)));
}

static int
drafts_delete_h(struct req *r)
{
	const char *id = req_param(r, "draft_id");
	int rc;

	if ((rc = db_begin(r->db)) < 0 || (rc = drafts_delete(r->db, r->who.org_id, id)) < 0)
		return rc;
	if (rc == 0) {
		db_rollback(r->db);
		return not_found(r);
	}
	if ((rc = audit_write(r->db, &r->who, "draft.delete", "draft", id, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

static int
drafts_publish(struct req *r)
{
	struct db_res *row;
	const char *name, *version;
	json_t *canvas, *spec;
	int rc = drafts_get(r->db, &r->arena, r->who.org_id, req_param(r, "draft_id"), &row);

	if (rc == DRAFTS_ENOTFOUND)
		return not_found(r);
	if (rc < 0)
		return rc;
	if (req_name(r, "flow_name", 0, &name) < 0 ||
	    req_version(r, "flow_version", &version) < 0)
		return 0;
	if (name == NULL && (name = db_val(row, 0, DRAFT_C_FLOW)) == NULL)
		return api_invalid(r, "flow_name", "is required: the draft names no flow");
	canvas = api_json_col(db_val(row, 0, DRAFT_C_CANVAS));
	spec = flowspec_from_canvas(canvas);
	json_decref(canvas);
	rc = flows_api_register(r, spec, name, version);
	json_decref(spec);
	return rc;
}
