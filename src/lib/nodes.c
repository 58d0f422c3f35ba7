/* The node registry: the built-in definitions as a table, the checks of
 * configs and connections, and the SQL of custom nodes and their versions. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagy/cond.h"
#include "dagy/jschema.h"
#include "dagy/nodes.h"

const struct nodes_category nodes_categories[] = {
	{"ingestion", "Ingestion"},
	{"transform", "Transform"},
	{"llm", "LLM"},
	{"vectordb", "Vector DB"},
	{"notification", "Notifications"},
	{"custom", "Custom Code"},
	{"control_flow", "Control Flow"},
};
const size_t nodes_ncategories = sizeof(nodes_categories) / sizeof(nodes_categories[0]);

/* A connector is "direction id Name types cardinality [required]", types
 * separated by '|'. A config field is "name type flag Label words", type
 * one of string, integer, number, boolean, object, array, any or
 * enum:a|b, flag '!' for required and '-' otherwise. */
struct builtin {
	const char *type, *label, *category, *icon, *color, *description, *tags;
	const char *connectors[4];
	const char *fields[12];
};

#define C_TRIGGER_IN "in trigger_in Trigger trigger|any zero_or_many"
#define C_DATA_IN "in data_in Data json|dataframe zero_or_one"
#define C_ANY_IN "in data_in Data json|dataframe|any zero_or_one"
#define C_DATA_OUT "out data_out Data json|dataframe zero_or_many"
#define C_DONE_OUT "out done_out Done trigger|string|json zero_or_many"
#define F_INPUT "input string - Input file (default: the upstream records)"
#define F_MODEL "model string - Model (default: [ai] model)"

