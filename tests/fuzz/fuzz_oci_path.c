/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_clean_path (annotation and config.json destinations) and
 * oci_source_allowed (which host trees the hook may change as root).
 *
 * Input: PATH \0 ALLOW \0 ALLOW ... (up to 4 --allow-source entries; the
 * hook refuses relative ones, so they are dropped here as well).
 *
 * Properties of oci_clean_path:
 * - it refuses exactly a relative or empty path or one with a ".."
 *   component, and otherwise gives "/" followed by the path's components
 *   minus the empty and "." ones (a reference here computes that);
 * - its output never has "//", "/./", a "." or ".." component or a trailing
 *   slash (except "/" itself), and cleaning it again changes nothing.
 * Properties of oci_source_allowed, for the raw path and for its cleaned
 * form (what realpath gives the hook):
 * - it returns 0, -EPERM, or -EINVAL for a relative path, and gives a reason
 *   with every refusal;
 * - whatever the spelling, a path it allows does not lead (resolving "."
 *   and ".." by hand, as the kernel would on a tree without symlinks) to
 *   "/", a top-level system directory, or anything under /proc, /sys or
 *   /dev, and with an allow list it leads under one of its entries.
 */
#include <errno.h>

#include "fuzz.h"
#include "oci.h"

#define MAX_ALLOW 4

/* "/" + components, "." dropped and, with resolve, ".." going up; without
 * resolve, NULL for a ".." component (oci_clean_path's contract). */
