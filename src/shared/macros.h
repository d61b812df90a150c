/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cleanup helpers and small utilities shared by the library and the CLI.
 * Header-only and static inline: nothing here is exported from libvolshift.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void vs_freep(void *p)
{
	free(*(void **)p);
}

static inline void vs_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_  __attribute__((cleanup(vs_freep)))
#define _cleanup_close_ __attribute__((cleanup(vs_closep)))

/* Hands an fd's ownership over: returns it and leaves -1 behind. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* The same for a pointer: returns it and leaves NULL behind. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* -errno of the last failed call, never 0 (a broken libc must not look like success). */
static inline int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}
