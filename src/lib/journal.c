/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The crash journal. chown(2) drops S_ISUID/S_ISGID and security.capability,
 * so between our chown and the write that puts them back, a kill would lose
 * them for good: the re-run sees an inode whose owner is already right and
 * nothing to restore. Before such a chown we note the inode's mode and
 * capability in the volume's state (state.c: a trusted.* xattr of the root,
 * or a file in the root's .volshift directory where there are no xattrs),
 * and remove the note once they are back. The root stays un-matched while a
 * walk runs, so a re-run always walks; it loads the notes and restores from
 * them. Only inodes with those bits or a capability pay for it.
 *
 * A note that cannot be written (a full disk, no xattrs and no room for the
 * directory, a .volshift that is not ours) stops that one chown: the entry
 * fails and is reported, the walk goes on, and nothing is ever chowned
 * without its note.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "macros.h"

#define JOURNAL_PREFIX "j."
#define JOURNAL_MAGIC  0x324a5356u /* "VSJ2" */

/* The note as stored: host byte order, a volume's state is read where it
 * was written (a journal note lives only as long as one run and its
 * re-run). */
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

/*
 * The device a note names. A device number does not survive a remount: a
 * network or FUSE filesystem gets a new one every time it is mounted, a
 * disk may get another after a reboot, and those are exactly the times a
 * re-run comes after a failure. The root's own filesystem is therefore
 * named 0 (no real device has that number); only entries on other
 * filesystems (--cross-mounts) carry their device number.
 */
static uint64_t stx_dev(const struct vs_ctx *ctx, const struct statx *stx)
{
	uint64_t dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);

	return dev == ctx->root_dev ? 0 : dev;
}

int vs_journal_decode(const char *key, const void *val, size_t len, struct vs_journal_ent *ret)
{
	struct journal_value v;
	uint64_t dev, ino;
	char canonical[96];

	/* only the names vs_journal_add writes: sscanf also takes "0x803",
	 * "+803" or capitals, and a note under such a name would be applied by
	 * every run and removed by none (found by tests/fuzz/fuzz_journal) */
	if (strncmp(key, JOURNAL_PREFIX, strlen(JOURNAL_PREFIX)) ||
	    sscanf(key + strlen(JOURNAL_PREFIX), "%" SCNx64 ".%" SCNx64, &dev, &ino) != 2)
		return -EINVAL;
	journal_key(canonical, sizeof(canonical), dev, ino);
	if (strcmp(key, canonical))
		return -EINVAL;
	if (len != sizeof(v))
		return -EINVAL;
	memcpy(&v, val, sizeof(v));
	if (v.magic != JOURNAL_MAGIC || v.cap_len > sizeof(v.cap) || (v.mode & ~(07777u | S_IFMT)))
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

static int load_one(struct vs_state *s, const char *key, void *userdata)
{
	struct vs_ctx *ctx = userdata;
	struct vs_journal_ent e, *grown;
	struct journal_value v;
	int n = vs_state_get(s, key, &v, sizeof(v));

	if (n < 0 || vs_journal_decode(key, &v, (size_t)n, &e) < 0)
		return 0; /* not a note of ours: leave it */
	grown = realloc(ctx->journal, (ctx->journal_n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	ctx->journal = grown;
	ctx->journal[ctx->journal_n++] = e;
	return 0;
}

int vs_journal_load(struct vs_ctx *ctx)
{
	return vs_state_list(&ctx->state, JOURNAL_PREFIX, load_one, ctx);
}

bool vs_journal_lookup(struct vs_ctx *ctx, const struct statx *stx, uint32_t *mode,
                       struct vs_xattr_state *xs)
{
	for (size_t i = 0; i < ctx->journal_n; i++) {
		const struct vs_journal_ent *e = &ctx->journal[i];

		/* chown, chmod and setxattr leave mtime alone: a note whose file
		 * was deleted and whose inode number now holds another file
		 * does not match it */
		if (e->ino == stx->stx_ino && e->dev == stx_dev(ctx, stx) &&
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
	                          .mode = mode & 07777,
	                          .mtime_sec = stx->stx_mtime.tv_sec,
	                          .mtime_nsec = stx->stx_mtime.tv_nsec};
	char key[96];

	if (xs->have_cap) {
		if (xs->cap_len > sizeof(v.cap))
			return -E2BIG;
		v.cap_len = xs->cap_len;
		memcpy(v.cap, xs->cap, xs->cap_len);
	}
	journal_key(key, sizeof(key), stx_dev(ctx, stx), stx->stx_ino);
	return vs_state_set(&ctx->state, key, &v, sizeof(v));
}

void vs_journal_remove(struct vs_ctx *ctx, const struct statx *stx)
{
	char key[96];

	journal_key(key, sizeof(key), stx_dev(ctx, stx), stx->stx_ino);
	(void)vs_state_remove(&ctx->state, key);
}

void vs_journal_clear(struct vs_ctx *ctx)
{
	for (size_t i = 0; i < ctx->journal_n; i++) {
		char key[96];

		journal_key(key, sizeof(key), ctx->journal[i].dev, ctx->journal[i].ino);
		(void)vs_state_remove(&ctx->state, key);
	}
	free(ctx->journal);
	ctx->journal = NULL;
	ctx->journal_n = 0;
}

static int remove_one(struct vs_state *s, const char *key, void *userdata)
{
	(void)userdata;
	(void)vs_state_remove(s, key);
	return 0;
}

void vs_journal_clear_all(struct vs_ctx *ctx)
{
	(void)vs_state_list(&ctx->state, JOURNAL_PREFIX, remove_one, NULL);
	free(ctx->journal);
	ctx->journal = NULL;
	ctx->journal_n = 0;
}
