/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: ownership that chown alone gets wrong, on ext4, tmpfs, xfs,
 * btrfs and ramfs. A volume holds a file with an access ACL naming user 1000
 * and group 2000, a directory with a default ACL, a binary with a v2 file
 * capability (cap_net_raw+ep, as setcap writes it), a setuid-root and a
 * setgid file. After `volshift shift --map 0:524288:65536` the kernel's own
 * view from inside a user namespace with that map must be the original one
 * (ACL qualifiers 1000/2000, a plain v2 capability, setuid and setgid set);
 * outside, the capability is v3 with rootid 524288. --reverse gives back the
 * original bytes exactly; fsgroup keeps the capability bytes and the setuid
 * and setgid bits. ramfs has no xattrs: nothing to do there, no failure.
 * xfs and btrfs are made on loop devices; without losetup/mkfs the tests skip.
 * Per filesystem, shift_and_reverse checks everything seen from the host
 * (owners, raw xattr bytes, a second run, --reverse) and needs no user
 * namespace; shift_seen_from_userns adds the view from inside, and is the
 * only one that skips without user namespaces (the reason says what the
 * kernel answered). Needs root.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "kernel.h"
#include "testutil.h"
#include "xattr_util.h"

#define BASE 524288U
#define MAP  "0:524288:65536"

#define CAP_NET_RAW_BIT (1U << 13)

enum fs_kind { FS_EXT4, FS_TMPFS, FS_XFS, FS_BTRFS, FS_RAMFS };

static const char *const fs_names[] = {"ext4", "tmpfs", "xfs", "btrfs", "ramfs"};

/* One test's volume: tmp (a fresh dir), mnt (the filesystem), vol (the tree
 * volshift is pointed at, one level below the filesystem's root). */
struct env {
	enum fs_kind kind;
	char *tmp;
	char mnt[4096];
	char vol[4200];
	char img[4096];
	char loopdev[64];
	bool mounted;
};

static struct env E;

static bool has_xattrs(enum fs_kind k)
{
	return k != FS_RAMFS;
}

static void detach_loop(void)
{
	if (E.loopdev[0]) {
		char *argv[] = {"/usr/sbin/losetup", "-d", E.loopdev, NULL};
		tu_run(argv, NULL, NULL);
		E.loopdev[0] = '\0';
	}
}

/* losetup -f --show IMG; false (and a reason) when there is no loop device. */
static bool attach_loop(char *why, size_t why_size)
{
	char *argv[] = {"/usr/sbin/losetup", "-f", "--show", E.img, NULL};
	char *out = NULL, *err = NULL;
	int st;

	if (access("/dev/loop-control", F_OK) < 0) {
		snprintf(why, why_size, "no /dev/loop-control: %s", strerror(errno));
		return false;
	}
	st = tu_run(argv, &out, &err);
	if (st == 0 && out && !strncmp(out, "/dev/", 5)) {
		snprintf(E.loopdev, sizeof(E.loopdev), "%.*s", (int)strcspn(out, "\n"), out);
	} else {
		snprintf(why, why_size, "losetup failed (%d): %.200s", st, err ? err : "");
	}
	free(out);
	free(err);
	return E.loopdev[0] != '\0';
}