static const struct builtin builtins[] = {
	{"http_fetch", "HTTP Fetch", "ingestion", "Globe", "blue",
	    "Fetch a URL over HTTP(S); the body is the step's output, or its records",
	    "http api rest download",
	    {C_TRIGGER_IN, "out data_out Data json|string zero_or_many"},
	    {"url string ! URL", "method enum:GET|POST|PUT|PATCH|DELETE|HEAD - Method",
	     "headers object - Headers", "body any - Body",
	     "records boolean - Parse the body as JSON or JSON Lines records"}},
	{"file_ingest", "File Ingest", "ingestion", "FileInput", "blue",
	    "Read JSON Lines, a JSON array or a CSV file with a header row into records",
	    "file jsonl json csv read local table",
	    {C_TRIGGER_IN, C_DATA_OUT},
	    {"path string ! Path", "format enum:jsonl|json|csv - Format",
	     "delimiter string - CSV delimiter (one character)"}},
	{"inline_records", "Inline Records", "ingestion", "Braces", "blue",
	    "Records written into the flow itself", "records static json seed",
	    {C_TRIGGER_IN, C_DATA_OUT},
	    {"records array ! Records"}},
	{"s3_ingest", "S3 Ingest", "ingestion", "CloudDownload", "blue",
	    "Read files from Amazon S3 (or an S3-compatible store) into the workspace",
	    "s3 aws bucket object download storage",
	    {"in trigger_in Trigger trigger|any zero_or_one",
	     "out data_out Data dataframe|json|string zero_or_many"},
	    {"bucket string ! Bucket", "key string - Object key", "prefix string - Key prefix",
	     "path string - Directory in the workspace (default: its top)",
	     "endpoint string - Endpoint (default: AWS)", "region string - Region",
	     "addressing enum:auto|path|virtual - Addressing"}},
	{"s3_write", "S3 Write", "ingestion", "CloudUpload", "blue",
	    "Upload a file, or a directory's files, from the workspace to S3",
	    "s3 aws bucket object upload storage",
	    {C_TRIGGER_IN, C_DONE_OUT},
	    {"bucket string ! Bucket", "path string ! File or directory in the workspace",
	     "key string - Object key (one file)", "prefix string - Key prefix",
	     "endpoint string - Endpoint (default: AWS)", "region string - Region",
	     "addressing enum:auto|path|virtual - Addressing"}},
	{"schema_validator", "Schema Validator", "transform", "ShieldCheck", "green",
	    "Validate records against a JSON Schema (draft 2020-12)",
	    "json schema validate quality",
	    {C_ANY_IN, C_TRIGGER_IN, C_DATA_OUT, "out invalid_out Invalid json zero_or_many"},
	    {"schema object ! JSON Schema", "on_invalid enum:fail|drop|split - Invalid records",
	     F_INPUT}},
	{"data_normalizer", "Data Normalizer", "transform", "Wand", "green",
	    "Trim strings, normalise key case, rename, lowercase, fill defaults, drop nulls",
	    "normalize clean keys rename",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"trim boolean - Trim strings", "key_case enum:keep|lower|snake - Key case",
	     "rename object - Rename fields", "lowercase array - Lowercase values of",
	     "defaults object - Defaults", "drop_nulls boolean - Drop null fields", F_INPUT}},
	{"deduplicator", "Deduplicator", "transform", "Copy", "green",
	    "Drop repeated records (whole records, or by key fields)",
	    "dedupe duplicates unique distinct",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"keys array - Key fields", F_INPUT}},
	{"filter", "Filter", "transform", "Filter", "green",
	    "Keep the records for which a condition holds", "filter where condition",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"condition object ! Condition", F_INPUT}},
	{"map", "Map", "transform", "Shuffle", "green",
	    "Set, copy, select and drop fields of every record", "map project fields select",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"set object - Set fields", "copy object - Copy fields (new: old)",
	     "select array - Keep only", "drop array - Drop fields", F_INPUT}},
	{"llm_chat", "LLM Chat", "llm", "MessageSquare", "purple",
	    "Ask an OpenAI-compatible chat model; the answer is the step's output",
	    "llm openai chat completion prompt gpt",
	    {C_TRIGGER_IN, "out text_out Text string|json zero_or_many"},
	    {"prompt string ! Prompt", "system string - System message", F_MODEL,
	     "temperature number - Temperature", "max_tokens integer - Max tokens"}},
	{"llm_map", "LLM Map", "llm", "Sparkles", "purple",
	    "Run a prompt template over every record and store the answer in a field",
	    "llm openai enrich prompt records",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"prompt string ! Prompt template ({{field}})", "target string - Answer field",
	     "system string - System message", F_MODEL, "temperature number - Temperature",
	     "max_tokens integer - Max tokens", F_INPUT}},
	{"llm_classify", "LLM Classify", "llm", "Tags", "purple",
	    "Label every record with one of the given labels", "llm openai classify label category",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"labels array ! Labels", "field string ! Text field", "target string - Label field",
	     F_MODEL, F_INPUT}},
	{"llm_embed", "LLM Embed", "llm", "Binary", "purple",
	    "Add an embedding vector of a text field to every record",
	    "llm openai embeddings vector",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"field string ! Text field", "target string - Vector field",
	     "model string - Model (default: [ai] embedding_model)",
	     "batch_size integer - Texts per request", F_INPUT}},
	{"chroma_upsert", "Chroma Upsert", "vectordb", "DatabaseZap", "teal",
	    "Upsert records with their embeddings into a Chroma collection",
	    "chroma vector embeddings upsert store",
	    {C_DATA_IN, C_TRIGGER_IN, C_DONE_OUT},
	    {"url string ! Chroma URL", "collection string ! Collection",
	     "tenant string - Tenant", "database string - Database",
	     "id_field string - Id field (default id)",
	     "embedding_field string - Embedding field (default embedding)",
	     "document_field string - Document field", "metadata_fields array - Metadata fields",
	     "batch_size integer - Records per request", F_INPUT}},
	{"chroma_query", "Chroma Query", "vectordb", "DatabaseSearch", "teal",
	    "Find the nearest neighbours of each record's embedding in a Chroma collection",
	    "chroma vector similarity search query nearest",
	    {C_DATA_IN, C_TRIGGER_IN, C_DATA_OUT},
	    {"url string ! Chroma URL", "collection string ! Collection",
	     "tenant string - Tenant", "database string - Database",
	     "embedding_field string - Embedding field (default embedding)",
	     "target string - Matches field (default matches)",
	     "n_results integer - Neighbours per record", "where object - Metadata filter",
	     "batch_size integer - Queries per request", F_INPUT}},
	{"chroma_delete", "Chroma Delete", "vectordb", "DatabaseX", "teal",
	    "Delete ids (given, or of the input records) from a Chroma collection",
	    "chroma vector delete remove",
	    {C_DATA_IN, C_TRIGGER_IN, C_DONE_OUT},
	    {"url string ! Chroma URL", "collection string ! Collection",
	     "tenant string - Tenant", "database string - Database",
	     "ids array - Ids", "id_field string - Id field (default id)", F_INPUT}},
	{"webhook_post", "Webhook", "notification", "Webhook", "orange",
	    "POST JSON to a URL (by default the run, flow, step and parameters)",
	    "webhook http notify post",
	    {C_TRIGGER_IN, C_DONE_OUT},
	    {"url string ! URL", "method enum:POST|PUT|PATCH - Method",
	     "headers object - Headers", "body any - Body"}},
	{"slack_post", "Slack Message", "notification", "Slack", "orange",
	    "Post a message to a Slack incoming-webhook URL", "slack notify chat message",
	    {C_TRIGGER_IN, C_DONE_OUT},
	    {"webhook_url string ! Incoming webhook URL", "text string ! Text",
	     "channel string - Channel", "username string - Username"}},
	{"pagerduty_event", "PagerDuty Event", "notification", "Siren", "orange",
	    "Trigger or resolve a PagerDuty incident (Events API v2)",
	    "pagerduty alert incident oncall",
	    {C_TRIGGER_IN, C_DONE_OUT},
	    {"routing_key string ! Routing key", "summary string ! Summary",
	     "severity enum:critical|error|warning|info - Severity",
	     "event_action enum:trigger|acknowledge|resolve - Action",
	     "dedup_key string - Dedup key", "source string - Source",
	     "url string - Events API URL"}},
	{"email_send", "Email", "notification", "Mail", "orange",
	    "Send an email over SMTP", "email smtp mail notify",
	    {C_TRIGGER_IN, C_DONE_OUT},
	    {"smtp_url string ! SMTP server (smtp://host:587 or smtps://host:465)",
	     "from string ! From", "to array ! To", "subject string ! Subject",
	     "text string ! Text", "username string - SMTP user",
	     "starttls boolean - Require STARTTLS on smtp:// (default true)"}},
	{"shell", "Shell Command", "custom", "Terminal", "gray",
	    "Run a command on the worker (plain words directly, shell syntax under sh)",
	    "shell bash command script",
	    {C_TRIGGER_IN, C_DONE_OUT},
	    {"command string ! Command"}},
	{"python_function", "Python Code", "custom", "Code", "gray",
	    "Run Python code with python3 -c", "python code script",
	    {C_TRIGGER_IN, C_DONE_OUT},
	    {"code string ! Code"}},
	{"python_import", "Python Import", "custom", "Package", "gray",
	    "Call module:function or module:Class from the run's workspace or PYTHONPATH",
	    "python import module class function custom",
	    {"in data_in Data json|dataframe|any zero_or_many", C_DATA_OUT},
	    {"import_path string ! Import path (module:function or module:Class)",
	     "options object - Options passed to the callable"}},
	{"branch", "Branch", "control_flow", "GitBranch", "yellow",
	    "Run the 'then' or the 'else' successors by a condition; the others are skipped",
	    "branch if condition switch",
	    {"in trigger_in Trigger trigger|any zero_or_many",
	     "out branch_out Branch trigger zero_or_many"},
	    {"condition object ! Condition", "then array ! Successors when true",
	     "else array - Successors when false"}},
	{"fan_out", "Fan Out", "control_flow", "Split", "yellow",
	    "Run a command once per item of a list, at most N at a time",
	    "fanout map parallel foreach loop",
	    {"in data_in Data json|dataframe|any zero_or_one", C_DATA_OUT},
	    {"command string ! Command (DAGY_ITEM holds the item)",
	     "items array - Items (default: the upstream records)",
	     "concurrency integer - At most at once", F_INPUT}},
	{"approval", "Approval", "control_flow", "UserCheck", "yellow",
	    "Wait until someone approves or rejects the run", "approval wait human manual",
	    {C_TRIGGER_IN, "out approved_out Approved trigger zero_or_many"},
	    {"message string - Message"}},
};

