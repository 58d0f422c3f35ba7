/* dagy's user commands: flows, runs, logs, schedules and login, through
 * the API with a key. Human tables by default, the API's JSON with
 * --json; an error prints the API's message and exits 1 (2 for usage). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char *const user_commands[] = {
	"flow", "run", "runs", "logs", "cancel", "schedule", "login",
};

int
commands_is_user(int argc, char **argv)
{
	int i;
	size_t k;

	/* The command is the first word that is not a global option. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 || strcmp(argv[i], "--key") == 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "--json") == 0 || strncmp(argv[i], "--url=", 6) == 0 ||
		    strncmp(argv[i], "--key=", 6) == 0)
			continue;
		for (k = 0; k < sizeof(user_commands) / sizeof(user_commands[0]); k++)
			if (strcmp(argv[i], user_commands[k]) == 0)
				return 1;
		return 0;
	}
	return 0;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: dagy [--url URL] [--key KEY] [--json] COMMAND\n"
	    "  flow push FILE [--name NAME]   register a flow from JSON or YAML\n"
	    "  flow list\n"
	    "  run FLOW [-p NAME=VALUE]... [--version V] [--wait]\n"
	    "  runs [--flow FLOW] [--status STATUS] [--limit N]\n"
	    "  logs RUN [-f]\n"
	    "  cancel RUN\n"
	    "  schedule list\n"
	    "  login [--email EMAIL]          save the URL and a key (or log in)\n"
	    "URL and key: --url/--key, DAGY_URL/DAGY_API_KEY, or the file dagy login writes.\n");
	return 2;
}

static void
print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

/* A field as text for a table: strings as they are, numbers and the rest
 * as JSON, null and absent as "-". */
static char *
cell(json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);

	if (v == NULL || json_is_null(v))
		return strdup("-");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Prints items (objects) as a table of the given fields, headed by their
 * names in capitals. */
static void
table(json_t *items, const char *const *fields, unsigned nf)
{
	size_t w[16] = {0}, n = json_array_size(items), i;
	unsigned k;

	for (k = 0; k < nf; k++)
		w[k] = strlen(fields[k]);
	for (i = 0; i < n; i++)
		for (k = 0; k < nf; k++) {
			char *s = cell(json_array_get(items, i), fields[k]);

			if (s != NULL && strlen(s) > w[k])
				w[k] = strlen(s);
			free(s);
		}
	for (k = 0; k < nf; k++) {
		const char *f;

		for (f = fields[k]; *f; f++)
			putchar(*f >= 'a' && *f <= 'z' ? *f - 32 : *f);
		printf("%*s", k + 1 < nf ? (int)(w[k] - strlen(fields[k]) + 2) : 0, "");
	}
	putchar('\n');
	for (i = 0; i < n; i++) {
		for (k = 0; k < nf; k++) {
			char *s = cell(json_array_get(items, i), fields[k]);

			if (k + 1 < nf)
				printf("%-*s  ", (int)w[k], s != NULL ? s : "");
			else
				printf("%s", s != NULL ? s : "");
			free(s);
		}
		putchar('\n');
	}
}

/* GETs every page of a list (following next_token) into one array. */
static int
list_all(const struct client *c, const char *path, json_t **items)
{
	json_t *page, *all = json_array();
	char *next = NULL;
	int status;

	for (;;) {
		char *p = NULL;
		const char *tok;

		if (next != NULL) {
			char *enc = client_path("%s", next);

			if (asprintf(&p, "%s%snext_token=%s", path, strchr(path, '?') ? "&" : "?",
			    enc) < 0)
				p = NULL;
			free(enc);
		}
		status = client_call(c, "GET", p != NULL ? p : path, NULL, 0, &page);
		free(p);
		free(next);
		next = NULL;
		if (status != 200) {
			json_decref(all);
			return status < 0 ? 1 : client_fail(status, page);
		}
		json_array_extend(all, json_object_get(page, "items"));
		if ((tok = json_string_value(json_object_get(page, "next_token"))) != NULL)
			next = strdup(tok);
		json_decref(page);
		if (next == NULL)
			break;
	}
	*items = all;
	return 0;
}

