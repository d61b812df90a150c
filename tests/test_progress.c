/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: progress with a percentage. The library's estimate of how
 * many entries a walk meets (vs_walk_estimate; progress callbacks get it as
 * total_estimate) is the used inode count of a filesystem whose root the
 * walk starts at, and 0 (unknown) on a subdirectory, a bind mount of one,
 * or a filesystem that counts no inodes. Each test runs in its own private
 * mount namespace, on a tmpfs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define N_FILES 200

static char *dir;
static char fs[4096];

/* dir/fs: a fresh tmpfs holding N_FILES files, a directory "sub" with one
 * more, and a directory "gate" with N_FILES more. */
static void setup_tmpfs(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root to mount");
	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	dir = tu_mkdtemp("progress");
	snprintf(fs, sizeof(fs), "%s/fs", dir);
	cr_assert_eq(mkdir(fs, 0755), 0);
	if (mount("tmpfs", fs, "tmpfs", 0, "mode=0755") < 0)
		cr_skip_test("cannot mount tmpfs: %s", strerror(errno));
	for (int i = 0; i < N_FILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03d", i);
		tu_mkfile(tu_path(fs, name), 0, 0, 0644);
	}
	tu_mkdir(tu_path(fs, "sub"), 0, 0, 0755);
	tu_mkfile(tu_path(fs, "sub/file"), 0, 0, 0644);
	tu_mkdir(tu_path(fs, "gate"), 0, 0, 0755);
	for (int i = 0; i < N_FILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "gate/f%03d", i);
		tu_mkfile(tu_path(fs, name), 0, 0, 0644);
	}
}

static void teardown(void)
{
	if (!dir)
		return;
	umount2(tu_path(dir, "bind"), MNT_DETACH);
	umount2(fs, MNT_DETACH);
	tu_rm_rf(dir);
	free(dir);
	dir = NULL;
}

TestSuite(progress, .fini = teardown);

static uint64_t estimate(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t e;

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	e = vs_walk_estimate(fd);
	close(fd);
	return e;
}

Test(progress, estimate_on_a_filesystem_root)
{
	uint64_t e;

	setup_tmpfs();
	e = estimate(fs);
	/* the root, the files, sub with one, gate with N_FILES */
	cr_assert_geq(e, 2 * N_FILES + 4, "a tmpfs root with %d entries: estimate %llu",
	              2 * N_FILES + 4, (unsigned long long)e);
	cr_assert_leq(e, 4 * N_FILES, "estimate %llu", (unsigned long long)e);
}

Test(progress, no_estimate_below_the_root)
{
	char bind[4200];

	setup_tmpfs();
	cr_assert_eq(estimate(tu_path(fs, "sub")), 0, "a subdirectory: unknown");

	/* the root of a mount, but of a bind mount of a subdirectory */
	snprintf(bind, sizeof(bind), "%s/bind", dir);
	cr_assert_eq(mkdir(bind, 0755), 0);
	cr_assert_eq(mount(tu_path(fs, "sub"), bind, NULL, MS_BIND, NULL), 0, "%s",
	             strerror(errno));
	cr_assert_eq(estimate(bind), 0, "a bind mount of a subdirectory: unknown");
}

Test(progress, no_estimate_without_an_inode_count)
{
	char ram[4200];

	setup_tmpfs();
	snprintf(ram, sizeof(ram), "%s/bind", dir); /* teardown unmounts it */
	cr_assert_eq(mkdir(ram, 0755), 0);
	if (mount("ramfs", ram, "ramfs", 0, NULL) < 0)
		cr_skip_test("cannot mount ramfs: %s", strerror(errno));
	tu_mkfile(tu_path(ram, "a"), 0, 0, 0644);
	cr_assert_eq(estimate(ram), 0, "ramfs counts no inodes");
}