/* Splits s at spaces into at most n words in buf; returns the count. */
static int
words(const char *s, char *buf, size_t bufsz, char **w, int n)
{
	int k = 0;
	char *p;

	snprintf(buf, bufsz, "%s", s);
	for (p = strtok(buf, " "); p != NULL && k < n; p = strtok(NULL, " "))
		w[k++] = p;
	return k;
}

static json_t *
split_bar(const char *s)
{
	json_t *out = json_array();
	const char *p = s, *bar;

	while ((bar = strchr(p, '|')) != NULL) {
		json_array_append_new(out, json_stringn(p, (size_t)(bar - p)));
		p = bar + 1;
	}
	json_array_append_new(out, json_string(p));
	return out;
}

static json_t *
connector_json(const char *spec)
{
	char buf[256], *w[6];
	int n = words(spec, buf, sizeof(buf), w, 6);

	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:b}", "id", w[1], "name", w[2],
	    "direction", strcmp(w[0], "in") == 0 ? "inbound" : "outbound",
	    "data_types", split_bar(w[3]), "cardinality", w[4],
	    "required", n > 5 && strcmp(w[5], "required") == 0);
}

static json_t *
field_json(const char *spec)
{
	char buf[256], *w[3];
	const char *label;
	json_t *o;

	words(spec, buf, sizeof(buf), w, 3);
	label = strchr(strchr(strchr(spec, ' ') + 1, ' ') + 1, ' ') + 1;
	o = json_pack("{s:s, s:s, s:s, s:b}", "name", w[0], "label", label,
	    "type", strncmp(w[1], "enum:", 5) == 0 ? "enum" : w[1],
	    "required", strcmp(w[2], "!") == 0);
	if (strncmp(w[1], "enum:", 5) == 0)
		json_object_set_new(o, "options", split_bar(w[1] + 5));
	return o;
}

