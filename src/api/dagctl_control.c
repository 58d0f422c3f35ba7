/* The dagctl control plane (/api/v1/projects…): projects, their jobs and
 * plans in dagctl's shapes. A project runs through the dagy flow named
 * after its public id, whose one shell step runs a command in the
 * project's checkout; a job is a schedule of that flow, a plan a pair of
 * its runs (explain, execute) that the worker's sync thread starts. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/audit.h"
#include "dagy/config.h"
#include "dagy/dagctl_vars.h"
#include "dagy/flows.h"
#include "dagy/flowspec.h"
#include "dagy/ids.h"
#include "dagy/projects.h"
#include "dagy/runs.h"
#include "dagy/schedules.h"
#include "dagy/secrets.h"
#include "dagy/ts.h"
#include "dagy/wake.h"

static int prj_list(struct req *r);
static int prj_create(struct req *r);
static int prj_get(struct req *r);
static int prj_update(struct req *r);
static int prj_delete(struct req *r);
static int prj_deploy(struct req *r);
static int prj_undeploy(struct req *r);
static int prj_suspend(struct req *r);
static int prj_resume(struct req *r);
static int job_list(struct req *r);
static int job_create(struct req *r);
static int job_get(struct req *r);
static int job_update(struct req *r);
static int job_delete(struct req *r);
static int job_trigger(struct req *r);
static int job_logs(struct req *r);
static int plan_list(struct req *r);
static int plan_create(struct req *r);
static int plan_pending(struct req *r);
static int plan_get(struct req *r);
static int plan_approve(struct req *r);
static int plan_reject(struct req *r);
static int plan_cancel(struct req *r);
static int plan_retry(struct req *r);

#define P "/api/v1/projects"
#define PID P "/{project_id}"
#define D DIALECT_DAGCTL
const struct route dagctl_control_routes[] = {
	{"GET", P, prj_list, PERM_FLOWS_READ, 0, D},
	{"POST", P, prj_create, PERM_FLOWS_WRITE, ROUTE_BODY, D},
	{"GET", PID, prj_get, PERM_FLOWS_READ, 0, D},
	{"PUT", PID, prj_update, PERM_FLOWS_WRITE, ROUTE_BODY, D},
	{"DELETE", PID, prj_delete, PERM_FLOWS_DELETE, 0, D},
	{"POST", PID "/deploy", prj_deploy, PERM_FLOWS_WRITE, 0, D},
	{"POST", PID "/undeploy", prj_undeploy, PERM_FLOWS_WRITE, 0, D},
	{"POST", PID "/suspend", prj_suspend, PERM_FLOWS_WRITE, 0, D},
	{"POST", PID "/resume", prj_resume, PERM_FLOWS_WRITE, 0, D},
	{"GET", PID "/jobs", job_list, PERM_SCHEDULES_READ, 0, D},
	{"POST", PID "/jobs", job_create, PERM_SCHEDULES_WRITE, ROUTE_BODY, D},
	{"GET", PID "/jobs/{job_id}", job_get, PERM_SCHEDULES_READ, 0, D},
	{"PUT", PID "/jobs/{job_id}", job_update, PERM_SCHEDULES_WRITE, ROUTE_BODY, D},
	{"DELETE", PID "/jobs/{job_id}", job_delete, PERM_SCHEDULES_DELETE, 0, D},
	{"POST", PID "/jobs/{job_id}/trigger", job_trigger, PERM_RUNS_TRIGGER, 0, D},
	{"GET", PID "/jobs/{job_id}/logs", job_logs, PERM_RUNS_READ, 0, D},
	{"GET", PID "/plans", plan_list, PERM_RUNS_READ, 0, D},
	{"POST", PID "/plans", plan_create, PERM_RUNS_TRIGGER, 0, D},
	{"GET", PID "/plans/pending", plan_pending, PERM_RUNS_READ, 0, D},
	{"GET", PID "/plans/{plan_id}", plan_get, PERM_RUNS_READ, 0, D},
	{"POST", PID "/plans/{plan_id}/approve", plan_approve, PERM_FLOWS_WRITE, 0, D},
	{"POST", PID "/plans/{plan_id}/reject", plan_reject, PERM_FLOWS_WRITE, 0, D},
	{"POST", PID "/plans/{plan_id}/cancel", plan_cancel, PERM_RUNS_CANCEL, 0, D},
	{"POST", PID "/plans/{plan_id}/retry", plan_retry, PERM_RUNS_TRIGGER, 0, D},
};
const size_t dagctl_control_routes_n =
    sizeof(dagctl_control_routes) / sizeof(dagctl_control_routes[0]);

/* Settings kept as given and shown back: name, JSON type. */
static const struct {
	const char *name;
	json_type type;
} settings_keys[] = {
	{"sqlmesh_environment", JSON_STRING}, {"sqlmesh_version", JSON_STRING},
	{"dbt_version", JSON_STRING}, {"dbt_target", JSON_STRING},
	{"use_managed_state_database", JSON_TRUE}, {"auto_apply", JSON_TRUE},
	{"run_tests", JSON_TRUE}, {"cpu_request", JSON_STRING}, {"cpu_limit", JSON_STRING},
	{"memory_request", JSON_STRING}, {"memory_limit", JSON_STRING},
	{"concurrency_policy", JSON_STRING},
	{"successful_runs_history_limit", JSON_INTEGER},
	{"failed_runs_history_limit", JSON_INTEGER},
};

/* The subcommands a dbt job may run, as dagctl lists them. */
static const char *const dbt_commands[] = {
	"build", "run", "test", "snapshot", "seed", "compile", "deps", "source", "ls", "list",
	"docs", "parse", "clean", "debug", "run-operation", "show", "retry", "clone",
};

static void
put_str(json_t *o, const char *key, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, key, json_string(v));
}

static void
wake(struct req *r)
{
	wake_send(config_str(r->srv->cfg, "worker", "wake_dir"), WAKE_ALL);
}

