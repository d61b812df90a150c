/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volshift: fast, safe volume-ownership fixing for user-namespaced containers.
 *
 * The library does the work; it never prints. Every function returns >= 0 on
 * success and a negative errno on failure. A run is described by a struct
 * vs_job and answered by a struct vs_report, which says how it ended
 * (vs_report.status, whose values are the CLI's exit statuses) and, when it
 * could not start, why (vs_report.message, one line, no trailing newline).
 *
 * Thread safety: functions keep no global state; a job may be run from any
 * thread, several jobs may run at once on different trees.
 */
#ifndef VOLSHIFT_H
#define VOLSHIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VS_EXPORT __attribute__((visibility("default")))
#else
#define VS_EXPORT
#endif

#define VS_VERSION "0.1.0"

/* ---------------------------------------------------------------- ID maps */

/* The kernel's limit on the number of lines of /proc/PID/uid_map. */
#define VS_IDMAP_MAX 340

/* One line of an ID map: IDs [from, from+len) become [to, to+len). */
struct vs_idmap_range {
	uint32_t from;
	uint32_t to;
	uint32_t len;
};

struct vs_idmap {
	unsigned n;
	struct vs_idmap_range r[VS_IDMAP_MAX];
};

/*
 * Parses one range, "FROM:TO:LEN" (OCI containerID:hostID:size) or the
 * whitespace form "FROM TO LEN" of /proc/PID/uid_map. Refuses (-EINVAL)
 * anything else: signs, junk, a zero length, IDs or ranges past 2^32-1
 * (-ERANGE for those).
 */
VS_EXPORT int vs_idmap_parse_range(const char *s, struct vs_idmap_range *ret);

/* Appends a range; -E2BIG past VS_IDMAP_MAX. Does not validate overlaps. */
VS_EXPORT int vs_idmap_add(struct vs_idmap *m, const struct vs_idmap_range *r);

/*
 * Checks what makes a run idempotent: FROM ranges do not overlap each other,
 * TO ranges do not overlap each other, no FROM range overlaps a TO range, the
 * map is not empty. Returns 0 or -EINVAL; *ret_reason (may be NULL) then
 * points to a static one-line explanation.
 */
VS_EXPORT int vs_idmap_validate(const struct vs_idmap *m, const char **ret_reason);

/* Parses the text of a /proc/PID/uid_map (one "FROM TO LEN" per line). */
VS_EXPORT int vs_idmap_parse_text(const char *text, struct vs_idmap *ret);

/*
 * Reads /proc/PID/uid_map and gid_map. -ESRCH when there is no such process;
 * -EINVAL when its maps are the identity (the process is not in a user
 * namespace) or break the rules of vs_idmap_validate.
 */
VS_EXPORT int vs_idmap_from_pid(pid_t pid, struct vs_idmap *ret_uid, struct vs_idmap *ret_gid);

/* Maps id through m: true and *ret set when id lies in a FROM range. */
VS_EXPORT bool vs_idmap_map(const struct vs_idmap *m, uint32_t id, uint32_t *ret);

/* True when id lies in one of the TO ranges. */
VS_EXPORT bool vs_idmap_in_to(const struct vs_idmap *m, uint32_t id);

/* Swaps FROM and TO of every range (unshift). */
VS_EXPORT void vs_idmap_reverse(struct vs_idmap *m);

/*
 * Parses a whole decimal number, no sign, no blanks, no leading "+", into
 * *ret when it is at most max: the one number parser of the CLI, the OCI
 * hook and the maps. -EINVAL for anything that is not a number, -ERANGE past
 * max.
 */
VS_EXPORT int vs_parse_u32(const char *s, uint32_t max, uint32_t *ret);

/* ------------------------------------------------------------------- jobs */

enum vs_mode {
	VS_MODE_FSGROUP = 0, /* kubelet fsGroup semantics */
	VS_MODE_SHIFT = 1,   /* user-namespace ID remapping */
};

enum vs_policy {
	VS_POLICY_ALWAYS = 0,
	VS_POLICY_ON_ROOT_MISMATCH = 1,
};

enum vs_engine {
	VS_ENGINE_AUTO = 0,
	VS_ENGINE_URING = 1,
	VS_ENGINE_SYNC = 2,
};

/* What a run is doing when it calls its progress callback. */
enum vs_phase {
	VS_PHASE_WALK = 0, /* changing the tree: the counters are the walk's */
	/* a job's first shard counting the tree for the job's plan (getdents
	 * only): entries counted so far; changed and failed are 0 */
	VS_PHASE_COUNT = 1,
	/* a shard waiting for the shard that counts to finish the plan */
	VS_PHASE_WAIT = 2,
};

/* Counters handed to a progress callback. */
struct vs_progress {
	uint64_t entries;
	uint64_t changed;
	uint64_t failed;
	double elapsed_s; /* seconds since this phase began */
	/* How many entries the walk will meet, roughly, when that is cheap to
	 * know: the used inodes of the root's filesystem when the root is the
	 * root of that filesystem (a PV usually is); for a shard of N, an Nth
	 * of that. 0: unknown. entries may pass it (hard links count once per
	 * name, --cross-mounts adds other filesystems). While counting: the
	 * whole tree's. */
	uint64_t total_estimate;
	enum vs_phase phase; /* a sharded run counts or waits before its walk */
};

/* Called from the thread that called vs_run, every progress_interval_ms. */
typedef void (*vs_progress_fn)(const struct vs_progress *p, void *userdata);

struct vs_job {
	enum vs_mode mode;
	const char *path; /* the tree's root directory */

	/* fsgroup */
	uint32_t gid;
	bool read_only; /* 0440 / 02550 masks instead of 0660 / 02770 */

	/* shift: on-disk IDs in FROM become TO; --map fills both */
	struct vs_idmap uid_map;
	struct vs_idmap gid_map;

	enum vs_policy policy;
	enum vs_engine engine;
	unsigned jobs;     /* worker threads; 0 picks one per CPU */
	bool dry_run;      /* decide and count, change nothing */
	bool cross_mounts; /* enter other filesystems (never pseudo ones) */
	bool no_xattrs;    /* skip ACLs and file capabilities entirely */

	/*
	 * One shard of a walk split over several processes or nodes, which
	 * share nothing but the volume (a Kubernetes Indexed Job): shard K of
	 * N does its part of the tree, deterministically the same split in
	 * every shard; the root is set, once, by the shard that finds all N
	 * done. shards 0 (or 1 with shard 0): the whole tree. shard_id (may be
	 * NULL) tells one job from another with the same mode, maps and N.
	 * A dry run of a shard joins no job and writes nothing: it counts the
	 * tree and makes the plan itself, and reports on its part of it.
	 */
	unsigned shard, shards;
	const char *shard_id;

	vs_progress_fn progress;
	void *progress_userdata;
	unsigned progress_interval_ms; /* 0: 1000 */
};

/* The most shards one job may have. */
#define VS_SHARDS_MAX 4096

/* Fills job with the defaults for mode (policy always, engine auto, ...). */
VS_EXPORT void vs_job_init(struct vs_job *job, enum vs_mode mode);

/*
 * "always" / "on-root-mismatch", or kubelet's fsGroupChangePolicy spelling
 * "Always" / "OnRootMismatch". 0, or -EINVAL for anything else.
 */
VS_EXPORT int vs_policy_parse(const char *s, enum vs_policy *ret);

/* ----------------------------------------------------------------- report */

/* How a run ended; the values are volshift's exit statuses. */
enum vs_status {
	VS_STATUS_OK = 0,           /* done, or skipped by on-root-mismatch */
	VS_STATUS_PARTIAL = 1,      /* finished, some entries failed */
	VS_STATUS_BAD_INPUT = 2,    /* refused before anything changed */
	VS_STATUS_CANNOT_START = 3, /* refused for a reason outside the input */
};

#define VS_ERROR_SAMPLE_MAX 10

struct vs_error {
	char *path; /* absolute, as the kernel names it (/proc/self/fd) */
	int err;    /* positive errno */
};

struct vs_report {
	enum vs_status status;
	char message[512]; /* why it could not start; "" otherwise */

	const char *mode;         /* what made it: "fsgroup", "shift" or "mount" */
	const char *method;       /* "walk" or "idmapped-mount" */
	const char *engine;       /* "sync" or "uring" (NULL when nothing walked) */
	bool skipped;             /* on-root-mismatch found the root already right */
	bool root_left_unmatched; /* failures kept the root from matching */

	uint64_t entries;        /* inodes looked at, the root included */
	uint64_t changed;        /* inodes changed (dry run: that would change) */
	uint64_t unmapped;       /* shift: inodes with an ID outside every FROM range */
	uint64_t failed;         /* entries that could not be read or changed */
	uint64_t acls;           /* ACLs rewritten (shift) */
	uint64_t caps;           /* security.capability values written back */
	uint64_t skipped_mounts; /* mount points not entered */
	uint64_t dirs_read;      /* directories read (getdents) */
	uint64_t statx;          /* statx calls on entries */
	uint64_t statx_ring;     /* of those, served through io_uring */

	unsigned n_errors; /* sample: the first VS_ERROR_SAMPLE_MAX */
	struct vs_error errors[VS_ERROR_SAMPLE_MAX];

	double elapsed_s;
	unsigned jobs;

	/* sharded runs: this shard, of how many, how many of the job's shards
	 * had finished when this one did, and whether this one finished the
	 * root (it was the last) */
	unsigned shard, shards, shards_done;
	bool finished_root;
	bool planned; /* this shard counted the tree and made the job's plan */

	/* mount: where it was mounted (NULL for fsgroup and shift), and why
	 * the idmapped mount was not used (method "walk") */
	const char *target;
	int probe_errno; /* 0, or the errno the probe met */
	char fstype[32]; /* SOURCE's filesystem type */
};

/*
 * Checks what can be checked of job without touching anything: the mode,
 * the GID, the maps (vs_idmap_validate), the policy and the engine; not the
 * path. Returns 0, or -EINVAL with ret->status VS_STATUS_BAD_INPUT and
 * ret->message saying why (ret is otherwise left alone). vs_run and
 * vs_run_at call it first; a front end that fixes several trees calls it on
 * every job before it runs any.
 */
VS_EXPORT int vs_job_validate(const struct vs_job *job, struct vs_report *ret);

/*
 * Runs job on the tree at job->path (opened without following a symlink).
 * Returns 0 when the run started (ret->status is then OK or PARTIAL) and a
 * negative errno when it did not (ret->status BAD_INPUT or CANNOT_START,
 * ret->message says why). ret is always filled and must be released with
 * vs_report_free.
 */
VS_EXPORT int vs_run(const struct vs_job *job, struct vs_report *ret);

/*
 * The same on the directory dirfd already refers to (O_RDONLY or O_PATH; it
 * is not closed, and its file position is not used), for callers that
 * opened and checked the tree themselves: nothing is looked up by path
 * again. job->path, which may be NULL, only names the tree in messages and
 * in the report.
 */
VS_EXPORT int vs_run_at(int dirfd, const struct vs_job *job, struct vs_report *ret);

VS_EXPORT void vs_report_free(struct vs_report *r);

/*
 * The report as one JSON object (no trailing newline), for runtimes to parse:
 * mode, path, policy, method, engine, dry_run, skipped, entries, changed,
 * unmapped, failed, acls, caps, skipped_mounts, errors [{path, errno,
 * message}], elapsed_s, jobs, status, and the mount fields when they apply.
 * job may be NULL (mode, path and policy are then left out). *ret is
 * malloc'ed; free it.
 */
VS_EXPORT int vs_report_json(const struct vs_report *r, const struct vs_job *job, char **ret);

/* Names for enums, as the CLI and the JSON report spell them. */
VS_EXPORT const char *vs_mode_name(enum vs_mode m);
VS_EXPORT const char *vs_policy_name(enum vs_policy p);

/* ------------------------------------------------------ idmapped mounts */

enum vs_fallback {
	VS_FALLBACK_SHIFT = 0, /* rewrite ownership on disk, then bind plainly */
	VS_FALLBACK_FAIL = 1,  /* refuse with VS_STATUS_CANNOT_START */
};

struct vs_mount_job {
	/* shift.path is SOURCE; shift.uid_map/gid_map the map, unless a
	 * namespace is named below (the fallback shift then reads the maps
	 * from that namespace; an idmapped mount just uses it). */
	struct vs_job shift;
	const char *target;
	const char *userns_path; /* an existing user namespace file, or NULL */
	pid_t from_pid;          /* take that process's namespace, or 0 */
	enum vs_fallback fallback;
	bool recursive; /* idmap submounts too */
	bool read_only; /* mount read-only */
};

VS_EXPORT void vs_mount_job_init(struct vs_mount_job *job);

/*
 * Probes whether an idmapped mount of path can be made here by making one
 * (detached, never attached) with the given user namespace fd, or with a
 * throwaway namespace when userns_fd < 0. Returns 1 supported, 0 not (then
 * *ret_errno, if not NULL, holds the errno the kernel gave), or -errno when
 * the probe itself failed (path missing, no privilege to probe at all;
 * -EINVAL when userns_fd is not a user namespace below the caller's own).
 */
VS_EXPORT int vs_idmap_supported(const char *path, int userns_fd, int *ret_errno);

/*
 * Puts an idmapped bind mount of SOURCE at target, or falls back. Returns and
 * fills ret as vs_run does; ret->method says which way it went. A fallback
 * shift that leaves failed entries (PARTIAL) mounts nothing.
 */
VS_EXPORT int vs_mount(const struct vs_mount_job *job, struct vs_report *ret);

#ifdef __cplusplus
}
#endif

#endif
