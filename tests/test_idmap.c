/* SPDX-License-Identifier: Apache-2.0 */
/* Description: ID map parsing, validation, mapping and reversal (no root needed). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "volshift.h"

static struct vs_idmap_range parse_ok(const char *s)
{
	struct vs_idmap_range r = {0};

	cr_assert_eq(vs_idmap_parse_range(s, &r), 0, "'%s' should parse", s);
	return r;
}

Test(idmap, parses_colon_and_whitespace_forms)
{
	struct vs_idmap_range r = parse_ok("0:524288:65536");

	cr_assert_eq(r.from, 0);
	cr_assert_eq(r.to, 524288);
	cr_assert_eq(r.len, 65536);
	r = parse_ok("         0     524288      65536\n");
	cr_assert_eq(r.to, 524288);
	r = parse_ok("1000\t2000\t1");
	cr_assert_eq(r.from, 1000);
	cr_assert_eq(r.len, 1);
	r = parse_ok("4294967294:0:1");
	cr_assert_eq(r.from, 4294967294u);
	r = parse_ok("0:0:4294967295"); /* the identity map of the initial namespace */
	cr_assert_eq(r.len, UINT32_MAX);
}

Test(idmap, refuses_malformed_ranges)
{
	static const char *const bad[] = {
	    "",      ":",   "0:1",   "0:1:2:3",  "a:1:1",    "0:1:x",   "-1:0:1", "+1:0:1",
	    "0:1:0", "0 1", "0:1 1", " 0:1:1 x", "0x10:1:1", "1.5:1:1", "0::1",   "0:1:1:",
	};
	struct vs_idmap_range r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(vs_idmap_parse_range(bad[i], &r), -EINVAL, "'%s' must be refused",
		             bad[i]);
}

Test(idmap, refuses_ids_past_2_32)
{
	struct vs_idmap_range r;

	cr_assert_eq(vs_idmap_parse_range("4294967296:0:1", &r), -ERANGE);
	cr_assert_eq(vs_idmap_parse_range("0:4294967295:2", &r), -ERANGE);
	cr_assert_eq(vs_idmap_parse_range("4294967295:0:2", &r), -ERANGE);
	cr_assert_eq(vs_idmap_parse_range("0:0:99999999999999999999", &r), -ERANGE);
}

static struct vs_idmap map_of(const char *a, const char *b)
{
	struct vs_idmap m = {0};
	struct vs_idmap_range r;

	cr_assert_eq(vs_idmap_parse_range(a, &r), 0);
	vs_idmap_add(&m, &r);
	if (b) {
		cr_assert_eq(vs_idmap_parse_range(b, &r), 0);
		vs_idmap_add(&m, &r);
	}
	return m;
}

Test(idmap, validate_accepts_disjoint_maps)
{
	struct vs_idmap m = map_of("0:524288:65536", NULL);

	cr_assert_eq(vs_idmap_validate(&m, NULL), 0);
	m = map_of("0:524288:1000", "1000:600000:1000");
	cr_assert_eq(vs_idmap_validate(&m, NULL), 0);
}

Test(idmap, validate_refuses_overlaps)
{
	const char *why = NULL;
	struct vs_idmap m = map_of("0:524288:100", "50:700000:100");

	cr_assert_eq(vs_idmap_validate(&m, &why), -EINVAL);
	cr_assert_str_eq(why, "two FROM ranges overlap");
	m = map_of("0:524288:100", "1000:524300:10");
	cr_assert_eq(vs_idmap_validate(&m, &why), -EINVAL);
	cr_assert_str_eq(why, "two TO ranges overlap");
	m = map_of("0:10:100", NULL); /* FROM [0,100) and TO [10,110) */
	cr_assert_eq(vs_idmap_validate(&m, &why), -EINVAL);
	cr_assert(why && why[0] == 'a');
	m = map_of("0:524288:65536", "524300:0:1"); /* second FROM inside first TO */
	cr_assert_eq(vs_idmap_validate(&m, NULL), -EINVAL);
	m = (struct vs_idmap){0};
	cr_assert_eq(vs_idmap_validate(&m, &why), -EINVAL);
	cr_assert_str_eq(why, "the map is empty");
}

Test(idmap, maps_inside_and_leaves_outside)
{
	struct vs_idmap m = map_of("0:524288:65536", NULL);
	uint32_t out = 7;

	cr_assert(vs_idmap_map(&m, 0, &out));
	cr_assert_eq(out, 524288);
	cr_assert(vs_idmap_map(&m, 1000, &out));
	cr_assert_eq(out, 525288);
	cr_assert(vs_idmap_map(&m, 65535, &out));
	cr_assert_eq(out, 589823);
	out = 7;
	cr_assert_not(vs_idmap_map(&m, 65536, &out));
	cr_assert_eq(out, 7);
	cr_assert(vs_idmap_in_to(&m, 524288));
	cr_assert(vs_idmap_in_to(&m, 589823));
	cr_assert_not(vs_idmap_in_to(&m, 589824));
	cr_assert_not(vs_idmap_in_to(&m, 0));
}

Test(idmap, reverse_undoes)
{
	struct vs_idmap m = map_of("0:524288:1000", "1000:700000:10");
	uint32_t fwd, back;

	for (uint32_t id = 0; id < 1010; id += 7) {
		struct vs_idmap r = m;

		cr_assert(vs_idmap_map(&m, id, &fwd));
		vs_idmap_reverse(&r);
		cr_assert(vs_idmap_map(&r, fwd, &back));
		cr_assert_eq(back, id);
	}
}

Test(idmap, parses_proc_text)
{
	struct vs_idmap m;

	cr_assert_eq(vs_idmap_parse_text("         0     524288      65536\n"
	                                 "     65536     700000          1\n",
	                                 &m),
	             0);
	cr_assert_eq(m.n, 2);
	cr_assert_eq(m.r[1].to, 700000);
	cr_assert_eq(vs_idmap_parse_text("0 1\n", &m), -EINVAL);
}

Test(idmap, from_pid_refuses_identity_and_missing)
{
	struct vs_idmap u, g;

	/* PID 1 of this machine lives in the initial namespace: identity */
	cr_assert_eq(vs_idmap_from_pid(1, &u, &g), -EINVAL);
	cr_assert_eq(vs_idmap_from_pid(0x7ffffff0, &u, &g), -ESRCH);
}

Test(idmap, capacity)
{
	struct vs_idmap m = {0};
	struct vs_idmap_range r = {0, 1000000, 1};

	for (unsigned i = 0; i < VS_IDMAP_MAX; i++)
		cr_assert_eq(vs_idmap_add(&m, &r), 0);
	cr_assert_eq(vs_idmap_add(&m, &r), -E2BIG);
}
