/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What common.c needs from main.c (which the fuzz archive leaves out: it
 * brings every subcommand, and libFuzzer brings its own main): the CLI's
 * one-line messages on the stderr stream, as main.c prints them. In the
 * archive, so a real definition elsewhere in it wins.
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
