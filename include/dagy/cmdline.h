/* Deciding whether a shell command needs /bin/sh, as make does: a command
 * of plain words with no shell syntax is split into argv and executed
 * directly, which saves a shell per step and behaves the same. */
#ifndef DAGY_CMDLINE_H
#define DAGY_CMDLINE_H

#include <stddef.h>

/* Splits cmd into words when it can run without a shell: only plain
 * characters, no quoting, expansion, redirection, operator or comment, no
 * assignment and no first word that is a shell builtin or keyword (other
 * than true and false, which behave alike either way). Returns the number
 * of words (>= 1) with argv[0..n-1] pointing into buf and argv[n] NULL, or
 * 0 when the shell is needed (or the command does not fit). */
int cmdline_split(const char *cmd, char *buf, size_t bufsz, char **argv, int maxargs);

/* Finds an executable for name the way sh does: as given when it holds a
 * '/', else along path ("" or NULL: the default path); relative names
 * are checked against cwd, where the command will run. Returns 0 with the
 * file to execute in out, or -1 when there is none (the shell then runs
 * the command and reports it as it always does). */
int cmdline_which(const char *name, const char *path, const char *cwd, char *out,
    size_t outsz);

#endif
