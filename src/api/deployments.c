/* /v1/deployments: a name pointing at a flow version, with its settings. */
#include <string.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/cron.h"
#include "dagy/deployments.h"
#include "dagy/flows.h"

static int dep_upsert(struct req *r);
static int dep_list(struct req *r);
static int dep_get(struct req *r);
static int dep_patch(struct req *r);
static int dep_rollback(struct req *r);
static int dep_settings(struct req *r);
static int dep_delete(struct req *r);

const struct route deployments_routes[] = {
	{"POST", "/v1/deployments", dep_upsert, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/deployments", dep_list, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/deployments/{name}", dep_get, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"PATCH", "/v1/deployments/{name}", dep_patch, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", "/v1/deployments/{name}/rollback", dep_rollback, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"PUT", "/v1/deployments/{name}/settings", dep_settings, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"DELETE", "/v1/deployments/{name}", dep_delete, PERM_FLOWS_WRITE, 0, DIALECT_DAGY},
};
const size_t deployments_routes_n = sizeof(deployments_routes) / sizeof(deployments_routes[0]);

static const char *const modes[] = {"nano", "micro", "small", "medium", "large", "xlarge", NULL};
/* Every executor name runs on dagy-worker; the spec's cloud names are
 * accepted so existing clients keep working (doc/decisions.md). */
static const char *const executors[] = {"", "local", "lambda", "flow-executor",
	"step-functions", "ecs", "kubernetes", NULL};

static int
one_of(const char *v, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(*set, v) == 0)
			return 1;
	return 0;
}

int
api_executor_valid(const char *name)
{
	return one_of(name, executors);
}

int
api_deploy_guard(struct req *r, const char *name, const char *to, int create)
{
	struct db_res *cur;
	int rc = deploy_get(r->db, &r->arena, r->who.org_id, name, &cur);

	if (rc == DEPLOY_ENOTFOUND)
		return api_env_guard(r, to != NULL ? to : create ? "production" : NULL, "deploy");
	if (rc < 0 || (rc = api_env_guard(r, db_val(cur, 0, DEPLOY_C_ENV), "deploy")) != 0)
		return rc;
	return api_env_guard(r, to, "deploy");
}

static json_t *
deployment_json(const struct db_res *d, unsigned i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:s}",
	    "deployment_id", db_val(d, i, DEPLOY_C_ID),
	    "deployment_name", db_val(d, i, DEPLOY_C_NAME),
	    "flow_name", db_val(d, i, DEPLOY_C_FLOW),
	    "flow_version", db_val(d, i, DEPLOY_C_VERSION),
	    "environment", db_val(d, i, DEPLOY_C_ENV),
	    "schedule", api_str_or_null(db_val(d, i, DEPLOY_C_SCHEDULE)),
	    "default_executor", db_val(d, i, DEPLOY_C_EXECUTOR),
	    "execution_mode", db_val(d, i, DEPLOY_C_MODE),
	    "tags", api_json_col(db_val(d, i, DEPLOY_C_TAGS)),
	    "dep_package_slugs", db_val(d, i, DEPLOY_C_SLUGS) != NULL ?
	    api_json_col(db_val(d, i, DEPLOY_C_SLUGS)) : json_array(),
	    "updated_at", db_val(d, i, DEPLOY_C_UPDATED),
	    "promoted_from_env", api_str_or_null(db_val(d, i, DEPLOY_C_PROMOTED_ENV)),
	    "promoted_from_deployment", api_str_or_null(db_val(d, i, DEPLOY_C_PROMOTED_DEP)),
	    "promoted_at", api_str_or_null(db_val(d, i, DEPLOY_C_PROMOTED_AT)),
	    "status", db_val(d, i, DEPLOY_C_STATUS));
}

/* Reads the settings fields present in the body; -1 after a 400. *n counts
 * the fields given. */
