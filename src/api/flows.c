/* /v1/flows: register versions, list, read, delete; and /v1/backends,
 * what this installation can execute. */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/cron.h"
#include "dagy/deployments.h"
#include "dagy/flows.h"
#include "dagy/flowspec.h"
#include "dagy/nodes.h"
#include "dagy/runs.h"

static int flows_create(struct req *r);
static int flows_list_h(struct req *r);
static int flows_latest(struct req *r);
static int flows_versions_h(struct req *r);
static int flows_get(struct req *r);
static int flows_delete_h(struct req *r);
static int backends(struct req *r);

const struct route flows_routes[] = {
	{"POST", "/v1/flows", flows_create, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/flows", flows_list_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/flows/{flow_name}/latest", flows_latest, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/flows/{flow_name}/versions", flows_versions_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/flows/{flow_name}/{flow_version}", flows_get, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"DELETE", "/v1/flows/{flow_name}", flows_delete_h, PERM_FLOWS_DELETE, 0, DIALECT_DAGY},
	{"GET", "/v1/backends", backends, PERM_FLOWS_READ, 0, DIALECT_DAGY},
};
const size_t flows_routes_n = sizeof(flows_routes) / sizeof(flows_routes[0]);

/* A version row as the spec shows it; full adds the spec and code hash. */
static json_t *
version_json(const struct db_res *v, unsigned i, int full)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:I}",
	    "flow_name", db_val(v, i, FLOWS_V_NAME),
	    "flow_version", db_val(v, i, FLOWS_V_VERSION),
	    "artifact_s3_uri", api_str_or_null(db_val(v, i, FLOWS_V_ARTIFACT)),
	    "created_at", db_val(v, i, FLOWS_V_CREATED),
	    "updated_at", db_val(v, i, FLOWS_V_UPDATED),
	    "schedule", api_str_or_null(db_val(v, i, FLOWS_V_SCHEDULE)),
	    "status", db_val(v, i, FLOWS_V_STATUS),
	    "deployment_name", api_str_or_null(db_val(v, i, FLOWS_V_DEPLOYMENT)),
	    "default_executor", api_str_or_null(db_val(v, i, FLOWS_V_EXECUTOR)),
	    "tags", api_json_col(db_val(v, i, FLOWS_V_TAGS)),
	    "namespace", api_str_or_null(db_val(v, i, FLOWS_V_NAMESPACE)),
	    "deployment_version", (json_int_t)db_int(v, i, FLOWS_V_SEQ));

	if (full) {
		json_object_set_new(o, "code_hash", json_string(db_val(v, i, FLOWS_V_HASH)));
		json_object_set_new(o, "flow_spec", api_json_col(db_val(v, i, FLOWS_V_SPEC)));
	}
	return o;
}

static int
spec_error(struct req *r, const struct flowspec_err *e)
{
	return api_error(r, API_E_VALIDATION, json_pack("{s:s, s:s, s:s}",
	    "node", e->node, "field", e->field, "reason", e->msg),
	    "invalid flow_spec: %s", e->msg);
}

/* A schedule is a 5-field cron expression or an interval like "30m". */
static int
check_schedule(struct req *r, const char *field, const char *s)
{
	struct cron c;
	char err[256];

	if (s == NULL || *s == '\0' || cron_interval(s) > 0 ||
	    cron_parse(s, &c, err, sizeof(err)) == 0)
		return 0;
	return api_invalid(r, field, "is neither a cron expression nor an interval "
	    "such as 30m: %s", err), -1;
}