/* page and limit (default def); -1 after a 400. */
static int
paging(struct req *r, int def, int *page, int *limit)
{
	const char *p = req_query(r, "page"), *l = req_query(r, "limit");
	char *end;
	long v;

	*page = 1;
	*limit = def;
	if (p != NULL) {
		v = strtol(p, &end, 10);
		if (*p == '\0' || *end != '\0' || v < 1 || v > 10000000)
			return api_invalid(r, "page", "must be a whole number >= 1"), -1;
		*page = (int)v;
	}
	if (l != NULL) {
		v = strtol(l, &end, 10);
		if (*l == '\0' || *end != '\0' || v < 1 || v > 500)
			return api_invalid(r, "limit", "must be from 1 to 500"), -1;
		*limit = (int)v;
	}
	return 0;
}

static json_t *
paged(const char *key, json_t *items, int page, int limit, int64_t total)
{
	return json_pack("{s:o, s:I, s:i, s:i, s:I}", key, items, "total", (json_int_t)total,
	    "page", page, "limit", limit,
	    "total_pages", (json_int_t)((total + limit - 1) / limit));
}

/* The project checkout the worker keeps: <projects dir>/<id>/repo. */
static const char *
checkout_dir(struct req *r, const char *id)
{
	return arena_printf(&r->arena, "%s/%s/repo", config_str(r->srv->cfg, "projects", "dir"),
	    id);
}

static json_t *
project_json(const struct db_res *p, unsigned i)
{
	json_t *o = json_object(), *s = api_json_col(db_val(p, i, PRJ_C_SETTINGS));
	int deployed = db_int(p, i, PRJ_C_DEPLOYED) != 0;
	int suspended = db_int(p, i, PRJ_C_SUSPENDED) != 0;
	const char *status = !deployed ? "undeployed" : suspended ? "suspended" :
	    db_val(p, i, PRJ_C_ERROR) != NULL ? "error" :
	    db_val(p, i, PRJ_C_CURRENT) == NULL ? "deploying" : "active";

	json_object_set_new(o, "id", json_string(db_val(p, i, PRJ_C_ID)));
	json_object_set_new(o, "organization_id", json_string(db_val(p, i, PRJ_C_ORG_PUBLIC)));
	json_object_set_new(o, "name", json_string(db_val(p, i, PRJ_C_NAME)));
	put_str(o, "description", db_val(p, i, PRJ_C_DESCRIPTION));
	json_object_set_new(o, "project_type", json_string(db_val(p, i, PRJ_C_TYPE)));
	json_object_set_new(o, "repository_url", json_string(db_val(p, i, PRJ_C_URL)));
	json_object_set_new(o, "branch", json_string(db_val(p, i, PRJ_C_BRANCH)));
	json_object_set_new(o, "git_auth_method", json_string(db_val(p, i, PRJ_C_AUTH)));
	if (json_is_object(s))
		json_object_update(o, s);
	json_decref(s);
	json_object_set_new(o, "deployed", json_boolean(deployed));
	json_object_set_new(o, "suspended", json_boolean(suspended));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "commits_behind", json_integer(db_int(p, i, PRJ_C_BEHIND)));
	put_str(o, "current_commit_sha", db_val(p, i, PRJ_C_CURRENT));
	put_str(o, "latest_commit_sha", db_val(p, i, PRJ_C_LATEST));
	put_str(o, "latest_commit_message", db_val(p, i, PRJ_C_MESSAGE));
	put_str(o, "sync_error", db_val(p, i, PRJ_C_ERROR));
	put_str(o, "last_synced_at", db_val(p, i, PRJ_C_SYNCED));
	json_object_set_new(o, "created_at", json_string(db_val(p, i, PRJ_C_CREATED)));
	json_object_set_new(o, "updated_at", json_string(db_val(p, i, PRJ_C_UPDATED)));
	return o;
}

/* The project of the path; 1 after answering 404. */
static int
project(struct req *r, struct db_res **row)
{
	int rc = projects_get(r->db, &r->arena, r->who.org_id, req_param(r, "project_id"), row);

	if (rc == PROJECTS_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "project '%s' not found",
		    req_param(r, "project_id"));
		return 1;
	}
	return rc;
}

/* Reads the settings of the body into s (a new object merged over old). */
static int
read_settings(struct req *r, json_t *s)
{
	size_t k;

	for (k = 0; k < sizeof(settings_keys) / sizeof(settings_keys[0]); k++) {
		json_t *v = json_object_get(r->body_json, settings_keys[k].name);
		int ok;

		if (v == NULL)
			continue;
		ok = settings_keys[k].type == JSON_TRUE ? json_is_boolean(v) :
		    settings_keys[k].type == JSON_INTEGER ? json_is_integer(v) :
		    json_is_string(v) && strlen(json_string_value(v)) <= 200;
		if (!ok)
			return api_invalid(r, settings_keys[k].name, "must be %s",
			    settings_keys[k].type == JSON_TRUE ? "true or false" :
			    settings_keys[k].type == JSON_INTEGER ? "a whole number" :
			    "a string of at most 200 characters"), -1;
		json_object_set(s, settings_keys[k].name, v);
	}
	return 0;
}

/* git_auth_method and its credential (https_token, ssh_private_key),
 * sealed into f; keep: the method did not change and no new one came. */
