/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: volshift short of memory, and on paths longer than PATH_MAX.
 *
 * Memory: runs under an RLIMIT_AS set in the child before exec, stepped up
 * from the smallest limit under which the binary starts at all, and under
 * a cgroup (v1) memory limit, stepped up likewise, on a tree of 3000
 * directories whose root already matched (so a failed run has something to
 * un-match). Every run must end one of these ways, never any other (no
 * crash, no abort, no half-finished root):
 *   - exit 0 and the tree exactly as an unlimited run leaves it;
 *   - exit 3, one line on stderr, and the tree untouched (could not start);
 *   - exit 1 (failed mid-walk), or killed by the OOM killer once something
 *     changed: the root no longer matches, and a later on-root-mismatch run
 *     does not skip and finishes the tree;
 *   - killed by the OOM killer before anything changed.
 * The scans must find a limit where volshift cannot start and one where it
 * fails mid-walk (RLIMIT_AS), and one where it is killed mid-walk (cgroup).
 *
 * Long paths: 40 levels of 255-byte names (10 KB paths, made with mkdirat
 * and openat) are walked fully, and an immutable file at the bottom is
 * reported with its full path, which leads to that file, component by
 * component, also without /proc.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "tree.h"

static char *top, *root, *cgroup;
static bool on_tmpfs;
static int immutable_fd = -1; /* an fd on the file made immutable */

static void setup(void)
{
	if (!tu_is_root())
		return;
	umask(022);
	top = tu_mkdtemp("resources");
	root = strdup(tu_path(top, "vol"));
	tu_mkdir(root, 0, 0, 0755);
}

/* Removes everything below dirfd through fds: tu_rm_rf (nftw) stops where
 * paths pass PATH_MAX. */
static void rm_below(int dirfd)
{
	DIR *d = fdopendir(dup(dirfd));
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_DIR) {
			unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			rm_below(sub);
			close(sub);
		}
		unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

static void remove_run_group(void);

static void teardown(void)
{
	if (immutable_fd >= 0) {
		int flags = 0;

		ioctl(immutable_fd, FS_IOC_SETFLAGS, &flags);
		close(immutable_fd);
		immutable_fd = -1;
	}
	if (on_tmpfs)
		umount2(root, MNT_DETACH);
	on_tmpfs = false;
	if (root) {
		int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0) {
			rm_below(fd);
			close(fd);
		}
	}
	if (cgroup) {
		remove_run_group();
		/* the killed runs are reaped; their charges go with the group */
		for (int i = 0; i < 50 && rmdir(cgroup) < 0 && errno == EBUSY; i++)
			usleep(20000);
		free(cgroup);
		cgroup = NULL;
	}
	if (top)
		tu_rm_rf(top);
	top = NULL;
}

TestSuite(resources, .init = setup, .fini = teardown, .timeout = 300);

/* criterion runs no .fini after a skip: clean up first (errno kept for
 * the reason) */
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		int saved_errno_ = errno;                                                          \
		teardown();                                                                        \
		errno = saved_errno_;                                                              \
		cr_skip_test(__VA_ARGS__);                                                         \
	} while (0)

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (!tu_is_root())                                                                 \
			SKIP("needs root to chown files");                                         \
	} while (0)

/* ------------------------------------------------------------------ memory */

#define N_SUBDIRS 3000

enum mode { FSGROUP, SHIFT };

/* The tree as it was made: root matched already, the rest not done. */
static void reset_tree(enum mode m)
{
	for (unsigned i = 0; i < N_SUBDIRS; i++) {
		char rel[32];

		snprintf(rel, sizeof(rel), "d%04u", i);
		cr_assert_eq(lchown(tu_path(root, rel), 0, 0), 0);
		cr_assert_eq(chmod(tu_path(root, rel), 0755), 0);
		snprintf(rel, sizeof(rel), "d%04u/f", i);
		cr_assert_eq(lchown(tu_path(root, rel), 0, 0), 0);
		cr_assert_eq(chmod(tu_path(root, rel), 0644), 0);
	}
	if (m == FSGROUP) {
		cr_assert_eq(chown(root, 0, 2000), 0);
		cr_assert_eq(chmod(root, 02775), 0);
	} else {
		cr_assert_eq(chown(root, 524288, 524288), 0);
		cr_assert_eq(chmod(root, 0755), 0);
	}
}