int
flows_api_register(struct req *r, json_t *spec, const char *name, const char *version)
{
	struct flow_reg reg;
	struct flowspec_err e;
	struct db_res *row, *drow;
	json_t *tags, *custom;
	int rc, created;

	memset(&reg, 0, sizeof(reg));
	if (req_str(r, "artifact_s3_uri", 0, 1024, &reg.artifact) < 0 ||
	    req_name(r, "deployment_name", 0, &reg.deployment_name) < 0 ||
	    req_str(r, "schedule", 0, 200, &reg.schedule) < 0 ||
	    req_str(r, "status", 0, 16, &reg.status) < 0 ||
	    req_str(r, "default_executor", 0, 64, &reg.executor) < 0 ||
	    req_str(r, "namespace", 0, 200, &reg.namespace) < 0 ||
	    req_json_field(r, "tags", 0, &tags) < 0 ||
	    check_schedule(r, "schedule", reg.schedule) < 0)
		return 0;
	if (reg.status != NULL && strcmp(reg.status, "active") != 0 &&
	    strcmp(reg.status, "inactive") != 0)
		return api_invalid(r, "status", "must be active or inactive");
	reg.name = name;
	reg.version = version;
	reg.tags = tags;
	/* The org's custom node types, so that their nodes validate and pin
	 * the version they were registered with. */
	if ((rc = nodes_custom_map(r->db, &r->arena, r->who.org_id, &custom)) < 0)
		return rc;
	reg.canonical = flowspec_canonical_with(spec,
	    config_int(r->srv->cfg, "worker", "max_step_timeout_seconds"), custom, &e);
	json_decref(custom);
	if (reg.canonical == NULL)
		return spec_error(r, &e);
	if (reg.deployment_name != NULL &&
	    (rc = api_deploy_guard(r, reg.deployment_name, NULL, 1)) != 0) {
		rc = rc < 0 ? rc : 0;
		goto done;
	}
	if ((rc = db_begin(r->db)) < 0)
		goto done;
	rc = flows_register(r->db, &r->arena, r->who.org_id, &reg, &row);
	if (rc == FLOWS_EEXISTS) {
		db_rollback(r->db);
		rc = api_error(r, API_E_CONFLICT, NULL, "flow '%s' already has a version '%s'",
		    name, version);
		goto done;
	}
	if (rc < 0)
		goto done;
	if (reg.deployment_name != NULL) {
		struct deploy_settings ds = {.schedule = reg.schedule,
			.executor = reg.executor};

		if ((rc = deploy_upsert(r->db, &r->arena, r->who.org_id,
		    reg.deployment_name, db_int(row, 0, FLOWS_V_FLOW_ID),
		    db_int(row, 0, FLOWS_V_ID), &ds, &created, &drow)) < 0)
			goto done;
	}
	if ((rc = audit_write(r->db, &r->who, "flow.register", "flow", name,
	    json_pack("{s:s, s:s}", "flow_version", db_val(row, 0, FLOWS_V_VERSION),
	    "code_hash", db_val(row, 0, FLOWS_V_HASH)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		goto done;
	{
		json_t *o = version_json(row, 0, 0);

		/* The spec's 201 body: the listing fields plus the hash. */
		json_object_set_new(o, "code_hash", json_string(db_val(row, 0, FLOWS_V_HASH)));
		rc = api_json(r, 201, o);
	}
done:
	json_decref(reg.canonical);
	return rc;
}

static int
flows_create(struct req *r)
{
	json_t *spec = json_object_get(r->body_json, "flow_spec");
	const char *name, *version;

	if (!json_is_object(spec))
		return api_invalid(r, "flow_spec", "is required and must be an object");
	if (req_name(r, "flow_name", 0, &name) < 0 ||
	    req_version(r, "flow_version", &version) < 0)
		return 0;
	if (version == NULL && req_version(r, "version", &version) < 0)
		return 0;
	if (name == NULL) {
		json_t *n = json_object_get(spec, "name");

		if (!json_is_string(n))
			return api_invalid(r, "flow_name", "is required (or flow_spec.name)");
		json_object_set(r->body_json, "flow_name", n);
		if (req_name(r, "flow_name", 1, &name) < 0)
			return 0;
	}
	return flows_api_register(r, spec, name, version);
}

static int
flows_list_h(struct req *r)
{
	struct db_res *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc;
	unsigned i;

	if (req_page(r, 20, 100, &limit, &after) < 0)
		return 0;
	rc = flows_list(r->db, &r->arena, r->who.org_id,
	    json_string_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:s}",
		    "flow_name", db_val(rows, i, FLOWS_V_NAME),
		    "flow_version", db_val(rows, i, FLOWS_V_VERSION),
		    "namespace", api_str_or_null(db_val(rows, i, FLOWS_V_NAMESPACE)),
		    "tags", api_json_col(db_val(rows, i, FLOWS_V_TAGS)),
		    "status", db_val(rows, i, FLOWS_V_STATUS),
		    "created_at", db_val(rows, i, FLOWS_V_FLOW_CREATED),
		    "updated_at", db_val(rows, i, FLOWS_V_UPDATED)));
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[s]", db_val(rows, limit - 1, FLOWS_V_NAME));
	return api_page(r, items, key);
}

static int
one_version(struct req *r, const char *version)
{
	const char *name = req_param(r, "flow_name");
	struct db_res *row;
	int rc = flows_version(r->db, &r->arena, r->who.org_id, name, version, &row);

	if (rc == FLOWS_ENOTFOUND)
		return version == NULL ?
		    api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' not found", name) :
		    api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' has no version '%s'",
		    name, version);
	if (rc < 0)
		return rc;
	return api_json(r, 200, version_json(row, 0, 1));
}

static int
flows_latest(struct req *r)
{
	return one_version(r, NULL);
}

static int
flows_get(struct req *r)
{
	return one_version(r, req_param(r, "flow_version"));
}

static int
flows_versions_h(struct req *r)
{
	const char *name = req_param(r, "flow_name");
	struct db_res *rows;
	json_t *items;
	unsigned i;
	int rc = flows_versions(r->db, &r->arena, r->who.org_id, name, &rows);

	if (rc == FLOWS_ENOTFOUND)
		return api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' not found", name);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, json_pack("{s:s, s:I, s:o, s:s, s:s, s:s, s:s}",
		    "flow_version", db_val(rows, i, FLOWS_V_VERSION),
		    "deployment_version", (json_int_t)db_int(rows, i, FLOWS_V_SEQ),
		    "artifact_s3_uri", api_str_or_null(db_val(rows, i, FLOWS_V_ARTIFACT)),
		    "status", db_val(rows, i, FLOWS_V_STATUS),
		    "created_at", db_val(rows, i, FLOWS_V_CREATED),
		    "updated_at", db_val(rows, i, FLOWS_V_UPDATED),
		    "code_hash", db_val(rows, i, FLOWS_V_HASH)));
	return api_json(r, 200, json_pack("{s:s, s:o}", "flow_name", name, "items", items));
}

