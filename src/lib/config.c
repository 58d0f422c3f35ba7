/* INI parsing and the table of every configuration key dagy reads. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dagy/config.h"

enum key_type { K_STR, K_INT, K_NUM }; /* K_NUM: a non-negative decimal */

struct known_key {
	const char *section, *key;
	enum key_type type;
	const char *def;
};

/* A plan's quotas and rate limits; 0 is unlimited (quotas) or the [limits]
 * value (rates); ai_credits is AI Studio's monthly allowance (0: [ai]
 * monthly_credits). */
#define PLAN_KEYS(p) \
	{"plan." p, "monthly_runs", K_INT, "0"}, \
	{"plan." p, "monthly_tasks", K_INT, "0"}, \
	{"plan." p, "monthly_step_seconds", K_INT, "0"}, \
	{"plan." p, "concurrent_runs", K_INT, "0"}, \
	{"plan." p, "key_requests", K_INT, "0"}, \
	{"plan." p, "org_requests", K_INT, "0"}, \
	{"plan." p, "stripe_price_id", K_STR, ""}, \
	{"plan." p, "display_name", K_STR, ""}, \
	{"plan." p, "monthly_cost_usd", K_NUM, "0"}, \
	{"plan." p, "ai_credits", K_INT, "0"}

static const struct known_key known[] = {
	{"database", "host", K_STR, "localhost"},
	{"database", "port", K_INT, "3306"},
	{"database", "socket", K_STR, ""},
	{"database", "user", K_STR, "dagy"},
	{"database", "password", K_STR, ""},
	{"database", "name", K_STR, "dagy"},
	{"database", "connect_timeout", K_INT, "2"},
	{"database", "read_timeout", K_INT, "60"},
	{"database", "lock_wait_timeout", K_INT, "5"},
	{"auth", "argon2_memory_kib", K_INT, "19456"},
	{"auth", "argon2_iterations", K_INT, "2"},
	{"auth", "argon2_parallelism", K_INT, "1"},
	{"auth", "token_ttl_seconds", K_INT, "43200"},
	{"auth", "cache_ttl_seconds", K_INT, "300"},
	{"api", "max_body_bytes", K_INT, "1048576"},
	{"api", "retry_after_seconds", K_INT, "5"},
	{"api", "cursor_secret", K_STR, ""},
	{"api", "processes", K_INT, "1"},
	{"worker", "concurrency", K_INT, "8"},
	{"worker", "wake_dir", K_STR, "/run/dagy"},
	{"worker", "default_step_timeout_seconds", K_INT, "3600"},
	{"worker", "kill_grace_ms", K_INT, "2000"},
	{"worker", "shutdown_grace_seconds", K_INT, "30"},
	{"worker", "max_log_line_bytes", K_INT, "8192"},
	{"worker", "max_step_log_bytes", K_INT, "10485760"},
	{"worker", "max_runs", K_INT, "64"},
	{"worker", "max_step_timeout_seconds", K_INT, "86400"},
	{"worker", "poll_interval_ms", K_INT, "1000"},
	{"worker", "lease_seconds", K_INT, "30"},
	{"worker", "catchup_max", K_INT, "100"},
	{"worker", "misfire_grace_seconds", K_INT, "60"},
	{"worker", "work_dir", K_STR, "/var/lib/dagy/work"},
	{"metrics", "state_file", K_STR, ""},
	{"metrics", "token", K_STR, ""},
	{"metrics", "window_seconds", K_INT, "300"},
	{"limits", "state_file", K_STR, ""},
	{"limits", "window_seconds", K_INT, "60"},
	{"limits", "key_requests", K_INT, "6000"},
	{"limits", "org_requests", K_INT, "30000"},
	{"limits", "address_requests", K_INT, "6000"},
	{"limits", "webhook_requests", K_INT, "600"},
	{"limits", "login_slow_after", K_INT, "5"},
	{"limits", "login_slow_seconds", K_INT, "2"},
	{"limits", "login_failures", K_INT, "20"},
	{"limits", "login_address_failures", K_INT, "100"},
	{"limits", "login_lockout_seconds", K_INT, "900"},
	{"limits", "argon2_concurrency", K_INT, "0"},
	{"limits", "argon2_wait_ms", K_INT, "2000"},
	{"limits", "usage_flush_seconds", K_INT, "10"},
	PLAN_KEYS("free"),
	PLAN_KEYS("starter"),
	PLAN_KEYS("professional"),
	PLAN_KEYS("enterprise"),
	{"usage", "price_per_run", K_NUM, "0"},
	{"usage", "price_per_step_second", K_NUM, "0"},
	{"usage", "price_per_1000_api_calls", K_NUM, "0"},
	{"ai", "base_url", K_STR, "https://api.openai.com/v1"},
	{"ai", "api_key", K_STR, ""},
	{"ai", "model", K_STR, "gpt-4o-mini"},
	{"ai", "embedding_model", K_STR, "text-embedding-3-small"},
	{"ai", "timeout_seconds", K_INT, "120"},
	{"ai", "max_retries", K_INT, "4"},
	{"ai", "api_key_secret", K_STR, ""},
	{"ai", "model_fast", K_STR, ""},
	{"ai", "model_standard", K_STR, ""},
	{"ai", "model_advanced", K_STR, ""},
	{"ai", "default_tier", K_STR, "standard"},
	{"ai", "monthly_credits", K_INT, "200"},
	{"ai", "max_turns_per_session", K_INT, "50"},
	{"ai", "max_attachments_per_session", K_INT, "10"},
	{"ai", "max_attachment_bytes", K_INT, "26214400"},
	{"ai", "attachment_text_max_chars", K_INT, "20000"},
	{"ai", "history_max_messages", K_INT, "20"},
	{"ai", "attachments_dir", K_STR, "/var/lib/dagy/attachments"},
	{"ai", "upload_ttl_seconds", K_INT, "900"},
	{"ai", "extract_timeout_seconds", K_INT, "30"},
	{"secrets", "key_file", K_STR, SYSCONFDIR "/dagy/secrets.key"},
	{"notifications", "max_attempts", K_INT, "6"},
	{"notifications", "backoff_ms", K_INT, "2000"},
	{"notifications", "timeout_seconds", K_INT, "10"},
	{"notifications", "base_url", K_STR, ""},
	{"sensors", "webhook_max_body_bytes", K_INT, "262144"},
	{"sensors", "poll_max_body_bytes", K_INT, "1048576"},
	{"storage", "backend", K_STR, "auto"},
	{"storage", "dir", K_STR, "/var/lib/dagy/store"},
	{"storage", "endpoint", K_STR, ""},
	{"storage", "region", K_STR, "us-east-1"},
	{"storage", "bucket", K_STR, ""},
	{"storage", "prefix", K_STR, "dagy/"},
	{"storage", "addressing", K_STR, "auto"},
	{"storage", "access_key", K_STR, ""},
	{"storage", "secret_key", K_STR, ""},
	{"storage", "timeout_seconds", K_INT, "60"},
	{"storage", "retries", K_INT, "3"},
	{"storage", "upload_expiry_seconds", K_INT, "3600"},
	{"storage", "upload_secret", K_STR, ""},
	{"storage", "max_artifact_bytes", K_INT, "1073741824"},
	{"storage", "max_unpacked_bytes", K_INT, "4294967296"},
	{"storage", "verify_part_md5", K_INT, "1"},
	{"billing", "stripe_secret_key", K_STR, ""},
	{"billing", "stripe_secret_key_file", K_STR, ""},
	{"billing", "webhook_secret", K_STR, ""},
	{"billing", "stripe_api_base", K_STR, "https://api.stripe.com"},
	{"billing", "timeout_seconds", K_INT, "20"},
	{"billing", "webhook_tolerance_seconds", K_INT, "300"},
	{"billing", "payment_grace_seconds", K_INT, "604800"},
	{"admin", "exceptions_dir", K_STR, "/var/lib/dagy/exceptions"},
	{"admin", "download_secret", K_STR, ""},
	{"admin", "download_ttl_seconds", K_INT, "300"},
	{"admin", "public_url", K_STR, ""},
	{"admin", "impersonation_ttl_seconds", K_INT, "3600"},
	{"projects", "dir", K_STR, "/var/lib/dagy/projects"},
	{"projects", "poll_seconds", K_INT, "60"},
	{"projects", "git_timeout_seconds", K_INT, "300"},
	{"projects", "allow_local_urls", K_INT, "0"},
	{"team", "invitation_ttl_hours", K_INT, "168"},
	{"log", "level", K_STR, "info"},
	{"log", "file", K_STR, ""},
};

