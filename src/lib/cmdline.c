/* Shell-free execution of simple commands: the syntax test and PATH search. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>

#include "dagy/cmdline.h"

/* Every builtin and reserved word of dash (Debian's /bin/sh) whose direct
 * execution could differ from the shell's: they change the shell itself,
 * have no binary, or the binary parses its arguments differently (echo,
 * printf, test, pwd, kill). true and false are the same either way. */
static const char *const shell_words[] = {
	"!", ".", ":", "[", "[[", "alias", "bg", "break", "case", "cd", "chdir",
	"command", "continue", "do", "done", "echo", "elif", "else", "esac",
	"eval", "exec", "exit", "export", "fc", "fg", "fi", "for", "function",
	"getopts", "hash", "if", "in", "jobid", "jobs", "kill", "local", "printf",
	"pwd", "read", "readonly", "return", "select", "set", "shift", "test",
	"then", "time", "times", "trap", "type", "ulimit", "umask", "unalias",
	"unset", "until", "wait", "while", "{", "}",
};

static int
plain_char(unsigned char c)
{
	/* Bytes of UTF-8 text are literal to sh, like letters. */
	if (c >= 0x80)
		return 1;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return strchr("_-.,/:@%+=", c) != NULL && c != '\0';
}

int
cmdline_split(const char *cmd, char *buf, size_t bufsz, char **argv, int maxargs)
{
	size_t len = strlen(cmd), i;
	int n = 0;
	char *p;

	if (len + 1 > bufsz)
		return 0;
	for (i = 0; i < len; i++)
		if (!plain_char((unsigned char)cmd[i]) && cmd[i] != ' ' && cmd[i] != '\t')
			return 0;
	memcpy(buf, cmd, len + 1);
	for (p = buf; *p != '\0';) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (n + 1 >= maxargs)
			return 0;
		argv[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	argv[n] = NULL;
	if (n == 0 || strchr(argv[0], '=') != NULL)
		return 0;
	for (i = 0; i < sizeof(shell_words) / sizeof(shell_words[0]); i++)
		if (strcmp(argv[0], shell_words[i]) == 0)
			return 0;
	return n;
}

/* Relative names are looked up where the command will run, not here. */
static int
executable(const char *cwd, const char *file)
{
	char full[4096];
	struct stat st;

	if (file[0] != '/') {
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", cwd, file) >= sizeof(full))
			return 0;
		file = full;
	}
	return stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0;
}

int
cmdline_which(const char *name, const char *path, const char *cwd, char *out, size_t outsz)
{
	const char *dir, *end;

	if (strchr(name, '/') != NULL)
		return (size_t)snprintf(out, outsz, "%s", name) < outsz &&
		    executable(cwd, out) ? 0 : -1;
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (dir = path;; dir = end + 1) {
		size_t dlen;

		end = strchr(dir, ':');
		dlen = end != NULL ? (size_t)(end - dir) : strlen(dir);
		/* An empty element is the current directory, as in sh. */
		if ((size_t)snprintf(out, outsz, "%.*s%s%s", (int)dlen, dir,
		    dlen > 0 ? "/" : "", name) < outsz && executable(cwd, out))
			return 0;
		if (end == NULL)
			return -1;
	}
}
