/* /v1/ai-studio/… and /v1/ui/ai-studio: sessions that build flows with an
 * OpenAI-compatible model. A turn sends the conversation, the canvas, the
 * attachments' text and the executable allowlist, asks for one JSON
 * object {"response", "flow"}, and checks the proposed flow with the code
 * POST /v1/flows runs (flowspec_canonical_with over the org's custom
 * nodes) plus the allowlist; an invalid proposal goes back once with its
 * errors. The streamed variant sends the model's tokens as Server-Sent
 * Events while they arrive and ends with the same object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dagy/aimodel.h"
#include "dagy/aistudio.h"
#include "dagy/audit.h"
#include "dagy/blobdir.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/doctext.h"
#include "dagy/flowspec.h"
#include "dagy/log.h"
#include "dagy/nodes.h"
#include "dagy/secrets.h"
#include "dagy/ui.h"
#include "dagy/usage.h"

static int page_h(struct req *r);
static int tiers_h(struct req *r);
static int sess_create_h(struct req *r);
static int sess_list_h(struct req *r);
static int sess_by_flow_h(struct req *r);
static int sess_bind_h(struct req *r);
static int sess_get_h(struct req *r);
static int sess_delete_h(struct req *r);
static int sess_archive_h(struct req *r);
static int msg_h(struct req *r);
static int msg_stream_h(struct req *r);
static int canvas_h(struct req *r);
static int tier_h(struct req *r);
static int title_h(struct req *r);
static int att_initiate_h(struct req *r);
static int att_complete_h(struct req *r);
static int att_delete_h(struct req *r);
static int upload_h(struct req *r);

#define S "/v1/ai-studio/sessions/{session_id}"
const struct route aistudio_routes[] = {
	{"GET", "/v1/ui/ai-studio", page_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/ai-studio/tiers", tiers_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"POST", "/v1/ai-studio/sessions", sess_create_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", "/v1/ai-studio/sessions", sess_list_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"GET", "/v1/ai-studio/sessions/by-flow/{flow_name}", sess_by_flow_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"POST", S "/bind-flow", sess_bind_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"GET", S, sess_get_h, PERM_FLOWS_READ, 0, DIALECT_DAGY},
	{"DELETE", S, sess_delete_h, PERM_FLOWS_WRITE, 0, DIALECT_DAGY},
	{"POST", S "/archive", sess_archive_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", S "/messages", msg_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", S "/messages/stream", msg_stream_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"PATCH", S "/canvas", canvas_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"PATCH", S "/tier", tier_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"PATCH", S "/title", title_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", S "/attachments/initiate", att_initiate_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"POST", S "/attachments/complete", att_complete_h, PERM_FLOWS_WRITE, ROUTE_BODY, DIALECT_DAGY},
	{"DELETE", S "/attachments/{attachment_id}", att_delete_h, PERM_FLOWS_WRITE, 0, DIALECT_DAGY},
	/* The single-part upload URL initiate hands out: its token is the
	 * credential (kept as a SHA-256), so the route itself is public. */
	{"PUT", "/v1/ai-studio/uploads/{attachment_id}", upload_h, PERM_PUBLIC, ROUTE_UPLOAD, DIALECT_DAGY},
};
#undef S
const size_t aistudio_routes_n = sizeof(aistudio_routes) / sizeof(aistudio_routes[0]);

#define MESSAGE_MAX_CHARS 8000
#define TURNS 2 /* the first proposal and one retry with its errors */

/* Model tiers: a price per turn in credits and how much attachment text
 * a turn may carry; the model of each is [ai] model_<id>. */
static const struct tier {
	const char *id, *label, *description;
	double price;
	long context_chars;
} tiers[] = {
	{"fast", "Fast", "Quick drafts and small edits", 1, 20000},
	{"standard", "Standard", "Most workflows", 4, 60000},
	{"advanced", "Advanced", "Large flows and long documents", 10, 120000},
};

/* The executable allowlist of the spec, as far as this build's node
 * registry has each type (s3_ingest and s3_write come with the object
 * store). */
static const char *const allow_spec[] = {"s3_ingest", "s3_write", "http_fetch",
	"schema_validator", "data_normalizer", "deduplicator", "python_function",
	"webhook_post"};

static const struct tier *
tier_find(const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < sizeof(tiers) / sizeof(tiers[0]); i++)
		if (strcmp(tiers[i].id, id) == 0)
			return &tiers[i];
	return NULL;
}

static const char *
tier_model(struct req *r, const struct tier *t)
{
	char key[32];
	const char *m;

	snprintf(key, sizeof(key), "model_%s", t->id);
	m = config_str(r->srv->cfg, "ai", key);
	return *m != '\0' ? m : config_str(r->srv->cfg, "ai", "model");
}

/* The allowlisted node types the registry has (a new array). */
static json_t *
allowlist(void)
{
	json_t *out = json_array();
	size_t i;

	for (i = 0; i < sizeof(allow_spec) / sizeof(allow_spec[0]); i++)
		if (nodes_builtin(allow_spec[i]) != NULL)
			json_array_append_new(out, json_string(allow_spec[i]));
	return out;
}

static int
allowed(const char *type)
{
	size_t i;

	for (i = 0; type != NULL && i < sizeof(allow_spec) / sizeof(allow_spec[0]); i++)
		if (strcmp(allow_spec[i], type) == 0)
			return nodes_builtin(type) != NULL;
	return 0;
}

/* "2026-03": the credit period of now. */
static const char *
period(struct req *r)
{
	char *buf = arena_alloc(&r->arena, 8);
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, 8, "%Y-%m", &tm);
	return buf;
}

/* Credits left this month: 0 with *left, or a db_err. */
static int
credits_left(struct req *r, double *left, double *used)
{
	int rc = ai_credits_used(r->db, &r->arena, r->who.org_id, period(r), used);

	if (rc < 0)
		return rc;
	/* The allowance is the org's plan's ([plan.NAME] ai_credits). */
	*left = (double)api_plan(r)->ai_credits - *used;
	if (*left < 0)
		*left = 0;
	return 0;
}

static json_t *
tiers_json(void)
{
	json_t *out = json_array();
	size_t i;

	for (i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++)
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:f, s:I}",
		    "tier", tiers[i].id, "label", tiers[i].label,
		    "description", tiers[i].description, "credits_per_turn", tiers[i].price,
		    "max_context_chars", (json_int_t)tiers[i].context_chars));
	return out;
}

static json_t *
limits_json(struct req *r)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}",
	    "max_message_chars", (json_int_t)MESSAGE_MAX_CHARS,
	    "max_turns_per_session", (json_int_t)config_int(r->srv->cfg, "ai", "max_turns_per_session"),
	    "max_attachments_per_session", (json_int_t)config_int(r->srv->cfg, "ai",
	    "max_attachments_per_session"),
	    "max_attachment_bytes", (json_int_t)config_int(r->srv->cfg, "ai", "max_attachment_bytes"),
	    "attachment_text_max_chars", (json_int_t)config_int(r->srv->cfg, "ai",
	    "attachment_text_max_chars"));
}

