/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: volshift fsgroup and shift end to end, as root, on real trees
 * in fresh temp dirs (ext4 under /tmp here; tmpfs mounted inside a private
 * mount namespace): every kind of entry, hard links, symlinks leading outside,
 * idempotence, --reverse, mounts, on-root-mismatch, dry runs, failed entries
 * and bad input. Assertions read lstat, never our own log lines.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tree.h"

static char *top, *root, *outside;

static void setup(void)
{
	if (!tu_is_root())
		return;
	top = tu_mkdtemp("walk");
	root = strdup(tu_path(top, "vol"));
	outside = strdup(tu_path(top, "outside"));
	tu_mkdir(root, 0, 0, 0755);
	tu_mkdir(outside, 0, 0, 0755);
	tu_mkfile(tu_path(outside, "secret"), 0, 0, 0600);
}

static void teardown(void)
{
	if (top) {
		tu_sh("chattr -R -i '%s' 2>/dev/null; true", top);
		tu_rm_rf(top);
	}
}

TestSuite(walk, .init = setup, .fini = teardown);

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (!tu_is_root())                                                                 \
			cr_skip_test("needs root to chown files");                                 \
	} while (0)

static struct stat lst(const char *rel)
{
	struct stat st;

	cr_assert_eq(lstat(tu_path(root, rel), &st), 0, "lstat %s: %s", rel, strerror(errno));
	return st;
}

static void assert_owner(const char *rel, uid_t u, gid_t g, mode_t perm)
{
	struct stat st = lst(rel);

	cr_expect_eq(st.st_uid, u, "%s: uid %u, want %u", rel, st.st_uid, u);
	cr_expect_eq(st.st_gid, g, "%s: gid %u, want %u", rel, st.st_gid, g);
	if (perm != (mode_t)-1)
		cr_expect_eq(st.st_mode & 07777, perm, "%s: mode %o, want %o", rel,
		             st.st_mode & 07777, perm);
}

static void assert_outside_untouched(void)
{
	struct stat st;

	cr_assert_eq(stat(tu_path(outside, "secret"), &st), 0);
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_gid, 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(stat(outside, &st), 0);
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
}

static char name255[256];

static const char *n255(void)
{
	memset(name255, 'n', 255);
	name255[255] = '\0';
	return name255;
}

Test(walk, shift_every_kind_of_entry)
{
	char *out = NULL;

	NEED_ROOT();
	tree_make_mixed(root, tu_path(outside, "secret"), outside);
	cr_assert_eq(
	    tu_volshift(&out, NULL, "shift", "--map", "0:524288:65536", "--json", root, NULL), 0);
	assert_owner(".", 524288, 524288, 0755);
	assert_owner("dir", 524288, 524288, 0755);
	assert_owner("dir/sub", 525288, 525288, 0700);
	assert_owner("file", 524288, 524288, 0644);
	assert_owner("dir/private", 525288, 525289, 0600);
	assert_owner("dir/sub/deep", 525289, 525288, 0400);
	assert_owner("suid", 524288, 524288, 04755);
	assert_owner("sgid", 525288, 525288, 02755);
	assert_owner("sticky", 524288, 524288, 01777);
	assert_owner("outsider", 70000, 70000, 0644);
	assert_owner("halfmapped", 525288, 70000, 0640);
	assert_owner("new\nline", 525288, 525288, 0644);
	assert_owner(n255(), 525288, 525288, 0644);
	assert_owner("fifo", 525288, 525288, 0620);
	assert_owner("to_outside_file", 525288, 525288, (mode_t)-1);
	assert_owner("dir/to_outside_dir", 524288, 524288, (mode_t)-1);
	assert_owner("dangling", 524288, 524288, (mode_t)-1);
	/* three names, one inode: shifted once, setuid kept */
	assert_owner("linked", 525288, 525288, 04750);
	assert_owner("dir/hardlink", 525288, 525288, 04750);
	assert_owner("dir/sub/hardlink2", 525288, 525288, 04750);
	assert_outside_untouched();
	cr_assert_eq(tu_json_num(out, "failed"), 0);
	cr_assert_eq(tu_json_num(out, "unmapped"), 2, "%s", out);
	cr_assert_eq(tu_json_num(out, "entries"), 20, "%s", out);
	cr_assert(tu_contains(out, "\"method\":\"walk\""));
	/* what the walk did: 4 directories read; a statx for each of the 19
	 * entries below the root, and one more, plain, for each name of the
	 * hard-linked inode (3), looked at again under its lock. auto takes
	 * plain syscalls on a local filesystem (none through io_uring); on a
	 * network one, io_uring for all 19 (13, 4 and 2 to a directory) */
	cr_assert_eq(tu_json_num(out, "dirs_read"), 4, "%s", out);
	cr_assert_eq(tu_json_num(out, "statx"), 19 + 3, "%s", out);
	cr_assert_eq(tu_json_num(out, "statx_ring"),
	             tu_contains(out, "\"engine\":\"uring\"") ? 19 : 0, "%s", out);
	free(out);
}

