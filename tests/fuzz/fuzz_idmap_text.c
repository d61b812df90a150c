/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_idmap_parse_text: the text of /proc/PID/uid_map and gid_map (the
 * kernel writes it, but --from-pid and the OCI hook read it for a PID they
 * were handed), one "FROM TO LEN" per line.
 *
 * Properties:
 * - it accepts exactly when every line is shorter than 128 bytes, every
 *   line that is not blank parses with vs_idmap_parse_range, and there are
 *   at most VS_IDMAP_MAX of them; the map then holds those ranges in order;
 * - the map prints back in the kernel's format ("%10u %10u %10u\n") to
 *   text that parses to the same map;
 * - when it also validates, it behaves as fuzz_check_valid_map says.
 */
#include <errno.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *printed, *p;
	struct vs_idmap m, want = {0}, again;
	bool want_ok = true;
	int e;

	e = vs_idmap_parse_text(text, &m);
	FUZZ_CHECK(e <= 0, "parse_text returned %d", e);

	/* the reference: line by line, through vs_idmap_parse_range */
	for (p = text; *p && want_ok;) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct vs_idmap_range r;
		char *line = strndup(p, len);

		if (!line)
			abort();
		if (len >= 128)
			want_ok = false;
		else if (strspn(line, " \t") != len)
			want_ok =
			    vs_idmap_parse_range(line, &r) == 0 && vs_idmap_add(&want, &r) == 0;
		free(line);
		p += len + (nl ? 1 : 0);
	}
	FUZZ_CHECK((e == 0) == want_ok, "parse_text gives %d, line by line it %s", e,
	           want_ok ? "parses" : "does not");
	if (e < 0) {
		free(text);
		return 0;
	}
	FUZZ_CHECK(m.n == want.n && !memcmp(m.r, want.r, m.n * sizeof(m.r[0])),
	           "parse_text gives %u ranges, line by line %u (or others)", m.n, want.n);
	for (unsigned i = 0; i < m.n; i++)
		FUZZ_CHECK(m.r[i].len > 0 && (uint64_t)m.r[i].from + m.r[i].len - 1 <= UINT32_MAX &&
		               (uint64_t)m.r[i].to + m.r[i].len - 1 <= UINT32_MAX,
		           "range %u is invalid: %u %u %u", i, m.r[i].from, m.r[i].to, m.r[i].len);

	printed = malloc((size_t)m.n * 40 + 1);
	if (!printed)
		abort();
	printed[0] = '\0';
	for (unsigned i = 0, o = 0; i < m.n; i++)
		o += (unsigned)sprintf(printed + o, "%10u %10u %10u\n", m.r[i].from, m.r[i].to,
		                       m.r[i].len);
	e = vs_idmap_parse_text(printed, &again);
	FUZZ_CHECK(e == 0, "the printed map does not parse (%d):\n%s", e, printed);
	FUZZ_CHECK(again.n == m.n && !memcmp(again.r, m.r, m.n * sizeof(m.r[0])),
	           "the printed map parses to another map:\n%s", printed);
	free(printed);

	if (vs_idmap_validate(&m, NULL) == 0)
		fuzz_check_valid_map(&m, NULL, 0);
	free(text);
	return 0;
}
