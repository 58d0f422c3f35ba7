/* Flow spec validation. Every error names the node and the field, so a
 * 400 tells the author exactly what to fix. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/crypto.h"
#include "dagy/flowspec.h"
#include "dagy/nodes.h"

static const char *const node_keys[] = {"id", "type", "config", "retries",
	"retry_delay_seconds", "timeout_seconds", "env", "depends_on", "label",
	"description", "position", "node_version", "import_path", NULL};

const char *
flowspec_types(void)
{
	return "the node types of GET /v1/nodes/registry";
}

static __attribute__((format(printf, 4, 5))) void
fail(struct flowspec_err *err, const char *node, const char *field,
    const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err->node, sizeof(err->node), "%s", node != NULL ? node : "");
	snprintf(err->field, sizeof(err->field), "%s", field);
	if (node != NULL && *node != '\0')
		snprintf(err->msg, sizeof(err->msg), "node '%s': %s %s", node, field, what);
	else
		snprintf(err->msg, sizeof(err->msg), "%s %s", field, what);
}

static int
valid_id(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

static int
valid_env_key(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* A string, or {"secret": "name"}: the value of a stored secret, which
 * the worker opens just before the step starts. */
static int
valid_env_value(json_t *v)
{
	json_t *name = json_object_get(v, "secret");
	const char *s;

	if (json_is_string(v))
		return 1;
	if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_string(name))
		return 0;
	s = json_string_value(name);
	return *s != '\0' && *s != '.' && strlen(s) <= 200 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	    strlen(s);
}

void
flowspec_env_name(const char *id, char *out)
{
	size_t i;

	for (i = 0; id[i] != '\0' && i < 79; i++)
		out[i] = id[i] == '-' ? '_' : (char)toupper((unsigned char)id[i]);
	out[i] = '\0';
}

/* An optional integer field in [lo, hi]; -1 with err set when it is bad. */
static int
int_field(json_t *node, const char *id, const char *key, long long lo,
    long long hi, struct flowspec_err *err)
{
	json_t *v = json_object_get(node, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		fail(err, id, key, "must be an integer from %lld to %lld", lo, hi);
		return -1;
	}
	return 0;
}

struct graph {
	size_t n;
	const char **ids;
	json_t *index;   /* id -> position, as a JSON object used as a map */
	json_t **deps;   /* per node: array of dependency ids */
	int *state;      /* DFS colour: 0 new, 1 on stack, 2 done */
	size_t *stack, depth;
};

static long
index_of(struct graph *g, const char *id)
{
	json_t *v = json_object_get(g->index, id);

	return v != NULL ? (long)json_integer_value(v) : -1;
}

/* Depth-first search; on a back edge, names the nodes on the cycle. */
static int
visit(struct graph *g, size_t u, struct flowspec_err *err)
{
	size_t i;
	json_t *d;

	g->state[u] = 1;
	g->stack[g->depth++] = u;
	json_array_foreach(g->deps[u], i, d) {
		size_t v = (size_t)index_of(g, json_string_value(d));

		if (g->state[v] == 1) {
			char path[400] = "";
			size_t k = g->depth;

			while (k > 0 && g->stack[k - 1] != v)
				k--;
			for (k = k - 1; k < g->depth; k++) {
				strncat(path, g->ids[g->stack[k]], sizeof(path) - strlen(path) - 5);
				strncat(path, " -> ", sizeof(path) - strlen(path) - 1);
			}
			strncat(path, g->ids[v], sizeof(path) - strlen(path) - 1);
			fail(err, g->ids[v], "depends_on", "forms a cycle: %s", path);
			return -1;
		}
		if (g->state[v] == 0 && visit(g, v, err) < 0)
			return -1;
	}
	g->state[u] = 2;
	g->depth--;
	return 0;
}

static void
graph_free(struct graph *g)
{
	size_t i;

	for (i = 0; g->deps != NULL && i < g->n; i++)
		json_decref(g->deps[i]);
	free(g->deps);
	free(g->ids);
	free(g->state);
	free(g->stack);
	json_decref(g->index);
}

