/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The crash journal. chown(2) drops S_ISUID/S_ISGID and security.capability,
 * so between our chown and the write that puts them back, a kill would lose
 * them for good: the re-run sees an inode whose owner is already right and
 * nothing to restore. Before such a chown we note the inode's mode and
 * capability in a trusted.* xattr of the root (which stays un-matched while
 * a walk runs, so a re-run always walks) and remove the note once they are
 * back. A re-run loads the notes and restores from them. Only inodes with
 * those bits or a capability pay for it; a root without xattr support
 * (ramfs) turns the journal off and the window stays, as in every other tool.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "macros.h"

#define JOURNAL_PREFIX "trusted.volshift.j."
#define JOURNAL_MAGIC  0x324a5356u /* "VSJ2" */

struct journal_value {
	uint32_t magic;
	uint32_t mode;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t cap_len;
	uint8_t cap[32];
};

static void journal_key(char *buf, size_t size, uint64_t dev, uint64_t ino)
{
	snprintf(buf, size, JOURNAL_PREFIX "%" PRIx64 ".%" PRIx64, dev, ino);
}

static uint64_t stx_dev(const struct statx *stx)
{
	return makedev(stx->stx_dev_major, stx->stx_dev_minor);
}

int vs_journal_decode(const char *name, const void *value, size_t size, struct vs_journal_ent *ret)
{
	struct journal_value v;
	uint64_t dev, ino;
	char key[96];

	if (strncmp(name, JOURNAL_PREFIX, strlen(JOURNAL_PREFIX)) ||
	    sscanf(name + strlen(JOURNAL_PREFIX), "%" SCNx64 ".%" SCNx64, &dev, &ino) != 2)
		return -EINVAL;
	/* only the name vs_journal_add writes: sscanf also takes "0x1f", "1F",
	 * "01", "+1" and "1.2junk", and a note is removed by the name made from
	 * its dev and ino, so one spelt otherwise would never be removed and
	 * every later run would apply it again */
	journal_key(key, sizeof(key), dev, ino);
	if (strcmp(key, name))
		return -EINVAL;
	if (size != sizeof(v))
		return -EINVAL;
	memcpy(&v, value, sizeof(v));
	if (v.magic != JOURNAL_MAGIC || v.cap_len > sizeof(v.cap))
		return -EINVAL;
	*ret = (struct vs_journal_ent){.dev = dev,
	                               .ino = ino,
	                               .mtime_sec = v.mtime_sec,
	                               .mtime_nsec = v.mtime_nsec,
	                               .mode = v.mode};
	ret->xs.have_cap = v.cap_len > 0;
	ret->xs.cap_len = v.cap_len;
	memcpy(ret->xs.cap, v.cap, v.cap_len);
	return 0;
}

int vs_journal_load(struct vs_ctx *ctx)
{
	_cleanup_free_ char *names = NULL;
	ssize_t len = flistxattr(ctx->root_fd, NULL, 0);

	if (len <= 0)
		return 0; /* none, or no xattrs here */
	names = malloc((size_t)len);
	if (!names)
		return -ENOMEM;
	len = flistxattr(ctx->root_fd, names, (size_t)len);
	if (len <= 0)
		return 0;
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		struct vs_journal_ent e, *grown;
		struct journal_value v;
		ssize_t size;

		if (strncmp(n, JOURNAL_PREFIX, strlen(JOURNAL_PREFIX)))
			continue;
		size = fgetxattr(ctx->root_fd, n, &v, sizeof(v));
		if (size < 0 || vs_journal_decode(n, &v, (size_t)size, &e) < 0)
			continue;
		grown = realloc(ctx->journal, (ctx->journal_n + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		ctx->journal = grown;
		ctx->journal[ctx->journal_n++] = e;
	}
	return 0;
}

bool vs_journal_lookup(struct vs_ctx *ctx, const struct statx *stx, uint32_t *mode,
                       struct vs_xattr_state *xs)
{
	for (size_t i = 0; i < ctx->journal_n; i++) {
		const struct vs_journal_ent *e = &ctx->journal[i];

		/* chown, chmod and setxattr leave mtime alone: a note whose file
		 * was deleted and whose inode number now holds another file
		 * does not match it */
		if (e->ino == stx->stx_ino && e->dev == stx_dev(stx) &&
		    e->mtime_sec == stx->stx_mtime.tv_sec &&
		    e->mtime_nsec == stx->stx_mtime.tv_nsec) {
			*mode = (stx->stx_mode & S_IFMT) | (e->mode & 07777);
			*xs = e->xs;
			return true;
		}
	}
	return false;
}

int vs_journal_add(struct vs_ctx *ctx, const struct statx *stx, uint32_t mode,
                   const struct vs_xattr_state *xs)
{
	struct journal_value v = {.magic = JOURNAL_MAGIC,
	                          .mode = mode,
	                          .mtime_sec = stx->stx_mtime.tv_sec,
	                          .mtime_nsec = stx->stx_mtime.tv_nsec};
	char key[96];

	if (atomic_load_explicit(&ctx->journal_off, memory_order_relaxed))
		return -EOPNOTSUPP;
	if (xs->have_cap && xs->cap_len <= sizeof(v.cap)) {
		v.cap_len = xs->cap_len;
		memcpy(v.cap, xs->cap, xs->cap_len);
	}
	journal_key(key, sizeof(key), stx_dev(stx), stx->stx_ino);
	if (fsetxattr(ctx->root_fd, key, &v, sizeof(v), 0) < 0) {
		int r = neg_errno();

		if (r == -EOPNOTSUPP || r == -ENOTSUP || r == -EPERM)
			atomic_store(&ctx->journal_off, true);
		return r;
	}
	return 0;
}

void vs_journal_remove(struct vs_ctx *ctx, const struct statx *stx)
{
	char key[96];

	journal_key(key, sizeof(key), stx_dev(stx), stx->stx_ino);
	(void)fremovexattr(ctx->root_fd, key);
}

void vs_journal_clear(struct vs_ctx *ctx)
{
	for (size_t i = 0; i < ctx->journal_n; i++) {
		char key[96];

		journal_key(key, sizeof(key), ctx->journal[i].dev, ctx->journal[i].ino);
		(void)fremovexattr(ctx->root_fd, key);
	}
	free(ctx->journal);
	ctx->journal = NULL;
	ctx->journal_n = 0;
}
