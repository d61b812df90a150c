/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: volshift mount and the idmapped-mount probe. Root integration
 * tests, each in its own private mount namespace (criterion forks one process
 * per test): on ext4 and tmpfs the mount is idmapped and the disk untouched;
 * on ramfs the default falls back to the on-disk shift and a plain bind, and
 * --fallback=fail refuses; namespaces come from --map, --userns and
 * --from-pid; bad input changes nothing; --read-only and --recursive.
 * vs_idmap_supported() gives the kernel's answer (a raw open_tree +
 * mount_setattr) on ext4, tmpfs and ramfs, and a test skips because the
 * probe says "unsupported" only when the raw syscalls say so too.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "testutil.h"
#include "volshift.h"

#define HOST     524288u /* the map the tests use: 0:524288:65536 */
#define MAP      "0:524288:65536"
#define NS_BASE  589824u /* the map of namespaces the tests make themselves */
#define EXT4_MAG 0xEF53u

/* A temp dir; fs is where the tree's filesystem is (the dir itself, or a
 * tmpfs or ramfs mounted on dir/fs); src the tree, tgt the mount point. */
static char *dir;
static char fs[4096], src[4200], tgt[4200];

static void need_root_ns(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root");
	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
}

/* Sets up dir, fs (of type "ext4", "tmpfs" or "ramfs"), src with a tree, tgt. */
static void setup_on(const char *type)
{
	struct statfs s;

	need_root_ns();
	dir = tu_mkdtemp("mount");
	chmod(dir, 0755); /* the unprivileged writers below must get through */
	if (!strcmp(type, "ext4")) {
		cr_assert_eq(statfs(dir, &s), 0);
		if ((unsigned long)s.f_type != EXT4_MAG)
			cr_skip_test("%s is not on ext4", dir);
		snprintf(fs, sizeof(fs), "%s", dir);
	} else {
		snprintf(fs, sizeof(fs), "%s/fs", dir);
		cr_assert_eq(mkdir(fs, 0755), 0);
		if (mount(type, fs, type, 0, "mode=0755") < 0)
			cr_skip_test("cannot mount %s: %s", type, strerror(errno));
	}
	snprintf(src, sizeof(src), "%s/src", fs);
	snprintf(tgt, sizeof(tgt), "%s/tgt", dir);
	tu_mkdir(src, 0, 0, 0755);
	tu_mkdir(tgt, 0, 0, 0755);
	tu_mkfile(tu_path(src, "a"), 0, 0, 0644);
	tu_mkfile(tu_path(src, "b"), 1000, 1000, 0644);
	tu_mkdir(tu_path(src, "d"), 1000, 1000, 0755);
	tu_mkfile(tu_path(src, "d/c"), 0, 1000, 0640);
}

static void teardown(void)
{
	if (!dir)
		return;
	/* the mount namespace dies with the test; unmount so the tree can go */
	umount2(tgt, MNT_DETACH);
	if (strcmp(fs, dir))
		umount2(fs, MNT_DETACH);
	tu_rm_rf(dir);
	free(dir);
	dir = NULL;
}

static void owner_is(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "lstat %s: %s", path, strerror(errno));
	cr_assert_eq(st.st_uid, uid, "%s: uid %u, expected %u", path, st.st_uid, uid);
	cr_assert_eq(st.st_gid, gid, "%s: gid %u, expected %u", path, st.st_gid, gid);
}

/* The tree as setup_on made it, owners shifted by delta. */
static void tree_is(const char *root, uid_t delta)
{
	owner_is(root, delta, delta);
	owner_is(tu_path(root, "a"), delta, delta);
	owner_is(tu_path(root, "b"), delta + 1000, delta + 1000);
	owner_is(tu_path(root, "d"), delta + 1000, delta + 1000);
	owner_is(tu_path(root, "d/c"), delta, delta + 1000);
}

static uint64_t mnt_id(const char *path)
{
	struct statx stx;

	cr_assert_eq(statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx), 0);
	return stx.stx_mnt_id;
}