static json_t *builtin_cache, *builtin_index;

json_t *
nodes_builtin_all(void)
{
	size_t i, k;

	if (builtin_cache != NULL)
		return builtin_cache;
	builtin_cache = json_array();
	builtin_index = json_object();
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		const struct builtin *b = &builtins[i];
		json_t *conns = json_array(), *fields = json_array(), *d;

		for (k = 0; k < 4 && b->connectors[k] != NULL; k++)
			json_array_append_new(conns, connector_json(b->connectors[k]));
		for (k = 0; k < 12 && b->fields[k] != NULL; k++)
			json_array_append_new(fields, field_json(b->fields[k]));
		d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o}",
		    "node_type", b->type, "label", b->label, "description", b->description,
		    "category", b->category, "icon", b->icon, "color", b->color,
		    "official", 1, "tags", json_array(), "connectors", conns,
		    "config_schema", fields);
		{
			char buf[256], *w[8];
			int n = words(b->tags, buf, sizeof(buf), w, 8), j;

			for (j = 0; j < n; j++)
				json_array_append_new(json_object_get(d, "tags"), json_string(w[j]));
		}
		json_array_append_new(builtin_cache, d);
		json_object_set(builtin_index, b->type, d);
	}
	return builtin_cache;
}

json_t *
nodes_builtin(const char *node_type)
{
	nodes_builtin_all();
	return node_type != NULL ? json_object_get(builtin_index, node_type) : NULL;
}

static int
type_ok(const char *type, json_t *field, json_t *v)
{
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "enum") == 0) {
		json_t *o;
		size_t i;

		json_array_foreach(json_object_get(field, "options"), i, o)
			if (json_equal(o, v))
				return 1;
		return 0;
	}
	return 1; /* any */
}

/* A Chroma collection, tenant or database name: it goes into a URL path. */
static int
chroma_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 1 || n > 512)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* What a built-in's settings must be beyond their types. */
static int
check_builtin(const char *type, json_t *config, char field[64], char reason[256])
{
	json_t *v;
	size_t i;

	if (strncmp(type, "chroma_", 7) == 0) {
		static const char *const names[] = {"collection", "tenant", "database"};

		for (i = 0; i < 3; i++)
			if ((v = json_object_get(config, names[i])) != NULL &&
			    !chroma_name(json_string_value(v))) {
				snprintf(field, 64, "config.%s", names[i]);
				snprintf(reason, 256, "must be letters, digits, '.', '_' and '-'");
				return -1;
			}
	}
	if (strcmp(type, "schema_validator") == 0 &&
	    jschema_check(json_object_get(config, "schema"), reason, 256) < 0) {
		snprintf(field, 64, "config.schema");
		return -1;
	}
	if ((strcmp(type, "filter") == 0 || strcmp(type, "branch") == 0) &&
	    cond_check(json_object_get(config, "condition"), reason, 256) < 0) {
		snprintf(field, 64, "config.condition");
		return -1;
	}
	if (strcmp(type, "file_ingest") == 0 && (v = json_object_get(config, "delimiter")) != NULL &&
	    json_string_length(v) != 1) {
		snprintf(field, 64, "config.delimiter");
		snprintf(reason, 256, "must be one character");
		return -1;
	}
	if (strcmp(type, "fan_out") == 0 && (v = json_object_get(config, "concurrency")) != NULL &&
	    (json_integer_value(v) < 1 || json_integer_value(v) > 64)) {
		snprintf(field, 64, "config.concurrency");
		snprintf(reason, 256, "must be from 1 to 64");
		return -1;
	}
	if (strcmp(type, "email_send") == 0) {
		const char *u = json_string_value(json_object_get(config, "smtp_url"));
		json_t *to;

		v = json_object_get(config, "to");
		json_array_foreach(v, i, to)
			if (!json_is_string(to) || strpbrk(json_string_value(to), "\r\n<>") != NULL)
				break;
		if (json_array_size(v) == 0 || i < json_array_size(v)) {
			snprintf(field, 64, "config.to");
			snprintf(reason, 256, "must be a non-empty array of addresses");
			return -1;
		}
		if (strpbrk(json_string_value(json_object_get(config, "from")), "\r\n<>") != NULL) {
			snprintf(field, 64, "config.from");
			snprintf(reason, 256, "must be a plain address");
			return -1;
		}
		if (u == NULL || (strncmp(u, "smtp://", 7) != 0 && strncmp(u, "smtps://", 8) != 0)) {
			snprintf(field, 64, "config.smtp_url");
			snprintf(reason, 256, "must start with smtp:// or smtps://");
			return -1;
		}
		return 0;
	}
	if (strcmp(type, "s3_ingest") == 0 || strcmp(type, "s3_write") == 0) {
		const char *path = json_string_value(json_object_get(config, "path"));

		if ((json_object_get(config, "key") == NULL) ==
		    (json_object_get(config, "prefix") == NULL)) {
			snprintf(field, 64, "config.key");
			snprintf(reason, 256, "give one of key and prefix");
			return -1;
		}
		/* The step's files stay in its workspace. */
		if (path != NULL && (*path == '/' || strcmp(path, "..") == 0 ||
		    strncmp(path, "../", 3) == 0 || strstr(path, "/../") != NULL ||
		    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))) {
			snprintf(field, 64, "config.path");
			snprintf(reason, 256, "must be relative to the workspace, without '..'");
			return -1;
		}
		return 0;
	}
	if (strcmp(type, "llm_classify") == 0) {
		json_t *label;

		v = json_object_get(config, "labels");
		json_array_foreach(v, i, label)
			if (!json_is_string(label))
				break;
		if (json_array_size(v) == 0 || i < json_array_size(v)) {
			snprintf(field, 64, "config.labels");
			snprintf(reason, 256, "must be a non-empty array of strings");
			return -1;
		}
	}
	return 0;
}

