/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: volshift oci-hook run by podman, end to end, through the
 * hooks.d file the project ships (the library CRI-O loads hooks.d with).
 * The hook file is hooks/volshift.json with its path set to the built
 * binary and the test seams appended to its args (--allow-source for bind
 * mounts, --storage-root for named volumes, --report-dir), its "when" clause
 * and stage as shipped. Containers run as `--uidmap 0:524288:65536` from a
 * busybox image built offline into the temp storage. Cases: a bind-mounted
 * volume and a podman named volume (owned by container IDs 0 and 1000, a
 * setuid file, an ACL): inside, `id -u` is 0, the files read as 0 and 1000,
 * a write works; the host sees the IDs shifted; a second start skips. A
 * malformed annotation, and a source outside the allowed directories, stop
 * the container with the hook's message in podman's error and nothing
 * changed. Two volumes in one annotation: "/data:/cache" works; podman
 * splits --annotation values on commas, so "/data,/cache" works only with
 * all of KEY=VALUE quoted. Two containers sharing a volume, started at once
 * (both hooks seen waiting on the volume's lock), end with one walk and one
 * skip.
 *
 * Named volumes are the case runc alone never showed: podman chowns a named
 * volume's top directory to the container's root before the hook runs, so
 * a root in the TO range must not pass for a finished shift.
 *
 * Everything podman keeps lives in the temp dir: --root/--runroot, a
 * containers.conf (CONTAINERS_CONF, inherited by the `podman container
 * cleanup` that conmon runs) with the tmp dir, file locks, a file events
 * log, the network config dir, cgroupfs, and a runc wrapper that keeps
 * runc's state there too. The test runs in a mount namespace of its own:
 * the mounts podman makes (the containers' /dev/shm) go with it, and an
 * overlay on /var/lib catches the one file containers/image writes outside
 * --root (its blob-info cache, during the image build).
 *
 * Needs root, podman, runc, busybox-static and user namespaces; skips with
 * the reason when podman cannot run a user-namespaced container here
 * (checked with a container that does nothing, without volshift).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "container.h"
#include "testutil.h"
#include "tree.h"

#define HOST_BASE 524288u
#define BUSYBOX   "/bin/busybox"
#define IMAGE     "localhost/volshift-test-busybox"
#define MAX_ARGS  96

/* What the container runs: each line is checked against kernel-visible state. */
#define PROBE_CMD                                                                                  \
	"echo CONTAINER-RAN; id -u; ls -ln /data; touch /data/new && echo TOUCH-OK; "              \
	"cat /data/user-file"

/*
 * podman run's options for every container here:
 * - the user namespace of a pod with hostUsers: false;
 * - --network none: no network is needed, and none is set up;
 * - the ulimits: podman asks the runtime to raise RLIMIT_NOFILE/NPROC to
 *   its defaults, which needs CAP_SYS_RESOURCE; this machine (itself a
 *   container) lacks it, so ask for what it already has.
 */
#define RUN_OPTS                                                                                   \
	"--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",        \
	    "--uidmap", "0:524288:65536", "--gidmap", "0:524288:65536"

static struct {
	char *dir, *storage, *runroot, *tmp, *hooks, *binds, *reports, *outside, *conf;
	const char *podman;
	bool var_lib_mounted; /* the overlay on /var/lib, in our mount namespace */
} t;

static const char *find_exe(const char *name)
{
	static const char *const dirs[] = {"/usr/bin",        "/usr/sbin", "/usr/local/bin",
	                                   "/usr/local/sbin", "/bin",      "/sbin"};
	static char buf[256];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

static char *sub(const char *rel)
{
	char *p;

	cr_assert_neq(asprintf(&p, "%s/%s", t.dir, rel), -1);
	return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

/* ------------------------------------------------------------ podman */

/* An argv under construction. */
struct args {
	char *v[MAX_ARGS];
	int n;
};

static void add(struct args *a, ...) __attribute__((sentinel));
static void add(struct args *a, ...)
{
	va_list ap;

	va_start(ap, a);
	for (const char *s; (s = va_arg(ap, const char *));) {
		cr_assert_lt(a->n, MAX_ARGS - 1);
		a->v[a->n++] = (char *)s;
	}
	va_end(ap);
	a->v[a->n] = NULL;
}

static void add_list(struct args *a, const char *const *list)
{
	for (size_t i = 0; list && list[i]; i++)
		add(a, list[i], NULL);
}

/* podman with the temp dir's storage and hooks, under a time limit. */
static void podman_argv(struct args *a)
{
	a->n = 0;
	/* --runtime runc: podman's default here is crun, and crun fails on
	 * this machine ("cgroups in hybrid mode not supported"). vfs: plain
	 * directories, on any filesystem the temp dir is on, no mounts. */
	add(a, "/usr/bin/timeout", "300", t.podman, "--root", t.storage, "--runroot", t.runroot,
	    "--storage-driver", "vfs", "--hooks-dir", t.hooks, "--runtime", "runc", NULL);
}

/* Runs a; logs what podman said. out/err may be NULL. */
static int run_logged(struct args *a, char **out, char **err)
{
	char *o, *e;
	int r = tu_run(a->v, &o, &e);
	char line[1024] = "";

	for (int i = 2; i < a->n && strlen(line) < sizeof(line) - 64; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s ", a->v[i]);
	cr_log_info("%s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", line, r, o, e);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	return r;
}

static int podman(char **out, char **err, ...) __attribute__((sentinel));
static int podman(char **out, char **err, ...)
{
	struct args a;
	va_list ap;

	podman_argv(&a);
	va_start(ap, err);
	for (const char *s; (s = va_arg(ap, const char *));) {
		cr_assert_lt(a.n, MAX_ARGS - 1);
		a.v[a.n++] = (char *)s;
	}
	va_end(ap);
	a.v[a.n] = NULL;
	return run_logged(&a, out, err);
}

/* podman run --name name RUN_OPTS opts... IMAGE sh -c cmd, in the foreground. */
static void run_argv(struct args *a, const char *name, const char *const *opts, const char *cmd)
{
	podman_argv(a);
	add(a, "run", "--name", name, RUN_OPTS, NULL);
	add_list(a, opts);
	add(a, IMAGE, "sh", "-c", cmd, NULL);
}

static int run_container(const char *name, const char *const *opts, const char *cmd, char **out,
                         char **err)
{
	struct args a;

	run_argv(&a, name, opts, cmd);
	return run_logged(&a, out, err);
}

/* The full ID of a container: its report file's name. */
static char *container_id(const char *name)
{
	char *out;

	cr_assert_eq(podman(&out, NULL, "inspect", "--format", "{{.Id}}", name, NULL), 0,
	             "podman knows container %s", name);
	out[strcspn(out, "\n")] = '\0';
	cr_assert_eq(strlen(out), 64, "a container ID: '%s'", out);
	return out;
}

/*
 * Waits until podman's cleanup of an exited container (run by conmon, in
 * the background, after `podman run` has returned) has unmounted its
 * /dev/shm, so that a restart does not race with it.
 */
static void wait_cleaned_up(const char *name)
{
	char *id = container_id(name), needle[128];

	snprintf(needle, sizeof(needle), "/%s/userdata/shm ", id);
	for (int i = 0;; i++) {
		char *mounts = NULL;
		size_t cap = 0;
		bool mounted = false;
		FILE *f = fopen("/proc/self/mountinfo", "re");

		cr_assert_not_null(f);
		while (getline(&mounts, &cap, f) > 0)
			mounted |= strstr(mounts, needle) != NULL;
		fclose(f);
		free(mounts);
		if (!mounted)
			break;
		/* a guard against a hang, not a time limit on podman */
		cr_assert_lt(i, 2400, "podman's cleanup of %s never unmounted its shm", name);
		usleep(50 * 1000);
	}
	free(id);
}

/* Starts an exited container again, attached. */
static int restart(const char *name, char **out, char **err)
{
	wait_cleaned_up(name);
	return podman(out, err, "start", "--attach", name, NULL);
}

static bool container_exists(const char *name)
{
	return podman(NULL, NULL, "container", "exists", name, NULL) == 0;
}

/* -------------------------------------------------------------- setup */

/* The shipped hooks/volshift.json, its path set to the built binary and the
 * test seams appended to its args; "when" and "stages" as shipped. */
static void write_hook_file(void)
{
	json_error_t jerr;
	json_t *doc = json_load_file(VS_SOURCE_DIR "/hooks/volshift.json", 0, &jerr), *hook, *args;
	char *path = sub("hooks/volshift.json");

	cr_assert_not_null(doc, "hooks/volshift.json: %s", jerr.text);
	hook = json_object_get(doc, "hook");
	args = json_object_get(hook, "args");
	cr_assert(json_is_array(args), "hooks/volshift.json has hook.args");
	json_object_set_new(hook, "path", json_string(VS_BIN));
	json_array_append_new(args, json_string("--allow-source"));
	json_array_append_new(args, json_string(t.binds));
	json_array_append_new(args, json_string("--storage-root"));
	json_array_append_new(args, json_string(t.storage));
	/* after the shipped --report-dir: the last one counts */
	json_array_append_new(args, json_string("--report-dir"));
	json_array_append_new(args, json_string(t.reports));
	cr_assert_eq(json_dump_file(doc, path, JSON_INDENT(2)), 0);
	json_decref(doc);
	free(path);
}

/*
 * containers.conf, read by every podman here and by the cleanup process
 * conmon starts (it inherits CONTAINERS_CONF, not our command line).
 * runc is a wrapper that passes --root: podman's --runtime-flag would not
 * reach that cleanup process, which would look for the state in /run/runc.
 */
static void write_conf(void)
{
	char *wrap = sub("runc"), *runc_root = sub("runc-state"), *text;
	const char *runc = find_exe("runc");

	cr_assert_neq(asprintf(&text, "#!/bin/sh\nexec %s --root '%s' \"$@\"\n", runc, runc_root),
	              -1);
	write_file(wrap, text, 0755);
	free(text);
	cr_assert_neq(asprintf(&text,
	                       "[network]\n"
	                       "network_config_dir = \"%s/networks\"\n"
	                       "[engine]\n"
	                       "cgroup_manager = \"cgroupfs\"\n"
	                       "events_logger = \"file\"\n"
	                       "events_logfile_path = \"%s/events.log\"\n"
	                       "lock_type = \"file\"\n"
	                       "tmp_dir = \"%s\"\n"
	                       "image_copy_tmp_dir = \"%s\"\n"
	                       "[engine.runtimes]\n"
	                       "runc = [\"%s\"]\n",
	                       t.dir, t.dir, t.tmp, t.tmp, wrap),
	              -1);
	write_file(t.conf, text, 0644);
	free(text);
	free(wrap);
	free(runc_root);
}

/* A FROM-scratch image: busybox-static and the applets the tests run. */
static void build_image(void)
{
	static const char *const applets[] = {"sh", "id", "ls", "touch", "cat", "echo", "true"};
	char *ctx = sub("image"), *err;
	int r;

	tu_mkdir(ctx, 0, 0, 0755);
	tu_mkdir(tu_path(ctx, "rootfs"), 0, 0, 0755);
	tu_mkdir(tu_path(ctx, "rootfs/bin"), 0, 0, 0755);
	cr_assert_eq(tu_sh("cp %s '%s/rootfs/bin/busybox'", BUSYBOX, ctx), 0);
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
		cr_assert_eq(symlink("busybox", tu_path(ctx, tu_path("rootfs/bin", applets[i]))),
		             0);
	write_file(tu_path(ctx, "Containerfile"), "FROM scratch\nCOPY rootfs/ /\n", 0644);
	r = podman(NULL, &err, "build", "--quiet", "--network", "none", "-t", IMAGE, ctx, NULL);
	if (r != 0)
		cr_skip_test("podman cannot build an image here (exit %d): %s", r, err);
	free(err);
	free(ctx);
}

/* Keeps what containers/image writes under /var/lib (its blob-info cache,
 * outside --root) in the temp dir: an overlay, in our mount namespace only. */
static bool overlay_var_lib(void)
{
	char *upper = sub("var-lib/upper"), *work = sub("var-lib/work"), *opts;
	bool ok;

	tu_mkdir(tu_path(t.dir, "var-lib"), 0, 0, 0755);
	tu_mkdir(upper, 0, 0, 0755);
	tu_mkdir(work, 0, 0, 0755);
	cr_assert_neq(asprintf(&opts, "lowerdir=/var/lib,upperdir=%s,workdir=%s", upper, work), -1);
	ok = mount("overlay", "/var/lib", "overlay", 0, opts) == 0;
	free(opts);
	free(upper);
	free(work);
	return ok;
}

static void setup(void)
{
	char *err;
	int r;

	if (!tu_is_root())
		cr_skip_test("needs root (podman as root, and chown)");
	t.podman = find_exe("podman");
	if (!t.podman)
		cr_skip_test("podman is not installed");
	t.podman = strdup(t.podman);
	if (!find_exe("runc"))
		cr_skip_test("runc is not installed");
	if (!tu_is_static_elf(BUSYBOX))
		cr_skip_test("no static %s (Debian package busybox-static)", BUSYBOX);
	if (access("/proc/self/ns/user", F_OK) < 0)
		cr_skip_test("this kernel has no user namespaces");
	/* podman runs conmon, and so the cleanup of an exited container, in a
	 * mount namespace of its own: the container's /dev/shm, mounted here,
	 * is unmounted there, which reaches us only through shared propagation.
	 * Private first (nothing reaches the host), then shared among ours. */
	if (!tu_private_mounts() || mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) < 0)
		cr_skip_test("cannot make a mount namespace of our own: %s", strerror(errno));

	t.dir = tu_mkdtemp("podman");
	/* the container's root (host 524288) must reach the volumes */
	cr_assert_eq(chmod(t.dir, 0755), 0);
	if (!overlay_var_lib())
		cr_skip_test("cannot put an overlay on /var/lib (to keep podman's blob cache in "
		             "the temp dir): %s",
		             strerror(errno));
	t.var_lib_mounted = true;
	t.storage = sub("storage");
	t.runroot = sub("runroot");
	t.tmp = sub("tmp");
	t.hooks = sub("hooks");
	t.binds = sub("binds");
	t.reports = sub("reports");
	t.outside = sub("outside");
	t.conf = sub("containers.conf");
	tu_mkdir(t.tmp, 0, 0, 0700);
	tu_mkdir(t.hooks, 0, 0, 0755);
	tu_mkdir(t.binds, 0, 0, 0755);
	tu_mkdir(t.reports, 0, 0, 0755);
	tu_mkdir(t.outside, 0, 0, 0755);
	tu_mkdir(tu_path(t.dir, "networks"), 0, 0, 0755);
	write_hook_file();
	write_conf();
	cr_assert_eq(setenv("CONTAINERS_CONF", t.conf, 1), 0);
	/* podman's temporary files (image copies, build contexts) */
	cr_assert_eq(setenv("TMPDIR", t.tmp, 1), 0);
	build_image();

	/* can podman run a user-namespaced container here at all? (no volshift) */
	r = run_container("canary", NULL, "true", NULL, &err);
	if (r != 0)
		cr_skip_test("podman cannot run a user-namespaced container here (exit %d): %s", r,
		             err);
	free(err);
}

/* Unmounts whatever is still mounted at or under dir, deepest first. */
static void unmount_under(const char *dir)
{
	for (int pass = 0; pass < 16; pass++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char line[4096], mnt[4096], best[4096] = "";
		size_t n = strlen(dir);

		if (!f)
			return;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
			    !strncmp(mnt, dir, n) && (mnt[n] == '/' || !mnt[n]) &&
			    strlen(mnt) > strlen(best))
				snprintf(best, sizeof(best), "%s", mnt);
		fclose(f);
		if (!best[0] || umount2(best, MNT_DETACH) < 0)
			return;
	}
}

static void teardown(void)
{
	if (t.storage && t.conf) {
		podman(NULL, NULL, "rm", "--all", "--force", "--time", "0", NULL);
		podman(NULL, NULL, "volume", "rm", "--all", "--force", NULL);
		podman(NULL, NULL, "rmi", "--all", "--force", NULL);
	}
	if (t.var_lib_mounted)
		umount2("/var/lib", MNT_DETACH);
	if (t.dir) {
		unmount_under(t.dir);
		tu_rm_rf(t.dir);
	}
	free(t.dir);
	free(t.storage);
	free(t.runroot);
	free(t.tmp);
	free(t.hooks);
	free(t.binds);
	free(t.reports);
	free(t.outside);
	free(t.conf);
	free((char *)t.podman);
	memset(&t, 0, sizeof(t));
}

TestSuite(podman, .init = setup, .fini = teardown, .timeout = 900);

/* ------------------------------------------------------------ volumes */

/* A volume's contents, owned by container IDs as an image or an old pod left
 * them: 0 and 1000, a setuid file, an ACL naming 1000, a subdirectory. */
static void fill_volume(const char *vol)
{
	acl_t acl;

	tu_mkfile(tu_path(vol, "root-file"), 0, 0, 0644);
	tu_mkfile(tu_path(vol, "user-file"), 1000, 1000, 0644);
	write_file(tu_path(vol, "user-file"), "hello from 1000\n", 0644);
	tu_mkfile(tu_path(vol, "setuid-file"), 1000, 1000, 04755);
	tu_mkfile(tu_path(vol, "acl-file"), 0, 0, 0640);
	acl = acl_from_text("u::rw-,u:1000:rw-,g::r--,g:1000:r--,m::rw-,o::---");
	cr_assert_not_null(acl);
	cr_assert_eq(acl_set_file(tu_path(vol, "acl-file"), ACL_TYPE_ACCESS, acl), 0, "%s",
	             strerror(errno));
	acl_free(acl);
	tu_mkdir(tu_path(vol, "sub"), 1000, 1000, 0755);
	tu_mkfile(tu_path(vol, "sub/deep"), 1000, 1000, 0600);
}

/* A bind-mount source under the allowed directory. */
static char *bind_volume(const char *name)
{
	char *vol;

	cr_assert_neq(asprintf(&vol, "%s/%s", t.binds, name), -1);
	tu_mkdir(vol, 0, 0, 0755);
	fill_volume(vol);
	return vol;
}

/* A podman named volume in the temp storage, filled through its _data. */
static char *named_volume(const char *name)
{
	char *out;

	cr_assert_eq(podman(NULL, NULL, "volume", "create", name, NULL), 0);
	cr_assert_eq(
	    podman(&out, NULL, "volume", "inspect", "--format", "{{.Mountpoint}}", name, NULL), 0);
	out[strcspn(out, "\n")] = '\0';
	cr_assert(tu_contains(out, "/volumes/"), "a containers-storage volume: %s", out);
	fill_volume(out);
	return out;
}

static void assert_owner(const char *vol, const char *rel, uid_t uid, gid_t gid)
{
	struct stat sb;
	const char *p = *rel ? tu_path(vol, rel) : vol;

	cr_assert_eq(lstat(p, &sb), 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(sb.st_uid, uid, "%s: uid %u, want %u", p, sb.st_uid, uid);
	cr_assert_eq(sb.st_gid, gid, "%s: gid %u, want %u", p, sb.st_gid, gid);
}

/* Every file below the volume's root as it was made (the root aside: podman
 * may have chowned it). */
static void assert_contents_unchanged(const char *vol)
{
	struct stat sb;

	assert_owner(vol, "root-file", 0, 0);
	assert_owner(vol, "user-file", 1000, 1000);
	assert_owner(vol, "setuid-file", 1000, 1000);
	assert_owner(vol, "acl-file", 0, 0);
	assert_owner(vol, "sub", 1000, 1000);
	assert_owner(vol, "sub/deep", 1000, 1000);
	cr_assert_eq(lstat(tu_path(vol, "new"), &sb), -1, "nothing was written");
}

/* ... and shifted into the pod's range, bits and ACL entries included. */
static void assert_contents_shifted(const char *vol)
{
	struct stat sb;
	acl_t acl;
	char *text;

	assert_owner(vol, "", HOST_BASE, HOST_BASE);
	assert_owner(vol, "root-file", HOST_BASE, HOST_BASE);
	assert_owner(vol, "user-file", HOST_BASE + 1000, HOST_BASE + 1000);
	assert_owner(vol, "sub", HOST_BASE + 1000, HOST_BASE + 1000);
	assert_owner(vol, "sub/deep", HOST_BASE + 1000, HOST_BASE + 1000);
	cr_assert_eq(lstat(tu_path(vol, "setuid-file"), &sb), 0);
	cr_assert_eq(sb.st_uid, HOST_BASE + 1000);
	cr_assert_eq(sb.st_mode & 07777, 04755, "setuid survives: %o", sb.st_mode & 07777);
	acl = acl_get_file(tu_path(vol, "acl-file"), ACL_TYPE_ACCESS);
	cr_assert_not_null(acl);
	text = acl_to_any_text(acl, NULL, ',', TEXT_NUMERIC_IDS);
	cr_assert(tu_contains(text, "user:525288:rw-"), "ACL user entry shifted: %s", text);
	cr_assert(tu_contains(text, "group:525288:r--"), "ACL group entry shifted: %s", text);
	acl_free(text);
	acl_free(acl);
}

/* What PROBE_CMD printed in a container whose /data is fixed. */
static void assert_probe_ok(const char *out, const char *err)
{
	long uid, gid;

	cr_assert(tu_contains(out, "CONTAINER-RAN\n0\n"), "id -u is 0 inside: %s", out);
	cr_assert(tu_ls_owner(out, "root-file", &uid, &gid));
	cr_assert(uid == 0 && gid == 0, "root-file shows %ld:%ld", uid, gid);
	cr_assert(tu_ls_owner(out, "user-file", &uid, &gid));
	cr_assert(uid == 1000 && gid == 1000, "user-file shows %ld:%ld", uid, gid);
	cr_assert(tu_ls_owner(out, "setuid-file", &uid, &gid));
	cr_assert(uid == 1000 && gid == 1000, "setuid-file shows %ld:%ld", uid, gid);
	cr_assert_not(tu_contains(out, " 65534 "), "no file shows as nobody: %s", out);
	cr_assert(tu_contains(out, "TOUCH-OK"), "touch /data/new succeeds: %s", err);
	cr_assert(tu_contains(out, "hello from 1000"));
}

/* ------------------------------------------------------------ reports */

static json_t *load_report(const char *name)
{
	char *id = container_id(name), path[4096];
	json_error_t jerr;
	json_t *doc;

	snprintf(path, sizeof(path), "%s/%s.json", t.reports, id);
	doc = json_load_file(path, 0, &jerr);
	cr_assert_not_null(doc, "report %s: %s", path, jerr.text);
	free(id);
	return doc;
}

static json_t *volume_at(json_t *doc, size_t i)
{
	json_t *v = json_array_get(json_object_get(doc, "volumes"), i);

	cr_assert_not_null(v, "the report names volume %zu", i);
	return v;
}

/* The report of a run that walked source (skipped false) or skipped it. A
 * walk changes the six entries below the root, and the root unless podman
 * chowned it already (a named volume). */
static void assert_report(const char *name, size_t i, const char *dest, const char *source,
                          bool skipped)
{
	json_t *doc = load_report(name), *v = volume_at(doc, i);

	cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(v, "destination")), dest);
	cr_assert_str_eq(json_string_value(json_object_get(v, "source")), source);
	cr_assert_str_eq(json_string_value(json_object_get(v, "policy")), "on-root-mismatch");
	cr_assert_eq(json_is_true(json_object_get(v, "skipped")), skipped, "%s: skipped is %s",
	             name, skipped ? "true" : "false");
	if (skipped)
		cr_assert_eq(json_integer_value(json_object_get(v, "changed")), 0);
	else
		cr_assert_geq(json_integer_value(json_object_get(v, "changed")), 6,
		              "the six entries below the root");
	cr_assert_eq(json_integer_value(json_object_get(v, "failed")), 0);
	json_decref(doc);
}

/* The report of a refused container: status 2, why, and no volume walked. */
static void assert_refused_report(const char *name, const char *needle)
{
	json_t *doc = load_report(name), *v = volume_at(doc, 0);
	const char *msg = json_string_value(json_object_get(v, "message"));

	cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 2);
	cr_assert_not_null(msg, "the report says why");
	cr_assert(strstr(msg, needle), "'%s' names '%s'", msg, needle);
	cr_assert_null(json_object_get(v, "changed"), "nothing was walked");
	json_decref(doc);
}

/* Whether a shift finished this tree (the mark root.c writes). */
static bool done_mark(const char *vol)
{
	char buf[256];

	return getxattr(vol, "trusted.volshift.done", buf, sizeof(buf)) > 0;
}

/* A container podman refused to start because the hook said no: exit
 * non-zero, it never ran, and podman passes the hook's message on. */
static void assert_hook_refused(int r, const char *out, const char *err, const char *needle)
{
	cr_assert_neq(r, 0, "podman must not start the container");
	cr_assert_not(tu_contains(out, "CONTAINER-RAN"), "the container ran: %s", out);
	cr_assert(tu_contains(err, "error running hook"), "podman names the hook: %s", err);
	cr_assert(tu_contains(err, "volshift: oci-hook: container "),
	          "podman shows the hook's message: %s", err);
	cr_assert(tu_contains(err, needle), "the message names '%s': %s", needle, err);
}

/* -------------------------------------------------------------- tests */

Test(podman, bind_mounted_volume)
{
	char *vol = bind_volume("data"), *v, *out, *err;
	const char *hook[] = {"-v", NULL, "--annotation", "io.volshift.shift=/data", NULL};
	const char *plain[] = {"-v", NULL, NULL};
	long uid, gid;

	cr_assert_neq(asprintf(&v, "%s:/data", vol), -1);
	hook[1] = plain[1] = v;

	/* no annotation: the hook file's "when" does not match, and root in the
	 * container is not the volume's owner */
	cr_assert_eq(run_container("nohook", plain, PROBE_CMD, &out, &err), 0, "%s", err);
	cr_assert(tu_contains(out, "CONTAINER-RAN\n0\n"), "id -u is 0 inside: %s", out);
	cr_assert(tu_ls_owner(out, "user-file", &uid, &gid));
	cr_assert_eq(uid, 65534, "unmapped owners show as nobody");
	cr_assert_not(tu_contains(out, "TOUCH-OK"));
	cr_assert(tu_contains(err, "Permission denied"), "touch /data/new is refused: %s", err);
	assert_contents_unchanged(vol);
	free(out);
	free(err);

	/* annotated: the hook shifts the volume before the container starts */
	cr_assert_eq(run_container("bind", hook, PROBE_CMD, &out, &err), 0, "%s", err);
	assert_probe_ok(out, err);
	assert_contents_shifted(vol);
	assert_owner(vol, "new", HOST_BASE, HOST_BASE);
	assert_report("bind", 0, "/data", vol, false);
	free(out);
	free(err);

	/* the same container started again: the volume is done, the hook skips */
	cr_assert_eq(restart("bind", &out, &err), 0, "%s", err);
	cr_assert(tu_contains(out, "TOUCH-OK"), "%s", out);
	assert_report("bind", 0, "/data", vol, true);
	assert_contents_shifted(vol);
	free(out);
	free(err);
	free(v);
	free(vol);
}

Test(podman, named_volume)
{
	char *vol = named_volume("vol"), *out, *err;
	const char *hook[] = {"-v", "vol:/data", "--annotation", "io.volshift.shift=/data", NULL};

	cr_assert(tu_contains(vol, t.storage), "the volume is in the temp storage: %s", vol);
	assert_owner(vol, "", 0, 0);

	/* podman chowns the volume's root to the container's root before the
	 * hook runs; the hook must still walk what is below */
	cr_assert_eq(run_container("named", hook, PROBE_CMD, &out, &err), 0, "%s", err);
	assert_probe_ok(out, err);
	assert_contents_shifted(vol);
	assert_report("named", 0, "/data", vol, false);
	cr_assert(done_mark(vol), "a finished shift marks the volume");
	free(out);
	free(err);

	cr_assert_eq(restart("named", &out, &err), 0, "%s", err);
	cr_assert(tu_contains(out, "TOUCH-OK"), "%s", out);
	assert_report("named", 0, "/data", vol, true);
	free(out);
	free(err);

	/* another container on the same volume: skips too */
	cr_assert_eq(run_container("named2", hook, PROBE_CMD, &out, &err), 0, "%s", err);
	assert_probe_ok(out, err);
	assert_report("named2", 0, "/data", vol, true);
	free(out);
	free(err);
	free(vol);
}

/*
 * The finding: podman chowns a named volume's root to the
 * container's root (host 524288) before hooks run, once, on the volume's
 * first use. A refused first start leaves exactly that: a root in the TO
 * range over files that are not. The next start must walk, not skip.
 */
Test(podman, named_volume_chowned_by_podman_is_not_done)
{
	char *vol = named_volume("vol"), *out, *err;
	const char *typo[] = {"-v", "vol:/data", "--annotation", "io.volshift.shfit=/data", NULL};
	const char *hook[] = {"-v", "vol:/data", "--annotation", "io.volshift.shift=/data", NULL};
	int r;

	r = run_container("typo", typo, PROBE_CMD, &out, &err);
	assert_hook_refused(r, out, err, "unknown annotation 'io.volshift.shfit'");
	assert_refused_report("typo", "io.volshift.shfit");
	assert_owner(vol, "", HOST_BASE, HOST_BASE); /* podman's doing, not the hook's */
	assert_contents_unchanged(vol);
	cr_assert_not(done_mark(vol));
	free(out);
	free(err);

	cr_assert_eq(run_container("fixed", hook, PROBE_CMD, &out, &err), 0, "%s", err);
	assert_probe_ok(out, err);
	assert_contents_shifted(vol);
	assert_report("fixed", 0, "/data", vol, false);
	free(out);
	free(err);
	free(vol);
}

Test(podman, malformed_annotation_stops_the_container)
{
	static const char *const bad[][3] = {
	    /* the annotation, what the hook's message names, what its report names */
	    {"io.volshift.shfit=/data", "unknown annotation 'io.volshift.shfit'",
	     "io.volshift.shfit"},
	    {"io.volshift.policy=sometimes", "sometimes", "io.volshift.policy"},
	};
	char *vol = bind_volume("data"), *v, *snap = tree_snapshot(vol);

	cr_assert_neq(asprintf(&v, "%s:/data", vol), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *opts[] = {
		    "-v",      v,   "--annotation", "io.volshift.shift=/data", "--annotation",
		    bad[i][0], NULL};
		char *out, *err, name[16], *after;
		int r;

		snprintf(name, sizeof(name), "bad%zu", i);
		r = run_container(name, opts, PROBE_CMD, &out, &err);
		assert_hook_refused(r, out, err, bad[i][1]);
		assert_refused_report(name, bad[i][2]);
		after = tree_snapshot(vol);
		cr_assert_eq(tree_diff(snap, after), 0, "%s: nothing changed", bad[i][0]);
		assert_contents_unchanged(vol);
		cr_assert_not(done_mark(vol));
		free(after);
		free(out);
		free(err);
	}
	free(snap);
	free(v);
	free(vol);
}

Test(podman, source_outside_allowed_dirs_stops_the_container)
{
	char *vol, *v, *out, *err, *snap;
	int r;

	cr_assert_neq(asprintf(&vol, "%s/vol", t.outside), -1);
	tu_mkdir(vol, 0, 0, 0755);
	fill_volume(vol);
	snap = tree_snapshot(vol);
	cr_assert_neq(asprintf(&v, "%s:/data", vol), -1);
	r = run_container(
	    "outside", (const char *[]){"-v", v, "--annotation", "io.volshift.shift=/data", NULL},
	    PROBE_CMD, &out, &err);
	assert_hook_refused(r, out, err, "not under an --allow-source directory");
	cr_assert(tu_contains(err, vol), "the message names the source: %s", err);
	assert_refused_report("outside", "not under an --allow-source directory");
	{
		char *after = tree_snapshot(vol);

		cr_assert_eq(tree_diff(snap, after), 0, "nothing changed");
		free(after);
	}
	assert_contents_unchanged(vol);
	free(snap);
	free(out);
	free(err);
	free(v);
	free(vol);
}

/*
 * Two volumes in one annotation. podman's --annotation is a string-slice
 * flag: it splits its value on commas (as CSV), so "io.volshift.shift=
 * /data,/cache" becomes two annotations, the second without '=', and podman
 * refuses the command line. ':' separates destinations as well; quoting the
 * whole KEY=VALUE as one CSV field keeps the comma.
 */
Test(podman, two_volumes_in_one_annotation)
{
	char *d1 = bind_volume("d1"), *c1 = bind_volume("c1"), *d2 = bind_volume("d2"),
	     *c2 = bind_volume("c2"), *vd1, *vc1, *vd2, *vc2, *out, *err;
	const char *cmd = "echo CONTAINER-RAN; ls -ln /data /cache; "
	                  "touch /data/new /cache/new && echo TOUCH-OK";
	int r;

	cr_assert_neq(asprintf(&vd1, "%s:/data", d1), -1);
	cr_assert_neq(asprintf(&vc1, "%s:/cache", c1), -1);
	cr_assert_neq(asprintf(&vd2, "%s:/data", d2), -1);
	cr_assert_neq(asprintf(&vc2, "%s:/cache", c2), -1);

	/* ':' */
	r = run_container("colon",
	                  (const char *[]){"-v", vd1, "-v", vc1, "--annotation",
	                                   "io.volshift.shift=/data:/cache", NULL},
	                  cmd, &out, &err);
	cr_assert_eq(r, 0, "%s", err);
	cr_assert(tu_contains(out, "TOUCH-OK"), "%s", err);
	cr_assert_not(tu_contains(out, " 65534 "), "%s", out);
	assert_contents_shifted(d1);
	assert_contents_shifted(c1);
	assert_report("colon", 0, "/data", d1, false);
	assert_report("colon", 1, "/cache", c1, false);
	free(out);
	free(err);

	/* ',' as is: podman itself refuses; no container, nothing changed */
	r = run_container("comma",
	                  (const char *[]){"-v", vd2, "-v", vc2, "--annotation",
	                                   "io.volshift.shift=/data,/cache", NULL},
	                  cmd, &out, &err);
	cr_assert_neq(r, 0);
	cr_assert(tu_contains(err, "annotations must be formatted KEY=VALUE"), "%s", err);
	cr_assert_not(container_exists("comma"));
	free(out);
	free(err);

	/* quoting the value: podman's CSV parser refuses a quote mid-field */
	r = run_container("quoted-value",
	                  (const char *[]){"-v", vd2, "-v", vc2, "--annotation",
	                                   "io.volshift.shift=\"/data,/cache\"", NULL},
	                  cmd, &out, &err);
	cr_assert_neq(r, 0);
	cr_assert(tu_contains(err, "bare \" in non-quoted-field"), "%s", err);
	cr_assert_not(container_exists("quoted-value"));
	assert_contents_unchanged(d2);
	assert_contents_unchanged(c2);
	free(out);
	free(err);

	/* quoting all of KEY=VALUE: one field, the comma kept, the hook splits */
	r = run_container("quoted-all",
	                  (const char *[]){"-v", vd2, "-v", vc2, "--annotation",
	                                   "\"io.volshift.shift=/data,/cache\"", NULL},
	                  cmd, &out, &err);
	cr_assert_eq(r, 0, "%s", err);
	cr_assert(tu_contains(out, "TOUCH-OK"), "%s", err);
	assert_contents_shifted(d2);
	assert_contents_shifted(c2);
	assert_report("quoted-all", 0, "/data", d2, false);
	assert_report("quoted-all", 1, "/cache", c2, false);
	free(out);
	cr_assert_eq(podman(&out, NULL, "inspect", "--format",
	                    "{{index .Config.Annotations \"io.volshift.shift\"}}", "quoted-all",
	                    NULL),
	             0);
	cr_assert(tu_contains(out, "/data,/cache"), "the annotation kept its comma: %s", out);
	free(out);
	free(err);

	free(vd1);
	free(vc1);
	free(vd2);
	free(vc2);
	free(d1);
	free(c1);
	free(d2);
	free(c2);
}

/* Starts a in the background, its output into files named after tag. */
static pid_t spawn(struct args *a, const char *tag)
{
	char *o = sub(tag), *e;
	pid_t pid;

	cr_assert_neq(asprintf(&e, "%s.err", o), -1);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (in < 0 || fo < 0 || fe < 0 || dup2(in, 0) < 0 || dup2(fo, 1) < 0 ||
		    dup2(fe, 2) < 0)
			_exit(127);
		execv(a->v[0], a->v);
		_exit(127);
	}
	free(o);
	free(e);
	return pid;
}

