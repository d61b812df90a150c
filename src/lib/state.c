/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a run keeps on the volume itself, so that it survives a crash with
 * the volume (and is seen by every node that mounts it): the crash-journal
 * notes (journal.c), the mark that a shift finished this tree with this map,
 * and the records of a sharded job.
 *
 * Two places, one interface of small keyed values:
 *
 *   trusted.volshift.KEY    an xattr of the root, where the filesystem takes
 *                           trusted.* (ext4, xfs, btrfs, tmpfs): invisible
 *                           to the volume's users, writable only by host root
 *   ROOT/.volshift/KEY      a file, where it does not (NFS, most FUSE
 *                           filesystems, ramfs), or where the root's xattr
 *                           space is full
 *
 * The directory is the run's only mark on a volume that others write, so it
 * is trusted only when a pod cannot have made it: a real directory on the
 * root's filesystem, owned by host 0:0, mode 0700 exactly (a pod's root is
 * an unprivileged host ID; a non-root pod cannot chown to 0). Its files are
 * the same: regular, 0:0, 0600, one link. Anything else named .volshift is
 * the volume's own data: it is walked like the rest and never used. Values
 * are replaced atomically (a temp file renamed over the key). The walk
 * skips the trusted directory (vs_state_is_ours), and the directory is
 * removed when its last key is.
 *
 * A crash leaves a key behind; the next run reads it. Nothing here is
 * cached across calls but the directory's fd: several processes (the shards
 * of a job) may share the state of one volume.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "macros.h"

#define XATTR_PREFIX "trusted.volshift."

static bool no_xattrs(int err)
{
	return err == -EOPNOTSUPP || err == -ENOTSUP || err == -EPERM;
}

void vs_state_init(struct vs_state *s)
{
	memset(s, 0, sizeof(*s));
	s->root_fd = -1;
	s->dir_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
}

void vs_state_attach(struct vs_state *s, int root_fd, bool shared)
{
	char c;

	s->root_fd = root_fd;
	/* one read tells whether the root takes trusted.* at all (ENODATA: it
	 * does, there is just no such key), before anything decides by it */
	if (fgetxattr(root_fd, XATTR_PREFIX "done", &c, 0) < 0 && no_xattrs(-errno))
		atomic_store(&s->xattr_off, true);
	/* Is there a directory? Asked once: a run that holds the tree alone
	 * (not a shard) is the only one that could make it later, and then it
	 * knows, so no key costs a failed open of a directory not there. */
	s->shared = shared;
	(void)vs_state_dirfd(s, false);
}

/* Is (fd, st) a directory a pod cannot have made, on the root's filesystem? */
static bool trusted_dir(const struct stat *st, dev_t root_dev)
{
	return S_ISDIR(st->st_mode) && st->st_uid == 0 && st->st_gid == 0 &&
	       (st->st_mode & 07777) == 0700 && st->st_dev == root_dev;
}

bool vs_state_is_ours(const struct statx *stx)
{
	return S_ISDIR(stx->stx_mode) && stx->stx_uid == 0 && stx->stx_gid == 0 &&
	       (stx->stx_mode & 07777) == 0700;
}

static dev_t root_dev(struct vs_state *s)
{
	struct stat st;

	return fstat(s->root_fd, &st) == 0 ? st.st_dev : (dev_t)-1;
}

/* Opens .volshift when it is there and ours (under s->lock). 0, -ENOENT when
 * there is none, -EEXIST when something else has the name. */
