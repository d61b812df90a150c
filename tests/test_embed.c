/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: packaging for embedders. `cmake --install` of this build into a
 * temp prefix, then examples/build-and-run.sh: the installed files (binary,
 * shared + static library, header, volshift.pc, man pages, hooks.d JSON), only
 * vs_* exported, examples/embed.c built with the installed pkg-config file
 * (shared and static) and run on temp volumes (vs_run, and vs_mount both
 * idmapped and with the on-disk fallback). Needs root to run the example;
 * the script exits 77 without it. And, without installing: the shared
 * library of this build exports exactly the functions include/volshift.h
 * declares VS_EXPORT, and src/lib/libvolshift.sym lists exactly those.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A set of names, kept sorted. */
struct names {
	char *v[256];
	unsigned n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add(struct names *s, const char *name, size_t len)
{
	cr_assert_lt(s->n, 256);
	s->v[s->n] = strndup(name, len);
	cr_assert_not_null(s->v[s->n]);
	s->n++;
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_str);
}

static void free_names(struct names *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	cr_assert_not_null(f, "%s: cannot open", path);
	cr_assert_geq(getdelim(&buf, &len, '\0', f), 0, "%s: cannot read", path);
	fclose(f);
	return buf;
}

/* The functions the header declares VS_EXPORT: the identifier before the
 * first "(" after each VS_EXPORT outside a preprocessor line. */
static void header_exports(struct names *s)
{
	char *text = slurp_file(VS_SOURCE_DIR "/include/volshift.h");

	for (char *p = text; (p = strstr(p, "VS_EXPORT")); p += 9) {
		char *line = p, *paren, *end;

		while (line > text && line[-1] != '\n')
			line--;
		if (*line == '#')
			continue;
		paren = strchr(p, '(');
		cr_assert_not_null(paren);
		end = paren;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		char *start = end;

		while (start > p && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
			start--;
		cr_assert_gt(end, start, "VS_EXPORT without a function name at %.40s", p);
		add(s, start, (size_t)(end - start));
	}
	free(text);
}

/* The names of the version script's "global:" section. */
static void sym_file_exports(struct names *s)
{
	char *text = slurp_file(VS_SOURCE_DIR "/src/lib/libvolshift.sym");
	char *p = strstr(text, "global:"), *stop;

	cr_assert_not_null(p, "libvolshift.sym has no global: section");
	p += 7;
	stop = strstr(p, "local:");
	cr_assert_not_null(stop, "libvolshift.sym has no local: section");
	while (p < stop) {
		size_t n;

		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n;");
		if (p + n > stop)
			break;
		if (n)
			add(s, p, n);
		p += n;
		p += strspn(p, ";");
	}
	free(text);
}

/* What the shared library exports: nm -D --defined-only, the code and data
 * symbols (not the version node itself, an absolute symbol), without
 * their @@VERSION. */
static void shlib_exports(struct names *s)
{
	char cmd[4200], line[512];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' 2>&1", VS_SHLIB);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char type, name[256];

		if (sscanf(line, "%*s %c %255s", &type, name) != 2)
			continue;
		if (type == 'A' || type == 'U')
			continue;
		add(s, name, strcspn(name, "@"));
	}
	st = pclose(p);
	cr_assert_eq(st, 0, "%s failed (exit %d)", cmd, st);
}

/* Reports every name in a and not in b; returns how many. */
static unsigned missing(const struct names *a, const struct names *b, const char *a_name,
                        const char *b_name)
{
	unsigned n = 0;

	for (unsigned i = 0; i < a->n; i++)
		if (!bsearch(&a->v[i], b->v, b->n, sizeof(b->v[0]), cmp_str)) {
			fprintf(stderr, "  %s: in %s, not in %s\n", a->v[i], a_name, b_name);
			n++;
		}
	return n;
}

Test(embed, exports_are_the_header_vs_export_functions)
{
	struct names h = {0}, sym = {0}, so = {0};
	unsigned bad = 0;

	header_exports(&h);
	sym_file_exports(&sym);
	shlib_exports(&so);
	cr_assert_gt(h.n, 10, "too few VS_EXPORT declarations found (%u)", h.n);
	for (unsigned i = 0; i < h.n; i++)
		cr_assert(!strncmp(h.v[i], "vs_", 3), "%s: exported without the vs_ prefix",
		          h.v[i]);
	bad += missing(&h, &sym, "volshift.h", "libvolshift.sym");
	bad += missing(&sym, &h, "libvolshift.sym", "volshift.h");
	bad += missing(&h, &so, "volshift.h", VS_SHLIB);
	bad += missing(&so, &h, VS_SHLIB, "volshift.h");
	cr_assert_eq(bad, 0, "%u names differ between the header, the .sym file and the library",
	             bad);
	cr_assert_eq(h.n, so.n);
	free_names(&h);
	free_names(&sym);
	free_names(&so);
}

Test(embed, installed_example_builds_and_runs, .timeout = 600)
{
	char *prefix = tu_mkdtemp("prefix");
	int r;

#if defined(__SANITIZE_ADDRESS__)
	/* the sanitizer build's library needs the runtime in what links it */
	setenv("CFLAGS", "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer", 1);
	setenv("LDFLAGS", "-fsanitize=address,undefined", 1);
#endif
	r = tu_sh("'%s/examples/build-and-run.sh' '%s' '%s' >&2", VS_SOURCE_DIR, prefix,
	          VS_BUILD_DIR);
	tu_rm_rf(prefix);
	free(prefix);
	if (r == 77)
		cr_skip_test("not root: the example chowns and mounts (it was built)");
	cr_assert_eq(r, 0, "examples/build-and-run.sh failed (exit %d), see its stderr", r);
}