int
nodes_check_config(json_t *def, json_t *config, char field[64], char reason[256])
{
	json_t *schema = json_object_get(def, "config_schema"), *f, *v;
	const char *key;
	size_t i;

	json_array_foreach(schema, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *type = json_string_value(json_object_get(f, "type"));

		snprintf(field, 64, "config.%s", name);
		v = json_object_get(config, name);
		if (v == NULL || json_is_null(v)) {
			if (json_is_true(json_object_get(f, "required"))) {
				snprintf(reason, 256, "is required for %s nodes",
				    json_string_value(json_object_get(def, "node_type")));
				return -1;
			}
			continue;
		}
		if (!type_ok(type != NULL ? type : "any", f, v)) {
			if (strcmp(type, "enum") == 0) {
				char *opts = json_dumps(json_object_get(f, "options"), JSON_COMPACT);

				snprintf(reason, 256, "must be one of %s", opts);
				free(opts);
			} else {
				snprintf(reason, 256, "must be %s %s", strchr("aeiou", type[0]) ?
				    "an" : "a", type);
			}
			return -1;
		}
		if (strcmp(type, "string") == 0 && json_is_true(json_object_get(f, "required")) &&
		    json_string_length(v) == 0) {
			snprintf(reason, 256, "must not be empty");
			return -1;
		}
	}
	json_object_foreach(config, key, v) {
		json_array_foreach(schema, i, f)
			if (strcmp(json_string_value(json_object_get(f, "name")), key) == 0)
				break;
		if (i == json_array_size(schema)) {
			snprintf(field, 64, "config.%.50s", key);
			snprintf(reason, 256, "is not a setting of %s nodes",
			    json_string_value(json_object_get(def, "node_type")));
			return -1;
		}
	}
	if (json_is_true(json_object_get(def, "official")))
		return check_builtin(json_string_value(json_object_get(def, "node_type")), config,
		    field, reason);
	return 0;
}

/* The connector named id with this direction, or the first of that
 * direction when id is NULL. */
static json_t *
find_connector(json_t *def, const char *id, const char *direction)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(def, "connectors"), i, c) {
		const char *cid = json_string_value(json_object_get(c, "id"));
		const char *dir = json_string_value(json_object_get(c, "direction"));

		if (dir == NULL || strcmp(dir, direction) != 0)
			continue;
		if (id == NULL || (cid != NULL && strcmp(cid, id) == 0))
			return c;
	}
	return NULL;
}

static int
has_type(json_t *types, const char *t)
{
	json_t *v;
	size_t i;

	json_array_foreach(types, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), t) == 0)
			return 1;
	return 0;
}

