/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_idmap_parse_range: the text of --map, --uid-map and --gid-map (and of
 * each /proc/PID/uid_map line), straight from the command line.
 *
 * Properties:
 * - it accepts exactly what a separate reference parser here accepts
 *   ("FROM:TO:LEN" or "FROM TO LEN", whole decimal numbers, optional blanks
 *   before and blanks or a newline after), with the same three numbers;
 *   a well-formed range with an ID or an end past 2^32-1 is -ERANGE, a
 *   zero length -EINVAL; anything else is -EINVAL or -ERANGE;
 * - a range that parses is valid: LEN > 0, both ends within 0..2^32-1;
 * - it prints back (colon form, blank form, the kernel's %10u form) to
 *   text that parses to the same range;
 * - as a one-range map it validates exactly when FROM and TO do not
 *   overlap, and maps its first and last ID and nothing just past them.
 */
#include <ctype.h>
#include <errno.h>

#include "fuzz.h"

/* The reference: tokenizes first, then reads numbers, saturating. */
static int ref_parse(const char *s, uint64_t v[3], bool *ret_well_formed)
{
	const char *b = s, *e;
	size_t nf = 0;
	bool colon;

	*ret_well_formed = false;
	while (*b == ' ' || *b == '\t')
		b++;
	e = b + strlen(b);
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		e--;
	colon = memchr(b, ':', (size_t)(e - b)) != NULL;
	for (const char *p = b; p < e;) {
		const char *f = p;
		uint64_t x = 0;

		if (nf == 3)
			return -EINVAL;
		while (p < e && isdigit((unsigned char)*p)) {
			x = x * 10 + (uint64_t)(*p - '0');
			if (x > (1ULL << 40))
				x = 1ULL << 40; /* saturate: "too big" is all that counts */
			p++;
		}
		if (p == f)
			return -EINVAL;
		v[nf++] = x;
		if (p == e)
			break;
		if (colon) {
			if (*p != ':' || p + 1 == e)
				return -EINVAL;
			p++;
		} else {
			if (*p != ' ' && *p != '\t')
				return -EINVAL;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
		}
	}
	if (nf != 3)
		return -EINVAL;
	*ret_well_formed = true;
	if (v[0] > UINT32_MAX || v[1] > UINT32_MAX || v[2] > UINT32_MAX)
		return -ERANGE;
	if (v[2] == 0)
		return -EINVAL;
	if (v[0] + v[2] - 1 > UINT32_MAX || v[1] + v[2] - 1 > UINT32_MAX)
		return -ERANGE;
	return 0;
}

static void check_reparse(const char *fmt, const struct vs_idmap_range *r)
{
	struct vs_idmap_range again;
	char buf[64];
	int e;

	snprintf(buf, sizeof(buf), fmt, r->from, r->to, r->len);
	e = vs_idmap_parse_range(buf, &again);
	FUZZ_CHECK(e == 0, "'%s' (printed from a parsed range) gives %d", buf, e);
	FUZZ_CHECK(again.from == r->from && again.to == r->to && again.len == r->len,
	           "'%s' parses to %u:%u:%u", buf, again.from, again.to, again.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	struct vs_idmap_range r = {0};
	struct vs_idmap m = {0};
	uint64_t v[3] = {0};
	bool well_formed;
	uint32_t out;
	int e, want;

	e = vs_idmap_parse_range(s, &r);
	want = ref_parse(s, v, &well_formed);
	FUZZ_CHECK(e == 0 || e == -EINVAL || e == -ERANGE, "'%s': unexpected %d", s, e);
	FUZZ_CHECK((e == 0) == (want == 0), "'%s': library %d, reference %d", s, e, want);
	if (well_formed)
		FUZZ_CHECK(e == want, "'%s' is well formed: library %d, reference %d", s, e, want);
	if (e < 0) {
		free(s);
		return 0;
	}

	FUZZ_CHECK(r.from == v[0] && r.to == v[1] && r.len == v[2],
	           "'%s': library %u:%u:%u, reference %llu:%llu:%llu", s, r.from, r.to, r.len,
	           (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2]);
	FUZZ_CHECK(r.len > 0 && (uint64_t)r.from + r.len - 1 <= UINT32_MAX &&
	               (uint64_t)r.to + r.len - 1 <= UINT32_MAX,
	           "'%s' parsed to an invalid range %u:%u:%u", s, r.from, r.to, r.len);
	check_reparse("%u:%u:%u", &r);
	check_reparse("%u %u %u", &r);
	check_reparse("%10u %10u %10u\n", &r);

	FUZZ_CHECK(vs_idmap_add(&m, &r) == 0, "add to an empty map");
	{
		bool overlap = (uint64_t)r.from < (uint64_t)r.to + r.len &&
		               (uint64_t)r.to < (uint64_t)r.from + r.len;

		FUZZ_CHECK((vs_idmap_validate(&m, NULL) == 0) == !overlap,
		           "%u:%u:%u: validate says %s, FROM and TO %s", r.from, r.to, r.len,
		           overlap ? "valid" : "invalid", overlap ? "overlap" : "do not overlap");
	}
	FUZZ_CHECK(vs_idmap_map(&m, r.from, &out) && out == r.to, "first ID of %u:%u:%u", r.from,
	           r.to, r.len);
	FUZZ_CHECK(vs_idmap_map(&m, r.from + r.len - 1, &out) && out == r.to + r.len - 1,
	           "last ID of %u:%u:%u", r.from, r.to, r.len);
	if ((uint64_t)r.from + r.len <= UINT32_MAX)
		FUZZ_CHECK(!vs_idmap_map(&m, r.from + r.len, &out), "ID past %u:%u:%u is mapped",
		           r.from, r.to, r.len);
	if (r.from > 0)
		FUZZ_CHECK(!vs_idmap_map(&m, r.from - 1, &out), "ID before %u:%u:%u is mapped",
		           r.from, r.to, r.len);
	free(s);
	return 0;
}