/* Whether something is mounted at path (its mount differs from its parent's). */
static bool is_mountpoint(const char *path)
{
	return mnt_id(path) != mnt_id(tu_path(path, ".."));
}

/* Creates path as uid:gid in a child; 0 or the errno of open. */
static int create_as(const char *path, uid_t uid, gid_t gid)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(200);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		_exit(fd < 0 ? errno : 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_neq(WEXITSTATUS(status), 200, "could not become %u", uid);
	return WEXITSTATUS(status);
}

/* The report: parsed JSON (asserts that there is one). */
static json_t *report_of(const char *out)
{
	json_error_t e;
	json_t *j = json_loads(out ? out : "", 0, &e);

	cr_assert_not_null(j, "no JSON report: %s (%s)", e.text, out ? out : "");
	return j;
}

static const char *jstr(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	cr_assert(json_is_string(v), "report has no string '%s'", key);
	return json_string_value(v);
}

static long long jint(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	cr_assert(json_is_integer(v), "report has no number '%s'", key);
	return json_integer_value(v);
}

/* volshift mount --json ARGS... SOURCE TARGET; returns the exit status. */
#define MOUNT(out, err, ...) tu_volshift(out, err, "mount", "--json", __VA_ARGS__, src, tgt, NULL)

/* Mounts with --map and checks the idmapped result, disk untouched. */
static void idmapped_case(void)
{
	char *out = NULL, *err = NULL;
	json_t *j;
	int st;

	st = MOUNT(&out, &err, "--map", MAP);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), "idmapped-mount");
	cr_assert_eq(jint(j, "entries"), 0);
	json_decref(j);

	cr_assert(is_mountpoint(tgt));
	tree_is(tgt, HOST);
	tree_is(src, 0);

	/* a host ID of the range writes through as the container ID */
	cr_assert_eq(create_as(tu_path(tgt, "new"), HOST, HOST), 0);
	owner_is(tu_path(tgt, "new"), HOST, HOST);
	owner_is(tu_path(src, "new"), 0, 0);
	cr_assert_eq(create_as(tu_path(tgt, "d/new"), HOST + 1000, HOST + 1000), 0);
	owner_is(tu_path(src, "d/new"), 1000, 1000);
	free(out);
	free(err);
}

Test(mount, idmapped_on_ext4, .fini = teardown)
{
	setup_on("ext4");
	idmapped_case();
}

/*
 * Skips when the library's probe says path cannot be idmapped and the
 * kernel, asked with raw syscalls, agrees; fails when they disagree (a
 * probe that refuses what the kernel does would skip these tests forever).
 */
static void idmap_or_skip(const char *path, const char *what)
{
	char why[256];
	int e = 0, r = vs_idmap_supported(path, -1, &e), k;

	cr_assert_geq(r, 0, "vs_idmap_supported(%s): %s", path, strerror(-r));
	k = kp_idmap(path, -1, why, sizeof(why));
	if (r == 1) {
		cr_assert_eq(k, 0, "vs_idmap_supported says yes on %s, the kernel: %s", what, why);
		return;
	}
	cr_assert_neq(k, 0, "vs_idmap_supported says %s cannot be idmapped (%s), the kernel: %s",
	              what, strerror(e), why);
	cr_skip_test("this kernel cannot idmap %s: vs_idmap_supported: %s; the kernel agrees: %s",
	             what, strerror(e), why);
}

Test(mount, idmapped_on_tmpfs, .fini = teardown)
{
	setup_on("tmpfs");
	idmap_or_skip(src, "tmpfs");
	idmapped_case();
}

