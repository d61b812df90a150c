/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: faults of the storage underneath. bench/latfs, a FUSE
 * passthrough, is mounted over a temp tree inside a private mount namespace
 * (no delay) and fails chosen requests: for each of getdents, statx, chown,
 * chmod, getxattr and setxattr, four entries of one tree fail with EIO,
 * EACCES, ENOSPC and ESTALE, in shift (--map 0:524288:65536) and fsgroup
 * (--gid 2000) mode. The tree holds setuid and setgid files, files with a
 * capability, files and a directory with ACLs, symlinks (one leading out of
 * the tree), a hard link, among plain files and directories. Each case
 * checks, with the volshift CLI and its JSON report:
 *   - exit status 1, and every fault reported with the failing entry's path
 *     and errno, nothing else;
 *   - the walk went on: every other entry ends as one clean run leaves it;
 *   - the root stays un-matched: an on-root-mismatch run does not skip;
 *   - nothing outside the tree changed (a sibling directory);
 *   - that run, on a fresh mount without the faults, ends exactly where one
 *     clean run on an identical tree ends: owners, modes, and every xattr
 *     (capabilities, ACLs, no journal note left on the root).
 * The fresh mount is made while the faulted one still stands, so it has
 * another device number, as a volume re-attached after a failure (or a
 * reboot) would. Half the cases start with a root that already matched.
 * fsgroup runs use --engine=sync, shift runs auto (io_uring on FUSE), so
 * both engines meet the statx faults. Two more cases use latfs's every= and
 * count= rules, whose victims are not known in advance.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <linux/magic.h>
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
#include "xattr_util.h"

#define LATFS VS_BUILD_DIR "/bench/latfs"

#define MAP "0:524288:65536"
#define GID "2000"

static char *top;
static char skip_reason[256]; /* set by setup when the tests cannot run */

/* The latfs instances of the running test, unmounted in teardown. */
#define MAX_MOUNTS 4
static struct mnt {
	pid_t pid;
	char *path;
} mounts[MAX_MOUNTS];

/* Nothing is made unless the tests can run: criterion skips fini after a
 * skipped test. */
static void setup(void)
{
	if (!tu_is_root())
		snprintf(skip_reason, sizeof(skip_reason),
		         "needs root to chown files and mount FUSE");
	else if (access("/dev/fuse", R_OK | W_OK) != 0)
		snprintf(skip_reason, sizeof(skip_reason), "no usable /dev/fuse: %s",
		         strerror(errno));
	else if (access(LATFS, X_OK) != 0)
		snprintf(skip_reason, sizeof(skip_reason),
		         "%s is not built (libfuse3 was not found at build time)", LATFS);
	else if (!tu_private_mounts())
		snprintf(skip_reason, sizeof(skip_reason), "cannot make a private mount namespace");
	else
		top = tu_mkdtemp("faults");
}

static void latfs_umount(struct mnt *m);

static void teardown(void)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		latfs_umount(&mounts[i]);
	if (top)
		tu_rm_rf(top);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

static void need(void)
{
	if (!top)
		cr_skip_test("%s", skip_reason);
}

/* ------------------------------------------------------------- latfs */

static bool is_fuse(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC;
}

/* Mounts latfs over BACKING on a new directory NAME under top, with the
 * fault rules RULES (NULL-terminated, may be NULL). Returns the mount point. */