static char *ref_normalize(const char *in, bool resolve)
{
	size_t len = strlen(in), o = 0;
	char *out = malloc(len + 2);

	if (!out)
		abort();
	for (const char *p = in; *p;) {
		const char *e;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (!resolve) {
				free(out);
				return NULL;
			}
			while (o > 0 && out[--o] != '/')
				;
		} else if (!(n == 1 && p[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static void check_clean(const char *in)
{
	char *out = (char *)0x1, *again, *want = in[0] == '/' ? ref_normalize(in, false) : NULL;
	size_t len;
	int r = oci_clean_path(in, &out);

	FUZZ_CHECK(r == 0 || r == -EINVAL, "clean('%s') returned %d", in, r);
	FUZZ_CHECK((r == 0) == (want != NULL), "clean('%s') returned %d, the reference %s", in, r,
	           want ? want : "refuses");
	if (r < 0) {
		FUZZ_CHECK(out == NULL, "clean('%s') refused but set *ret", in);
		return;
	}
	FUZZ_CHECK(!strcmp(out, want), "clean('%s') = '%s', want '%s'", in, out, want);
	len = strlen(out);
	FUZZ_CHECK(out[0] == '/', "clean('%s') = '%s' is relative", in, out);
	FUZZ_CHECK(!strstr(out, "//") && !strstr(out, "/./") && !strstr(out, "/../"),
	           "clean('%s') = '%s'", in, out);
	FUZZ_CHECK(len == 1 ||
	               (out[len - 1] != '/' && !(len >= 2 && !strcmp(out + len - 2, "/.")) &&
	                !(len >= 3 && !strcmp(out + len - 3, "/.."))),
	           "clean('%s') = '%s' ends badly", in, out);
	FUZZ_CHECK(oci_clean_path(out, &again) == 0 && !strcmp(again, out),
	           "clean(clean('%s')) = '%s' is not '%s'", in, again ? again : "(refused)", out);
	free(again);
	free(out);
	free(want);
}

#define KUBE  "/var/lib/kubelet"
#define STORE "/var/lib/containers/storage"
#define POD   "0f3d7c2e-1b2a"

/* Count of non-empty components of rel ("a/b/c": 3). */
static size_t n_components(const char *rel)
{
	size_t n = 0;

	for (const char *p = rel; *p;) {
		size_t len = strcspn(p, "/");

		n += len > 0;
		p += len;
		p += *p == '/';
	}
	return n;
}

/* The reference of what the policy lets through besides --allow-source:
 * this pod's kubelet volumes and containers-storage named volumes. */
static bool pod_volume(const char *real)
{
	static const char vols[] = KUBE "/pods/" POD "/volumes/";
	static const char subs[] = KUBE "/pods/" POD "/volume-subpaths/";
	static const char store[] = STORE "/volumes/";

	if (!strncmp(real, vols, sizeof(vols) - 1))
		return n_components(real + sizeof(vols) - 1) >= 2;
	if (!strncmp(real, subs, sizeof(subs) - 1))
		return n_components(real + sizeof(subs) - 1) >= 3;
	if (!strncmp(real, store, sizeof(store) - 1)) {
		const char *name_end = strchr(real + sizeof(store) - 1, '/');

		return name_end && !strncmp(name_end, "/_data", 6) &&
		       (name_end[6] == '\0' || name_end[6] == '/');
	}
	return false;
}

static void check_allowed(const char *src, char *const *allow, size_t n_allow)
{
	static const char *const system_dirs[] = {
	    "/",     "/bin", "/boot", "/dev", "/etc", "/home",      "/lib", "/lib64",   "/proc",
	    "/root", "/run", "/sbin", "/sys", "/usr", "/usr/local", "/var", "/var/lib",
	};
	static const char *const pseudo[] = {"/proc", "/sys", "/dev"};
	struct oci_source_policy pol = {.kubelet_root = KUBE, .storage_root = STORE};
	char err[512], *real;
	bool inside = false;
	int r;

	for (size_t i = 0; i < n_allow && i < OCI_ALLOW_MAX; i++)
		pol.allow[pol.n_allow++] = allow[i];
	memset(err, 'x', sizeof(err));
	r = oci_source_allowed(&pol, src, POD, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EPERM, "allowed('%s') returned %d", src, r);
	if (r < 0) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0],
		           "'%s' refused without a reason", src);
		return;
	}
	real = ref_normalize(src, true);
	FUZZ_CHECK(!strcmp(real, src), "'%s' is allowed though not in resolved form ('%s')", src,
	           real);
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
		FUZZ_CHECK(strcmp(real, system_dirs[i]), "'%s' (that is, '%s') is allowed", src,
		           real);
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
		FUZZ_CHECK(!under(real, pseudo[i]), "'%s' (that is, '%s') is allowed", src, real);
	for (size_t i = 0; i < pol.n_allow; i++) {
		char *dir = ref_normalize(pol.allow[i], true);

		inside |= under(real, dir);
		free(dir);
	}
	FUZZ_CHECK(inside || pod_volume(real),
	           "'%s' is allowed: not this pod's volume nor under the list", src);
	/* another pod's volume, never, whatever the allow list */
	if (!strncmp(real, KUBE "/pods/", sizeof(KUBE "/pods/") - 1)) {
		const char *uid = real + sizeof(KUBE "/pods/") - 1, *rest;
		size_t ul = strcspn(uid, "/");

		rest = uid + ul;
		if (!(ul == strlen(POD) && !strncmp(uid, POD, ul)) &&
		    ((!strncmp(rest, "/volumes/", 9) && n_components(rest + 9) >= 2) ||
		     (!strncmp(rest, "/volume-subpaths/", 17) && n_components(rest + 17) >= 3)))
			FUZZ_CHECK(false, "'%s', another pod's volume, is allowed", src);
	}
	free(real);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_strndup(data, size), *path = buf, *allow[MAX_ALLOW], *clean;
	size_t n_allow = 0;

	for (char *s = buf + strlen(buf); s < buf + size && n_allow < MAX_ALLOW; s += strlen(s)) {
		s++;
		if (s < buf + size && *s == '/')
			allow[n_allow++] = s;
	}
	check_clean(path);
	check_allowed(path, NULL, 0);
	check_allowed(path, allow, n_allow);
	if (oci_clean_path(path, &clean) == 0) {
		check_allowed(clean, NULL, 0);
		check_allowed(clean, allow, n_allow);
		free(clean);
	}
	free(buf);
	return 0;
}
