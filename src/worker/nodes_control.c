/* Control-flow nodes run in the step's process: branch decides which arm
 * runs (output `taken`; the executor skips the other arm's successors),
 * fan_out runs a command once per item, at most `concurrency` at a time,
 * all in the step's process group so timeouts and cancels reach them. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nodes.h"

static int
branch(json_t *job)
{
	json_t *ctx = json_pack("{s:O, s:O}", "params", json_object_get(job, "params"),
	    "upstream", json_object_get(job, "upstream"));
	char err[256];
	int r = cond_eval(json_object_get(job_config(job), "condition"), ctx, err, sizeof(err));

	json_decref(ctx);
	if (r < 0) {
		fprintf(stderr, "config.condition: %s\n", err);
		return 1;
	}
	out_kv("taken", "%s", r ? "then" : "else");
	printf("condition is %s: the '%s' successors run\n", r ? "true" : "false",
	    r ? "then" : "else");
	return 0;
}

struct slot {
	pid_t pid;
	long long index;
	json_t *item;
};

static pid_t
spawn(const char *cmd, json_t *item, long long index)
{
	char *text = json_is_string(item) ? strdup(json_string_value(item)) :
	    json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
	char num[32];
	pid_t pid;

	snprintf(num, sizeof(num), "%lld", index);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		setenv("DAGY_ITEM", text, 1);
		setenv("DAGY_ITEM_INDEX", num, 1);
		unsetenv("DAGY_OUTPUT");
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	free(text);
	return pid;
}

static int
fan_out(json_t *job)
{
	json_t *config = job_config(job), *items = json_object_get(config, "items"), *item;
	const char *cmd = json_string_value(json_object_get(config, "command"));
	json_int_t conc = json_integer_value(json_object_get(config, "concurrency"));
	long long next = 0, ok = 0, failed = 0, lineno = 0;
	char path[1024], *line = NULL;
	size_t cap = 0;
	struct slot *slots;
	struct rec_out o;
	FILE *in = NULL;
	int running = 0, more = 1, rc = 1, i;

	if (conc <= 0)
		conc = 4;
	if (conc > 64)
		conc = 64;
	if (items == NULL && (in = rec_input(job, path, sizeof(path))) == NULL)
		return 1;
	if (rec_open(job, "", &o) < 0) {
		if (in != NULL)
			fclose(in);
		return 1;
	}
	slots = calloc((size_t)conc, sizeof(*slots));
	while (more || running > 0) {
		while (more && running < conc) {
			int got;

			if (in != NULL) {
				if ((got = rec_next(in, &line, &cap, &lineno, &item)) < 0)
					goto done;
			} else {
				item = json_incref(json_array_get(items, (size_t)next));
				got = item != NULL;
			}
			if (got == 0) {
				more = 0;
				break;
			}
			for (i = 0; slots[i].pid != 0; i++)
				;
			slots[i].pid = spawn(cmd, item, next);
			slots[i].index = next++;
			slots[i].item = item;
			if (slots[i].pid < 0) {
				fprintf(stderr, "fork: %s\n", strerror(errno));
				slots[i].pid = 0;
				json_decref(item);
				goto done;
			}
			running++;
		}
		if (running > 0) {
			int st;
			pid_t pid = waitpid(-1, &st, 0);

			if (pid < 0) {
				if (errno == EINTR)
					continue;
				goto done;
			}
			for (i = 0; i < conc && slots[i].pid != pid; i++)
				;
			if (i == conc)
				continue;
			{
				int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				json_t *res = json_pack("{s:I, s:O, s:i}", "index",
				    (json_int_t)slots[i].index, "item", slots[i].item, "exit_code", code);

				rec_write(&o, res);
				json_decref(res);
				if (code == 0)
					ok++;
				else {
					failed++;
					fprintf(stderr, "item %lld failed with exit code %d\n",
					    slots[i].index, code);
				}
			}
			json_decref(slots[i].item);
			slots[i].pid = 0;
			slots[i].item = NULL;
			running--;
		}
	}
	if (rec_close(&o, 1) < 0)
		goto done;
	out_kv("records_path", "%s", o.path);
	out_kv("records", "%lld", o.n);
	out_kv("data_type", "json");
	out_kv("items", "%lld", next);
	out_kv("succeeded", "%lld", ok);
	out_kv("failed", "%lld", failed);
	printf("%lld items: %lld succeeded, %lld failed\n", next, ok, failed);
	rc = failed > 0;
done:
	for (i = 0; i < conc; i++)
		if (slots[i].pid > 0) {
			kill(slots[i].pid, SIGKILL);
			waitpid(slots[i].pid, NULL, 0);
			json_decref(slots[i].item);
		}
	free(slots);
	free(line);
	rec_close(&o, 0);
	if (in != NULL)
		fclose(in);
	return rc;
}

int
nodes_control(json_t *job)
{
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));

	if (strcmp(type, "branch") == 0)
		return branch(job);
	if (strcmp(type, "fan_out") == 0)
		return fan_out(job);
	return 2;
}