static void fs_up(enum fs_kind kind)
{
	char why[512] = "";
	struct statfs sfs;

	memset(&E, 0, sizeof(E));
	E.kind = kind;
	if (!tu_is_root())
		cr_skip_test("needs root (chown, security.capability, mounts)");
	E.tmp = tu_mkdtemp(fs_names[kind]);
	/* the user-namespaced child must be able to walk down to the volume */
	cr_assert_eq(chmod(E.tmp, 0755), 0);
	snprintf(E.mnt, sizeof(E.mnt), "%s/mnt", E.tmp);
	cr_assert_eq(mkdir(E.mnt, 0755), 0);

	if (kind == FS_EXT4) {
		cr_assert_eq(statfs(E.tmp, &sfs), 0);
		if (sfs.f_type != EXT4_SUPER_MAGIC)
			cr_skip_test("TMPDIR is not on ext4 (f_type 0x%lx)", (long)sfs.f_type);
	} else {
		if (!tu_private_mounts())
			cr_skip_test("cannot make a private mount namespace");
	}

	switch (kind) {
	case FS_EXT4:
		break;
	case FS_TMPFS:
	case FS_RAMFS:
		if (mount(fs_names[kind], E.mnt, fs_names[kind], 0, "mode=0755") < 0)
			cr_skip_test("cannot mount %s: %s", fs_names[kind], strerror(errno));
		E.mounted = true;
		break;
	case FS_XFS:
	case FS_BTRFS: {
		const char *mkfs = kind == FS_XFS ? "/usr/sbin/mkfs.xfs" : "/usr/sbin/mkfs.btrfs";

		if (access(mkfs, X_OK) < 0)
			cr_skip_test("%s not installed (xfsprogs / btrfs-progs)", mkfs);
		snprintf(E.img, sizeof(E.img), "%s/img", E.tmp);
		/* sparse: the minimum sizes of mkfs.xfs (300 MiB) and
		 * mkfs.btrfs (114 MiB); only what is written takes space */
		cr_assert_eq(tu_sh("truncate -s %s '%s'", kind == FS_XFS ? "300M" : "128M", E.img),
		             0);
		if (!attach_loop(why, sizeof(why)))
			cr_skip_test("no loop device: %s", why);
		if (tu_sh("%s -q -f '%s' >/dev/null 2>&1", mkfs, E.loopdev) != 0) {
			detach_loop();
			cr_skip_test("%s %s failed", mkfs, E.loopdev);
		}
		if (mount(E.loopdev, E.mnt, fs_names[kind], 0, NULL) < 0) {
			int e = errno;
			detach_loop();
			cr_skip_test("cannot mount %s: %s", fs_names[kind], strerror(e));
		}
		E.mounted = true;
		/* detaching a busy loop device only marks it autoclear: it goes
		 * when the mount goes, even if this process dies first */
		detach_loop();
		break;
	}
	}

	cr_assert_eq(statfs(E.mnt, &sfs), 0);
	snprintf(E.vol, sizeof(E.vol), "%s/vol", E.mnt);
	tu_mkdir(E.vol, 0, 0, 0755);
}

static void fs_down(void)
{
	if (!E.tmp)
		return;
	if (E.mounted)
		umount2(E.mnt, MNT_DETACH);
	detach_loop();
	tu_rm_rf(E.tmp);
	free(E.tmp);
	E.tmp = NULL;
}

/* ------------------------------------------------------------- the volume */

static const char *V(const char *rel)
{
	return tu_path(E.vol, rel);
}

/* What the volume held before volshift ran, raw, to compare byte for byte. */
struct orig {
	uint8_t acl[256], dacl[256], cap[32];
	ssize_t acl_len, dacl_len, cap_len;
};

static ssize_t raw_get(const char *path, const char *name, void *buf, size_t size)
{
	return lgetxattr(path, name, buf, size);
}

static void make_volume(struct orig *o)
{
	uint8_t v2[20];

	tu_mkfile(V("acl_file"), 0, 0, 0640);
	tu_mkdir(V("dacl_dir"), 1000, 2000, 0750);
	tu_mkfile(V("ping"), 0, 0, 0755);
	tu_mkfile(V("suid"), 0, 0, 04755);
	tu_mkfile(V("sgid"), 1000, 2000, 02755);
	cr_assert_eq(mkfifo(V("fifo"), 0640), 0);
	cr_assert_eq(symlink("ping", V("link")), 0);
	xu_cap_v2(v2, true, CAP_NET_RAW_BIT, 0);

	if (!has_xattrs(E.kind)) {
		/* prove the filesystem really has none, so "nothing to do" is
		 * what the run below meets */
		cr_assert_neq(xu_acl_set(V("acl_file"), ACL_TYPE_ACCESS, 1000, 2000), 0);
		cr_assert(errno == EOPNOTSUPP || errno == ENOTSUP, "%s", strerror(errno));
		cr_assert_neq(lsetxattr(V("ping"), "security.capability", v2, sizeof(v2), 0), 0);
		memset(o, 0, sizeof(*o));
		return;
	}

	cr_assert_eq(xu_acl_set(V("acl_file"), ACL_TYPE_ACCESS, 1000, 2000), 0, "%s",
	             strerror(errno));
	cr_assert_eq(xu_acl_set(V("dacl_dir"), ACL_TYPE_DEFAULT, 1000, 2000), 0, "%s",
	             strerror(errno));
	cr_assert_eq(xu_acl_set(V("fifo"), ACL_TYPE_ACCESS, 1000, 2000), 0, "%s", strerror(errno));
	if (access("/usr/sbin/setcap", X_OK) == 0)
		cr_assert_eq(tu_sh("/usr/sbin/setcap cap_net_raw+ep '%s'", V("ping")), 0);
	else /* the bytes setcap writes (test_xattr checks they are these) */
		cr_assert_eq(lsetxattr(V("ping"), "security.capability", v2, sizeof(v2), 0), 0);
	/* a second name: the inode is chowned once, its capability kept */
	cr_assert_eq(link(V("ping"), V("ping_hl")), 0);

	o->acl_len = raw_get(V("acl_file"), "system.posix_acl_access", o->acl, sizeof(o->acl));
	o->dacl_len = raw_get(V("dacl_dir"), "system.posix_acl_default", o->dacl, sizeof(o->dacl));
	o->cap_len = raw_get(V("ping"), "security.capability", o->cap, sizeof(o->cap));
	cr_assert_gt(o->acl_len, 4);
	cr_assert_gt(o->dacl_len, 4);
	cr_assert_eq(o->cap_len, 20, "setcap wrote a v2 capability");
	cr_assert_arr_eq(o->cap, v2, 20);
}

