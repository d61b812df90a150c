/* SPDX-License-Identifier: Apache-2.0 */
/* security.capability: v2 <-> v3 (rootid) through a uid map. */
#include "internal.h"

#include <endian.h>
#include <string.h>

#include "xattr.h"

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

int vs_cap_transform(const uint8_t *in, size_t in_len, const struct vs_idmap *uid_map,
                     uint8_t out[VS_CAP_MAX], size_t *ret_len)
{
	uint32_t magic, rev, rootid, newroot;

	if (in_len < 4)
		return 0;
	magic = get_le32(in);
	rev = magic & VS_CAP_REVISION_MASK;
	/* the kernel takes exactly these two shapes (validheader()); anything
	 * else, v1 included, is not ours to reinterpret */
	if (rev == VS_CAP_REVISION_2 && in_len == VS_CAP_SZ_2)
		rootid = 0;
	else if (rev == VS_CAP_REVISION_3 && in_len == VS_CAP_SZ_3)
		rootid = get_le32(in + VS_CAP_SZ_2);
	else
		return 0;

	if (!vs_idmap_map(uid_map, rootid, &newroot))
		return 0;

	/* the flag bits (effective) and the permitted/inheritable words stay */
	memcpy(out + 4, in + 4, VS_CAP_SZ_2 - 4);
	if (newroot == 0) {
		put_le32(out, VS_CAP_REVISION_2 | (magic & ~VS_CAP_REVISION_MASK));
		*ret_len = VS_CAP_SZ_2;
	} else {
		put_le32(out, VS_CAP_REVISION_3 | (magic & ~VS_CAP_REVISION_MASK));
		put_le32(out + VS_CAP_SZ_2, newroot);
		*ret_len = VS_CAP_SZ_3;
	}
	return 1;
}
