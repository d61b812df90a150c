/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: what a run keeps on the volume (src/lib/state.c) and what
 * on-root-mismatch concludes from it (src/lib/root.c), on a filesystem with
 * xattrs (the temp dir's) and on ramfs, which takes none (a private mount
 * namespace). A root chowned into the TO range by someone else (as podman
 * does to a named volume before hooks run) is not a finished shift; a
 * finished shift is, with the same maps only; on ramfs the mark lives in a
 * root-owned .volshift directory that the walk leaves alone, and a
 * .volshift that is not volshift's is never trusted nor followed. Crash
 * notes where there are no xattrs, and a full filesystem where a note cannot
 * be written: no set-id bit or capability is ever lost. One run per tree at
 * a time, and a run that waited for another finds the tree as that one left
 * it. Needs root.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"
#include "tree.h"

#define MAP  "0:524288:65536"
#define BASE 524288U

static char *top;

static void setup(void)
{
	if (!tu_is_root())
		return;
	top = tu_mkdtemp("state");
}

static void teardown(void)
{
	if (top) {
		tu_sh("umount -l '%s/mnt' 2>/dev/null; true", top);
		tu_rm_rf(top);
		free(top);
		top = NULL;
	}
}

TestSuite(state, .init = setup, .fini = teardown, .timeout = 120);

static void need_root(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root (chown, trusted.* xattrs, mounts)");
}

/* A small volume: container root's files, a user's, a setuid binary. */
static void make_volume(const char *vol, uid_t base)
{
	tu_mkdir(vol, base, base, 0755);
	tu_mkfile(tu_path(vol, "a"), base, base, 0644);
	tu_mkdir(tu_path(vol, "d"), base + 1000, base + 1000, 0755);
	tu_mkfile(tu_path(vol, "d/b"), base + 1000, base + 1000, 0600);
	tu_mkfile(tu_path(vol, "d/suid"), base, base, 04755);
}

static struct stat st_of(const char *vol, const char *rel)
{
	struct stat st;

	cr_assert_eq(lstat(rel ? tu_path(vol, rel) : vol, &st), 0, "%s: %s", rel ? rel : vol,
	             strerror(errno));
	return st;
}

/* volshift with args, --json; returns the exit status and the report. */
static int vs(char **json, const char *a1, const char *a2, const char *a3, const char *a4,
              const char *a5)
{
	char *err = NULL;
	int r = tu_volshift(json, &err, a1, "--json", a2, a3, a4, a5, NULL);

	/* the trailing arguments end early with a NULL, and so may the outputs */
#define OR_EMPTY(s) ((s) ? (s) : "")
	cr_log_info("volshift %s %s %s %s %s: %d\n%s%s", OR_EMPTY(a1), OR_EMPTY(a2), OR_EMPTY(a3),
	            OR_EMPTY(a4), OR_EMPTY(a5), r, OR_EMPTY(*json), OR_EMPTY(err));
#undef OR_EMPTY
	free(err);
	return r;
}

static void assert_shifted(const char *vol)
{
	struct stat st = st_of(vol, "d/b");

	cr_assert_eq(st.st_uid, BASE + 1000, "d/b: uid %u", st.st_uid);
	st = st_of(vol, "d/suid");
	cr_assert_eq(st.st_uid, BASE);
	cr_assert_eq(st.st_mode & 07777, 04755, "setuid kept: %o", st.st_mode & 07777);
}

