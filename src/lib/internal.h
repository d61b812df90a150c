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

/* ----------------------------------------------------------- run context */

struct vs_worker;

/* What the first part of the file keeps for vs_xattr_* (below). */
struct vs_xattr_state {
	bool have_cap;
	uint32_t cap_len;
	uint8_t cap[32];
};

/* A note of the crash journal (journal.c). */
struct vs_journal_ent {
	uint64_t dev, ino;
	int64_t mtime_sec; /* the same file, not a new one on a reused inode */
	uint32_t mtime_nsec;
	uint32_t mode;
	struct vs_xattr_state xs;
};

/* One per vs_run. Read-only during the walk except where atomic or locked. */
struct vs_ctx {
	const struct vs_job *job;
	int root_fd;
	uint64_t root_dev; /* makedev(stx_dev_major, stx_dev_minor) of the root */
	uint64_t root_mnt_id;
	bool have_mnt_id;
	bool xattrs; /* !job->no_xattrs */

	/* per-inode locks (hashed) for hard-linked files and files being
	 * chowned, so two workers reaching two names of one inode do not
	 * interleave read-cap / chown / write-cap; many, so that 32 workers
	 * waiting on the network rarely wait on each other */
	pthread_mutex_t ino_locks[1024];

	pthread_mutex_t err_lock;
	struct vs_report *report; /* error sample goes here, under err_lock */

	/* crash journal (journal.c): notes loaded at start, read-only after */
	struct vs_journal_ent *journal;
	size_t journal_n;
	atomic_bool journal_off; /* the root takes no trusted.* xattrs */

	atomic_bool cancel; /* a fatal error: workers stop taking work */
	int fatal;          /* the -errno that set cancel */

	unsigned n_workers;
	struct vs_worker *workers;
};

/* Counters each worker keeps alone and the run adds up at the end. */
struct vs_counters {
	uint64_t entries, changed, unmapped, failed, acls, caps, skipped_mounts;
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
 * by vs_xattr_save before the chown into struct vs_xattr_state, written back
 * by vs_xattr_restore after, transformed for shift mode (v3, rootid mapped)
 * and byte-identical for fsgroup. An entry is addressed as (dirfd, name);
 * name "" is dirfd itself.
 */

/* Returns 0 (state filled, have_cap false when there is none or the
 * filesystem has no xattrs) or -errno. Only called for regular files that
 * are about to be chowned, and only when ctx->xattrs. */
int vs_xattr_save(struct vs_ctx *ctx, int dirfd, const char *name, struct vs_xattr_state *st);

/* Writes back what vs_xattr_save read (transformed for shift). 1 when a
 * capability was written, 0 when there was none, -errno on failure. */
int vs_xattr_restore(struct vs_ctx *ctx, int dirfd, const char *name,
                     const struct vs_xattr_state *st);

/* shift only: maps the ACL_USER/ACL_GROUP qualifiers of the access ACL
 * (non-symlinks) and default ACL (directories). Returns the number of ACLs
 * rewritten (0, 1 or 2; dry run: that would be) or -errno. ENOTSUP/ENODATA
 * are "nothing to do". Called for every entry, chowned or not, so that a
 * re-run after a crash finishes what a killed run began. */
int vs_acl_shift(struct vs_ctx *ctx, int dirfd, const char *name, uint32_t mode);

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
	/* per worker; returns 0 or -errno (then "auto" falls back to sync) */
	int (*init)(struct vs_worker *w);
	void (*fini)(struct vs_worker *w);
	/* fills d[i].stx / d[i].err for d[0..n) relative to dirfd */
	void (*stat_batch)(struct vs_worker *w, int dirfd, struct vs_dent *d, unsigned n);
};

extern const struct vs_engine_ops vs_engine_sync;
extern const struct vs_engine_ops vs_engine_uring;

/* Whether io_uring can be used here at all (not disabled, not blocked). */
int vs_uring_probe(void);

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
	char pad[64];
};

/* Applies the plan for one entry (statx in d). Counts into w->c. */
void vs_apply_entry(struct vs_worker *w, int dirfd, struct vs_dent *d);

/* The same for any inode, addressed as (dirfd, name); name "" is dirfd. */
void vs_apply_at(struct vs_ctx *ctx, struct vs_counters *c, int dirfd, const char *name,
                 const struct statx *stx);

/* ---------------------------------------------------------- journal.c */

int vs_journal_load(struct vs_ctx *ctx);
bool vs_journal_lookup(struct vs_ctx *ctx, const struct statx *stx, uint32_t *mode,
                       struct vs_xattr_state *xs);
int vs_journal_add(struct vs_ctx *ctx, const struct statx *stx, uint32_t mode,
                   const struct vs_xattr_state *xs);
void vs_journal_remove(struct vs_ctx *ctx, const struct statx *stx);
/* Drops the loaded notes (after a run without failures). */
void vs_journal_clear(struct vs_ctx *ctx);

/* Walks everything below ctx->root_fd (not the root itself), calling tick
 * from this thread every tick_ms while it runs. Returns 0, or -errno when the
 * walk could not run at all (ctx->fatal). */
int vs_walk(struct vs_ctx *ctx, const struct vs_engine_ops *engine,
            void (*tick)(struct vs_ctx *ctx, void *userdata), void *userdata, unsigned tick_ms);

/* proc, sysfs, cgroup, devpts, ...: never entered. */
bool vs_is_pseudo_fs(unsigned long f_type);

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
