/* What a step receives from outside its flow: the variables of its run's
 * environment and the secrets its env names, opened just before it
 * starts, with the masks that keep those secrets out of its stored
 * output. The executor calls this and nothing else of the secrets store. */
#ifndef DAGY_WORKER_SECRETENV_H
#define DAGY_WORKER_SECRETENV_H

#include <jansson.h>
#include <stdint.h>

struct db;
struct mask;
struct secrets_keyring;

struct step_secrets {
	/* "NAME=value" entries for the step's environment, NULL-terminated:
	 * DAGY_ENVIRONMENT, DAGY_VAR_<KEY> and <KEY> for each variable (unless
	 * the node's env sets <KEY>), and NAME for each {"secret": …} entry of
	 * the node's env. NULL when there is nothing to add. */
	char **env;
	/* One per stream, hiding every secret value handed out above. */
	struct mask *out, *err;
};

/* What a database that cannot be read makes of a step: it waits, rather
 * than failing on a fault that passes. */
#define SECRETENV_EDB (-2)

/* Fills s for a step of a run of org_id in environment env (NULL: none)
 * whose node env is node_env (may be NULL). 0; -1 with err holding the
 * message the step fails with (never a value): an unknown secret, or one
 * that fails authentication; or SECRETENV_EDB when the database could not
 * be read. Release s either way. */
int secretenv_resolve(struct db *db, struct secrets_keyring *k, int64_t org_id,
    const char *env, json_t *node_env, struct step_secrets *s, char *err,
    size_t errlen);
void secretenv_release(struct step_secrets *s);

/* The executor's side. Before a step's attempt starts: resolves it in its
 * run's environment; 0, -1 with err holding why the step fails, or
 * SECRETENV_EDB. Steps of runs without an environment whose env names no
 * secret cost nothing. */
struct worker;
struct step;
int secretenv_step(struct worker *w, struct step *s, char *err, size_t errlen);
/* The entries to add to the step's environment, NULL-terminated, or NULL. */
char *const *secretenv_env(const struct step *s);
/* When the attempt is over (its output flushed). */
void secretenv_done(struct step *s);
/* Passes n bytes read from stream (1 stdout, 2 stderr) of a step through
 * its mask: *out gets what may be stored now (valid until the next call
 * for that stream). s may be NULL (nothing to hide). */
size_t secretenv_mask(struct step_secrets *s, int stream, const char *in, size_t n,
    const char **out);
/* At the end of stream: what the mask still held back. */
size_t secretenv_flush(struct step_secrets *s, int stream, const char **out);
/* A step output's value with the step's secrets masked, malloc'd (length
 * in *outn); NULL when s hides nothing or memory ran out. Call after the
 * streams are flushed. */
char *secretenv_mask_value(struct step_secrets *s, const char *in, size_t n, size_t *outn);

#endif
