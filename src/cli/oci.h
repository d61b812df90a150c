/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI hook's inputs, turned into what it may do, in three parts:
 *
 *   oci_state.c   the runtime's state JSON (a hook's stdin) and the JSON
 *                 helpers the others share
 *   oci_plan.c    config.json and the io.volshift.* annotations -> a plan:
 *                 the volumes to fix and the jobs that fix them
 *   oci_source.c  the source policy: which host directories the hook may
 *                 change at all (a security rule, in a file of its own)
 *
 * All three are pure: no file access, no syscalls. oci_hook.c reads the
 * inputs, opens the sources and runs the jobs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "volshift.h"

#define OCI_ANN_PREFIX        "io.volshift."
#define OCI_ANN_SHIFT         "io.volshift.shift"
#define OCI_ANN_FSGROUP       "io.volshift.fsgroup"
#define OCI_ANN_FSGROUP_PATHS "io.volshift.fsgroup.paths"
#define OCI_ANN_POLICY        "io.volshift.policy"

/* ---------------------------------------------------------- oci_state.c */

/* The state a runtime hands a hook (runtime-spec "State"). */
struct oci_state {
	char *oci_version;
	char *id;
	char *status;
	char *bundle;        /* absolute */
	long long pid;       /* 0 when absent */
	json_t *annotations; /* an object of strings, or NULL; owned */
};

/*
 * Parses the state JSON. Returns 0, -EINVAL with a one-line reason in err
 * (no trailing newline) when it is not JSON, not an object, or lacks
 * ociVersion, id or bundle, or when a field has the wrong type; -ENOMEM.
 */
int oci_state_parse(const char *text, struct oci_state *ret, char *err, size_t errsz);
void oci_state_free(struct oci_state *s);

/* Formats a one-line reason into err (when not NULL); returns -EINVAL. */
int oci_fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses text as a JSON object (duplicate keys refused); NULL with a reason
 * in err naming what it is ("state", "config.json"). */
json_t *oci_json_load(const char *text, const char *what, char *err, size_t errsz);

/* ----------------------------------------------------------- oci_plan.c */

struct oci_volume {
	enum vs_mode mode;
	char *destination;      /* the container path, cleaned */
	char *source;           /* the host path of the bind mount's source */
	bool read_only;         /* the bind mount is "ro" (fsgroup uses 0440/02550) */
	uint32_t container_gid; /* fsgroup: the GID as the container sees it */
	uint32_t gid;           /* fsgroup: the same GID on the host */
};

struct oci_plan {
	enum vs_policy policy;
	bool have_maps;          /* uid_map and gid_map are known */
	bool need_maps;          /* the container joins a user namespace by path: call
	                          * oci_plan_set_maps with its process's maps */
	struct vs_idmap uid_map; /* from = containerID, to = hostID */
	struct vs_idmap gid_map;
	char *pod_uid; /* the pod's UID as the runtime recorded it, or NULL */
	size_t n_volumes;
	struct oci_volume *volumes;
};

/*
 * The annotation keys the runtimes themselves write with the pod's UID
 * (containerd's CRI plugin, CRI-O). Pod annotations reach the spec only
 * through the runtime's allow-list (containerd pod_annotations, CRI-O
 * allowed_annotations), which must name io.volshift.* and nothing wider.
 */
extern const char *const oci_pod_uid_keys[];

/*
 * Builds the plan from the state and the text of config.json. Annotations are
 * looked up in the state first, then in config.json (runtimes copy them from
 * config.json into the state, but not all do). Lists of destinations are
 * separated by ',' or ':' (podman splits --annotation values on commas).
 * Returns 0 (a plan with no volumes when no volshift annotation is present,
 * or for the pod's sandbox container, which mounts no volume),
 * -EINVAL with a reason in err for anything malformed: bad JSON, bad
 * mappings, an unknown io.volshift.* annotation, a bad policy or GID, a
 * destination that is not a bind mount of config.json, a destination named
 * twice, a GID outside the container's gidMappings, shift without mappings,
 * a pod UID recorded twice with two values or not shaped like one; -ENOMEM.
 * The maps are checked, with the rest of each job, by vs_job_validate.
 */
int oci_plan_build(const struct oci_state *st, const char *config_text, struct oci_plan *ret,
                   char *err, size_t errsz);
void oci_plan_free(struct oci_plan *p);

/*
 * Sets the maps (from = container ID, to = host ID) when config.json has none
 * because the container joins an existing user namespace, and maps each
 * fsgroup GID through them. -EINVAL with a reason in err for a GID outside
 * the map.
 */
int oci_plan_set_maps(struct oci_plan *p, const struct vs_idmap *uid_map,
                      const struct vs_idmap *gid_map, char *err, size_t errsz);

/* Fills job (vs_job_init first) to fix volume i of plan. */
void oci_plan_job(const struct oci_plan *p, size_t i, struct vs_job *job);

/*
 * Cleans an absolute container path: collapses "//", drops "." components and
 * trailing slashes. Refuses (-EINVAL) a relative or empty path or a ".."
 * component; -ENOMEM. *ret is malloc'ed.
 */
int oci_clean_path(const char *in, char **ret);

/* --------------------------------------------------------- oci_source.c */

#define OCI_ALLOW_MAX 64

/*
 * Where the hook may change a tree. Every path here is absolute and
 * resolved (no symlink, no "..", as /proc/self/fd shows a directory).
 */
struct oci_source_policy {
	const char *kubelet_root;         /* kubelet's --root-dir: its pods/UID/volumes/... */
	const char *storage_root;         /* containers-storage: its volumes/NAME/_data */
	const char *allow[OCI_ALLOW_MAX]; /* --allow-source: at or under these */
	size_t n_allow;
};

/*
 * Whether the hook may change the tree at source (resolved, as above) for a
 * container of the pod pod_uid (NULL when the runtime recorded none):
 *  - a volume of that very pod: KUBELET/pods/POD_UID/volumes/PLUGIN/NAME or
 *    KUBELET/pods/POD_UID/volume-subpaths/VOLUME/CONTAINER/INDEX, or below;
 *  - a containers-storage named volume: STORAGE/volumes/NAME/_data, or below;
 *  - at or under an --allow-source directory;
 * and never "/", a system directory or anything under /proc, /sys or /dev,
 * whatever the allow list says. Anything else, including another pod's
 * volumes and kubelet's own directories, is refused: pod annotations are
 * written by whoever may create pods, and the hook runs as host root.
 * Returns 0 or -EPERM with a one-line reason in err.
 */
int oci_source_allowed(const struct oci_source_policy *pol, const char *source, const char *pod_uid,
                       char *err, size_t errsz);

/* Whether s is shaped like a Kubernetes UID: 1..64 of [0-9a-fA-F-]. Such a
 * string is one path component, never "." or "..". */
bool oci_pod_uid_valid(const char *s);