Test(walk, shift_twice_changes_nothing_and_reverse_restores)
{
	char *before, *after, *out = NULL;

	NEED_ROOT();
	tree_make_mixed(root, tu_path(outside, "secret"), outside);
	before = tree_snapshot(root);
	cr_assert_eq(tu_volshift(NULL, NULL, "shift", "--map", "0:524288:65536", root, NULL), 0);
	cr_assert_eq(
	    tu_volshift(&out, NULL, "shift", "--map", "0:524288:65536", "--json", root, NULL), 0);
	cr_assert_eq(tu_json_num(out, "changed"), 0, "second run: %s", out);
	free(out);
	cr_assert_eq(
	    tu_volshift(NULL, NULL, "shift", "--map", "0:524288:65536", "--reverse", root, NULL),
	    0);
	after = tree_snapshot(root);
	cr_assert_eq(tree_diff(before, after), 0, "--reverse must give the original tree back");
	assert_outside_untouched();
	free(before);
	free(after);
}

Test(walk, shift_separate_uid_and_gid_maps)
{
	NEED_ROOT();
	tu_mkfile(tu_path(root, "f"), 1000, 2000, 0644);
	cr_assert_eq(tu_volshift(NULL, NULL, "shift", "--uid-map", "0:100000:65536", "--gid-map",
	                         "0:200000:65536", root, NULL),
	             0);
	assert_owner("f", 101000, 202000, 0644);
	assert_owner(".", 100000, 200000, 0755);
}

Test(walk, fsgroup_every_kind_of_entry)
{
	char *out = NULL;

	NEED_ROOT();
	tree_make_mixed(root, tu_path(outside, "secret"), outside);
	cr_assert_eq(tu_volshift(&out, NULL, "fsgroup", "--gid", "2000", "--json", root, NULL), 0);
	assert_owner(".", 0, 2000, 02775);
	assert_owner("dir", 0, 2000, 02775);
	assert_owner("dir/sub", 1000, 2000, 02770);
	assert_owner("file", 0, 2000, 0664);
	assert_owner("dir/private", 1000, 2000, 0660);
	assert_owner("dir/sub/deep", 1001, 2000, 0660);
	assert_owner("suid", 0, 2000, 04775);
	assert_owner("sgid", 1000, 2000, 02775);
	assert_owner("sticky", 0, 2000, 03777);
	assert_owner("outsider", 70000, 2000, 0664);
	assert_owner("fifo", 1000, 2000, 0660);
	assert_owner("new\nline", 1000, 2000, 0664);
	assert_owner(n255(), 1000, 2000, 0664);
	assert_owner("linked", 1000, 2000, 04770);
	assert_owner("dir/hardlink", 1000, 2000, 04770);
	cr_assert_eq(lst("to_outside_file").st_gid, 2000);
	cr_assert_eq(lst("to_outside_file").st_mode & 07777, 0777, "symlink modes never change");
	assert_outside_untouched();
	cr_assert_eq(tu_json_num(out, "failed"), 0);
	free(out);
	cr_assert_eq(tu_volshift(&out, NULL, "fsgroup", "--gid", "2000", "--json", root, NULL), 0);
	cr_assert_eq(tu_json_num(out, "changed"), 0, "second run: %s", out);
	free(out);
}

Test(walk, fsgroup_read_only_masks)
{
	NEED_ROOT();
	tu_mkfile(tu_path(root, "a"), 0, 0, 0600);
	tu_mkfile(tu_path(root, "b"), 0, 0, 0400);
	tu_mkdir(tu_path(root, "d"), 0, 0, 0700);
	cr_assert_eq(tu_volshift(NULL, NULL, "fsgroup", "--gid", "77", "--read-only", root, NULL),
	             0);
	assert_owner("a", 0, 77, 0640);
	assert_owner("b", 0, 77, 0440);
	assert_owner("d", 0, 77, 02750);
	assert_owner(".", 0, 77, 02755);
}