static int dir_open_locked(struct vs_state *s)
{
	struct stat st;
	int fd;

	if (s->dir_fd >= 0)
		return 0;
	fd = openat(s->root_fd, VS_STATE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP ? -EEXIST : neg_errno();
	if (fstat(fd, &st) < 0 || !trusted_dir(&st, root_dev(s))) {
		close(fd);
		return -EEXIST;
	}
	s->dir_fd = fd;
	return 0;
}

/* Opens .volshift, making it when there is none (under s->lock). */
static int dir_make_locked(struct vs_state *s)
{
	int r = dir_open_locked(s);

	if (r != -ENOENT)
		return r;
	if (mkdirat(s->root_fd, VS_STATE_DIR, 0700) < 0 && errno != EEXIST)
		return neg_errno();
	/* a setgid root (fsgroup) hands its group and the bit down: take both back */
	_cleanup_close_ int fd =
	    openat(s->root_fd, VS_STATE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return neg_errno();
	if (fstat(fd, &st) < 0)
		return neg_errno();
	if (st.st_uid == 0 && (st.st_gid != 0 || (st.st_mode & 07777) != 0700)) {
		if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0700) < 0)
			return neg_errno();
	}
	return dir_open_locked(s);
}

int vs_state_dirfd(struct vs_state *s, bool make)
{
	int r;

	pthread_mutex_lock(&s->lock);
	if (!make && !s->shared && s->dir_fd < 0 && s->dir_asked) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	s->dir_asked = true;
	r = make ? dir_make_locked(s) : dir_open_locked(s);
	if (r < 0)
		s->dir_err = r == -ENOENT ? 0 : r;
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : s->dir_fd;
}

/* Forgets the directory's fd after another process removed it. */
static void dir_lost(struct vs_state *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	if (s->dir_fd == fd) {
		close(fd);
		s->dir_fd = -1;
	}
	pthread_mutex_unlock(&s->lock);
}

static void xattr_name(char *buf, size_t size, const char *key)
{
	snprintf(buf, size, XATTR_PREFIX "%s", key);
}

bool vs_state_file_ours(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	       (st.st_mode & 07777) == 0600 && st.st_nlink == 1;
}

/* A file of ours in the directory: reads it into buf. */
static int file_get(int dfd, const char *key, void *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dfd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? -ENODATA : neg_errno();
	if (!vs_state_file_ours(fd))
		return -ENODATA; /* not one of ours: as if absent */
	n = read(fd, buf, size);
	return n < 0 ? neg_errno() : (int)n;
}

int vs_state_get(struct vs_state *s, const char *key, void *buf, size_t size)
{
	char name[128];
	ssize_t n;
	int fd;

	if (!atomic_load(&s->xattr_off)) {
		xattr_name(name, sizeof(name), key);
		n = fgetxattr(s->root_fd, name, buf, size);
		if (n >= 0)
			return (int)n;
		if (errno != ENODATA && !no_xattrs(-errno))
			return neg_errno();
	}
	fd = vs_state_dirfd(s, false);
	if (fd < 0)
		return -ENODATA;
	return file_get(fd, key, buf, size);
}

static int file_set(struct vs_state *s, int dfd, const char *key, const void *val, size_t len)
{
	char tmp[160];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), ".tmp.%s.%d.%lx", key, (int)getpid(),
	         (unsigned long)pthread_self());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return neg_errno();
	/* 0600 whatever the umask; owner 0 as its creator is root */
	if (fchmod(fd, 0600) < 0 || write(fd, val, len) != (ssize_t)len)
		r = errno ? neg_errno() : -EIO;
	if (close(fd) < 0 && r == 0)
		r = neg_errno(); /* NFS reports a failed write back on close */
	if (r == 0 && renameat(dfd, tmp, dfd, key) < 0)
		r = neg_errno();
	if (r < 0)
		(void)unlinkat(dfd, tmp, 0);
	(void)s;
	return r;
}

int vs_state_set_file(struct vs_state *s, const char *key, const void *val, size_t len)
{
	int fd, r = -ENOENT;

	for (int tries = 0; tries < 3 && r == -ENOENT; tries++) {
		fd = vs_state_dirfd(s, true);
		if (fd < 0)
			return fd;
		r = file_set(s, fd, key, val, len);
		if (r == -ENOENT)
			dir_lost(s, fd); /* removed under us by another process: make it again */
	}
	return r;
}

