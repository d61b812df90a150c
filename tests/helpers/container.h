/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the container tests (runc, podman) share: whether a busybox can go
 * into a rootfs as it is, and what `ls -ln` printed inside a container.
 */
#pragma once

#include <stdbool.h>

/* A static 64-bit ELF executable (no PT_INTERP): one that runs in a rootfs
 * holding nothing else. */
bool tu_is_static_elf(const char *path);

/* The owner and group `ls -ln` output shows for name; false when name is not
 * listed. */
bool tu_ls_owner(const char *ls, const char *name, long *uid, long *gid);