/* The podman case: the root already in TO, nothing below shifted. */
static void root_chowned_by_someone_else(const char *vol, bool xattrs)
{
	char *out;
	struct stat st;

	make_volume(vol, 0);
	cr_assert_eq(chown(vol, BASE, BASE), 0);
	cr_assert_eq(vs(&out, "shift", "--map", MAP, "--policy=on-root-mismatch", vol), 0);
	cr_assert(tu_contains(out, "\"skipped\":false"),
	          "a root chowned by another is no finished "
	          "shift: %s",
	          out);
	free(out);
	assert_shifted(vol);

	/* now it is done: the same map skips, another map does not */
	cr_assert_eq(vs(&out, "shift", "--map", MAP, "--policy=on-root-mismatch", vol), 0);
	cr_assert(tu_contains(out, "\"skipped\":true"), "%s", out);
	free(out);
	cr_assert_eq(vs(&out, "shift", "--map", "0:524288:70000", "--policy=on-root-mismatch", vol),
	             0);
	cr_assert(tu_contains(out, "\"skipped\":false"), "another map is another job: %s", out);
	free(out);

	/* where the mark is */
	if (xattrs) {
		char val[256];
		ssize_t n = getxattr(vol, "trusted.volshift.done", val, sizeof(val) - 1);

		cr_assert_gt(n, 0, "the mark is an xattr of the root");
		val[n] = '\0';
		cr_assert_str_eq(val, "shift uid 0:524288:70000 gid 0:524288:70000");
		cr_assert_eq(lstat(tu_path(vol, ".volshift"), &st), -1, "no directory");
	} else {
		st = st_of(vol, ".volshift");
		cr_assert(S_ISDIR(st.st_mode) && st.st_uid == 0 && st.st_gid == 0 &&
		              (st.st_mode & 07777) == 0700,
		          "a root-only directory");
		st = st_of(vol, ".volshift/done");
		cr_assert(S_ISREG(st.st_mode) && st.st_uid == 0 && (st.st_mode & 07777) == 0600);
	}
}

Test(state, root_in_to_range_is_not_a_finished_shift)
{
	need_root();
	root_chowned_by_someone_else(strdup(tu_path(top, "vol")), true);
}

/* ramfs (no xattrs) at top/mnt in this test's own mount namespace. */
static const char *ramfs(void)
{
	static char mnt[4096];

	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	snprintf(mnt, sizeof(mnt), "%s/mnt", top);
	tu_mkdir(mnt, 0, 0, 0755);
	if (mount("ramfs", mnt, "ramfs", 0, NULL) < 0)
		cr_skip_test("cannot mount ramfs: %s", strerror(errno));
	cr_assert_eq(setxattr(mnt, "trusted.volshift.probe", "x", 1, 0), -1, "ramfs takes xattrs?");
	return mnt;
}

Test(state, without_xattrs_the_mark_is_a_root_only_file)
{
	const char *mnt;

	need_root();
	mnt = ramfs();
	root_chowned_by_someone_else(strdup(tu_path(mnt, "vol")), false);
}

Test(state, policy_always_leaves_nothing_behind_without_xattrs)
{
	const char *vol;
	char *out;
	struct stat st;

	need_root();
	vol = strdup(tu_path(ramfs(), "vol"));
	make_volume(vol, 0);
	cr_assert_eq(vs(&out, "shift", "--map", MAP, vol, NULL), 0);
	free(out);
	assert_shifted(vol);
	cr_assert_eq(lstat(tu_path(vol, ".volshift"), &st), -1, "nothing left on the volume");
}

Test(state, the_walk_leaves_the_state_directory_alone)
{
	const char *vol;
	char *out;
	struct stat st;

	need_root();
	vol = strdup(tu_path(ramfs(), "vol"));
	make_volume(vol, 0);
	cr_assert_eq(vs(&out, "shift", "--map", MAP, "--policy=on-root-mismatch", vol), 0);
	free(out);
	/* fsgroup would give it group 2000 and g+rw, and a pod could write it */
	cr_assert_eq(vs(&out, "fsgroup", "--gid", "2000", "--dry-run", vol), 0);
	cr_assert_eq(tu_json_num(out, "entries"), 5, "the state is not an entry: %s", out);
	cr_assert_eq(tu_json_num(out, "changed"), 5, "%s", out);
	free(out);
	cr_assert_eq(vs(&out, "fsgroup", "--gid", "2000", vol, NULL), 0);
	cr_assert_eq(tu_json_num(out, "entries"), 5, "the state is not an entry: %s", out);
	free(out);
	st = st_of(vol, "d/b");
	cr_assert_eq(st.st_gid, 2000);
	/* fsgroup is not the shift the mark named: the mark went, and with it
	 * the directory, never walked */
	cr_assert_eq(lstat(tu_path(vol, ".volshift"), &st), -1);
}

