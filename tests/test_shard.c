/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: sharded jobs (--shard K/N), the sharding contract of
 * DESIGN.md on one machine. N shard processes over one tree (N = 1, 2, 7,
 * 16), run one after another or all at once, end in exactly the tree one
 * unsharded run gives: owners, modes, ACLs and file capabilities byte for
 * byte, on bench/gen's wide, mix (hard links across shards, setuid files,
 * capabilities, ACLs) and deep trees, for shift and fsgroup. Their
 * `changed` and `entries` add up to the unsharded run's; exactly one shard
 * makes the plan and exactly one, the last, sets the root: until then an
 * on-root-mismatch run does not take the tree as done. A shard killed with
 * SIGKILL mid-walk (the moment chosen by watching the tree) or one that
 * fails (an immutable file) keeps the root un-matched, however many others
 * finish, until it is run again. ramfs (no xattrs) ends right too; so do
 * the shards of a job at once, each on its own bench/latfs mount of one
 * tree (N clients of one store, their records and locks through FUSE); a
 * later job is not confused by an aborted one's leftovers; nothing is left
 * on the volume; a 2000-deep chain keeps a small plan; a shard's dry run
 * reports its part and writes nothing; bad --shard input changes nothing.
 *
 * Trees live in fresh temp dirs under $TMPDIR (ext4 here; chattr +i needs a
 * filesystem that has it), ramfs and FUSE in private mount namespaces.
 * About 45-70 s on 2 CPUs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "testutil.h"
#include "tree.h"

#define GEN VS_BUILD_DIR "/bench/gen"

static char *top;
static bool mounted;     /* a ramfs on top/rf, in this test's mount namespace */
static char *stuck_path; /* a file made immutable: teardown makes it mutable again */

static void latfs_umount_all(void);

static void setup(void)
{
	if (!tu_is_root())
		return;
	top = tu_mkdtemp("shard");
}

static void teardown(void)
{
	if (!top)
		return;
	latfs_umount_all();
	if (mounted)
		umount2(tu_path(top, "rf"), MNT_DETACH);
	if (stuck_path)
		tu_sh("chattr -i '%s' 2>/dev/null; true", stuck_path);
	tu_rm_rf(top);
}

TestSuite(shard, .init = setup, .fini = teardown, .timeout = 300);

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (!tu_is_root())                                                                 \
			cr_skip_test("needs root to chown files");                                 \
	} while (0)

enum mode { FSGROUP, SHIFT };

static const char *mode_name(enum mode m)
{
	return m == SHIFT ? "shift" : "fsgroup";
}

/* A tree of bench/gen: its kind and arguments. */
struct tree {
	const char *kind;
	const char *args[5];
};

static const struct tree WIDE = {"wide", {"--dirs", "10,50", "--files", "20", NULL}};
static const struct tree MIX = {"mix", {"--files", "5000", NULL}};
static const struct tree DEEP = {"deep", {"--depth", "300", NULL}};
static const struct tree SMALL = {"wide", {"--dirs", "5,20", "--files", "20", NULL}};

/* Makes the tree at dir, or (reset) puts it back as it was made. */
static void gen(const struct tree *t, const char *dir, bool reset)
{
	char *argv[12], *err = NULL;
	int n = 0, st;

	if (access(GEN, X_OK) != 0)
		cr_skip_test("%s is not built", GEN);
	argv[n++] = GEN;
	argv[n++] = (char *)t->kind;
	argv[n++] = (char *)dir;
	for (int i = 0; t->args[i]; i++)
		argv[n++] = (char *)t->args[i];
	if (reset)
		argv[n++] = "--reset";
	argv[n] = NULL;
	st = tu_run(argv, NULL, &err);
	cr_assert_eq(st, 0, "gen %s %s: exit %d: %s", t->kind, dir, st, err);
	free(err);
	/* gen does not know volshift's mark on the root: a fresh tree has none */
	if (reset)
		(void)lremovexattr(dir, "trusted.volshift.done");
}

/* ---------------------------------------------------------- running */

struct args {
	char *v[24];
	int n;
};