Test(walk, tmpfs_inside_is_not_entered_without_cross_mounts)
{
	char *out = NULL;

	NEED_ROOT();
	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	tu_mkdir(tu_path(root, "mnt"), 0, 0, 0755);
	cr_assert_eq(mount("tmpfs", tu_path(root, "mnt"), "tmpfs", 0, "mode=0755"), 0);
	tu_mkfile(tu_path(root, "mnt/inside"), 0, 0, 0644);
	tu_mkfile(tu_path(root, "plain"), 0, 0, 0644);
	cr_assert_eq(
	    tu_volshift(&out, NULL, "shift", "--map", "0:524288:65536", "--json", root, NULL), 0);
	assert_owner("plain", 524288, 524288, 0644);
	assert_owner("mnt", 0, 0, 0755);
	assert_owner("mnt/inside", 0, 0, 0644);
	cr_assert_eq(tu_json_num(out, "skipped_mounts"), 1, "%s", out);
	free(out);
	cr_assert_eq(tu_volshift(NULL, NULL, "shift", "--map", "0:524288:65536", "--cross-mounts",
	                         root, NULL),
	             0);
	assert_owner("mnt", 524288, 524288, 0755);
	assert_owner("mnt/inside", 524288, 524288, 0644);
	umount2(tu_path(root, "mnt"), MNT_DETACH);
}

Test(walk, cross_mounts_never_enters_proc)
{
	char *out = NULL;

	NEED_ROOT();
	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	tu_mkdir(tu_path(root, "proc"), 0, 0, 0555);
	cr_assert_eq(mount("proc", tu_path(root, "proc"), "proc", 0, NULL), 0);
	cr_assert_eq(tu_volshift(&out, NULL, "fsgroup", "--gid", "5", "--cross-mounts", "--json",
	                         root, NULL),
	             0);
	cr_assert_eq(tu_json_num(out, "skipped_mounts"), 1, "%s", out);
	cr_assert_eq(tu_json_num(out, "entries"), 1, "%s", out);
	umount2(tu_path(root, "proc"), MNT_DETACH);
	free(out);
}

Test(walk, on_root_mismatch_kubelet_cases)
{
	char *out = NULL;

	NEED_ROOT();
	/* a root with 02770 and gid G is taken as done: the walk is skipped */
	tu_mkfile(tu_path(root, "stale"), 0, 0, 0600);
	cr_assert_eq(chown(root, 0, 2000), 0);
	cr_assert_eq(chmod(root, 02770), 0);
	cr_assert_eq(tu_volshift(&out, NULL, "fsgroup", "--gid", "2000",
	                         "--policy=on-root-mismatch", "--json", root, NULL),
	             0);
	cr_assert_eq(tu_json_num(out, "skipped"), 1, "%s", out);
	assert_owner("stale", 0, 0, 0600);
	free(out);
	/* 0770 without setgid is not: the walk runs */
	cr_assert_eq(chmod(root, 0770), 0);
	cr_assert_eq(tu_volshift(&out, NULL, "fsgroup", "--gid", "2000",
	                         "--policy=on-root-mismatch", "--json", root, NULL),
	             0);
	cr_assert_eq(tu_json_num(out, "skipped"), 0, "%s", out);
	assert_owner("stale", 0, 2000, 0660);
	assert_owner(".", 0, 2000, 02770);
	free(out);
}

Test(walk, on_root_mismatch_shift)
{
	char *out = NULL;

	NEED_ROOT();
	tu_mkfile(tu_path(root, "f"), 0, 0, 0644);
	cr_assert_eq(tu_volshift(NULL, NULL, "shift", "--map", "0:524288:65536",
	                         "--policy=on-root-mismatch", root, NULL),
	             0);
	assert_owner("f", 524288, 524288, 0644);
	tu_mkfile(tu_path(root, "later"), 0, 0, 0644);
	cr_assert_eq(tu_volshift(&out, NULL, "shift", "--map", "0:524288:65536",
	                         "--policy=on-root-mismatch", "--json", root, NULL),
	             0);
	cr_assert_eq(tu_json_num(out, "skipped"), 1);
	assert_owner("later", 0, 0, 0644);
	free(out);
}