Test(state, a_volshift_that_is_not_ours_is_data)
{
	const char *vol;
	char *out, outside[4200];
	struct stat st;

	need_root();
	vol = strdup(tu_path(ramfs(), "vol"));
	make_volume(vol, 0);
	/* a pod made it (its root is host 524288 once shifted; before: its own) */
	snprintf(outside, sizeof(outside), "%s/outside", top);
	tu_mkdir(outside, 0, 0, 0755);
	cr_assert_eq(symlink(outside, tu_path(vol, ".volshift")), 0);
	cr_assert_eq(vs(&out, "shift", "--map", MAP, vol, NULL), 1,
	             "the setuid file needs a note, and there is nowhere to keep it");
	cr_assert(tu_contains(out, "/d/suid\""), "the entry that failed is named: %s", out);
	cr_assert(tu_contains(out, "\"root_left_unmatched\":true"), "%s", out);
	free(out);
	st = st_of(vol, "d/suid");
	cr_assert_eq(st.st_uid, 0, "not chowned without its note");
	cr_assert_eq(st.st_mode & 07777, 04755);
	st = st_of(vol, "d/b");
	cr_assert_eq(st.st_uid, BASE + 1000, "the rest is done");
	st = st_of(outside, NULL);
	cr_assert(st.st_uid == 0 && (st.st_mode & 07777) == 0755, "the link was not followed");
	cr_assert_eq(lstat(tu_path(outside, "done"), &st), -1);
	cr_assert_eq(lstat(tu_path(vol, ".volshift"), &st), 0);
	cr_assert(S_ISLNK(st.st_mode));
	cr_assert_eq(st.st_uid, BASE, "a symlink of the volume is shifted like any entry");

	/* the pod's own directory of that name: walked as data, never used */
	cr_assert_eq(unlink(tu_path(vol, ".volshift")), 0);
	tu_mkdir(tu_path(vol, ".volshift"), 0, 0, 0755);
	cr_assert_eq(vs(&out, "shift", "--map", MAP, vol, NULL), 1);
	free(out);
	st = st_of(vol, ".volshift");
	cr_assert_eq(st.st_uid, BASE, "shifted as data");
	st = st_of(vol, "d/suid");
	cr_assert_eq(st.st_uid, 0);
}

/* A note as a run killed between a chown and its restore leaves it, on
 * ramfs: a file in .volshift. The next run restores from it and tidies up. */
Test(state, crash_note_without_xattrs)
{
	struct vs_ctx ctx = {0};
	struct vs_xattr_state xs = {0};
	struct statx stx;
	const char *vol;
	char *out;
	struct stat st;

	need_root();
	vol = strdup(tu_path(ramfs(), "vol"));
	make_volume(vol, 0);
	ctx.root_fd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(ctx.root_fd, 0);
	vs_state_init(&ctx.state);
	vs_state_attach(&ctx.state, ctx.root_fd, false);
	/* as vs_run sets it: notes name the root's filesystem, not its number */
	cr_assert_eq(statx(ctx.root_fd, "", AT_EMPTY_PATH, VS_STATX_MASK, &stx), 0);
	ctx.root_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	cr_assert_eq(
	    statx(AT_FDCWD, tu_path(vol, "d/suid"), AT_SYMLINK_NOFOLLOW, VS_STATX_MASK, &stx), 0);
	cr_assert_eq(vs_journal_add(&ctx, &stx, S_IFREG | 04755, &xs), 0);
	vs_state_fini(&ctx.state);
	close(ctx.root_fd);
	st = st_of(vol, ".volshift");
	cr_assert(S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & 07777) == 0700);
	/* what the killed run did next: the chown, which dropped setuid */
	cr_assert_eq(lchown(tu_path(vol, "d/suid"), BASE, BASE), 0);
	st = st_of(vol, "d/suid");
	cr_assert_eq(st.st_mode & 07777, 0755, "chown dropped the bit");

	cr_assert_eq(vs(&out, "shift", "--map", MAP, vol, NULL), 0);
	free(out);
	assert_shifted(vol);
	cr_assert_eq(lstat(tu_path(vol, ".volshift"), &st), -1, "the note and its directory went");
}