Test(mount, ramfs_falls_back_to_the_shift, .fini = teardown)
{
	char *out = NULL, *err = NULL;
	json_t *j;
	int st;

	setup_on("ramfs");
	st = MOUNT(&out, &err, "--map", MAP);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), "walk");
	cr_assert_str_eq(jstr(j, "fstype"), "ramfs");
	cr_assert_gt(jint(j, "probe_errno"), 0);
	cr_assert_eq(jint(j, "changed"), 5);
	json_decref(j);

	tree_is(src, HOST); /* on disk */
	cr_assert(is_mountpoint(tgt));
	tree_is(tgt, HOST); /* a plain bind shows the disk as it is */
	struct stat a, b;
	cr_assert_eq(lstat(tu_path(src, "a"), &a), 0);
	cr_assert_eq(lstat(tu_path(tgt, "a"), &b), 0);
	cr_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	free(out);
	free(err);
}

Test(mount, fallback_fail_refuses_and_changes_nothing, .fini = teardown)
{
	char *out = NULL, *err = NULL;
	int st;

	setup_on("ramfs");
	st = tu_volshift(&out, &err, "mount", "--fallback=fail", "--map", MAP, src, tgt, NULL);
	cr_assert_eq(st, 3, "exit %d: %s", st, err);
	cr_assert(tu_contains(err, "ramfs"), "the message names the filesystem: %s", err);
	tree_is(src, 0);
	cr_assert_not(is_mountpoint(tgt));
	free(out);
	free(err);
}

/* A child sitting in a new user namespace whose maps are "0 base 65536". */
static pid_t userns_child(unsigned base)
{
	char path[64], map[64];
	int ready[2], fd;
	pid_t pid;
	char c;

	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the child could not unshare");
	close(ready[0]);
	snprintf(map, sizeof(map), "0 %u 65536\n", base);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, i ? "gid_map" : "uid_map");
		fd = open(path, O_WRONLY | O_CLOEXEC);
		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, map, strlen(map)), (ssize_t)strlen(map));
		close(fd);
	}
	return pid;
}

static void end_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A user namespace pinned by a bind mount at dir/ns, as a pod sandbox's is. */
static const char *pinned_userns(unsigned base)
{
	static char ns[4096];
	char proc[64];
	pid_t pid = userns_child(base);

	snprintf(ns, sizeof(ns), "%s/ns", dir);
	tu_mkfile(ns, 0, 0, 0644);
	snprintf(proc, sizeof(proc), "/proc/%d/ns/user", (int)pid);
	cr_assert_eq(mount(proc, ns, NULL, MS_BIND, NULL), 0, "%s", strerror(errno));
	end_child(pid); /* the namespace lives on in the bind mount */
	return ns;
}

Test(mount, userns_path_on_ext4, .fini = teardown)
{
	char *out = NULL, *err = NULL;
	const char *ns;
	json_t *j;
	int st;

	setup_on("ext4");
	ns = pinned_userns(NS_BASE);
	st = MOUNT(&out, &err, "--userns", ns);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), "idmapped-mount");
	json_decref(j);
	tree_is(tgt, NS_BASE);
	tree_is(src, 0);
	umount2(ns, MNT_DETACH);
	free(out);
	free(err);
}

Test(mount, userns_path_on_ramfs_shifts_with_its_maps, .fini = teardown)
{
	char *out = NULL, *err = NULL;
	const char *ns;
	json_t *j;
	int st;

	setup_on("ramfs");
	ns = pinned_userns(NS_BASE);
	st = MOUNT(&out, &err, "--userns", ns);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), "walk");
	json_decref(j);
	tree_is(src, NS_BASE);
	tree_is(tgt, NS_BASE);
	umount2(ns, MNT_DETACH);
	free(out);
	free(err);
}

static void from_pid_case(const char *type, const char *method)
{
	char *out = NULL, *err = NULL, pid_s[32];
	pid_t pid;
	json_t *j;
	int st;

	setup_on(type);
	pid = userns_child(NS_BASE);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	st = MOUNT(&out, &err, "--from-pid", pid_s);
	end_child(pid);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), method);
	json_decref(j);
	tree_is(tgt, NS_BASE);
	tree_is(src, strcmp(method, "walk") ? 0 : NS_BASE);
	free(out);
	free(err);
}