Test(walk, dry_run_changes_nothing)
{
	char *before, *after, *out = NULL;

	NEED_ROOT();
	tree_make_mixed(root, tu_path(outside, "secret"), outside);
	before = tree_snapshot(root);
	cr_assert_eq(tu_volshift(&out, NULL, "shift", "--map", "0:524288:65536", "--dry-run",
	                         "--json", root, NULL),
	             0);
	after = tree_snapshot(root);
	cr_assert_eq(tree_diff(before, after), 0);
	cr_assert_geq(tu_json_num(out, "changed"), 18, "%s", out);
	free(out);
	cr_assert_eq(
	    tu_volshift(&out, NULL, "fsgroup", "--gid", "9", "--dry-run", "--json", root, NULL), 0);
	free(after);
	after = tree_snapshot(root);
	cr_assert_eq(tree_diff(before, after), 0);
	free(out);
	free(before);
	free(after);
}

Test(walk, failed_entry_exits_1_and_leaves_root_unmatched)
{
	char *out = NULL;

	NEED_ROOT();
	tu_mkfile(tu_path(root, "ok"), 0, 0, 0644);
	tu_mkfile(tu_path(root, "stuck"), 0, 0, 0644);
	if (tu_sh("chattr +i '%s' 2>/dev/null", tu_path(root, "stuck")) != 0)
		cr_skip_test("chattr +i is not supported on %s", root);
	cr_assert_eq(tu_volshift(&out, NULL, "fsgroup", "--gid", "2000", "--json", root, NULL), 1);
	cr_assert_eq(tu_json_num(out, "failed"), 1, "%s", out);
	cr_assert(tu_contains(out, "/stuck\",\"errno\":1"), "%s", out);
	cr_assert(tu_contains(out, "\"root_left_unmatched\":true"), "%s", out);
	assert_owner("ok", 0, 2000, 0664);
	cr_assert_eq(lst(".").st_mode & S_ISGID, 0, "the root must not look done");
	free(out);
	/* so the next on-root-mismatch run walks again, and finishes the job */
	tu_sh("chattr -i '%s'", tu_path(root, "stuck"));
	cr_assert_eq(tu_volshift(&out, NULL, "fsgroup", "--gid", "2000",
	                         "--policy=on-root-mismatch", "--json", root, NULL),
	             0);
	cr_assert_eq(tu_json_num(out, "skipped"), 0);
	assert_owner("stuck", 0, 2000, 0664);
	assert_owner(".", 0, 2000, 02775);
	free(out);
}

struct bad {
	const char *why;
	const char *argv[10];
};

Test(walk, bad_input_exits_2_and_changes_nothing)
{
	char *before, *after;
	char file[4096], link[4096];

	NEED_ROOT();
	tree_make_mixed(root, tu_path(outside, "secret"), outside);
	snprintf(file, sizeof(file), "%s/file", root);
	snprintf(link, sizeof(link), "%s/link-to-vol", top);
	cr_assert_eq(symlink(root, link), 0);
	const struct bad cases[] = {
	    {"no subcommand args", {"fsgroup", NULL}},
	    {"no gid", {"fsgroup", root, NULL}},
	    {"gid not a number", {"fsgroup", "--gid", "abc", root, NULL}},
	    {"gid past 2^32-2", {"fsgroup", "--gid", "4294967295", root, NULL}},
	    {"gid negative", {"fsgroup", "--gid", "-1", root, NULL}},
	    {"path missing", {"fsgroup", "--gid", "1", "/nonexistent/volshift", NULL}},
	    {"path a file", {"fsgroup", "--gid", "1", file, NULL}},
	    {"path a symlink", {"fsgroup", "--gid", "1", link, NULL}},
	    {"two paths", {"fsgroup", "--gid", "1", root, root, NULL}},
	    {"unknown option", {"fsgroup", "--gid", "1", "--frobnicate", root, NULL}},
	    {"bad policy", {"fsgroup", "--gid", "1", "--policy=sometimes", root, NULL}},
	    {"bad jobs", {"fsgroup", "--gid", "1", "--jobs=0", root, NULL}},
	    {"bad engine", {"fsgroup", "--gid", "1", "--engine=fast", root, NULL}},
	    {"no map", {"shift", root, NULL}},
	    {"malformed map", {"shift", "--map", "0:524288", root, NULL}},
	    {"zero length", {"shift", "--map", "0:524288:0", root, NULL}},
	    {"id past 2^32-1", {"shift", "--map", "0:4294967295:2", root, NULL}},
	    {"FROM overlaps TO", {"shift", "--map", "0:1000:65536", root, NULL}},
	    {"FROM ranges overlap",
	     {"shift", "--map", "0:524288:10", "--map", "5:600000:10", root, NULL}},
	    {"TO ranges overlap",
	     {"shift", "--map", "0:524288:10", "--map", "100:524290:10", root, NULL}},
	    {"uid map alone", {"shift", "--uid-map", "0:524288:65536", root, NULL}},
	    {"two map sources", {"shift", "--map", "0:524288:1", "--from-pid", "1", root, NULL}},
	    {"pid missing", {"shift", "--from-pid", "2147483000", root, NULL}},
	    {"pid not in a userns", {"shift", "--from-pid", "1", root, NULL}},
	    {"unknown subcommand", {"chown", root, NULL}},
	    {"mount: unknown option",
	     {"mount", "--bogus", "--map", "0:524288:65536", root, root, NULL}},
	    {"mount: option without value", {"mount", root, root, "--map", NULL}},
	    {"oci-hook: unknown option", {"oci-hook", "--bogus", NULL}},
	};

	before = tree_snapshot(root);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[12] = {(char *)VS_BIN};
		char *err = NULL;
		int n = 1, st;

		for (const char *const *a = cases[i].argv; *a; a++)
			argv[n++] = (char *)*a;
		argv[n] = NULL;
		st = tu_run(argv, NULL, &err);
		cr_expect_eq(st, 2, "%s: exit %d, want 2 (%s)", cases[i].why, st, err);
		cr_expect(strncmp(err, "volshift: ", 10) == 0, "%s: stderr '%s'", cases[i].why,
		          err);
		cr_expect(strchr(err, '\n') == err + strlen(err) - 1, "%s: one line, got '%s'",
		          cases[i].why, err);
		free(err);
	}
	after = tree_snapshot(root);
	cr_assert_eq(tree_diff(before, after), 0, "bad input must change nothing");
	free(before);
	free(after);
}

