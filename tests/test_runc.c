/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: volshift oci-hook run by a real runtime (runc), end to end. A
 * bundle with a busybox-static rootfs, a user namespace 0 -> 524288 (65536
 * IDs) and a bind-mounted volume owned by container IDs (0 and 1000, an ACL,
 * a setuid file). Without the hook the container's root cannot write its
 * volume; with it, it can, and the host sees the IDs shifted. A restart with
 * on-root-mismatch skips; a malformed annotation makes runc refuse to start
 * the container. The hook runs with the shipped hooks/volshift.json's args
 * plus two test seams (--kubelet-root, --report-dir, pointing into the temp
 * dir): the volume sits where kubelet keeps a pod's volumes, and the pod UID
 * is the one a runtime records (io.kubernetes.cri.sandbox-uid). Every source
 * that is not that pod's volume (a hostPath, another pod's volume, a symlink
 * or ".." out of the volume, no pod UID at all) is refused, and nothing
 * outside changes.
 * Needs root, runc and busybox-static; skips when this machine cannot run a
 * container at all (checked with a container that does nothing).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "testutil.h"

#define HOST_BASE 524288u
#define BUSYBOX   "/bin/busybox"
#define POD_UID   "0f3d7c2e-1b2a-4c5d-9e8f-a1b2c3d4e5f6"
#define OTHER_UID "99999999-1b2a-4c5d-9e8f-a1b2c3d4e5f6"
#define VOL_DIR   "pods/" POD_UID "/volumes/kubernetes.io~empty-dir"

/* What the container runs: each line is checked against kernel-visible state. */
#define PROBE_CMD                                                                                  \
	"echo CONTAINER-RAN; id -u; ls -ln /data; touch /data/new && echo TOUCH-OK; "              \
	"cat /data/user-file"

static struct {
	char *dir, *bundle, *vol, *state_root, *reports, *kubelet, *hostpath;
	const char *source; /* the /data mount's source: t.vol unless a test says */
	bool no_pod_uid;    /* the runtime recorded none */
	json_t *hook_args;  /* the shipped hook's args, then the test seams */
	const char *runc;
	char ids[8][64]; /* containers to delete in teardown */
	int n_ids;
} t;

