/* SPDX-License-Identifier: Apache-2.0 */
/* Applies the plan to one inode: chown, mode restore, capabilities, ACLs. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macros.h"
#include "syscalls.h"

static int do_chown(int dirfd, const char *name, uint32_t uid, uint32_t gid)
{
	return fchownat(dirfd, name, uid, gid, vs_at_flags(name)) < 0 ? neg_errno() : 0;
}

/*
 * chmod without following a symlink. fchmodat(2) always follows, so a name
 * swapped for a symlink between our statx and the chmod would let kubelet's
 * walk chmod anything on the host; fchmodat2 with AT_SYMLINK_NOFOLLOW cannot.
 * Older kernels: pin the inode with O_PATH, refuse a symlink, chmod through
 * the pinned fd's /proc link.
 */
static int do_chmod(struct vs_ctx *ctx, int dirfd, const char *name, uint32_t mode)
{
	char proc[64];
	struct stat st;

	if (!*name)
		return fchmod(dirfd, mode) < 0 ? neg_errno() : 0;
	/* fchmodat2 is missing before 6.6 (or behind seccomp): ask once a run */
	if (!atomic_load_explicit(&ctx->no_fchmodat2, memory_order_relaxed)) {
		if (sys_fchmodat2(dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOSYS)
			return neg_errno();
		atomic_store(&ctx->no_fchmodat2, true);
	}

	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	if (fstat(fd, &st) < 0)
		return neg_errno();
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return chmod(proc, mode) < 0 ? neg_errno() : 0;
}

/*
 * In shift mode the ACL goes before the chown: then an inode whose uid and
 * gid already lie in TO ranges has had its ACL done too (by us, or it never
 * held FROM IDs), and a re-run or the second name of a hard link skips the
 * xattr read altogether.
 */
static bool acls_pending(const struct vs_ctx *ctx, const struct vs_inode *ino)
{
	const struct vs_job *job = ctx->job;

	return job->mode == VS_MODE_SHIFT && ctx->xattrs && !S_ISLNK(ino->mode) &&
	       !(vs_idmap_in_to(&job->uid_map, ino->uid) &&
	         vs_idmap_in_to(&job->gid_map, ino->gid));
}

void vs_apply_at(struct vs_ctx *ctx, struct vs_counters *c, int dirfd, const char *name,
                 const struct statx *stx)
{
	const struct vs_job *job = ctx->job;
	uint32_t cur_perm = stx->stx_mode & 07777;
	struct vs_xattr_state xs = {0};
	struct vs_inode ino;
	struct vs_plan p;
	bool changed, journaled = false;
	int r, acl_hint = -1;

	vs_inode_from_statx(&ino, stx);
	/* a killed run may have chowned this inode and not yet put back what
	 * the chown dropped: the journal holds the mode and capability it had */
	if (ctx->journal_n && S_ISREG(ino.mode) && vs_journal_lookup(ctx, stx, &ino.mode, &xs))
		journaled = true;
	vs_plan_entry(job, &ino, &p);
	if (!S_ISLNK(ino.mode))
		p.chmod = p.chmod || p.mode != cur_perm;

	ctr_add(&c->entries, 1);
	if (p.unmapped)
		ctr_add(&c->unmapped, 1);
	changed = p.chown || p.chmod || (journaled && xs.have_cap);

	/* one listxattr tells both: is there a capability to keep, an ACL to map */
	if (p.chown && S_ISREG(ino.mode) && ctx->xattrs && !journaled) {
		r = vs_xattr_save_hint(ctx, dirfd, name, &xs, &acl_hint);
		if (r < 0)
			goto fail;
	}
	if (acls_pending(ctx, &ino)) {
		r = vs_acl_shift_hint(ctx, dirfd, name, ino.mode, acl_hint);
		if (r < 0)
			goto fail;
		if (r > 0) {
			ctr_add(&c->acls, (uint64_t)r);
			changed = true;
		}
	}
	if (job->dry_run) {
		if (xs.have_cap)
			ctr_add(&c->caps, 1);
		if (changed)
			ctr_add(&c->changed, 1);
		return;
	}

	/* a capability the chown drops could not be written back (no
	 * CAP_SETFCAP): leave the file as it is rather than lose it */
	if (p.chown && xs.have_cap && !ctx->can_setfcap) {
		r = -EPERM;
		goto fail;
	}
	/* what the chown is about to drop goes to the journal first; without
	 * its note, no chown (a kill in between would lose it for good) */
	if (p.chown && S_ISREG(ino.mode) && !journaled &&
	    ((ino.mode & (S_ISUID | S_ISGID)) || xs.have_cap)) {
		r = vs_journal_add(ctx, stx, ino.mode, &xs);
		if (r < 0)
			goto fail;
		journaled = true;
	}
	if (p.chown) {
		r = do_chown(dirfd, name, p.uid, p.gid);
		if (r < 0)
			goto fail;
	}
	if (p.chmod) {
		r = do_chmod(ctx, dirfd, name, p.mode);
		if (r < 0)
			goto fail;
	}
	if (xs.have_cap) {
		r = vs_xattr_restore(ctx, dirfd, name, &xs);
		if (r < 0)
			goto fail;
		if (r > 0)
			ctr_add(&c->caps, 1);
	}
	if (journaled)
		vs_journal_remove(ctx, stx);
	if (changed)
		ctr_add(&c->changed, 1);
	return;
fail:
	vs_record_error(ctx, c, dirfd, name, r);
}

/*
 * Whether a chown of this regular file is planned: between that chown and
 * the mode and capability going back, the inode is in a state no other name
 * of it may act on.
 */
static bool chowns_file(const struct vs_ctx *ctx, const struct statx *stx)
{
	struct vs_inode ino;
	struct vs_plan p;

	if (!S_ISREG(stx->stx_mode))
		return false;
	vs_inode_from_statx(&ino, stx);
	vs_plan_entry(ctx->job, &ino, &p);
	return p.chown;
}

void vs_apply_entry(struct vs_worker *w, int dirfd, struct vs_dent *d)
{
	struct vs_ctx *ctx = w->ctx;
	pthread_mutex_t *lock = NULL;
	uint64_t ino = d->stx.stx_ino;
	bool linked = !S_ISDIR(d->stx.stx_mode) && d->stx.stx_nlink > 1;

	/* Two names of one inode may sit in two workers' chunks at once; their
	 * read-cap / chown / write-cap must not interleave, and the second must
	 * see what the first did, so it looks again under the lock. The first
	 * name may have been stat'ed before the second existed (a hard link
	 * made mid-walk), so a file we chown takes the lock whatever its link
	 * count said: else the other name's worker, seeing our chown but not
	 * yet the setuid bit or capability it dropped, could chmod or chown
	 * them away after we put them back. */
	if (linked || chowns_file(ctx, &d->stx)) {
		lock = &ctx->ino_locks[ino % VS_INO_LOCKS];
		pthread_mutex_lock(lock);
	}
	if (linked) {
		/* and between the shards of a job, which may hold other names (a
		 * link made mid-walk across shards is not covered: a lock between
		 * processes for every chown would cost two calls per file) */
		int r = vs_shardjob_lock_inode(w, ino, true);

		if (r == 0) {
			ctr_add(&w->c.statx, 1);
			if (statx(dirfd, d->name, VS_STATX_FLAGS, VS_STATX_MASK, &d->stx) < 0) {
				r = neg_errno();
				vs_shardjob_lock_inode(w, ino, false);
			}
		}
		if (r < 0) {
			pthread_mutex_unlock(lock);
			ctr_add(&w->c.entries, 1);
			vs_record_error(ctx, &w->c, dirfd, d->name, r);
			return;
		}
	}
	vs_apply_at(ctx, &w->c, dirfd, d->name, &d->stx);
	if (linked)
		vs_shardjob_lock_inode(w, ino, false);
	if (lock)
		pthread_mutex_unlock(lock);
}