static void add(struct args *a, const char *s)
{
	cr_assert_lt(a->n, 23);
	a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

/* volshift MODE (map or GID) --json --progress=never */
static void base(struct args *a, enum mode m)
{
	a->n = 0;
	add(a, VS_BIN);
	if (m == SHIFT) {
		add(a, "shift");
		add(a, "--map");
		add(a, "0:524288:65536");
	} else {
		add(a, "fsgroup");
		add(a, "--gid");
		add(a, "2000");
	}
	add(a, "--json");
	add(a, "--progress=never");
}

/* The arguments of shard k of n (n 0: unsharded) on dir; extra (may be
 * NULL) ends with NULL. */
static void shard_args(struct args *a, enum mode m, const char *dir, unsigned k, unsigned n,
                       const char *const *extra)
{
	static __thread char spec[32];

	base(a, m);
	if (n) {
		snprintf(spec, sizeof(spec), "--shard=%u/%u", k, n);
		add(a, spec);
	}
	for (int i = 0; extra && extra[i]; i++)
		add(a, extra[i]);
	add(a, dir);
}

/* A run to its end: exit status, and the JSON report in *ret_json. */
static int run(enum mode m, const char *dir, unsigned k, unsigned n, const char *const *extra,
               char **ret_json)
{
	struct args a;
	char *err = NULL;
	int st;

	shard_args(&a, m, dir, k, n, extra);
	st = tu_run(a.v, ret_json, &err);
	if (st != 0 && st != 1)
		cr_log_error("%s shard %u/%u: exit %d: %s", mode_name(m), k, n, st, err);
	free(err);
	return st;
}

/* Starts a run with its report going to out (or nowhere). */
static pid_t spawn(enum mode m, const char *dir, unsigned k, unsigned n, const char *const *extra,
                   const char *out)
{
	struct args a;
	pid_t pid;

	shard_args(&a, m, dir, k, n, extra);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (!freopen(out ? out : "/dev/null", "w", stdout) ||
		    !freopen("/dev/null", "w", stderr))
			_exit(126);
		execv(a.v[0], a.v);
		_exit(127);
	}
	return pid;
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/*
 * Whether volshift takes the tree as done: an unsharded on-root-mismatch dry
 * run skips it. The sharding contract: not before the last shard finished.
 */
static bool tree_done(enum mode m, const char *dir)
{
	const char *extra[] = {"--policy=on-root-mismatch", "--dry-run", NULL};
	char *json = NULL;
	bool done;
	int st = run(m, dir, 0, 0, extra, &json);

	cr_assert_eq(st, 0, "the on-root-mismatch dry run: exit %d", st);
	done = tu_json_num(json, "skipped") == 1;
	free(json);
	return done;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Everything a run may change, and what it must leave. */
struct snap {
	char *tree;   /* owners and modes (tree_snapshot) */
	char *xattrs; /* ACLs, capabilities, trusted.* (tree_xattr_snapshot) */
};

static struct snap take(const char *dir)
{
	return (struct snap){tree_snapshot(dir), tree_xattr_snapshot(dir)};
}

static void drop(struct snap *s)
{
	free(s->tree);
	free(s->xattrs);
	s->tree = s->xattrs = NULL;
}

/* Asserts that dir is as want: owners, modes and every xattr byte. */
static void same(const struct snap *want, const char *dir, const char *what)
{
	struct snap have = take(dir);
	size_t dt = tree_diff(want->tree, have.tree);
	size_t dx = tree_diff(want->xattrs, have.xattrs);

	drop(&have);
	cr_assert_eq(dt, 0, "%s: %zu entries differ in owner or mode", what, dt);
	cr_assert_eq(dx, 0, "%s: %zu xattrs differ (ACLs, capabilities, marks)", what, dx);
}

/* A tree as gen made it, and one unsharded run's end state and counts. */
struct ref {
	struct snap orig, end;
	long long changed, entries;
};

/*
 * Makes the tree at top/NAME, runs one unsharded run on it for the
 * reference, then puts the tree back as it was made: the shards run on the
 * same inodes.
 */
static struct ref reference(const struct tree *t, enum mode m, const char *name,
                            const char *const *extra)
{
	char *dir = strdup(tu_path(top, name)), *json = NULL;
	struct ref r;

	gen(t, dir, false);
	r.orig = take(dir);
	cr_assert_eq(run(m, dir, 0, 0, extra, &json), 0, "the unsharded run failed");
	r.changed = tu_json_num(json, "changed");
	r.entries = tu_json_num(json, "entries");
	free(json);
	r.end = take(dir);
	gen(t, dir, true);
	same(&r.orig, dir, "gen --reset");
	free(dir);
	return r;
}

static void drop_ref(struct ref *r)
{
	drop(&r->orig);
	drop(&r->end);
}

/* What a shard's report says. */
struct rep {
	int status;
	long long changed, entries, failed, shards_done;
	bool planned, finished_root;
};

static struct rep parse(int status, const char *json)
{
	return (struct rep){
	    .status = status,
	    .changed = tu_json_num(json, "changed"),
	    .entries = tu_json_num(json, "entries"),
	    .failed = tu_json_num(json, "failed"),
	    .shards_done = tu_json_num(json, "shards_done"),
	    .planned = tu_json_num(json, "planned") == 1,
	    .finished_root = tu_json_num(json, "finished_root") == 1,
	};
}

static struct rep run_shard(enum mode m, const char *dir, unsigned k, unsigned n,
                            const char *const *extra)
{
	char *json = NULL;
	int st = run(m, dir, k, n, extra, &json);
	struct rep r = parse(st, json);

	free(json);
	return r;
}

/* Nothing of the job is left: no state directory, and the root's
 * trusted.volshift.* are what the unsharded run leaves (shift: its mark). */
static void nothing_left(const char *dir, const struct ref *ref, const char *what)
{
	cr_assert_not(exists(tu_path(dir, ".volshift")), "%s: .volshift was left behind", what);
	same(&ref->end, dir, what);
}

static struct stat root_stat(const char *dir)
{
	struct stat st;

	cr_assert_eq(lstat(dir, &st), 0);
	return st;
}

static bool same_owner_mode(const struct stat *a, const struct stat *b)
{
	return a->st_uid == b->st_uid && a->st_gid == b->st_gid && a->st_mode == b->st_mode;
}

/*
 * The cheap look at the root, between the shards: as the tree was made, and
 * no mark of a finished shift (an xattr, or a file where there are none).
 * tree_done asks volshift itself, which costs a walk of the tree.
 */
static void root_untouched(enum mode m, const char *dir, const struct stat *before,
                           const char *what)
{
	struct stat now = root_stat(dir);
	char c;

	cr_assert(same_owner_mode(before, &now), "%s: the root changed before the last shard",
	          what);
	if (m == SHIFT) {
		cr_assert_lt(lgetxattr(dir, "trusted.volshift.done", &c, 0), 0,
		             "%s: a done mark before the last shard", what);
		cr_assert_not(exists(tu_path(dir, ".volshift/done")),
		              "%s: a done mark before the last shard", what);
	}
}

/* ------------------------------------------------ one after another */

static const unsigned NS[] = {1, 2, 7, 16};

static void sequential(const struct tree *t, enum mode m)
{
	struct ref ref;
	struct stat root0;
	char *dir;

	NEED_ROOT();
	ref = reference(t, m, "vol", NULL);
	dir = strdup(tu_path(top, "vol"));
	root0 = root_stat(dir);

	for (size_t i = 0; i < sizeof(NS) / sizeof(NS[0]); i++) {
		unsigned n = NS[i];
		long long changed = 0, entries = 0;
		char what[96];

		if (i > 0)
			gen(t, dir, true);
		for (unsigned k = 0; k < n; k++) {
			struct rep r = run_shard(m, dir, k, n, NULL);

			snprintf(what, sizeof(what), "%s %s, shard %u/%u", mode_name(m), t->kind, k,
			         n);
			cr_assert_eq(r.status, 0, "%s: exit %d", what, r.status);
			cr_assert_eq(r.failed, 0, "%s: %lld failed", what, r.failed);
			changed += r.changed;
			entries += r.entries;
			if (n == 1)
				continue; /* --shard 0/1 is the whole tree, no job */
			cr_assert_eq(r.planned, k == 0, "%s: planned %d", what, r.planned);
			cr_assert_eq(r.finished_root, k == n - 1, "%s: finished_root %d", what,
			             r.finished_root);
			cr_assert_eq(r.shards_done, k + 1, "%s: shards_done %lld", what,
			             r.shards_done);
			if (k + 1 == n)
				break;
			root_untouched(m, dir, &root0, what);
			cr_assert(exists(tu_path(dir, ".volshift")), "%s: no job file", what);
			/* volshift's own verdict: after the first, and before the last */
			if (k == 0 || k + 2 == n)
				cr_assert_not(tree_done(m, dir),
				              "%s: the tree counts as done before the last shard",
				              what);
		}
		snprintf(what, sizeof(what), "%s %s, %u shards", mode_name(m), t->kind, n);
		cr_assert_eq(changed, ref.changed, "%s: changed %lld, unsharded %lld", what,
		             changed, ref.changed);
		cr_assert_eq(entries, ref.entries, "%s: entries %lld, unsharded %lld", what,
		             entries, ref.entries);
		nothing_left(dir, &ref, what);
		cr_assert(tree_done(m, dir), "%s: the tree does not count as done", what);
	}
	drop_ref(&ref);
	free(dir);
}

Test(shard, wide_shift_sequential)
{
	sequential(&WIDE, SHIFT);
}

Test(shard, wide_fsgroup_sequential)
{
	sequential(&WIDE, FSGROUP);
}

Test(shard, mix_shift_sequential)
{
	sequential(&MIX, SHIFT);
}

Test(shard, mix_fsgroup_sequential)
{
	sequential(&MIX, FSGROUP);
}

Test(shard, deep_shift_sequential)
{
	sequential(&DEEP, SHIFT);
}

Test(shard, deep_fsgroup_sequential)
{
	sequential(&DEEP, FSGROUP);
}

/*
 * A chain 2000 directories deep: the plan stops at VS_SPLIT_DEPTH_MAX
 * instead of naming every level (which made the job file 3.8 MB and cost
 * each shard 30 times the unsharded walk in opens), and ends right.
 */
Test(shard, deep_chain_plan_stays_small)
{
	const struct tree chain = {"deep", {"--depth", "2000", NULL}};
	struct ref ref;
	char *dir;

	NEED_ROOT();
	ref = reference(&chain, SHIFT, "vol", NULL);
	dir = strdup(tu_path(top, "vol"));
	for (unsigned k = 0; k < 4; k++) {
		struct rep r = run_shard(SHIFT, dir, k, 4, NULL);

		cr_assert_eq(r.status, 0);
		if (k == 0) {
			char *sz = NULL, *argv[] = {"/bin/sh", "-c", "", NULL}, cmd[512];

			snprintf(cmd, sizeof(cmd), "stat -c %%s '%s'/.volshift/shard.*", dir);
			argv[2] = cmd;
			cr_assert_eq(tu_run(argv, &sz, NULL), 0);
			cr_assert_lt(atol(sz), 4096 + 64 * 1024, "a job file of %ld bytes",
			             atol(sz));
			free(sz);
		}
	}
	nothing_left(dir, &ref, "a deep chain in 4 shards");
	drop_ref(&ref);
	free(dir);
}

/*
 * fsgroup on a root that already matched (kubelet's rule) before the job:
 * the first shard un-matches it (clears setgid), so that a job killed
 * halfway is never taken as done; the last sets it again.
 */
Test(shard, fsgroup_prematched_root_waits_for_the_last_shard)
{
	struct snap end;
	char *dir;

	NEED_ROOT();
	dir = strdup(tu_path(top, "vol"));
	gen(&SMALL, dir, false);
	cr_assert_eq(chown(dir, 0, 2000), 0);
	cr_assert_eq(chmod(dir, 02770), 0);
	cr_assert_eq(run(FSGROUP, dir, 0, 0, NULL, NULL), 0);
	end = take(dir);
	gen(&SMALL, dir, true);
	cr_assert_eq(chown(dir, 0, 2000), 0);
	cr_assert_eq(chmod(dir, 02770), 0);
	cr_assert(tree_done(FSGROUP, dir), "the prepared root must match");
	for (unsigned k = 0; k < 3; k++) {
		struct rep r = run_shard(FSGROUP, dir, k, 3, NULL);

		cr_assert_eq(r.status, 0);
		cr_assert_eq(r.finished_root, k == 2);
		if (k < 2) {
			cr_assert_eq(root_stat(dir).st_mode & S_ISGID, 0,
			             "shard %u/3: the root kept its setgid bit", k);
			cr_assert_not(tree_done(FSGROUP, dir), "shard %u/3: taken as done", k);
		}
	}
	cr_assert_not(exists(tu_path(dir, ".volshift")));
	same(&end, dir, "prematched root, 3 shards");
	cr_assert(tree_done(FSGROUP, dir));
	drop(&end);
	free(dir);
}

/* ---------------------------------------------------------- at once */

static void concurrent(enum mode m, unsigned n)
{
	struct ref ref;
	long long changed = 0, entries = 0;
	unsigned planned = 0, finished = 0, planner = n, finisher = n;
	char *dir;
	pid_t pids[16];

	NEED_ROOT();
	ref = reference(&MIX, m, "vol", NULL);
	dir = strdup(tu_path(top, "vol"));
	for (unsigned k = 0; k < n; k++) {
		char out[32];

		snprintf(out, sizeof(out), "out.%u", k);
		pids[k] = spawn(m, dir, k, n, NULL, tu_path(top, out));
	}
	for (unsigned k = 0; k < n; k++) {
		char out[32], *json;
		int st;
		struct rep r;

		cr_assert_eq(waitpid(pids[k], &st, 0), pids[k]);
		cr_assert(WIFEXITED(st), "shard %u/%u died", k, n);
		snprintf(out, sizeof(out), "out.%u", k);
		json = slurp_file(tu_path(top, out));
		r = parse(WEXITSTATUS(st), json);
		free(json);
		cr_assert_eq(r.status, 0, "shard %u/%u: exit %d", k, n, r.status);
		changed += r.changed;
		entries += r.entries;
		if (r.planned) {
			planned++;
			planner = k;
		}
		if (r.finished_root) {
			finished++;
			finisher = k;
		}
	}
	cr_assert_eq(planned, 1, "%u shards made a plan", planned);
	cr_assert_eq(finished, 1, "%u shards finished the root", finished);
	fprintf(stderr,
	        "%s mix, %u shards at once: shard %u planned, shard %u finished the root%s\n",
	        mode_name(m), n, planner, finisher, planner == finisher ? " (the same)" : "");
	cr_assert_eq(changed, ref.changed, "changed %lld, unsharded %lld", changed, ref.changed);
	cr_assert_eq(entries, ref.entries, "entries %lld, unsharded %lld", entries, ref.entries);
	nothing_left(dir, &ref, "at once");
	cr_assert(tree_done(m, dir));
	drop_ref(&ref);
	free(dir);
}

Test(shard, mix_shift_2_at_once)
{
	concurrent(SHIFT, 2);
}

Test(shard, mix_shift_7_at_once)
{
	concurrent(SHIFT, 7);
}

Test(shard, mix_fsgroup_2_at_once)
{
	concurrent(FSGROUP, 2);
}

Test(shard, mix_fsgroup_7_at_once)
{
	concurrent(FSGROUP, 7);
}

/* ------------------------------------------------------------ killed */

/* Samples of the tree's non-directories, to see a walk's progress. */
static struct {
	char **path;
	struct stat *st;
	size_t n, cap;
	unsigned every, seen;
} smp;

static int sample_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (S_ISDIR(st->st_mode) || smp.seen++ % smp.every)
		return 0;
	if (smp.n == smp.cap) {
		smp.cap = smp.cap ? 2 * smp.cap : 256;
		smp.path = realloc(smp.path, smp.cap * sizeof(*smp.path));
		smp.st = realloc(smp.st, smp.cap * sizeof(*smp.st));
	}
	smp.path[smp.n] = strdup(path);
	smp.st[smp.n++] = *st;
	return 0;
}

/* Every `every`-th non-directory of the fresh tree at dir. */
static void sample(const char *dir, unsigned every)
{
	for (size_t i = 0; i < smp.n; i++)
		free(smp.path[i]);
	smp.n = smp.seen = 0;
	smp.every = every;
	nftw(dir, sample_one, 64, FTW_PHYS);
}

static size_t sampled_changes(void)
{
	size_t n = 0;

	for (size_t i = 0; i < smp.n; i++) {
		struct stat st;

		if (lstat(smp.path[i], &st) == 0 && !same_owner_mode(&smp.st[i], &st))
			n++;
	}
	return n;
}

/* Starts shard k/n with one worker and SIGKILLs it once `threshold` of the
 * samples changed (at least one). True when it was killed, false when it
 * finished first. */
static bool run_and_kill(enum mode m, const char *dir, unsigned k, unsigned n, size_t threshold,
                         const char *id)
{
	const char *extra[] = {"--jobs=1", id, NULL};
	pid_t pid;
	int st;

	pid = spawn(m, dir, k, n, extra, NULL);
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return false;
		if (sampled_changes() >= (threshold ? threshold : 1))
			break;
		usleep(200);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/*
 * Shard 0 of 3 (it makes the plan) is killed mid-walk, at three points; the
 * other two then finish: the root is still not set, and an on-root-mismatch
 * run does not take the tree as done. Shard 0 run again finishes it,
 * exactly as one unsharded run (setuid bits and capabilities that the
 * killed shard's chown dropped come back from its crash notes).
 */
Test(shard, killed_shard_keeps_the_root_until_it_is_run_again)
{
	const enum mode m = SHIFT;
	struct ref ref;
	struct stat root0;
	unsigned killed = 0;
	char *dir;

	NEED_ROOT();
	ref = reference(&MIX, m, "vol", NULL);
	dir = strdup(tu_path(top, "vol"));
	root0 = root_stat(dir);

	for (unsigned point = 0; point < 3; point++) {
		struct rep r;
		bool was_killed, mid_walk;

		if (point > 0)
			gen(&MIX, dir, true);
		sample(dir, 2);
		cr_assert_gt(smp.n, 1000);
		/* the first change; about a quarter and a half of its third */
		was_killed = run_and_kill(m, dir, 0, 3, point * smp.n / 12, NULL);
		/* killed before it finished its part, or after (its bit set, its
		 * report not yet out): what the next shard finds says which */
		r = run_shard(m, dir, 1, 3, NULL);
		cr_assert_eq(r.status, 0);
		mid_walk = was_killed && r.shards_done == 1;
		killed += mid_walk;
		cr_assert_not(r.finished_root, "shard 1/3 set the root before 2/3 ran");
		r = run_shard(m, dir, 2, 3, NULL);
		cr_assert_eq(r.status, 0);
		if (!mid_walk) {
			/* shard 0 finished its part: 2/3 is the last */
			cr_assert(r.finished_root,
			          "kill point %u: 0/3 finished, 2/3 did not set the root", point);
		} else {
			cr_assert_not(r.finished_root, "shard 2/3 set the root while 0/3 was dead");
			cr_assert_eq(r.shards_done, 2, "shard 2/3: %lld done", r.shards_done);
			root_untouched(m, dir, &root0, "killed");
			cr_assert_not(tree_done(m, dir), "kill point %u: taken as done", point);
			r = run_shard(m, dir, 0, 3, NULL);
			cr_assert_eq(r.status, 0);
			cr_assert(r.finished_root, "kill point %u: the re-run did not finish",
			          point);
		}
		nothing_left(dir, &ref, "killed and run again");
		cr_assert(tree_done(m, dir));
	}
	fprintf(stderr, "killed shard: %u of 3 kills landed before it finished its part\n", killed);
	/* the test proves nothing unless kills landed mid-walk */
	cr_assert_geq(killed, 2, "only %u of 3 shards were killed before they finished their part",
	              killed);
	drop_ref(&ref);
	free(dir);
}

/* ------------------------------------------------------------ failed */

/*
 * An immutable file fails in the part of one shard: that shard exits 1, no
 * shard sets the root, the tree does not count as done. With the flag gone,
 * that shard run again is the last and sets the root.
 */
static void failed_shard(enum mode m)
{
	unsigned failing = 3;
	struct ref ref;
	struct stat root0;
	struct rep r;
	char *dir;

	NEED_ROOT();
	ref = reference(&WIDE, m, "vol", NULL);
	dir = strdup(tu_path(top, "vol"));
	root0 = root_stat(dir);
	stuck_path = strdup(tu_path(dir, "d3/d17/f5"));
	if (tu_sh("chattr +i '%s' 2>/dev/null", stuck_path) != 0) {
		free(stuck_path);
		stuck_path = NULL;
		cr_skip_test("chattr +i is not supported on %s", dir);
	}
	for (unsigned k = 0; k < 3; k++) {
		r = run_shard(m, dir, k, 3, NULL);
		cr_assert_not(r.finished_root, "shard %u/3 set the root", k);
		if (r.failed) {
			cr_assert_eq(failing, 3, "shards %u and %u both failed", failing, k);
			cr_assert_eq(r.failed, 1);
			cr_assert_eq(r.status, 1, "a failed shard exits 1, not %d", r.status);
			failing = k;
		} else {
			cr_assert_eq(r.status, 0);
		}
	}
	cr_assert_lt(failing, 3, "no shard met the immutable file");
	root_untouched(m, dir, &root0, "a shard failed");
	cr_assert_not(tree_done(m, dir), "the tree counts as done with a failed shard");
	cr_assert_eq(tu_sh("chattr -i '%s'", stuck_path), 0);
	r = run_shard(m, dir, failing, 3, NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(r.finished_root, "the re-run shard %u/3 did not set the root", failing);
	cr_assert_eq(r.shards_done, 3);
	nothing_left(dir, &ref, "failed, then run again");
	cr_assert(tree_done(m, dir));
	drop_ref(&ref);
	free(dir);
}

Test(shard, failed_shard_keeps_the_root_shift)
{
	failed_shard(SHIFT);
}

Test(shard, failed_shard_keeps_the_root_fsgroup)
{
	failed_shard(FSGROUP);
}

/* ------------------------------------------------------------- ramfs */

/*
 * ramfs takes no xattrs: the job file, the crash notes and the mark are
 * files in .volshift. 3 shards in turn and at once end right, the root
 * waits for the last, and nothing is left but, where a shift asked for the
 * short-circuit, its mark.
 */
Test(shard, ramfs_without_xattrs)
{
	const char *ror[] = {"--policy=on-root-mismatch", NULL};
	char *rf;

	NEED_ROOT();
	rf = strdup(tu_path(top, "rf"));
	cr_assert_eq(mkdir(rf, 0755), 0);
	if (!tu_private_mounts())
		cr_skip_test("no private mount namespace");
	if (mount("ramfs", rf, "ramfs", 0, "mode=0755") < 0)
		cr_skip_test("cannot mount ramfs: %s", strerror(errno));
	mounted = true;

	for (int mi = 0; mi < 2; mi++) {
		enum mode m = mi ? SHIFT : FSGROUP;
		const char *const *extra = m == SHIFT ? ror : NULL;
		const struct tree *trees[] = {&SMALL, &DEEP};

		for (size_t ti = 0; ti < 2; ti++) {
			const struct tree *t = trees[ti];
			char dir[256], what[64];
			struct snap orig, end;
			struct stat root0;

			snprintf(dir, sizeof(dir), "%s/vol", rf);
			gen(t, dir, false);
			root0 = root_stat(dir);
			orig = take(dir);
			cr_assert_eq(run(m, dir, 0, 0, extra, NULL), 0);
			end = take(dir);
			for (int at_once = 0; at_once < 2; at_once++) {
				snprintf(what, sizeof(what), "ramfs %s %s%s", mode_name(m), t->kind,
				         at_once ? " at once" : "");
				gen(t, dir, true);
				tu_rm_rf(tu_path(dir, ".volshift")); /* the unsharded run's mark */
				same(&orig, dir, "gen --reset");
				if (!at_once) {
					for (unsigned k = 0; k < 3; k++) {
						struct rep r = run_shard(m, dir, k, 3, extra);

						cr_assert_eq(r.status, 0, "%s: shard %u/3", what,
						             k);
						cr_assert_eq(r.finished_root, k == 2);
						if (k < 2) {
							root_untouched(m, dir, &root0, what);
							cr_assert_not(tree_done(m, dir), "%s",
							              what);
						}
					}
				} else {
					pid_t p[3];
					int st;

					for (unsigned k = 0; k < 3; k++)
						p[k] = spawn(m, dir, k, 3, extra, NULL);
					for (unsigned k = 0; k < 3; k++) {
						waitpid(p[k], &st, 0);
						cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
						          "%s", what);
					}
				}
				/* shift: .volshift holds the mark, as after the unsharded run */
				same(&end, dir, what);
				if (m == SHIFT)
					cr_assert(tree_done(m, dir), "%s: no mark", what);
				else
					cr_assert_not(exists(tu_path(dir, ".volshift")), "%s",
					              what);
			}
			drop(&orig);
			drop(&end);
			tu_rm_rf(dir);
		}
	}
	free(rf);
}

/* ------------------------------------------------- several clients */

#define LATFS VS_BUILD_DIR "/bench/latfs"

/* The latfs instances of the running test, unmounted in teardown. */
static struct {
	pid_t pid;
	char *path;
} lat[8];

static bool is_fuse(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == 0x65735546 /* FUSE_SUPER_MAGIC */;
}

/* latfs over backing at top/NAME (slot i), with its options (NULL-ended). */
static char *latfs_mount(unsigned i, const char *backing, const char *name, const char *const *opts)
{
	char *argv[16];
	int n = 0;

	lat[i].path = strdup(tu_path(top, name));
	cr_assert_eq(mkdir(lat[i].path, 0755), 0);
	argv[n++] = LATFS;
	argv[n++] = "--foreground";
	for (; *opts; opts++)
		argv[n++] = (char *)*opts;
	argv[n++] = (char *)backing;
	argv[n++] = lat[i].path;
	argv[n] = NULL;
	lat[i].pid = fork();
	cr_assert_geq(lat[i].pid, 0);
	if (lat[i].pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* the test died: unmount, end */
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int t = 0; t < 1000 && !is_fuse(lat[i].path); t++) {
		int st;

		cr_assert_eq(waitpid(lat[i].pid, &st, WNOHANG), 0, "latfs ended before it mounted");
		usleep(5000);
	}
	cr_assert(is_fuse(lat[i].path), "latfs did not mount on %s", lat[i].path);
	return lat[i].path;
}

static void latfs_umount_all(void)
{
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		int st;

		if (!lat[i].path)
			continue;
		if (umount2(lat[i].path, 0) < 0)
			umount2(lat[i].path, MNT_DETACH);
		for (int t = 0; t < 500 && waitpid(lat[i].pid, &st, WNOHANG) == 0; t++)
			usleep(10000);
		if (waitpid(lat[i].pid, &st, WNOHANG) == 0) {
			kill(lat[i].pid, SIGKILL);
			waitpid(lat[i].pid, &st, 0);
		}
		rmdir(lat[i].path);
		free(lat[i].path);
		lat[i].path = NULL;
	}
}

/*
 * The shards of a job on several clients of one store, as on NFS: each
 * shard on a latfs mount of its own over one backing directory, all at
 * once; their job file, its locks (the plan's, the done bits', hard-linked
 * inodes') and the crash notes go through the mounts. The backing tree ends
 * as one unsharded run leaves it: with xattrs passed through, the mix tree
 * (hard links across shards, capabilities, ACLs) byte for byte; without
 * (as NFS without xattrs), the records are files and the wide tree's owners
 * and modes are the unsharded run's.
 */
static void on_mounts(const struct tree *t, unsigned n, bool xattrs, const char *max_fds)
{
	const char *opts[] = {"--delay-us",
	                      "200",
	                      "--max-inflight",
	                      "16",
	                      xattrs ? "--xattrs" : "--no-xattrs",
	                      max_fds ? "--max-fds" : NULL,
	                      max_fds,
	                      NULL};
	struct ref ref;
	char *dir;
	pid_t pids[8];

	NEED_ROOT();
	if (access(LATFS, X_OK) != 0)
		cr_skip_test("%s is not built (no libfuse3 at build time)", LATFS);
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		cr_skip_test("no usable /dev/fuse");
	if (!tu_private_mounts())
		cr_skip_test("no private mount namespace");
	ref = reference(t, SHIFT, "vol", NULL);
	dir = strdup(tu_path(top, "vol"));
	for (unsigned k = 0; k < n; k++) {
		char name[32];

		snprintf(name, sizeof(name), "client%u", k);
		latfs_mount(k, dir, name, opts);
	}
	for (unsigned k = 0; k < n; k++)
		pids[k] = spawn(SHIFT, lat[k].path, k, n, NULL, NULL);
	for (unsigned k = 0; k < n; k++) {
		int st;

		cr_assert_eq(waitpid(pids[k], &st, 0), pids[k]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "shard %u/%u on its mount: %#x", k,
		          n, st);
	}
	latfs_umount_all();
	cr_assert_not(exists(tu_path(dir, ".volshift")), ".volshift was left behind");
	if (xattrs) {
		same(&ref.end, dir, "shards on their own mounts");
		cr_assert(tree_done(SHIFT, dir));
	} else {
		char *have = tree_snapshot(dir);
		size_t d = tree_diff(ref.end.tree, have);

		free(have);
		cr_assert_eq(d, 0, "shards on their own mounts: %zu entries differ", d);
	}
	drop_ref(&ref);
	free(dir);
}

Test(shard, mix_on_3_mounts_with_xattrs)
{
	on_mounts(&MIX, 3, true, NULL);
}

/* The same where latfs keeps 8 inodes open and the others by file handle,
 * as it does past half its nofile limit (the full bench's 100k files). */
Test(shard, mix_on_3_mounts_by_file_handle)
{
	on_mounts(&MIX, 3, true, "8");
}

Test(shard, wide_on_4_mounts_without_xattrs)
{
	on_mounts(&SMALL, 4, false, NULL);
}

/* ------------------------------------------------------- another job */

/*
 * A 3-shard job is aborted (shard 0 killed mid-walk, shard 1 done, shard 2
 * never run); a later job with another N, or the same N under another
 * --shard-id, is not confused by its leftovers (job file, crash notes): it
 * ends right, and its last shard removes them all.
 */
Test(shard, later_job_after_an_aborted_one)
{
	const enum mode m = SHIFT;
	const char *id_a[] = {"--shard-id=a", NULL}, *id_b[] = {"--shard-id=b", NULL};
	struct ref ref;
	char *dir;

	NEED_ROOT();
	ref = reference(&MIX, m, "vol", NULL);
	dir = strdup(tu_path(top, "vol"));

	for (int variant = 0; variant < 2; variant++) {
		unsigned n = variant ? 3 : 2;

		if (variant)
			gen(&MIX, dir, true);
		sample(dir, 2);
		run_and_kill(m, dir, 0, 3, smp.n / 12, id_a[0]);
		cr_assert_eq(run_shard(m, dir, 1, 3, id_a).status, 0);
		cr_assert(exists(tu_path(dir, ".volshift")), "the aborted job left nothing");
		for (unsigned k = 0; k < n; k++) {
			struct rep r = run_shard(m, dir, k, n, variant ? id_b : id_a);

			cr_assert_eq(r.status, 0, "later job, shard %u/%u", k, n);
			cr_assert_eq(r.planned, k == 0, "later job, shard %u/%u planned", k, n);
			cr_assert_eq(r.finished_root, k == n - 1);
			cr_assert_eq(r.shards_done, k + 1, "later job, shard %u/%u: %lld done", k,
			             n, r.shards_done);
		}
		nothing_left(dir, &ref,
		             variant ? "later job, other --shard-id" : "later job, other N");
		cr_assert(tree_done(m, dir));
	}
	drop_ref(&ref);
	free(dir);
}

/* ----------------------------------------------------------- dry run */

/*
 * A dry run of shard k of n makes the plan itself (the one the job's first
 * shard makes from the same tree), writes nothing and reports its part:
 * the same entries as that shard's real run (the root, the job's, is in
 * none: the last real shard counts it).
 */
Test(shard, dry_run_reports_its_part_and_writes_nothing)
{
	const char *dry[] = {"--dry-run", NULL};
	const unsigned n = 7;
	long long want[7], sum = 0, unsharded;
	struct snap orig;
	char *dir, *json = NULL;

	NEED_ROOT();
	dir = strdup(tu_path(top, "vol"));
	gen(&MIX, dir, false);
	orig = take(dir);
	cr_assert_eq(run(SHIFT, dir, 0, 0, dry, &json), 0);
	unsharded = tu_json_num(json, "entries");
	free(json);
	for (unsigned k = 0; k < n; k++) {
		struct rep r = run_shard(SHIFT, dir, k, n, dry);

		cr_assert_eq(r.status, 0);
		cr_assert(r.planned, "dry run %u/%u: made no plan", k, n);
		cr_assert_not(r.finished_root);
		cr_assert_gt(r.entries, 0, "dry run %u/%u: an empty part", k, n);
		want[k] = r.entries;
		sum += r.entries;
	}
	cr_assert_eq(sum + 1, unsharded, "the dry runs' parts add up to %lld, the tree has %lld",
	             sum, unsharded);
	same(&orig, dir, "dry runs");
	cr_assert_not(exists(tu_path(dir, ".volshift")), "a dry run wrote the job file");
	for (unsigned k = 0; k < n; k++) {
		struct rep r = run_shard(SHIFT, dir, k, n, NULL);

		cr_assert_eq(r.status, 0);
		cr_assert_eq(r.entries, want[k] + (k + 1 == n),
		             "shard %u/%u: %lld entries, its dry run %lld", k, n, r.entries,
		             want[k]);
	}
	drop(&orig);
	free(dir);
}

/* -------------------------------------------------------- bad input */

Test(shard, bad_shard_input_changes_nothing)
{
	static const char *const bad[] = {"--shard=3/3",    "--shard=1/0",  "--shard=x",
	                                  "--shard=1/5000", "--shard=-1/3", "--shard=1/3/4",
	                                  "--shard=/3",     "--shard=1/",   "--shard=1/+3"};
	struct snap orig;
	char *dir;

	NEED_ROOT();
	dir = strdup(tu_path(top, "vol"));
	gen(&SMALL, dir, false);
	orig = take(dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int mi = 0; mi < 2; mi++) {
			struct args a;
			char *out = NULL, *err = NULL;
			size_t lines = 0;
			int st;

			base(&a, mi ? SHIFT : FSGROUP);
			add(&a, bad[i]);
			add(&a, dir);
			st = tu_run(a.v, &out, &err);
			for (const char *p = err; *p; p++)
				lines += *p == '\n';
			cr_assert_eq(st, 2, "%s: exit %d", bad[i], st);
			cr_assert_eq(lines, 1, "%s: %zu lines on stderr: %s", bad[i], lines, err);
			free(out);
			free(err);
		}
	}
	same(&orig, dir, "bad --shard");
	cr_assert_not(exists(tu_path(dir, ".volshift")));
	drop(&orig);
	free(dir);
}