static const char *find_runc(void)
{
	static const char *const paths[] = {"/usr/sbin/runc", "/usr/bin/runc",
	                                    "/usr/local/sbin/runc", "/usr/local/bin/runc"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void make_rootfs(void)
{
	static const char *const dirs[] = {"bin", "proc", "dev", "sys", "tmp", "data"};
	static const char *const applets[] = {"sh", "id", "ls", "touch", "cat", "echo", "true"};
	char *rootfs;

	cr_assert_neq(asprintf(&rootfs, "%s/rootfs", t.bundle), -1);
	tu_mkdir(rootfs, 0, 0, 0755);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		tu_mkdir(tu_path(rootfs, dirs[i]), 0, 0, 0755);
	cr_assert_eq(tu_sh("cp %s '%s/bin/busybox'", BUSYBOX, rootfs), 0);
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
		cr_assert_eq(symlink("busybox", tu_path(rootfs, tu_path("bin", applets[i]))), 0);
	free(rootfs);
}

/* The volume, owned by container IDs as an image or an old pod left it. */
static void make_volume(void)
{
	acl_t acl;

	tu_mkdir(t.vol, 0, 0, 0755);
	tu_mkfile(tu_path(t.vol, "root-file"), 0, 0, 0644);
	tu_mkfile(tu_path(t.vol, "user-file"), 1000, 1000, 0644);
	write_file(tu_path(t.vol, "user-file"), "hello from 1000\n");
	tu_mkfile(tu_path(t.vol, "setuid-file"), 1000, 1000, 04755);
	tu_mkfile(tu_path(t.vol, "acl-file"), 0, 0, 0640);
	acl = acl_from_text("u::rw-,u:1000:rw-,g::r--,g:1000:r--,m::rw-,o::---");
	cr_assert_not_null(acl);
	cr_assert_eq(acl_set_file(tu_path(t.vol, "acl-file"), ACL_TYPE_ACCESS, acl), 0, "%s",
	             strerror(errno));
	acl_free(acl);
	tu_mkdir(tu_path(t.vol, "sub"), 1000, 1000, 0755);
	tu_mkfile(tu_path(t.vol, "sub/deep"), 1000, 1000, 0600);
}

/*
 * config.json: the container's root is host 524288, /data is the volume;
 * annotations (may be NULL) and the hook (when with_hook) as given.
 */
static void write_config(const char *args, json_t *annotations, bool with_hook, uid_t uid,
                         gid_t gid)
{
	json_t *cfg, *caps, *hooks = NULL;
	char *path;

	caps = json_pack("[s,s,s]", "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE");
	if (with_hook)
		hooks = json_pack("{s:[{s:s, s:O}]}", "createRuntime", "path", VS_BIN, "args",
		                  t.hook_args);
	/* clang-format off */
	cfg = json_pack(
	    "{s:s, s:{s:b, s:{s:I, s:I}, s:[s,s,s], s:[s], s:s, s:b,"
	    "         s:{s:O, s:O, s:O}},"
	    " s:{s:s, s:b}, s:s,"
	    " s:[{s:s, s:s, s:s},"
	    "    {s:s, s:s, s:s, s:[s,s,s]},"
	    "    {s:s, s:s, s:s, s:[s,s]}],"
	    " s:{s:[{s:s},{s:s},{s:s},{s:s},{s:s},{s:s}],"
	    "    s:[{s:i, s:I, s:i}], s:[{s:i, s:I, s:i}]}}",
	    "ociVersion", "1.0.2-dev",
	    "process",
	        "terminal", 0,
	        "user", "uid", (json_int_t)uid, "gid", (json_int_t)gid,
	        "args", "sh", "-c", args,
	        "env", "PATH=/bin",
	        "cwd", "/",
	        "noNewPrivileges", 1,
	        "capabilities", "bounding", caps, "effective", caps, "permitted", caps,
	    "root", "path", "rootfs", "readonly", 1,
	    "hostname", "volshift-test",
	    "mounts",
	        "destination", "/proc", "type", "proc", "source", "proc",
	        "destination", "/dev", "type", "tmpfs", "source", "tmpfs",
	            "options", "nosuid", "mode=755", "size=1024k",
	        "destination", "/data", "type", "bind", "source", t.source ? t.source : t.vol,
	            "options", "rbind", "rw",
	    "linux",
	        "namespaces", "type", "pid", "type", "ipc", "type", "uts", "type", "mount",
	            "type", "network", "type", "user",
	        "uidMappings", "containerID", 0, "hostID", (json_int_t)HOST_BASE, "size", 65536,
	        "gidMappings", "containerID", 0, "hostID", (json_int_t)HOST_BASE, "size", 65536);
	/* clang-format on */
	cr_assert_not_null(cfg, "json_pack of config.json");
	json_decref(caps);
	if (annotations) {
		json_t *ann = json_deep_copy(annotations);

		/* what containerd's CRI plugin records for every container */
		if (!t.no_pod_uid)
			json_object_set_new(ann, "io.kubernetes.cri.sandbox-uid",
			                    json_string(POD_UID));
		json_object_set_new(cfg, "annotations", ann);
	}
	if (hooks)
		json_object_set_new(cfg, "hooks", hooks);
	cr_assert_neq(asprintf(&path, "%s/config.json", t.bundle), -1);
	cr_assert_eq(json_dump_file(cfg, path, JSON_INDENT(2)), 0);
	free(path);
	json_decref(cfg);
}

/* runc run in the foreground, no terminal; the container's stdout/stderr captured. */
static int run_container(const char *tag, char *id, size_t idsz, char **out, char **err)
{
	int r;

	snprintf(id, idsz, "volshift-test-%d-%s", (int)getpid(), tag);
	cr_assert_lt(t.n_ids, 8);
	snprintf(t.ids[t.n_ids++], sizeof(t.ids[0]), "%s", id);
	char *argv[] = {"/usr/bin/timeout",
	                "120",
	                (char *)t.runc,
	                "--root",
	                t.state_root,
	                "run",
	                "--bundle",
	                t.bundle,
	                id,
	                NULL};
	r = tu_run(argv, out, err);
	cr_log_info("runc run %s: exit %d\nstdout:\n%s\nstderr:\n%s", id, r, *out, *err);
	return r;
}

static void delete_container(const char *id)
{
	char *argv[] = {(char *)t.runc, "--root", t.state_root, "delete", "-f", (char *)id, NULL};

	tu_run(argv, NULL, NULL);
}

/* The args of the shipped hooks/volshift.json, then the test seams: the
 * kubelet root and the report directory inside the temp dir. */
static json_t *shipped_hook_args(void)
{
	json_error_t jerr;
	json_t *doc = json_load_file(VS_SOURCE_DIR "/hooks/volshift.json", 0, &jerr), *args;

	cr_assert_not_null(doc, "hooks/volshift.json: %s", jerr.text);
	args = json_deep_copy(json_object_get(json_object_get(doc, "hook"), "args"));
	cr_assert(json_is_array(args), "hooks/volshift.json has hook.args");
	json_decref(doc);
	json_array_append_new(args, json_string("--kubelet-root"));
	json_array_append_new(args, json_string(t.kubelet));
	json_array_append_new(args, json_string("--report-dir"));
	json_array_append_new(args, json_string(t.reports));
	return args;
}

static void setup(void)
{
	char *out, *err, id[64];
	int r;

	if (!tu_is_root())
		cr_skip_test("needs root (runc and chown)");
	t.runc = find_runc();
	if (!t.runc)
		cr_skip_test("runc is not installed");
	if (!tu_is_static_elf(BUSYBOX))
		cr_skip_test("no static %s (Debian package busybox-static)", BUSYBOX);
	if (access("/proc/self/ns/user", F_OK) < 0)
		cr_skip_test("this kernel has no user namespaces");

	t.dir = tu_mkdtemp("runc");
	/* the container's root (host 524288) must reach its rootfs */
	cr_assert_eq(chmod(t.dir, 0755), 0);
	cr_assert_neq(asprintf(&t.bundle, "%s/bundle", t.dir), -1);
	cr_assert_neq(asprintf(&t.kubelet, "%s/kubelet", t.dir), -1);
	cr_assert_neq(asprintf(&t.vol, "%s/" VOL_DIR "/data", t.kubelet), -1);
	cr_assert_neq(asprintf(&t.hostpath, "%s/hostpath", t.dir), -1);
	cr_assert_neq(asprintf(&t.state_root, "%s/runc-state", t.dir), -1);
	cr_assert_neq(asprintf(&t.reports, "%s/reports", t.dir), -1);
	tu_mkdir(t.bundle, 0, 0, 0755);
	tu_mkdir(t.reports, 0, 0, 0755);
	cr_assert_eq(tu_sh("mkdir -p -m 0755 '%s/" VOL_DIR "' '%s/pods/" OTHER_UID
	                   "/volumes/kubernetes.io~empty-dir/data'",
	                   t.kubelet, t.kubelet),
	             0);
	/* a host directory no pod may be handed: like /etc/kubernetes */
	tu_mkdir(t.hostpath, 0, 0, 0755);
	tu_mkfile(tu_path(t.hostpath, "admin.conf"), 0, 0, 0600);
	t.hook_args = shipped_hook_args();
	make_rootfs();
	make_volume();

	/* can this machine run a user-namespaced container at all? (no volshift) */
	write_config("true", NULL, false, 0, 0);
	r = run_container("canary", id, sizeof(id), &out, &err);
	if (r != 0)
		cr_skip_test("runc cannot run a user-namespaced container here (exit %d): %s", r,
		             err);
	free(out);
	free(err);
}

static void teardown(void)
{
	for (int i = 0; i < t.n_ids; i++)
		delete_container(t.ids[i]);
	if (t.dir)
		tu_rm_rf(t.dir);
	free(t.dir);
	free(t.bundle);
	free(t.vol);
	free(t.state_root);
	free(t.reports);
	free(t.kubelet);
	free(t.hostpath);
	json_decref(t.hook_args);
	memset(&t, 0, sizeof(t));
}

TestSuite(runc, .init = setup, .fini = teardown, .timeout = 600);

static json_t *load_report(const char *id)
{
	json_error_t jerr;
	char path[4096];
	json_t *doc;

	snprintf(path, sizeof(path), "%s/%s.json", t.reports, id);
	doc = json_load_file(path, 0, &jerr);
	cr_assert_not_null(doc, "report %s: %s", path, jerr.text);
	return doc;
}

static json_t *first_volume(json_t *doc)
{
	json_t *v = json_array_get(json_object_get(doc, "volumes"), 0);

	cr_assert_not_null(v, "the report names the volume");
	return v;
}

static void assert_stat(const char *rel, uid_t uid, gid_t gid)
{
	struct stat sb;

	cr_assert_eq(lstat(tu_path(t.vol, rel), &sb), 0, "%s: %s", rel, strerror(errno));
	cr_assert_eq(sb.st_uid, uid, "%s: uid %u, want %u", rel, sb.st_uid, uid);
	cr_assert_eq(sb.st_gid, gid, "%s: gid %u, want %u", rel, sb.st_gid, gid);
}

Test(runc, hook_makes_the_volume_usable)
{
	json_t *ann = json_pack("{s:s}", "io.volshift.shift", "/data");
	char *out, *err, id[64];
	long uid, gid;
	struct stat sb;
	acl_t acl;

	/* without the hook: root inside is not the volume's owner */
	write_config(PROBE_CMD, ann, false, 0, 0);
	run_container("nohook", id, sizeof(id), &out, &err);
	cr_assert(tu_contains(out, "CONTAINER-RAN"));
	cr_assert(tu_contains(out, "CONTAINER-RAN\n0\n"), "id -u is 0 inside: %s", out);
	cr_assert(tu_ls_owner(out, "user-file", &uid, &gid));
	cr_assert_eq(uid, 65534, "unmapped owners show as nobody");
	cr_assert_not(tu_contains(out, "TOUCH-OK"));
	cr_assert(tu_contains(err, "Permission denied"), "touch /data/new is refused: %s", err);
	cr_assert_eq(lstat(tu_path(t.vol, "new"), &sb), -1);
	assert_stat("user-file", 1000, 1000);
	free(out);
	free(err);

	/* with the hook */
	write_config(PROBE_CMD, ann, true, 0, 0);
	cr_assert_eq(run_container("hook", id, sizeof(id), &out, &err), 0, "the container runs: %s",
	             err);
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

	/* what the host sees */
	assert_stat("", HOST_BASE, HOST_BASE);
	assert_stat("root-file", HOST_BASE, HOST_BASE);
	assert_stat("user-file", HOST_BASE + 1000, HOST_BASE + 1000);
	assert_stat("sub/deep", HOST_BASE + 1000, HOST_BASE + 1000);
	assert_stat("new", HOST_BASE, HOST_BASE);
	cr_assert_eq(lstat(tu_path(t.vol, "setuid-file"), &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 04755, "setuid survives: %o", sb.st_mode & 07777);
	cr_assert_eq(sb.st_uid, HOST_BASE + 1000);

	acl = acl_get_file(tu_path(t.vol, "acl-file"), ACL_TYPE_ACCESS);
	cr_assert_not_null(acl);
	{
		char *text = acl_to_any_text(acl, NULL, ',', TEXT_NUMERIC_IDS);

		cr_assert(tu_contains(text, "user:525288:rw-"), "ACL user entry shifted: %s", text);
		cr_assert(tu_contains(text, "group:525288:r--"), "ACL group entry shifted: %s",
		          text);
		acl_free(text);
	}
	acl_free(acl);

	{
		json_t *doc = load_report(id), *v = first_volume(doc);

		cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 0);
		cr_assert_str_eq(json_string_value(json_object_get(v, "destination")), "/data");
		cr_assert_str_eq(json_string_value(json_object_get(v, "source")), t.vol);
		cr_assert(json_is_false(json_object_get(v, "skipped")));
		cr_assert_geq(json_integer_value(json_object_get(v, "changed")), 7);
		cr_assert_eq(json_integer_value(json_object_get(v, "failed")), 0);
		json_decref(doc);
	}
	free(out);
	free(err);
	json_decref(ann);
}

Test(runc, restart_skips_with_on_root_mismatch)
{
	json_t *ann = json_pack("{s:s}", "io.volshift.shift", "/data");
	char *out, *err, id[64];
	json_t *doc, *v;

	write_config(PROBE_CMD, ann, true, 0, 0);
	cr_assert_eq(run_container("first", id, sizeof(id), &out, &err), 0, "%s", err);
	free(out);
	free(err);
	doc = load_report(id);
	v = first_volume(doc);
	cr_assert(json_is_false(json_object_get(v, "skipped")));
	cr_assert_gt(json_integer_value(json_object_get(v, "changed")), 0);
	json_decref(doc);

	/* the volume now matches: a restart costs nothing */
	cr_assert_eq(run_container("second", id, sizeof(id), &out, &err), 0, "%s", err);
	cr_assert(tu_contains(out, "TOUCH-OK"));
	doc = load_report(id);
	v = first_volume(doc);
	cr_assert_str_eq(json_string_value(json_object_get(v, "policy")), "on-root-mismatch");
	cr_assert(json_is_true(json_object_get(v, "skipped")), "the second start skips");
	cr_assert_eq(json_integer_value(json_object_get(v, "changed")), 0);
	json_decref(doc);
	free(out);
	free(err);
	assert_stat("user-file", HOST_BASE + 1000, HOST_BASE + 1000);

	/* policy always walks again, and changes nothing: a shift is idempotent */
	json_object_set_new(ann, "io.volshift.policy", json_string("always"));
	write_config(PROBE_CMD, ann, true, 0, 0);
	cr_assert_eq(run_container("always", id, sizeof(id), &out, &err), 0, "%s", err);
	doc = load_report(id);
	v = first_volume(doc);
	cr_assert(json_is_false(json_object_get(v, "skipped")));
	cr_assert_eq(json_integer_value(json_object_get(v, "changed")), 0);
	cr_assert_gt(json_integer_value(json_object_get(v, "entries")), 0);
	json_decref(doc);
	free(out);
	free(err);
	assert_stat("user-file", HOST_BASE + 1000, HOST_BASE + 1000);
	json_decref(ann);
}

/* The report of a refused container: status 2, why, and no volume walked. */
static void assert_refused_report(const char *id, const char *needle)
{
	json_t *doc = load_report(id), *v = first_volume(doc);
	const char *msg = json_string_value(json_object_get(v, "message"));

	cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 2);
	cr_assert_not_null(msg, "the report says why");
	cr_assert(strstr(msg, needle), "'%s' names '%s'", msg, needle);
	cr_assert_null(json_object_get(v, "changed"), "nothing was walked");
	json_decref(doc);
}

Test(runc, malformed_annotation_refuses_the_container)
{
	static const char *const bad[][2] = {
	    {"io.volshift.policy", "sometimes"},
	    {"io.volshift.shift", "/not-mounted"},
	    {"io.volshift.shift", "data"},
	    {"io.volshift.fsgroup", "70000"}, /* outside the container's range */
	    {"io.volshift.shfit", "/data"},   /* a typo is not ignored */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *ann = json_pack("{s:s}", "io.volshift.shift", "/data");
		char *out, *err, id[64], tag[16];
		int r;

		json_object_set_new(ann, bad[i][0], json_string(bad[i][1]));
		if (!strcmp(bad[i][0], "io.volshift.fsgroup")) {
			json_object_del(ann, "io.volshift.shift");
			json_object_set_new(ann, "io.volshift.fsgroup.paths", json_string("/data"));
		}
		write_config(PROBE_CMD, ann, true, 0, 0);
		snprintf(tag, sizeof(tag), "bad%zu", i);
		r = run_container(tag, id, sizeof(id), &out, &err);
		cr_assert_neq(r, 0, "%s=%s: runc must refuse to start", bad[i][0], bad[i][1]);
		cr_assert_not(tu_contains(out, "CONTAINER-RAN"), "%s=%s: the container ran",
		              bad[i][0], bad[i][1]);
		cr_assert(tu_contains(err, bad[i][0]) || tu_contains(err, bad[i][1]),
		          "runc passes on why: %s", err);
		/* nothing changed */
		assert_stat("", 0, 0);
		assert_stat("user-file", 1000, 1000);
		assert_refused_report(id, bad[i][0]);
		free(out);
		free(err);
		json_decref(ann);
	}
}

Test(runc, fsgroup_lets_a_non_root_user_write)
{
	json_t *ann = json_pack("{s:s, s:s}", "io.volshift.fsgroup", "1000",
	                        "io.volshift.fsgroup.paths", "/data");
	const char *cmd = "echo CONTAINER-RAN; touch /data/by-1000 && echo TOUCH-OK";
	char *out, *err, id[64];
	struct stat sb;

	/* the container runs as 1000:1000; /data is root's 0755 */
	write_config(cmd, ann, false, 1000, 1000);
	cr_assert_eq(run_container("fsg-nohook", id, sizeof(id), &out, &err) == 0 &&
	                 tu_contains(out, "TOUCH-OK"),
	             false);
	cr_assert(tu_contains(err, "Permission denied"), "%s", err);
	free(out);
	free(err);

	write_config(cmd, ann, true, 1000, 1000);
	cr_assert_eq(run_container("fsg-hook", id, sizeof(id), &out, &err), 0, "%s", err);
	cr_assert(tu_contains(out, "TOUCH-OK"), "%s", err);
	cr_assert_eq(lstat(t.vol, &sb), 0);
	cr_assert_eq(sb.st_gid, HOST_BASE + 1000, "the group is GID 1000 of the container");
	cr_assert_eq(sb.st_uid, 0, "fsgroup keeps the owner");
	cr_assert_eq(sb.st_mode & 07777, 02775);
	assert_stat("by-1000", HOST_BASE + 1000, HOST_BASE + 1000);
	free(out);
	free(err);
	json_decref(ann);
}

/* Sources that are not this pod's volume: the container does not start, and
 * nothing there or in the volume changes. */
Test(runc, non_volume_sources_refused)
{
	char *link_out, *dotdot, *other;
	struct {
		const char *why, *source, *needle;
		bool no_pod_uid;
	} cases[] = {
	    {"a hostPath the admin did not allow", t.hostpath, "not a volume of this pod"},
	    {"another pod's volume", NULL, "of pod " OTHER_UID},
	    {"a symlink in the volume dir pointing out", NULL, t.hostpath},
	    {"'..' out of the volume", NULL, t.hostpath},
	    {"this pod's volume, but no pod UID recorded", t.vol, "no pod UID", true},
	};

	cr_assert_neq(asprintf(&other, "%s/pods/" OTHER_UID "/volumes/kubernetes.io~empty-dir/data",
	                       t.kubelet),
	              -1);
	tu_mkfile(tu_path(other, "theirs"), 0, 0, 0644);
	cr_assert_neq(asprintf(&link_out, "%s/" VOL_DIR "/escape", t.kubelet), -1);
	cr_assert_eq(symlink(t.hostpath, link_out), 0);
	cr_assert_neq(asprintf(&dotdot, "%s/../../../../../../hostpath", t.vol), -1);
	cases[1].source = other;
	cases[2].source = link_out;
	cases[3].source = dotdot;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ann = json_pack("{s:s}", "io.volshift.shift", "/data");
		char *out, *err, id[64], tag[16];
		struct stat sb;

		t.source = cases[i].source;
		t.no_pod_uid = cases[i].no_pod_uid;
		write_config(PROBE_CMD, ann, true, 0, 0);
		snprintf(tag, sizeof(tag), "src%zu", i);
		cr_assert_neq(run_container(tag, id, sizeof(id), &out, &err), 0,
		              "%s: runc must refuse to start", cases[i].why);
		cr_assert_not(tu_contains(out, "CONTAINER-RAN"), "%s: the container ran",
		              cases[i].why);
		cr_assert(tu_contains(err, cases[i].needle), "%s: runc passes on why: %s",
		          cases[i].why, err);
		assert_refused_report(id, cases[i].needle);
		cr_assert_eq(lstat(tu_path(t.hostpath, "admin.conf"), &sb), 0);
		cr_assert(sb.st_uid == 0 && sb.st_gid == 0, "%s: the host file kept its owner",
		          cases[i].why);
		cr_assert_eq(lstat(t.hostpath, &sb), 0);
		cr_assert(sb.st_uid == 0 && sb.st_gid == 0, "%s: the host dir kept its owner",
		          cases[i].why);
		cr_assert_eq(lstat(tu_path(other, "theirs"), &sb), 0);
		cr_assert_eq(sb.st_uid, 0, "%s: the other pod's file kept its owner", cases[i].why);
		assert_stat("user-file", 1000, 1000);
		free(out);
		free(err);
		json_decref(ann);
	}
	t.source = NULL;
	t.no_pod_uid = false;
	free(other);
	free(link_out);
	free(dotdot);
}
