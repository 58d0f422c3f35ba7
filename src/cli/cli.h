/* The user commands of dagy (commands.c), which talk to the API over HTTP
 * (client.c) rather than to MariaDB, and the YAML reader of flow files
 * (yaml.c). dagy.c dispatches to them. */
#ifndef DAGY_CLI_H
#define DAGY_CLI_H

#include <jansson.h>

/* Where and as whom: --url/--key, then DAGY_URL/DAGY_API_KEY, then the
 * file `dagy login` writes ($XDG_CONFIG_HOME or ~/.config, dagy/config). */
struct client {
	char *url, *key;
	int json;     /* --json: print the API's JSON, not tables */
	char *config; /* the file's path */
};

/* Fills c from the options left in argv (removes --url, --key, --json,
 * moving the rest to the front; *argc is updated) and the environment
 * and file. 0, or -1 after saying what is wrong. */
int client_init(struct client *c, int *argc, char **argv);
void client_free(struct client *c);
/* Writes url and key to c->config (mode 0600). 0 or -1 after saying why. */
int client_save(const struct client *c);
/* Sends method path with body (NULL: none) and the key (unless anonymous).
 * Returns the HTTP status with *out the decoded JSON (a new reference,
 * may be NULL), or -1 after printing why the request failed. */
int client_call(const struct client *c, const char *method, const char *path,
    json_t *body, int anonymous, json_t **out);
/* Prints the API's error message for a failed call and returns 1. */
int client_fail(int status, json_t *err);
/* path with each of its %s arguments percent-encoded, malloc'ed. */
char *client_path(const char *fmt, ...);

/* A YAML document (one) as JSON: mappings, sequences, and scalars typed
 * as YAML 1.2's core schema (null, booleans, numbers; quoted: strings).
 * NULL with err filled on a syntax error. */
json_t *yaml_load_file(const char *path, char *err, size_t errlen);

/* 1 when the command in argv (after any global options) is a user one. */
int commands_is_user(int argc, char **argv);
/* Runs the user command of argv[1]; returns the exit status. */
int commands_main(int argc, char **argv);

#endif
