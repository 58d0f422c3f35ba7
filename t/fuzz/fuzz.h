/* What the fuzz targets share: each defines LLVMFuzzerTestOneInput; it is
 * linked either with libFuzzer (script/fuzz) or with replay.c, which runs
 * the seed corpus and every regression input as a TAP test. */
#ifndef DAGY_FUZZ_H
#define DAGY_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct config;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A configuration for fuzzing, loaded once: a fixed cursor secret and a
 * database socket that does not exist. Logging goes nowhere. */
const struct config *fuzz_config(void);
/* data as a NUL-terminated string in fresh memory (free it), so reads
 * past the end are caught; NULL when data holds a NUL. */
char *fuzz_str(const uint8_t *data, size_t size);

#endif