Test(walk, deep_chain_under_ulimit_64)
{
	char *out = NULL;
	char path[8192];
	int fd, depth = 3000;

	NEED_ROOT();
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < depth; i++) {
		int nfd;

		cr_assert_eq(mkdirat(fd, "d", 0755), 0);
		nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cr_assert_geq(nfd, 0);
		close(fd);
		fd = nfd;
	}
	close(fd);
	snprintf(path, sizeof(path),
	         "ulimit -n 64 && '%s' shift --map 0:524288:65536 --json '%s' > '%s/out.json'",
	         VS_BIN, root, top);
	cr_assert_eq(tu_sh("%s", path), 0);
	cr_assert_eq(tu_sh("grep -q '\"entries\":%d,' '%s/out.json'", depth + 1, top), 0);
	cr_assert_eq(tu_sh("grep -q '\"failed\":0,' '%s/out.json'", top), 0);
	free(out);
}

static atomic_bool stop_swapping;

/* Swaps vol/swap between a real directory and a symlink to the outside
 * directory, as fast as it can, while volshift walks. */
static void *swapper(void *arg)
{
	const char *dir = arg;
	char real[4096], moved[4096], lnk[4096];

	snprintf(real, sizeof(real), "%s/swap", dir);
	snprintf(moved, sizeof(moved), "%s/swap.real", dir);
	snprintf(lnk, sizeof(lnk), "%s/swap.link", dir);
	while (!atomic_load(&stop_swapping)) {
		rename(real, moved);
		rename(lnk, real);
		rename(real, lnk);
		rename(moved, real);
	}
	return NULL;
}

Test(walk, directory_swapped_for_symlink_mid_walk_stays_inside)
{
	pthread_t t;

	NEED_ROOT();
	tu_mkdir(tu_path(root, "swap"), 0, 0, 0755);
	for (int i = 0; i < 200; i++) {
		char n[32];

		snprintf(n, sizeof(n), "swap/f%d", i);
		tu_mkfile(tu_path(root, n), 0, 0, 0644);
	}
	cr_assert_eq(symlink(outside, tu_path(root, "swap.link")), 0);
	atomic_store(&stop_swapping, false);
	pthread_create(&t, NULL, swapper, root);
	for (int i = 0; i < 40; i++) {
		tu_volshift(NULL, NULL, "fsgroup", "--gid", i % 2 ? "3000" : "3001", "--quiet",
		            root, NULL);
		tu_volshift(NULL, NULL, "shift", "--map",
		            i % 2 ? "0:524288:65536" : "524288:0:65536", "--quiet", root, NULL);
	}
	atomic_store(&stop_swapping, true);
	pthread_join(t, NULL);
	assert_outside_untouched();
}