static int
read_settings(struct req *r, struct deploy_settings *s, int *n)
{
	json_t *tags, *slugs;
	struct cron c;
	char err[256];
	size_t i;
	json_t *v;

	memset(s, 0, sizeof(*s));
	if (req_str(r, "environment", 0, 64, &s->environment) < 0 ||
	    req_str(r, "schedule", 0, 200, &s->schedule) < 0 ||
	    req_str(r, "default_executor", 0, 64, &s->executor) < 0 ||
	    req_str(r, "execution_mode", 0, 16, &s->mode) < 0 ||
	    req_json_field(r, "tags", 1, &tags) < 0 ||
	    req_json_field(r, "dep_package_slugs", 1, &slugs) < 0)
		return -1;
	if (s->mode != NULL && !one_of(s->mode, modes))
		return api_invalid(r, "execution_mode",
		    "must be nano, micro, small, medium, large or xlarge"), -1;
	if (s->executor != NULL && !api_executor_valid(s->executor))
		return api_invalid(r, "default_executor", "must be local, lambda, "
		    "flow-executor, step-functions, ecs, kubernetes or \"\""), -1;
	if (s->schedule != NULL && *s->schedule != '\0' && cron_interval(s->schedule) < 0 &&
	    cron_parse(s->schedule, &c, err, sizeof(err)) < 0)
		return api_invalid(r, "schedule", "is neither a cron expression nor an "
		    "interval such as 30m: %s", err), -1;
	if (slugs != NULL) {
		if (!json_is_array(slugs))
			return api_invalid(r, "dep_package_slugs", "must be an array of strings"), -1;
		json_array_foreach(slugs, i, v)
			if (!json_is_string(v))
				return api_invalid(r, "dep_package_slugs", "must be an array of strings"), -1;
	}
	s->tags = api_json_text(r, tags);
	s->slugs = api_json_text(r, slugs);
	*n = (s->environment != NULL) + (s->schedule != NULL) + (s->executor != NULL) +
	    (s->mode != NULL) + (tags != NULL) + (slugs != NULL);
	return 0;
}

static int
not_found(struct req *r, const char *name)
{
	return api_error(r, API_E_NOT_FOUND, NULL, "deployment '%s' not found", name);
}