static int
tiers_h(struct req *r)
{
	double left, used;
	int rc = credits_left(r, &left, &used);

	if (rc < 0)
		return rc;
	return api_json(r, 200, json_pack("{s:o, s:s, s:o, s:{s:s, s:f, s:f, s:f, s:s}}",
	    "tiers", tiers_json(), "default_tier", config_str(r->srv->cfg, "ai", "default_tier"),
	    "limits", limits_json(r), "credits", "plan",
	    r->who.plan != NULL && *r->who.plan ? r->who.plan : "free",
	    "monthly_allowance", (double)api_plan(r)->ai_credits,
	    "used", used, "remaining", left, "period", period(r)));
}

static int
page_h(struct req *r)
{
	const char *text;
	json_t *doc;
	int rc = ui_content_get(r->db, &r->arena, "ai_studio", &text);

	if (rc < 0)
		return rc;
	/* Templates and examples are the operator's; capabilities are what
	 * this installation does. */
	doc = api_json_col(text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = json_object();
	}
	rc = api_json(r, 200, json_pack("{s:O, s:O, s:[{s:s, s:o}, {s:s, s:o}, {s:s, s:s},"
	    " {s:s, s:o}, {s:s, s:b}], s:o}",
	    "templates", json_is_array(json_object_get(doc, "templates")) ?
	    json_object_get(doc, "templates") : json_array(),
	    "examples", json_is_array(json_object_get(doc, "examples")) ?
	    json_object_get(doc, "examples") : json_array(),
	    "capabilities",
	    "id", "intents", "values", json_pack("[s, s, s, s]", "auto", "build", "modify", "advisory"),
	    "id", "executable_nodes", "values", allowlist(),
	    "id", "attachment_types", "values", doctext_kinds(),
	    "id", "tiers", "values", tiers_json(),
	    "id", "streaming", "enabled", 1,
	    "limits", limits_json(r)));
	json_decref(doc);
	return rc;
}

/* Sessions. */

static json_t *
canvas_col(const struct db_res *s)
{
	json_t *c = api_json_col(db_val(s, 0, AI_S_CANVAS));

	if (!json_is_object(c)) {
		json_decref(c);
		c = json_pack("{s:[], s:[]}", "nodes", "edges");
	}
	return c;
}

static json_t *
sess_json(const struct db_res *s, unsigned i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:f, s:o, s:s, s:s}",
	    "session_id", db_val(s, i, AI_S_ID), "title", db_val(s, i, AI_S_TITLE),
	    "tier", db_val(s, i, AI_S_TIER), "status", db_val(s, i, AI_S_STATUS),
	    "flow_name", api_str_or_null(db_val(s, i, AI_S_FLOW)),
	    "turns", (json_int_t)db_int(s, i, AI_S_TURNS),
	    "credits_used", strtod(db_val(s, i, AI_S_CREDITS), NULL),
	    "canvas_state", api_json_col(db_val(s, i, AI_S_CANVAS)),
	    "created_at", db_val(s, i, AI_S_CREATED), "updated_at", db_val(s, i, AI_S_UPDATED));
}

static json_t *
att_json(const struct db_res *a, unsigned i)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:b, s:s}",
	    "attachment_id", db_val(a, i, AI_A_ID), "filename", db_val(a, i, AI_A_FILENAME),
	    "type", db_val(a, i, AI_A_KIND), "size_bytes", (json_int_t)db_int(a, i, AI_A_SIZE),
	    "status", db_val(a, i, AI_A_STATUS),
	    "text_chars", db_val(a, i, AI_A_CHARS) != NULL ?
	    json_integer(db_int(a, i, AI_A_CHARS)) : json_null(),
	    "truncated", db_int(a, i, AI_A_TRUNC) != 0, "created_at", db_val(a, i, AI_A_CREATED));
}

/* The session of the path: 0 with *s, or 1 after a 404. */
static int
load(struct req *r, struct db_res **s)
{
	const char *id = req_param(r, "session_id");
	int rc = ai_session_get(r->db, &r->arena, r->who.org_id, id, s);

	if (rc < 0)
		return rc;
	if ((*s)->nrows == 0)
		return api_error(r, API_E_NOT_FOUND, NULL, "session '%s' not found", id), 1;
	return 0;
}

static int
sess_create_h(struct req *r)
{
	const char *title, *tier, *flow;
	struct db_res *s;
	int rc;

	if (req_str(r, "title", 0, 200, &title) < 0 || req_str(r, "tier", 0, 32, &tier) < 0 ||
	    req_name(r, "flow_name", 0, &flow) < 0)
		return 0;
	if (tier == NULL)
		tier = config_str(r->srv->cfg, "ai", "default_tier");
	if (tier_find(tier) == NULL)
		return api_invalid(r, "tier", "must be fast, standard or advanced");
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ai_session_create(r->db, &r->arena, r->who.org_id, r->who.user_id,
	    title != NULL && *title != '\0' ? title : "Untitled session", tier, &s)) < 0)
		return rc;
	if (flow != NULL &&
	    (rc = ai_session_set(r->db, r->who.org_id, db_int(s, 0, AI_S_DBID), "flow_name", flow)) < 0) {
		if (rc != DB_EDUP)
			return rc;
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL,
		    "another session is already bound to flow '%s'", flow);
	}
	if ((rc = ai_session_get(r->db, &r->arena, r->who.org_id, db_val(s, 0, AI_S_ID), &s)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "ai_session.create", "ai_session",
	    db_val(s, 0, AI_S_ID), json_pack("{s:s}", "tier", tier))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, sess_json(s, 0));
}

static int
sess_list_h(struct req *r)
{
	const char *status = req_query(r, "status");
	struct db_res *rows;
	json_t *after, *items, *key = NULL;
	int limit, rc;
	unsigned i;

	if (status != NULL && strcmp(status, "active") != 0 && strcmp(status, "archived") != 0)
		return api_invalid(r, "status", "must be active or archived");
	if (req_page(r, 20, 100, &limit, &after) < 0)
		return 0;
	rc = ai_session_list(r->db, &r->arena, r->who.org_id, r->who.user_id, status,
	    (int64_t)json_integer_value(json_array_get(after, 0)), limit + 1, &rows);
	json_decref(after);
	if (rc < 0)
		return rc;
	items = json_array();
	for (i = 0; i < rows->nrows && i < (unsigned)limit; i++) {
		json_t *o = sess_json(rows, i);

		/* Lists stay small: the canvas comes with GET of one session. */
		json_object_del(o, "canvas_state");
		json_array_append_new(items, o);
	}
	if (rows->nrows > (unsigned)limit)
		key = json_pack("[I]", (json_int_t)db_int(rows, limit - 1, AI_S_DBID));
	return api_page(r, items, key);
}

/* The YAML of a canonical spec; YAML takes JSON flow values, so each
 * config goes out as compact JSON. */