/* Sections reserved for later modules: any key is accepted there. */
static const char *const open_sections[] = {"secrets", "s3"};

struct entry {
	char *section, *key, *value;
	int line;
};

struct config {
	char *path;
	struct entry *e;
	size_t n, cap;
};

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int
add_entry(struct config *cfg, const char *section, const char *key,
    const char *value, int line)
{
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 32;
		struct entry *e = realloc(cfg->e, cap * sizeof(*e));

		if (e == NULL)
			return -1;
		cfg->e = e;
		cfg->cap = cap;
	}
	cfg->e[cfg->n].section = strdup(section);
	cfg->e[cfg->n].key = strdup(key);
	cfg->e[cfg->n].value = strdup(value);
	cfg->e[cfg->n].line = line;
	cfg->n++;
	return 0;
}

int
config_load(struct config **out, const char *path, char *err, size_t errlen)
{
	struct config *cfg;
	FILE *f = NULL;
	char line[4096], section[64] = "";
	int lineno = 0, explicit = 1;

	if (path == NULL)
		path = getenv("DAGY_CONFIG");
	if (path == NULL || *path == '\0') {
		path = CONFIG_DEFAULT_PATH;
		explicit = 0;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return -1;
	cfg->path = strdup(path);
	if ((f = fopen(path, "r")) == NULL) {
		if (!explicit && errno == ENOENT)
			goto done;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line), *eq;

		lineno++;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close == NULL || close - s - 1 >= (long)sizeof(section)) {
				snprintf(err, errlen, "%s:%d: bad section header", path, lineno);
				goto fail;
			}
			*close = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL || *section == '\0') {
			snprintf(err, errlen, "%s:%d: expected key = value inside a [section]",
			    path, lineno);
			goto fail;
		}
		*eq = '\0';
		if (add_entry(cfg, section, trim(s), trim(eq + 1), lineno) < 0)
			goto fail;
	}
