/* SPDX-License-Identifier: Apache-2.0 */
/* Raw syscalls and kernel constants that Debian 12's glibc does not wrap. */
#pragma once

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

struct vs_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

struct vs_xattr_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static inline int sys_open_tree(int dfd, const char *path, unsigned flags)
{
	return (int)syscall(__NR_open_tree, dfd, path, flags);
}

static inline int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to,
                                 unsigned flags)
{
	return (int)syscall(__NR_move_mount, from_dfd, from, to_dfd, to, flags);
}

static inline int sys_mount_setattr(int dfd, const char *path, unsigned flags,
                                    struct vs_mount_attr *attr)
{
	return (int)syscall(__NR_mount_setattr, dfd, path, flags, attr, sizeof(*attr));
}

/* Like fchmodat, but AT_SYMLINK_NOFOLLOW works (Linux 6.6+). */
static inline int sys_fchmodat2(int dfd, const char *path, unsigned mode, int flags)
{
	return (int)syscall(__NR_fchmodat2, dfd, path, mode, flags);
}

/* The dirfd-relative xattr calls of Linux 6.13+. */
static inline ssize_t sys_getxattrat(int dfd, const char *path, unsigned at_flags, const char *name,
                                     void *value, size_t size)
{
	struct vs_xattr_args args = {.value = (uintptr_t)value, .size = (uint32_t)size};
	return syscall(__NR_getxattrat, dfd, path, at_flags, name, &args, sizeof(args));
}

static inline int sys_setxattrat(int dfd, const char *path, unsigned at_flags, const char *name,
                                 const void *value, size_t size, unsigned flags)
{
	struct vs_xattr_args args = {
	    .value = (uintptr_t)value, .size = (uint32_t)size, .flags = flags};
	return (int)syscall(__NR_setxattrat, dfd, path, at_flags, name, &args, sizeof(args));
}

static inline ssize_t sys_listxattrat(int dfd, const char *path, unsigned at_flags, char *list,
                                      size_t size)
{
	return syscall(__NR_listxattrat, dfd, path, at_flags, list, size);
}
