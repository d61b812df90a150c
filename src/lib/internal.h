/* SPDX-License-Identifier: Apache-2.0 */
/* What the library's modules share; nothing here is exported. */
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "volshift.h"

/* ------------------------------------------------------------------ plan.c */

/* What one inode looks like, as far as a decision needs. */
struct vs_inode {
	uint32_t uid;
	uint32_t gid;
	uint32_t mode; /* with the S_IFMT bits */
};

/* What to do to one inode. Pure data: plan.c makes no syscalls. */
struct vs_plan {
	bool chown;
	uint32_t uid, gid; /* new owner, when chown */
	bool chmod;        /* set mode (chown on a non-directory drops S_ISUID/S_ISGID) */
	uint32_t mode;     /* permission bits, 07777 */
	bool unmapped;     /* shift: an ID lies outside every FROM and TO range */
};

void vs_plan_entry(const struct vs_job *job, const struct vs_inode *ino, struct vs_plan *ret);

/* On-root-mismatch: is the root already as a finished run leaves it? */
bool vs_root_matches(const struct vs_job *job, const struct vs_inode *root);

/* ------------------------------------------------------------ shard.c */

/* What the count of a tree keeps: a directory and the entries below it. */
struct vs_count_rec {
	char *path; /* relative to the root, "" for the root itself */
	uint64_t ino;
	uint64_t size; /* entries below it (all names, itself not counted) */
};

/* A decomposed directory of a split: its direct entries in k slices. */
struct vs_split_dir {
	char *path; /* relative, "" the root */
	uint64_t ino;
	unsigned k;
	unsigned *owner; /* the shard of each slice */
	char **excluded; /* children with units of their own */
	size_t n_excluded;
};

/* A subtree of a split that one shard walks whole. */
struct vs_split_subtree {
	char *path; /* relative, never the root */
	uint64_t ino;
	unsigned shard;
};

/* A job's split (shard.c says how it is made). */
struct vs_split {
	unsigned shards;
	struct vs_split_dir *dirs;
	size_t n_dirs, cap_dirs;
	struct vs_split_subtree *subtrees;
	size_t n_subtrees, cap_subtrees;
};

/*
 * The deepest directory (0: the root) the count keeps, and so the deepest a
 * plan decomposes: every unit is reached from the root name by name, and
 * a plan that followed a chain of large directories all the way down would
 * cost each shard O(depth^2) opens and the job file O(depth^2) bytes (a
 * chain 2000 deep: a second per shard against 40 ms for the whole walk).
 * A large directory below it is walked whole by the shard of its slice.
 */
#define VS_SPLIT_DEPTH_MAX 32

/* The hash of a name that picks its slice. */
uint64_t vs_shard_hash(const char *name);
/* Makes the plan of a tree for shards (recs are sorted in place; one of
 * them is the root, ""). 0, -EINVAL, -ENOMEM. */
int vs_split_build(struct vs_count_rec *recs, size_t n_recs, unsigned shards, struct vs_split *ret);
/* The shard of name in a decomposed directory (VS_SHARDS_MAX: excluded). */
unsigned vs_split_owner(const struct vs_split_dir *d, const char *name);
/* Text form, as kept on the volume: malloc'ed, not NUL-counted in len. */
int vs_split_encode(const struct vs_split *p, char **ret, size_t *ret_len);
/* Parses it back: 0, -EINVAL for anything malformed, -ENOMEM. */
int vs_split_parse(const char *text, size_t len, struct vs_split *ret);
void vs_split_free(struct vs_split *p);

/* ----------------------------------------------------------- run context */

struct vs_worker;

/* What the first part of the file keeps for vs_xattr_* (below). */
struct vs_xattr_state {
	bool have_cap;
	uint32_t cap_len;
	uint8_t cap[32];
};

/* ------------------------------------------------------------ state.c */

/* The name of the state directory in the root, where there are no xattrs. */
#define VS_STATE_DIR ".volshift"

