/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_cap_transform: the security.capability value of a file on the volume
 * (v1, v2 or v3 as the kernel stores it, or anything a fuzzer makes of
 * it), through the uid map.
 *
 * Input: a uid map (fuzz_map), then the value: the rest of the input as it
 * is, or built from it (a revision, flags, the two words, a rootid in the
 * map's ranges often, and a length that is right, short or long).
 *
 * Properties:
 * - it returns 0 or 1; 0 leaves out and *ret_len untouched; 1 only for a
 *   revision 2 value of exactly 20 bytes or a revision 3 value of exactly
 *   24, whose rootid (0 for v2) lies in a FROM range;
 * - what it writes is a value the kernel takes (its validheader()): 20
 *   bytes of revision 2 when the new rootid is 0, 24 bytes of revision 3
 *   with the new rootid otherwise, never more than VS_CAP_MAX (out is a
 *   buffer of exactly VS_CAP_MAX bytes, under ASan), with the flags and
 *   both capability words of the input and the rootid's image through the
 *   map; nothing is read past the input;
 * - with a valid map: the result does not shift again, and the reversed map
 *   turns it back into the input (a v3 whose rootid was 0 comes back as
 *   the v2 that means the same).
 */
#include <endian.h>

#include "fuzz.h"
#include "xattr.h"

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint8_t *build(struct fuzz_in *in, size_t *ret_len)
{
	static const uint32_t revs[] = {VS_CAP_REVISION_1, VS_CAP_REVISION_2, VS_CAP_REVISION_3};
	static const size_t sizes[] = {VS_CAP_SZ_1, VS_CAP_SZ_2, VS_CAP_SZ_3};
	uint8_t sel = fuzz_u8(in), lsel = fuzz_u8(in);
	uint32_t rev = sel < 0xf0 ? revs[sel % 3] : fuzz_u32(in) & VS_CAP_REVISION_MASK;
	size_t len = lsel < 0xc0   ? sizes[sel % 3]
	             : lsel < 0xe0 ? sizes[lsel % 3]
	                           : (size_t)(lsel - 0xe0);
	uint8_t full[64] = {0}, *v;

	if (lsel == 0xff)
		len = 4096; /* an oversized value */
	put32(full, rev | (fuzz_u8(in) & 1 ? VS_CAP_FLAGS_EFFECTIVE : 0) |
	                (fuzz_u8(in) == 0xff ? fuzz_u32(in) & 0x00fffffe : 0));
	for (int i = 1; i < 5; i++)
		put32(full + 4 * i, fuzz_u32(in));
	put32(full + VS_CAP_SZ_2, fuzz_id(in));
	v = malloc(len ? len : 1);
	if (!v)
		abort();
	memset(v, 0, len);
	memcpy(v, full, len < sizeof(full) ? len : sizeof(full));
	*ret_len = len;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct vs_idmap m, rev;
	uint8_t *val, *out, *again;
	size_t len, out_len = 12345, again_len = 54321;
	uint32_t magic = 0, rootid = 0, newroot = 0;
	bool shape;
	int r;

	fuzz_map(&in, &m, 4);
	if (fuzz_u8(&in) & 1) {
		len = in.left;
		val = malloc(len ? len : 1);
		if (!val)
			abort();
		memcpy(val, in.p, len);
	} else {
		val = build(&in, &len);
	}
	out = malloc(VS_CAP_MAX);
	again = malloc(VS_CAP_MAX);
	if (!out || !again)
		abort();
	memset(out, 0xa5, VS_CAP_MAX);

	r = vs_cap_transform(val, len, &m, out, &out_len);
	FUZZ_CHECK(r == 0 || r == 1, "returned %d", r);
	if (len >= 4)
		magic = get32(val);
	shape = (len == VS_CAP_SZ_2 && (magic & VS_CAP_REVISION_MASK) == VS_CAP_REVISION_2) ||
	        (len == VS_CAP_SZ_3 && (magic & VS_CAP_REVISION_MASK) == VS_CAP_REVISION_3);
	if (shape && len == VS_CAP_SZ_3)
		rootid = get32(val + VS_CAP_SZ_2);
	if (r == 0) {
		FUZZ_CHECK(out_len == 12345, "*ret_len set to %zu without a change", out_len);
		for (size_t i = 0; i < VS_CAP_MAX; i++)
			FUZZ_CHECK(out[i] == 0xa5, "out[%zu] written without a change", i);
		FUZZ_CHECK(!shape || !vs_idmap_map(&m, rootid, &newroot),
		           "a %zu-byte value with rootid %u in a FROM range left alone", len,
		           rootid);
		goto done;
	}

	FUZZ_CHECK(shape, "changed a %zu-byte value of magic %#x", len, magic);
	FUZZ_CHECK(vs_idmap_map(&m, rootid, &newroot), "changed rootid %u outside the map", rootid);
	FUZZ_CHECK(out_len <= VS_CAP_MAX, "%zu bytes out", out_len);
	FUZZ_CHECK((get32(out) & ~VS_CAP_REVISION_MASK) == (magic & ~VS_CAP_REVISION_MASK) &&
	               !memcmp(out + 4, val + 4, VS_CAP_SZ_2 - 4),
	           "flags or capability words changed");
	if (newroot == 0)
		FUZZ_CHECK(out_len == VS_CAP_SZ_2 &&
		               (get32(out) & VS_CAP_REVISION_MASK) == VS_CAP_REVISION_2,
		           "rootid 0 gives %zu bytes of magic %#x", out_len, get32(out));
	else
		FUZZ_CHECK(out_len == VS_CAP_SZ_3 &&
		               (get32(out) & VS_CAP_REVISION_MASK) == VS_CAP_REVISION_3 &&
		               get32(out + VS_CAP_SZ_2) == newroot,
		           "rootid %u gives %zu bytes of magic %#x", newroot, out_len, get32(out));

	if (vs_idmap_validate(&m, NULL) < 0)
		goto done;
	FUZZ_CHECK(vs_cap_transform(out, out_len, &m, again, &again_len) == 0,
	           "rootid %u -> %u shifts again", rootid, newroot);
	rev = m;
	vs_idmap_reverse(&rev);
	FUZZ_CHECK(vs_cap_transform(out, out_len, &rev, again, &again_len) == 1,
	           "the reversed map leaves rootid %u alone", newroot);
	if (rootid == 0) {
		/* back to v2: the v2 or v3-with-rootid-0 input, as v2 */
		FUZZ_CHECK(again_len == VS_CAP_SZ_2 &&
		               get32(again) ==
		                   ((magic & ~VS_CAP_REVISION_MASK) | VS_CAP_REVISION_2) &&
		               !memcmp(again + 4, val + 4, VS_CAP_SZ_2 - 4),
		           "rootid 0 -> %u -> not v2 of the same words", newroot);
	} else {
		FUZZ_CHECK(again_len == len && !memcmp(again, val, len),
		           "rootid %u -> %u -> not the input", rootid, newroot);
	}
done:
	free(again);
	free(out);
	free(val);
	return 0;
}