static int
at_most_one(json_t *c)
{
	const char *card = json_string_value(json_object_get(c, "cardinality"));

	return card != NULL && (strcmp(card, "one") == 0 || strcmp(card, "zero_or_one") == 0);
}

int
nodes_check_connection(json_t *src, const char *src_conn, json_t *dst,
    const char *dst_conn, long n_src, long n_dst, json_t *errors,
    json_t **src_c, json_t **dst_c)
{
	const char *st = json_string_value(json_object_get(src, "node_type"));
	const char *dt = json_string_value(json_object_get(dst, "node_type"));
	json_t *sc = find_connector(src, src_conn, "outbound");
	json_t *dc = find_connector(dst, dst_conn, "inbound");
	size_t before = json_array_size(errors);
	char msg[400];

	*src_c = sc;
	*dst_c = dc;
#define ERR(...) do { snprintf(msg, sizeof(msg), __VA_ARGS__);                \
		json_array_append_new(errors, json_string(msg)); } while (0)
	if (sc == NULL)
		ERR(src_conn != NULL ? "%s has no outbound connector '%s'" :
		    "%s has no outbound connector%s", st, src_conn != NULL ? src_conn : "");
	if (dc == NULL)
		ERR(dst_conn != NULL ? "%s has no inbound connector '%s'" :
		    "%s has no inbound connector%s", dt, dst_conn != NULL ? dst_conn : "");
	if (sc != NULL && dc != NULL) {
		json_t *stypes = json_object_get(sc, "data_types");
		json_t *dtypes = json_object_get(dc, "data_types"), *v;
		int match = has_type(stypes, "any") || has_type(dtypes, "any");
		size_t i;

		json_array_foreach(stypes, i, v)
			match |= json_is_string(v) && has_type(dtypes, json_string_value(v));
		if (!match) {
			char *a = json_dumps(stypes, JSON_COMPACT), *b = json_dumps(dtypes, JSON_COMPACT);

			ERR("%s.%s gives %s, which %s.%s does not take (%s)", st,
			    json_string_value(json_object_get(sc, "id")), a, dt,
			    json_string_value(json_object_get(dc, "id")), b);
			free(a);
			free(b);
		}
		if (at_most_one(sc) && n_src >= 1)
			ERR("%s.%s takes at most one connection (%s)", st,
			    json_string_value(json_object_get(sc, "id")),
			    json_string_value(json_object_get(sc, "cardinality")));
		if (at_most_one(dc) && n_dst >= 1)
			ERR("%s.%s takes at most one connection (%s)", dt,
			    json_string_value(json_object_get(dc, "id")),
			    json_string_value(json_object_get(dc, "cardinality")));
	}
#undef ERR
	return (int)(json_array_size(errors) - before);
}