/* What a run keeps on the volume (see state.c). */
struct vs_state {
	int root_fd;
	pthread_mutex_t lock;  /* opening or making the directory */
	atomic_bool xattr_off; /* the root takes no trusted.* xattrs */
	int dir_fd;            /* .volshift, ours, or -1 */
	bool dir_asked;        /* whether it was looked for */
	bool shared;           /* other processes may change it (the shards of a job) */
	int dir_err;           /* why .volshift cannot be used, 0 when it can */
};

void vs_state_init(struct vs_state *s);
/* Points the state at the root (and asks once whether it takes xattrs, and
 * whether there is a directory); shared: other processes may change it. */
void vs_state_attach(struct vs_state *s, int root_fd, bool shared);
/* Closes what init and use opened; removes nothing. */
void vs_state_fini(struct vs_state *s);
/* The value of key into buf: its length, or -ENODATA when there is none. */
int vs_state_get(struct vs_state *s, const char *key, void *buf, size_t size);
/* Sets key (replacing it atomically): 0, or -errno (-EEXIST: a .volshift
 * that is not ours is in the way, and the root takes no xattrs). */
int vs_state_set(struct vs_state *s, const char *key, const void *val, size_t len);
/* 0, or -ENODATA when there was no such key. */
int vs_state_remove(struct vs_state *s, const char *key);
/* Calls fn for every key that starts with prefix; stops at fn's first < 0. */
int vs_state_list(struct vs_state *s, const char *prefix,
                  int (*fn)(struct vs_state *s, const char *key, void *userdata), void *userdata);
/* The same, always as a file of the directory (what must be locked or may
 * be large: a sharded job's records). */
int vs_state_set_file(struct vs_state *s, const char *key, const void *val, size_t len);
/* The directory's fd (made when make), or -errno (-ENOENT: there is none). */
int vs_state_dirfd(struct vs_state *s, bool make);
/* Whether fd is a file the state may trust: regular, 0:0, 0600, one link. */
bool vs_state_file_ours(int fd);
/* Removes the directory's files whose names start with prefix. */
void vs_state_remove_files(struct vs_state *s, const char *prefix);
/* Removes the directory when no key is left in it (and a dead writer's temp files). */
void vs_state_tidy(struct vs_state *s);
/* Whether a root entry named VS_STATE_DIR, as statx saw it, is the state
 * directory (0:0, 0700): the walk leaves it alone. */
bool vs_state_is_ours(const struct statx *stx);

/* A note of the crash journal (journal.c). */
struct vs_journal_ent {
	uint64_t dev, ino;
	int64_t mtime_sec; /* the same file, not a new one on a reused inode */
	uint32_t mtime_nsec;
	uint32_t mode;
	struct vs_xattr_state xs;
};

#define VS_INO_LOCKS 1024

/* One per vs_run. Read-only during the walk except where atomic or locked. */
struct vs_ctx {
	const struct vs_job *job;
	int root_fd;
	uint64_t root_dev; /* makedev(stx_dev_major, stx_dev_minor) of the root */
	uint64_t root_ino;
	uint64_t root_mnt_id;
	bool have_mnt_id;
	unsigned long root_fs_type; /* statfs f_type of the root's filesystem */
	bool xattrs;                /* !job->no_xattrs */
	bool can_setfcap;           /* may write security.capability back */

	/* What this run learnt the kernel lacks, so that it asks once (per
	 * run: the library keeps no process-wide state). */
	atomic_bool no_fchmodat2; /* fchmodat2 gave ENOSYS */
	atomic_bool no_xattrat;   /* the *xattrat syscalls gave ENOSYS */

	/* per-inode locks (hashed) for hard-linked files and files being
	 * chowned, so two workers reaching two names of one inode do not
	 * interleave read-cap / chown / write-cap; many, so that 32 workers
	 * waiting on the network rarely wait on each other */
	pthread_mutex_t *ino_locks; /* VS_INO_LOCKS of them, on the heap (run.c) */

	pthread_mutex_t err_lock;
	struct vs_report *report; /* error sample goes here, under err_lock */

