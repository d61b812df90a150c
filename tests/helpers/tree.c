/* SPDX-License-Identifier: Apache-2.0 */
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "testutil.h"

static struct {
	char **lines;
	size_t n, cap;
	size_t root_len;
} snap;

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char esc[8192], *o = esc;
	const char *rel = path + snap.root_len;

	(void)flag;
	(void)ftw;
	for (const char *p = *rel ? rel : "/"; *p && o < esc + sizeof(esc) - 8; p++) {
		if (*p == '\n')
			o += sprintf(o, "\\n");
		else if (*p == '\\')
			o += sprintf(o, "\\\\");
		else
			*o++ = *p;
	}
	*o = '\0';
	if (snap.n == snap.cap) {
		snap.cap = snap.cap ? snap.cap * 2 : 1024;
		snap.lines = realloc(snap.lines, snap.cap * sizeof(char *));
	}
	if (asprintf(&snap.lines[snap.n++], "%s %u %u %o", esc, st->st_uid, st->st_gid,
	             st->st_mode) < 0)
		abort();
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines cb adds for each entry under root, sorted, one string. */
static char *snapshot(const char *root,
                      int (*cb)(const char *, const struct stat *, int, struct FTW *))
{
	size_t total = 1, off = 0;
	char *out;

	snap.n = 0;
	snap.root_len = strlen(root);
	nftw(root, cb, 64, FTW_PHYS);
	if (snap.n) /* qsort wants a pointer even for nothing */
		qsort(snap.lines, snap.n, sizeof(char *), cmp);
	for (size_t i = 0; i < snap.n; i++)
		total += strlen(snap.lines[i]) + 1;
	out = malloc(total);
	for (size_t i = 0; i < snap.n; i++) {
		size_t l = strlen(snap.lines[i]);

		memcpy(out + off, snap.lines[i], l);
		out[off + l] = '\n';
		off += l + 1;
		free(snap.lines[i]);
	}
	out[off] = '\0';
	free(snap.lines);
	snap.lines = NULL;
	snap.cap = snap.n = 0;
	return out;
}

char *tree_snapshot(const char *root)
{
	return snapshot(root, snap_one);
}

/* One line per attribute of path into snap.lines. */
static int xsnap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + snap.root_len;
	char names[65536];
	ssize_t len = llistxattr(path, names, sizeof(names));

	(void)st;
	(void)flag;
	(void)ftw;
	for (char *n = names; len > 0 && n < names + len; n += strlen(n) + 1) {
		unsigned char val[65536];
		ssize_t vl = lgetxattr(path, n, val, sizeof(val));
		char *line, *o;

		if (vl < 0)
			vl = 0;
		line = malloc(strlen(rel) + strlen(n) + 2 * (size_t)vl + 8);
		o = line + sprintf(line, "%s %s=", *rel ? rel : "/", n);
		for (ssize_t i = 0; i < vl; i++)
			o += sprintf(o, "%02x", val[i]);
		if (snap.n == snap.cap) {
			snap.cap = snap.cap ? snap.cap * 2 : 1024;
			snap.lines = realloc(snap.lines, snap.cap * sizeof(char *));
		}
		snap.lines[snap.n++] = line;
	}
	return 0;
}

char *tree_xattr_snapshot(const char *root)
{
	return snapshot(root, xsnap_one);
}

size_t tree_diff(const char *a, const char *b)
{
	size_t diffs = 0;

	while (*a || *b) {
		const char *ea = strchrnul(a, '\n'), *eb = strchrnul(b, '\n');

		if (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a))) {
			if (diffs++ < 5)
				fprintf(stderr, "  - %.*s\n  + %.*s\n", (int)(ea - a), a,
				        (int)(eb - b), b);
		}
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
	}
	return diffs;
}

void tree_make_mixed(const char *root, const char *outside_file, const char *outside_dir)
{
	char name255[256];
	const char *p;

	tu_mkdir(tu_path(root, "dir"), 0, 0, 0755);
	tu_mkdir(tu_path(root, "dir/sub"), 1000, 1000, 0700);
	tu_mkdir(tu_path(root, "sticky"), 0, 0, 01777);
	tu_mkfile(tu_path(root, "file"), 0, 0, 0644);
	tu_mkfile(tu_path(root, "dir/private"), 1000, 1001, 0600);
	tu_mkfile(tu_path(root, "dir/sub/deep"), 1001, 1000, 0400);
	tu_mkfile(tu_path(root, "suid"), 0, 0, 04755);
	tu_mkfile(tu_path(root, "sgid"), 1000, 1000, 02755);
	tu_mkfile(tu_path(root, "outsider"), 70000, 70000, 0644);
	tu_mkfile(tu_path(root, "halfmapped"), 1000, 70000, 0640);
	tu_mkfile(tu_path(root, "new\nline"), 1000, 1000, 0644);
	memset(name255, 'n', 255);
	name255[255] = '\0';
	tu_mkfile(tu_path(root, name255), 1000, 1000, 0644);
	tu_mkfile(tu_path(root, "linked"), 1000, 1000, 04750);
	if (link(tu_path(root, "linked"), tu_path(root, "dir/hardlink")) < 0 ||
	    link(tu_path(root, "linked"), tu_path(root, "dir/sub/hardlink2")) < 0)
		abort();
	if (mkfifo(tu_path(root, "fifo"), 0620) < 0 ||
	    lchown(tu_path(root, "fifo"), 1000, 1000) < 0 || chmod(tu_path(root, "fifo"), 0620) < 0)
		abort();
	p = tu_path(root, "to_outside_file");
	if (symlink(outside_file, p) < 0 || lchown(p, 1000, 1000) < 0)
		abort();
	p = tu_path(root, "dir/to_outside_dir");
	if (symlink(outside_dir, p) < 0)
		abort();
	p = tu_path(root, "dangling");
	if (symlink("no/such/thing", p) < 0)
		abort();
	if (chown(root, 0, 0) < 0 || chmod(root, 0755) < 0)
		abort();
}

void tree_make_wide(const char *root, unsigned n_dirs, unsigned n_files)
{
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (rfd < 0)
		abort();
	for (unsigned d = 0; d < n_dirs; d++) {
		char dn[32];
		int dfd;

		snprintf(dn, sizeof(dn), "d%04u", d);
		if (mkdirat(rfd, dn, 0755) < 0)
			abort();
		dfd = openat(rfd, dn, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			abort();
		for (unsigned f = 0; f < n_files; f++) {
			char fn[32];
			int fd;
			unsigned owner = (f % 3) * 1000; /* 0, 1000, 2000 */
			mode_t mode = f % 97 == 0 ? 04755 : f % 89 == 0 ? 02750 : 0644;

			snprintf(fn, sizeof(fn), "f%05u", f);
			fd = openat(dfd, fn, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0 || fchown(fd, owner, owner) < 0 || fchmod(fd, mode) < 0)
				abort();
			close(fd);
		}
		close(dfd);
	}
	close(rfd);
}
