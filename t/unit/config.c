/* The configuration file: defaults, overrides, and what check reports. */
#include <unistd.h>

#include "../tap.h"
#include "dagy/config.h"

int
main(void)
{
	char path[] = "/tmp/dagy-config-XXXXXX", err[256];
	struct config *cfg = NULL;
	FILE *f, *report;
	char *text = NULL;
	size_t len = 0;
	int fd;

	plan(18);
	if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
		bail("mkstemp");
	fputs("# comment\n[database]\nname = dagy_test\nport=abc\n"
	    "[api]\nmax_body_bytes = 2048\nbogus = 1\n[s3]\nbucket = x\n"
	    "[ai]\ndefault_tier = huge\nmax_attachment_bytes = 99999999\n", f);
	fclose(f);
	is_int(0, config_load(&cfg, path, err, sizeof(err)), "loads");
	is_string("dagy_test", config_str(cfg, "database", "name"), "value read");
	is_int(2048, config_int(cfg, "api", "max_body_bytes"), "integer read");
	is_string("localhost", config_str(cfg, "database", "host"), "default used");
	is_int(19456, config_int(cfg, "auth", "argon2_memory_kib"), "argon2 default");
	report = open_memstream(&text, &len);
	is_int(4, config_check(cfg, report), "four problems");
	fclose(report);
	ok(strstr(text, "unknown key 'bogus' in [api]") != NULL, "unknown key named");
	ok(strstr(text, "port must be a non-negative integer") != NULL, "bad number named");
	ok(strstr(text, "default_tier must be fast, standard or advanced") != NULL,
	    "an unknown AI Studio tier named");
	ok(strstr(text, "max_attachment_bytes is at most") != NULL, "attachments over 25 MB refused");
	free(text);
	config_free(cfg);
	unlink(path);

	/* Limits, plans and prices. */
	if ((f = fopen(path, "w")) == NULL)
		bail("fopen");
	fputs("[limits]\nwindow_seconds = 0\n[plan.starter]\nmonthly_runs = 100\n"
	    "[plan.gold]\nmonthly_runs = 1\n[usage]\nprice_per_run = 0.25\n"
	    "price_per_step_second = cheap\n", f);
	fclose(f);
	is_int(0, config_load(&cfg, path, err, sizeof(err)), "loads limits");
	ok(config_num(cfg, "usage", "price_per_run") == 0.25, "a price read");
	is_int(100, config_int(cfg, "plan.starter", "monthly_runs"), "a plan's quota read");
	text = NULL;
	report = open_memstream(&text, &len);
	is_int(3, config_check(cfg, report), "three problems");
	fclose(report);
	ok(strstr(text, "unknown key 'monthly_runs' in [plan.gold]") != NULL &&
	    strstr(text, "price_per_step_second must be a non-negative number") != NULL,
	    "an unknown plan and a bad price named");
	ok(strstr(text, "window_seconds and usage_flush_seconds must be at least 1") != NULL,
	    "a zero window named");
	free(text);
	config_free(cfg);
	unlink(path);

	is_int(-1, config_load(&cfg, "/nonexistent/dagy.conf", err, sizeof(err)),
	    "an explicit missing file is an error");
	ok(strstr(err, "No such file") != NULL, "and says why");
	return done_testing();
}