static int
read_auth(struct req *r, struct project_fields *f, const char *id)
{
	const char *token, *key, *secret = NULL;

	if (req_str(r, "git_auth_method", 0, 16, &f->auth) < 0 ||
	    req_str(r, "https_token", 0, 4096, &token) < 0 ||
	    req_str(r, "ssh_private_key", 0, 16384, &key) < 0)
		return -1;
	if (f->auth == NULL)
		f->auth = key != NULL ? "ssh" : token != NULL ? "https" : "none";
	if (strcmp(f->auth, "github_app") == 0)
		f->auth = "https";
	if (strcmp(f->auth, "none") == 0) {
		f->sealed = f->key_id = NULL;
		return 0;
	}
	if (strcmp(f->auth, "https") == 0)
		secret = token;
	else if (strcmp(f->auth, "ssh") == 0)
		secret = key;
	else
		return api_invalid(r, "git_auth_method", "must be none, https, github_app or ssh"),
		    -1;
	if (secret == NULL) {
		if (f->sealed != NULL)
			return 0;
		return api_invalid(r, strcmp(f->auth, "ssh") == 0 ? "ssh_private_key" :
		    "https_token", "is required for git_auth_method %s", f->auth), -1;
	}
	if (secrets_seal(r->srv->keys, &r->arena, r->who.org_id, PROJECTS_SEAL_SCOPE, id,
	    secret, strlen(secret), &f->sealed) < 0)
		return api_error(r, API_E_INTERNAL, NULL, "the credential could not be sealed"),
		    -1;
	f->key_id = secrets_keyring_current(r->srv->keys);
	return 0;
}

/* file:// and http:// only where [projects] allow_local_urls says so: the
 * worker clones as its own user, so a file:// URL could name another
 * organization's checkout, and http:// would send the token in clear. */
static int
check_url(struct req *r, const char *url)
{
	int local = strncmp(url, "http://", 7) == 0 || strncmp(url, "file://", 7) == 0;

	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "ssh://", 6) != 0 &&
	    strncmp(url, "git@", 4) != 0 && !local)
		return api_invalid(r, "repository_url", "must be an https://, ssh:// or git@ URL"),
		    -1;
	if (local && !config_int(r->srv->cfg, "projects", "allow_local_urls"))
		return api_invalid(r, "repository_url", "file:// and http:// URLs are not "
		    "allowed on this installation ([projects] allow_local_urls)"), -1;
	if (url[strcspn(url, " \t\r\n'\"\\")] != '\0' || url[0] == '-')
		return api_invalid(r, "repository_url", "must not hold spaces or quotes"), -1;
	return 0;
}

static int
check_branch(struct req *r, const char *b)
{
	size_t i;

	if (b[0] == '-' || b[0] == '\0' || strstr(b, "..") != NULL)
		return api_invalid(r, "branch", "is not a valid branch name"), -1;
	for (i = 0; b[i] != '\0'; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') ||
		    (b[i] >= '0' && b[i] <= '9') || strchr("._-/", b[i]) != NULL))
			return api_invalid(r, "branch", "may hold letters, digits, '.', '_', "
			    "'-' and '/'"), -1;
	return 0;
}

/* The project's flow: one shell step running $DAGY_PARAM_COMMAND in
 * $DAGY_PARAM_DIR (the checkout, or a plan's worktree), with the
 * variables of the "dagctl" environment (DAGY_VAR_<NAME>) under their
 * own names, as dagctl injects them. */
static int
register_flow(struct req *r, const char *id, const char *type, int64_t *flow_id)
{
	struct flow_reg reg;
	struct flowspec_err e;
	struct db_res *row;
	json_t *spec;
	int rc;

	spec = json_pack("{s:[{s:s, s:s, s:{s:s}}], s:{s:{s:s}, s:{s:s}}}",
	    "nodes", "id", type, "type", "shell", "config", "command",
	    "cd \"$DAGY_PARAM_DIR\" && for v in $(env | sed -n"
	    " 's/^DAGY_VAR_\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p'); do"
	    " eval \"export $v=\\\"\\$DAGY_VAR_$v\\\"\"; done && exec /bin/sh -c \"$DAGY_PARAM_COMMAND\"",
	    "params", "command", "default", "true", "dir", "default", checkout_dir(r, id));
	memset(&reg, 0, sizeof(reg));
	reg.name = id;
	reg.canonical = flowspec_canonical(spec,
	    config_int(r->srv->cfg, "worker", "max_step_timeout_seconds"), &e);
	json_decref(spec);
	if (reg.canonical == NULL)
		return api_error(r, API_E_INTERNAL, NULL, "%s", e.msg), 1;
	rc = flows_register(r->db, &r->arena, r->who.org_id, &reg, &row);
	json_decref(reg.canonical);
	if (rc < 0)
		return rc;
	*flow_id = db_int(row, 0, FLOWS_V_FLOW_ID);
	return 0;
}

static int
prj_list(struct req *r)
{
	struct db_res *rows;
	int64_t total;
	int page, limit, rc;
	json_t *items;
	unsigned i;

	if (paging(r, 100, &page, &limit) < 0)
		return 0;
	if ((rc = projects_list(r->db, &r->arena, r->who.org_id, page, limit, &rows, &total)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, project_json(rows, i));
	return api_json(r, 200, paged("projects", items, page, limit, total));
}

static int
prj_create(struct req *r)
{
	struct project_fields f;
	struct db_res *row;
	json_t *settings = json_object();
	char id[40];
	int rc;

	memset(&f, 0, sizeof(f));
	ids_new("proj", id, sizeof(id));
	f.public_id = arena_strdup(&r->arena, id);
	if (req_name(r, "name", 1, &f.name) < 0 ||
	    req_str(r, "description", 0, 2000, &f.description) < 0 ||
	    req_str(r, "project_type", 1, 16, &f.type) < 0 ||
	    req_str(r, "repository_url", 1, 1024, &f.url) < 0 ||
	    req_str(r, "branch", 0, 255, &f.branch) < 0 || read_settings(r, settings) < 0)
		goto done;
	if (strcmp(f.type, "sqlmesh") != 0 && strcmp(f.type, "dbt") != 0) {
		api_invalid(r, "project_type", "must be sqlmesh or dbt");
		goto done;
	}
	if (f.branch == NULL)
		f.branch = "main";
	if (check_url(r, f.url) < 0 || check_branch(r, f.branch) < 0 ||
	    read_auth(r, &f, f.public_id) < 0)
		goto done;
	if (strcmp(f.type, "sqlmesh") == 0 && json_object_get(settings, "sqlmesh_environment") ==
	    NULL)
		json_object_set_new(settings, "sqlmesh_environment", json_string("prod"));
	f.settings = api_json_text(r, settings);
	if ((rc = db_begin(r->db)) < 0)
		goto fail;
	if ((rc = register_flow(r, f.public_id, f.type, &f.flow_id)) != 0) {
		db_rollback(r->db);
		goto fail;
	}
	rc = projects_create(r->db, &r->arena, r->who.org_id, &f, &row);
	if (rc == PROJECTS_EEXISTS) {
		db_rollback(r->db);
		api_error(r, API_E_CONFLICT, NULL, "a project named '%s' already exists", f.name);
		goto done;
	}
	/* Created projects deploy at once, as dagctl's do. */
	if (rc < 0 || (rc = projects_set_state(r->db, db_int(row, 0, PRJ_C_DBID), 1, 0)) < 0 ||
	    (rc = projects_get(r->db, &r->arena, r->who.org_id, f.public_id, &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "project.create", "project", f.public_id,
	    json_pack("{s:s, s:s, s:s}", "name", f.name, "project_type", f.type,
	    "git_auth_method", f.auth))) < 0 || (rc = db_commit(r->db)) < 0)
		goto fail;
	json_decref(settings);
	wake(r);
	return api_json(r, 201, project_json(row, 0));
done:
	rc = 0;
fail:
	json_decref(settings);
	return rc < 0 ? rc : 0;
}

static int
prj_get(struct req *r)
{
	struct db_res *p;
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, project_json(p, 0));
}

