/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The path of a failed entry, for the report, also where the kernel will not
 * name it: /proc/self/fd/N gives ENAMETOOLONG once a directory's path is
 * longer than a page (PATH_MAX), which a tree may well be (40 levels of
 * 255-byte names), and there is no /proc in some containers. Then the path
 * is rebuilt by climbing "..", from the entry's directory up to the walk's
 * root, finding each directory's name in its parent by inode, as getcwd(3)
 * once did, and put after the root's own path. Only the sampled errors (a
 * handful per run) ever pay for it.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macros.h"

/* Far deeper than any tree a path can name; a bound on the climb. */
#define CLIMB_MAX 100000

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The name of the directory `child` in the directory `parentfd`, malloc'ed,
 * or NULL. d_ino finds it; a mount point (whose d_ino is the covered
 * directory's) is found by stat'ing the subdirectories on a second pass. */
static char *name_in(int parentfd, const struct stat *child)
{
	for (int pass = 0; pass < 2; pass++) {
		int fd = openat(parentfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		char *ret = NULL;

		if (!d) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		while (!ret && (de = readdir(d))) {
			struct stat st;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (pass == 0 ? de->d_ino != child->st_ino
			              : de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			if (fstatat(parentfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    same_inode(&st, child))
				ret = strdup(de->d_name);
		}
		closedir(d);
		if (ret)
			return ret;
	}
	return NULL;
}

/* dirfd's path below the directory root_fd ("" for root_fd itself),
 * malloc'ed; NULL when dirfd is not below it (moved out mid-walk). */
static char *climb(int root_fd, int dirfd)
{
	_cleanup_close_ int fd = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat root, cur;
	char **names = NULL, *ret = NULL;
	size_t n = 0, len = 1;

	if (fd < 0 || fstat(root_fd, &root) < 0 || fstat(fd, &cur) < 0)
		return NULL;
	while (!same_inode(&cur, &root)) {
		int parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat pst;
		char **grown, *nm;

		if (parent < 0)
			goto out;
		close(fd);
		fd = parent;
		/* the filesystem's top, and still no root: not below it */
		if (n == CLIMB_MAX || fstat(fd, &pst) < 0 || same_inode(&pst, &cur))
			goto out;
		nm = name_in(fd, &cur);
		grown = nm ? realloc(names, (n + 1) * sizeof(*names)) : NULL;
		if (!grown) {
			free(nm);
			goto out;
		}
		names = grown;
		names[n++] = nm;
		len += strlen(nm) + 1;
		cur = pst;
	}
	ret = malloc(len);
	if (ret) {
		char *p = ret;

		*p = '\0';
		for (size_t i = n; i-- > 0;)
			p += sprintf(p, "%s%s", p == ret ? "" : "/", names[i]);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

char *vs_error_path(const struct vs_ctx *ctx, int dirfd, const char *name)
{
	char proc[64], top[PATH_MAX];
	_cleanup_free_ char *rel = NULL;
	const char *base;
	ssize_t n;
	char *ret;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	n = readlink(proc, top, sizeof(top) - 1);
	if (n >= 0 || ctx->root_fd < 0 || !(rel = climb(ctx->root_fd, dirfd)))
		return vs_fd_path(dirfd, name);

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ctx->root_fd);
	n = readlink(proc, top, sizeof(top) - 1);
	if (n >= 0)
		top[n] = '\0';
	base = n >= 0 ? top : ctx->job->path;
	if (asprintf(&ret, "%s%s%s%s%s", base, *rel && strcmp(base, "/") ? "/" : "", rel,
	             name && *name && (*rel || strcmp(base, "/")) ? "/" : "", name ? name : "") < 0)
		return NULL;
	return ret;
}