/* An ext4 image at top/mnt (private namespace), of size_kib. */
static const char *ext4(unsigned size_kib)
{
	static char mnt[4096];
	char img[4200];

	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	snprintf(mnt, sizeof(mnt), "%s/mnt", top);
	snprintf(img, sizeof(img), "%s/ext4.img", top);
	tu_mkdir(mnt, 0, 0, 0755);
	if (tu_sh("truncate -s %uK '%s' && mkfs.ext4 -q -F -b 1024 -N 256 -I 128 '%s' >/dev/null "
	          "2>&1",
	          size_kib, img, img) != 0)
		cr_skip_test("mkfs.ext4 is not available");
	if (tu_sh("mount -o loop '%s' '%s' 2>/dev/null", img, mnt) != 0)
		cr_skip_test("cannot mount a loop device here");
	return mnt;
}

/* Fills the filesystem at mnt to its last block. */
static void fill(const char *mnt)
{
	tu_sh("dd if=/dev/zero of='%s/fill' bs=1k 2>/dev/null; sync", mnt);
	tu_sh("for i in $(seq 1 64); do head -c 1 /dev/zero > '%s/fill.$i' 2>/dev/null || break; "
	      "done; sync",
	      mnt);
}

Test(state, full_filesystem_never_loses_a_bit)
{
	const char *mnt, *vol;
	char *out;
	struct stat st;
	ssize_t n;
	uint8_t cap[32];

	need_root();
	mnt = ext4(4096);
	vol = strdup(tu_path(mnt, "vol"));
	make_volume(vol, 0);
	cr_assert_eq(tu_sh("setcap cap_net_raw+ep '%s/d/b' 2>/dev/null", vol), 0,
	             "setcap (libcap2-bin)");
	/* 128-byte inodes keep no xattr inside: a note needs a block of its own */
	fill(mnt);

	cr_assert_eq(vs(&out, "shift", "--map", MAP, vol, NULL), 1);
	cr_assert(tu_contains(out, "\"errno\":28"), "ENOSPC is reported: %s", out);
	cr_assert(tu_contains(out, "/d/suid\""), "%s", out);
	cr_assert(tu_contains(out, "\"root_left_unmatched\":true"), "%s", out);
	free(out);
	/* nothing that needed a note was chowned without it */
	st = st_of(vol, "d/suid");
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_mode & 07777, 04755);
	n = getxattr(tu_path(vol, "d/b"), "security.capability", cap, sizeof(cap));
	cr_assert_gt(n, 0, "the capability is still there");
	st = st_of(vol, "d/b");
	cr_assert_eq(st.st_uid, 1000, "not chowned without its note");
	st = st_of(vol, "a");
	cr_assert_eq(st.st_uid, BASE, "entries that need no note are done");

	/* room again: a re-run finishes */
	tu_sh("rm -f '%s'/fill*", mnt);
	cr_assert_eq(vs(&out, "shift", "--map", MAP, "--policy=on-root-mismatch", vol), 0);
	cr_assert(tu_contains(out, "\"skipped\":false"), "%s", out);
	free(out);
	assert_shifted(vol);
	st = st_of(vol, "d/b");
	cr_assert_eq(st.st_uid, BASE + 1000);
	n = getxattr(tu_path(vol, "d/b"), "security.capability", cap, sizeof(cap));
	cr_assert_eq(n, 24, "a v3 capability");
	cr_assert_eq(cap[20] | cap[21] << 8 | cap[22] << 16 | (uint32_t)cap[23] << 24, BASE);
}

Test(state, one_run_per_tree_at_a_time)
{
	const char *vol;
	int fd, status;
	pid_t pid;
	struct stat st;

	need_root();
	vol = strdup(tu_path(top, "vol"));
	make_volume(vol, 0);
	fd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0, "the lock another run would hold");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(VS_BIN, "volshift", "shift", "--map", MAP, "--quiet", vol, (char *)NULL);
		_exit(127);
	}
	/* it waits: after a while it has neither exited nor changed anything */
	usleep(300 * 1000);
	cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "a second run waits for the first");
	st = st_of(vol, "a");
	cr_assert_eq(st.st_uid, 0, "and changes nothing meanwhile");
	close(fd);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_shifted(vol);
}