/* On a tmpfs of its own where a private mount namespace allows: the scans
 * reset the tree ~100 times, and chown on tmpfs costs no journal. */
static void make_tree(enum mode m)
{
	if (tu_private_mounts() && mount("tmpfs", root, "tmpfs", 0, "mode=0755") == 0)
		on_tmpfs = true;
	for (unsigned i = 0; i < N_SUBDIRS; i++) {
		char rel[32];

		snprintf(rel, sizeof(rel), "d%04u", i);
		cr_assert_eq(mkdir(tu_path(root, rel), 0755), 0);
		snprintf(rel, sizeof(rel), "d%04u/f", i);
		tu_mkfile(tu_path(root, rel), 0, 0, 0644);
	}
	reset_tree(m);
}

/* Whether the root says the tree is done, as on-root-mismatch reads it:
 * kubelet's rule for fsgroup; for shift the root in the TO range and the
 * mark a finished shift leaves (trusted.volshift.done, naming its map). */
static bool root_matches(enum mode m)
{
	char mark[128];
	struct stat st;
	ssize_t n;

	cr_assert_eq(lstat(root, &st), 0);
	if (m == FSGROUP)
		return st.st_gid == 2000 && (st.st_mode & 0770) == 0770 && (st.st_mode & S_ISGID);
	n = getxattr(root, "trusted.volshift.done", mark, sizeof(mark) - 1);
	if (n < 0)
		return false;
	mark[n] = '\0';
	return st.st_uid >= 524288 && st.st_uid < 524288 + 65536 && st.st_gid >= 524288 &&
	       st.st_gid < 524288 + 65536 &&
	       !strcmp(mark, "shift uid 0:524288:65536 gid 0:524288:65536");
}

static const char *engine = "--engine=sync";

static char *const *args(enum mode m, const char *policy, const char *path)
{
	static char *v[12];
	static char pol[48];
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
	v[n++] = "--jobs=8";
	v[n++] = (char *)engine;
	v[n++] = "--quiet";
	v[n++] = (char *)path;
	v[n] = NULL;
	return v;
}

/* Runs argv with its address space limited to as_bytes (0: not limited) and
 * in the cgroup at cg_procs (NULL: none), both set in the child before exec.
 * Returns the exit status or 128+signal; stderr in *ret_err. */