int vs_state_set(struct vs_state *s, const char *key, const void *val, size_t len)
{
	char name[128];
	int r;

	if (!atomic_load(&s->xattr_off)) {
		xattr_name(name, sizeof(name), key);
		if (fsetxattr(s->root_fd, name, val, len, 0) == 0)
			return 0;
		r = neg_errno();
		if (no_xattrs(r))
			atomic_store(&s->xattr_off, true);
		else if (r != -ENOSPC && r != -E2BIG)
			return r;
		/* no trusted.* here, or no room left in the root's xattrs: a file */
	}
	return vs_state_set_file(s, key, val, len);
}

int vs_state_remove(struct vs_state *s, const char *key)
{
	char name[128];
	int fd, r = -ENODATA;

	if (!atomic_load(&s->xattr_off)) {
		xattr_name(name, sizeof(name), key);
		if (fremovexattr(s->root_fd, name) == 0)
			r = 0;
		else if (errno != ENODATA && !no_xattrs(-errno))
			return neg_errno();
	}
	fd = vs_state_dirfd(s, false);
	if (fd >= 0) {
		if (unlinkat(fd, key, 0) == 0)
			r = 0;
		else if (errno != ENOENT)
			return neg_errno();
	}
	return r;
}

/* The names of the directory at dfd from its start: a stream of its own
 * (a dup shares dfd's offset, which an earlier read moved: rewound). */
static DIR *dir_stream(int dfd)
{
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

int vs_state_list(struct vs_state *s, const char *prefix,
                  int (*fn)(struct vs_state *s, const char *key, void *userdata), void *userdata)
{
	size_t plen = strlen(prefix), xplen = strlen(XATTR_PREFIX);
	_cleanup_free_ char *names = NULL;
	ssize_t len = 0;
	int fd, r;

	if (!atomic_load(&s->xattr_off)) {
		len = flistxattr(s->root_fd, NULL, 0);
		if (len > 0) {
			names = malloc((size_t)len);
			if (!names)
				return -ENOMEM;
			len = flistxattr(s->root_fd, names, (size_t)len);
		}
		if (len < 0 && errno != ERANGE && !no_xattrs(-errno))
			return neg_errno();
		for (char *n = names; len > 0 && n < names + len; n += strlen(n) + 1)
			if (!strncmp(n, XATTR_PREFIX, xplen) && !strncmp(n + xplen, prefix, plen) &&
			    (r = fn(s, n + xplen, userdata)) < 0)
				return r;
	}
	fd = vs_state_dirfd(s, false);
	if (fd >= 0) {
		DIR *d = dir_stream(fd);
		struct dirent *de;

		if (!d)
			return -ENOMEM;
		r = 0;
		while (r >= 0 && (de = readdir(d)))
			if (!strncmp(de->d_name, prefix, plen) && de->d_name[0] != '.')
				r = fn(s, de->d_name, userdata);
		closedir(d);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Every file of the directory whose name starts with prefix. */
static void remove_prefix(int dfd, const char *prefix)
{
	size_t plen = strlen(prefix);
	DIR *d = dir_stream(dfd);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, plen))
			(void)unlinkat(dfd, de->d_name, 0);
	closedir(d);
}

void vs_state_remove_files(struct vs_state *s, const char *prefix)
{
	int dfd = vs_state_dirfd(s, false);

	if (dfd >= 0)
		remove_prefix(dfd, prefix);
}

void vs_state_tidy(struct vs_state *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->dir_fd >= 0) {
		/* a writer that died between its temp file and the rename */
		remove_prefix(s->dir_fd, ".tmp.");
		/* fails (ENOTEMPTY) while a key is left, ours or another shard's */
		if (unlinkat(s->root_fd, VS_STATE_DIR, AT_REMOVEDIR) == 0) {
			close(s->dir_fd);
			s->dir_fd = -1;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void vs_state_fini(struct vs_state *s)
{
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->dir_fd = -1;
	pthread_mutex_destroy(&s->lock);
}