/* Shared by flows and canvases: ids unique and well-formed, edges naming
 * real nodes (merged into deps), no cycle. dep_key is the per-node list of
 * dependencies ("depends_on"), or NULL for canvases. */
static int
build_graph(json_t *nodes, json_t *edges, const char *dep_key, struct graph *g,
    struct flowspec_err *err)
{
	size_t i;
	json_t *node, *e;

	memset(g, 0, sizeof(*g));
	if (!json_is_array(nodes) || json_array_size(nodes) == 0) {
		fail(err, NULL, "nodes", "must be a non-empty array");
		return -1;
	}
	if (json_array_size(nodes) > FLOWSPEC_MAX_NODES) {
		fail(err, NULL, "nodes", "may hold at most %d nodes", FLOWSPEC_MAX_NODES);
		return -1;
	}
	g->n = json_array_size(nodes);
	g->ids = calloc(g->n, sizeof(*g->ids));
	g->deps = calloc(g->n, sizeof(*g->deps));
	g->state = calloc(g->n, sizeof(*g->state));
	g->stack = calloc(g->n + 1, sizeof(*g->stack));
	g->index = json_object();
	json_array_foreach(nodes, i, node) {
		json_t *id = json_object_get(node, "id");
		char where[32];

		snprintf(where, sizeof(where), "nodes[%zu]", i);
		if (!json_is_object(node)) {
			fail(err, NULL, where, "must be an object");
			return -1;
		}
		if (!json_is_string(id) || !valid_id(json_string_value(id))) {
			fail(err, NULL, where, "needs an \"id\" of 1-64 letters, digits, '_' or '-'");
			return -1;
		}
		g->ids[i] = json_string_value(id);
		if (json_object_get(g->index, g->ids[i]) != NULL) {
			fail(err, g->ids[i], "id", "is used by more than one node");
			return -1;
		}
		json_object_set_new(g->index, g->ids[i], json_integer((json_int_t)i));
		g->deps[i] = json_array();
	}
	json_array_foreach(nodes, i, node) {
		json_t *list = dep_key != NULL ? json_object_get(node, dep_key) : NULL;
		size_t j;
		json_t *d;

		if (list == NULL)
			continue;
		if (!json_is_array(list)) {
			fail(err, g->ids[i], dep_key, "must be an array of node ids");
			return -1;
		}
		json_array_foreach(list, j, d) {
			if (!json_is_string(d) || index_of(g, json_string_value(d)) < 0) {
				fail(err, g->ids[i], dep_key, "names '%s', which is no node",
				    json_is_string(d) ? json_string_value(d) : "(not a string)");
				return -1;
			}
			json_array_append(g->deps[i], d);
		}
	}
	if (edges != NULL && !json_is_array(edges)) {
		fail(err, NULL, "edges", "must be an array of {source, target}");
		return -1;
	}
	json_array_foreach(edges, i, e) {
		json_t *src = json_object_get(e, "source"), *dst = json_object_get(e, "target");
		char where[32];
		long t;

		snprintf(where, sizeof(where), "edges[%zu]", i);
		if (!json_is_string(src) || !json_is_string(dst)) {
			fail(err, NULL, where, "needs string \"source\" and \"target\"");
			return -1;
		}
		if (index_of(g, json_string_value(src)) < 0 ||
		    (t = index_of(g, json_string_value(dst))) < 0) {
			fail(err, index_of(g, json_string_value(src)) < 0 ?
			    json_string_value(src) : json_string_value(dst), where,
			    "names a node that does not exist");
			return -1;
		}
		json_array_append(g->deps[t], src);
	}
	for (i = 0; i < g->n; i++)
		if (g->state[i] == 0 && visit(g, i, err) < 0)
			return -1;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted array of the unique strings of list. */
static json_t *
sorted_unique(json_t *list)
{
	size_t n = json_array_size(list), i, k = 0;
	const char **v = calloc(n + 1, sizeof(*v));
	json_t *out = json_array();

	for (i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(list, i));
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		if (k == 0 || strcmp(v[i], v[k - 1]) != 0) {
			v[k++] = v[i];
			json_array_append_new(out, json_string(v[i]));
		}
	free(v);
	return out;
}

static int
cmp_node(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
	    json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

/* The definition of a node's type: a built-in, or the org's custom node
 * at the version the node pins (else the current one). NULL for noop,
 * which has none. -1 with err set when there is no such type. */
static int
resolve_type(json_t *node, const char *id, const char *type, json_t *custom,
    json_t **def, struct flowspec_err *err)
{
	json_t *entry, *pin = json_object_get(node, "node_version");
	char v[32];

	*def = NULL;
	if (strcmp(type, "noop") == 0)
		return 0;
	if ((*def = nodes_builtin(type)) != NULL) {
		if (pin != NULL) {
			fail(err, id, "node_version", "applies to custom node types only");
			return -1;
		}
		return 0;
	}
	if ((entry = json_object_get(custom, type)) == NULL) {
		fail(err, id, "type", "'%s' is not a node type this dagy runs (%s)", type,
		    flowspec_types());
		return -1;
	}
	if (pin == NULL) {
		*def = json_object_get(entry, "current");
		return 0;
	}
	if (!json_is_integer(pin) ||
	    (snprintf(v, sizeof(v), "%lld", (long long)json_integer_value(pin)),
	    (*def = json_object_get(json_object_get(entry, "versions"), v)) == NULL)) {
		fail(err, id, "node_version", "names no kept version of custom node '%s'", type);
		return -1;
	}
	return 0;
}

/* Checks one node's own fields and returns its canonical copy; *def is
 * the definition of its type (borrowed, NULL for noop). A custom node's
 * copy pins the version and import path it was checked against. */
static json_t *
check_node(json_t *node, json_t *deps, long long max_timeout, json_t *custom,
    json_t **def, struct flowspec_err *err)
{
	const char *id = json_string_value(json_object_get(node, "id"));
	json_t *type = json_object_get(node, "type"), *config, *env, *out;
	const char *key;
	char field[64], reason[256];
	json_t *v;
	size_t i;

	json_object_foreach(node, key, v) {
		for (i = 0; node_keys[i] != NULL && strcmp(node_keys[i], key) != 0; i++)
			;
		if (node_keys[i] == NULL) {
			fail(err, id, key, "is not a node field");
			return NULL;
		}
	}
	if (!json_is_string(type)) {
		fail(err, id, "type", "is required (one of %s)", flowspec_types());
		return NULL;
	}
	if (resolve_type(node, id, json_string_value(type), custom, def, err) < 0)
		return NULL;
	config = json_object_get(node, "config");
	if (config != NULL && !json_is_object(config)) {
		fail(err, id, "config", "must be an object");
		return NULL;
	}
	if (*def != NULL && nodes_check_config(*def, config, field, reason) < 0) {
		fail(err, id, field, "%s", reason);
		return NULL;
	}
	if (int_field(node, id, "retries", 0, 100, err) < 0 ||
	    int_field(node, id, "retry_delay_seconds", 0, 86400, err) < 0 ||
	    int_field(node, id, "timeout_seconds", 1, max_timeout, err) < 0)
		return NULL;
	env = json_object_get(node, "env");
	if (env != NULL) {
		if (!json_is_object(env)) {
			fail(err, id, "env", "must be an object of strings or "
			    "{\"secret\": \"name\"} objects");
			return NULL;
		}
		json_object_foreach(env, key, v)
			if (!valid_env_key(key) || !valid_env_value(v)) {
				fail(err, id, "env", "entry '%s' needs a name of letters, digits "
				    "and '_' and a string value or {\"secret\": \"name\"}", key);
				return NULL;
			}
	}
	out = json_pack("{s:O, s:O, s:o, s:o}", "id", json_object_get(node, "id"),
	    "type", type, "config", config != NULL ? json_incref(config) : json_object(),
	    "depends_on", sorted_unique(deps));
	for (i = 3; i < 7; i++)
		if ((v = json_object_get(node, node_keys[i])) != NULL)
			json_object_set(out, node_keys[i], v);
	if (*def != NULL && json_object_get(*def, "import_path") != NULL) {
		json_object_set(out, "node_version", json_object_get(*def, "version"));
		json_object_set(out, "import_path", json_object_get(*def, "import_path"));
	}
	return out;
}

/* One connection between two nodes: checks it against the connectors at
 * its ends (nodes_check_connection, as POST /v1/nodes/validate-connection
 * does), counting what each connector already holds in counts. */
static int
check_edge(struct graph *g, json_t **defs, const char *src, const char *dst,
    const char *src_conn, const char *dst_conn, const char *where, json_t *counts,
    struct flowspec_err *err)
{
	long si = index_of(g, src), di = index_of(g, dst);
	json_t *errors, *sc, *dc;
	char ks[200], kd[200];
	int bad;

	if (defs[si] == NULL || defs[di] == NULL)
		return 0; /* noop joins anything */
	errors = json_array();
	/* First which connectors the edge lands on, then what they hold. */
	nodes_check_connection(defs[si], src_conn, defs[di], dst_conn, 0, 0, errors, &sc, &dc);
	json_array_clear(errors);
	snprintf(ks, sizeof(ks), ">%s\n%s", src, sc != NULL ?
	    json_string_value(json_object_get(sc, "id")) : "");
	snprintf(kd, sizeof(kd), "<%s\n%s", dst, dc != NULL ?
	    json_string_value(json_object_get(dc, "id")) : "");
	bad = nodes_check_connection(defs[si], src_conn, defs[di], dst_conn,
	    (long)json_integer_value(json_object_get(counts, ks)),
	    (long)json_integer_value(json_object_get(counts, kd)), errors, &sc, &dc);
	if (bad > 0)
		fail(err, dst, where, "from '%s' is refused: %s", src,
		    json_string_value(json_array_get(errors, 0)));
	json_decref(errors);
	if (bad > 0)
		return -1;
	json_object_set_new(counts, ks, json_integer(json_integer_value(json_object_get(counts, ks)) + 1));
	json_object_set_new(counts, kd, json_integer(json_integer_value(json_object_get(counts, kd)) + 1));
	return 0;
}

/* Every edge and depends_on entry against the connectors; then required
 * inbound connectors that got nothing, and the successors a branch names. */
static int
check_edges(struct graph *g, json_t *nodes, json_t *edges, json_t **defs,
    struct flowspec_err *err)
{
	json_t *counts = json_object(), *seen = json_object(), *e, *node, *d, *c;
	size_t i, k;
	int rc = -1;

	json_array_foreach(edges, i, e) {
		const char *src = json_string_value(json_object_get(e, "source"));
		const char *dst = json_string_value(json_object_get(e, "target"));
		json_t *sconn = json_object_get(e, "source_connector");
		json_t *dconn = json_object_get(e, "target_connector");
		char where[32], pair[200];

		snprintf(where, sizeof(where), "edges[%zu]", i);
		if ((sconn != NULL && !json_is_string(sconn)) || (dconn != NULL && !json_is_string(dconn))) {
			fail(err, dst, where, "source_connector and target_connector must be strings");
			goto done;
		}
		snprintf(pair, sizeof(pair), "%s\n%s", src, dst);
		if (json_object_get(seen, pair) != NULL)
			continue;
		json_object_set_new(seen, pair, json_true());
		if (check_edge(g, defs, src, dst, json_string_value(sconn), json_string_value(dconn),
		    where, counts, err) < 0)
			goto done;
	}
	json_array_foreach(nodes, i, node) {
		const char *dst = json_string_value(json_object_get(node, "id"));

		json_array_foreach(json_object_get(node, "depends_on"), k, d) {
			char pair[200];

			snprintf(pair, sizeof(pair), "%s\n%s", json_string_value(d), dst);
			if (json_object_get(seen, pair) != NULL)
				continue;
			json_object_set_new(seen, pair, json_true());
			if (check_edge(g, defs, json_string_value(d), dst, NULL, NULL, "depends_on",
			    counts, err) < 0)
				goto done;
		}
	}
	for (i = 0; i < g->n; i++) {
		json_array_foreach(json_object_get(defs[i], "connectors"), k, c) {
			char key[200];

			if (!json_is_true(json_object_get(c, "required")) ||
			    strcmp(json_string_value(json_object_get(c, "direction")), "inbound") != 0)
				continue;
			snprintf(key, sizeof(key), "<%s\n%s", g->ids[i],
			    json_string_value(json_object_get(c, "id")));
			if (json_object_get(counts, key) == NULL) {
				fail(err, g->ids[i], "depends_on", "needs a connection into its required "
				    "connector '%s'", json_string_value(json_object_get(c, "id")));
				goto done;
			}
		}
		if (defs[i] != NULL && strcmp(json_string_value(json_object_get(defs[i], "node_type")),
		    "branch") == 0) {
			json_t *config = json_object_get(json_array_get(nodes, i), "config");
			static const char *const arms[] = {"then", "else"};
			int a;

			for (a = 0; a < 2; a++)
				json_array_foreach(json_object_get(config, arms[a]), k, d) {
					char pair[200], field[32];

					snprintf(pair, sizeof(pair), "%s\n%s", g->ids[i],
					    json_is_string(d) ? json_string_value(d) : "");
					snprintf(field, sizeof(field), "config.%s", arms[a]);
					if (json_object_get(seen, pair) == NULL) {
						fail(err, g->ids[i], field, "names '%s', which does not depend "
						    "on this branch", json_is_string(d) ? json_string_value(d) :
						    "(not a string)");
						goto done;
					}
				}
		}
	}
	rc = 0;
done:
	json_decref(counts);
	json_decref(seen);
	return rc;
}

json_t *
flowspec_canonical(json_t *spec, long long max_timeout, struct flowspec_err *err)
{
	return flowspec_canonical_with(spec, max_timeout, NULL, err);
}

json_t *
flowspec_canonical_with(json_t *spec, long long max_timeout, json_t *custom,
    struct flowspec_err *err)
{
	struct graph g;
	json_t **defs = NULL;
	json_t *out = NULL, *nodes, *edges, *params, **sorted = NULL;
	const char *key;
	json_t *v;
	size_t i, j;

	memset(err, 0, sizeof(*err));
	if (!json_is_object(spec)) {
		fail(err, NULL, "flow_spec", "must be an object with \"nodes\"");
		return NULL;
	}
	if (build_graph(json_object_get(spec, "nodes"), json_object_get(spec, "edges"),
	    "depends_on", &g, err) < 0)
		goto done;
	params = json_object_get(spec, "params");
	if (params != NULL && !json_is_object(params)) {
		fail(err, NULL, "params", "must be an object of {name: {default: …}}");
		goto done;
	}
	json_object_foreach(params, key, v) {
		char field[80];

		snprintf(field, sizeof(field), "params.%s", key);
		if (!valid_env_key(key) || strlen(key) > 64) {
			fail(err, NULL, field, "needs a name of letters, digits and '_'");
			goto done;
		}
		if (!json_is_object(v)) {
			fail(err, NULL, field, "must be an object such as {\"default\": \"x\"}");
			goto done;
		}
	}
	nodes = json_array();
	sorted = calloc(g.n, sizeof(*sorted));
	defs = calloc(g.n, sizeof(*defs));
	for (i = 0; i < g.n; i++) {
		sorted[i] = check_node(json_array_get(json_object_get(spec, "nodes"), i),
		    g.deps[i], max_timeout, custom, &defs[i], err);
		if (sorted[i] == NULL)
			break;
	}
	if (i < g.n || check_edges(&g, json_object_get(spec, "nodes"),
	    json_object_get(spec, "edges"), defs, err) < 0) {
		for (j = 0; j < i && j < g.n; j++)
			json_decref(sorted[j]);
		json_decref(nodes);
		goto done;
	}
	qsort(sorted, g.n, sizeof(*sorted), cmp_node);
	edges = json_array();
	for (i = 0; i < g.n; i++) {
		json_t *d;

		json_array_foreach(json_object_get(sorted[i], "depends_on"), j, d)
			json_array_append_new(edges, json_pack("{s:O, s:O}", "source", d,
			    "target", json_object_get(sorted[i], "id")));
		json_array_append_new(nodes, sorted[i]);
	}
	out = json_pack("{s:o, s:o, s:o}", "nodes", nodes, "edges", edges,
	    "params", params != NULL ? json_incref(params) : json_object());
	for (i = 0; i < 2; i++) {
		static const char *const keep[] = {"name", "description"};

		if (json_is_string(v = json_object_get(spec, keep[i])))
			json_object_set(out, keep[i], v);
	}
done:
	free(sorted);
	free(defs);
	graph_free(&g);
	return out;
}

void
flowspec_hash(json_t *canonical, char hex[65])
{
	char *text = json_dumps(canonical, JSON_COMPACT | JSON_SORT_KEYS);
	uint8_t sha[32];

	crypto_sha256(text, strlen(text), sha);
	crypto_hex(sha, hex);
	free(text);
}

int
flowspec_check_canvas(json_t *canvas, struct flowspec_err *err)
{
	struct graph g;
	int rc;

	memset(err, 0, sizeof(*err));
	if (!json_is_object(canvas)) {
		fail(err, NULL, "canvas_json", "must be an object with \"nodes\" and \"edges\"");
		return -1;
	}
	rc = build_graph(json_object_get(canvas, "nodes"),
	    json_object_get(canvas, "edges"), NULL, &g, err);
	graph_free(&g);
	return rc;
}

json_t *
flowspec_from_canvas(json_t *canvas)
{
	json_t *nodes = json_array(), *n, *edges = json_array(), *e;
	size_t i;

	json_array_foreach(json_object_get(canvas, "nodes"), i, n) {
		json_t *node = json_pack("{s:O}", "id", json_object_get(n, "id"));
		json_t *data = json_object_get(n, "data");
		static const char *const keep[] = {"type", "retries",
			"retry_delay_seconds", "timeout_seconds", "env", "label"};
		size_t k;

		for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (json_object_get(n, keep[k]) != NULL)
				json_object_set(node, keep[k], json_object_get(n, keep[k]));
		if (!json_is_object(data))
			data = json_object_get(n, "config");
		if (json_is_object(data))
			json_object_set(node, "config", data);
		json_array_append_new(nodes, node);
	}
	json_array_foreach(json_object_get(canvas, "edges"), i, e)
		json_array_append_new(edges, json_pack("{s:O, s:O}", "source",
		    json_object_get(e, "source"), "target", json_object_get(e, "target")));
	return json_pack("{s:o, s:o}", "nodes", nodes, "edges", edges);
}

json_t *
flowspec_order(json_t *canonical)
{
	json_t *nodes = json_object_get(canonical, "nodes"), *depth = json_object();
	json_t *out = json_array(), *n;
	size_t count = json_array_size(nodes), i, placed = 0;
	long level, max = 0;
	int changed = 1;

	/* Depths by relaxation: a spec is acyclic, so this settles. */
	while (changed) {
		changed = 0;
		json_array_foreach(nodes, i, n) {
			json_t *d;
			size_t k;

			level = 0;
			json_array_foreach(json_object_get(n, "depends_on"), k, d) {
				long dl = (long)json_integer_value(json_object_get(depth,
				    json_string_value(d)));

				if (dl + 1 > level)
					level = dl + 1;
			}
			if (json_object_get(depth, json_string_value(json_object_get(n, "id"))) == NULL ||
			    json_integer_value(json_object_get(depth,
			    json_string_value(json_object_get(n, "id")))) != level) {
				json_object_set_new(depth, json_string_value(json_object_get(n, "id")),
				    json_integer(level));
				changed = 1;
			}
			if (level > max)
				max = level;
		}
	}
	for (level = 0; level <= max && placed < count; level++)
		json_array_foreach(nodes, i, n)
			if (json_integer_value(json_object_get(depth,
			    json_string_value(json_object_get(n, "id")))) == level) {
				json_array_append(out, n);
				placed++;
			}
	json_decref(depth);
	return out;
}
