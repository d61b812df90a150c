/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's one-line messages: "volshift: " and the text, on stderr. Apart
 * from main.c so that the fuzz archive, which leaves main.c out (it brings
 * every subcommand, and libFuzzer brings its own main), links the same ones.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

static void vlog(const char *fmt, va_list ap)
{
	fputs("volshift: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	return EXIT_BAD_INPUT;
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}
