/* dagy: the administrator's command line. It talks to MariaDB directly
 * with the same library the API uses, so it works before the API runs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "dagy/account.h"
#include "dagy/audit.h"
#include "dagy/auth.h"
#include "dagy/config.h"
#include "dagy/db.h"
#include "dagy/log.h"
#include "dagy/migrate.h"
#include "dagy/objstore.h"
#include "dagy/secrets.h"

struct cli {
	struct config *cfg;
	struct db *db;
	struct arena arena;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dagy COMMAND [options]\n"
	    "  migrate                         apply database migrations\n"
	    "  user add EMAIL [--password PW | --password-stdin] [--super-admin]\n"
	    "  org add NAME --owner EMAIL [--plan PLAN]\n"
	    "  key create --org ORG --user EMAIL [--name NAME] [--scopes a,b,...]\n"
	    "  config check                    validate the configuration file\n"
	    "  secrets init [--mode 600|640]   create the key file named by [secrets] key_file\n"
	    "  secrets rotate-key              re-seal every stored value under a new key\n"
	    "  version\n"
	    "The configuration file is $DAGY_CONFIG or " CONFIG_DEFAULT_PATH ".\n"
	    "User commands, through the API: flow push|list, run, runs, logs, cancel,\n"
	    "schedule list, login (dagy run --help, man dagy).\n");
}

static int
connect_or_say(struct cli *c)
{
	if (db_open(&c->db, c->cfg) < 0 || db_ping(c->db) < 0) {
		fprintf(stderr, "dagy: cannot reach the database: %s\n", db_errmsg(c->db));
		return -1;
	}
	return 0;
}

static int
cmd_migrate(struct cli *c)
{
	int n;

	if (connect_or_say(c) < 0)
		return 1;
	if ((n = migrate_run(c->db, stdout)) < 0)
		return 1;
	printf("schema is at version %d (%d applied)\n", migrate_current(c->db), n);
	return 0;
}

/* Commits when rc is 0, else rolls back and prints what went wrong. */
static int
finish(struct cli *c, int rc, const char *what)
{
	if (rc == 0 && (rc = db_commit(c->db)) == 0)
		return 0;
	db_rollback(c->db);
	switch (rc) {
	case ACCOUNT_EEXISTS:
		fprintf(stderr, "dagy: %s: already exists\n", what);
		break;
	case ACCOUNT_ENOTFOUND:
		fprintf(stderr, "dagy: %s: not found\n", what);
		break;
	default:
		fprintf(stderr, "dagy: %s: %s\n", what, db_errmsg(c->db));
	}
	return 1;
}

static int
cmd_user_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"password", required_argument, NULL, 'p'},
		{"password-stdin", no_argument, NULL, 's'},
		{"super-admin", no_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	char line[1024];
	const char *password = NULL;
	int super = 0, o, rc;
	int64_t uid;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'p')
			password = optarg;
		else if (o == 'S')
			super = 1;
		else if (o == 's') {
			if (fgets(line, sizeof(line), stdin) == NULL)
				return fprintf(stderr, "dagy: no password on stdin\n"), 2;
			line[strcspn(line, "\r\n")] = '\0';
			password = line;
		} else
			return usage(stderr), 2;
	}
	if (optind != argc - 1 || strchr(argv[optind], '@') == NULL)
		return usage(stderr), 2;
	if (connect_or_say(c) < 0)
		return 1;
	if ((rc = db_begin(c->db)) == 0 &&
	    (rc = account_user_create(c->db, c->cfg, &c->arena, argv[optind],
	    password, super, &uid)) == 0)
		rc = audit_write_as(c->db, 0, 0, "cli", NULL, "user.create", "user",
		    argv[optind], NULL);
	if (finish(c, rc, argv[optind]) != 0)
		return 1;
	printf("user %s created\n", argv[optind]);
	return 0;
}

static int
cmd_org_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"owner", required_argument, NULL, 'o'},
		{"plan", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	const char *owner = NULL, *plan = "free", *pub = NULL;
	int64_t uid, oid;
	int o, rc;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'o')
			owner = optarg;
		else if (o == 'p')
			plan = optarg;
		else
			return usage(stderr), 2;
	}
	if (optind != argc - 1 || owner == NULL)
		return usage(stderr), 2;
	if (connect_or_say(c) < 0)
		return 1;
	if ((rc = db_begin(c->db)) == 0 &&
	    (rc = account_user_find(c->db, &c->arena, owner, &uid)) == 0 &&
	    (rc = account_org_create(c->db, &c->arena, argv[optind], plan, uid,
	    &oid, &pub)) == 0)
		rc = audit_write_as(c->db, oid, 0, "cli", NULL, "org.create", "org",
		    pub, NULL);
	if (finish(c, rc, argv[optind]) != 0)
		return 1;
	printf("%s\n", pub);
	return 0;
}

