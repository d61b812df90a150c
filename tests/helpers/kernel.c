/* SPDX-License-Identifier: Apache-2.0 */
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Kept here, not taken from src/lib/syscalls.h: the point is to ask the
 * kernel without the library's code. */
#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#define KP_OPEN_TREE_CLONE  1
#define KP_MOUNT_ATTR_IDMAP 0x00100000ULL

struct kp_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

void kp_read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	snprintf(buf, size, "?");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		snprintf(buf, size, "?");
	fclose(f);
}

/* "Seccomp: N" of /proc/self/status: 0 none, 1 strict, 2 filter. */
static void seccomp_mode(char *buf, size_t size)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	snprintf(buf, size, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8)) {
			snprintf(buf, size, "%.*s", (int)strcspn(line + 9, "\n"),
			         line + 9 + strspn(line + 9, " \t"));
			break;
		}
	fclose(f);
}

bool kp_uring_setup_takes(unsigned flags)
{
	struct io_uring_params p;
	int fd;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int kp_uring(char *why, size_t size)
{
	struct io_uring_params p;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct statx stx;
	char disabled[32], seccomp[16];
	int fd, r;

	kp_read_line("/proc/sys/kernel/io_uring_disabled", disabled, sizeof(disabled));
	seccomp_mode(seccomp, sizeof(seccomp));
	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		int e = errno;

		snprintf(why, size,
		         "raw io_uring_setup: %s (kernel.io_uring_disabled = %s, seccomp mode %s)",
		         strerror(e), disabled, seccomp);
		return e;
	}
	close(fd);

	/* setup works; does a request go through (io_uring_enter, io-wq)? */
	r = io_uring_queue_init(4, &ring, 0);
	if (r < 0) {
		snprintf(why, size, "io_uring_queue_init after a raw setup worked: %s",
		         strerror(-r));
		return -r;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_statx(sqe, AT_FDCWD, "/", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx);
	do
		r = io_uring_submit_and_wait(&ring, 1);
	while (r == -EINTR);
	if (r < 0) {
		snprintf(why, size, "io_uring_enter: %s (seccomp mode %s)", strerror(-r), seccomp);
		io_uring_queue_exit(&ring);
		return -r;
	}
	r = io_uring_wait_cqe(&ring, &cqe);
	if (r == 0) {
		r = cqe->res < 0 ? cqe->res : 0;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	if (r < 0) {
		snprintf(why, size, "IORING_OP_STATX: %s", strerror(-r));
		return -r;
	}
	snprintf(why, size,
	         "io_uring_setup and an IORING_OP_STATX work "
	         "(kernel.io_uring_disabled = %s)",
	         disabled);
	return 0;
}

static void write_map(pid_t pid, const char *what, unsigned base, unsigned len, int *err)
{
	char path[64], map[64];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	n = snprintf(map, sizeof(map), "0 %u %u\n", base, len);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, map, (size_t)n) != n)
		*err = *err ? *err : errno;
	if (fd >= 0)
		close(fd);
}

int kp_userns_fd(unsigned base, unsigned len)
{
	int ready[2], err = 0, fd = -1, st;
	char path[64], c = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = errno;
		close(ready[0]);
		close(ready[1]);
		return -err;
	}
	if (pid == 0) {
		close(ready[0]);
		c = unshare(CLONE_NEWUSER) < 0 ? (char)errno : 0;
		if (write(ready[1], &c, 1) != 1 || c)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		err = EIO;
	else if (c)
		err = (unsigned char)c;
	close(ready[0]);
	if (!err) {
		write_map(pid, "uid_map", base, len, &err);
		write_map(pid, "gid_map", base, len, &err);
	}
	if (!err) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			err = errno;
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return err ? -err : fd;
}

void kp_userns_why(int err, char *why, size_t size)
{
	char max[32], seccomp[16];

	kp_read_line("/proc/sys/user/max_user_namespaces", max, sizeof(max));
	seccomp_mode(seccomp, sizeof(seccomp));
	snprintf(why, size,
	         "unshare(CLONE_NEWUSER): %s (user.max_user_namespaces = %s, seccomp mode %s)",
	         strerror(err), max, seccomp);
}

int kp_idmap(const char *path, int userns_fd, char *why, size_t size)
{
	struct kp_mount_attr attr;
	int own = -1, fd, err = 0;

	if (userns_fd < 0) {
		own = kp_userns_fd(65534, 1);
		if (own < 0) {
			kp_userns_why(-own, why, size);
			return -own;
		}
		userns_fd = own;
	}
	fd = (int)syscall(__NR_open_tree, AT_FDCWD, path, KP_OPEN_TREE_CLONE | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		snprintf(why, size, "raw open_tree(OPEN_TREE_CLONE): %s", strerror(err));
		goto out;
	}
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = KP_MOUNT_ATTR_IDMAP;
	attr.userns_fd = (uint64_t)userns_fd;
	if (syscall(__NR_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		err = errno;
		snprintf(why, size, "raw open_tree + mount_setattr(MOUNT_ATTR_IDMAP): %s",
		         strerror(err));
	} else {
		snprintf(why, size, "raw open_tree + mount_setattr(MOUNT_ATTR_IDMAP) made one");
	}
	close(fd);
out:
	if (own >= 0)
		close(own);
	return err;
}
