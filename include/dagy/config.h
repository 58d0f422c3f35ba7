/* The INI configuration file (/etc/dagy/dagy.conf, or $DAGY_CONFIG): known
 * keys and their defaults live in one table in config.c. */
#ifndef DAGY_CONFIG_H
#define DAGY_CONFIG_H

#include <stdio.h>

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/dagy/dagy.conf"

struct config;

/* Loads path, or $DAGY_CONFIG, or the default path. A missing default file
 * is not an error: every key has a default. Returns 0 or -1 with err set. */
int config_load(struct config **out, const char *path, char *err, size_t errlen);
void config_free(struct config *cfg);
const char *config_path(const struct config *cfg);
/* The value set in the file, else the table's default; never NULL. */
const char *config_str(const struct config *cfg, const char *section, const char *key);
long long config_int(const struct config *cfg, const char *section, const char *key);
double config_num(const struct config *cfg, const char *section, const char *key);
/* Writes each problem (unknown key, bad number) to out; returns their count. */
int config_check(const struct config *cfg, FILE *out);

#endif