static int
valid_type_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || !islower((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* module.path:attr, both Python identifiers (dots between module parts). */
static int
valid_import_path(const char *s)
{
	const char *colon = strchr(s, ':'), *p;
	int start = 1;

	if (colon == NULL || colon == s || colon[1] == '\0' || strchr(colon + 1, ':'))
		return 0;
	for (p = s; *p; p++) {
		if (*p == '.' || *p == ':') {
			if (start || (*p == '.' && p > colon))
				return 0;
			start = 1;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || *p == '_') || (start && isdigit((unsigned char)*p)))
			return 0;
		start = 0;
	}
	return !start;
}

int
nodes_check_definition(json_t *def, char field[64], char reason[256])
{
	static const char *const keys[] = {"node_type", "label", "description",
		"category", "icon", "color", "connectors", "config_schema", "import_path",
		"tags", "version", "official", "created_at", "updated_at", "versions", NULL};
	static const char *const types[] = {"string", "integer", "number", "boolean",
		"object", "array", "any", "enum", NULL};
	const char *key, *s;
	json_t *v, *c;
	size_t i, k;

#define BAD(f, ...) do { snprintf(field, 64, "%s", f);                         \
		snprintf(reason, 256, __VA_ARGS__); return -1; } while (0)
	json_object_foreach(def, key, v) {
		for (i = 0; keys[i] != NULL && strcmp(keys[i], key) != 0; i++)
			;
		if (keys[i] == NULL)
			BAD(key, "is not a field of a node definition");
	}
	s = json_string_value(json_object_get(def, "node_type"));
	if (s == NULL || !valid_type_name(s))
		BAD("node_type", "must be 1-64 lowercase letters, digits and '_', "
		    "starting with a letter");
	if (nodes_builtin(s) != NULL)
		BAD("node_type", "'%s' is a built-in node type", s);
	for (i = 0; i < 5; i++) {
		v = json_object_get(def, keys[i + 1]);
		if ((i == 0 || i == 2) && !json_is_string(v))
			BAD(keys[i + 1], "is required and must be a string");
		if (v != NULL && (!json_is_string(v) || json_string_length(v) > 1000))
			BAD(keys[i + 1], "must be a string of at most 1000 characters");
	}
	for (i = 0; i < nodes_ncategories; i++)
		if (strcmp(nodes_categories[i].id,
		    json_string_value(json_object_get(def, "category"))) == 0)
			break;
	if (i == nodes_ncategories)
		BAD("category", "must be one of ingestion, transform, llm, vectordb, "
		    "notification, custom, control_flow");
	s = json_string_value(json_object_get(def, "import_path"));
	if (s == NULL || strlen(s) > 500 || !valid_import_path(s))
		BAD("import_path", "is required: module:function or module:Class");
	v = json_object_get(def, "tags");
	if (v != NULL && !json_is_array(v))
		BAD("tags", "must be an array of strings");
	v = json_object_get(def, "connectors");
	if (!json_is_array(v))
		BAD("connectors", "is required: an array of connectors");
	json_array_foreach(v, i, c) {
		char where[48];
		json_t *dt = json_object_get(c, "data_types"), *t;
		const char *dir = json_string_value(json_object_get(c, "direction"));
		const char *card = json_string_value(json_object_get(c, "cardinality"));

		snprintf(where, sizeof(where), "connectors[%zu]", i);
		if (!json_is_object(c) || !json_is_string(json_object_get(c, "id")) ||
		    !json_is_string(json_object_get(c, "name")))
			BAD(where, "needs string \"id\" and \"name\"");
		if (dir == NULL || (strcmp(dir, "inbound") != 0 && strcmp(dir, "outbound") != 0))
			BAD(where, "direction must be inbound or outbound");
		if (!json_is_array(dt) || json_array_size(dt) == 0)
			BAD(where, "data_types must be a non-empty array of strings");
		json_array_foreach(dt, k, t)
			if (!json_is_string(t))
				BAD(where, "data_types must be a non-empty array of strings");
		if (card != NULL && strcmp(card, "one") != 0 && strcmp(card, "zero_or_one") != 0 &&
		    strcmp(card, "zero_or_many") != 0 && strcmp(card, "one_or_many") != 0)
			BAD(where, "cardinality must be one, zero_or_one, zero_or_many or one_or_many");
		if (json_object_get(c, "required") != NULL &&
		    !json_is_boolean(json_object_get(c, "required")))
			BAD(where, "required must be a boolean");
	}
	v = json_object_get(def, "config_schema");
	if (v != NULL && !json_is_array(v))
		BAD("config_schema", "must be an array of fields");
	json_array_foreach(v, i, c) {
		char where[48];
		const char *t = json_string_value(json_object_get(c, "type"));

		snprintf(where, sizeof(where), "config_schema[%zu]", i);
		if (!json_is_object(c) || !json_is_string(json_object_get(c, "name")))
			BAD(where, "needs a string \"name\"");
		for (k = 0; t != NULL && types[k] != NULL && strcmp(types[k], t) != 0; k++)
			;
		if (t == NULL || types[k] == NULL)
			BAD(where, "type must be string, integer, number, boolean, object, array, "
			    "any or enum");
		if (strcmp(t, "enum") == 0 && !json_is_array(json_object_get(c, "options")))
			BAD(where, "an enum needs an \"options\" array");
	}
#undef BAD
	return 0;
}

#define NODE_SELECT \
	"SELECT node_type, version, definition, " DB_TS("created_at") ", " \
	DB_TS("updated_at") ", id FROM custom_nodes"

static const char SQL_LIST[] = NODE_SELECT " WHERE org_id = ? ORDER BY node_type";
static const char SQL_GET[] = NODE_SELECT " WHERE org_id = ? AND node_type = ?";
static const char SQL_LOCK[] = NODE_SELECT " WHERE org_id = ? AND node_type = ? FOR UPDATE";
static const char SQL_INSERT[] =
    "INSERT INTO custom_nodes (org_id, node_type, version, definition, created_by)"
    " VALUES (?, ?, 1, ?, NULLIF(?, 0))";
static const char SQL_SNAPSHOT[] =
    "INSERT INTO custom_node_versions (custom_node_id, org_id, version, definition,"
    " created_at) SELECT id, org_id, version, definition, updated_at FROM custom_nodes"
    " WHERE org_id = ? AND node_type = ?";