static int
flows_delete_h(struct req *r)
{
	const char *name = req_param(r, "flow_name");
	int rc;

	if ((rc = db_begin(r->db)) < 0)
		return rc;
	if ((rc = flows_delete(r->db, r->who.org_id, name)) < 0)
		return rc;
	if (rc == 0) {
		db_rollback(r->db);
		return api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' not found", name);
	}
	if ((rc = audit_write(r->db, &r->who, "flow.delete", "flow", name, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s}", "status", "deleted",
	    "flow_name", name));
}

/* One backend: the dagy-workers of this installation, with the limits of
 * its configuration and what is alive right now. */
static int
backends(struct req *r)
{
	const struct config *cfg = r->srv->cfg;
	int64_t workers, slots;
	int rc;

	if ((rc = runs_workers(r->db, &r->arena, &workers, &slots)) < 0)
		return rc;
	return api_json(r, 200, json_pack("[{s:s, s:[s,s,s,s,s], s:I, s:I, s:I, s:I, s:s}]",
	    "name", "local",
	    "capabilities", "cpu", "shell", "python", "http", "long_running",
	    "max_concurrent_runs", (json_int_t)config_int(cfg, "worker", "concurrency"),
	    "max_timeout_seconds", (json_int_t)config_int(cfg, "worker", "max_step_timeout_seconds"),
	    "workers", (json_int_t)workers, "concurrent_steps", (json_int_t)slots,
	    "description", "dagy-worker processes on this installation's hosts"));
}