static int
cmd_key_create(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"org", required_argument, NULL, 'o'},
		{"user", required_argument, NULL, 'u'},
		{"name", required_argument, NULL, 'n'},
		{"scopes", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	const char *org = NULL, *user = NULL, *name = "cli", *key_id, *key, *prefix;
	json_t *scopes = NULL;
	int64_t uid, oid;
	int o, rc;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'o': org = optarg; break;
		case 'u': user = optarg; break;
		case 'n': name = optarg; break;
		case 's': {
			char *list = strdup(optarg), *tok, *save = NULL;

			scopes = json_array();
			for (tok = strtok_r(list, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save))
				json_array_append_new(scopes, json_string(tok));
			free(list);
			break;
		}
		default:
			return usage(stderr), 2;
		}
	}
	if (org == NULL || user == NULL || optind != argc)
		return json_decref(scopes), usage(stderr), 2;
	if (scopes != NULL) {
		uint64_t mask;
		const char *bad;

		if (auth_scopes_parse(scopes, &mask, &bad) < 0) {
			fprintf(stderr, "dagy: '%s' is not a permission\n", bad);
			json_decref(scopes);
			return 2;
		}
	}
	if (connect_or_say(c) < 0)
		return json_decref(scopes), 1;
	if ((rc = db_begin(c->db)) == 0 &&
	    (rc = account_org_find(c->db, &c->arena, org, &oid)) == 0 &&
	    (rc = account_user_find(c->db, &c->arena, user, &uid)) == 0 &&
	    (rc = auth_key_create(c->db, c->cfg, &c->arena, oid, uid, name, scopes,
	    &key_id, &key, &prefix)) == 0)
		rc = audit_write_as(c->db, oid, uid, "cli", NULL, "api_key.create",
		    "api_key", key_id, NULL);
	json_decref(scopes);
	if (finish(c, rc, "key") != 0)
		return 1;
	printf("%s\n", key);
	return 0;
}

static int
cmd_config_check(struct cli *c)
{
	struct secrets_keyring *k;
	char err[512];
	int problems = config_check(c->cfg, stderr);

	if (secrets_keyring_load(&k, config_str(c->cfg, "secrets", "key_file"), err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		problems++;
	} else {
		secrets_keyring_free(k);
	}
	{
		struct objstore *os;

		if (objstore_open(&os, c->cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			problems++;
		}
		objstore_free(os);
	}

	if (problems > 0) {
		fprintf(stderr, "%s: %d problem(s)\n", config_path(c->cfg), problems);
		return 1;
	}
	printf("%s: ok\n", config_path(c->cfg));
	return 0;
}

static int
cmd_secrets_init(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"mode", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	const char *path = config_str(c->cfg, "secrets", "key_file");
	char err[512];
	int o, mode = 0600;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'm' && strcmp(optarg, "600") == 0)
			mode = 0600;
		else if (o == 'm' && strcmp(optarg, "640") == 0)
			mode = 0640;
		else
			return usage(stderr), 2;
	}
	if (optind != argc)
		return usage(stderr), 2;
	if (secrets_keyring_create(path, mode, err, sizeof(err)) < 0) {
		fprintf(stderr, "dagy: %s\n", err);
		return 1;
	}
	printf("created %s (mode %03o): back it up; without it no secret can be read\n",
	    path, mode);
	return 0;
}

static int
cmd_secrets_rotate(struct cli *c)
{
	struct secrets_keyring *k = NULL;
	char err[512];
	int rc = 1;

	if (connect_or_say(c) < 0)
		return 1;
	if (secrets_keyring_open(&k, c->cfg, c->db, err, sizeof(err)) < 0 ||
	    secrets_rotate(k, c->db, stdout, err, sizeof(err)) < 0)
		fprintf(stderr, "dagy: %s\n", err);
	else if (audit_write_as(c->db, 0, 0, "cli", NULL, "secrets.rotate_key", "keyring",
	    secrets_keyring_current(k), NULL) < 0)
		fprintf(stderr, "dagy: rotated, but the audit row failed: %s\n", db_errmsg(c->db));
	else
		rc = 0;
	secrets_keyring_free(k);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli c;
	char err[512];
	int rc = 2;

	memset(&c, 0, sizeof(c));
	log_init("dagy", LOG_LVL_WARN);
	if (argc < 2)
		return usage(stderr), 2;
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)
		return printf("dagy %s\n", PACKAGE_VERSION), 0;
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout), 0;
	/* User commands need the API, not the configuration file. */
	if (commands_is_user(argc, argv))
		return commands_main(argc, argv);
	if (config_load(&c.cfg, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "dagy: %s\n", err);
		return 1;
	}
	if (strcmp(argv[1], "migrate") == 0 && argc == 2)
		rc = cmd_migrate(&c);
	else if (argc >= 3 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "add") == 0)
		rc = cmd_user_add(&c, argc - 2, argv + 2);
	else if (argc >= 3 && strcmp(argv[1], "org") == 0 && strcmp(argv[2], "add") == 0)
		rc = cmd_org_add(&c, argc - 2, argv + 2);
	else if (argc >= 3 && strcmp(argv[1], "key") == 0 && strcmp(argv[2], "create") == 0)
		rc = cmd_key_create(&c, argc - 2, argv + 2);
	else if (argc == 3 && strcmp(argv[1], "config") == 0 && strcmp(argv[2], "check") == 0)
		rc = cmd_config_check(&c);
	else if (argc >= 3 && strcmp(argv[1], "secrets") == 0 && strcmp(argv[2], "init") == 0)
		rc = cmd_secrets_init(&c, argc - 2, argv + 2);
	else if (argc == 3 && strcmp(argv[1], "secrets") == 0 && strcmp(argv[2], "rotate-key") == 0)
		rc = cmd_secrets_rotate(&c);
	else
		usage(stderr);
	arena_free(&c.arena);
	db_close(c.db);
	config_free(c.cfg);
	return rc;
}
