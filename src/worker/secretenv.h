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

/* Fills s for a step of run run_dbid (of org_id) whose node env is
 * node_env (may be NULL). 0, or -1 with err holding the message the step
 * fails with (never a value): an unknown secret, one that fails
 * authentication, or a database failure. Release s either way. */
int secretenv_resolve(struct db *db, struct secrets_keyring *k, int64_t org_id,
    int64_t run_dbid, json_t *node_env, struct step_secrets *s, char *err,
    size_t errlen);
void secretenv_release(struct step_secrets *s);

#endif
