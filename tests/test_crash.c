/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: crash safety. A run killed with SIGKILL at any moment, followed
 * by a run with --policy=on-root-mismatch, ends in exactly the state of one
 * uninterrupted run: for fsgroup and shift, on a tree of 100k entries, also
 * when the root already matched before the killed run started (kubernetes
 * issue 89776: kubelet's walk leaves such a root looking finished). Kill
 * points are chosen by watching the tree, not the clock: right after the
 * first change, about a third of the way, and two thirds of the way.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tree.h"

#define N_DIRS  100
#define N_FILES 1000 /* 100 dirs x 1000 files: 100,101 entries */

static char *top;

static bool on_tmpfs;

/* Four 100k-entry trees per test: on a tmpfs of its own (in a private mount
 * namespace) they cost no disk and vanish with the unmount. The semantics
 * under test do not depend on the filesystem; test_walk covers ext4. */
static void setup(void)
{
	if (!tu_is_root())
		return;
	top = tu_mkdtemp("crash");
	on_tmpfs = tu_private_mounts() && mount("tmpfs", top, "tmpfs", 0, "mode=0755") == 0;
}

static void teardown(void)
{
	if (top && on_tmpfs)
		umount2(top, MNT_DETACH);
	if (top)
		tu_rm_rf(top);
}

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 600);

enum mode { FSGROUP, SHIFT };

static void make_tree(const char *root, enum mode m, bool prematched)
{
	tu_mkdir(root, 0, 0, 0755);
	tree_make_wide(root, N_DIRS, N_FILES);
	if (!prematched)
		return;
	/* the root already looks done; the files below do not (new data) */
	if (m == FSGROUP) {
		cr_assert_eq(chown(root, 0, 2000), 0);
		cr_assert_eq(chmod(root, 02770), 0);
	} else {
		cr_assert_eq(chown(root, 524288, 524288), 0);
	}
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* How many of the sampled files (the middle file of each directory) have
 * been changed already. */
static unsigned progress(const char *root, enum mode m)
{
	unsigned n = 0;

	for (unsigned d = 0; d < N_DIRS; d++) {
		char rel[64];
		struct stat st;

		snprintf(rel, sizeof(rel), "d%04u/f%05u", d, N_FILES / 2);
		if (lstat(tu_path(root, rel), &st) < 0)
			continue;
		if (m == FSGROUP ? st.st_gid == 2000 : st.st_uid >= 524288)
			n++;
	}
	return n;
}

static bool root_changed(const char *root, const struct stat *before)
{
	struct stat st;

	return lstat(root, &st) == 0 &&
	       (st.st_mode != before->st_mode || st.st_uid != before->st_uid ||
	        st.st_gid != before->st_gid);
}

static char *const *args(enum mode m, const char *root, const char *policy)
{
	static char *v[12];
	static char pol[64];
	int n = 0;

	snprintf(pol, sizeof(pol), "--policy=%s", policy);
	v[n++] = (char *)VS_BIN;
	if (m == FSGROUP) {
		v[n++] = "fsgroup";
		v[n++] = "--gid";
		v[n++] = "2000";
	} else {
		v[n++] = "shift";
		v[n++] = "--map";
		v[n++] = "0:524288:65536";
	}
	v[n++] = pol;
	v[n++] = "--quiet";
	v[n++] = (char *)root;
	v[n] = NULL;
	return v;
}

/* Starts a run and SIGKILLs it once `threshold` of the samples changed (0:
 * as soon as anything at all changed, the root included). Returns true when
 * it was killed, false when it finished first. */
static bool run_and_kill(enum mode m, const char *root, unsigned threshold)
{
	struct stat root_before;
	int status;
	pid_t pid;

	cr_assert_eq(lstat(root, &root_before), 0);
	pid = spawn(args(m, root, "always"));
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return false;
		if (threshold == 0 ? root_changed(root, &root_before) || progress(root, m) > 0
		                   : progress(root, m) >= threshold)
			break;
		usleep(200);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status);
}

static void crash_case(enum mode m, bool prematched)
{
	static const unsigned kill_at[] = {0, 33, 66};
	char *orig, *ref;
	unsigned killed = 0;

	if (!tu_is_root())
		cr_skip_test("needs root to chown files");

	/* the state one uninterrupted run leaves */
	char *ref_root = strdup(tu_path(top, "ref"));
	make_tree(ref_root, m, prematched);
	orig = tree_snapshot(ref_root);
	cr_assert_eq(tu_run(args(m, ref_root, "always"), NULL, NULL), 0);
	ref = tree_snapshot(ref_root);
	if (!on_tmpfs)
		tu_rm_rf(ref_root);
	free(ref_root);
	cr_assert_str_neq(orig, ref, "the run must change the tree");

	for (size_t k = 0; k < sizeof(kill_at) / sizeof(kill_at[0]); k++) {
		char name[32], *after_kill, *final;
		const char *root;
		bool was_killed;
		int st;

		snprintf(name, sizeof(name), "victim%zu", k);
		root = strdup(tu_path(top, name));
		make_tree(root, m, prematched);
		was_killed = run_and_kill(m, root, kill_at[k]);
		killed += was_killed;
		after_kill = tree_snapshot(root);

		st = tu_run(args(m, root, "on-root-mismatch"), NULL, NULL);
		cr_assert_eq(st, 0, "resume run exit %d", st);
		final = tree_snapshot(root);
		/* once anything changed, the resumed run must finish the job; a
		 * run killed before its first change left the tree as it was,
		 * and on-root-mismatch then rightly skips a root that matched */
		if (prematched && strcmp(orig, after_kill) == 0)
			cr_assert_eq(tree_diff(orig, final), 0, "kill point %u", kill_at[k]);
		else
			cr_assert_eq(tree_diff(ref, final), 0,
			             "kill point %u (%s): the resumed tree differs from one "
			             "uninterrupted run",
			             kill_at[k], was_killed ? "killed" : "finished first");
		free(after_kill);
		free(final);
		if (!on_tmpfs)
			tu_rm_rf(root);
		free((char *)root);
	}
	/* the test proves nothing unless kills landed mid-walk */
	cr_assert_geq(killed, 2, "only %u of 3 runs were killed before they finished", killed);
	free(orig);
	free(ref);
}

Test(crash, fsgroup_killed_then_on_root_mismatch)
{
	crash_case(FSGROUP, false);
}

Test(crash, fsgroup_killed_when_root_matched_before)
{
	crash_case(FSGROUP, true);
}

Test(crash, shift_killed_then_on_root_mismatch)
{
	crash_case(SHIFT, false);
}

Test(crash, shift_killed_when_root_matched_before)
{
	crash_case(SHIFT, true);
}