done:
	if (f != NULL)
		fclose(f);
	*out = cfg;
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	config_free(cfg);
	return -1;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n; i++) {
		free(cfg->e[i].section);
		free(cfg->e[i].key);
		free(cfg->e[i].value);
	}
	free(cfg->e);
	free(cfg->path);
	free(cfg);
}

const char *
config_path(const struct config *cfg)
{
	return cfg->path;
}

static const struct known_key *
find_known(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].section, section) == 0 &&
		    strcmp(known[i].key, key) == 0)
			return &known[i];
	return NULL;
}

const char *
config_str(const struct config *cfg, const char *section, const char *key)
{
	const struct known_key *k;
	size_t i;

	/* The last assignment wins, as in most INI readers. */
	for (i = cfg->n; i-- > 0;)
		if (strcmp(cfg->e[i].section, section) == 0 &&
		    strcmp(cfg->e[i].key, key) == 0)
			return cfg->e[i].value;
	k = find_known(section, key);
	return k != NULL ? k->def : "";
}

double
config_num(const struct config *cfg, const char *section, const char *key)
{
	return strtod(config_str(cfg, section, key), NULL);
}

long long
config_int(const struct config *cfg, const char *section, const char *key)
{
	return strtoll(config_str(cfg, section, key), NULL, 10);
}

static int
is_open_section(const char *section)
{
	size_t i;

	for (i = 0; i < sizeof(open_sections) / sizeof(open_sections[0]); i++)
		if (strcmp(open_sections[i], section) == 0)
			return 1;
	return 0;
}

