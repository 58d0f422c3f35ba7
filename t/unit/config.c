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

	plan(12);
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

	is_int(-1, config_load(&cfg, "/nonexistent/dagy.conf", err, sizeof(err)),
	    "an explicit missing file is an error");
	ok(strstr(err, "No such file") != NULL, "and says why");
	return done_testing();
}