static const char *latfs_mount(const char *backing, const char *name, const char *const *rules)
{
	struct mnt *m = NULL;
	char *argv[32];
	int n = 0;

	for (int i = 0; i < MAX_MOUNTS && !m; i++)
		if (!mounts[i].path)
			m = &mounts[i];
	cr_assert(m, "too many latfs mounts");
	m->path = strdup(tu_path(top, name));
	cr_assert_eq(mkdir(m->path, 0755), 0, "mkdir %s: %s", m->path, strerror(errno));

	argv[n++] = LATFS;
	argv[n++] = "--foreground";
	argv[n++] = "--delay-us";
	argv[n++] = "0";
	argv[n++] = "--xattrs";
	for (; rules && *rules && n < 28; rules++) {
		argv[n++] = "--fail";
		argv[n++] = (char *)*rules;
	}
	argv[n++] = (char *)backing;
	argv[n++] = m->path;
	argv[n] = NULL;

	m->pid = fork();
	cr_assert_geq(m->pid, 0);
	if (m->pid == 0) {
		/* should the test die, latfs takes its mount away and ends */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(tu_path(top, "latfs.log"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		              0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 1000 && !is_fuse(m->path); i++) {
		int status;

		cr_assert_eq(waitpid(m->pid, &status, WNOHANG), 0, "latfs ended before it mounted");
		usleep(5000);
	}
	cr_assert(is_fuse(m->path), "latfs did not mount on %s within 5 s", m->path);
	return m->path;
}

/* Unmounts and waits for that latfs to end (it ends when unmounted). */
static void latfs_umount(struct mnt *m)
{
	int status;

	if (!m->path)
		return;
	if (umount2(m->path, 0) < 0)
		umount2(m->path, MNT_DETACH);
	for (int i = 0; i < 500 && waitpid(m->pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (waitpid(m->pid, &status, WNOHANG) == 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, &status, 0);
	}
	rmdir(m->path);
	free(m->path);
	m->path = NULL;
}

static void latfs_umount_at(const char *path)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (mounts[i].path && !strcmp(mounts[i].path, path)) {
			latfs_umount(&mounts[i]); /* path may be gone now */
			return;
		}
}

/* -------------------------------------------------------------- trees */

enum mode { SHIFT, FSGROUP };

static void set_cap(const char *path)
{
	uint8_t cap[20];

	xu_cap_v2(cap, true, 1u << 13 /* CAP_NET_RAW */, 0);
	cr_assert_eq(lsetxattr(path, "security.capability", cap, sizeof(cap), 0), 0,
	             "setting a capability on %s: %s", path, strerror(errno));
}

static void make_symlink(const char *target, const char *path, uid_t uid, gid_t gid)
{
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(lchown(path, uid, gid), 0);
}

/*
 * 36 entries; every name is unique, so a rule's name= picks one entry:
 *   plain suid sgid cap acl link out
 *   d1/ a1 a2 a3 cap1 suid1 sub/ s1 s2
 *   d2/ b1 b2 b3 cap2 suid2 hl (a hard link of d1/a1)
 *   d3/ c1 c2 c3 cap3 sgid3
 *   d4/ (access and default ACL) e1 e2 e3 acl4
 */
static void make_tree(const char *root, enum mode m, bool prematched)
{
	static const char *const files[] = {"d1/a1", "d1/a2", "d1/a3",     "d2/b1",    "d2/b2",
	                                    "d2/b3", "d3/c1", "d3/c2",     "d3/c3",    "d4/e1",
	                                    "d4/e2", "d4/e3", "d1/sub/s1", "d1/sub/s2"};

	tu_mkdir(root, 0, 0, 0755);
	tu_mkdir(tu_path(root, "d1"), 1000, 1000, 0755);
	tu_mkdir(tu_path(root, "d1/sub"), 0, 0, 0700);
	tu_mkdir(tu_path(root, "d2"), 0, 0, 0755);
	tu_mkdir(tu_path(root, "d3"), 1000, 1000, 0750);
	tu_mkdir(tu_path(root, "d4"), 0, 0, 0755);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		tu_mkfile(tu_path(root, files[i]), (i % 3) * 1000, (i % 2) * 1000,
		          i % 4 ? 0644 : 0600);
	tu_mkfile(tu_path(root, "plain"), 0, 0, 0644);
	tu_mkfile(tu_path(root, "suid"), 0, 0, 04755);
	tu_mkfile(tu_path(root, "sgid"), 1000, 1000, 02755);
	tu_mkfile(tu_path(root, "d1/suid1"), 1000, 0, 04750);
	tu_mkfile(tu_path(root, "d2/suid2"), 0, 0, 04755);
	tu_mkfile(tu_path(root, "d3/sgid3"), 1000, 1000, 02750);
	tu_mkfile(tu_path(root, "cap"), 0, 0, 0755);
	tu_mkfile(tu_path(root, "d1/cap1"), 0, 0, 0755);
	tu_mkfile(tu_path(root, "d2/cap2"), 1000, 1000, 0750);
	tu_mkfile(tu_path(root, "d3/cap3"), 0, 1000, 04755); /* setuid and a capability */
	tu_mkfile(tu_path(root, "acl"), 1000, 1000, 0640);
	tu_mkfile(tu_path(root, "d4/acl4"), 0, 0, 0640);
	cr_assert_eq(link(tu_path(root, "d1/a1"), tu_path(root, "d2/hl")), 0);
	make_symlink("plain", tu_path(root, "link"), 1000, 1000);
	make_symlink("../outside/secret", tu_path(root, "out"), 0, 0);
	set_cap(tu_path(root, "cap"));
	set_cap(tu_path(root, "d1/cap1"));
	set_cap(tu_path(root, "d2/cap2"));
	set_cap(tu_path(root, "d3/cap3"));
	cr_assert_eq(xu_acl_set(tu_path(root, "acl"), ACL_TYPE_ACCESS, 1001, 1002), 0);
	cr_assert_eq(xu_acl_set(tu_path(root, "d4/acl4"), ACL_TYPE_ACCESS, 0, 1000), 0);
	cr_assert_eq(xu_acl_set(tu_path(root, "d4"), ACL_TYPE_ACCESS, 1000, 1001), 0);
	cr_assert_eq(xu_acl_set(tu_path(root, "d4"), ACL_TYPE_DEFAULT, 1002, 0), 0);
	cr_assert_eq(chmod(tu_path(root, "d4"), 0755), 0);
	if (!prematched)
		return;
	/* the root already looks done; what is below it does not */
	if (m == FSGROUP) {
		cr_assert_eq(chown(root, 0, 2000), 0);
		cr_assert_eq(chmod(root, 02770), 0);
	} else {
		cr_assert_eq(chown(root, 524288, 524288), 0);
	}
}

/* A directory beside the tree, which the tree's symlink "out" leads into. */
static char *make_outside(void)
{
	char *out = strdup(tu_path(top, "outside"));

	tu_mkdir(out, 0, 0, 0755);
	tu_mkfile(tu_path(out, "secret"), 0, 0, 04755);
	set_cap(tu_path(out, "secret"));
	tu_mkdir(tu_path(out, "sub"), 1000, 1000, 0700);
	return out;
}

static struct {
	char **lines;
	size_t n, cap, root_len;
} xsnap;

static int xsnap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char names[4096], val[1024], *line;
	ssize_t len;
	size_t off;

	(void)st;
	(void)flag;
	(void)ftw;
	len = llistxattr(path, names, sizeof(names));
	cr_assert_geq(len, 0, "llistxattr %s: %s", path, strerror(errno));
	for (char *nm = names; nm < names + len; nm += strlen(nm) + 1) {
		ssize_t vl = lgetxattr(path, nm, val, sizeof(val));

		cr_assert_geq(vl, 0, "lgetxattr %s %s: %s", path, nm, strerror(errno));
		line = malloc(strlen(path) + strlen(nm) + 2 * (size_t)vl + 8);
		off = (size_t)sprintf(
		    line, "%s %s=", path[xsnap.root_len] ? path + xsnap.root_len : "/", nm);
		for (ssize_t i = 0; i < vl; i++)
			off += (size_t)sprintf(line + off, "%02x", (unsigned char)val[i]);
		if (xsnap.n == xsnap.cap) {
			xsnap.cap = xsnap.cap ? 2 * xsnap.cap : 64;
			xsnap.lines = realloc(xsnap.lines, xsnap.cap * sizeof(char *));
		}
		xsnap.lines[xsnap.n++] = line;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The tree as tree_snapshot sees it (owners, modes), then every xattr of
 * every entry, value in hex: capabilities, ACLs, volshift's notes. Lines
 * start with the path relative to root ("/" for root itself).
 */
static char *snapshot(const char *root)
{
	char *owners = tree_snapshot(root), *out;
	size_t total = strlen(owners) + 1, off;

	xsnap.n = 0;
	xsnap.root_len = strlen(root);
	cr_assert_eq(nftw(root, xsnap_one, 64, FTW_PHYS), 0);
	qsort(xsnap.lines, xsnap.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < xsnap.n; i++)
		total += strlen(xsnap.lines[i]) + 1;
	out = malloc(total);
	off = (size_t)sprintf(out, "%s", owners);
	for (size_t i = 0; i < xsnap.n; i++) {
		off += (size_t)sprintf(out + off, "%s\n", xsnap.lines[i]);
		free(xsnap.lines[i]);
	}
	free(xsnap.lines);
	xsnap.lines = NULL;
	xsnap.cap = 0;
	free(owners);
	return out;
}

/* Whether a snapshot line is about REL or (for a directory) something below
 * it. Lines start with "/" for the root, else with "/rel". */
static bool line_under(const char *line, const char *rel)
{
	size_t l = strlen(rel);

	return line[0] == '/' && !strncmp(line + 1, rel, l) &&
	       (line[1 + l] == ' ' || line[1 + l] == '/');
}

static bool line_is_root(const char *line)
{
	return line[0] == '/' && line[1] == ' ';
}

/* Copies the lines of SNAP that are neither the root's nor under one of
 * the N entries in SKIP. */
static char *filter(const char *snap, const char *const *skip, size_t n)
{
	char *out = malloc(strlen(snap) + 1), *o = out;

	for (const char *l = snap; *l;) {
		const char *e = strchrnul(l, '\n');
		bool keep = !line_is_root(l);

		for (size_t i = 0; keep && i < n; i++)
			keep = !line_under(l, skip[i]);
		if (keep) {
			memcpy(o, l, (size_t)(e - l));
			o += e - l;
			*o++ = '\n';
		}
		l = *e ? e + 1 : e;
	}
	*o = '\0';
	return out;
}

/* Whether two snapshots differ; if so, prints a diff of them to stderr
 * (tree_diff compares line by line: one missing line shifts all the rest). */
static bool differ(const char *want, const char *got)
{
	FILE *f;

	if (!strcmp(want, got))
		return false;
	cr_assert((f = fopen(tu_path(top, "want"), "w")) && fputs(want, f) >= 0 && !fclose(f));
	cr_assert((f = fopen(tu_path(top, "got"), "w")) && fputs(got, f) >= 0 && !fclose(f));
	tu_sh("cd '%s' && diff want got | head -20 >&2", top);
	return true;
}

/* ---------------------------------------------------------------- runs */

static int run(enum mode m, const char *path, bool on_root_mismatch, char **ret_json)
{
	const char *policy = on_root_mismatch ? "--policy=on-root-mismatch" : "--policy=always";
	char *err = NULL;
	int st;

	if (m == SHIFT)
		st = tu_volshift(ret_json, &err, "shift", "--map", MAP, policy, "--json", path,
		                 NULL);
	else
		st = tu_volshift(ret_json, &err, "fsgroup", "--gid", GID, "--engine=sync", policy,
		                 "--json", path, NULL);
	cr_assert_lt(st, 128, "volshift died of signal %d on %s", st - 128, path);
	free(err);
	return st;
}

static json_t *parse(const char *out)
{
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);

	cr_assert(j, "the report is not JSON (%s): %s", e.text, out);
	return j;
}

static long long jnum(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	cr_assert(v, "the report has no '%s'", key);
	return json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);
}

/* The state one clean run (through latfs, without faults) leaves. */
static char *reference(enum mode m, bool prematched)
{
	char *ref_root = strdup(tu_path(top, "ref")), *json = NULL, *snap;
	const char *mnt;

	make_tree(ref_root, m, prematched);
	mnt = latfs_mount(ref_root, "ref.mnt", NULL);
	cr_assert_eq(run(m, mnt, false, &json), 0, "the clean run failed: %s", json);
	latfs_umount_at(mnt);
	snap = snapshot(ref_root);
	free(json);
	free(ref_root);
	return snap;
}

struct fault {
	const char *rel;  /* the entry that fails, relative to the root */
	const char *errn; /* latfs's name of the errno */
	int err;
};

struct fault_case {
	const char *op;    /* latfs's operation */
	struct fault f[4]; /* one per errno */
};

/* Exactly the four faults are reported, each with its path and errno. */
static void expect_errors(json_t *rep, const char *mnt, const struct fault_case *c)
{
	json_t *errs = json_object_get(rep, "errors"), *e;
	size_t i;

	cr_assert(json_is_array(errs));
	cr_expect_eq(json_array_size(errs), 4, "%s: %zu errors reported, want 4", c->op,
	             json_array_size(errs));
	for (size_t k = 0; k < 4; k++) {
		char want[4096];
		bool found = false;

		snprintf(want, sizeof(want), "%s/%s", mnt, c->f[k].rel);
		json_array_foreach(errs, i, e)
		{
			const char *p = json_string_value(json_object_get(e, "path"));

			if (p && !strcmp(p, want)) {
				found = true;
				cr_expect_eq(json_integer_value(json_object_get(e, "errno")),
				             c->f[k].err, "%s on %s: errno %lld, want %d (%s)",
				             c->op, c->f[k].rel,
				             json_integer_value(json_object_get(e, "errno")),
				             c->f[k].err, c->f[k].errn);
			}
		}
		cr_expect(found, "%s:%s on %s: not reported with its path", c->op, c->f[k].errn,
		          c->f[k].rel);
	}
}

/*
 * After the faulted run, on a fresh mount (while the faulted one still
 * stands: another device number): an on-root-mismatch run must walk, and
 * end where the clean run ended. SKIP lists the entries whose own state the
 * faulted run may have left anywhere (failed, or below a failed directory).
 */
static void check_after(enum mode m, const char *what, const char *vroot, const char *ref,
                        const char *before_outside, const char *outside, const char *const *skip,
                        size_t n_skip)
{
	char *json = NULL, *snap, *a, *b;
	const char *mnt2;
	json_t *rep;
	int st;

	/* the walk went on: everything else is done */
	snap = snapshot(vroot);
	a = filter(ref, skip, n_skip);
	b = filter(snap, skip, n_skip);
	cr_expect(!differ(a, b), "%s: entries that did not fail differ from a clean run", what);
	free(a);
	free(b);
	free(snap);

	mnt2 = latfs_mount(vroot, "v.mnt2", NULL);
	latfs_umount_at(tu_path(top, "v.mnt"));
	st = run(m, mnt2, true, &json);
	rep = parse(json);
	cr_expect_eq(jnum(rep, "skipped"), 0, "%s: on-root-mismatch skipped a tree that failed: %s",
	             what, json);
	cr_expect_eq(st, 0, "%s: the run without faults exited %d: %s", what, st, json);
	cr_expect_eq(jnum(rep, "failed"), 0, "%s: %s", what, json);
	json_decref(rep);
	free(json);
	latfs_umount_at(mnt2);

	snap = snapshot(vroot);
	cr_expect(!differ(ref, snap),
	          "%s: after the fault is gone, the tree differs from one clean run", what);
	free(snap);
	snap = snapshot(outside);
	cr_expect(!differ(before_outside, snap), "%s: something outside the tree changed", what);
	free(snap);
}

static void fault_case(enum mode m, const struct fault_case *c, bool prematched)
{
	char *outside, *before_outside, *ref, *json = NULL, what[128];
	const char *rules[5], *skip[4], *mnt;
	char rulebuf[4][128];
	const char *vroot;
	json_t *rep;
	int st;

	need();
	snprintf(what, sizeof(what), "%s %s%s", m == SHIFT ? "shift" : "fsgroup", c->op,
	         prematched ? " (root matched before)" : "");
	outside = make_outside();
	before_outside = snapshot(outside);
	ref = reference(m, prematched);
	vroot = strdup(tu_path(top, "vol"));
	make_tree(vroot, m, prematched);

	for (int k = 0; k < 4; k++) {
		const char *base = strrchr(c->f[k].rel, '/');

		snprintf(rulebuf[k], sizeof(rulebuf[k]), "%s:%s:name=%s", c->op, c->f[k].errn,
		         base ? base + 1 : c->f[k].rel);
		rules[k] = rulebuf[k];
		skip[k] = c->f[k].rel;
	}
	rules[4] = NULL;
	mnt = latfs_mount(vroot, "v.mnt", rules);
	st = run(m, mnt, false, &json);
	rep = parse(json);
	cr_expect_eq(st, 1, "%s: exit status %d, want 1: %s", what, st, json);
	cr_expect_eq(jnum(rep, "failed"), 4, "%s: %s", what, json);
	cr_expect_eq(jnum(rep, "root_left_unmatched"), 1, "%s: %s", what, json);
	expect_errors(rep, mnt, c);
	json_decref(rep);
	free(json);

	check_after(m, what, vroot, ref, before_outside, outside, skip, 4);
	free(ref);
	free(before_outside);
	free(outside);
	free((char *)vroot);
}

/* --------------------------------------------------------------- cases */

static const struct fault_case getdents = {"getdents",
                                           {{"d1/sub", "EIO", EIO},
                                            {"d2", "EACCES", EACCES},
                                            {"d3", "ENOSPC", ENOSPC},
                                            {"d4", "ESTALE", ESTALE}}};

/* a file, a directory (nothing below it is reached), a setuid file, a symlink */
static const struct fault_case statx_ = {"statx",
                                         {{"plain", "EIO", EIO},
                                          {"d3", "EACCES", EACCES},
                                          {"suid", "ENOSPC", ENOSPC},
                                          {"link", "ESTALE", ESTALE}}};

/* a file, a file with a capability, a setuid file, a directory with ACLs */
static const struct fault_case chown_ = {"chown",
                                         {{"d1/a2", "EIO", EIO},
                                          {"cap", "EACCES", EACCES},
                                          {"d2/suid2", "ENOSPC", ENOSPC},
                                          {"d4", "ESTALE", ESTALE}}};

/* shift chmods only what the chown stripped: setuid and setgid files */
static const struct fault_case chmod_ = {"chmod",
                                         {{"suid", "EIO", EIO},
                                          {"sgid", "EACCES", EACCES},
                                          {"d1/suid1", "ENOSPC", ENOSPC},
                                          {"d3/sgid3", "ESTALE", ESTALE}}};

/* fsgroup reads capabilities only; shift also ACLs (a file, a directory) */
static const struct fault_case getxattr_fsgroup = {"getxattr",
                                                   {{"cap", "EIO", EIO},
                                                    {"d1/cap1", "EACCES", EACCES},
                                                    {"d2/cap2", "ENOSPC", ENOSPC},
                                                    {"d3/cap3", "ESTALE", ESTALE}}};
static const struct fault_case getxattr_shift = {"getxattr",
                                                 {{"cap", "EIO", EIO},
                                                  {"d1/cap1", "EACCES", EACCES},
                                                  {"acl", "ENOSPC", ENOSPC},
                                                  {"d4", "ESTALE", ESTALE}}};

/* the capability written back after the chown; shift: ACLs before it */
static const struct fault_case setxattr_fsgroup = {"setxattr",
                                                   {{"cap", "EIO", EIO},
                                                    {"d1/cap1", "EACCES", EACCES},
                                                    {"d2/cap2", "ENOSPC", ENOSPC},
                                                    {"d3/cap3", "ESTALE", ESTALE}}};
static const struct fault_case setxattr_shift = {"setxattr",
                                                 {{"cap", "EIO", EIO},
                                                  {"d3/cap3", "EACCES", EACCES},
                                                  {"acl", "ENOSPC", ENOSPC},
                                                  {"d4", "ESTALE", ESTALE}}};

Test(faults, shift_getdents)
{
	fault_case(SHIFT, &getdents, false);
}

Test(faults, shift_statx)
{
	fault_case(SHIFT, &statx_, true);
}

Test(faults, shift_chown)
{
	fault_case(SHIFT, &chown_, false);
}

Test(faults, shift_chmod)
{
	fault_case(SHIFT, &chmod_, true);
}

Test(faults, shift_getxattr)
{
	fault_case(SHIFT, &getxattr_shift, false);
}

Test(faults, shift_setxattr)
{
	fault_case(SHIFT, &setxattr_shift, true);
}

Test(faults, fsgroup_getdents)
{
	fault_case(FSGROUP, &getdents, true);
}

Test(faults, fsgroup_statx)
{
	fault_case(FSGROUP, &statx_, false);
}

Test(faults, fsgroup_chown)
{
	fault_case(FSGROUP, &chown_, true);
}

Test(faults, fsgroup_chmod)
{
	fault_case(FSGROUP, &chmod_, false);
}

Test(faults, fsgroup_getxattr)
{
	fault_case(FSGROUP, &getxattr_fsgroup, true);
}

Test(faults, fsgroup_setxattr)
{
	fault_case(FSGROUP, &setxattr_fsgroup, false);
}

/*
 * Faults that land where they land: every 7th lookup or getattr fails with
 * EIO, and two chowns, every 3rd, with ENOSPC (not ESTALE: the kernel retries
 * a call that met ESTALE once, and the retry is not an n-th call). Whatever
 * failed is reported inside the tree, and the run without faults still ends
 * where a clean run does.
 */
static void scattered_case(enum mode m)
{
	static const char *const rules[] = {"statx:EIO:every=7", "chown:ENOSPC:every=3:count=2",
	                                    NULL};
	char *outside, *before_outside, *ref, *json = NULL, what[64], prefix[4096];
	const char **skip;
	const char *vroot, *mnt;
	json_t *rep, *errs, *e;
	long long failed;
	size_t i, n_skip = 0;
	int st;

	need();
	snprintf(what, sizeof(what), "%s every=/count=", m == SHIFT ? "shift" : "fsgroup");
	outside = make_outside();
	before_outside = snapshot(outside);
	ref = reference(m, false);
	vroot = strdup(tu_path(top, "vol"));
	make_tree(vroot, m, false);

	mnt = latfs_mount(vroot, "v.mnt", rules);
	st = run(m, mnt, false, &json);
	rep = parse(json);
	failed = jnum(rep, "failed");
	cr_expect_eq(st, failed ? 1 : 0, "%s: exit %d with %lld failed: %s", what, st, failed,
	             json);
	cr_expect_geq(failed, 3, "%s: the rules should have failed some entries: %s", what, json);
	errs = json_object_get(rep, "errors");
	cr_assert(json_is_array(errs));
	cr_expect_eq((long long)json_array_size(errs), failed < 10 ? failed : 10, "%s: %s", what,
	             json);
	skip = calloc(2 * json_array_size(errs) + 1, sizeof(*skip));
	snprintf(prefix, sizeof(prefix), "%s/", mnt);
	json_array_foreach(errs, i, e)
	{
		const char *p = json_string_value(json_object_get(e, "path"));
		long long err = json_integer_value(json_object_get(e, "errno"));

		cr_expect(err == EIO || err == ENOSPC, "%s: errno %lld on %s", what, err, p);
		/* the root can fail too (its last statx), or an entry below */
		if (p && !strcmp(p, mnt))
			continue;
		cr_assert(p && !strncmp(p, prefix, strlen(prefix)), "%s: error path '%s'", what, p);
		skip[n_skip++] = strdup(p + strlen(prefix));
		/* the other name of the hard link shows what this one did */
		if (!strcmp(p + strlen(prefix), "d1/a1") || !strcmp(p + strlen(prefix), "d2/hl"))
			skip[n_skip++] = strdup(p[strlen(prefix) + 1] == '1' ? "d2/hl" : "d1/a1");
	}
	json_decref(rep);
	free(json);

	check_after(m, what, vroot, ref, before_outside, outside, skip, n_skip);
	for (i = 0; i < n_skip; i++)
		free((char *)skip[i]);
	free(skip);
	free(ref);
	free(before_outside);
	free(outside);
	free((char *)vroot);
}

Test(faults, shift_every_and_count)
{
	scattered_case(SHIFT);
}

Test(faults, fsgroup_every_and_count)
{
	scattered_case(FSGROUP);
}
