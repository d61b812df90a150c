/* SPDX-License-Identifier: Apache-2.0 */
/* User namespaces for idmapped mounts: made from a map, opened, read back. */
#pragma once

#include "volshift.h"

/*
 * A new user namespace whose uid_map and gid_map are the given maps, each
 * line one FROM TO LEN triple (so on-disk FROM shows as TO through a mount
 * idmapped with it). Made by a short-lived child that unshares it and is
 * reaped before this returns. Returns an O_CLOEXEC fd, or -errno: -EPERM
 * without the privilege to write the maps, -EINVAL when the kernel refuses
 * a map (-E2BIG when its text is longer than the kernel takes in one write).
 */
int vs_userns_make(const struct vs_idmap *uid, const struct vs_idmap *gid);

/*
 * Opens a user namespace file (/proc/PID/ns/user or a bind mount of one)
 * and checks that it can carry an idmapped mount made from here: -ENOTTY
 * when path is not a namespace file, -EINVAL when it is a namespace of
 * another type, -EPERM when it is this process's own user namespace or one
 * above it (no namespace we do not control can idmap a mount). Other
 * -errno from open(2). Returns an O_CLOEXEC fd.
 */
int vs_userns_open(const char *path);

/* The same checks on an fd already open. 0 or -errno as above. */
int vs_userns_check(int fd);

/*
 * Reads the uid and gid maps of the user namespace fd refers to, as seen
 * from this process (the IDs on the host side). A child joins the namespace
 * and its /proc maps are read from here. -EINVAL when the maps are the
 * identity or break vs_idmap_validate's rules.
 */
int vs_userns_maps(int fd, struct vs_idmap *ret_uid, struct vs_idmap *ret_gid);