static int
show_list(const struct client *c, const char *path, const char *const *fields,
    unsigned nf)
{
	json_t *items = NULL;
	int rc = list_all(c, path, &items);

	if (rc != 0)
		return rc;
	if (c->json)
		print_json(items);
	else
		table(items, fields, nf);
	json_decref(items);
	return 0;
}

/* A file's name without its directory and extension. */
static char *
basename_noext(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = strdup(b != NULL ? b + 1 : path), *dot;

	if (s != NULL && (dot = strrchr(s, '.')) != NULL && dot != s)
		*dot = '\0';
	return s;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* flow push FILE [--name NAME]: the file holds either a request of
 * POST /v1/flows ({"flow_name", "flow_spec", …}) or a bare flow spec
 * ({"nodes": …}, named by --name, its "name" field or the file name). */
static int
flow_push(const struct client *c, int argc, char **argv)
{
	const char *file = NULL, *name = NULL;
	json_t *doc, *body, *out;
	json_error_t jerr;
	char err[512];
	int i, status;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (file == NULL && argv[i][0] != '-')
			file = argv[i];
		else
			return usage();
	}
	if (file == NULL)
		return usage();
	if (has_suffix(file, ".json")) {
		if ((doc = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
			fprintf(stderr, "dagy: %s: line %d: %s\n", file, jerr.line, jerr.text);
			return 1;
		}
	} else if ((doc = yaml_load_file(file, err, sizeof(err))) == NULL) {
		/* YAML 1.2 reads JSON too, so other names go through libyaml. */
		fprintf(stderr, "dagy: %s: %s\n", file, err);
		return 1;
	}
	if (!json_is_object(doc)) {
		fprintf(stderr, "dagy: %s: a flow file holds a mapping (object)\n", file);
		json_decref(doc);
		return 1;
	}
	if (json_object_get(doc, "flow_spec") != NULL) {
		body = doc;
	} else {
		json_t *n = json_object_get(doc, "name");
		char *base = basename_noext(file);

		body = json_pack("{s:s, s:O}", "flow_name",
		    json_is_string(n) ? json_string_value(n) : base, "flow_spec", doc);
		free(base);
		json_object_del(json_object_get(body, "flow_spec"), "name");
		json_decref(doc);
	}
	if (name != NULL)
		json_object_set_new(body, "flow_name", json_string(name));
	status = client_call(c, "POST", "/v1/flows", body, 0, &out);
	json_decref(body);
	if (status != 201)
		return status < 0 ? 1 : client_fail(status, out);
	if (c->json)
		print_json(out);
	else
		printf("flow %s version %s\n", json_string_value(json_object_get(out, "flow_name")),
		    json_string_value(json_object_get(out, "flow_version")));
	json_decref(out);
	return 0;
}

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Prints a run's logs from the start; with follow, until the run ends.
 * *status gets the run's last status (caller frees). 0 or 1. */
static int
stream_logs(const struct client *c, const char *run, int follow, char **status)
{
	char *next = NULL;
	int rc = 1;

	*status = NULL;
	for (;;) {
		char *path = next != NULL ?
		    client_path("/v1/runs/%s/logs?next_token=%s", run, next) :
		    client_path("/v1/runs/%s/logs", run);
		json_t *page, *ev;
		size_t i;
		int st = client_call(c, "GET", path, NULL, 0, &page);
		const char *tok;

		free(path);
		if (st != 200) {
			if (st >= 0)
				client_fail(st, page);
			goto done;
		}
		json_array_foreach(json_object_get(page, "events"), i, ev) {
			if (c->json) {
				char *s = json_dumps(ev, JSON_COMPACT);

				printf("%s\n", s != NULL ? s : "");
				free(s);
			} else {
				printf("[%s] %s\n", json_string_value(json_object_get(ev, "step_id")),
				    json_string_value(json_object_get(ev, "message")));
			}
		}
		fflush(stdout);
		tok = json_string_value(json_object_get(page, "next_token"));
		if (tok != NULL) {
			free(next);
			next = strdup(tok);
		}
		/* No token: the run had ended when this page was read, and this
		 * was its last page. */
		if (tok == NULL || !follow) {
			json_decref(page);
			break;
		}
		if (json_array_size(json_object_get(page, "events")) == 0)
			nap(250);
		json_decref(page);
	}
	{
		char *path = client_path("/v1/runs/%s", run);
		json_t *r;
		int st = client_call(c, "GET", path, NULL, 0, &r);

		free(path);
		if (st != 200) {
			if (st >= 0)
				client_fail(st, r);
			goto done;
		}
		*status = strdup(json_string_value(json_object_get(r, "status")) != NULL ?
		    json_string_value(json_object_get(r, "status")) : "unknown");
		json_decref(r);
	}
	rc = 0;
done:
	free(next);
	return rc;
}

/* run FLOW [-p k=v]... [--version V] [--wait] */
static int
run_flow(const struct client *c, int argc, char **argv)
{
	json_t *params = json_object(), *body, *out;
	const char *flow = NULL, *version = NULL, *id;
	char *status = NULL, *run = NULL;
	int i, wait = 0, st, rc;

	for (i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--param") == 0) &&
		    i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');

			if (eq == NULL || eq == argv[i]) {
				fprintf(stderr, "dagy: -p wants NAME=VALUE, not %s\n", argv[i]);
				json_decref(params);
				return 2;
			}
			*eq = '\0';
			json_object_set_new(params, argv[i], json_string(eq + 1));
		} else if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) {
			version = argv[++i];
		} else if (strcmp(argv[i], "--wait") == 0) {
			wait = 1;
		} else if (flow == NULL && argv[i][0] != '-') {
			flow = argv[i];
		} else {
			json_decref(params);
			return usage();
		}
	}
	if (flow == NULL) {
		json_decref(params);
		return usage();
	}
	body = json_pack("{s:s, s:o}", "flow_name", flow, "parameters", params);
	if (version != NULL)
		json_object_set_new(body, "flow_version", json_string(version));
	st = client_call(c, "POST", "/v1/runs", body, 0, &out);
	json_decref(body);
	if (st != 202)
		return st < 0 ? 1 : client_fail(st, out);
	id = json_string_value(json_object_get(out, "run_id"));
	run = strdup(id != NULL ? id : "");
	if (!wait) {
		if (c->json)
			print_json(out);
		else
			printf("%s\n", run);
		json_decref(out);
		free(run);
		return 0;
	}
	json_decref(out);
	fprintf(stderr, "run %s queued\n", run);
	rc = stream_logs(c, run, 1, &status);
	if (rc == 0) {
		fprintf(stderr, "run %s %s\n", run, status);
		rc = strcmp(status, "completed") == 0 ? 0 : 1;
	}
	free(status);
	free(run);
	return rc;
}

