/* Which commands run without a shell, how they split, and the PATH search. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "dagy/cmdline.h"

static int
split(const char *cmd, char **argv)
{
	static char buf[256];

	return cmdline_split(cmd, buf, sizeof(buf), argv, 8);
}

int
main(void)
{
	static const char *const shell[] = {
		"echo hi", "a | b", "a && b", "a; b", "a > f", "a < f", "ls *.c",
		"ls ?", "ls [ab]", "echo $HOME", "cat ~/x", "x=1 cmd", "FOO=bar", "a 'b c'",
		"a \"b\"", "a \\b", "a `b`", "a $(b)", "a # c", "(a)", "{ a; }", "a &",
		"cd /tmp", "exit 3", "export A=1", ". ./env", ": nothing", "test -f x",
		"[ -f x ]", "printf %s x", "pwd", "kill 1", "if", "a\tb;", "", "   ", "!a",
		"a=b", "exec true",
	};
	char *argv[8], path[256], dir[] = "/tmp/dagy-cmdline-XXXXXX", file[300];
	size_t i;

	plan(30 + (int)(sizeof(shell) / sizeof(shell[0])));
	for (i = 0; i < sizeof(shell) / sizeof(shell[0]); i++)
		is_int(0, split(shell[i], argv), "needs the shell: %s", shell[i]);
	is_int(0, split("a\nb", argv), "needs the shell: a newline");
	is_int(1, split("true", argv), "true runs directly");
	is_string("true", argv[0], "argv[0]");
	ok(argv[1] == NULL, "argv ends with NULL");
	is_int(2, split("  sleep \t 0.5  ", argv), "blanks separate words");
	is_string("sleep", argv[0], "first word");
	is_string("0.5", argv[1], "second word");
	is_int(4, split("cp -r a/b.c x:y,z@w%v+u=1", argv), "plain punctuation is literal");
	is_string("x:y,z@w%v+u=1", argv[3], "= after the first word is an argument");
	is_int(2, split("./run.sh --flag=1", argv), "relative program");
	is_int(1, split("false", argv), "false runs directly");
	is_int(2, split("caf\xc3\xa9 x", argv), "UTF-8 bytes are literal");
	is_int(0, split("a b c d e f g h", argv), "too many words: the shell");
	{
		char small[4];

		is_int(0, cmdline_split("truex", small, sizeof(small), argv, 8),
		    "too long for the buffer: the shell");
	}

	is_int(0, cmdline_which("sh", "/nonexistent:/bin", "/", path, sizeof(path)),
	    "found along PATH");
	is_string("/bin/sh", path, "the first directory that has it");
	is_int(0, cmdline_which("sh", NULL, "/", path, sizeof(path)), "default PATH");
	is_int(-1, cmdline_which("no-such-program-here", "/bin:/usr/bin", "/", path,
	    sizeof(path)), "missing program: -1");
	is_int(0, cmdline_which("/bin/sh", "", "/", path, sizeof(path)), "absolute name");
	is_string("/bin/sh", path, "used as given");
	is_int(-1, cmdline_which("/etc/passwd", "", "/", path, sizeof(path)),
	    "not executable: -1");
	is_int(-1, cmdline_which("tmp", "/", "/", path, sizeof(path)),
	    "a directory is not a program");

	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	snprintf(file, sizeof(file), "%s/tool", dir);
	{
		FILE *f = fopen(file, "w");

		fputs("#!/bin/sh\n", f);
		fclose(f);
	}
	chmod(file, 0755);
	is_int(0, cmdline_which("./tool", NULL, dir, path, sizeof(path)),
	    "relative name checked in the command's directory");
	is_string("./tool", path, "and kept relative");
	is_int(-1, cmdline_which("./tool", NULL, "/", path, sizeof(path)),
	    "not in another directory");
	is_int(0, cmdline_which("tool", ":/bin", dir, path, sizeof(path)),
	    "empty PATH element: the command's directory");
	is_string("tool", path, "found there");
	is_int(-1, cmdline_which("tool", "/bin", dir, path, sizeof(path)),
	    "not on PATH");
	is_int(0, cmdline_which("sh", "/bin", dir, path, sizeof(path)), "sanity");
	unlink(file);
	rmdir(dir);
	is_int(-1, cmdline_which("tool", ":", dir, path, sizeof(path)), "gone");
	return 0;
}
