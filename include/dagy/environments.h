/* Environments: named targets (develop, staging, production) with a
 * promotion order, sealed variables handed to every run in them, and
 * protection that limits who may run, deploy or change variables there.
 * ENV_C_* name the columns of a row. */
#ifndef DAGY_ENVIRONMENTS_H
#define DAGY_ENVIRONMENTS_H

#include <jansson.h>
#include <stdint.h>

#include "dagy/arena.h"
#include "dagy/db.h"

struct secrets_keyring;

#define ENV_NAME_MAX 64
#define ENV_VAR_KEY_MAX 255

enum env_err { ENV_ENOTFOUND = -100, ENV_EEXISTS = -101 };

enum env_col {
	ENV_C_ID, ENV_C_NAME, ENV_C_EXECUTOR, ENV_C_CONFIG, ENV_C_PROTECTED,
	ENV_C_ROLES, ENV_C_ORDER, ENV_C_CREATED, ENV_C_UPDATED, ENV_C_DBID,
};

/* 1-64 letters, digits, '.', '_' or '-', not starting with '.'. */
int env_name_valid(const char *name);
/* A variable key as a step sees it: a shell name, at most 255 bytes. */
int env_var_key_valid(const char *key);

/* Fields of a create or an update; NULL (or -1) leaves a field as it is
 * (on create: its default). config and roles are JSON text. */
struct env_fields {
	const char *executor, *config, *roles;
	int protected;
};

int env_create(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const struct env_fields *f, struct db_res **row);
int env_get(struct db *db, struct arena *a, int64_t org_id, const char *name,
    struct db_res **row);
/* Every environment, in promotion order (unordered ones last, by name). */
int env_list(struct db *db, struct arena *a, int64_t org_id, struct db_res **rows);
int env_update(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const struct env_fields *f, struct db_res **row);
int env_delete(struct db *db, int64_t org_id, int64_t env_dbid);
/* Gives the named environments promotion_order 0, 1, …; the others none. */
int env_reorder(struct db *db, int64_t org_id, json_t *names);

/* The variables of an env_get row as a new JSON object of strings. */
int env_vars(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const struct db_res *env, json_t **out);
/* Seals and stores vars (an object of strings): with replace, the others
 * are removed. */
int env_vars_set(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const struct db_res *env, json_t *vars, int replace);
/* 1 if the variable was there, else 0. */
int env_var_delete(struct db *db, int64_t org_id, int64_t env_dbid, const char *key);

/* Protection: whether role may run, deploy or change variables in the
 * environment called name. An environment that does not exist, or is not
 * protected, allows everyone; a protected one its roles (by default
 * owner and admin). 0 with *allowed, or a db_err. */
int env_allows(struct db *db, struct arena *a, int64_t org_id, const char *name,
    const char *role, int *allowed);
/* The roles a protected environment admits when it names none. */
extern const char env_default_roles[];

#endif