static int
dep_upsert(struct req *r)
{
	const char *name, *flow, *version;
	struct deploy_settings s;
	struct db_res *v, *row;
	int rc, created, n;

	if (req_name(r, "name", 1, &name) < 0 || req_name(r, "flow_name", 1, &flow) < 0 ||
	    req_version(r, "flow_version", &version) < 0 || read_settings(r, &s, &n) < 0)
		return 0;
	if ((rc = api_deploy_guard(r, name, s.environment, 1)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = flows_version(r->db, &r->arena, r->who.org_id, flow, version, &v);
	if (rc == FLOWS_ENOTFOUND) {
		db_rollback(r->db);
		return version == NULL ?
		    api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' not found", flow) :
		    api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' has no version '%s'",
		    flow, version);
	}
	if (rc < 0 ||
	    (rc = deploy_upsert(r->db, &r->arena, r->who.org_id, name,
	    db_int(v, 0, FLOWS_V_FLOW_ID), db_int(v, 0, FLOWS_V_ID), &s, &created, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, created ? "deployment.create" :
	    "deployment.update", "deployment", name,
	    json_pack("{s:s, s:s}", "flow_name", flow, "flow_version",
	    db_val(row, 0, DEPLOY_C_VERSION)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, created ? 201 : 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
	    "deployment_id", db_val(row, 0, DEPLOY_C_ID), "name", name, "flow_name", flow,
	    "flow_version", db_val(row, 0, DEPLOY_C_VERSION),
	    "status", db_val(row, 0, DEPLOY_C_STATUS),
	    "created_at", db_val(row, 0, DEPLOY_C_CREATED),
	    "schedule", api_str_or_null(db_val(row, 0, DEPLOY_C_SCHEDULE))));
}

static int
dep_list(struct req *r)
{
	const char *env = req_query(r, "environment");
	struct db_res *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc;
	unsigned i;

	if (req_page(r, 100, 500, &limit, &after) < 0)
		return 0;
	rc = deploy_list(r->db, &r->arena, r->who.org_id, env,
	    json_string_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++)
		json_array_append_new(items, deployment_json(rows, i));
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[s]", db_val(rows, limit - 1, DEPLOY_C_NAME));
	return api_page(r, items, key);
}

static int
dep_get(struct req *r)
{
	const char *name = req_param(r, "name");
	struct db_res *row;
	int rc = deploy_get(r->db, &r->arena, r->who.org_id, name, &row);

	if (rc == DEPLOY_ENOTFOUND)
		return not_found(r, name);
	if (rc < 0)
		return rc;
	return api_json(r, 200, deployment_json(row, 0));
}

/* Repoints a deployment (PATCH and rollback); answers errors itself. */
static int
repoint(struct req *r, const char *version, struct db_res **before,
    struct db_res **after)
{
	const char *name = req_param(r, "name");
	int rc;

	if ((rc = api_deploy_guard(r, name, NULL, 0)) != 0)
		return rc < 0 ? rc : 1;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = deploy_get(r->db, &r->arena, r->who.org_id, name, before);
	if (rc == 0)
		rc = deploy_set_version(r->db, &r->arena, r->who.org_id, name, version, after);
	if (rc == DEPLOY_ENOTFOUND || rc == FLOWS_ENOTFOUND || rc == DEPLOY_ENOPREV) {
		db_rollback(r->db);
		if (rc == DEPLOY_ENOTFOUND)
			not_found(r, name);
		else if (rc == FLOWS_ENOTFOUND)
			api_error(r, API_E_NOT_FOUND, NULL, "flow '%s' has no version '%s'",
			    db_val(*before, 0, DEPLOY_C_FLOW), version);
		else
			api_error(r, API_E_CONFLICT, NULL,
			    "deployment '%s' has no earlier version to roll back to", name);
		return 1;
	}
	if (rc < 0 ||
	    (rc = audit_write(r->db, &r->who, version != NULL ? "deployment.version" :
	    "deployment.rollback", "deployment", name,
	    json_pack("{s:s, s:s}", "from", db_val(*before, 0, DEPLOY_C_VERSION),
	    "to", db_val(*after, 0, DEPLOY_C_VERSION)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return 0;
}

static int
dep_patch(struct req *r)
{
	const char *version;
	struct db_res *before, *after;
	int rc;

	if (req_version(r, "flow_version", &version) < 0)
		return 0;
	if (version == NULL)
		return api_invalid(r, "flow_version", "is required");
	if ((rc = repoint(r, version, &before, &after)) != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, deployment_json(after, 0));
}

static int
dep_rollback(struct req *r)
{
	const char *version;
	struct db_res *before, *after;
	int rc;

	if (req_version(r, "target_flow_version", &version) < 0)
		return 0;
	if ((rc = repoint(r, version, &before, &after)) != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, json_pack("{s:s, s:s, s:s, s:s}",
	    "deployment_name", db_val(after, 0, DEPLOY_C_NAME),
	    "previous_flow_version", db_val(before, 0, DEPLOY_C_VERSION),
	    "new_flow_version", db_val(after, 0, DEPLOY_C_VERSION),
	    "rolled_back_at", db_val(after, 0, DEPLOY_C_UPDATED)));
}

static int
dep_settings(struct req *r)
{
	const char *name = req_param(r, "name");
	struct deploy_settings s;
	struct db_res *row;
	int rc, n;

	if (read_settings(r, &s, &n) < 0)
		return 0;
	if (n == 0)
		return api_error(r, API_E_VALIDATION, NULL, "no settings given: send one or "
		    "more of execution_mode, default_executor, schedule, tags, dep_package_slugs");
	if ((rc = api_deploy_guard(r, name, s.environment, 0)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = deploy_get(r->db, &r->arena, r->who.org_id, name, &row);
	if (rc == DEPLOY_ENOTFOUND) {
		db_rollback(r->db);
		return not_found(r, name);
	}
	if (rc < 0 ||
	    (rc = deploy_update_settings(r->db, &r->arena, r->who.org_id, name, &s, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "deployment.settings", "deployment", name,
	    json_incref(r->body_json))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, deployment_json(row, 0));
}

static int
dep_delete(struct req *r)
{
	const char *name = req_param(r, "name");
	int rc;

	if ((rc = api_deploy_guard(r, name, NULL, 0)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0 || (rc = deploy_delete(r->db, r->who.org_id, name)) < 0)
		return rc;
	if (rc == 0) {
		db_rollback(r->db);
		return not_found(r, name);
	}
	if ((rc = audit_write(r->db, &r->who, "deployment.delete", "deployment", name, NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s, s:s}", "status", "deleted",
	    "deployment_name", name));
}
