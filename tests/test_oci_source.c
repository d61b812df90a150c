/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: the OCI hook's source policy (src/cli/oci_source.c), pure:
 * which resolved host paths the hook may change for a container of a given
 * pod. Fails closed: only this pod's kubelet volumes, containers-storage
 * named volumes of containers that are no pod's and --allow-source
 * directories; never system directories,
 * another pod's volumes, kubelet's own directories or hostPath sources the
 * admin did not allow. The hook's resolution of sources (symlinks, "..")
 * and the end-to-end refusals are tested with runc (test_runc.c) and podman
 * (test_podman.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oci.h"

#define POD   "0f3d7c2e-1b2a-4c5d-9e8f-a1b2c3d4e5f6"
#define OTHER "99999999-1b2a-4c5d-9e8f-a1b2c3d4e5f6"
#define KUBE  "/var/lib/kubelet"
#define STORE "/var/lib/containers/storage"

static char err[1024];

static const struct oci_source_policy defaults = {.kubelet_root = KUBE, .storage_root = STORE};

static int allowed(const struct oci_source_policy *pol, const char *src, const char *uid)
{
	err[0] = '\0';
	return oci_source_allowed(pol, src, uid, err, sizeof(err));
}

Test(oci_source, this_pods_volumes_allowed)
{
	static const char *const ok[] = {
	    KUBE "/pods/" POD "/volumes/kubernetes.io~empty-dir/data",
	    KUBE "/pods/" POD "/volumes/kubernetes.io~csi/pvc-1/mount",
	    KUBE "/pods/" POD "/volumes/kubernetes.io~empty-dir/data/sub/dir",
	    KUBE "/pods/" POD "/volume-subpaths/data/app/0",
	    KUBE "/pods/" POD "/volume-subpaths/data/app/0/deeper",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(allowed(&defaults, ok[i], POD), 0, "%s: %s", ok[i], err);
}

/* A podman container's named volumes (no pod UID recorded); from a
 * Kubernetes pod the same path is a hostPath into another container's
 * volume, refused. */
Test(oci_source, named_volumes_only_outside_kubernetes_pods)
{
	static const char *const named[] = {
	    STORE "/volumes/pgdata/_data",
	    STORE "/volumes/pgdata/_data/base",
	};

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		cr_assert_eq(allowed(&defaults, named[i], NULL), 0, "%s: %s", named[i], err);
		cr_assert_eq(allowed(&defaults, named[i], POD), -EPERM, "%s", named[i]);
		cr_assert(strstr(err, "Kubernetes pod"), "%s", err);
	}
}

Test(oci_source, everything_else_refused_by_default)
{
	static const char *const refused[] = {
	    "/etc/kubernetes",
	    "/var/lib/etcd",
	    "/usr/local/bin",
	    "/srv/data",
	    "/home/user/vol",
	    KUBE,
	    KUBE "/pods",
	    KUBE "/pods/" POD,
	    KUBE "/pods/" POD "/volumes",
	    KUBE "/pods/" POD "/volumes/kubernetes.io~empty-dir",
	    KUBE "/pods/" POD "/containers/app/abc",
	    KUBE "/pods/" POD "/volume-subpaths/data/app",
	    KUBE "/plugins/kubernetes.io/csi",
	    KUBE "x/pods/" POD "/volumes/a/b",
	    STORE,
	    STORE "/volumes",
	    STORE "/volumes/pgdata",
	    STORE "/volumes/pgdata/other",
	    STORE "/overlay/abc/diff",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cr_assert_eq(allowed(&defaults, refused[i], POD), -EPERM, "%s", refused[i]);
		cr_assert(strstr(err, refused[i]), "reason '%s' names the path", err);
	}
}

Test(oci_source, another_pods_volume_refused)
{
	const char *src = KUBE "/pods/" OTHER "/volumes/kubernetes.io~empty-dir/data";
	struct oci_source_policy wide = defaults;

	cr_assert_eq(allowed(&defaults, src, POD), -EPERM);
	cr_assert(strstr(err, "of pod " OTHER), "%s", err);
	cr_assert(strstr(err, "this container's pod " POD), "%s", err);
	/* not even when the admin allowed the whole kubelet directory */
	wide.allow[wide.n_allow++] = KUBE;
	cr_assert_eq(allowed(&wide, src, POD), -EPERM);
	cr_assert_eq(allowed(&wide, KUBE "/pods/" OTHER "/volume-subpaths/v/c/0", POD), -EPERM);
}

Test(oci_source, no_pod_uid_no_kubelet_volume)
{
	const char *src = KUBE "/pods/" POD "/volumes/kubernetes.io~empty-dir/data";

	cr_assert_eq(allowed(&defaults, src, NULL), -EPERM);
	cr_assert(strstr(err, "no pod UID"), "%s", err);
	/* named volumes do not depend on a pod */
	cr_assert_eq(allowed(&defaults, STORE "/volumes/v/_data", NULL), 0, "%s", err);
}

Test(oci_source, dot_components_are_not_volumes)
{
	/* sources arrive resolved; a "." or ".." that slipped through is no volume */
	cr_assert_eq(allowed(&defaults, KUBE "/pods/" POD "/volumes/../x/y", POD), -EPERM);
	cr_assert_eq(allowed(&defaults, KUBE "/pods/" POD "/volumes/a/..", POD), -EPERM);
	cr_assert_eq(allowed(&defaults, KUBE "/pods/../volumes/a/b", ".."), -EPERM);
	cr_assert_eq(allowed(&defaults, STORE "/volumes/../_data", NULL), -EPERM);
}

Test(oci_source, system_paths_refused_whatever_is_allowed)
{
	static const char *const refused[] = {"/",          "/etc",     "/usr",     "/var/lib",
	                                      "/proc/1",    "/sys",     "/dev/shm", "/proc",
	                                      "/usr/local", "relative", ""};
	static const char *const allowed_paths[] = {"/etc/app", "/srv/vol", "/devices",
	                                            "/var/lib/x", "/tmp/volshift-1/vol"};
	struct oci_source_policy root = defaults;

	root.allow[root.n_allow++] = "/";
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cr_assert_lt(allowed(&root, refused[i], POD), 0, "%s", refused[i]);
		cr_assert(strstr(err, refused[i]), "reason '%s' names the path", err);
	}
	for (size_t i = 0; i < sizeof(allowed_paths) / sizeof(allowed_paths[0]); i++)
		cr_assert_eq(allowed(&root, allowed_paths[i], POD), 0, "%s: %s", allowed_paths[i],
		             err);
}