static const char *
pipeline_yaml(struct req *r, const char *name, json_t *canonical)
{
	json_t *order = flowspec_order(canonical), *n;
	char *y = arena_printf(&r->arena, "name: %s\nnodes:\n", name);
	size_t i;

	json_array_foreach(order, i, n) {
		json_t *deps = json_object_get(n, "depends_on"), *cfg = json_object_get(n, "config");

		y = arena_printf(&r->arena, "%s  - id: %s\n    type: %s\n", y,
		    json_string_value(json_object_get(n, "id")),
		    json_string_value(json_object_get(n, "type")));
		if (json_array_size(deps) > 0)
			y = arena_printf(&r->arena, "%s    depends_on: %s\n", y, api_json_text(r, deps));
		if (json_object_size(cfg) > 0)
			y = arena_printf(&r->arena, "%s    config: %s\n", y, api_json_text(r, cfg));
	}
	json_decref(order);
	return y;
}

/* The canvas of a canonical spec: nodes laid out by depth. */
static json_t *
canvas_of(json_t *canonical)
{
	json_t *order = flowspec_order(canonical), *n, *depth = json_object();
	json_t *nodes = json_array(), *edges = json_array(), *e;
	size_t i, j;

	json_array_foreach(order, i, n) {
		json_t *deps = json_object_get(n, "depends_on"), *d;
		long lvl = 0, row;
		char key[32];

		json_array_foreach(deps, j, d) {
			long dl = (long)json_integer_value(json_object_get(depth,
			    json_string_value(d)));

			if (dl + 1 > lvl)
				lvl = dl + 1;
		}
		json_object_set_new(depth, json_string_value(json_object_get(n, "id")),
		    json_integer(lvl));
		snprintf(key, sizeof(key), "#row%ld", lvl);
		row = (long)json_integer_value(json_object_get(depth, key));
		json_object_set_new(depth, key, json_integer(row + 1));
		json_array_append_new(nodes, json_pack("{s:O, s:O, s:O, s:{s:I, s:I}}",
		    "id", json_object_get(n, "id"), "type", json_object_get(n, "type"),
		    "data", json_is_object(json_object_get(n, "config")) ?
		    json_object_get(n, "config") : json_object(),
		    "position", "x", (json_int_t)(lvl * 260), "y", (json_int_t)(row * 120)));
	}
	json_array_foreach(json_object_get(canonical, "edges"), i, e)
		json_array_append_new(edges, json_pack("{s:s, s:O, s:O}", "id",
		    "", "source", json_object_get(e, "source"), "target",
		    json_object_get(e, "target")));
	json_array_foreach(edges, i, e)
		json_object_set_new(e, "id", json_sprintf("e_%s_%s",
		    json_string_value(json_object_get(e, "source")),
		    json_string_value(json_object_get(e, "target"))));
	json_decref(order);
	json_decref(depth);
	return json_pack("{s:o, s:o}", "nodes", nodes, "edges", edges);
}

/* Validates a proposed flow spec as POST /v1/flows does, with the
 * allowlist on top: the canonical form, or NULL with errors appended
 * ({node, field, message}). */
static json_t *
validate(struct req *r, json_t *spec, json_t *errors, int *rc)
{
	struct flowspec_err e;
	json_t *custom = NULL, *n, *canonical;
	size_t i;
	int bad = 0;

	*rc = 0;
	if (!json_is_object(spec) || !json_is_array(json_object_get(spec, "nodes")) ||
	    json_array_size(json_object_get(spec, "nodes")) == 0) {
		json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "node", "",
		    "field", "flow", "message", "the answer held no flow with nodes"));
		return NULL;
	}
	json_array_foreach(json_object_get(spec, "nodes"), i, n) {
		const char *type = json_string_value(json_object_get(n, "type"));

		if (!allowed(type)) {
			const char *id = json_string_value(json_object_get(n, "id"));

			json_array_append_new(errors, json_pack("{s:s, s:s, s:s}",
			    "node", id != NULL ? id : "", "field", "type", "message",
			    arena_printf(&r->arena, "node '%s': type '%s' is not in the "
			    "executable allowlist", id != NULL ? id : "?",
			    type != NULL ? type : "(none)")));
			bad = 1;
		}
	}
	if (bad)
		return NULL;
	if ((*rc = nodes_custom_map(r->db, &r->arena, r->who.org_id, &custom)) < 0)
		return NULL;
	canonical = flowspec_canonical_with(spec,
	    config_int(r->srv->cfg, "worker", "max_step_timeout_seconds"), custom, &e);
	json_decref(custom);
	if (canonical == NULL)
		json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "node", e.node,
		    "field", e.field, "message", e.msg));
	return canonical;
}

/* The session in full: history, canvas, attachments and artifacts. */
static int
sess_full(struct req *r, struct db_res *s, json_t **out)
{
	struct db_res *m, *a;
	json_t *o = sess_json(s, 0), *msgs = json_array(), *atts = json_array();
	json_t *spec, *errs = json_array(), *canonical;
	unsigned i;
	int rc;

	if ((rc = ai_msg_list(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID), &m)) < 0 ||
	    (rc = ai_att_list(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID), &a)) < 0)
		goto fail;
	for (i = 0; i < m->nrows; i++)
		json_array_append_new(msgs, json_pack("{s:s, s:s, s:o, s:s}",
		    "role", db_val(m, i, AI_M_ROLE), "content", db_val(m, i, AI_M_CONTENT),
		    "intent", api_str_or_null(db_val(m, i, AI_M_INTENT)),
		    "created_at", db_val(m, i, AI_M_CREATED)));
	for (i = 0; i < a->nrows; i++)
		json_array_append_new(atts, att_json(a, i));
	/* The canvas as a pipeline, when it is a valid flow. */
	spec = flowspec_from_canvas(json_object_get(o, "canvas_state"));
	canonical = json_array_size(json_object_get(spec, "nodes")) > 0 ?
	    validate(r, spec, errs, &rc) : NULL;
	json_decref(spec);
	if (rc < 0)
		goto fail;
	json_object_set_new(o, "messages", msgs);
	json_object_set_new(o, "attachments", atts);
	json_object_set_new(o, "artifacts", json_pack("{s:o, s:o}", "pipeline_yaml",
	    canonical != NULL ? json_string(pipeline_yaml(r, db_val(s, 0, AI_S_FLOW) != NULL ?
	    db_val(s, 0, AI_S_FLOW) : "generated_pipeline", canonical)) : json_null(),
	    "validation_errors", errs));
	json_decref(canonical);
	*out = o;
	return 0;
fail:
	json_decref(o);
	json_decref(msgs);
	json_decref(atts);
	json_decref(errs);
	return rc;
}

static int
sess_get_h(struct req *r)
{
	struct db_res *s;
	json_t *o;
	int rc;

	if ((rc = load(r, &s)) != 0 || (rc = sess_full(r, s, &o)) < 0)
		return rc < 0 ? rc : 0;
	return api_json(r, 200, o);
}

