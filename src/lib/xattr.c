/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File capabilities and POSIX ACLs on one entry, addressed as (dirfd, name).
 *
 * All reads and writes go through getxattrat/setxattrat (Linux 6.13+) with
 * AT_SYMLINK_NOFOLLOW, relative to the directory fd, so no path is resolved
 * twice and no symlink is followed. Older kernels (ENOSYS) fall back to
 * l*xattr on /proc/self/fd/DIRFD/NAME: the magic link pins the directory,
 * only NAME is looked up, and the l* calls do not follow it.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "macros.h"
#include "syscalls.h"
#include "xattr.h"

static bool nothing_to_do(int err)
{
	/* no such attribute; no xattrs (ramfs) or no ACLs (noacl) here */
	return err == -ENODATA || err == -ENOTSUP || err == -EOPNOTSUPP;
}

/* "/proc/self/fd/N/NAME", or "/proc/self/fd/N" for name "". */
static int proc_path(char *buf, size_t size, int dirfd, const char *name)
{
	int n = *name ? snprintf(buf, size, "/proc/self/fd/%d/%s", dirfd, name)
	              : snprintf(buf, size, "/proc/self/fd/%d", dirfd);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Whether to try the *at syscall; false once this run found it missing. */
static bool use_at(struct vs_ctx *ctx)
{
	return !atomic_load_explicit(&ctx->no_xattrat, memory_order_relaxed);
}

/* After a failed *at call: true when the proc fallback should be tried. */
static bool at_failed(struct vs_ctx *ctx, const char *name)
{
	if (errno == ENOSYS) {
		atomic_store_explicit(&ctx->no_xattrat, true, memory_order_relaxed);
		return true;
	}
	/* AT_EMPTY_PATH wants a real open file; the root may be O_PATH */
	return errno == EBADF && !*name;
}

static ssize_t get_at(struct vs_ctx *ctx, int dirfd, const char *name, const char *xname, void *buf,
                      size_t size)
{
	char p[32 + NAME_MAX + 1];
	ssize_t n;
	int r;

	if (use_at(ctx)) {
		n = sys_getxattrat(dirfd, name, (unsigned)vs_at_flags(name), xname, buf, size);
		if (n >= 0)
			return n;
		if (!at_failed(ctx, name))
			return neg_errno();
	}
	r = proc_path(p, sizeof(p), dirfd, name);
	if (r < 0)
		return r;
	/* name "": the magic link itself is the entry, so follow it */
	n = *name ? lgetxattr(p, xname, buf, size) : getxattr(p, xname, buf, size);
	return n < 0 ? neg_errno() : n;
}

static int set_at(struct vs_ctx *ctx, int dirfd, const char *name, const char *xname,
                  const void *val, size_t size)
{
	char p[32 + NAME_MAX + 1];
	int r;

	if (use_at(ctx)) {
		r = sys_setxattrat(dirfd, name, (unsigned)vs_at_flags(name), xname, val, size, 0);
		if (r >= 0)
			return 0;
		if (!at_failed(ctx, name))
			return neg_errno();
	}
	r = proc_path(p, sizeof(p), dirfd, name);
	if (r < 0)
		return r;
	r = *name ? lsetxattr(p, xname, val, size, 0) : setxattr(p, xname, val, size, 0);
	return r < 0 ? neg_errno() : 0;
}

static ssize_t list_at(struct vs_ctx *ctx, int dirfd, const char *name, char *buf, size_t size)
{
	char p[32 + NAME_MAX + 1];
	ssize_t n;
	int r;

	if (use_at(ctx)) {
		n = sys_listxattrat(dirfd, name, (unsigned)vs_at_flags(name), buf, size);
		if (n >= 0)
			return n;
		if (!at_failed(ctx, name))
			return neg_errno();
	}
	r = proc_path(p, sizeof(p), dirfd, name);
	if (r < 0)
		return r;
	n = *name ? llistxattr(p, buf, size) : listxattr(p, buf, size);
	return n < 0 ? neg_errno() : n;
}

/* Which of ours an xattr name list holds. */
#define HAS_CAP         0x1
#define HAS_ACL_ACCESS  0x2
#define HAS_ACL_DEFAULT 0x4

static unsigned scan_list(const char *list, size_t len)
{
	unsigned has = 0;

	for (const char *p = list, *end = list + len; p < end;
	     p += strnlen(p, (size_t)(end - p)) + 1) {
		if (!strcmp(p, VS_XATTR_CAPS))
			has |= HAS_CAP;
		else if (!strcmp(p, VS_XATTR_ACL_ACCESS))
			has |= HAS_ACL_ACCESS;
		else if (!strcmp(p, VS_XATTR_ACL_DEFAULT))
			has |= HAS_ACL_DEFAULT;
	}
	return has;
}

/*
 * Which of our xattrs (dirfd, name) has, from one listxattrat: what keeps
 * the common case (none) at one syscall per entry. Returns the HAS_* bits,
 * or -ERANGE when the list is too long for the buffer (the caller then asks
 * for each by name), or -errno; no xattr support at all gives 0.
 */
static int what_is_there(struct vs_ctx *ctx, int dirfd, const char *name)
{
	char list[1024];
	ssize_t n;

	n = list_at(ctx, dirfd, name, list, sizeof(list) - 1);
	if (n < 0)
		return nothing_to_do((int)n) ? 0 : (int)n;
	list[n] = '\0';
	return (int)scan_list(list, (size_t)n);
}

int vs_xattr_save_hint(struct vs_ctx *ctx, int dirfd, const char *name, struct vs_xattr_state *st,
                       int *ret_acl)
{
	int has;
	ssize_t n;

	st->have_cap = false;
	st->cap_len = 0;
	*ret_acl = -1;
	has = what_is_there(ctx, dirfd, name);
	if (has >= 0) {
		*ret_acl = !!(has & HAS_ACL_ACCESS);
		if (!(has & HAS_CAP))
			return 0;
	} else if (has != -ERANGE) {
		return has;
	}
	n = get_at(ctx, dirfd, name, VS_XATTR_CAPS, st->cap, sizeof(st->cap));
	if (n < 0)
		/* EINVAL: a value the kernel will not hand out (v1, a bad
		 * size). The chown would drop it and nothing could put it
		 * back, so this is the entry's error, not "none". */
		return nothing_to_do((int)n) ? 0 : (int)n;
	st->have_cap = true;
	st->cap_len = (uint32_t)n;
	return 0;
}

int vs_xattr_restore(struct vs_ctx *ctx, int dirfd, const char *name,
                     const struct vs_xattr_state *st)
{
	const uint8_t *val = st->cap;
	uint8_t out[VS_CAP_MAX];
	size_t len = st->cap_len;
	int r;

	if (!st->have_cap)
		return 0;
	/* fsgroup: the exact bytes; shift: rootid follows the uid map */
	if (ctx->job->mode == VS_MODE_SHIFT &&
	    vs_cap_transform(st->cap, st->cap_len, &ctx->job->uid_map, out, &len) > 0)
		val = out;
	if (ctx->job->dry_run)
		return 1;
	r = set_at(ctx, dirfd, name, VS_XATTR_CAPS, val, len);
	return r < 0 ? r : 1;
}

/* One ACL of one entry: 1 rewritten (or would be), 0 nothing to do, -errno. */
static int acl_one(struct vs_ctx *ctx, int dirfd, const char *name, const char *xname)
{
	/* 4 + 8 * 30 entries: any ACL a person writes by hand */
	uint8_t small[4 + 8 * 30];
	_cleanup_free_ uint8_t *big = NULL;
	uint8_t *buf = small;
	ssize_t n;
	int r;

	n = get_at(ctx, dirfd, name, xname, small, sizeof(small));
	for (int tries = 0; n == -ERANGE && tries < 3; tries++) {
		/* larger than the stack buffer: ask its size, then read it */
		n = get_at(ctx, dirfd, name, xname, NULL, 0);
		if (n < 0)
			break;
		free(big);
		big = malloc((size_t)n + 1);
		if (!big)
			return -ENOMEM;
		buf = big;
		n = get_at(ctx, dirfd, name, xname, big, (size_t)n + 1);
	}
	if (n < 0)
		return nothing_to_do((int)n) ? 0 : (int)n;

	r = vs_acl_transform(buf, (size_t)n, &ctx->job->uid_map, &ctx->job->gid_map);
	if (r <= 0)
		return r < 0 ? -EIO : 0; /* the kernel gave a value it does not write */
	if (ctx->job->dry_run)
		return 1;
	r = set_at(ctx, dirfd, name, xname, buf, (size_t)n);
	return r < 0 ? r : 1;
}

int vs_acl_shift_hint(struct vs_ctx *ctx, int dirfd, const char *name, uint32_t mode, int acl)
{
	unsigned has;
	int r, n = 0;

	if (S_ISLNK(mode))
		return 0;
	if (!S_ISDIR(mode)) {
		/* one ACL to look for: asking for it costs what a list does */
		return acl == 0 ? 0 : acl_one(ctx, dirfd, name, VS_XATTR_ACL_ACCESS);
	}
	/* a directory may have two: one list instead of two reads */
	r = what_is_there(ctx, dirfd, name);
	if (r < 0 && r != -ERANGE)
		return r;
	has = r >= 0 ? (unsigned)r : HAS_ACL_ACCESS | HAS_ACL_DEFAULT;
	if (has & HAS_ACL_ACCESS) {
		r = acl_one(ctx, dirfd, name, VS_XATTR_ACL_ACCESS);
		if (r < 0)
			return r;
		n += r;
	}
	if (has & HAS_ACL_DEFAULT) {
		r = acl_one(ctx, dirfd, name, VS_XATTR_ACL_DEFAULT);
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}