/* Writing security.capability back takes CAP_SETFCAP, which a container
 * profile may not grant: the file is then left as it is, not chowned. */
Test(state, no_setfcap_never_loses_a_capability)
{
	const char *vol;
	uint8_t cap[32];
	struct stat st;
	int r;

	need_root();
	if (tu_sh("command -v capsh >/dev/null") != 0)
		cr_skip_test("capsh (libcap2-bin) is not installed");
	vol = strdup(tu_path(top, "vol"));
	make_volume(vol, 0);
	cr_assert_eq(tu_sh("setcap cap_net_raw+ep '%s/d/b'", vol), 0);
	r = tu_sh("capsh --drop=cap_setfcap -- -c \"'%s' shift --map " MAP " --json '%s'\" "
	          "> '%s/out.json'",
	          VS_BIN, vol, top);
	cr_assert_eq(r, 1, "the capability file fails, the run goes on");
	cr_assert_eq(getxattr(tu_path(vol, "d/b"), "security.capability", cap, sizeof(cap)), 20,
	             "the v2 capability is still there");
	st = st_of(vol, "d/b");
	cr_assert_eq(st.st_uid, 1000, "not chowned: the chown would have dropped it");
	st = st_of(vol, "d/suid");
	cr_assert_eq(st.st_uid, BASE, "the rest is done");
}

/* volshift shift --policy=on-root-mismatch --json vol, in the background,
 * its report into out_path. */
static pid_t spawn_shift(const char *vol, const char *out_path)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(127);
		execl(VS_BIN, "volshift", "shift", "--map", MAP, "--policy=on-root-mismatch",
		      "--json", "--quiet", vol, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/*
 * Two on-root-mismatch runs on one tree at once (a retried container
 * creation while the first hook still walks): both wait on the lock, one
 * walks, and the other must judge the root as the first left it, not as it
 * was when it started waiting, and skip.
 */
Test(state, a_run_that_waited_finds_the_tree_done)
{
	const char *vol;
	char *out[2];
	int fd, skipped = 0, walked = 0;
	long long changed = 0;
	pid_t pid[2];

	need_root();
	vol = strdup(tu_path(top, "vol"));
	make_volume(vol, 0);
	fd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0, "the lock a run holds");
	for (int i = 0; i < 2; i++) {
		cr_assert_neq(asprintf(&out[i], "%s/report%d", top, i), -1);
		pid[i] = spawn_shift(vol, out[i]);
	}
	while (tu_flock_waiters(vol) < 2) {
		int status;

		for (int i = 0; i < 2; i++)
			cr_assert_eq(waitpid(pid[i], &status, WNOHANG), 0,
			             "run %d ended without waiting for the lock", i);
		usleep(10 * 1000);
	}
	cr_assert_eq(st_of(vol, "a").st_uid, 0, "nothing changed while they wait");
	close(fd);
	for (int i = 0; i < 2; i++) {
		int status;
		char *json = NULL;

		cr_assert_eq(waitpid(pid[i], &status, 0), pid[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		cr_assert_eq(tu_sh("test -s '%s'", out[i]), 0);
		{
			FILE *f = fopen(out[i], "re");
			size_t cap = 0;

			cr_assert_not_null(f);
			cr_assert_gt(getline(&json, &cap, f), 0);
			fclose(f);
		}
		cr_log_info("run %d: %s", i, json);
		if (tu_json_num(json, "skipped") == 1) {
			skipped++;
			cr_assert_eq(tu_json_num(json, "entries"), 0);
		} else {
			walked++;
			changed += tu_json_num(json, "changed");
		}
		free(json);
		free(out[i]);
	}
	cr_assert_eq(walked, 1, "one walk");
	cr_assert_eq(skipped, 1, "and one skip, not a second walk of a done tree");
	cr_assert_eq(changed, 5, "the walk changed every entry");
	assert_shifted(vol);
	free((char *)vol);
}
