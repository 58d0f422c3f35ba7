/* Environment variables and secrets for one step, read and opened as the
 * step starts (not when the run is claimed), so a value changed in the
 * meantime is the one used and nothing lingers in the worker longer than
 * the step needs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dagy/environments.h"
#include "dagy/mask.h"
#include "dagy/secrets.h"
#include "secretenv.h"
#include "worker.h"

struct envlist {
	char **v;
	size_t n, cap;
};

static int
add(struct envlist *l, const char *name, const char *value, size_t n)
{
	char *e;

	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if ((e = malloc(strlen(name) + n + 2)) == NULL)
		return -1;
	sprintf(e, "%s=", name);
	memcpy(e + strlen(name) + 1, value, n);
	e[strlen(name) + 1 + n] = '\0';
	l->v[l->n++] = e;
	l->v[l->n] = NULL;
	return 0;
}

static const char *
env_label(const char *env)
{
	return env != NULL && *env != '\0' ? env : "(none)";
}

/* The run's environment's variables, added to l. */
static int
add_variables(struct db *db, struct secrets_keyring *k, struct arena *a,
    int64_t org_id, const char *env, json_t *node_env, struct envlist *l,
    char *err, size_t errlen)
{
	struct db_res *row;
	json_t *vars, *v;
	const char *key;
	int rc;

	if (env == NULL)
		return 0;
	rc = env_get(db, a, org_id, env, &row);
	if (rc == ENV_ENOTFOUND)
		return 0;
	if (rc == 0)
		rc = env_vars(db, k, a, org_id, row, &vars);
	if (rc < 0) {
		int sealed = rc == SECRETS_EAUTH || rc == SECRETS_EKEY || rc == SECRETS_EFORMAT;

		snprintf(err, errlen, "the variables of environment '%s' cannot be read: %s",
		    env, sealed ? "a sealed value fails authentication (tampered with, or "
		    "another key)" : "database error");
		return sealed ? -1 : SECRETENV_EDB;
	}
	json_object_foreach(vars, key, v) {
		char name[300];

		snprintf(name, sizeof(name), "DAGY_VAR_%s", key);
		if (add(l, name, json_string_value(v), json_string_length(v)) < 0 ||
		    (json_object_get(node_env, key) == NULL &&
		    add(l, key, json_string_value(v), json_string_length(v)) < 0)) {
			json_decref(vars);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	json_decref(vars);
	return 0;
}

int
secretenv_resolve(struct db *db, struct secrets_keyring *k, int64_t org_id,
    const char *env, json_t *node_env, struct step_secrets *s, char *err,
    size_t errlen)
{
	struct arena a = {0};
	struct envlist l = {0};
	const char *key;
	json_t *v;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if ((s->out = mask_new()) == NULL || (s->err = mask_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (env != NULL && add(&l, "DAGY_ENVIRONMENT", env, strlen(env)) < 0)
		goto fail;
	if ((rc = add_variables(db, k, &a, org_id, env, node_env, &l, err, errlen)) < 0)
		goto fail;
	rc = -1;
	json_object_foreach(node_env, key, v) {
		const char *name = json_string_value(json_object_get(v, "secret"));
		char *value;
		size_t n;

		if (!json_is_object(v) || name == NULL)
			continue;
		if (k == NULL) {
			snprintf(err, errlen, "secret '%s' cannot be opened: no key file", name);
			goto fail;
		}
		rc = secrets_resolve(db, k, &a, org_id, env, name, &value, &n);
		if (rc == SECRETS_ENOTFOUND)
			snprintf(err, errlen, "secret '%s' not found in environment '%s'", name,
			    env_label(env));
		else if (rc == SECRETS_EAUTH || rc == SECRETS_EFORMAT)
			snprintf(err, errlen, "secret '%s' in environment '%s' cannot be opened: "
			    "its stored value fails authentication (tampered with, or moved from "
			    "another secret)", name, env_label(env));
		else if (rc == SECRETS_EKEY)
			snprintf(err, errlen, "secret '%s' in environment '%s' cannot be opened: "
			    "it was sealed under a key the key file does not hold", name,
			    env_label(env));
		else if (rc < 0) {
			snprintf(err, errlen, "secret '%s' cannot be read: database error", name);
			rc = SECRETENV_EDB;
		}
		if (rc < 0)
			goto fail;
		rc = -1;
		if (add(&l, key, value, n) < 0 || mask_add(s->out, value, n) < 0 ||
		    mask_add(s->err, value, n) < 0) {
			OPENSSL_cleanse(value, n);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		OPENSSL_cleanse(value, n);
	}
	s->env = l.v;
	l.v = NULL;
	rc = 0;
fail:
	if (l.v != NULL) {
		size_t i;

		for (i = 0; i < l.n; i++)
			free(l.v[i]);
		free(l.v);
	}
	arena_free(&a);
	return rc;
}

void
secretenv_release(struct step_secrets *s)
{
	size_t i;

	if (s->env != NULL) {
		for (i = 0; s->env[i] != NULL; i++) {
			OPENSSL_cleanse(s->env[i], strlen(s->env[i]));
			free(s->env[i]);
		}
		free(s->env);
	}
	mask_free(s->out);
	mask_free(s->err);
	memset(s, 0, sizeof(*s));
}

size_t
secretenv_mask(struct step_secrets *s, int stream, const char *in, size_t n,
    const char **out)
{
	if (s == NULL || (stream == 1 ? s->out : s->err) == NULL) {
		*out = in;
		return n;
	}
	return mask_push(stream == 1 ? s->out : s->err, in, n, out);
}

char *
secretenv_mask_value(struct step_secrets *s, const char *in, size_t n, size_t *outn)
{
	if (s == NULL || s->err == NULL)
		return NULL;
	return mask_string(s->err, in, n, outn);
}

size_t
secretenv_flush(struct step_secrets *s, int stream, const char **out)
{
	*out = "";
	if (s == NULL || (stream == 1 ? s->out : s->err) == NULL)
		return 0;
	return mask_flush(stream == 1 ? s->out : s->err, out);
}

/* 1 if the node's env names a secret. */
static int
wants_secrets(json_t *node_env)
{
	const char *key;
	json_t *v;

	json_object_foreach(node_env, key, v)
		if (json_is_object(v))
			return 1;
	return 0;
}

int
secretenv_step(struct worker *w, struct step *s, char *err, size_t errlen)
{
	struct run *r = s->run;
	json_t *node_env = json_object_get(s->node, "env");
	int rc;

	secretenv_done(s);
	if (r->environment == NULL && !wants_secrets(node_env))
		return 0;
	if ((s->secrets = calloc(1, sizeof(*s->secrets))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((rc = secretenv_resolve(w->db, w->keys, r->org_id, r->environment, node_env,
	    s->secrets, err, errlen)) < 0) {
		secretenv_done(s);
		return rc == SECRETENV_EDB ? SECRETENV_EDB : -1;
	}
	return 0;
}

char *const *
secretenv_env(const struct step *s)
{
	return s->secrets != NULL ? s->secrets->env : NULL;
}

void
secretenv_done(struct step *s)
{
	if (s->secrets == NULL)
		return;
	secretenv_release(s->secrets);
	free(s->secrets);
	s->secrets = NULL;
}
