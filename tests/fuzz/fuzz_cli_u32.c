/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_parse_u32: --gid, --jobs, --from-pid (and whatever number the CLI
 * takes next). The input is a 4-byte little-endian maximum, then the text.
 *
 * Properties:
 * - it accepts exactly a non-empty run of decimal digits whose value is at
 *   most max (reference: strtoull on a digits-only string, with its own
 *   overflow check), and gives that value;
 * - the value printed with %u, after the text's leading zeros, is the text;
 * - a refusal leaves *ret alone and is -EINVAL or -ERANGE: -ERANGE for
 *   digits-only text whose value exceeds max, and otherwise only when the
 *   digits the text starts with already exceed it (the CLI prints one
 *   message for both).
 */
#include <errno.h>

#include "cli.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint32_t max = fuzz_u32(&in), v = 0xdeadbeef;
	char *s = fuzz_strndup(in.p, in.left), printed[16];
	size_t lead = strspn(s, "0123456789");
	bool digits = *s && lead == strlen(s);
	unsigned long long want = 0;
	bool big;
	int e;

	/* the value of the leading digits; strtoull stops at the first other */
	errno = 0;
	want = strtoull(s, NULL, 10);
	big = lead > 0 && (errno == ERANGE || want > max);
	e = vs_parse_u32(s, max, &v);
	if (e == 0) {
		FUZZ_CHECK(digits && !big, "'%s' (max %u) accepted as %u", s, max, v);
		FUZZ_CHECK(v == want && v <= max, "'%s' gives %u, want %llu", s, v, want);
		snprintf(printed, sizeof(printed), "%u", v);
		FUZZ_CHECK(!strcmp(printed, s + strspn(s, "0") - (v == 0 ? 1 : 0)), "'%s' gives %u",
		           s, v);
	} else {
		FUZZ_CHECK(e == -EINVAL || e == -ERANGE, "'%s': unexpected %d", s, e);
		FUZZ_CHECK(!digits || big, "'%s' (max %u) refused (%d)", s, max, e);
		FUZZ_CHECK(!(digits && big) || e == -ERANGE, "'%s' (max %u): %d, not -ERANGE", s,
		           max, e);
		FUZZ_CHECK(e != -ERANGE || big, "'%s' (max %u): -ERANGE for a small number", s,
		           max);
		FUZZ_CHECK(v == 0xdeadbeef, "'%s': *ret set on a refusal", s);
	}
	free(s);
	return 0;
}
