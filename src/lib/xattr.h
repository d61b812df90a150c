/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte transforms behind the capability and ACL steps of xattr.c, kept
 * apart from the syscalls so that tests can check them on byte arrays.
 * Formats are the kernel's on-the-wire ones (linux/capability.h,
 * linux/posix_acl_xattr.h), all little endian.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "volshift.h"

/* security.capability: le32 magic_etc, {le32 permitted, le32 inheritable}
 * x VFS_CAP_U32, and for revision 3 a le32 rootid. */
#define VS_CAP_REVISION_MASK   0xFF000000U
#define VS_CAP_REVISION_1      0x01000000U
#define VS_CAP_REVISION_2      0x02000000U
#define VS_CAP_REVISION_3      0x03000000U
#define VS_CAP_FLAGS_EFFECTIVE 0x00000001U
#define VS_CAP_SZ_1            12
#define VS_CAP_SZ_2            20
#define VS_CAP_SZ_3            24
#define VS_CAP_MAX             VS_CAP_SZ_3

/* system.posix_acl_access / _default: le32 version, then entries of
 * {le16 tag, le16 perm, le32 id}. */
#define VS_ACL_XATTR_VERSION 0x0002U
#define VS_ACL_USER          0x02U
#define VS_ACL_GROUP         0x08U
#define VS_ACL_HDR_SZ        4
#define VS_ACL_ENTRY_SZ      8

#define VS_XATTR_CAPS        "security.capability"
#define VS_XATTR_ACL_ACCESS  "system.posix_acl_access"
#define VS_XATTR_ACL_DEFAULT "system.posix_acl_default"

/*
 * The shift of one security.capability value through uid_map (already
 * reversed for --reverse). The rootid (0 for revision 2) goes through the
 * map; when it lies in a FROM range the result is revision 3 with the new
 * rootid, or revision 2 when the new rootid is 0 (a v3 with rootid 0 is what
 * a root-owned v2 means, and only v2 reads the same from every namespace).
 * Returns 1 with out[0..*ret_len) filled, or 0 when the value is to be
 * written back as it was: revision 1, an unknown revision or size, or a
 * rootid outside every FROM range.
 */
int vs_cap_transform(const uint8_t *in, size_t in_len, const struct vs_idmap *uid_map,
                     uint8_t out[VS_CAP_MAX], size_t *ret_len);

/*
 * Maps the qualifiers of the ACL_USER entries through uid_map and of the
 * ACL_GROUP entries through gid_map, in place; other entries and IDs outside
 * every FROM range are left alone. Returns the number of qualifiers changed,
 * or -EINVAL when buf is not a version 2 POSIX ACL xattr.
 */
int vs_acl_transform(uint8_t *buf, size_t len, const struct vs_idmap *uid_map,
                     const struct vs_idmap *gid_map);