static int
sess_by_flow_h(struct req *r)
{
	const char *flow = req_param(r, "flow_name");
	struct db_res *s;
	json_t *o;
	int rc;

	if ((rc = ai_session_by_flow(r->db, &r->arena, r->who.org_id, flow, &s)) < 0)
		return rc;
	if (s->nrows == 0)
		return api_error(r, API_E_NOT_FOUND, NULL, "no session is bound to flow '%s'", flow);
	if ((rc = sess_full(r, s, &o)) < 0)
		return rc;
	return api_json(r, 200, o);
}

/* Sets one column of the path's session, audits and answers the session. */
static int
set_and_answer(struct req *r, struct db_res *s, const char *column, const char *value,
    const char *action, json_t *details)
{
	int rc;

	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ai_session_set(r->db, r->who.org_id, db_int(s, 0, AI_S_DBID), column, value)) < 0) {
		json_decref(details);
		if (rc != DB_EDUP)
			return rc;
		db_rollback(r->db);
		return api_error(r, API_E_CONFLICT, NULL,
		    "another session is already bound to flow '%s'", value);
	}
	if ((rc = audit_write(r->db, &r->who, action, "ai_session", db_val(s, 0, AI_S_ID),
	    details)) < 0 ||
	    (rc = ai_session_get(r->db, &r->arena, r->who.org_id, db_val(s, 0, AI_S_ID), &s)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 200, sess_json(s, 0));
}

static int
sess_bind_h(struct req *r)
{
	struct db_res *s;
	const char *flow;
	int rc;

	if (req_name(r, "flow_name", 1, &flow) < 0)
		return 0;
	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	return set_and_answer(r, s, "flow_name", flow, "ai_session.bind_flow",
	    json_pack("{s:s}", "flow_name", flow));
}

static int
sess_archive_h(struct req *r)
{
	struct db_res *s;
	int rc;

	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	return set_and_answer(r, s, "status", "archived", "ai_session.archive", NULL);
}

static int
tier_h(struct req *r)
{
	struct db_res *s;
	const char *tier;
	int rc;

	if (req_str(r, "tier", 1, 32, &tier) < 0)
		return 0;
	if (tier_find(tier) == NULL)
		return api_invalid(r, "tier", "must be fast, standard or advanced");
	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	return set_and_answer(r, s, "tier", tier, "ai_session.tier",
	    json_pack("{s:s, s:s}", "from", db_val(s, 0, AI_S_TIER), "to", tier));
}

static int
title_h(struct req *r)
{
	struct db_res *s;
	const char *title;
	int rc;

	if (req_str(r, "title", 1, 200, &title) < 0)
		return 0;
	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	return set_and_answer(r, s, "title", title, "ai_session.title", NULL);
}

static int
canvas_h(struct req *r)
{
	struct db_res *s;
	struct flowspec_err e;
	json_t *canvas, *keep;
	const char *text;
	int rc;

	/* {"canvas_state": {nodes, edges}}, or the canvas itself. */
	if (req_json_field(r, "canvas_state", 0, &canvas) < 0)
		return 0;
	if (canvas == NULL)
		canvas = r->body_json;
	if (!json_is_array(json_object_get(canvas, "nodes")))
		return api_invalid(r, "canvas_state", "must hold nodes and edges");
	if (json_object_get(canvas, "edges") == NULL)
		json_object_set_new(canvas, "edges", json_array());
	/* Edits may hold what cannot run yet: only the shape is checked. */
	if (flowspec_check_canvas(canvas, &e) < 0)
		return api_error(r, API_E_VALIDATION, json_pack("{s:s, s:s, s:s}",
		    "node", e.node, "field", e.field, "reason", e.msg), "invalid canvas: %s", e.msg);
	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	keep = json_pack("{s:O, s:O}", "nodes", json_object_get(canvas, "nodes"),
	    "edges", json_object_get(canvas, "edges"));
	text = api_json_text(r, keep);
	json_decref(keep);
	return set_and_answer(r, s, "canvas", text, "ai_session.canvas",
	    json_pack("{s:I}", "nodes", (json_int_t)json_array_size(json_object_get(canvas, "nodes"))));
}

static int
sess_delete_h(struct req *r)
{
	struct db_res *s, *a;
	unsigned i;
	int rc;

	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = ai_att_list(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID), &a)) < 0 ||
	    (rc = db_begin(r->db)) < 0 ||
	    (rc = ai_session_delete(r->db, r->who.org_id, db_int(s, 0, AI_S_DBID))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "ai_session.delete", "ai_session",
	    db_val(s, 0, AI_S_ID), NULL)) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	/* The rows are gone; their bytes follow. */
	for (i = 0; i < a->nrows; i++)
		blobdir_delete(config_str(r->srv->cfg, "ai", "attachments_dir"),
		    db_val(a, i, AI_A_ID));
	return api_no_content(r);
}

/* Turns. */

struct turn {
	struct req *r;
	struct db_res *s;
	const struct tier *tier;
	const char *message, *intent, *key, *hash;
	int stream, gone;
};

/* The model asked to reply in this shape, whatever the intent. */
static const char answer_shape[] =
    "Reply with exactly one JSON object and nothing else: {\"response\": "
    "\"<what you did or advise, for the user, in plain text>\", \"flow\": null "
    "or {\"nodes\": [{\"id\": \"<letters, digits, _ or ->\", \"type\": \"<an "
    "allowed node type>\", \"config\": {<settings its config_schema allows>}, "
    "\"depends_on\": [\"<ids of upstream nodes>\"]}]}}. The flow is the whole "
    "workflow, not a change to it.";

static const char *
intent_text(const char *intent)
{
	if (strcmp(intent, "build") == 0)
		return "build: design a new workflow for the request; flow must not be null";
	if (strcmp(intent, "modify") == 0)
		return "modify: change the current canvas as asked and give the whole "
		    "changed workflow; flow must not be null";
	if (strcmp(intent, "advisory") == 0)
		return "advisory: answer the question; flow must be null";
	return "auto: give a flow when the user asks for a workflow or a change to "
	    "it, else answer with flow null";
}

/* The conversation for the model: instructions with the allowlist's
 * definitions, the canvas, the attachments' text (within the tier's
 * budget), the last messages and the new one. A new array. */