static void assert_owner_mode(const char *rel, uint32_t uid, uint32_t gid, uint32_t mode)
{
	struct stat st;

	cr_assert_eq(lstat(V(rel), &st), 0, "%s: %s", rel, strerror(errno));
	cr_assert_eq(st.st_uid, uid, "%s: uid %u, want %u", rel, st.st_uid, uid);
	cr_assert_eq(st.st_gid, gid, "%s: gid %u, want %u", rel, st.st_gid, gid);
	if (mode != (uint32_t)-1)
		cr_assert_eq(st.st_mode & 07777, mode, "%s: mode %o, want %o", rel,
		             st.st_mode & 07777, mode);
}

static void assert_raw_eq(const char *rel, const char *name, const uint8_t *want, ssize_t len)
{
	uint8_t buf[256];
	ssize_t n = raw_get(V(rel), name, buf, sizeof(buf));

	cr_assert_eq(n, len, "%s %s: %zd bytes, want %zd (%s)", rel, name, n, len,
	             n < 0 ? strerror(errno) : "");
	cr_assert_arr_eq(buf, want, (size_t)len, "%s %s: bytes differ", rel, name);
}

/* Runs volshift on the volume, insists on exit 0 and no failed entry;
 * returns the JSON report (free it). */
static char *run_volshift(const char *cmd, const char *arg, bool reverse)
{
	char *out = NULL, *err = NULL;
	long long failed;
	int st;

	if (!strcmp(cmd, "shift"))
		st = reverse
		         ? tu_volshift(&out, &err, "shift", "--map", MAP, "--reverse", "--json",
		                       E.vol, NULL)
		         : tu_volshift(&out, &err, "shift", "--map", MAP, "--json", E.vol, NULL);
	else
		st = tu_volshift(&out, &err, "fsgroup", "--gid", arg, "--json", E.vol, NULL);
	cr_assert_eq(st, 0, "volshift %s on %s: exit %d\n%s\n%s", cmd, fs_names[E.kind], st,
	             out ? out : "", err ? err : "");
	failed = tu_json_num(out, "failed");
	cr_assert_eq(failed, 0, "%s", out);
	free(err);
	return out;
}

static void expect_counts(char *json, long long acls, long long caps)
{
	cr_assert_eq(tu_json_num(json, "acls"), acls, "%s", json);
	cr_assert_eq(tu_json_num(json, "caps"), caps, "%s", json);
	free(json);
}

/* ------------------------------------------- the view from a user namespace */

struct view {
	int ok; /* 1, or the negative line that failed */
	int err;
	long acl_u, acl_g, dacl_u, dacl_g;
	ssize_t cap_len;
	uint8_t cap[32];
	struct stat suid, sgid, ping, acl_file;
};

#define CHILD_CHECK(v, expr)                                                                       \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			(v)->ok = -__LINE__;                                                       \
			(v)->err = errno;                                                          \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