static json_t *
field_names(json_t *body)
{
	json_t *out = json_array(), *v;
	const char *k;

	json_object_foreach(body, k, v)
		json_array_append_new(out, json_string(k));
	return out;
}

static int
prj_update(struct req *r)
{
	struct project_fields f;
	struct db_res *p;
	json_t *settings = NULL;
	const char *name, *url, *branch, *desc;
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	memset(&f, 0, sizeof(f));
	f.name = db_val(p, 0, PRJ_C_NAME);
	f.description = db_val(p, 0, PRJ_C_DESCRIPTION);
	f.url = db_val(p, 0, PRJ_C_URL);
	f.branch = db_val(p, 0, PRJ_C_BRANCH);
	f.auth = db_val(p, 0, PRJ_C_AUTH);
	f.sealed = db_val(p, 0, PRJ_C_SEALED);
	f.key_id = db_val(p, 0, PRJ_C_KEY_ID);
	settings = api_json_col(db_val(p, 0, PRJ_C_SETTINGS));
	if (!json_is_object(settings)) {
		json_decref(settings);
		settings = json_object();
	}
	rc = 0;
	if (json_object_get(r->body_json, "project_type") != NULL) {
		api_invalid(r, "project_type", "cannot change; create another project");
		goto done;
	}
	if (req_name(r, "name", 0, &name) < 0 || req_str(r, "description", 0, 2000, &desc) < 0 ||
	    req_str(r, "repository_url", 0, 1024, &url) < 0 ||
	    req_str(r, "branch", 0, 255, &branch) < 0 || read_settings(r, settings) < 0 ||
	    (url != NULL && check_url(r, url) < 0) ||
	    (branch != NULL && check_branch(r, branch) < 0))
		goto done;
	if (json_object_get(r->body_json, "git_auth_method") != NULL ||
	    json_object_get(r->body_json, "https_token") != NULL ||
	    json_object_get(r->body_json, "ssh_private_key") != NULL) {
		const char *old = f.auth;

		f.auth = NULL;
		if (json_object_get(r->body_json, "git_auth_method") == NULL)
			json_object_set_new(r->body_json, "git_auth_method", json_string(old));
		if (read_auth(r, &f, db_val(p, 0, PRJ_C_ID)) < 0)
			goto done;
		if (strcmp(old, f.auth) != 0 && f.sealed == db_val(p, 0, PRJ_C_SEALED) &&
		    strcmp(f.auth, "none") != 0) {
			api_invalid(r, strcmp(f.auth, "ssh") == 0 ? "ssh_private_key" :
			    "https_token", "is required for git_auth_method %s", f.auth);
			goto done;
		}
	}
	if (name != NULL)
		f.name = name;
	if (desc != NULL)
		f.description = desc;
	if (url != NULL)
		f.url = url;
	if (branch != NULL)
		f.branch = branch;
	f.settings = api_json_text(r, settings);
	if ((rc = db_begin(r->db)) < 0)
		goto done;
	rc = projects_update(r->db, db_int(p, 0, PRJ_C_DBID), &f);
	if (rc == PROJECTS_EEXISTS) {
		db_rollback(r->db);
		rc = api_error(r, API_E_CONFLICT, NULL, "a project named '%s' already exists",
		    f.name);
		goto done;
	}
	/* The names of the fields only: a credential never reaches the trail. */
	if (rc < 0 || (rc = audit_write(r->db, &r->who, "project.update", "project",
	    db_val(p, 0, PRJ_C_ID), json_pack("{s:o}", "fields", field_names(r->body_json)))) < 0)
		goto done;
	if ((rc = projects_get(r->db, &r->arena, r->who.org_id, db_val(p, 0, PRJ_C_ID), &p)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		goto done;
	wake(r);
	rc = api_json(r, 200, project_json(p, 0));
done:
	json_decref(settings);
	return rc < 0 ? rc : 0;
}

static int
prj_delete(struct req *r)
{
	struct db_res *p;
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	/* The flow goes with its runs and schedules; the worker removes the
	 * workspace, then the row. */
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = projects_mark_deleted(r->db, db_int(p, 0, PRJ_C_DBID))) < 0 ||
	    (rc = flows_delete(r->db, r->who.org_id, db_val(p, 0, PRJ_C_ID))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "project.delete", "project", db_val(p, 0, PRJ_C_ID),
	    json_pack("{s:s}", "name", db_val(p, 0, PRJ_C_NAME)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 200, json_pack("{s:s}", "message", "Project deleted successfully"));
}

/* Deploy, undeploy, suspend, resume: the two flags and the schedules. */
static int
set_state(struct req *r, int deployed, int suspended, const char *action,
    const char *message)
{
	struct db_res *p;
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if (suspended < 0)
		suspended = (int)db_int(p, 0, PRJ_C_SUSPENDED);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = projects_set_state(r->db, db_int(p, 0, PRJ_C_DBID), deployed, suspended)) < 0 ||
	    (rc = audit_write(r->db, &r->who, action, "project", db_val(p, 0, PRJ_C_ID), NULL)) < 0 ||
	    (rc = projects_get(r->db, &r->arena, r->who.org_id, db_val(p, 0, PRJ_C_ID), &p)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 200, json_pack("{s:s, s:o}", "message", message, "project",
	    project_json(p, 0)));
}

static int
prj_deploy(struct req *r)
{
	return set_state(r, 1, -1, "project.deploy", "Project deployed successfully");
}

static int
prj_undeploy(struct req *r)
{
	return set_state(r, 0, 0, "project.undeploy", "Project undeployed successfully");
}

static int
prj_suspend(struct req *r)
{
	return set_state(r, 1, 1, "project.suspend", "Project suspended successfully");
}

static int
prj_resume(struct req *r)
{
	return set_state(r, 1, 0, "project.resume", "Project resumed successfully");
}

/* Jobs. */
static json_t *
job_json(struct req *r, const struct db_res *j, unsigned i)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{}, s:{}, s:b, s:b, s:b, s:s, s:s}",
	    "id", db_val(j, i, JOB_C_ID), "project_id", req_param(r, "project_id"),
	    "name", db_val(j, i, JOB_C_NAME), "command", db_val(j, i, JOB_C_COMMAND),
	    "schedule", db_val(j, i, JOB_C_SCHEDULE), "enabled", (int)db_int(j, i, JOB_C_ENABLED),
	    "resources", "environment",
	    "slack_alerts_enabled", (int)db_int(j, i, JOB_C_SLACK_ON),
	    "slack_alert_on_success", (int)db_int(j, i, JOB_C_SLACK_SUCCESS),
	    "webhook_enabled", 0, "created_at", db_val(j, i, JOB_C_CREATED),
	    "updated_at", db_val(j, i, JOB_C_UPDATED));

	put_str(o, "description", db_val(j, i, JOB_C_DESCRIPTION));
	put_str(o, "slack_channel", db_val(j, i, JOB_C_SLACK));
	return o;
}