static int
prompt(struct turn *t, json_t **out)
{
	struct req *r = t->r;
	struct db_res *m, *a;
	json_t *msgs = json_array(), *defs = json_array(), *list = allowlist(), *v;
	long budget = t->tier->context_chars, keep;
	unsigned i, first;
	size_t k;
	int rc;

	json_array_foreach(list, k, v) {
		json_t *d = nodes_builtin(json_string_value(v));

		json_array_append_new(defs, json_pack("{s:O, s:O, s:O}",
		    "node_type", json_object_get(d, "node_type"),
		    "description", json_object_get(d, "description"),
		    "config_schema", json_object_get(d, "config_schema")));
	}
	json_decref(list);
	json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content",
	    arena_printf(&r->arena, "You are dagy's AI Studio: you design workflows "
	    "(flows: DAGs of nodes) that dagy runs. Use only these node types, with "
	    "config as their schema says: %s\n%s\nThis turn's intent is %s.",
	    api_json_text(r, defs), answer_shape, intent_text(t->intent))));
	json_decref(defs);
	json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content",
	    arena_printf(&r->arena, "The current canvas: %s",
	    db_val(t->s, 0, AI_S_CANVAS))));
	if ((rc = ai_att_list(r->db, &r->arena, r->who.org_id, db_int(t->s, 0, AI_S_DBID), &a)) < 0 ||
	    (rc = ai_msg_list(r->db, &r->arena, r->who.org_id, db_int(t->s, 0, AI_S_DBID), &m)) < 0) {
		json_decref(msgs);
		return rc;
	}
	for (i = 0; i < a->nrows && budget > 0; i++) {
		const char *text = db_val(a, i, AI_A_TEXT);

		if (text == NULL || strcmp(db_val(a, i, AI_A_STATUS), "ready") != 0)
			continue;
		keep = (long)strlen(text) < budget ? (long)strlen(text) : budget;
		/* A cut lands on the start of a UTF-8 character. */
		while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
			keep--;
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system",
		    "content", arena_printf(&r->arena, "Attached document '%s' (%s):\n%.*s",
		    db_val(a, i, AI_A_FILENAME), db_val(a, i, AI_A_KIND), (int)keep, text)));
		budget -= keep;
	}
	keep = config_int(r->srv->cfg, "ai", "history_max_messages");
	first = m->nrows > (unsigned)keep ? m->nrows - (unsigned)keep : 0;
	for (i = first; i < m->nrows; i++)
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role",
		    strcmp(db_val(m, i, AI_M_ROLE), "user") == 0 ? "user" : "assistant",
		    "content", db_val(m, i, AI_M_CONTENT)));
	json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content",
	    t->message));
	*out = msgs;
	return 0;
}

static int
on_delta(void *arg, const char *text, size_t n)
{
	struct turn *t = arg;
	json_t *ev = json_pack("{s:s%}", "text", text, n);
	int rc = ev != NULL ? api_stream_event(t->r, "token", ev) : 0;

	json_decref(ev);
	if (rc < 0)
		t->gone = 1;
	return rc < 0;
}

static int
on_idle(void *arg)
{
	struct turn *t = arg;

	if (api_stream_comment(t->r, "keep-alive") < 0)
		t->gone = 1;
	return t->gone;
}

/* The model's key: the org secret [ai] api_key_secret names, else
 * [ai] api_key. 0 with *key, 1 after answering 503, or a db_err. */
static int
model_key(struct req *r, const char **key)
{
	const char *name = config_str(r->srv->cfg, "ai", "api_key_secret");
	char *value;
	size_t n;
	int rc;

	if (*name == '\0') {
		*key = config_str(r->srv->cfg, "ai", "api_key");
		return 0;
	}
	rc = secrets_resolve(r->db, r->srv->keys, &r->arena, r->who.org_id, NULL, name,
	    &value, &n);
	if (rc == SECRETS_ENOTFOUND || rc == SECRETS_EAUTH || rc == SECRETS_EKEY ||
	    rc == SECRETS_EFORMAT || rc == SECRETS_EAMBIGUOUS)
		return api_error(r, API_E_SERVICE_UNAVAILABLE, NULL, "AI Studio's model key "
		    "is the organization secret '%s', which is %s", name,
		    rc == SECRETS_ENOTFOUND ? "not set" : "unreadable"), 1;
	if (rc < 0)
		return rc;
	*key = value;
	return 0;
}

/* The JSON object in a model's answer (fences and prose around it
 * ignored), or NULL. */
