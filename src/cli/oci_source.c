/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The source policy: which host directories the OCI hook may change.
 *
 * The hook runs as host root, and what it changes is named by a container's
 * mounts and by annotations that whoever may create a pod writes. So it
 * fails closed: a source is changed only when it is provably a volume of the
 * container's own pod (kubelet's per-pod volume directories, checked against
 * the pod UID the runtime recorded), a containers-storage named volume of a
 * container that is no Kubernetes pod's (podman's; from a pod, such a path is
 * a hostPath into another container's volume), or
 * lies under a directory the node's admin allowed with --allow-source. The
 * caller resolves the source first (it opens it and reads the path of what
 * it holds back from /proc/self/fd, so symlinks, ".." and the mount it was
 * reached through are what the kernel says), then walks that very fd.
 * Pure: string rules only.
 */
#include "oci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool oci_pod_uid_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= 64 && strspn(s, "0123456789abcdefABCDEF-") == n;
}

/* Length of prefix without trailing slashes ("/" stays 1). */
static size_t trimmed(const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	return n;
}

/* At or under prefix, on a component boundary. */
static bool path_under(const char *path, const char *prefix)
{
	size_t n = trimmed(prefix);

	if (n == 1 && prefix[0] == '/')
		return true;
	return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

/*
 * If path is strictly below prefix, the path after it ("a/b/c", no leading
 * slash), else NULL.
 */
static const char *below(const char *path, const char *prefix)
{
	size_t n = trimmed(prefix);

	if (n == 1 && prefix[0] == '/')
		return path[1] ? path + 1 : NULL;
	if (strncmp(path, prefix, n) || path[n] != '/' || !path[n + 1])
		return NULL;
	return path + n + 1;
}

/* Splits the first k components of rel into comp[] (pointers into rel, each
 * with its length); true when rel has at least k non-empty components. */
static bool components(const char *rel, const char *comp[], size_t len[], size_t k)
{
	const char *p = rel;

	for (size_t i = 0; i < k; i++) {
		if (!p || !*p)
			return false;
		len[i] = strcspn(p, "/");
		comp[i] = p;
		if (len[i] == 0)
			return false;
		p = p[len[i]] == '/' ? p + len[i] + 1 : NULL;
	}
	return true;
}

static bool comp_is(const char *c, size_t len, const char *s)
{
	return strlen(s) == len && !strncmp(c, s, len);
}

static bool dot_or_dotdot(const char *c, size_t len)
{
	return comp_is(c, len, ".") || comp_is(c, len, "..");
}

/*
 * KUBELET/pods/UID/volumes/PLUGIN/NAME[/...] or
 * KUBELET/pods/UID/volume-subpaths/VOLUME/CONTAINER/INDEX[/...]:
 * 1 when source is such a path of pod_uid, 0 when it is not a pod volume
 * at all, -EPERM (reason in err) when it is another pod's, or this pod's
 * while the runtime recorded no UID to check it against.
 */
static int kubelet_volume(const char *kubelet_root, const char *source, const char *pod_uid,
                          char *err, size_t errsz)
{
	const char *c[6], *rel = kubelet_root ? below(source, kubelet_root) : NULL;
	size_t len[6], need;

	if (!rel || !components(rel, c, len, 3) || !comp_is(c[0], len[0], "pods"))
		return 0;
	if (comp_is(c[2], len[2], "volumes"))
		need = 5; /* pods UID volumes PLUGIN NAME */
	else if (comp_is(c[2], len[2], "volume-subpaths"))
		need = 6; /* pods UID volume-subpaths VOLUME CONTAINER INDEX */
	else
		return 0;
	if (!components(rel, c, len, need))
		return 0; /* kubelet's own directories, not a volume */
	for (size_t i = 0; i < need; i++)
		if (dot_or_dotdot(c[i], len[i]))
			return 0;
	if (!pod_uid) {
		oci_fail(err, errsz,
		         "source '%s' is a kubelet pod volume, but the runtime recorded no pod UID "
		         "to check it belongs to this container's pod; not changing it",
		         source);
		return -EPERM;
	}
	if (!comp_is(c[1], len[1], pod_uid)) {
		oci_fail(err, errsz,
		         "source '%s' is a volume of pod %.*s, not of this container's pod %s; not "
		         "changing it",
		         source, (int)len[1], c[1], pod_uid);
		return -EPERM;
	}
	return 1;
}

/* STORAGE/volumes/NAME/_data[/...]: a containers-storage named volume. */
static bool storage_volume(const char *storage_root, const char *source)
{
	const char *c[3], *rel = storage_root ? below(source, storage_root) : NULL;
	size_t len[3];

	return rel && components(rel, c, len, 3) && comp_is(c[0], len[0], "volumes") &&
	       !dot_or_dotdot(c[1], len[1]) && comp_is(c[2], len[2], "_data");
}

int oci_source_allowed(const struct oci_source_policy *pol, const char *source, const char *pod_uid,
                       char *err, size_t errsz)
{
	static const char *const system_dirs[] = {
	    "/",          "/bin",       "/boot",     "/dev",       "/etc",     "/home",
	    "/lib",       "/lib32",     "/lib64",    "/libx32",    "/media",   "/mnt",
	    "/opt",       "/proc",      "/root",     "/run",       "/sbin",    "/srv",
	    "/sys",       "/tmp",       "/usr",      "/var",       "/usr/bin", "/usr/lib",
	    "/usr/lib64", "/usr/local", "/usr/sbin", "/usr/share", "/var/lib", "/var/log",
	};
	static const char *const pseudo[] = {"/proc", "/sys", "/dev"};
	char *clean = NULL;
	int r;

	if (!source || source[0] != '/') {
		oci_fail(err, errsz, "source '%s' is not an absolute path", source ? source : "");
		return -EPERM;
	}
	/* the rules below compare strings: only the resolved spelling (no
	 * "//", ".", ".." or trailing '/') may reach them */
	r = oci_clean_path(source, &clean);
	if (r == -ENOMEM)
		return oci_fail(err, errsz, "out of memory"), -ENOMEM;
	if (r < 0 || strcmp(clean, source)) {
		free(clean);
		oci_fail(err, errsz, "source '%s' is not in resolved form; not changing it",
		         source);
		return -EPERM;
	}
	free(clean);
	/* whatever the allow list says */
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
		if (!strcmp(source, system_dirs[i])) {
			oci_fail(err, errsz, "source '%s' is a system directory; not changing it",
			         source);
			return -EPERM;
		}
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
		if (path_under(source, pseudo[i])) {
			oci_fail(err, errsz, "source '%s' is under %s; not changing it", source,
			         pseudo[i]);
			return -EPERM;
		}

	r = kubelet_volume(pol->kubelet_root, source, pod_uid, err, errsz);
	if (r != 0)
		return r < 0 ? r : 0;
	if (storage_volume(pol->storage_root, source)) {
		/* kubelet keeps a pod's volumes in its own directories, never
		 * here: from a Kubernetes pod this is a hostPath into a named
		 * volume of some other container on the node */
		if (pod_uid) {
			oci_fail(err, errsz,
			         "source '%s' is a containers-storage named volume, but this "
			         "container is of Kubernetes pod %s, whose volumes are under "
			         "%s/pods; not changing it",
			         source, pod_uid,
			         pol->kubelet_root ? pol->kubelet_root : "kubelet's root");
			return -EPERM;
		}
		return 0;
	}
	for (size_t i = 0; i < pol->n_allow; i++)
		if (path_under(source, pol->allow[i]))
			return 0;
	oci_fail(err, errsz,
	         "source '%s' is not a volume of this pod (%s/pods/UID/volumes/...), not a "
	         "containers-storage volume (%s/volumes/NAME/_data) and not under an "
	         "--allow-source directory; not changing it",
	         source, pol->kubelet_root ? pol->kubelet_root : "(no kubelet root)",
	         pol->storage_root ? pol->storage_root : "(no storage root)");
	return -EPERM;
}