	/* what the run keeps on the volume (state.c), and the crash journal's
	 * notes (journal.c), loaded at start, read-only after */
	struct vs_state state;
	struct vs_journal_ent *journal;
	size_t journal_n;

	atomic_bool cancel; /* a fatal error: workers stop taking work */
	int fatal;          /* the -errno that set cancel */

	unsigned n_workers;
	struct vs_worker *workers;

	/* sharded runs (shards > 1): this shard of the job, the job file that
	 * its shards share on the volume, and the job's plan (shardjob.c) */
	unsigned shard, shards;
	int job_fd;
	char job_key[24];
	struct vs_split plan;

	/* counting (vs_count): the directories whose subtrees hold at least
	 * count_min entries, under count_lock */
	pthread_mutex_t count_lock;
	struct vs_count_rec *count;
	size_t n_count, cap_count;
	uint64_t count_min;
	bool counting;
	atomic_uint_fast64_t counted; /* entries counted so far */

	/* progress, when the job asks for it (run.c): called on the calling
	 * thread while it counts or waits for a plan too */
	void (*tick)(struct vs_ctx *ctx, void *userdata);
	void *tick_data;
	unsigned tick_ms;
	enum vs_phase phase;
	double phase_start; /* vs_now_s() when it began */
};

/* Counters each worker keeps alone and the run adds up at the end. */
struct vs_counters {
	uint64_t entries, changed, unmapped, failed, acls, caps, skipped_mounts;
	uint64_t dirs_read, statx, statx_ring; /* the work itself, for the report */
};