Test(oci_source, allow_list_on_component_boundaries)
{
	struct oci_source_policy pol = {.allow = {"/srv/hostpath/", "/data/volumes"}, .n_allow = 2};

	cr_assert_eq(allowed(&pol, "/srv/hostpath/a", POD), 0, "%s", err);
	cr_assert_eq(allowed(&pol, "/srv/hostpath", POD), 0, "%s", err);
	cr_assert_eq(allowed(&pol, "/data/volumes/a/b", POD), 0, "%s", err);
	cr_assert_eq(allowed(&pol, "/srv/hostpathx", POD), -EPERM);
	cr_assert_eq(allowed(&pol, "/srv", POD), -EPERM);
	cr_assert_eq(allowed(&pol, "/data/volumes-other", POD), -EPERM);
	cr_assert(strstr(err, "--allow-source"), "%s", err);
	/* no kubelet or storage root configured: their paths are nothing special */
	cr_assert_eq(allowed(&pol, KUBE "/pods/" POD "/volumes/a/b", POD), -EPERM);
}

Test(oci_source, pod_uid_shape)
{
	cr_assert(oci_pod_uid_valid(POD));
	cr_assert(oci_pod_uid_valid("abc"));
	cr_assert_not(oci_pod_uid_valid(""));
	cr_assert_not(oci_pod_uid_valid(NULL));
	cr_assert_not(oci_pod_uid_valid(".."));
	cr_assert_not(oci_pod_uid_valid("a/b"));
	cr_assert_not(oci_pod_uid_valid("g"));
	cr_assert_not(
	    oci_pod_uid_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"));
}

/* found by tests/fuzz/fuzz_oci_path: the checks compared strings, so other
 * spellings of '/', a system directory or /proc passed */
Test(oci_source, other_spellings_refused)
{
	static const char *const refused[] = {
	    "//",
	    "//etc",
	    "/etc/",
	    "/./proc/1",
	    "/srv/../proc",
	    "/a//../",
	    "/usr/./local",
	    "/srv/vol/.",
	    "/srv/vol/..",
	    "/srv//vol",
	    KUBE "/pods/" POD "/volumes/a/b/",
	};
	struct oci_source_policy pol = defaults;

	pol.allow[pol.n_allow++] = "/";
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cr_assert_eq(allowed(&pol, refused[i], POD), -EPERM, "%s", refused[i]);
		cr_assert(strstr(err, refused[i]), "reason '%s' names the path", err);
	}
}