/*
 * A retried container creation while the first one's hook still walks, or
 * two pods' containers on one volume: two hooks on one volume at once.
 * The test holds the lock a walk takes, starts both containers, waits until
 * both hooks are blocked on it, and lets go: one walks, the other waits for
 * it and then finds the volume done.
 */
Test(podman, two_containers_on_one_volume_at_once)
{
	char *vol = bind_volume("shared"), *v;
	const char *names[2] = {"first", "second"};
	struct args a[2];
	pid_t pid[2];
	int fd, walked = 0, skipped = 0;
	long long changed = 0;

	cr_assert_neq(asprintf(&v, "%s:/data", vol), -1);
	fd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	for (int i = 0; i < 2; i++) {
		run_argv(&a[i], names[i],
		         (const char *[]){"-v", v, "--annotation", "io.volshift.shift=/data", NULL},
		         PROBE_CMD);
		pid[i] = spawn(&a[i], names[i]);
	}
	/* both hooks are running, blocked on the volume (no time asserted:
	 * podman's own time limit ends this if they never get there) */
	while (tu_flock_waiters(vol) < 2) {
		for (int i = 0; i < 2; i++) {
			int status;

			cr_assert_eq(waitpid(pid[i], &status, WNOHANG), 0,
			             "podman run %s ended before its hook reached the lock",
			             names[i]);
		}
		usleep(50 * 1000);
	}
	assert_contents_unchanged(vol);
	close(fd);

	for (int i = 0; i < 2; i++) {
		int status;
		json_t *doc, *rep;
		char *p = sub(names[i]);

		cr_assert_eq(waitpid(pid[i], &status, 0), pid[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "podman run %s: %d",
		          names[i], status);
		cr_assert_eq(tu_sh("grep -q TOUCH-OK '%s'", p), 0, "%s could write", names[i]);
		free(p);
		doc = load_report(names[i]);
		rep = volume_at(doc, 0);
		{
			char *dump = json_dumps(doc, JSON_COMPACT);

			cr_log_info("report of %s: %s", names[i], dump);
			free(dump);
		}
		if (json_is_true(json_object_get(rep, "skipped"))) {
			skipped++;
			cr_assert_eq(json_integer_value(json_object_get(rep, "entries")), 0);
		} else {
			walked++;
			changed += json_integer_value(json_object_get(rep, "changed"));
		}
		json_decref(doc);
	}
	cr_assert_eq(walked, 1, "one walk");
	cr_assert_eq(skipped, 1, "and one skip, not a second walk of a done volume");
	cr_assert_eq(changed, 7, "the walk changed the root and the six entries below");
	assert_contents_shifted(vol);
	free(v);
	free(vol);
}

/* The pid of a process /proc/locks shows waiting for the flock on path's
 * inode, or 0. */
static pid_t flock_waiter(const char *path)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[512];
	struct stat st;
	pid_t pid = 0;

	cr_assert_not_null(f);
	cr_assert_eq(stat(path, &st), 0);
	while (!pid && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "-> FLOCK");
		unsigned long ino;
		int w;

		if (p && sscanf(p, "-> FLOCK %*s %*s %d %*x:%*x:%lu", &w, &ino) == 2 &&
		    ino == st.st_ino)
			pid = w;
	}
	fclose(f);
	return pid;
}

