/* A TAP producer in c-tap-harness's vocabulary, header-only: plan, ok,
 * is_int, is_string, diag, skip, bail. */
#ifndef DAGY_TAP_H
#define DAGY_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_planned, tap_run, tap_failed;

static __attribute__((unused)) void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static __attribute__((unused)) void
tap_vresult(int pass, const char *fmt, va_list ap)
{
	tap_run++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

static __attribute__((unused, format(printf, 2, 3))) int
ok(int pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(pass, fmt, ap);
	va_end(ap);
	return pass;
}

static __attribute__((unused, format(printf, 1, 2))) void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static __attribute__((unused, format(printf, 3, 4))) int
is_int(long long want, long long got, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(want == got, fmt, ap);
	va_end(ap);
	if (want != got)
		diag("wanted %lld, got %lld", want, got);
	return want == got;
}

static __attribute__((unused, format(printf, 3, 4))) int
is_string(const char *want, const char *got, const char *fmt, ...)
{
	int pass = (want == NULL && got == NULL) ||
	    (want != NULL && got != NULL && strcmp(want, got) == 0);
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		diag("wanted '%s', got '%s'", want ? want : "(null)", got ? got : "(null)");
	return pass;
}

static __attribute__((unused, format(printf, 2, 3))) void
skip(int n, const char *fmt, ...)
{
	va_list ap;
	char why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	while (n-- > 0) {
		tap_run++;
		printf("ok %d # skip %s\n", tap_run, why);
	}
}

static __attribute__((unused, noreturn, format(printf, 1, 2))) void
bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(255);
}

/* Call last from main: the exit status says whether all went well. */
static __attribute__((unused)) int
done_testing(void)
{
	if (tap_planned != tap_run)
		diag("planned %d tests, ran %d", tap_planned, tap_run);
	return tap_failed > 0 || tap_planned != tap_run;
}

#endif