static int
logs(const struct client *c, int argc, char **argv)
{
	const char *run = NULL;
	char *status = NULL;
	int i, follow = 0, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
			follow = 1;
		else if (run == NULL && argv[i][0] != '-')
			run = argv[i];
		else
			return usage();
	}
	if (run == NULL)
		return usage();
	rc = stream_logs(c, run, follow, &status);
	free(status);
	return rc;
}

static int
runs(const struct client *c, int argc, char **argv)
{
	static const char *const fields[] = {"run_id", "flow_name", "flow_version", "status",
		"created_at"};
	char path[2048] = "/v1/runs";
	int i, one_page = 0;

	for (i = 0; i < argc; i++) {
		const char *q = NULL;
		char *enc;

		if (strcmp(argv[i], "--flow") == 0 && i + 1 < argc)
			q = "flow_name";
		else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
			q = "status";
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
			q = "limit";
		else
			return usage();
		enc = client_path("%s", argv[++i]);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s%s=%s",
		    strchr(path, '?') ? "&" : "?", q, enc);
		free(enc);
		one_page |= strcmp(q, "limit") == 0;
	}
	if (one_page) {
		/* One page of that many, not every page. */
		json_t *page;
		int st = client_call(c, "GET", path, NULL, 0, &page);

		if (st != 200)
			return st < 0 ? 1 : client_fail(st, page);
		if (c->json)
			print_json(json_object_get(page, "items"));
		else
			table(json_object_get(page, "items"), fields, 5);
		json_decref(page);
		return 0;
	}
	return show_list(c, path, fields, 5);
}