/* A job's command: dbt jobs start with dbt and an allowed subcommand, and
 * no job holds shell metacharacters (sqlmesh's quotes are fine). */
static int
check_command(struct req *r, const char *type, const char *cmd)
{
	size_t k, n;

	if (cmd[strcspn(cmd, ";&|`$<>(){}\\\n\r")] != '\0')
		return api_invalid(r, "command", "must not hold shell metacharacters "
		    "(; & | ` $ < > ( ) { } \\ or a newline)"), -1;
	if (strcmp(type, "dbt") == 0) {
		if (strncmp(cmd, "dbt ", 4) != 0)
			return api_invalid(r, "command", "must start with dbt and a subcommand, "
			    "e.g. dbt build"), -1;
		n = strcspn(cmd + 4, " ");
		for (k = 0; k < sizeof(dbt_commands) / sizeof(dbt_commands[0]); k++)
			if (strlen(dbt_commands[k]) == n && strncmp(cmd + 4, dbt_commands[k], n) == 0)
				return 0;
		return api_invalid(r, "command", "'%.*s' is not a dbt subcommand dagctl runs",
		    (int)n, cmd + 4), -1;
	}
	if (strncmp(cmd, "sqlmesh ", 8) != 0 && strcmp(cmd, "sqlmesh") != 0)
		return api_invalid(r, "command", "must be a sqlmesh invocation"), -1;
	return 0;
}

/* The schedule fields of a job: cron in UTC, on only when the job and
 * its project are. */
static int
job_sched(struct req *r, const struct db_res *p, const struct job_fields *j,
    struct sched_fields *f)
{
	struct sched s;
	json_t *params;
	time_t next;
	char *buf;

	memset(&s, 0, sizeof(s));
	s.mode = SCHED_CRON;
	strcpy(s.tz, "UTC");
	if (cron_parse(j->schedule, &s.cron, NULL, 0) < 0)
		return api_invalid(r, "schedule", "must be a cron expression such as 0 2 * * *"), -1;
	memset(f, 0, sizeof(*f));
	f->public_id = j->public_id;
	f->mode = "cron";
	f->tz = "UTC";
	f->catchup = "skip";
	f->env = DVARS_ENV;
	f->cron = j->schedule;
	f->description = j->name;
	f->enabled = j->enabled && db_int(p, 0, PRJ_C_DEPLOYED) && !db_int(p, 0, PRJ_C_SUSPENDED);
	f->flow_id = db_int(p, 0, PRJ_C_FLOW_ID);
	params = json_pack("{s:s, s:s}", "command", j->command, "dir",
	    checkout_dir(r, db_val(p, 0, PRJ_C_ID)));
	f->params = api_json_text(r, params);
	json_decref(params);
	if (sched_next(&s, time(NULL), &next) == 0) {
		buf = arena_alloc(&r->arena, 32);
		ts_sql(next, 0, buf);
		f->next = buf;
	}
	return 0;
}