static const char SQL_UPDATE[] =
    "UPDATE custom_nodes SET version = version + 1, definition = ?,"
    " updated_at = UTC_TIMESTAMP(6) WHERE org_id = ? AND node_type = ?";
static const char SQL_DELETE[] =
    "DELETE FROM custom_nodes WHERE org_id = ? AND node_type = ?";
static const char SQL_VERSIONS[] =
    "SELECT v.version, v.definition, " DB_TS("v.created_at") " FROM custom_node_versions v"
    " JOIN custom_nodes n ON n.id = v.custom_node_id"
    " WHERE n.org_id = ? AND n.node_type = ? ORDER BY v.version";
static const char SQL_ALL_VERSIONS[] =
    "SELECT n.node_type, v.version, v.definition FROM custom_node_versions v"
    " JOIN custom_nodes n ON n.id = v.custom_node_id WHERE n.org_id = ?";

int
nodes_custom_list(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_LIST, "i", org_id);
}

static int
one_node(struct db *db, struct arena *a, const char *sql, int64_t org_id,
    const char *node_type, struct db_res **row)
{
	int rc = db_query(db, a, row, sql, "is", org_id, node_type);

	if (rc == 0 && (*row)->nrows == 0)
		return NODES_ENOTFOUND;
	return rc;
}

int
nodes_custom_get(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, struct db_res **row)
{
	return one_node(db, a, SQL_GET, org_id, node_type, row);
}

int
nodes_custom_lock(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, struct db_res **row)
{
	return one_node(db, a, SQL_LOCK, org_id, node_type, row);
}

int
nodes_custom_create(struct db *db, struct arena *a, int64_t org_id, int64_t user_id,
    const char *node_type, const char *def_text, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_INSERT, "issi", org_id, node_type, def_text, user_id);

	if (rc == DB_EDUP)
		return NODES_EEXISTS;
	if (rc < 0)
		return (int)rc;
	return nodes_custom_get(db, a, org_id, node_type, row);
}

int
nodes_custom_update(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, const char *def_text, struct db_res **row)
{
	int64_t rc = db_exec(db, SQL_SNAPSHOT, "is", org_id, node_type);

	if (rc >= 0)
		rc = db_exec(db, SQL_UPDATE, "sis", def_text, org_id, node_type);
	if (rc < 0)
		return (int)rc;
	return nodes_custom_get(db, a, org_id, node_type, row);
}

int
nodes_custom_delete(struct db *db, int64_t org_id, const char *node_type)
{
	int64_t rc = db_exec(db, SQL_DELETE, "is", org_id, node_type);

	return rc < 0 ? (int)rc : rc > 0;
}

int
nodes_custom_versions(struct db *db, struct arena *a, int64_t org_id,
    const char *node_type, struct db_res **rows)
{
	return db_query(db, a, rows, SQL_VERSIONS, "is", org_id, node_type);
}

/* A stored definition with its version number in it. */
static json_t *
with_version(const char *type, const char *text, int64_t version)
{
	json_t *d = json_loads(text != NULL ? text : "{}", 0, NULL);

	if (!json_is_object(d)) {
		json_decref(d);
		d = json_object();
	}
	json_object_set_new(d, "node_type", json_string(type));
	json_object_set_new(d, "version", json_integer((json_int_t)version));
	return d;
}

int
nodes_custom_map(struct db *db, struct arena *a, int64_t org_id, json_t **out)
{
	struct db_res *cur, *old;
	json_t *map;
	unsigned i;
	int rc;

	*out = NULL;
	if ((rc = nodes_custom_list(db, a, org_id, &cur)) < 0 ||
	    (rc = db_query(db, a, &old, SQL_ALL_VERSIONS, "i", org_id)) < 0)
		return rc;
	map = json_object();
	for (i = 0; i < cur->nrows; i++) {
		json_t *d = with_version(db_val(cur, i, NODES_C_TYPE),
		    db_val(cur, i, NODES_C_DEF), db_int(cur, i, NODES_C_VERSION));
		json_t *e = json_pack("{s:O, s:{}}", "current", d, "versions");

		json_object_set(json_object_get(e, "versions"), db_val(cur, i, NODES_C_VERSION), d);
		json_decref(d);
		json_object_set_new(map, db_val(cur, i, NODES_C_TYPE), e);
	}
	for (i = 0; i < old->nrows; i++) {
		json_t *e = json_object_get(map, db_val(old, i, 0));

		if (e != NULL)
			json_object_set_new(json_object_get(e, "versions"), db_val(old, i, 1),
			    with_version(db_val(old, i, 0),
			    db_val(old, i, 2), db_int(old, i, 1)));
	}
	*out = map;
	return 0;
}