static int
cancel(const struct client *c, int argc, char **argv)
{
	char *path;
	json_t *out;
	int st;

	if (argc != 1)
		return usage();
	path = client_path("/v1/runs/%s/cancel", argv[0]);
	st = client_call(c, "POST", path, NULL, 0, &out);
	free(path);
	if (st < 200 || st > 299)
		return st < 0 ? 1 : client_fail(st, out);
	if (c->json)
		print_json(out);
	else
		printf("%s %s\n", argv[0], json_string_value(json_object_get(out, "status")) != NULL ?
		    json_string_value(json_object_get(out, "status")) : "cancelling");
	json_decref(out);
	return 0;
}

/* login: with a key (--key, DAGY_API_KEY) checks it with GET /v1/me;
 * with --email reads the password from standard input and logs in. Either
 * way the URL and the credential go to the config file. */
static int
login(struct client *c, int argc, char **argv)
{
	const char *email = NULL;
	json_t *out;
	int i, st;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			email = argv[++i];
		else
			return usage();
	}
	if (email != NULL) {
		char pw[1024], *p;
		json_t *body;

		if (isatty(STDIN_FILENO)) {
			if ((p = getpass("password: ")) == NULL)
				return 1;
			snprintf(pw, sizeof(pw), "%s", p);
		} else if (fgets(pw, sizeof(pw), stdin) == NULL) {
			fprintf(stderr, "dagy: no password on standard input\n");
			return 1;
		}
		pw[strcspn(pw, "\r\n")] = '\0';
		body = json_pack("{s:s, s:s}", "email", email, "password", pw);
		explicit_bzero(pw, sizeof(pw));
		st = client_call(c, "POST", "/v1/auth/login", body, 1, &out);
		json_decref(body);
		if (st != 200)
			return st < 0 ? 1 : client_fail(st, out);
		if (!json_is_string(json_object_get(out, "access_token"))) {
			fprintf(stderr, "dagy: the login answer holds no access token\n");
			json_decref(out);
			return 1;
		}
		free(c->key);
		c->key = strdup(json_string_value(json_object_get(out, "access_token")));
		json_decref(out);
	} else if (c->key == NULL) {
		fprintf(stderr, "dagy: login needs --email, or a key (--key or DAGY_API_KEY)\n");
		return 2;
	}
	st = client_call(c, "GET", "/v1/me", NULL, 0, &out);
	if (st != 200)
		return st < 0 ? 1 : client_fail(st, out);
	if (client_save(c) < 0) {
		json_decref(out);
		return 1;
	}
	printf("logged in to %s as %s; saved in %s\n", c->url,
	    json_string_value(json_object_get(out, "user_email")) != NULL ?
	    json_string_value(json_object_get(out, "user_email")) : "?", c->config);
	json_decref(out);
	return 0;
}

int
commands_main(int argc, char **argv)
{
	static const char *const flow_fields[] = {"flow_name", "flow_version", "status",
		"updated_at"};
	static const char *const sched_fields[] = {"schedule_id", "flow_name", "mode",
		"cron_expression", "enabled", "next_run_at"};
	struct client c;
	int rc;

	if (client_init(&c, &argc, argv) < 0)
		return 2;
	if (argc < 2) {
		client_free(&c);
		return usage();
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc >= 3 && strcmp(argv[1], "flow") == 0 && strcmp(argv[2], "push") == 0)
		rc = flow_push(&c, argc - 3, argv + 3);
	else if (argc == 3 && strcmp(argv[1], "flow") == 0 && strcmp(argv[2], "list") == 0)
		rc = show_list(&c, "/v1/flows", flow_fields, 4);
	else if (strcmp(argv[1], "run") == 0)
		rc = run_flow(&c, argc - 2, argv + 2);
	else if (strcmp(argv[1], "runs") == 0)
		rc = runs(&c, argc - 2, argv + 2);
	else if (strcmp(argv[1], "logs") == 0)
		rc = logs(&c, argc - 2, argv + 2);
	else if (strcmp(argv[1], "cancel") == 0)
		rc = cancel(&c, argc - 2, argv + 2);
	else if (argc == 3 && strcmp(argv[1], "schedule") == 0 && strcmp(argv[2], "list") == 0)
		rc = show_list(&c, "/v1/schedules", sched_fields, 6);
	else if (strcmp(argv[1], "login") == 0)
		rc = login(&c, argc - 2, argv + 2);
	else
		rc = usage();
	curl_global_cleanup();
	client_free(&c);
	return rc;
}