static int
read_job(struct req *r, const struct db_res *p, struct job_fields *j, int create)
{
	json_t *v;
	const char *type = db_val(p, 0, PRJ_C_TYPE);

	{
		const char *nm = NULL, *d = NULL, *c = NULL, *s = NULL, *sl = NULL;

		if (req_name(r, "name", create, &nm) < 0 ||
		    req_str(r, "description", 0, 2000, &d) < 0 ||
		    req_str(r, "command", create, 4000, &c) < 0 ||
		    req_str(r, "schedule", create, 200, &s) < 0 ||
		    req_str(r, "slack_channel", 0, 200, &sl) < 0)
			return -1;
		if (nm != NULL)
			j->name = nm;
		if (d != NULL)
			j->description = d;
		if (c != NULL)
			j->command = c;
		if (s != NULL)
			j->schedule = s;
		if (sl != NULL)
			j->slack = sl;
	}
	if (check_command(r, type, j->command) < 0)
		return -1;
	if ((v = json_object_get(r->body_json, "enabled")) != NULL) {
		if (!json_is_boolean(v))
			return api_invalid(r, "enabled", "must be true or false"), -1;
		j->enabled = json_is_true(v);
	}
	if ((v = json_object_get(r->body_json, "slack_alerts_enabled")) != NULL) {
		if (!json_is_boolean(v))
			return api_invalid(r, "slack_alerts_enabled", "must be true or false"), -1;
		j->slack_on = json_is_true(v);
	}
	if ((v = json_object_get(r->body_json, "slack_alert_on_success")) != NULL) {
		if (!json_is_boolean(v))
			return api_invalid(r, "slack_alert_on_success", "must be true or false"), -1;
		j->slack_success = json_is_true(v);
	}
	return 0;
}

static int
job_list(struct req *r)
{
	struct db_res *p, *rows;
	json_t *items;
	unsigned i;
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = projects_job_list(r->db, &r->arena, db_int(p, 0, PRJ_C_DBID), &rows)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, job_json(r, rows, i));
	return api_json(r, 200, json_pack("{s:o, s:i}", "jobs", items, "total", (int)rows->nrows));
}

static int
job_create(struct req *r)
{
	struct job_fields j;
	struct sched_fields f;
	struct db_res *p, *row, *srow;
	char id[40];
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	memset(&j, 0, sizeof(j));
	j.enabled = 1;
	ids_new("job", id, sizeof(id));
	j.public_id = arena_strdup(&r->arena, id);
	if (read_job(r, p, &j, 1) < 0 || job_sched(r, p, &j, &f) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = projects_job_create(r->db, &r->arena, r->who.org_id, db_int(p, 0, PRJ_C_DBID), &j,
	    &row);
	if (rc == PROJECTS_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "the project already has a job named '%s'",
		    j.name);
	}
	if (rc < 0 || (rc = sched_create(r->db, &r->arena, r->who.org_id, &f, &srow)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "job.create", "job", j.public_id,
	    json_pack("{s:s, s:s, s:s}", "project_id", db_val(p, 0, PRJ_C_ID), "name", j.name,
	    "schedule", j.schedule))) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 201, job_json(r, row, 0));
}

/* The project and job of the path; 1 after a 404. */
static int
job_of(struct req *r, struct db_res **p, struct db_res **j)
{
	int rc;

	if ((rc = project(r, p)) != 0)
		return rc;
	rc = projects_job_get(r->db, &r->arena, db_int(*p, 0, PRJ_C_DBID), req_param(r, "job_id"), j);
	if (rc == PROJECTS_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "job '%s' not found", req_param(r, "job_id"));
		return 1;
	}
	return rc;
}

static int
job_get(struct req *r)
{
	struct db_res *p, *j;
	int rc;

	if ((rc = job_of(r, &p, &j)) != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, job_json(r, j, 0));
}

static int
job_update(struct req *r)
{
	struct job_fields j;
	struct sched_fields f;
	struct db_res *p, *row, *srow;
	int rc;

	if ((rc = job_of(r, &p, &row)) != 0)
		return rc < 0 ? rc : 0;
	memset(&j, 0, sizeof(j));
	j.public_id = db_val(row, 0, JOB_C_ID);
	j.name = db_val(row, 0, JOB_C_NAME);
	j.description = db_val(row, 0, JOB_C_DESCRIPTION);
	j.command = db_val(row, 0, JOB_C_COMMAND);
	j.schedule = db_val(row, 0, JOB_C_SCHEDULE);
	j.slack = db_val(row, 0, JOB_C_SLACK);
	j.enabled = (int)db_int(row, 0, JOB_C_ENABLED);
	j.slack_on = (int)db_int(row, 0, JOB_C_SLACK_ON);
	j.slack_success = (int)db_int(row, 0, JOB_C_SLACK_SUCCESS);
	if (read_job(r, p, &j, 0) < 0 || job_sched(r, p, &j, &f) < 0)
		return 0;
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = projects_job_update(r->db, db_int(row, 0, JOB_C_DBID), &j);
	if (rc == PROJECTS_EEXISTS) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "the project already has a job named '%s'",
		    j.name);
	}
	if (rc < 0 || (rc = sched_update(r->db, &r->arena, r->who.org_id, j.public_id, &f,
	    &srow)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "job.update", "job", j.public_id,
	    json_pack("{s:o}", "fields", field_names(r->body_json)))) < 0 ||
	    (rc = projects_job_get(r->db, &r->arena, db_int(p, 0, PRJ_C_DBID), j.public_id,
	    &row)) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 200, job_json(r, row, 0));
}