Test(mount, from_pid_on_ext4, .fini = teardown)
{
	from_pid_case("ext4", "idmapped-mount");
}

Test(mount, from_pid_on_ramfs, .fini = teardown)
{
	from_pid_case("ramfs", "walk");
}

/* Runs volshift with argv (NULL-terminated) and expects exit 2, no change. */
static void refused(const char *why, char *const *args)
{
	char *argv[32], *err = NULL;
	int n = 0, st;

	argv[n++] = (char *)VS_BIN;
	argv[n++] = "mount";
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	st = tu_run(argv, NULL, &err);
	cr_assert_eq(st, 2, "%s: exit %d (%s)", why, st, err);
	cr_assert(err && strncmp(err, "volshift: ", 10) == 0, "%s: message '%s'", why, err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "%s: one line: '%s'", why, err);
	tree_is(src, 0);
	cr_assert_not(is_mountpoint(tgt), "%s: mounted", why);
	free(err);
}

Test(mount, bad_input_changes_nothing, .fini = teardown)
{
	char missing[4200], file[4300], dead[32], self[32], own[64];
	pid_t pid;

	/* on ramfs, where a wrong turn would shift the disk */
	setup_on("ramfs");
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	snprintf(file, sizeof(file), "%s/a", src);
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(dead, sizeof(dead), "%d", (int)pid);
	snprintf(own, sizeof(own), "/proc/%d/ns/user", (int)getpid());
	snprintf(self, sizeof(self), "%d", (int)getpid());

	refused("target missing", (char *[]){"--map", MAP, src, missing, NULL});
	refused("source a file", (char *[]){"--map", MAP, file, tgt, NULL});
	refused("source missing", (char *[]){"--map", MAP, missing, tgt, NULL});
	refused("FROM overlaps TO", (char *[]){"--map", "0:10:100", src, tgt, NULL});
	refused("malformed map", (char *[]){"--map", "0:524288", src, tgt, NULL});
	refused("no map", (char *[]){src, tgt, NULL});
	refused("userns a file", (char *[]){"--userns", file, src, tgt, NULL});
	refused("userns missing", (char *[]){"--userns", missing, src, tgt, NULL});
	refused("userns of another type",
	        (char *[]){"--userns", "/proc/self/ns/net", src, tgt, NULL});
	refused("our own userns", (char *[]){"--userns", own, src, tgt, NULL});
	refused("userns and a map", (char *[]){"--userns", own, "--map", MAP, src, tgt, NULL});
	refused("pid missing", (char *[]){"--from-pid", dead, src, tgt, NULL});
	refused("pid in our userns", (char *[]){"--from-pid", self, src, tgt, NULL});
	refused("bad fallback", (char *[]){"--fallback=maybe", "--map", MAP, src, tgt, NULL});
	refused("one path", (char *[]){"--map", MAP, src, NULL});
}

Test(mount, read_only_idmapped, .fini = teardown)
{
	char *err = NULL;
	int st;

	setup_on("ext4");
	st = tu_volshift(NULL, &err, "mount", "--read-only", "--map", MAP, src, tgt, NULL);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	tree_is(tgt, HOST);
	cr_assert_eq(create_as(tu_path(tgt, "new"), HOST, HOST), EROFS);
	cr_assert_eq(mkdir(tu_path(tgt, "newdir"), 0755), -1);
	cr_assert_eq(errno, EROFS);
	cr_assert_eq(create_as(tu_path(src, "direct"), 0, 0), 0, "SOURCE stays writable");
	free(err);
}

Test(mount, read_only_fallback, .fini = teardown)
{
	char *err = NULL;
	int st;

	setup_on("ramfs");
	st = tu_volshift(NULL, &err, "mount", "--read-only", "--map", MAP, src, tgt, NULL);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	tree_is(src, HOST);
	cr_assert_eq(create_as(tu_path(tgt, "new"), HOST, HOST), EROFS);
	cr_assert_eq(create_as(tu_path(src, "direct"), HOST, HOST), 0, "SOURCE stays writable");
	free(err);
}

