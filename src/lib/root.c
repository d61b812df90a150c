/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root of a run: when it counts as done, how a run un-matches it first,
 * and how it is finished last.
 *
 * On-root-mismatch skips a walk when the root says the tree is done. For
 * fsgroup that is kubelet's own rule (group, setgid, group rwx on the root),
 * since kubelet reads the same root after us. For shift, a root owned by IDs
 * in the TO ranges is not enough: runtimes chown a volume's top directory to
 * the container's root before hooks run (podman does, for named volumes),
 * which would pass for a finished shift of a tree still owned by FROM IDs.
 * So a shift that finishes writes a mark, "done", into the volume's state
 * (state.c) naming its maps, and only root-in-TO plus a mark naming the same
 * maps count as done.
 *
 * Crash safety, kubelet's hole (kubernetes issue 89776) closed: a walk
 * first un-matches (the mark is removed; an fsgroup root that matched loses
 * its setgid bit), and the root is finished (the plan applied, then the mark
 * written) only after everything below it is done without a failure. A run
 * killed anywhere in between leaves a root that does not count as done.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "macros.h"

#define DONE_KEY "done"

/* "shift uid F:T:L,... gid F:T:L,...": what a finished shift wrote. */
static void done_mark(const struct vs_job *job, char *buf, size_t size)
{
	const struct vs_idmap *maps[2] = {&job->uid_map, &job->gid_map};
	size_t len = (size_t)snprintf(buf, size, "shift");

	for (int m = 0; m < 2 && len < size; m++) {
		len += (size_t)snprintf(buf + len, size - len, " %s", m ? "gid" : "uid");
		for (unsigned i = 0; i < maps[m]->n && len < size; i++)
			len += (size_t)snprintf(buf + len, size - len, "%s%u:%u:%u", i ? "," : " ",
			                        maps[m]->r[i].from, maps[m]->r[i].to,
			                        maps[m]->r[i].len);
	}
}

/* The longest mark: two maps of VS_IDMAP_MAX ranges of three 10-digit IDs. */
#define DONE_MAX (16 + 2 * VS_IDMAP_MAX * 34)

bool vs_tree_done(struct vs_ctx *ctx, const struct statx *root)
{
	static _Thread_local char want[DONE_MAX], have[DONE_MAX];
	struct vs_inode ino;
	int n;

	vs_inode_from_statx(&ino, root);
	if (!vs_root_matches(ctx->job, &ino))
		return false;
	if (ctx->job->mode != VS_MODE_SHIFT)
		return true;
	done_mark(ctx->job, want, sizeof(want));
	n = vs_state_get(&ctx->state, DONE_KEY, have, sizeof(have) - 1);
	if (n < 0)
		return false;
	have[n] = '\0';
	return !strcmp(have, want);
}

int vs_root_unmatch(struct vs_ctx *ctx, const struct statx *root)
{
	struct vs_inode ino;
	int r;

	r = vs_state_remove(&ctx->state, DONE_KEY);
	if (r < 0 && r != -ENODATA)
		return r;
	vs_inode_from_statx(&ino, root);
	if (ctx->job->mode == VS_MODE_FSGROUP && vs_root_matches(ctx->job, &ino))
		return fchmod(ctx->root_fd, root->stx_mode & 07777 & ~S_ISGID) < 0 ? neg_errno()
		                                                                   : 0;
	return 0;
}

void vs_root_finish(struct vs_ctx *ctx, struct vs_counters *c, const struct statx *before)
{
	static _Thread_local char mark[DONE_MAX];
	const struct vs_job *job = ctx->job;
	struct statx root;
	struct vs_inode ino;

	if (statx(ctx->root_fd, "", AT_EMPTY_PATH, VS_STATX_MASK, &root) < 0) {
		vs_record_error(ctx, c, ctx->root_fd, "", neg_errno());
		return;
	}
	vs_apply_at(ctx, c, ctx->root_fd, "", &root);
	if (job->dry_run || c->failed)
		return;
	/* un-matching and matching again is no change */
	vs_inode_from_statx(&ino, before);
	if (c->changed && !c->acls && !c->caps && vs_root_matches(job, &ino) &&
	    statx(ctx->root_fd, "", AT_EMPTY_PATH, VS_STATX_MASK, &root) == 0 &&
	    root.stx_uid == before->stx_uid && root.stx_gid == before->stx_gid &&
	    root.stx_mode == before->stx_mode)
		c->changed = 0;
	if (job->mode != VS_MODE_SHIFT)
		return;
	/* Where the mark would be a file (no xattrs), only a run that asked
	 * for the short-circuit leaves one; without a mark a later
	 * on-root-mismatch run walks again, which is only slower. */
	if (atomic_load(&ctx->state.xattr_off) && job->policy != VS_POLICY_ON_ROOT_MISMATCH)
		return;
	done_mark(job, mark, sizeof(mark));
	(void)vs_state_set(&ctx->state, DONE_KEY, mark, strlen(mark));
}