static int
job_delete(struct req *r)
{
	struct db_res *p, *j;
	int rc;

	if ((rc = job_of(r, &p, &j)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = projects_job_delete(r->db, db_int(j, 0, JOB_C_DBID))) < 0 ||
	    ((rc = sched_delete(r->db, r->who.org_id, db_val(j, 0, JOB_C_ID))) < 0 &&
	    rc != SCHED_ENOTFOUND) ||
	    (rc = audit_write(r->db, &r->who, "job.delete", "job", db_val(j, 0, JOB_C_ID), NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:s}", "message", "Job deleted successfully"));
}

static int
job_trigger(struct req *r)
{
	struct run_trigger t;
	struct run_created c;
	struct db_res *p, *j;
	json_t *params;
	int rc;

	if ((rc = job_of(r, &p, &j)) != 0)
		return rc < 0 ? rc : 0;
	if (!db_int(p, 0, PRJ_C_DEPLOYED))
		return api_error(r, API_E_CONFLICT, NULL, "project '%s' is not deployed",
		    db_val(p, 0, PRJ_C_ID));
	params = json_pack("{s:s, s:s}", "command", db_val(j, 0, JOB_C_COMMAND), "dir",
	    checkout_dir(r, db_val(p, 0, PRJ_C_ID)));
	memset(&t, 0, sizeof(t));
	t.flow = db_val(p, 0, PRJ_C_ID);
	t.trigger = "manual";
	t.environment = DVARS_ENV;
	t.params = params;
	t.execute = 1;
	rc = runs_api_trigger(r, &t, &c);
	json_decref(params);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	json_decref(c.params);
	return api_json(r, 201, json_pack("{s:s, s:s, s:s, s:s, s:s}", "message",
	    "Job triggered successfully", "run_id", c.id, "job_id", db_val(j, 0, JOB_C_ID),
	    "status", "pending", "created_at", c.created_at));
}

/* The output of the project's latest run (or the run_id query's). */
static int
job_logs(struct req *r)
{
	struct db_res *p, *j, *run, *lines;
	const char *id = req_query(r, "run_id");
	json_t *logs, *out;
	unsigned i;
	int rc;

	if ((rc = job_of(r, &p, &j)) != 0)
		return rc < 0 ? rc : 0;
	if (id == NULL) {
		if ((rc = runs_latest(r->db, &r->arena, r->who.org_id,
		    db_val(p, 0, PRJ_C_ID), &id)) == RUNS_ENOTFOUND)
			return api_json(r, 200, json_pack("{s:s, s:[], s:s}", "job_id",
			    db_val(j, 0, JOB_C_ID), "logs", "message", "the job has not run yet"));
		if (rc < 0)
			return rc;
	}
	rc = runs_get(r->db, &r->arena, r->who.org_id, id, &run);
	if (rc == RUNS_ENOTFOUND || (rc == 0 && strcmp(db_val(run, 0, RUN_C_FLOW),
	    db_val(p, 0, PRJ_C_ID)) != 0))
		return api_error(r, API_E_NOT_FOUND, NULL, "run '%s' not found", id);
	if (rc < 0 ||
	    (rc = runs_logs(r->db, &r->arena, db_int(run, 0, RUN_C_DBID), NULL, 0, 10000, &lines)) < 0)
		return rc;
	logs = json_array();
	for (i = 0; i < lines->nrows; i++)
		json_array_append_new(logs, json_pack("{s:s, s:s, s:s}", "timestamp",
		    db_val(lines, i, 3), "stream", db_val(lines, i, 2), "message",
		    db_val(lines, i, 5)));
	out = json_pack("{s:s, s:s, s:s, s:o}", "job_id", db_val(j, 0, JOB_C_ID), "run_id", id,
	    "status", db_val(run, 0, RUN_C_STATUS), "logs", logs);
	return api_json(r, 200, out);
}

/* Plans. */
static json_t *
plan_json(struct req *r, const struct db_res *l, unsigned i, int full)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}",
	    "id", db_val(l, i, PLAN_C_ID), "plan_id", db_val(l, i, PLAN_C_GROUP),
	    "plan_type", db_val(l, i, PLAN_C_TYPE), "project_id", req_param(r, "project_id"),
	    "to_commit_sha", db_val(l, i, PLAN_C_TO),
	    "commits_behind", (json_int_t)db_int(l, i, PLAN_C_BEHIND),
	    "status", db_val(l, i, PLAN_C_STATUS), "triggered_by", db_val(l, i, PLAN_C_TRIGGERED),
	    "created_at", db_val(l, i, PLAN_C_CREATED), "updated_at", db_val(l, i, PLAN_C_UPDATED));

	put_str(o, "from_commit_sha", db_val(l, i, PLAN_C_FROM));
	put_str(o, "commit_message", db_val(l, i, PLAN_C_MESSAGE));
	put_str(o, "approved_by", db_val(l, i, PLAN_C_DECIDED_BY));
	put_str(o, "error_message", db_val(l, i, PLAN_C_ERROR));
	if (full) {
		json_t *po = json_object();

		put_str(po, "output", db_val(l, i, PLAN_C_OUTPUT));
		if (db_int(l, i, PLAN_C_DISCARDED))
			json_object_set_new(po, "auto_discarded", json_true());
		json_object_set_new(o, "plan_output", po);
	} else if (db_int(l, i, PLAN_C_DISCARDED)) {
		json_object_set_new(o, "plan_output", json_pack("{s:b}", "auto_discarded", 1));
	}
	return o;
}

static int
plan_list(struct req *r)
{
	static const char *const words[] = {"pending", "running", "approved", "completed",
		"failed", "rejected", "cancelled"};
	const char *status = req_query(r, "status");
	struct db_res *p, *rows;
	int64_t total;
	int page, limit, rc;
	json_t *items;
	unsigned i;
	size_t k;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if (paging(r, 25, &page, &limit) < 0)
		return 0;
	if (status != NULL) {
		for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
			if (strcmp(status, words[k]) == 0)
				break;
		if (k == sizeof(words) / sizeof(words[0]))
			return api_invalid(r, "status", "must be pending, running, approved, "
			    "completed, failed, rejected or cancelled");
	}
	if ((rc = projects_plan_list(r->db, &r->arena, db_int(p, 0, PRJ_C_DBID), status, page,
	    limit, &rows, &total)) < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows; i++)
		json_array_append_new(items, plan_json(r, rows, i, 0));
	return api_json(r, 200, paged("plans", items, page, limit, total));
}

static int
plan_pending(struct req *r)
{
	struct db_res *p;
	int64_t n;
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = projects_plan_pending(r->db, &r->arena, db_int(p, 0, PRJ_C_DBID), &n)) < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:I}", "count", (json_int_t)n));
}