/* src/sub: a filesystem of type sub_type with one file owned 0:0. */
static void submount(const char *sub_type)
{
	const char *sub = tu_path(src, "sub");

	tu_mkdir(sub, 0, 0, 0755);
	cr_assert_eq(mount(sub_type, sub, sub_type, 0, "mode=0755"), 0, "%s", strerror(errno));
	tu_mkfile(tu_path(src, "sub/f"), 0, 0, 0644);
}

Test(mount, recursive_takes_submounts_idmapped, .fini = teardown)
{
	char *out = NULL, *err = NULL;
	struct stat st_;
	json_t *j;
	int st;

	setup_on("ext4");
	submount("tmpfs");
	idmap_or_skip(tu_path(src, "sub"), "tmpfs");

	/* without --recursive the submount is left behind */
	st = MOUNT(&out, &err, "--map", MAP);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	cr_assert_eq(lstat(tu_path(tgt, "sub/f"), &st_), -1);
	cr_assert_eq(umount2(tgt, 0), 0);
	free(out);
	free(err);

	st = MOUNT(&out, &err, "--recursive", "--map", MAP);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), "idmapped-mount");
	json_decref(j);
	tree_is(tgt, HOST);
	owner_is(tu_path(tgt, "sub"), HOST, HOST);
	owner_is(tu_path(tgt, "sub/f"), HOST, HOST);
	owner_is(tu_path(src, "sub/f"), 0, 0);
	umount2(tgt, MNT_DETACH);
	umount2(tu_path(src, "sub"), MNT_DETACH);
	free(out);
	free(err);
}

Test(mount, recursive_falls_back_when_a_submount_cannot_be_idmapped, .fini = teardown)
{
	char *out = NULL, *err = NULL;
	json_t *j;
	int st;

	setup_on("ext4");
	submount("ramfs");
	st = MOUNT(&out, &err, "--recursive", "--map", MAP);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), "walk");
	cr_assert_gt(jint(j, "probe_errno"), 0);
	json_decref(j);
	/* the shift crossed into the submount, the bind took it along */
	tree_is(src, HOST);
	owner_is(tu_path(src, "sub/f"), HOST, HOST);
	owner_is(tu_path(tgt, "sub/f"), HOST, HOST);
	umount2(tgt, MNT_DETACH);
	umount2(tu_path(src, "sub"), MNT_DETACH);
	free(out);
	free(err);
}

Test(mount, dry_run_mounts_and_changes_nothing, .fini = teardown)
{
	char *out = NULL, *err = NULL;
	json_t *j;
	int st;

	setup_on("ramfs");
	st = MOUNT(&out, &err, "--dry-run", "--map", MAP);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	j = report_of(out);
	cr_assert_str_eq(jstr(j, "method"), "walk");
	cr_assert_eq(jint(j, "changed"), 5);
	json_decref(j);
	tree_is(src, 0);
	cr_assert_not(is_mountpoint(tgt));
	free(out);
	free(err);
}

Test(probe, idmap_supported, .fini = teardown)
{
	int e = -1, nsfd, fd;
	pid_t pid;
	char proc[64];

	setup_on("ext4");
	cr_assert_eq(vs_idmap_supported(src, -1, &e), 1);
	cr_assert_eq(e, 0);

	/* with a namespace of the caller's */
	pid = userns_child(NS_BASE);
	snprintf(proc, sizeof(proc), "/proc/%d/ns/user", (int)pid);
	nsfd = open(proc, O_RDONLY | O_CLOEXEC);
	end_child(pid);
	cr_assert_geq(nsfd, 0);
	cr_assert_eq(vs_idmap_supported(src, nsfd, &e), 1);
	close(nsfd);

	/* not a user namespace */
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(vs_idmap_supported(src, fd, &e), -EINVAL);
	close(fd);
	fd = open(tu_path(src, "a"), O_RDONLY | O_CLOEXEC);
	cr_assert_eq(vs_idmap_supported(src, fd, &e), -EINVAL);
	close(fd);
	fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(vs_idmap_supported(src, fd, &e), -EINVAL, "our own namespace");
	close(fd);

	cr_assert_eq(vs_idmap_supported(tu_path(dir, "missing"), -1, &e), -ENOENT);

	/* ramfs: not supported, and the kernel's reason */
	snprintf(fs, sizeof(fs), "%s/ram", dir);
	cr_assert_eq(mkdir(fs, 0755), 0);
	cr_assert_eq(mount("ramfs", fs, "ramfs", 0, NULL), 0);
	e = 0;
	cr_assert_eq(vs_idmap_supported(fs, -1, &e), 0);
	cr_assert_eq(e, EINVAL);
	/* the probe left nothing mounted */
	cr_assert_not(is_mountpoint(tgt));
}