static void child_look(struct view *v)
{
	CHILD_CHECK(v, setresgid(0, 0, 0) == 0);
	CHILD_CHECK(v, setgroups(0, NULL) == 0);
	CHILD_CHECK(v, setresuid(0, 0, 0) == 0);
	CHILD_CHECK(v, lstat(V("suid"), &v->suid) == 0);
	CHILD_CHECK(v, lstat(V("sgid"), &v->sgid) == 0);
	CHILD_CHECK(v, lstat(V("ping"), &v->ping) == 0);
	CHILD_CHECK(v, lstat(V("acl_file"), &v->acl_file) == 0);
	if (has_xattrs(E.kind)) {
		CHILD_CHECK(v, xu_acl_quals(V("acl_file"), ACL_TYPE_ACCESS, &v->acl_u, &v->acl_g) ==
		                   0);
		CHILD_CHECK(
		    v, xu_acl_quals(V("dacl_dir"), ACL_TYPE_DEFAULT, &v->dacl_u, &v->dacl_g) == 0);
		v->cap_len = getxattr(V("ping"), "security.capability", v->cap, sizeof(v->cap));
		CHILD_CHECK(v, v->cap_len > 0);
	}
	v->ok = 1;
out:
	return;
}

static void write_file(pid_t pid, const char *what, const char *text)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text), "%s: %s", path,
	             strerror(errno));
	close(fd);
}

/* Forks a child that unshares a user namespace whose maps the parent sets to
 * "0 524288 65536", becomes its root, and looks at the volume. */
static void userns_view(struct view *v)
{
	int ready[2], go[2], res[2];
	char c = 0;
	pid_t pid;
	int st;

	memset(v, 0, sizeof(*v));
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct view cv = {0};

		/* ready carries unshare's errno (0: in a namespace of its own) */
		c = unshare(CLONE_NEWUSER) < 0 ? (char)errno : 0;
		if (write(ready[1], &c, 1) != 1 || c || read(go[0], &c, 1) != 1)
			_exit(1);
		child_look(&cv);
		_exit(write(res[1], &cv, sizeof(cv)) == sizeof(cv) ? 0 : 1);
	}
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	if (c) {
		/* no namespace to write maps for: the child is done */
		char why[256];

		waitpid(pid, &st, 0);
		kp_userns_why((unsigned char)c, why, sizeof(why));
		cr_skip_test("no view from inside, user namespaces unavailable: %s", why);
	}
	write_file(pid, "uid_map", "0 524288 65536\n");
	write_file(pid, "gid_map", "0 524288 65536\n");
	cr_assert_eq(write(go[1], &c, 1), 1);
	cr_assert_eq(read(res[0], v, sizeof(*v)), (ssize_t)sizeof(*v));
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	close(ready[0]);
	close(go[1]);
	close(res[0]);
	cr_assert_eq(v->ok, 1, "user-namespace child failed at line %d: %s", -v->ok,
	             strerror(v->err));
}

/* ------------------------------------------------------------- scenarios */

/* The volume after `volshift shift`, seen from the host: host IDs, ACL
 * qualifiers mapped, v3 capabilities with rootid 524288, setuid/setgid kept. */
static void assert_shifted(void)
{
	uint8_t v3[24];

	assert_owner_mode("acl_file", BASE, BASE, (uint32_t)-1);
	assert_owner_mode("dacl_dir", BASE + 1000, BASE + 2000, 0750);
	assert_owner_mode("ping", BASE, BASE, 0755);
	assert_owner_mode("suid", BASE, BASE, 04755);
	assert_owner_mode("sgid", BASE + 1000, BASE + 2000, 02755);
	if (has_xattrs(E.kind)) {
		long u, g;

		cr_assert_eq(xu_acl_quals(V("acl_file"), ACL_TYPE_ACCESS, &u, &g), 0);
		cr_assert_eq(u, BASE + 1000);
		cr_assert_eq(g, BASE + 2000);
		cr_assert_eq(xu_acl_quals(V("dacl_dir"), ACL_TYPE_DEFAULT, &u, &g), 0);
		cr_assert_eq(u, BASE + 1000);
		cr_assert_eq(g, BASE + 2000);
		cr_assert_eq(xu_acl_quals(V("fifo"), ACL_TYPE_ACCESS, &u, &g), 0);
		cr_assert_eq(u, BASE + 1000);
		cr_assert_eq(g, BASE + 2000);
		xu_cap_v3(v3, true, CAP_NET_RAW_BIT, 0, BASE);
		assert_raw_eq("ping", "security.capability", v3, 24);
		assert_raw_eq("ping_hl", "security.capability", v3, 24);
	}
}

static void shift_volume(struct orig *o)
{
	make_volume(o);
	/* acl_file, fifo (access) and dacl_dir (default); ping's capability */
	expect_counts(run_volshift("shift", NULL, false), has_xattrs(E.kind) ? 3 : 0,
	              has_xattrs(E.kind) ? 1 : 0);
	assert_shifted();
}