static int
plan_create(struct req *r)
{
	struct db_res *p, *row;
	int rc;

	if ((rc = project(r, &p)) != 0)
		return rc < 0 ? rc : 0;
	if (!db_int(p, 0, PRJ_C_DEPLOYED) || db_val(p, 0, PRJ_C_LATEST) == NULL)
		return api_error(r, API_E_CONFLICT, NULL, "project '%s' has not been synced yet",
		    db_val(p, 0, PRJ_C_ID));
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	/* A newer explain replaces the open ones of other commits. */
	if ((rc = projects_plans_discard(r->db, db_int(p, 0, PRJ_C_DBID),
	    db_val(p, 0, PRJ_C_LATEST))) < 0 ||
	    (rc = projects_plan_create(r->db, &r->arena, r->who.org_id, db_int(p, 0, PRJ_C_DBID),
	    "manual", &row)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "plan.create", "plan", db_val(row, 0, PLAN_C_ID),
	    json_pack("{s:s}", "project_id", db_val(p, 0, PRJ_C_ID)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 201, plan_json(r, row, 0, 1));
}

/* The project and plan of the path; 1 after a 404. */
static int
plan_of(struct req *r, struct db_res **p, struct db_res **l)
{
	int rc;

	if ((rc = project(r, p)) != 0)
		return rc;
	rc = projects_plan_get(r->db, &r->arena, db_int(*p, 0, PRJ_C_DBID),
	    req_param(r, "plan_id"), l);
	if (rc == PROJECTS_ENOTFOUND) {
		api_error(r, API_E_NOT_FOUND, NULL, "plan '%s' not found", req_param(r, "plan_id"));
		return 1;
	}
	return rc;
}

static int
plan_get(struct req *r)
{
	struct db_res *p, *l;
	int rc;

	if ((rc = plan_of(r, &p, &l)) != 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, plan_json(r, l, 0, 1));
}

/* Moves the plan from one of the statuses in from[] to `to`; 409 when it
 * is in none of them. guard: the project's environment protection. */
static int
plan_move(struct req *r, const char *const *from, size_t nfrom, const char *to,
    const char *action, int guard)
{
	struct db_res *p, *l;
	json_t *s;
	const char *env = NULL, *status;
	size_t k;
	int rc;

	if ((rc = plan_of(r, &p, &l)) != 0)
		return rc < 0 ? rc : 0;
	status = db_val(l, 0, PLAN_C_STATUS);
	for (k = 0; k < nfrom; k++)
		if (strcmp(status, from[k]) == 0)
			break;
	if (k == nfrom)
		return api_error(r, API_E_CONFLICT, NULL, "plan '%s' is %s", db_val(l, 0, PLAN_C_ID),
		    status);
	if (guard) {
		s = api_json_col(db_val(p, 0, PRJ_C_SETTINGS));
		if (json_is_string(json_object_get(s, "sqlmesh_environment")))
			env = arena_strdup(&r->arena, json_string_value(json_object_get(s,
			    "sqlmesh_environment")));
		json_decref(s);
		if (env != NULL) {
			int allowed;

			if ((rc = dagctl_protect_allows(r, env, &allowed)) < 0)
				return rc;
			if (!allowed)
				return api_error(r, API_E_FORBIDDEN, NULL, "environment '%s' is "
				    "protected: only its excepted users approve plans", env);
		}
	}
	if ((rc = db_begin(r->db)) < 0)
		return rc;
	rc = projects_plan_move(r->db, db_int(l, 0, PLAN_C_DBID), status, to,
	    r->who.email != NULL ? r->who.email : "api key");
	if (rc == 0) {
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL, "plan '%s' changed meanwhile; try again",
		    db_val(l, 0, PLAN_C_ID));
	}
	/* A cancelled plan's run stops too. */
	if (rc > 0 && strcmp(to, "cancelled") == 0) {
		struct db_res *x;
		const char *run = db_val(l, 0, PLAN_C_EXECUTE_PUB) != NULL ?
		    db_val(l, 0, PLAN_C_EXECUTE_PUB) : db_val(l, 0, PLAN_C_EXPLAIN_PUB);

		if (run != NULL && (rc = runs_cancel(r->db, &r->arena, r->who.org_id, run, &x)) < 0 &&
		    rc != RUNS_EFINISHED && rc != RUNS_ENOTFOUND)
			return rc;
	}
	if ((rc = audit_write(r->db, &r->who, action, "plan", db_val(l, 0, PLAN_C_ID),
	    json_pack("{s:s, s:s}", "project_id", db_val(p, 0, PRJ_C_ID), "from", status))) < 0 ||
	    (rc = projects_plan_get(r->db, &r->arena, db_int(p, 0, PRJ_C_DBID),
	    db_val(l, 0, PLAN_C_ID), &l)) < 0 || (rc = db_commit(r->db)) < 0)
		return rc;
	wake(r);
	return api_json(r, 200, json_pack("{s:s, s:o}", "message", action, "plan",
	    plan_json(r, l, 0, 1)));
}

static int
plan_approve(struct req *r)
{
	static const char *const from[] = {"pending"};

	return plan_move(r, from, 1, "approved", "plan.approve", 1);
}

static int
plan_reject(struct req *r)
{
	static const char *const from[] = {"pending"};

	return plan_move(r, from, 1, "rejected", "plan.reject", 0);
}

static int
plan_cancel(struct req *r)
{
	static const char *const from[] = {"pending", "running", "approved"};

	return plan_move(r, from, 3, "cancelled", "plan.cancel", 0);
}

/* A failed plan goes back to the phase that failed: an explain is run
 * again, a failed execute is approved again. */
static int
plan_retry(struct req *r)
{
	static const char *const from[] = {"failed"};
	struct db_res *p, *l;
	int rc;

	if ((rc = plan_of(r, &p, &l)) != 0)
		return rc < 0 ? rc : 0;
	if (strcmp(db_val(l, 0, PLAN_C_STATUS), "failed") == 0 &&
	    strcmp(db_val(l, 0, PLAN_C_TYPE), "execute") == 0)
		return plan_move(r, from, 1, "approved", "plan.retry", 1);
	return plan_move(r, from, 1, "running", "plan.retry", 0);
}
