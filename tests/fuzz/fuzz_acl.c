/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_acl_transform: the system.posix_acl_access / _default values of the
 * files on a volume, which whoever wrote the volume controls, mapped in
 * place through the uid and gid maps.
 *
 * Input: a uid map and a gid map (fuzz_map), then the value: either the
 * rest of the input as it is, or built from it entry by entry (so that tags
 * are real ones and qualifiers fall in the maps' ranges often).
 *
 * Properties:
 * - it refuses (-EINVAL, value untouched) exactly what is not a version 2
 *   POSIX ACL xattr: shorter than 4 bytes, a partial entry, another version;
 * - otherwise it changes only the qualifiers of ACL_USER and ACL_GROUP
 *   entries, each to its image through the uid (user) or gid (group) map,
 *   and returns how many it changed; header, tags, permissions and every
 *   other entry stay byte for byte, and nothing is read or written outside
 *   the value (ASan; the value sits in a buffer of exactly its size);
 * - the value never grows (in place) and stays within XATTR_SIZE_MAX;
 * - with valid maps: a second pass changes nothing (a re-run does not shift
 *   twice), and the reversed maps give the original bytes back whenever
 *   every qualifier was in a FROM range or outside every TO range.
 */
#include <endian.h>
#include <errno.h>
#include <linux/limits.h>

#include "fuzz.h"
#include "xattr.h"

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* A value built entry by entry; *ret_len its size. */
static uint8_t *build(struct fuzz_in *in, size_t *ret_len)
{
	static const uint16_t tags[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20};
	uint8_t sel = fuzz_u8(in);
	size_t n = fuzz_u8(in) % 40, len = VS_ACL_HDR_SZ + n * VS_ACL_ENTRY_SZ, extra = 0;
	uint8_t *v;

	if (sel & 0x80)
		extra = (sel >> 4) & 7; /* a partial entry at the end */
	v = malloc(len + extra ? len + extra : 1);
	if (!v)
		abort();
	put32(v, sel & 0x40 ? fuzz_u32(in) : VS_ACL_XATTR_VERSION);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = v + VS_ACL_HDR_SZ + i * VS_ACL_ENTRY_SZ;
		uint8_t t = fuzz_u8(in);

		put16(e, t < 0xf0 ? tags[t % 6] : fuzz_u8(in));
		put16(e + 2, fuzz_u8(in) & 7);
		put32(e + 4, fuzz_id(in));
	}
	for (size_t i = 0; i < extra; i++)
		v[len + i] = fuzz_u8(in);
	*ret_len = len + extra;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct vs_idmap u, g, ru, rg;
	uint8_t *val, *orig, *once;
	size_t len, entries;
	bool valid, maps_ok, reversible = true;
	int r, want = 0;

	fuzz_map(&in, &u, 4);
	fuzz_map(&in, &g, 4);
	if (fuzz_u8(&in) & 1) {
		len = in.left;
		val = malloc(len ? len : 1);
		if (!val)
			abort();
		memcpy(val, in.p, len);
	} else {
		val = build(&in, &len);
	}
	if (len > XATTR_SIZE_MAX) {
		free(val);
		return 0;
	}
	orig = malloc(len ? len : 1);
	once = malloc(len ? len : 1);
	if (!orig || !once)
		abort();
	memcpy(orig, val, len);

	r = vs_acl_transform(val, len, &u, &g);
	valid = len >= VS_ACL_HDR_SZ && (len - VS_ACL_HDR_SZ) % VS_ACL_ENTRY_SZ == 0 &&
	        get32(orig) == VS_ACL_XATTR_VERSION;
	if (!valid) {
		FUZZ_CHECK(r == -EINVAL, "a %zu-byte value of version %#x: %d", len,
		           len >= 4 ? get32(orig) : 0, r);
		FUZZ_CHECK(!memcmp(val, orig, len), "a refused value was changed");
		goto out;
	}
	FUZZ_CHECK(!memcmp(val, orig, VS_ACL_HDR_SZ), "the header changed");
	entries = (len - VS_ACL_HDR_SZ) / VS_ACL_ENTRY_SZ;
	for (size_t i = 0; i < entries; i++) {
		const uint8_t *a = orig + VS_ACL_HDR_SZ + i * VS_ACL_ENTRY_SZ;
		const uint8_t *b = val + VS_ACL_HDR_SZ + i * VS_ACL_ENTRY_SZ;
		uint16_t tag = get16(a);
		const struct vs_idmap *m = tag == VS_ACL_USER    ? &u
		                           : tag == VS_ACL_GROUP ? &g
		                                                 : NULL;
		uint32_t id = get32(a + 4), to = id;

		FUZZ_CHECK(!memcmp(a, b, 4), "entry %zu: tag or permissions changed", i);
		if (m && vs_idmap_map(m, id, &to) && to != id)
			want++;
		FUZZ_CHECK(get32(b + 4) == to, "entry %zu (tag %#x): %u became %u, want %u", i, tag,
		           id, get32(b + 4), to);
		if (m && !fuzz_in_ranges(m, id, false) && fuzz_in_ranges(m, id, true))
			reversible = false;
	}
	FUZZ_CHECK(r == want, "returned %d, %d qualifiers changed", r, want);

	maps_ok = vs_idmap_validate(&u, NULL) == 0 && vs_idmap_validate(&g, NULL) == 0;
	if (!maps_ok)
		goto out;
	memcpy(once, val, len);
	r = vs_acl_transform(val, len, &u, &g);
	FUZZ_CHECK(r == 0 && !memcmp(val, once, len), "a second pass changed %d qualifiers", r);
	ru = u;
	rg = g;
	vs_idmap_reverse(&ru);
	vs_idmap_reverse(&rg);
	r = vs_acl_transform(val, len, &ru, &rg);
	FUZZ_CHECK(r >= want, "the reversed maps changed %d qualifiers, the maps %d", r, want);
	if (reversible)
		FUZZ_CHECK(r == want && !memcmp(val, orig, len),
		           "mapped and mapped back, the value is not the same");
out:
	free(once);
	free(orig);
	free(val);
	return 0;
}
