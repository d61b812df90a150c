/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI hook input, parsed into a plan: the runtime's state JSON (stdin of a
 * hook), the bundle's config.json and the io.volshift.* annotations become a
 * list of volumes to fix and the jobs that fix them. Pure: no file access,
 * no syscalls; oci_hook.c reads the inputs and runs the jobs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "volshift.h"

#define OCI_ANN_SHIFT         "io.volshift.shift"
#define OCI_ANN_FSGROUP       "io.volshift.fsgroup"
#define OCI_ANN_FSGROUP_PATHS "io.volshift.fsgroup.paths"
#define OCI_ANN_POLICY        "io.volshift.policy"

/* The state a runtime hands a hook (runtime-spec "State"). */
struct oci_state {
	char *oci_version;
	char *id;
	char *status;
	char *bundle;        /* absolute */
	long long pid;       /* 0 when absent */
	json_t *annotations; /* an object of strings, or NULL; owned */
};

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
	size_t n_volumes;
	struct oci_volume *volumes;
};

/*
 * Parses the state JSON. Returns 0, or -EINVAL with a one-line reason in err
 * (no trailing newline) when it is not JSON, not an object, or lacks
 * ociVersion, id or bundle, or when a field has the wrong type.
 */
int oci_state_parse(const char *text, struct oci_state *ret, char *err, size_t errsz);
void oci_state_free(struct oci_state *s);

/*
 * Builds the plan from the state and the text of config.json. Annotations are
 * looked up in the state first, then in config.json (runtimes copy them from
 * config.json into the state, but not all do). Returns 0 (a plan with no
 * volumes when no volshift annotation is present), -EINVAL with a reason in
 * err for anything malformed: bad JSON, bad mappings, an unknown io.volshift.*
 * annotation, a bad policy or GID, a destination that is not a bind mount of
 * config.json, a destination named twice, a GID outside the container's
 * gidMappings, shift without mappings.
 */
int oci_plan_build(const struct oci_state *st, const char *config_text, struct oci_plan *ret,
                   char *err, size_t errsz);
void oci_plan_free(struct oci_plan *p);

/*
 * Sets the maps (from = container ID, to = host ID) when config.json has none
 * because the container joins an existing user namespace, and maps each
 * fsgroup GID through them. -EINVAL with a reason in err for a bad map or a
 * GID outside it.
 */
int oci_plan_set_maps(struct oci_plan *p, const struct vs_idmap *uid_map,
                      const struct vs_idmap *gid_map, char *err, size_t errsz);

/* Fills job (vs_job_init first) to fix volume i of plan. */
void oci_plan_job(const struct oci_plan *p, size_t i, struct vs_job *job);

/*
 * Cleans an absolute container path: collapses "//", drops "." components and
 * trailing slashes. Refuses (-EINVAL) a relative or empty path or a ".."
 * component. *ret is malloc'ed.
 */
int oci_clean_path(const char *in, char **ret);

/*
 * Whether the hook may change the tree at source (an absolute path with no
 * symlinks, as realpath(3) gives; any other spelling, with "//", "." or ".."
 * or a trailing slash, is refused): never "/", a top-level system directory
 * (/etc, /usr, /var, ...) or anything under /proc, /sys or /dev; and, when
 * n_allow > 0, only at or under one of allow[] (whole components). Annotations
 * may come from users who must not reach other host paths. Returns 0, or
 * -EPERM (-EINVAL for a relative path) with a reason in err.
 */
int oci_source_allowed(const char *source, char *const *allow, size_t n_allow, char *err,
                       size_t errsz);
