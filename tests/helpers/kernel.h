/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's own answer to "can this be done here?", asked without the
 * library, so that a test skips only when the kernel agrees with the
 * library's probe (vs_uring_probe, vs_idmap_supported), never because of a
 * bug in the probe. Each answer comes with a one-line reason for the skip
 * message: the syscall that refused, its errno, and the settings that
 * explain it (kernel.io_uring_disabled, seccomp, user.max_user_namespaces).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * io_uring as a raw io_uring_setup(2) sees it and, when that works, one real
 * IORING_OP_STATX (liburing, no setup flags). Returns 0 when a statx goes
 * through a ring here, else the positive errno of the step that failed;
 * why says which step and why (always filled).
 */
int kp_uring(char *why, size_t size);

/* Whether io_uring_setup(2) takes these IORING_SETUP_* flags (a ring made
 * and closed again). */
bool kp_uring_setup_takes(unsigned flags);

/*
 * An idmapped mount of path as the kernel answers it: a raw
 * open_tree(OPEN_TREE_CLONE) and mount_setattr(MOUNT_ATTR_IDMAP) with
 * userns_fd, or with a fresh user namespace when userns_fd < 0; the clone
 * stays detached and goes with its fd. Returns 0 when the kernel made it,
 * else the positive errno; why names the step (always filled).
 */
int kp_idmap(const char *path, int userns_fd, char *why, size_t size);

/* A user namespace whose uid and gid maps are "0 base len", made by a
 * short-lived child: an O_RDONLY fd of it, or -errno. */
int kp_userns_fd(unsigned base, unsigned len);

/* Why unshare(CLONE_NEWUSER) failed with err: the errno and the settings
 * that say no (user.max_user_namespaces, seccomp). */
void kp_userns_why(int err, char *why, size_t size);

/* The first line of a /proc/sys (or any) file, without its newline, or "?". */
void kp_read_line(const char *path, char *buf, size_t size);
