/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Map building and validation: vs_idmap_add, vs_idmap_validate and what a
 * run does with a map that passed (vs_idmap_map, vs_idmap_in_to,
 * vs_idmap_reverse). The input is binary: a range count, then ranges whose
 * IDs cluster where shifters meet them (0, multiples of 65536, the top of
 * the 32-bit space; see fuzz_id), then IDs to probe.
 *
 * Properties:
 * - vs_idmap_validate accepts exactly the maps a reference check here
 *   accepts (non-empty; every range non-empty and within 0..2^32-1; FROM
 *   ranges pairwise disjoint, TO ranges pairwise disjoint, no FROM range
 *   meeting a TO range), and gives a reason exactly when it refuses;
 * - a map that validates maps every FROM ID into a TO range and back through
 *   the reversed map, never maps a TO ID again, survives two reversals and
 *   reverses into a valid map (fuzz_check_valid_map);
 * - vs_idmap_add takes VS_IDMAP_MAX ranges and refuses the next with -E2BIG.
 */
#include <errno.h>

#include "fuzz.h"

#define MAX_RANGES 8
#define MAX_PROBES 16

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool ref_valid(const struct vs_idmap *m)
{
	if (m->n == 0)
		return false;
	for (unsigned i = 0; i < m->n; i++) {
		const struct vs_idmap_range *a = &m->r[i];

		if (a->len == 0 || (uint64_t)a->from + a->len - 1 > UINT32_MAX ||
		    (uint64_t)a->to + a->len - 1 > UINT32_MAX)
			return false;
		for (unsigned j = 0; j < m->n; j++) {
			const struct vs_idmap_range *b = &m->r[j];

			if (overlap(a->from, a->len, b->to, b->len))
				return false;
			if (i != j && (overlap(a->from, a->len, b->from, b->len) ||
			               overlap(a->to, a->len, b->to, b->len)))
				return false;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint32_t probes[MAX_PROBES];
	size_t n_probes = 0;
	const char *why = NULL;
	struct vs_idmap m, rev;
	bool want;
	int e;

	fuzz_map(&in, &m, MAX_RANGES);
	while (in.left && n_probes < MAX_PROBES)
		probes[n_probes++] = fuzz_id(&in);

	e = vs_idmap_validate(&m, &why);
	want = ref_valid(&m);
	FUZZ_CHECK(e == 0 || e == -EINVAL, "validate returned %d", e);
	FUZZ_CHECK((e == 0) == want, "validate says %s (%s), the reference says %s",
	           e ? "invalid" : "valid", why ? why : "no reason", want ? "valid" : "invalid");
	FUZZ_CHECK((why != NULL) == (e != 0), "a reason (%s) goes with a refusal only",
	           why ? why : "none");
	if (e == 0) {
		fuzz_check_valid_map(&m, probes, n_probes);
	} else {
		/* a refused map is never used, but must not crash the calls either */
		uint32_t x;

		rev = m;
		vs_idmap_reverse(&rev);
		vs_idmap_reverse(&rev);
		FUZZ_CHECK(!memcmp(&rev, &m, sizeof(m)), "reversing twice changed the map");
		for (size_t i = 0; i < n_probes; i++) {
			(void)vs_idmap_map(&m, probes[i], &x);
			(void)vs_idmap_in_to(&m, probes[i]);
		}
	}

	/* the kernel's limit on lines, and no more */
	if (m.n == 1 && size > 0 && data[size - 1] == 0xAA) {
		struct vs_idmap big = {0};

		for (unsigned i = 0; i < VS_IDMAP_MAX; i++)
			FUZZ_CHECK(vs_idmap_add(&big, &m.r[0]) == 0, "range %u of %d refused", i,
			           VS_IDMAP_MAX);
		FUZZ_CHECK(vs_idmap_add(&big, &m.r[0]) == -E2BIG, "range %d taken",
		           VS_IDMAP_MAX + 1);
		FUZZ_CHECK(big.n == VS_IDMAP_MAX, "n = %u", big.n);
	}
	return 0;
}