/* The probe's answer is the kernel's: the same yes or no, and the same
 * errno, as a raw open_tree + mount_setattr(MOUNT_ATTR_IDMAP), on each
 * filesystem the tests use. */
static void probe_agrees(const char *type)
{
	char why[256];
	int e = -1, r, k;

	setup_on(type);
	r = vs_idmap_supported(src, -1, &e);
	k = kp_idmap(src, -1, why, sizeof(why));
	cr_assert_geq(r, 0, "vs_idmap_supported: %s", strerror(-r));
	cr_assert_eq(r, k == 0, "%s: vs_idmap_supported %d (%s), the kernel: %s", type, r,
	             strerror(e), why);
	cr_assert_eq(e, k, "%s: the probe's errno %d (%s), the kernel's %d: %s", type, e,
	             strerror(e), k, why);
	/* and with a namespace of the caller's */
	int ns = kp_userns_fd(NS_BASE, 65536);

	cr_assert_geq(ns, 0, "a user namespace: %s", strerror(-ns));
	r = vs_idmap_supported(src, ns, &e);
	k = kp_idmap(src, ns, why, sizeof(why));
	close(ns);
	cr_assert_eq(r, k == 0, "%s: vs_idmap_supported %d (%s), the kernel: %s", type, r,
	             strerror(e), why);
	cr_assert_eq(e, k, "%s: errno %d vs the kernel's %d", type, e, k);
}

Test(probe, agrees_with_the_kernel_on_ext4, .fini = teardown)
{
	probe_agrees("ext4");
}

Test(probe, agrees_with_the_kernel_on_tmpfs, .fini = teardown)
{
	probe_agrees("tmpfs");
}

Test(probe, agrees_with_the_kernel_on_ramfs, .fini = teardown)
{
	probe_agrees("ramfs");
}

Test(api, vs_mount_reports, .fini = teardown)
{
	struct vs_mount_job job;
	struct vs_report r;
	struct vs_idmap_range range = {0, HOST, 65536};

	setup_on("ext4");
	vs_mount_job_init(&job);
	job.shift.path = src;
	job.target = tgt;
	cr_assert_eq(vs_idmap_add(&job.shift.uid_map, &range), 0);
	cr_assert_eq(vs_idmap_add(&job.shift.gid_map, &range), 0);

	cr_assert_eq(vs_mount(&job, &r), 0, "%s", r.message);
	cr_assert_eq(r.status, VS_STATUS_OK);
	cr_assert_str_eq(r.method, "idmapped-mount");
	cr_assert_str_eq(r.fstype, "ext4");
	cr_assert_eq(r.probe_errno, 0);
	cr_assert_eq(r.entries, 0);
	vs_report_free(&r);
	tree_is(tgt, HOST);

	job.target = tu_path(dir, "missing");
	cr_assert_lt(vs_mount(&job, &r), 0);
	cr_assert_eq(r.status, VS_STATUS_BAD_INPUT);
	cr_assert_neq(r.message[0], '\0');
	cr_assert_null(strchr(r.message, '\n'));
	vs_report_free(&r);
}
