/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User namespaces for idmapped mounts. A namespace is made (or joined) by a
 * forked child that does nothing but unshare or setns and then wait on a
 * pipe: the parent, root in its own namespace, writes the maps, opens or
 * reads what it needs under /proc/CHILD, and lets the child go. The child
 * only makes async-signal-safe calls, so this is safe from a threaded
 * program.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macros.h"
#include "userns.h"

/* A child sitting in a user namespace until released. */
struct holder {
	pid_t pid;
	int release; /* write end; closing it lets the child exit */
};

static void holder_stop(struct holder *h)
{
	int status;

	if (h->release >= 0)
		close(h->release);
	h->release = -1;
	if (h->pid > 0)
		while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
			;
	h->pid = 0;
}

/* Forks a child that unshares a new user namespace (userns_fd < 0) or joins
 * userns_fd, and waits there. 0, or the -errno the child or fork met. */
static int holder_start(int userns_fd, struct holder *h)
{
	int ready[2], rel[2], err = 0, r;
	ssize_t n;
	pid_t pid;

	h->pid = 0;
	h->release = -1;
	if (pipe2(ready, O_CLOEXEC) < 0)
		return neg_errno();
	if (pipe2(rel, O_CLOEXEC) < 0) {
		r = neg_errno();
		close(ready[0]);
		close(ready[1]);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = neg_errno();
		close(ready[0]);
		close(ready[1]);
		close(rel[0]);
		close(rel[1]);
		return r;
	}
	if (pid == 0) {
		char c;

		close(ready[0]);
		close(rel[1]);
		if ((userns_fd >= 0 ? setns(userns_fd, CLONE_NEWUSER) : unshare(CLONE_NEWUSER)) < 0)
			err = errno;
		if (write(ready[1], &err, sizeof(err)) != sizeof(err))
			_exit(1);
		close(ready[1]);
		if (!err)
			while (read(rel[0], &c, 1) < 0 && errno == EINTR)
				;
		_exit(err ? 1 : 0);
	}
	close(ready[1]);
	close(rel[0]);
	h->pid = pid;
	h->release = rel[1];
	do
		n = read(ready[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(ready[0]);
	if (n != sizeof(err) || err) {
		holder_stop(h);
		return n != sizeof(err) ? -ECHILD : -err;
	}
	return 0;
}

static int write_map(pid_t pid, const char *file, const struct vs_idmap *m)
{
	char buf[4096], path[64];
	_cleanup_close_ int fd = -1;
	size_t len = 0;
	ssize_t w;

	if (m->n == 0)
		return -EINVAL;
	/* the kernel takes the whole map in one write of less than a page */
	for (unsigned i = 0; i < m->n; i++) {
		int k = snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m->r[i].from,
		                 m->r[i].to, m->r[i].len);
		if (k < 0 || (size_t)k >= sizeof(buf) - len)
			return -E2BIG;
		len += (size_t)k;
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	w = write(fd, buf, len);
	if (w < 0)
		return neg_errno();
	return (size_t)w == len ? 0 : -EIO;
}

int vs_userns_make(const struct vs_idmap *uid, const struct vs_idmap *gid)
{
	struct holder h;
	char path[64];
	int r, fd = -1;

	r = holder_start(-1, &h);
	if (r < 0)
		return r;
	/* No "deny" to setgroups first: a writer with CAP_SETGID in the parent
	 * namespace may write gid_map without it, and the namespace then keeps
	 * setgroups allowed, as a container's does. */
	r = write_map(h.pid, "uid_map", uid);
	if (r >= 0)
		r = write_map(h.pid, "gid_map", gid);
	if (r >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)h.pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = neg_errno();
	}
	holder_stop(&h);
	return r < 0 ? r : fd;
}

int vs_userns_check(int fd)
{
	int type, parent;

	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		return neg_errno();
	if (type != CLONE_NEWUSER)
		return -EINVAL;
	/* The parent is out of reach exactly when the namespace is ours or an
	 * ancestor of ours: such a namespace cannot idmap a mount from here. */
	parent = ioctl(fd, NS_GET_PARENT);
	if (parent < 0)
		return errno == EPERM ? -EPERM : neg_errno();
	close(parent);
	return 0;
}

int vs_userns_open(const char *path)
{
	_cleanup_close_ int pfd = -1, fd = -1;
	struct statfs sfs;
	char proc[64];
	int r;

	/* O_PATH first: opening a FIFO or a device for reading has effects */
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return neg_errno();
	if (fstatfs(pfd, &sfs) < 0)
		return neg_errno();
	if ((unsigned long)sfs.f_type != VS_NSFS_MAGIC)
		return -ENOTTY;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	r = vs_userns_check(fd);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int vs_userns_maps(int fd, struct vs_idmap *ret_uid, struct vs_idmap *ret_gid)
{
	struct holder h;
	int r;

	r = holder_start(fd, &h);
	if (r < 0)
		return r;
	/* read from this side, so the IDs are ours, not the namespace parent's */
	r = vs_idmap_from_pid(h.pid, ret_uid, ret_gid);
	holder_stop(&h);
	return r;
}
