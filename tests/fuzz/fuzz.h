/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the harnesses share: a property check that stops the run, and a
 * reader that takes typed values off the front of the fuzzer's bytes.
 *
 * A harness checks properties, not only "no crash": a violated one prints
 * what was expected and aborts, which libFuzzer reports as a crash and saves
 * the input as an artifact (crash-*). Replay one with ./fuzz_NAME FILE.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volshift.h"

/* Where FUZZ_CHECK writes: stderr, unless a harness silences the stderr
 * stream of the code under test (the CLI prints its usage errors there). */
static FILE *fuzz_log;

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			FILE *f_ = fuzz_log ? fuzz_log : stderr;                                   \
			fprintf(f_, "property violated at %s:%d: %s\n  ", __FILE__, __LINE__,      \
			        #cond);                                                            \
			fprintf(f_, __VA_ARGS__);                                                  \
			fputc('\n', f_);                                                           \
			fflush(f_);                                                                \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input as a C string (up to its first NUL): parsers take C strings. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Typed values off the front of the input; zeros once it runs out. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	if (in->left) {
		v = *in->p++;
		in->left--;
	}
	return v;
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)fuzz_u8(in) << (8 * i);
	return v;
}

/*
 * An ID as a shifter meets them: the interesting ones cluster at 0, at
 * multiples of 65536 (user-namespace ranges) and just below 2^32. One
 * selector byte picks the shape, so that ranges which touch, overlap or run
 * to the last ID come up often instead of one time in 2^32.
 */
static inline uint32_t fuzz_id(struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);

	switch (sel & 3) {
	case 0:
		return fuzz_u8(in); /* small */
	case 1:
		return (uint32_t)fuzz_u8(in) << 16 | fuzz_u8(in); /* k*65536 + small */
	case 2:
		return UINT32_MAX - fuzz_u8(in); /* near the top */
	default:
		return fuzz_u32(in);
	}
}

/* A length: small, a multiple of 65536, or anything. */
static inline uint32_t fuzz_len(struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);

	switch (sel & 3) {
	case 0:
		return fuzz_u8(in);
	case 1:
		return (uint32_t)fuzz_u8(in) << 16;
	case 2:
		return UINT32_MAX - fuzz_u8(in);
	default:
		return fuzz_u32(in);
	}
}

/* A map of 1..max ranges made of fuzz_id/fuzz_len; not validated. */
static inline void fuzz_map(struct fuzz_in *in, struct vs_idmap *m, unsigned max)
{
	unsigned n = fuzz_u8(in) % max + 1;

	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < n; i++) {
		struct vs_idmap_range r;

		r.from = fuzz_id(in);
		r.to = fuzz_id(in);
		r.len = fuzz_len(in);
		if (vs_idmap_add(m, &r) < 0)
			abort();
	}
}

/* Whether id lies in a FROM (to == false) or TO (to == true) range of m:
 * the harness's own, 64-bit, to check the library's against. */
static inline bool fuzz_in_ranges(const struct vs_idmap *m, uint32_t id, bool to)
{
	for (unsigned i = 0; i < m->n; i++) {
		uint64_t start = to ? m->r[i].to : m->r[i].from;

		if (id >= start && id < start + m->r[i].len)
			return true;
	}
	return false;
}

/*
 * What a map that passed vs_idmap_validate must do, checked on id and on
 * the edges of every range: an ID maps exactly when it lies in a FROM range
 * (and lands in a TO range, which vs_idmap_in_to agrees with); what it maps
 * to is never mapped again (a re-run does not shift twice) and maps back to
 * it through the reversed map; reversing twice gives the map back, and the
 * reversed map validates too.
 */
static inline void fuzz_check_id(const struct vs_idmap *m, const struct vs_idmap *rev, uint32_t id)
{
	bool in_from = fuzz_in_ranges(m, id, false), in_to = fuzz_in_ranges(m, id, true);
	uint32_t x, back;

	FUZZ_CHECK(vs_idmap_in_to(m, id) == in_to, "vs_idmap_in_to(%u) != %d", id, in_to);
	FUZZ_CHECK(vs_idmap_map(m, id, &x) == in_from, "vs_idmap_map(%u) != %d", id, in_from);
	FUZZ_CHECK(!(in_from && in_to), "ID %u in both a FROM and a TO range of a valid map", id);
	if (!in_from)
		return;
	FUZZ_CHECK(vs_idmap_in_to(m, x), "%u maps to %u, outside every TO range", id, x);
	FUZZ_CHECK(!vs_idmap_map(m, x, &back), "%u maps to %u, which maps again to %u", id, x,
	           back);
	FUZZ_CHECK(vs_idmap_map(rev, x, &back) && back == id,
	           "%u maps to %u, the reversed map does not give it back", id, x);
}

static inline void fuzz_check_valid_map(const struct vs_idmap *m, const uint32_t *probes,
                                        size_t n_probes)
{
	struct vs_idmap rev = *m, twice;
	const char *why = "?";

	FUZZ_CHECK(m->n > 0 && m->n <= VS_IDMAP_MAX, "a valid map of %u ranges", m->n);
	vs_idmap_reverse(&rev);
	twice = rev;
	vs_idmap_reverse(&twice);
	FUZZ_CHECK(!memcmp(&twice, m, sizeof(*m)), "reversing twice changed the map");
	FUZZ_CHECK(vs_idmap_validate(&rev, &why) == 0, "the reversed map is refused: %s", why);
	for (unsigned i = 0; i < m->n; i++) {
		const struct vs_idmap_range *r = &m->r[i];
		uint32_t last = r->from + r->len - 1, x;

		FUZZ_CHECK(vs_idmap_map(m, r->from, &x) && x == r->to, "range %u: %u -> %u", i,
		           r->from, x);
		FUZZ_CHECK(vs_idmap_map(m, last, &x) && x == r->to + r->len - 1,
		           "range %u: last %u -> %u", i, last, x);
		fuzz_check_id(m, &rev, r->from);
		fuzz_check_id(m, &rev, last);
		fuzz_check_id(m, &rev, r->from - 1); /* wraps at 0: still an ID */
		fuzz_check_id(m, &rev, last + 1);
		fuzz_check_id(m, &rev, r->to);
		fuzz_check_id(m, &rev, r->to + r->len - 1);
	}
	for (size_t i = 0; i < n_probes; i++)
		fuzz_check_id(m, &rev, probes[i]);
}