/* One writer per counter; the progress reader loads them relaxed. */
static inline void ctr_add(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Records a per-entry failure (count + path sample). name "" means dirfd itself. */
void vs_record_error(struct vs_ctx *ctx, struct vs_counters *c, int dirfd, const char *name,
                     int err);

/* ---------------------------------------------------------------- xattr.c */

/*
 * What must survive a chown: security.capability (the kernel drops it). Read
 * by vs_xattr_save_hint before the chown into struct vs_xattr_state, written
 * back by vs_xattr_restore after, transformed for shift mode (v3, rootid
 * mapped) and byte-identical for fsgroup. An entry is addressed as (dirfd,
 * name); name "" is dirfd itself.
 *
 * One listxattrat answers both "is there a capability to keep" and "is there
 * an access ACL to map": vs_xattr_save_hint sets *ret_acl to 1 when the entry
 * has an access ACL, 0 when it has none, -1 when it could not tell, and
 * vs_acl_shift_hint takes that value (-1 when no save ran on this entry in
 * this apply step) and skips the read of a non-directory's ACL when it is 0.
 */

/* Returns 0 (state filled, have_cap false when there is none or the
 * filesystem has no xattrs) or -errno. Only called for regular files that
 * are about to be chowned, and only when ctx->xattrs. */
int vs_xattr_save_hint(struct vs_ctx *ctx, int dirfd, const char *name, struct vs_xattr_state *st,
                       int *ret_acl);

/* Writes back what vs_xattr_save_hint read (transformed for shift). 1 when a
 * capability was written, 0 when there was none, -errno on failure. */
int vs_xattr_restore(struct vs_ctx *ctx, int dirfd, const char *name,
                     const struct vs_xattr_state *st);

/* shift only: maps the ACL_USER/ACL_GROUP qualifiers of the access ACL
 * (non-symlinks) and default ACL (directories). Returns the number of ACLs
 * rewritten (0, 1 or 2; dry run: that would be) or -errno. ENOTSUP/ENODATA
 * are "nothing to do". Called for every entry, chowned or not, so that a
 * re-run after a crash finishes what a killed run began. */
int vs_acl_shift_hint(struct vs_ctx *ctx, int dirfd, const char *name, uint32_t mode, int acl);

/* ------------------------------------------------------------- engines */

/* One directory entry on its way through a batch. */
struct vs_dent {
	const char *name;
	unsigned char d_type;
	int err; /* statx's -errno, 0 when stx is valid */
	struct statx stx;
};

/* The statx mask and flags every engine uses. */
#define VS_STATX_MASK                                                                              \
	(STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO | STATX_NLINK |               \
	 STATX_MNT_ID | STATX_MTIME)
#define VS_STATX_FLAGS (AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)

struct vs_engine_ops {
	const char *name;
	/* per worker, n_workers the run's count; returns 0 or -errno (then
	 * "auto" falls back to sync) */
	int (*init)(struct vs_worker *w, unsigned n_workers);
	void (*fini)(struct vs_worker *w);
	/* fills d[i].stx / d[i].err for d[0..n) relative to dirfd */
	void (*stat_batch)(struct vs_worker *w, int dirfd, struct vs_dent *d, unsigned n);
	/* entries it is given at once, between two looks of the walker for
	 * idle workers to share the rest with (walk.c) */
	unsigned window;
};

extern const struct vs_engine_ops vs_engine_sync;
extern const struct vs_engine_ops vs_engine_uring;

/* Whether io_uring can be used here at all (not disabled, not blocked). */
int vs_uring_probe(void);

/* --------------------------------------------------------- shardjob.c */

/* Before the walk: the job file, the plan (made by counting the tree when
 * this is the job's first shard), this shard's bit cleared. 0, or -errno
 * with r's status and message set. */
int vs_shardjob_begin(struct vs_ctx *ctx, const struct vs_engine_ops *engine, struct vs_report *r);
/* A dry run of a shard: the plan made here, from the tree as it is (what
 * the job's first shard would make), without the job file: nothing is
 * written, no job is joined. 0, or -errno with r's status and message set. */
int vs_shardjob_dry(struct vs_ctx *ctx, const struct vs_engine_ops *engine, struct vs_report *r);
/* After a walk without failures: this shard's bit; the last shard finishes
 * the root and removes the job's files. */
void vs_shardjob_end(struct vs_ctx *ctx, struct vs_report *r, struct vs_counters *root_c,
                     const struct statx *root_before);
void vs_shardjob_close(struct vs_ctx *ctx);
/* Per worker: its own handle of the job file, opened by the first lock. */
void vs_shardjob_worker_close(struct vs_worker *w);
/* Takes (lock) or drops the lock of inode number ino, between shards: 0, or
 * -errno when it could not be taken (the inode must then be left alone). */
int vs_shardjob_lock_inode(struct vs_worker *w, uint64_t ino, bool lock);

/* ------------------------------------------------------------ walk.c */

#define VS_BATCH_MAX 128

struct vs_worker {
	struct vs_ctx *ctx;
	unsigned id;
	pthread_t thread;
	const struct vs_engine_ops *engine;
	void *engine_data;
	struct vs_counters c;
	struct vs_dent dents[VS_BATCH_MAX];
	/* sharded runs: its own open file description of the job file, for
	 * per-inode locks that hold between processes (shardjob.c) */
	int lock_fd;
	char pad[64];
};

/* Applies the plan for one entry (statx in d). Counts into w->c. */
void vs_apply_entry(struct vs_worker *w, int dirfd, struct vs_dent *d);

/* The same for any inode, addressed as (dirfd, name); name "" is dirfd. */
void vs_apply_at(struct vs_ctx *ctx, struct vs_counters *c, int dirfd, const char *name,
                 const struct statx *stx);

/* ------------------------------------------------------------- root.c */

/* On-root-mismatch: is the tree done? kubelet's root rule for fsgroup; for
 * shift the root in TO and the volume's mark of a shift with these maps. */
bool vs_tree_done(struct vs_ctx *ctx, const struct statx *root);
/* Before a walk: the tree stops counting as done (mark removed; a matching
 * fsgroup root loses its setgid bit). 0 or -errno. */
int vs_root_unmatch(struct vs_ctx *ctx, const struct statx *root);
/* After a walk without failures: the root's own plan, then (shift) the mark.
 * before is the root as the run found it. Counts into c. */
void vs_root_finish(struct vs_ctx *ctx, struct vs_counters *c, const struct statx *before);

/* ---------------------------------------------------------- journal.c */

/* A note as stored under key: 0 with ret filled, -EINVAL when it is not one. */
int vs_journal_decode(const char *key, const void *val, size_t len, struct vs_journal_ent *ret);
int vs_journal_load(struct vs_ctx *ctx);
/* One note as stored on the root: its xattr name and value. 0 with *ret
 * filled, or -EINVAL when it is not a well-formed note. Pure (the fuzzer's). */
int vs_journal_decode(const char *name, const void *value, size_t size, struct vs_journal_ent *ret);
bool vs_journal_lookup(struct vs_ctx *ctx, const struct statx *stx, uint32_t *mode,
                       struct vs_xattr_state *xs);
int vs_journal_add(struct vs_ctx *ctx, const struct statx *stx, uint32_t mode,
                   const struct vs_xattr_state *xs);
void vs_journal_remove(struct vs_ctx *ctx, const struct statx *stx);
/* Drops the loaded notes (after a run without failures). */
void vs_journal_clear(struct vs_ctx *ctx);
/* Drops every note on the volume (the last shard of a job, all done). */
void vs_journal_clear_all(struct vs_ctx *ctx);

/* Counts the tree below ctx->root_fd (getdents only) into ctx->count; the
 * root's record has path "". 0 or -errno. */
int vs_count(struct vs_ctx *ctx, const struct vs_engine_ops *engine);

/* ------------------------------------------------------------- run.c */

/* Seconds on the monotonic clock. */
double vs_now_s(void);
/* What the run does now, for its progress callback: from now on. */
void vs_set_phase(struct vs_ctx *ctx, enum vs_phase phase);

/* Walks everything below ctx->root_fd (not the root itself), or for a
 * sharded run this shard's units of ctx->plan, calling tick
 * from this thread every tick_ms while it runs. Returns 0, or -errno when the
 * walk could not run at all (ctx->fatal). */
int vs_walk(struct vs_ctx *ctx, const struct vs_engine_ops *engine,
            void (*tick)(struct vs_ctx *ctx, void *userdata), void *userdata, unsigned tick_ms);

/* ---------------------------------------------------------- fstypes.c */

#define VS_NSFS_MAGIC 0x6e736673

/* proc, sysfs, cgroup, devpts, nsfs, ...: never entered. */
bool vs_fs_is_pseudo(unsigned long f_type);
/* network and FUSE filesystems: every metadata call is a round trip. */
bool vs_fs_is_slow(unsigned long f_type);
/* "ext4", "nfs", ... or "0x1234abcd" for one the table does not know. */
void vs_fs_name(unsigned long f_type, char *buf, size_t size);

/* --------------------------------------------------------- estimate.c */

/* For progress: about how many entries a walk from the directory fd will
 * meet, when the statfs of its filesystem says so cheaply (fd is that
 * filesystem's root); 0 when unknown. */
uint64_t vs_walk_estimate(int fd);

/* ----------------------------------------------------------- helpers */

/* *at flags for an entry addressed as (dirfd, name): name "" is dirfd itself. */
static inline int vs_at_flags(const char *name)
{
	return AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
}

/* Fills ino from a statx result. */
static inline void vs_inode_from_statx(struct vs_inode *ino, const struct statx *stx)
{
	ino->uid = stx->stx_uid;
	ino->gid = stx->stx_gid;
	ino->mode = stx->stx_mode;
}

/* The absolute path of (dirfd, name), from /proc/self/fd; malloc'ed or NULL. */
char *vs_fd_path(int dirfd, const char *name);

/* The same for the report, also past PATH_MAX or without /proc: climbs
 * from dirfd to ctx->root_fd (fdpath.c). */
char *vs_error_path(const struct vs_ctx *ctx, int dirfd, const char *name);

/* Formats message into r->message and sets status; returns err. */
int vs_fail(struct vs_report *r, enum vs_status status, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
