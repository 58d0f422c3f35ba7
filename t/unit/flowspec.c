/* Flow spec validation: each error names its node and field; the
 * canonical form and its hash ignore the order things were written in. */
#include "../tap.h"
#include "dagy/flowspec.h"

static struct flowspec_err err;

static json_t *
check(const char *text)
{
	json_error_t je;
	json_t *spec = json_loads(text, 0, &je), *c;

	if (spec == NULL)
		bail("bad test JSON: %s: %s", text, je.text);
	c = flowspec_canonical(spec, 3600, &err);
	json_decref(spec);
	return c;
}

static void
refused(const char *text, const char *node, const char *field, const char *word)
{
	json_t *c = check(text);

	ok(c == NULL && strcmp(err.node, node) == 0 && strcmp(err.field, field) == 0 &&
	    strstr(err.msg, word) != NULL, "refused: %s (%s)", word, err.msg);
	json_decref(c);
}

int
main(void)
{
	json_t *a, *b;
	char ha[65], hb[65];
	char *text;

	plan(27);
	a = check("{\"nodes\": [{\"id\": \"load\", \"type\": \"shell\", \"config\": {\"command\": \"l\"},"
	    " \"depends_on\": [\"extract\"]}, {\"id\": \"extract\", \"type\": \"shell\","
	    " \"config\": {\"command\": \"e\"}, \"retries\": 2}], \"params\": {\"date\": {\"default\": \"today\"}}}");
	b = check("{\"nodes\": [{\"id\": \"extract\", \"type\": \"shell\", \"retries\": 2,"
	    " \"config\": {\"command\": \"e\"}}, {\"id\": \"load\", \"type\": \"shell\","
	    " \"config\": {\"command\": \"l\"}}], \"edges\": [{\"source\": \"extract\", \"target\": \"load\"}],"
	    " \"params\": {\"date\": {\"default\": \"today\"}}}");
	ok(a != NULL && b != NULL, "a valid spec, written two ways");
	flowspec_hash(a, ha);
	flowspec_hash(b, hb);
	is_string(ha, hb, "depends_on and edges give the same code_hash");
	is_int(64, (long long)strlen(ha), "hash is 64 hex digits");
	text = json_dumps(json_object_get(a, "edges"), JSON_COMPACT);
	is_string("[{\"source\":\"extract\",\"target\":\"load\"}]", text, "edges regenerated");
	free(text);
	is_string("extract", json_string_value(json_object_get(json_array_get(
	    json_object_get(a, "nodes"), 0), "id")), "nodes sorted by id");
	json_decref(a);
	json_decref(b);

	refused("{\"nodes\": []}", "", "nodes", "non-empty");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"shell\", \"config\": {\"command\": \"x\"}},"
	    " {\"id\": \"a\", \"type\": \"noop\"}]}", "a", "id", "more than one node");
	refused("{\"nodes\": [{\"id\": \"a b\", \"type\": \"noop\"}]}", "", "nodes[0]", "letters");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"teleport\"}]}", "a", "type", "teleport");
	refused("{\"nodes\": [{\"id\": \"a\"}]}", "a", "type", "required");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"shell\"}]}", "a", "config.command", "required");
	refused("{\"nodes\": [{\"id\": \"h\", \"type\": \"http_fetch\", \"config\": {\"url\": 5}}]}",
	    "h", "config.url", "string");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"depends_on\": [\"ghost\"]}]}",
	    "a", "depends_on", "ghost");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\"}], \"edges\": [{\"source\": \"a\","
	    " \"target\": \"zz\"}]}", "zz", "edges[0]", "does not exist");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"depends_on\": [\"c\"]},"
	    " {\"id\": \"b\", \"type\": \"noop\", \"depends_on\": [\"a\"]},"
	    " {\"id\": \"c\", \"type\": \"noop\", \"depends_on\": [\"b\"]}]}", "a", "depends_on",
	    "a -> c -> b -> a");
	refused("{\"nodes\": [{\"id\": \"s\", \"type\": \"noop\", \"depends_on\": [\"s\"]}]}",
	    "s", "depends_on", "cycle");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"retries\": -1}]}", "a", "retries", "integer");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"timeout_seconds\": 99999}]}",
	    "a", "timeout_seconds", "3600");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"depend_on\": []}]}", "a",
	    "depend_on", "not a node field");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"env\": {\"1X\": \"v\"}}]}", "a", "env", "1X");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"env\": {\"K\": {\"secret\": \"\"}}}]}",
	    "a", "env", "secret");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"env\": {\"K\": {\"secret\": \"x\","
	    " \"other\": 1}}}]}", "a", "env", "secret");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"env\": {\"K\": {\"value\": \"x\"}}}]}",
	    "a", "env", "secret");
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"env\": {\"K\": 3}}]}", "a", "env", "K");
	{
		json_t *c = check("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\", \"env\":"
		    " {\"API_KEY\": {\"secret\": \"api-key-prod\"}, \"MODE\": \"full\"}}]}");
		json_t *env = json_object_get(json_array_get(json_object_get(c, "nodes"), 0), "env");

		ok(c != NULL && strcmp(json_string_value(json_object_get(json_object_get(env,
		    "API_KEY"), "secret")), "api-key-prod") == 0,
		    "an env entry may name a secret: {\"secret\": \"name\"}");
		json_decref(c);
	}
	refused("{\"nodes\": [{\"id\": \"a\", \"type\": \"noop\"}], \"params\": {\"d\": 3}}", "",
	    "params.d", "object");
	{
		char env[80];

		flowspec_env_name("load-data", env);
		is_string("LOAD_DATA", env, "env name of a node id");
	}
	return done_testing();
}