static json_t *
parse_answer(const char *content)
{
	const char *open = strchr(content, '{'), *close = strrchr(content, '}');
	json_t *v;

	if (open == NULL || close == NULL || close < open)
		return NULL;
	v = json_loadb(open, (size_t)(close - open + 1), 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Replays the answer kept under the turn's key: 1 after answering (the
 * same answer, or 409 when the request differs), 0 when there is none,
 * or a db_err. */
static int
replay(struct turn *t)
{
	struct req *r = t->r;
	struct db_res *k;
	json_t *body;
	int rc;

	if (t->key == NULL)
		return 0;
	if ((rc = ai_turn_find(r->db, &r->arena, r->who.org_id, db_int(t->s, 0, AI_S_DBID),
	    t->key, &k)) < 0)
		return rc;
	if (k->nrows == 0)
		return 0;
	if (strcmp(db_val(k, 0, AI_T_HASH), t->hash) != 0 && r->streamed) {
		body = json_pack("{s:s, s:s, s:i}", "error", "conflict", "message",
		    "this turn was already sent with another message or intent", "status_code", 409);
		api_stream_event(r, "error", body);
		json_decref(body);
		return 1;
	}
	if (strcmp(db_val(k, 0, AI_T_HASH), t->hash) != 0)
		return api_error(r, API_E_CONFLICT, json_pack("{s:s}", "turn_id", t->key),
		    "turn '%s' was already sent with another message or intent", t->key), 1;
	body = api_json_col(db_val(k, 0, AI_T_RESPONSE));
	json_object_set_new(body, "replayed", json_true());
	if (t->stream) {
		/* A turn racing its twin has already begun its stream. */
		if (!r->streamed)
			api_stream_begin(r);
		json_object_set_new(body, "status_code", json_integer(db_int(k, 0, AI_T_STATUS)));
		api_stream_event(r, "final", body);
		json_decref(body);
		return 1;
	}
	api_json(r, (int)db_int(k, 0, AI_T_STATUS), body);
	return 1;
}

/* A turn that lost the last turn or credits to one that ended at the
 * same time: nothing is stored or charged; 429 or 402, in the stream as
 * its error event. */
static int
refused(struct turn *t, int code, const char *why)
{
	json_t *ev;

	if (!t->stream)
		return api_error(t->r, code == 402 ? API_E_PAYMENT_REQUIRED : API_E_QUOTA_EXCEEDED,
		    NULL, "%s", why);
	ev = json_pack("{s:s, s:s, s:i}", "error", code == 402 ? "insufficient_credits" :
	    "quota_exceeded", "message", why, "status_code", code);
	api_stream_event(t->r, "error", ev);
	json_decref(ev);
	return 0;
}

/* Stores the turn and answers it. The turn and its credits are taken by
 * conditional updates here, where they are charged: the checks before the
 * model call only keep hopeless turns from being made. */
static int
finish(struct turn *t, int status, json_t *resp, json_t *canvas, const char *reply)
{
	struct req *r = t->r;
	struct db_res *s;
	int64_t sid = db_int(t->s, 0, AI_S_DBID);
	double price = status == 200 ? t->tier->price : 0;
	json_t *sess;
	int rc;

	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ai_msg_add(r->db, r->who.org_id, sid, "user", t->message, t->intent,
	    NULL, NULL, 0, NULL)) < 0)
		goto fail;
	if (canvas != NULL &&
	    (rc = ai_session_set(r->db, r->who.org_id, sid, "canvas", api_json_text(r, canvas))) < 0)
		goto fail;
	if ((rc = ai_session_turn(r->db, r->who.org_id, sid, price,
	    (int)config_int(r->srv->cfg, "ai", "max_turns_per_session"))) < 0)
		goto fail;
	if (rc == 0) {
		db_rollback(r->db);
		json_decref(resp);
		return refused(t, 429, "the session's last turn was taken by another one");
	}
	if (price > 0 && (rc = ai_credits_charge(r->db, r->who.org_id, period(r), price,
	    (double)api_plan(r)->ai_credits)) <= 0) {
		if (rc < 0)
			goto fail;
		db_rollback(r->db);
		json_decref(resp);
		return refused(t, 402, "the credits left this month were used by another turn");
	}
	if ((rc = ai_session_get(r->db, &r->arena, r->who.org_id, db_val(t->s, 0, AI_S_ID),
	    &s)) < 0)
		goto fail;
	sess = sess_json(s, 0);
	json_object_del(sess, "canvas_state");
	json_object_set_new(resp, "session", sess);
	json_object_set_new(resp, "credits_used", json_real(price));
	if ((rc = ai_msg_add(r->db, r->who.org_id, sid, "assistant", reply, t->intent, t->key,
	    t->hash, status, api_json_text(r, resp))) < 0)
		goto fail;
	if ((rc = audit_write(r->db, &r->who, "ai_session.turn", "ai_session",
	    db_val(t->s, 0, AI_S_ID), json_pack("{s:s, s:i, s:f, s:s}", "intent", t->intent,
	    "status", status, "credits", price, "tier", t->tier->id))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		goto fail;
	if (t->stream) {
		json_object_set_new(resp, "status_code", json_integer(status));
		api_stream_event(r, "final", resp);
		json_decref(resp);
		return 0;
	}
	return api_json(r, status, resp);
fail:
	db_rollback(r->db);
	/* The same turn, sent twice at once: the other one stored it first. */
	if (rc == DB_EDUP && (rc = replay(t)) == 1) {
		json_decref(resp);
		return 0;
	}
	json_decref(resp);
	if (t->stream) {
		json_t *ev = json_pack("{s:s, s:s}", "error", "internal_error", "message",
		    "the turn could not be stored");

		api_stream_event(r, "error", ev);
		json_decref(ev);
		return 0;
	}
	return rc < 0 ? rc : DB_ERR;
}

/* An error of the model call: a 503, in the stream as its error event. */
static int
model_failed(struct turn *t, const char *why)
{
	json_t *ev;

	log_warn("ai studio turn for %s: %s", t->r->who.org_public_id, why);
	if (!t->stream)
		return api_error(t->r, API_E_SERVICE_UNAVAILABLE, NULL, "%s", why);
	ev = json_pack("{s:s, s:s, s:i}", "error", "service_unavailable", "message", why,
	    "status_code", 503);
	api_stream_event(t->r, "error", ev);
	json_decref(ev);
	return 0;
}

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int
turn(struct req *r, int stream)
{
	struct turn t;
	struct aimodel_req q;
	json_t *msgs = NULL, *answer = NULL, *errors = NULL, *canonical = NULL, *resp;
	const char *idem = req_env(r, "HTTP_X_IDEMPOTENCY_KEY"), *key;
	double left, used;
	uint8_t sha[32];
	char hex[65], err[512], *content = NULL, *hashed;
	long tokens;
	int rc, attempt, wants_flow;

	memset(&t, 0, sizeof(t));
	t.r = r;
	t.stream = stream;
	if (req_str(r, "message", 1, MESSAGE_MAX_CHARS * 4, &t.message) < 0 ||
	    req_str(r, "intent", 0, 16, &t.intent) < 0 ||
	    req_str(r, "turn_id", 0, 200, &t.key) < 0)
		return 0;
	if (utf8_chars(t.message) > MESSAGE_MAX_CHARS)
		return api_invalid(r, "message", "must be at most %d characters", MESSAGE_MAX_CHARS);
	if (t.intent == NULL)
		t.intent = "auto";
	if (strcmp(t.intent, "auto") != 0 && strcmp(t.intent, "build") != 0 &&
	    strcmp(t.intent, "modify") != 0 && strcmp(t.intent, "advisory") != 0)
		return api_invalid(r, "intent", "must be auto, build, modify or advisory");
	if (idem != NULL && strlen(idem) > 200)
		return api_invalid(r, "X-Idempotency-Key", "must be at most 200 characters");
	if (t.key == NULL && idem != NULL && *idem != '\0')
		t.key = idem;
	/* What a replay must match: the message and the intent. */
	hashed = arena_printf(&r->arena, "%s%c%s", t.intent, 0, t.message);
	crypto_sha256(hashed, strlen(t.intent) + 1 + strlen(t.message), sha);
	crypto_hex(sha, hex);
	t.hash = hex;
	if ((rc = load(r, &t.s)) != 0 || (rc = replay(&t)) != 0)
		return rc < 0 ? rc : 0;
	if (strcmp(db_val(t.s, 0, AI_S_STATUS), "active") != 0)
		return api_error(r, API_E_CONFLICT, NULL, "session '%s' is archived",
		    db_val(t.s, 0, AI_S_ID));
	if ((t.tier = tier_find(db_val(t.s, 0, AI_S_TIER))) == NULL)
		t.tier = &tiers[1];
	if (db_int(t.s, 0, AI_S_TURNS) >= config_int(r->srv->cfg, "ai", "max_turns_per_session"))
		return api_error(r, API_E_QUOTA_EXCEEDED, json_pack("{s:I}", "max_turns_per_session",
		    (json_int_t)config_int(r->srv->cfg, "ai", "max_turns_per_session")),
		    "session '%s' has had its %lld turns", db_val(t.s, 0, AI_S_ID),
		    config_int(r->srv->cfg, "ai", "max_turns_per_session"));
	if ((rc = credits_left(r, &left, &used)) < 0)
		return rc;
	if (left < t.tier->price)
		return api_error(r, API_E_PAYMENT_REQUIRED, json_pack("{s:f, s:f, s:s}",
		    "credits_remaining", left, "credits_per_turn", t.tier->price, "tier",
		    t.tier->id), "a %s turn costs %g credits and %g are left this month",
		    t.tier->id, t.tier->price, left);
	if ((rc = model_key(r, &key)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = prompt(&t, &msgs)) < 0)
		return rc;
	if (stream && api_stream_begin(r) < 0) {
		json_decref(msgs);
		return 0;
	}

	memset(&q, 0, sizeof(q));
	q.base_url = config_str(r->srv->cfg, "ai", "base_url");
	q.key = key;
	q.model = tier_model(r, t.tier);
	q.timeout_seconds = (long)config_int(r->srv->cfg, "ai", "timeout_seconds");
	q.messages = msgs;
	q.json_mode = 1;
	if (stream) {
		q.on_delta = on_delta;
		q.on_idle = on_idle;
		q.arg = &t;
	}
	wants_flow = strcmp(t.intent, "build") == 0 || strcmp(t.intent, "modify") == 0;
	for (attempt = 1; attempt <= TURNS; attempt++) {
		json_t *flow;

		free(content);
		content = NULL;
		json_decref(answer);
		json_decref(errors);
		errors = json_array();
		if ((rc = aimodel_chat(&q, &content, &tokens, err, sizeof(err))) < 0) {
			if (rc == AIMODEL_EABORT || t.gone) {
				/* The client left: the model call was stopped, nothing stored. */
				log_info("ai studio turn for %s: client went away; model call stopped",
				    r->who.org_public_id);
				rc = 0;
			} else {
				rc = model_failed(&t, err);
			}
			goto done;
		}
		answer = parse_answer(content);
		flow = json_object_get(answer, "flow");
		if (answer == NULL) {
			json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "node", "",
			    "field", "", "message", "the answer was not one JSON object"));
		} else if (strcmp(t.intent, "advisory") == 0 || (!wants_flow &&
		    (flow == NULL || json_is_null(flow)))) {
			break;
		} else {
			json_decref(canonical);
			canonical = validate(r, flow, errors, &rc);
			if (rc < 0)
				goto done;
			if (canonical != NULL)
				break;
		}
		if (attempt == TURNS || (answer == NULL && !wants_flow &&
		    strcmp(t.intent, "auto") != 0))
			break;
		/* Once more, with what was wrong. */
		{
			json_t *e;
			size_t i;
			char *why = arena_strdup(&r->arena, "");

			json_array_foreach(errors, i, e)
				why = arena_printf(&r->arena, "%s\n- %s", why,
				    json_string_value(json_object_get(e, "message")));
			json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant",
			    "content", content));
			json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user",
			    "content", arena_printf(&r->arena, "That answer cannot be used:%s\n"
			    "Reply again with the whole corrected JSON object.", why)));
			if (stream) {
				json_t *ev = json_pack("{s:i, s:O}", "attempt", attempt + 1,
				    "errors", errors);

				if (api_stream_event(r, "retry", ev) < 0)
					t.gone = 1;
				json_decref(ev);
				if (t.gone) {
					rc = 0;
					goto done;
				}
			}
		}
	}
	{
		const char *reply = json_string_value(json_object_get(answer, "response"));
		const char *name = db_val(t.s, 0, AI_S_FLOW) != NULL ? db_val(t.s, 0, AI_S_FLOW) :
		    "generated_pipeline";
		json_t *flow = json_object_get(answer, "flow");
		/* Advisory: asked for, or an auto turn that proposed no flow (or
		 * answered in prose). A build or modify turn needs a valid flow. */
		int advisory = canonical == NULL && !wants_flow &&
		    (answer == NULL || flow == NULL || json_is_null(flow) ||
		    strcmp(t.intent, "advisory") == 0);
		int ok = canonical != NULL || advisory;
		json_t *canvas = canonical != NULL ? canvas_of(canonical) : NULL;

		if (reply == NULL)
			reply = answer == NULL && advisory ? content : ok ? "Done." :
			    "I could not produce a valid workflow.";
		if (ok)
			json_array_clear(errors);
		resp = json_pack("{s:s, s:o, s:o, s:n, s:s, s:O, s:{s:b, s:O, s:[]}, s:[]}",
		    "response", reply,
		    "canvas_state", canvas != NULL ? json_incref(canvas) : canvas_col(t.s),
		    "pipeline_yaml", canonical != NULL ?
		    json_string(pipeline_yaml(r, name, canonical)) : json_null(),
		    "pipeline_python",
		    "workflow_status", canonical != NULL ? (strcmp(t.intent, "modify") == 0 ?
		    "modified" : "generated") : ok ? "advisory" : "failed",
		    "workflow_errors", errors,
		    "validation", "valid", ok, "errors", errors, "warnings",
		    "research_sources");
		rc = finish(&t, ok ? 200 : 422, resp, canvas, reply);
		json_decref(canvas);
	}