/* How many of the sampled files (the first of each directory) are shifted. */
static unsigned shifted_samples(const char *vol, unsigned n_dirs)
{
	unsigned n = 0;

	for (unsigned d = 0; d < n_dirs; d++) {
		char rel[64];
		struct stat st;

		snprintf(rel, sizeof(rel), "d%04u/f00000", d);
		if (lstat(tu_path(vol, rel), &st) == 0 && st.st_uid >= HOST_BASE)
			n++;
	}
	return n;
}

/*
 * A hook killed in the middle of its walk, as a runtime's time limit does
 * (runc kills a hook past its "timeout"; containerd's shim kills `runc
 * create` at kubelet's deadline): the container does not start, the volume
 * is not taken as done, and the next start walks again, finishes, and pays
 * only for what the first walk had not done.
 */
Test(podman, a_killed_hook_loses_nothing)
{
	enum { N_DIRS = 50, N_FILES = 1000 };
	char *vol = bind_volume("big"), *v, *out, *err;
	struct args a;
	int fd, status;
	pid_t pid, hook;
	json_t *doc, *rep;
	long long entries, changed;

	tree_make_wide(vol, N_DIRS, N_FILES);
	cr_assert_neq(asprintf(&v, "%s:/data", vol), -1);
	run_argv(&a, "killed",
	         (const char *[]){"-v", v, "--annotation", "io.volshift.shift=/data", NULL},
	         PROBE_CMD);

	/* catch the hook before it starts: it waits on a lock the test holds */
	fd = open(vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	pid = spawn(&a, "killed");
	while (!(hook = flock_waiter(vol))) {
		cr_assert_eq(waitpid(pid, &status, WNOHANG), 0,
		             "podman run ended before its hook reached the lock");
		usleep(50 * 1000);
	}
	close(fd);
	/* ... and kill it once its walk has changed something */
	while (shifted_samples(vol, N_DIRS) == 0)
		usleep(200);
	cr_assert_eq(kill(hook, SIGKILL), 0, "the hook was still walking: %s", strerror(errno));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "the container must not start");
	cr_assert_eq(tu_sh("grep -q 'error running hook' '%s/killed.err'", t.dir), 0,
	             "podman says the hook failed");
	cr_log_info("killed with %u of %u samples shifted", shifted_samples(vol, N_DIRS), N_DIRS);
	assert_owner(vol, "", 0, 0); /* the root is changed last */
	cr_assert_not(done_mark(vol), "a killed walk is not done");

	/* the next start walks again and finishes */
	cr_assert_eq(podman(&out, &err, "start", "--attach", "killed", NULL), 0, "%s", err);
	assert_probe_ok(out, err);
	assert_contents_shifted(vol);
	cr_assert_eq(shifted_samples(vol, N_DIRS), N_DIRS);
	cr_assert(done_mark(vol));
	doc = load_report("killed");
	rep = volume_at(doc, 0);
	entries = json_integer_value(json_object_get(rep, "entries"));
	changed = json_integer_value(json_object_get(rep, "changed"));
	cr_log_info("the restart's walk: %lld entries, %lld changed", entries, changed);
	cr_assert(json_is_false(json_object_get(rep, "skipped")));
	cr_assert_eq(json_integer_value(json_object_get(rep, "failed")), 0);
	cr_assert_gt(entries, (long long)N_DIRS * N_FILES);
	cr_assert_lt(changed, entries, "what the killed walk did is not done again");
	json_decref(doc);
	free(out);
	free(err);
	free(v);
	free(vol);
}
