/* python_import and the organizations' custom node types: the step's
 * process becomes python3, which imports module:function or module:Class
 * from the run's workspace (then PYTHONPATH) and calls it. A function is
 * called as fn(config, ctx); a class as Class(config).run(ctx). ctx has
 * "records" (an iterator over the input records, streamed), "params" and
 * "upstream". A returned dict becomes the step's outputs; any other
 * iterable is written as the step's records. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodes.h"

static const char runner[] =
    "import importlib, inspect, json, os, sys\n"
    "sys.path.insert(0, os.environ.get('DAGY_WORKDIR', '.'))\n"
    "ip, config, inp, outp, params, upstream = sys.argv[1], json.loads(sys.argv[2]),"
    " sys.argv[3], sys.argv[4], json.loads(sys.argv[5]), json.loads(sys.argv[6])\n"
    "mod, _, attr = ip.partition(':')\n"
    "obj = getattr(importlib.import_module(mod), attr)\n"
    "def records():\n"
    "    if not inp:\n"
    "        return\n"
    "    with open(inp) as f:\n"
    "        for line in f:\n"
    "            if line.strip():\n"
    "                yield json.loads(line)\n"
    "ctx = {'records': records(), 'params': params, 'upstream': upstream}\n"
    "result = obj(config).run(ctx) if inspect.isclass(obj) else obj(config, ctx)\n"
    "outs = {}\n"
    "if isinstance(result, dict):\n"
    "    outs = result\n"
    "elif result is not None:\n"
    "    n = 0\n"
    "    with open(outp + '.part', 'w') as f:\n"
    "        for rec in result:\n"
    "            f.write(json.dumps(rec) + '\\n')\n"
    "            n += 1\n"
    "    os.replace(outp + '.part', outp)\n"
    "    outs = {'records_path': outp, 'records': n, 'data_type': 'json'}\n"
    "if os.environ.get('DAGY_OUTPUT'):\n"
    "    with open(os.environ['DAGY_OUTPUT'], 'a') as f:\n"
    "        for k, v in outs.items():\n"
    "            v = v if isinstance(v, str) else json.dumps(v)\n"
    "            f.write('%s=%s\\n' % (k, v.replace('\\n', ' ')))\n";

/* 1 when the node has input records: config.input, or an upstream step
 * with a records_path. A source node has none, which is fine here. */
static int
has_input(json_t *job)
{
	json_t *deps = json_object_get(json_object_get(job, "node"), "depends_on"), *d;
	size_t i;

	if (json_object_get(job_config(job), "input") != NULL)
		return 1;
	json_array_foreach(deps, i, d)
		if (json_object_get(json_object_get(json_object_get(job, "upstream"),
		    json_string_value(d)), "records_path") != NULL)
			return 1;
	return 0;
}

int
nodes_custom(json_t *job)
{
	json_t *node = json_object_get(job, "node"), *config = job_config(job);
	const char *type = json_string_value(json_object_get(node, "type"));
	const char *ip = json_string_value(json_object_get(node, "import_path"));
	const char *w = getenv("DAGY_WORKDIR");
	char in[1024] = "", out[1024], *cfg, *params, *up;
	FILE *f;

	/* python_import names its callable in config and passes the callable
	 * its options; a custom node type has the import path it was
	 * registered with pinned on the node, and passes its whole config. */
	if (strcmp(type, "python_import") == 0) {
		ip = json_string_value(json_object_get(config, "import_path"));
		config = json_object_get(config, "options");
	}
	if (ip == NULL) {
		fprintf(stderr, "node type %s has no import path\n", type);
		return 2;
	}
	if (has_input(job)) {
		if ((f = rec_input(job, in, sizeof(in))) == NULL)
			return 1;
		fclose(f);
	}
	snprintf(out, sizeof(out), "%s/%s.jsonl", w != NULL ? w : ".",
	    json_string_value(json_object_get(job, "step_id")));
	cfg = config != NULL ? json_dumps(config, JSON_COMPACT) : strdup("{}");
	params = json_dumps(json_object_get(job, "params"), JSON_COMPACT | JSON_ENCODE_ANY);
	up = json_dumps(json_object_get(job, "upstream"), JSON_COMPACT | JSON_ENCODE_ANY);
	fflush(stdout);
	execlp("python3", "python3", "-c", runner, ip, cfg, in, out,
	    params != NULL ? params : "{}", up != NULL ? up : "{}", (char *)NULL);
	fprintf(stderr, "cannot run python3: %s\n", strerror(errno));
	return 127;
}
