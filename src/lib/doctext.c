/* Text extraction of uploaded documents; see doctext.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dagy/doctext.h"

/* The most raw output (XML before its tags go) read from a tool. */
#define RAW_MAX (64u << 20)

static const char *const kinds[] = {"pdf", "docx", "pptx", "csv", "txt", "md",
	"json", "yaml"};

const char *
doctext_kind(const char *filename)
{
	const char *dot = strrchr(filename, '.');
	size_t i;

	if (dot == NULL)
		return NULL;
	if (strcasecmp(dot + 1, "yml") == 0 || strcasecmp(dot + 1, "markdown") == 0)
		return strcasecmp(dot + 1, "yml") == 0 ? "yaml" : "md";
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcasecmp(dot + 1, kinds[i]) == 0)
			return kinds[i];
	return NULL;
}

const char *
doctext_kinds(void)
{
	return "pdf, docx, pptx, csv, txt, md, json, yaml";
}

/* Runs argv with stdout read into *out (malloc'd, *len bytes, at most
 * RAW_MAX), stdin and stderr on /dev/null, killed after timeout seconds.
 * 0 when it exits 0, else -1 with err. */
static int
run(char *const argv[], int timeout, char **out, size_t *len, char *err, size_t errlen)
{
	int p[2], st, devnull;
	pid_t pid;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	time_t deadline = time(NULL) + timeout;
	int rc = -1, killed = 0;

	if (pipe(p) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(devnull, 2);
		close(p[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pf = {p[0], POLLIN, 0};
		int left = (int)(deadline - time(NULL));
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, left * 1000) == 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (n + 65536 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 1 << 16;
			if (cap > RAW_MAX + 65536 || (nb = realloc(buf, cap + 1)) == NULL) {
				kill(pid, SIGKILL);
				killed = 1;
				break;
			}
			buf = nb;
		}
		r = read(p[0], buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (killed)
		snprintf(err, errlen, "%s took too long or wrote too much", argv[0]);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		snprintf(err, errlen, "%s is not installed", argv[0]);
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		snprintf(err, errlen, "%s could not read the document", argv[0]);
	else
		rc = 0;
	if (rc == 0) {
		if (buf == NULL && (buf = malloc(1)) == NULL)
			return -1;
		buf[n] = '\0';
		*out = buf;
		*len = n;
		return 0;
	}
	free(buf);
	return -1;
}

static void
put_entity(const char **s, char **o)
{
	static const struct { const char *ent; char c; } ents[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
		{"&apos;", '\''},
	};
	size_t i;

	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
		if (strncmp(*s, ents[i].ent, strlen(ents[i].ent)) == 0) {
			*(*o)++ = ents[i].c;
			*s += strlen(ents[i].ent);
			return;
		}
	*(*o)++ = *(*s)++;
}

/* Office XML to text in place: tags go, the end of a paragraph (para,
 * e.g. "</w:p>") is a line break, the five XML entities are decoded. */
static size_t
strip_xml(char *text, const char *para)
{
	const char *s = text;
	char *o = text;
	size_t pl = strlen(para);

	while (*s) {
		if (*s == '<') {
			const char *e = strchr(s, '>');

			if (strncmp(s, para, pl) == 0 && o > text && o[-1] != '\n')
				*o++ = '\n';
			if (e == NULL)
				break;
			s = e + 1;
		} else if (*s == '&') {
			put_entity(&s, &o);
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return (size_t)(o - text);
}

int
doctext_extract(const char *path, const char *kind, size_t max, int timeout,
    char **out, size_t *len, int *truncated, char *err, size_t errlen)
{
	char *text = NULL, *p = (char *)path;
	size_t n = 0;
	json_t *check;

	*out = NULL;
	*truncated = 0;
	if (strcmp(kind, "pdf") == 0) {
		char *argv[] = {"pdftotext", "-q", "-enc", "UTF-8", "--", p, "-", NULL};

		if (run(argv, timeout, &text, &n, err, errlen) < 0)
			return -1;
	} else if (strcmp(kind, "docx") == 0) {
		char *argv[] = {"unzip", "-p", "--", p, "word/document.xml", NULL};

		if (run(argv, timeout, &text, &n, err, errlen) < 0)
			return -1;
		n = strip_xml(text, "</w:p>");
	} else if (strcmp(kind, "pptx") == 0) {
		char *argv[] = {"unzip", "-p", "--", p, "ppt/slides/slide*.xml", NULL};

		if (run(argv, timeout, &text, &n, err, errlen) < 0)
			return -1;
		n = strip_xml(text, "</a:p>");
	} else {
		char *argv[] = {"cat", "--", p, NULL};

		if (run(argv, timeout, &text, &n, err, errlen) < 0)
			return -1;
	}
	if (n > max) {
		n = max;
		/* Back off to the start of a UTF-8 character. */
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
		text[n] = '\0';
		*truncated = 1;
	}
	if (memchr(text, '\0', n) != NULL ||
	    (check = json_stringn(text, n)) == NULL) {
		snprintf(err, errlen, "the document's text is not UTF-8");
		free(text);
		return -1;
	}
	json_decref(check);
	*out = text;
	*len = n;
	return 0;
}