done:
	free(content);
	json_decref(answer);
	json_decref(errors);
	json_decref(canonical);
	json_decref(msgs);
	return rc;
}

static int
msg_h(struct req *r)
{
	return turn(r, 0);
}

static int
msg_stream_h(struct req *r)
{
	return turn(r, 1);
}

/* Attachments. */

static int
att_initiate_h(struct req *r)
{
	struct db_res *s, *a;
	const char *filename, *ctype, *kind;
	json_t *size = json_object_get(r->body_json, "size_bytes");
	long long max = config_int(r->srv->cfg, "ai", "max_attachment_bytes");
	uint8_t raw[32], sha[32];
	char token[48], hex[65];
	int64_t n;
	int rc;

	if (req_str(r, "filename", 1, 255, &filename) < 0 ||
	    req_str(r, "content_type", 0, 200, &ctype) < 0)
		return 0;
	if (strchr(filename, '/') != NULL || strchr(filename, '\\') != NULL)
		return api_invalid(r, "filename", "must be a file name without a directory");
	if (!json_is_integer(size) || json_integer_value(size) < 1)
		return api_invalid(r, "size_bytes", "is required: the file's size in bytes");
	if (json_integer_value(size) > max)
		return api_error(r, API_E_PAYLOAD_TOO_LARGE, json_pack("{s:I}",
		    "max_attachment_bytes", (json_int_t)max),
		    "attachments are at most %lld bytes", max);
	kind = doctext_kind(filename);
	if (kind == NULL || (ctype != NULL && strncmp(ctype, "image/", 6) == 0))
		return api_error(r, API_E_UNSUPPORTED_MEDIA_TYPE, json_pack("{s:s}", "filename",
		    "must be a PDF, DOCX, PPTX, CSV, TXT, MD, JSON or YAML file"),
		    "'%s' is not a supported attachment: %s (images are not accepted)",
		    filename, doctext_kinds());
	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = ai_att_count(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID), &n)) < 0)
		return rc;
	if (n >= config_int(r->srv->cfg, "ai", "max_attachments_per_session"))
		return api_error(r, API_E_QUOTA_EXCEEDED, json_pack("{s:I}",
		    "max_attachments_per_session", (json_int_t)config_int(r->srv->cfg, "ai",
		    "max_attachments_per_session")), "session '%s' has all the attachments it "
		    "may hold", db_val(s, 0, AI_S_ID));
	/* The upload URL's token: shown once, kept as its SHA-256. */
	if (crypto_random(raw, sizeof(raw)) < 0)
		return DB_ERR;
	crypto_b64url(raw, sizeof(raw), token);
	crypto_sha256(token, strlen(token), sha);
	crypto_hex(sha, hex);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ai_att_create(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID),
	    filename, kind, json_integer_value(size), hex,
	    (int)config_int(r->srv->cfg, "ai", "upload_ttl_seconds"), &a)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "ai_attachment.initiate", "ai_attachment",
	    db_val(a, 0, AI_A_ID), json_pack("{s:s, s:s, s:I}", "session_id",
	    db_val(s, 0, AI_S_ID), "filename", filename,
	    "size_bytes", (json_int_t)json_integer_value(size)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_json(r, 201, json_pack("{s:s, s:s, s:s, s:{s:s}, s:s, s:I, s:o}",
	    "attachment_id", db_val(a, 0, AI_A_ID),
	    "upload_url", arena_printf(&r->arena, "/v1/ai-studio/uploads/%s?token=%s",
	    db_val(a, 0, AI_A_ID), token),
	    "upload_method", "PUT",
	    "upload_headers", "Content-Type", ctype != NULL ? ctype : "application/octet-stream",
	    "expires_at", db_val(a, 0, AI_A_EXPIRES),
	    "size_bytes", (json_int_t)json_integer_value(size),
	    "attachment", att_json(a, 0)));
}