/* Everything the host sees; no user namespace needed. */
static void shift_and_reverse(void)
{
	struct orig o;

	shift_volume(&o);

	/* a second run finds nothing left to do and changes nothing */
	expect_counts(run_volshift("shift", NULL, false), 0, 0);
	assert_shifted();

	/* --reverse: the original owners and bytes, exactly */
	expect_counts(run_volshift("shift", NULL, true), has_xattrs(E.kind) ? 3 : 0,
	              has_xattrs(E.kind) ? 1 : 0);
	assert_owner_mode("acl_file", 0, 0, (uint32_t)-1);
	assert_owner_mode("dacl_dir", 1000, 2000, 0750);
	assert_owner_mode("ping", 0, 0, 0755);
	assert_owner_mode("suid", 0, 0, 04755);
	assert_owner_mode("sgid", 1000, 2000, 02755);
	if (has_xattrs(E.kind)) {
		assert_raw_eq("acl_file", "system.posix_acl_access", o.acl, o.acl_len);
		assert_raw_eq("dacl_dir", "system.posix_acl_default", o.dacl, o.dacl_len);
		assert_raw_eq("ping", "security.capability", o.cap, o.cap_len);
		assert_raw_eq("ping_hl", "security.capability", o.cap, o.cap_len);
	}
}

/* Inside a user namespace with the map that was applied: as before. */
static void shift_seen_from_userns(void)
{
	struct orig o;
	struct view v;

	shift_volume(&o);
	userns_view(&v);
	cr_assert_eq(v.suid.st_uid, 0);
	cr_assert(v.suid.st_mode & S_ISUID, "setuid bit lost (mode %o)", v.suid.st_mode);
	cr_assert_eq(v.sgid.st_uid, 1000);
	cr_assert_eq(v.sgid.st_gid, 2000);
	cr_assert(v.sgid.st_mode & S_ISGID, "setgid bit lost (mode %o)", v.sgid.st_mode);
	cr_assert_eq(v.ping.st_uid, 0);
	cr_assert_eq(v.acl_file.st_uid, 0);
	if (has_xattrs(E.kind)) {
		cr_assert_eq(v.acl_u, 1000);
		cr_assert_eq(v.acl_g, 2000);
		cr_assert_eq(v.dacl_u, 1000);
		cr_assert_eq(v.dacl_g, 2000);
		/* the kernel translates a v3 whose rootid is its root into v2 */
		cr_assert_eq(v.cap_len, 20, "kernel shows %zd bytes", v.cap_len);
		cr_assert_arr_eq(v.cap, o.cap, 20);
	}
}

static void fsgroup_keeps(void)
{
	struct orig o;
	long u, g;

	make_volume(&o);
	expect_counts(run_volshift("fsgroup", "3000", false), 0, has_xattrs(E.kind) ? 1 : 0);
	assert_owner_mode("ping", 0, 3000, 0775);
	assert_owner_mode("suid", 0, 3000, 04775);
	assert_owner_mode("sgid", 1000, 3000, 02775);
	assert_owner_mode("dacl_dir", 1000, 3000, 02770);
	if (has_xattrs(E.kind)) {
		assert_raw_eq("ping", "security.capability", o.cap, o.cap_len);
		assert_raw_eq("ping_hl", "security.capability", o.cap, o.cap_len);
		/* fsgroup leaves ACL qualifiers alone */
		cr_assert_eq(xu_acl_quals(V("acl_file"), ACL_TYPE_ACCESS, &u, &g), 0);
		cr_assert_eq(u, 1000);
		cr_assert_eq(g, 2000);
	}
}

#define FS_TESTS(fs, kind)                                                                         \
	Test(fs, shift_and_reverse, .fini = fs_down)                                               \
	{                                                                                          \
		fs_up(kind);                                                                       \
		shift_and_reverse();                                                               \
	}                                                                                          \
	Test(fs, shift_seen_from_userns, .fini = fs_down)                                          \
	{                                                                                          \
		fs_up(kind);                                                                       \
		shift_seen_from_userns();                                                          \
	}                                                                                          \
	Test(fs, fsgroup_keeps_caps_and_setid, .fini = fs_down)                                    \
	{                                                                                          \
		fs_up(kind);                                                                       \
		fsgroup_keeps();                                                                   \
	}

FS_TESTS(ext4, FS_EXT4)
FS_TESTS(tmpfs, FS_TMPFS)
FS_TESTS(xfs, FS_XFS)
FS_TESTS(btrfs, FS_BTRFS)
FS_TESTS(ramfs, FS_RAMFS)
