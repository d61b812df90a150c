/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POSIX ACL qualifiers through the ID maps, on the kernel's xattr form.
 *
 * Why raw bytes and not libacl here: libacl reads and writes ACLs by path
 * (acl_get_file follows symlinks and has no dirfd form) or by an open fd
 * (an open + close per entry, and no O_PATH). The xattr value, read with
 * getxattrat relative to the directory fd, costs one syscall, never follows
 * a symlink, and round-trips exactly: entry order, permissions and every
 * other tag stay byte for byte. libacl builds and checks ACLs in the tests.
 */
#include "internal.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "xattr.h"

int vs_acl_transform(uint8_t *buf, size_t len, const struct vs_idmap *uid_map,
                     const struct vs_idmap *gid_map)
{
	uint32_t version;
	int changed = 0;

	if (len < VS_ACL_HDR_SZ || (len - VS_ACL_HDR_SZ) % VS_ACL_ENTRY_SZ)
		return -EINVAL;
	memcpy(&version, buf, sizeof(version));
	if (le32toh(version) != VS_ACL_XATTR_VERSION)
		return -EINVAL;

	for (size_t off = VS_ACL_HDR_SZ; off < len; off += VS_ACL_ENTRY_SZ) {
		const struct vs_idmap *m;
		uint16_t tag;
		uint32_t id, to;

		memcpy(&tag, buf + off, sizeof(tag));
		tag = le16toh(tag);
		if (tag == VS_ACL_USER)
			m = uid_map;
		else if (tag == VS_ACL_GROUP)
			m = gid_map;
		else
			continue;
		memcpy(&id, buf + off + 4, sizeof(id));
		id = le32toh(id);
		if (!vs_idmap_map(m, id, &to) || to == id)
			continue;
		to = htole32(to);
		memcpy(buf + off + 4, &to, sizeof(to));
		changed++;
	}
	return changed;
}