/* The org_id column ai_att_get_for_upload adds. */
#define AI_A_ORG AI_A_TEXT

static int
upload_h(struct req *r)
{
	const char *id = req_param(r, "attachment_id"), *token = req_query(r, "token");
	struct db_res *a;
	uint8_t sha[32];
	char hex[65];
	int rc;

	if (token == NULL || *token == '\0')
		return api_error(r, API_E_UNAUTHORIZED, NULL, "the upload URL's token is missing");
	if ((rc = ai_att_get_for_upload(r->db, &r->arena, id, &a)) < 0)
		return rc;
	crypto_sha256(token, strlen(token), sha);
	crypto_hex(sha, hex);
	/* An unknown id and a wrong token look the same. */
	if (a->nrows == 0 || !crypto_equal(hex, db_val(a, 0, AI_A_HASH), 64))
		return api_error(r, API_E_FORBIDDEN, NULL, "this upload URL is not valid");
	if (db_int(a, 0, AI_A_EXPIRED))
		return api_error(r, API_E_FORBIDDEN, NULL, "this upload URL has expired; "
		    "initiate the attachment again");
	if (strcmp(db_val(a, 0, AI_A_STATUS), "pending") != 0)
		return api_error(r, API_E_CONFLICT, NULL, "attachment '%s' is already complete", id);
	if ((int64_t)r->body_len != db_int(a, 0, AI_A_SIZE))
		return api_invalid(r, "body", "must be exactly the %lld bytes initiated, not %zu",
		    (long long)db_int(a, 0, AI_A_SIZE), r->body_len);
	if (blobdir_put(config_str(r->srv->cfg, "ai", "attachments_dir"), id, r->body,
	    r->body_len) < 0) {
		log_syserr("cannot store attachment %s in %s", id,
		    config_str(r->srv->cfg, "ai", "attachments_dir"));
		return api_error(r, API_E_SERVICE_UNAVAILABLE, NULL,
		    "the attachment could not be stored; retry shortly");
	}
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ai_att_uploaded(r->db, db_int(a, 0, AI_A_DBID), (int64_t)r->body_len)) < 0 ||
	    (rc = audit_write_as(r->db, db_int(a, 0, AI_A_ORG), 0, NULL,
	    req_env(r, "REMOTE_ADDR"), "ai_attachment.upload", "ai_attachment", id,
	    json_pack("{s:I}", "bytes", (json_int_t)r->body_len))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	return api_no_content(r);
}

/* Cuts text (NUL-terminated, len bytes) to at most max characters. */
static size_t
cut_chars(char *text, size_t len, long max, int *truncated)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)text[i] & 0xC0) != 0x80 && (long)n++ == max) {
			text[i] = '\0';
			*truncated = 1;
			return n - 1;
		}
	return n;
}

static int
att_complete_h(struct req *r)
{
	struct db_res *s, *a;
	const char *id, *dir = config_str(r->srv->cfg, "ai", "attachments_dir");
	long max = (long)config_int(r->srv->cfg, "ai", "attachment_text_max_chars");
	char path[1024], err[256], *text = NULL;
	size_t len, chars;
	int rc, truncated = 0;

	if (req_str(r, "attachment_id", 1, 40, &id) < 0)
		return 0;
	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = ai_att_get(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID), id, &a)) < 0)
		return rc;
	if (a->nrows == 0)
		return api_error(r, API_E_NOT_FOUND, NULL, "attachment '%s' not found", id);
	if (strcmp(db_val(a, 0, AI_A_STATUS), "ready") == 0)
		return api_json(r, 200, json_pack("{s:o, s:o}", "attachment", att_json(a, 0),
		    "session", sess_json(s, 0)));
	if (db_val(a, 0, AI_A_UPLOADED) == NULL)
		return api_error(r, API_E_CONFLICT, NULL, "attachment '%s' has not been "
		    "uploaded yet: PUT it to its upload_url first", id);
	if (blobdir_path(dir, id, path, sizeof(path)) < 0)
		return DB_ERR;
	/* Four bytes at most per character: enough to cut at max characters. */
	if (doctext_extract(path, db_val(a, 0, AI_A_KIND), (size_t)max * 4,
	    (int)config_int(r->srv->cfg, "ai", "extract_timeout_seconds"), &text, &len,
	    &truncated, err, sizeof(err)) < 0)
		return api_error(r, API_E_VALIDATION, json_pack("{s:s}", "attachment_id", err),
		    "attachment '%s' could not be read: %s", id, err);
	chars = cut_chars(text, len, max, &truncated);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ai_att_ready(r->db, r->who.org_id, db_int(a, 0, AI_A_DBID), text,
	    (int64_t)chars, truncated)) < 0 ||
	    (rc = audit_write(r->db, &r->who, "ai_attachment.complete", "ai_attachment", id,
	    json_pack("{s:s, s:I, s:b}", "session_id", db_val(s, 0, AI_S_ID),
	    "text_chars", (json_int_t)chars, "truncated", truncated))) < 0 ||
	    (rc = ai_att_get(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID), id, &a)) < 0 ||
	    (rc = db_commit(r->db)) < 0) {
		free(text);
		return rc;
	}
	free(text);
	return api_json(r, 200, json_pack("{s:o, s:o}", "attachment", att_json(a, 0),
	    "session", sess_json(s, 0)));
}

static int
att_delete_h(struct req *r)
{
	struct db_res *s, *a;
	const char *id = req_param(r, "attachment_id");
	int rc;

	if ((rc = load(r, &s)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = ai_att_get(r->db, &r->arena, r->who.org_id, db_int(s, 0, AI_S_DBID), id, &a)) < 0)
		return rc;
	if (a->nrows == 0)
		return api_error(r, API_E_NOT_FOUND, NULL, "attachment '%s' not found", id);
	if ((rc = db_begin(r->db)) < 0 ||
	    (rc = ai_att_delete(r->db, r->who.org_id, db_int(a, 0, AI_A_DBID))) < 0 ||
	    (rc = audit_write(r->db, &r->who, "ai_attachment.delete", "ai_attachment", id,
	    json_pack("{s:s}", "session_id", db_val(s, 0, AI_S_ID)))) < 0 ||
	    (rc = db_commit(r->db)) < 0)
		return rc;
	blobdir_delete(config_str(r->srv->cfg, "ai", "attachments_dir"), id);
	return api_no_content(r);
}