static int run_limited(char *const argv[], rlim_t as_bytes, const char *cg_procs, char **ret_err)
{
	char tmpl[] = "/tmp/vs-res-err-XXXXXX";
	int fe = mkstemp(tmpl), status;
	struct stat st;
	pid_t pid;

	cr_assert(fe >= 0);
	unlink(tmpl);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		struct rlimit rl = {as_bytes, as_bytes};

		dup2(null, 0);
		dup2(null, 1);
		dup2(fe, 2);
		if (cg_procs) {
			char pid_s[32];
			int n = snprintf(pid_s, sizeof(pid_s), "%d\n", (int)getpid());
			int cg = open(cg_procs, O_WRONLY | O_CLOEXEC);

			if (cg < 0 || write(cg, pid_s, (size_t)n) != n)
				_exit(126);
			close(cg);
		}
		if (as_bytes && setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	cr_assert(pid > 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cr_assert(fstat(fe, &st) == 0);
	*ret_err = calloc(1, (size_t)st.st_size + 1);
	cr_assert(pread(fe, *ret_err, (size_t)st.st_size, 0) == st.st_size);
	close(fe);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

struct outcomes {
	unsigned done, cannot_start, failed_mid_walk, killed_mid_walk, killed_before;
	unsigned consecutive_done;
};

/*
 * Judges one limited run (before: the tree's snapshot before it, done: what
 * an unlimited run leaves) and puts the tree back for the next one.
 */
static void judge(enum mode m, const char *what, int st, const char *err, bool oom_killed,
                  const char *before, const char *done, struct outcomes *o)
{
	char *now = tree_snapshot(root), *rerr = NULL;
	bool untouched = strcmp(now, before) == 0;
	int rst;

	if (st == 0) {
		cr_assert_eq(tree_diff(done, now), 0, "%s: exit 0, but the tree is not done", what);
		o->done++;
		o->consecutive_done++;
		free(now);
		reset_tree(m);
		return;
	}
	o->consecutive_done = 0;
	if (st == 3) {
		cr_assert(!strncmp(err, "volshift: ", 10) &&
		              strchr(err, '\n') == err + strlen(err) - 1,
		          "%s: exit 3 wants one line on stderr, got '%s'", what, err);
		cr_assert(untouched, "%s: exit 3 (could not start), but the tree changed", what);
		o->cannot_start++;
		free(now);
		return;
	}
	cr_assert(st == 1 || (st == 128 + SIGKILL && oom_killed),
	          "%s: exit %d (%s): neither done, nor a clean failure", what, st, err);
	if (st != 1 && untouched) {
		o->killed_before++; /* as if it never ran: nothing to check */
		free(now);
		return;
	}
	/* it changed things and stopped: the root must not look done */
	cr_assert(!root_matches(m), "%s: exit %d left a root that looks done", what, st);
	rst = run_limited(args(m, "on-root-mismatch", root), 0, NULL, &rerr);
	cr_assert_eq(rst, 0, "%s: the on-root-mismatch re-run exits %d: %s", what, rst, rerr);
	free(now);
	now = tree_snapshot(root);
	cr_assert_eq(tree_diff(done, now), 0, "%s: the re-run skipped or did not finish", what);
	if (st == 1)
		o->failed_mid_walk++;
	else
		o->killed_mid_walk++;
	free(now);
	free(rerr);
	reset_tree(m);
}

/* The snapshots before a run and after a full one. */
static void reference(enum mode m, char **before, char **done)
{
	char *err = NULL;

	reset_tree(m);
	*before = tree_snapshot(root);
	cr_assert_eq(run_limited(args(m, "always", root), 0, NULL, &err), 0, "%s", err);
	free(err);
	*done = tree_snapshot(root);
	cr_assert_str_neq(*before, *done);
	reset_tree(m);
}

static int run_in_cgroup(char *const argv[], unsigned long long lim, char **ret_err, bool *ret_oom);

/* Whether volshift starts and answers bad input under an RLIMIT_AS of lim,
 * or (in_cgroup) in a memory cgroup limited to lim. */
static bool starts_under(rlim_t lim, bool in_cgroup)
{
	char *const bad[] = {(char *)VS_BIN,          "fsgroup", "--gid", "2000",
	                     "/nonexistent/volshift", NULL};
	char *err;
	bool oom;
	int st =
	    in_cgroup ? run_in_cgroup(bad, lim, &err, &oom) : run_limited(bad, lim, NULL, &err);

	free(err);
	return st == 2;
}

/* The smallest such limit (to 4 KiB); 0 when none up to 64 MiB is enough
 * (a sanitizer build reserves terabytes of shadow memory). */
static rlim_t smallest_start(bool in_cgroup)
{
	rlim_t lo = 64 << 10, hi = 64 << 20;

	if (!starts_under(hi, in_cgroup))
		return 0;
	while (hi - lo > 4096) {
		rlim_t mid = (lo + hi) / 2 & ~(rlim_t)4095;

		if (starts_under(mid, in_cgroup))
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

static void rlimit_as_case(enum mode m)
{
	struct outcomes o = {0};
	char *before, *done;
	rlim_t start, as;

	NEED_ROOT();
	make_tree(m);
	start = smallest_start(false);
	if (!start)
		SKIP("volshift does not start under any RLIMIT_AS up to 64 MiB "
		     "(a sanitizer build?)");
	reference(m, &before, &done);
	/* up from there until the runs succeed, 8 in a row */
	for (as = start; o.consecutive_done < 8 && as < start + (32 << 20); as += 16 << 10) {
		char what[64], *err = NULL;
		int st = run_limited(args(m, "always", root), as, NULL, &err);

		snprintf(what, sizeof(what), "RLIMIT_AS %llu KiB", (unsigned long long)(as >> 10));
		judge(m, what, st, err, false, before, done, &o);
		free(err);
	}
	cr_log_info("RLIMIT_AS from %llu KiB (%s): %u could not start, %u failed mid-walk, %u done",
	            (unsigned long long)(start >> 10), engine, o.cannot_start, o.failed_mid_walk,
	            o.done);
	cr_assert_eq(o.consecutive_done, 8, "no limit up to +32 MiB lets the run finish");
	cr_assert_geq(o.cannot_start, 1, "no limit found where volshift cannot start");
	cr_assert_geq(o.failed_mid_walk, 1, "no limit found where the walk fails mid-way");
	free(before);
	free(done);
}

/* io_uring when it works here: its rings are what runs out first. */
static void pick_uring(void)
{
	char *const probe[] = {(char *)VS_BIN,   "shift",     "--map",
	                       "0:524288:65536", "--dry-run", "--quiet",
	                       "--engine=uring", root,        NULL};
	char *err;

	if (run_limited(probe, 0, NULL, &err) == 0)
		engine = "--engine=uring";
	else
		cr_log_info("io_uring is not available here (%s): the sync engine runs", err);
	free(err);
}

Test(resources, fsgroup_under_rlimit_as)
{
	rlimit_as_case(FSGROUP);
}

Test(resources, shift_under_rlimit_as)
{
	NEED_ROOT();
	pick_uring();
	rlimit_as_case(SHIFT);
}

/* The test's memory cgroup (v1), in `cgroup`; false (and why) without one. */
static bool make_cgroup(const char **why)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/volshift-test-%d", (int)getpid());
	if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) < 0) {
		*why = "no cgroup v1 memory controller at /sys/fs/cgroup/memory";
		return false;
	}
	if (mkdir(path, 0755) < 0) {
		*why = strerror(errno);
		return false;
	}
	cgroup = strdup(path);
	return true;
}

static void cg_write(const char *group, const char *file, unsigned long long v)
{
	FILE *f = fopen(tu_path(group, file), "w");

	cr_assert(f, "%s: %s", file, strerror(errno));
	fprintf(f, "%llu\n", v);
	cr_assert_eq(fclose(f), 0, "%s = %llu: %s", file, v, strerror(errno));
}

static unsigned long long oom_kills(const char *group)
{
	FILE *f = fopen(tu_path(group, "memory.oom_control"), "r");
	unsigned long long n = 0;
	char key[64];

	cr_assert(f);
	while (fscanf(f, "%63s %llu", key, &n) == 2 && strcmp(key, "oom_kill"))
		n = 0;
	fclose(f);
	return n;
}

/* The child group of ours each run gets. */
static const char *run_group(void)
{
	static char path[160];

	snprintf(path, sizeof(path), "%s/run", cgroup);
	return path;
}

static void remove_run_group(void)
{
	for (int i = 0; i < 50 && rmdir(run_group()) < 0 && errno == EBUSY; i++)
		usleep(20000);
}

/*
 * Runs argv in a fresh child group of ours limited to lim, and removes it:
 * a group keeps charges (dentries, inodes) after its tasks are gone and
 * refuses a limit below them, so runs do not share one. *ret_oom says
 * whether the OOM killer acted in it.
 */
static int run_in_cgroup(char *const argv[], unsigned long long lim, char **ret_err, bool *ret_oom)
{
	char procs[200];
	int st;

	cr_assert_eq(mkdir(run_group(), 0755), 0, "%s: %s", run_group(), strerror(errno));
	cg_write(run_group(), "memory.limit_in_bytes", lim);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", run_group());
	st = run_limited(argv, 0, procs, ret_err);
	*ret_oom = oom_kills(run_group()) > 0;
	remove_run_group();
	return st;
}

static void cgroup_case(enum mode m)
{
	struct outcomes o = {0};
	unsigned long long start, step;
	const char *why = NULL;
	char *before, *done;

	NEED_ROOT();
	if (!make_cgroup(&why))
		SKIP("cannot make a memory cgroup: %s", why);
	make_tree(m);
	reference(m, &before, &done);
	start = smallest_start(true);
	if (!start)
		SKIP("volshift does not start in a 64 MiB memory cgroup");
	/* up from there, in steps that suit a sanitizer build's appetite too */
	step = start / 16 > (64 << 10) ? start / 16 : 64 << 10;
	for (unsigned long long lim = start; o.consecutive_done < 3 && lim <= 64ull << 20;
	     lim += lim < start + 64 * step ? step : lim / 4) {
		char what[64], *err = NULL;
		bool oom;
		int st = run_in_cgroup(args(m, "always", root), lim, &err, &oom);

		snprintf(what, sizeof(what), "memory cgroup limit %llu KiB", lim >> 10);
		judge(m, what, st, err, oom, before, done, &o);
		free(err);
	}
	cr_log_info("cgroup from %llu KiB: %u killed before any change, %u killed mid-walk, %u "
	            "could not start, %u failed, %u done",
	            start >> 10, o.killed_before, o.killed_mid_walk, o.cannot_start,
	            o.failed_mid_walk, o.done);
	cr_assert_eq(o.consecutive_done, 3, "no limit up to 64 MiB lets the run finish");
	cr_assert_geq(o.killed_mid_walk + o.failed_mid_walk, 1,
	              "no limit found where the walk stops mid-way");
	free(before);
	free(done);
}

Test(resources, fsgroup_under_memory_cgroup)
{
	cgroup_case(FSGROUP);
}

Test(resources, shift_under_memory_cgroup)
{
	cgroup_case(SHIFT);
}

/* -------------------------------------------------------------- long paths */

#define LEVELS 40

/* The name of level i: 255 bytes. */
static const char *level_name(unsigned i)
{
	static char n[256];

	memset(n, 'a' + (char)(i % 26), 255);
	n[255] = '\0';
	snprintf(n, 4, "%02u", i);
	n[2] = '_';
	return n;
}

/* LEVELS nested directories below root, a file "f" in each and "stuck" at
 * the bottom. Returns an fd on the bottom directory. */
static int make_deep(void)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	cr_assert(fd >= 0);
	for (unsigned i = 0; i < LEVELS; i++) {
		int f = openat(fd, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), nfd;

		cr_assert(f >= 0);
		close(f);
		cr_assert_eq(mkdirat(fd, level_name(i), 0755), 0);
		nfd = openat(fd, level_name(i), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cr_assert(nfd >= 0);
		close(fd);
		fd = nfd;
	}
	return fd;
}

/* Every level and every file below root has gid 2000 and fsgroup's mode. */
static void assert_deep_done(int stuck_level_fd, bool all)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned bad = 0;

	cr_assert(fd >= 0);
	for (unsigned i = 0; i < LEVELS; i++) {
		struct stat f, d;
		int nfd;

		cr_assert_eq(fstatat(fd, "f", &f, AT_SYMLINK_NOFOLLOW), 0);
		cr_assert_eq(fstatat(fd, level_name(i), &d, AT_SYMLINK_NOFOLLOW), 0);
		bad += f.st_gid != 2000 || (f.st_mode & 07777) != 0664;
		bad += d.st_gid != 2000 || (d.st_mode & 07777) != 02775;
		nfd = openat(fd, level_name(i), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = nfd;
	}
	if (all) {
		struct stat s;

		cr_assert_eq(fstatat(stuck_level_fd, "stuck", &s, AT_SYMLINK_NOFOLLOW), 0);
		bad += s.st_gid != 2000;
	}
	close(fd);
	cr_assert_eq(bad, 0, "%u entries of the deep tree were not changed", bad);
}

/* Follows path (absolute, longer than PATH_MAX) one component at a time;
 * the inode it leads to, or fails. */
static struct stat follow(const char *path)
{
	char *copy = strdup(path), *save = NULL;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st = {0};
	char *last = NULL;

	cr_assert_eq(path[0], '/', "not absolute: %.80s", path);
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (last) {
			int nfd = openat(fd, last, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			cr_assert(nfd >= 0, "component '%.40s...' of the path: %s", last,
			          strerror(errno));
			close(fd);
			fd = nfd;
		}
		last = c;
	}
	cr_assert(last);
	cr_assert_eq(fstatat(fd, last, &st, AT_SYMLINK_NOFOLLOW), 0, "%s", strerror(errno));
	close(fd);
	free(copy);
	return st;
}

/* The report of fsgroup --json (exit st, -1: unknown) must have one error,
 * EPERM, whose path leads to the stuck file. */
static void assert_error_names(int bottom, const char *out, int st)
{
	json_t *rep = json_loads(out ? out : "", 0, NULL), *errs;
	struct stat want, got;
	const char *path;

	cr_assert(rep, "no JSON report: %s", out);
	cr_assert(st == 1 || st < 0, "exit %d: %s", st, out);
	cr_assert_eq(json_integer_value(json_object_get(rep, "status")), 1, "%s", out);
	errs = json_object_get(rep, "errors");
	cr_assert_eq(json_integer_value(json_object_get(rep, "failed")), 1, "%s", out);
	cr_assert_eq(json_array_size(errs), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(errs, 0), "errno")), EPERM);
	path = json_string_value(json_object_get(json_array_get(errs, 0), "path"));
	cr_assert(path && strlen(path) > PATH_MAX, "path: %s", path);
	cr_assert(!strncmp(path, root, strlen(root)), "not below the root: %.100s", path);
	got = follow(path);
	cr_assert_eq(fstatat(bottom, "stuck", &want, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert(got.st_ino == want.st_ino && got.st_dev == want.st_dev,
	          "the reported path leads somewhere else");
	json_decref(rep);
}

Test(resources, paths_longer_than_path_max)
{
	char *out = NULL;
	int bottom, flags = FS_IMMUTABLE_FL, st;

	NEED_ROOT();
	bottom = make_deep();
	immutable_fd = openat(bottom, "stuck", O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert(immutable_fd >= 0);

	/* without the stuck file first: every level is reached */
	st = tu_volshift(&out, NULL, "fsgroup", "--gid", "2000", "--json", root, NULL);
	cr_assert_eq(st, 0, "%s", out);
	cr_assert_eq(tu_json_num(out, "entries"), 2 * LEVELS + 2, "%s", out);
	assert_deep_done(bottom, true);
	free(out);

	cr_assert_eq(fchown(immutable_fd, 0, 0), 0);
	if (ioctl(immutable_fd, FS_IOC_SETFLAGS, &flags) < 0)
		SKIP("cannot make a file immutable here: %s", strerror(errno));
	st = tu_volshift(&out, NULL, "fsgroup", "--gid", "2000", "--json", root, NULL);
	assert_error_names(bottom, out, st);
	free(out);
	close(bottom);
}

/* fsgroup --json on root in a mount namespace of its own without /proc, as
 * in a container that has none; 125 when that cannot be had. */
static int fsgroup_without_proc(char **ret_out)
{
	char tmpl[] = "/tmp/vs-res-out-XXXXXX";
	int fo = mkstemp(tmpl), status;
	struct stat st;
	pid_t pid;

	cr_assert(fo >= 0);
	unlink(tmpl);
	pid = fork();
	if (pid == 0) {
		char *const argv[] = {(char *)VS_BIN, "fsgroup", "--gid", "2000",
		                      "--json",       root,      NULL};
		int null = open("/dev/null", O_WRONLY);

		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    umount2("/proc", MNT_DETACH) < 0)
			_exit(125);
		dup2(null, 2);
		dup2(fo, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	cr_assert(pid > 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cr_assert(fstat(fo, &st) == 0);
	*ret_out = calloc(1, (size_t)st.st_size + 1);
	cr_assert(pread(fo, *ret_out, (size_t)st.st_size, 0) == st.st_size);
	close(fo);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(resources, paths_longer_than_path_max_without_proc)
{
	char *out = NULL;
	int bottom, flags = FS_IMMUTABLE_FL, st;

	NEED_ROOT();
	bottom = make_deep();
	immutable_fd = openat(bottom, "stuck", O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert(immutable_fd >= 0);
	if (ioctl(immutable_fd, FS_IOC_SETFLAGS, &flags) < 0)
		SKIP("cannot make a file immutable here: %s", strerror(errno));
	st = fsgroup_without_proc(&out);
	if (st == 125)
		SKIP("cannot unmount /proc in a mount namespace of its own");
#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer needs /proc at exit (it cannot even read its options
	 * without it) and exits 1 itself: only the report tells how we ended */
	st = -1;
#endif
	assert_error_names(bottom, out, st);
	assert_deep_done(bottom, false);
	free(out);
	close(bottom);
}