int
config_check(const struct config *cfg, FILE *out)
{
	int problems = 0;
	size_t i;

	for (i = 0; i < cfg->n; i++) {
		const struct entry *e = &cfg->e[i];
		const struct known_key *k = find_known(e->section, e->key);
		char *end;

		if (k == NULL) {
			if (is_open_section(e->section))
				continue;
			fprintf(out, "%s:%d: unknown key '%s' in [%s]\n", cfg->path,
			    e->line, e->key, e->section);
			problems++;
			continue;
		}
		if (k->type == K_NUM) {
			double v = strtod(e->value, &end);

			if (end == e->value || *end != '\0' || !(v >= 0)) {
				fprintf(out, "%s:%d: [%s] %s must be a non-negative number, not '%s'\n",
				    cfg->path, e->line, e->section, e->key, e->value);
				problems++;
			}
		}
		if (k->type == K_INT) {
			errno = 0;
			long long v = strtoll(e->value, &end, 10);

			if (errno != 0 || end == e->value || *end != '\0' || v < 0) {
				fprintf(out, "%s:%d: [%s] %s must be a non-negative integer, not '%s'\n",
				    cfg->path, e->line, e->section, e->key, e->value);
				problems++;
			}
		}
	}
	if (config_int(cfg, "limits", "window_seconds") < 1 ||
	    config_int(cfg, "limits", "usage_flush_seconds") < 1) {
		fprintf(out, "%s: [limits] window_seconds and usage_flush_seconds must be at "
		    "least 1\n", cfg->path);
		problems++;
	}
	if (config_int(cfg, "projects", "poll_seconds") < 1 ||
	    config_int(cfg, "projects", "git_timeout_seconds") < 1 ||
	    config_int(cfg, "team", "invitation_ttl_hours") < 1) {
		fprintf(out, "%s: [projects] poll_seconds and git_timeout_seconds and [team] "
		    "invitation_ttl_hours must be at least 1\n", cfg->path);
		problems++;
	}
	if (config_int(cfg, "database", "lock_wait_timeout") < 1 ||
	    config_int(cfg, "database", "lock_wait_timeout") > 3600) {
		fprintf(out, "%s: [database] lock_wait_timeout must be 1 to 3600 seconds\n",
		    cfg->path);
		problems++;
	}
	if (config_str(cfg, "projects", "dir")[0] != '/') {
		fprintf(out, "%s: [projects] dir must be an absolute path\n", cfg->path);
		problems++;
	}
	if (strcmp(config_str(cfg, "log", "level"), "debug") != 0 &&
	    strcmp(config_str(cfg, "log", "level"), "info") != 0 &&
	    strcmp(config_str(cfg, "log", "level"), "warn") != 0 &&
	    strcmp(config_str(cfg, "log", "level"), "error") != 0) {
		fprintf(out, "%s: [log] level must be debug, info, warn or error\n", cfg->path);
		problems++;
	}
	if (config_int(cfg, "metrics", "window_seconds") < 1 ||
	    config_int(cfg, "metrics", "window_seconds") > 86400) {
		fprintf(out, "%s: [metrics] window_seconds must be 1 to 86400\n", cfg->path);
		problems++;
	}
	if (*config_str(cfg, "metrics", "token") != '\0' &&
	    strlen(config_str(cfg, "metrics", "token")) < 16) {
		fprintf(out, "%s: [metrics] token must be at least 16 characters\n", cfg->path);
		problems++;
	}
	if (config_int(cfg, "sensors", "webhook_max_body_bytes") < 1 ||
	    config_int(cfg, "sensors", "poll_max_body_bytes") < 1) {
		fprintf(out, "%s: [sensors] webhook_max_body_bytes and poll_max_body_bytes "
		    "must be at least 1\n", cfg->path);
		problems++;
	}
	if (strcmp(config_str(cfg, "ai", "default_tier"), "fast") != 0 &&
	    strcmp(config_str(cfg, "ai", "default_tier"), "standard") != 0 &&
	    strcmp(config_str(cfg, "ai", "default_tier"), "advanced") != 0) {
		fprintf(out, "%s: [ai] default_tier must be fast, standard or advanced\n", cfg->path);
		problems++;
	}
	if (config_int(cfg, "ai", "max_attachment_bytes") > 26214400) {
		fprintf(out, "%s: [ai] max_attachment_bytes is at most 26214400 (25 MB)\n", cfg->path);
		problems++;
	}
	return problems;
}
