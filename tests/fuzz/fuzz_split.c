/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_split_parse: a sharded job's plan as shards read it from the job file
 * on the volume (which whoever can write the volume's state could spoil).
 *
 * Properties of a plan that parses:
 * - every slice owner and subtree shard is below the plan's shard count,
 *   every decomposed directory has 1..VS_SHARDS_MAX slices;
 * - paths and names are real: no empty, "." or ".." component, no NUL, no
 *   leading or trailing '/', names without '/', and no subtree is the root;
 * - its text form parses back to a plan whose text form is the same bytes
 *   (encode is a fixed point after one round), and vs_split_owner of any
 *   name is an owner of the directory or VS_SHARDS_MAX for an excluded one.
 */
#include <errno.h>

#include "fuzz.h"
#include "internal.h"

static void check_path(const char *p, bool is_path, bool may_be_root)
{
	size_t n = strlen(p);

	if (!n) {
		FUZZ_CHECK(may_be_root, "an empty path where the root may not be");
		return;
	}
	FUZZ_CHECK(p[0] != '/' && p[n - 1] != '/', "'%s' starts or ends with '/'", p);
	FUZZ_CHECK(is_path || !strchr(p, '/'), "name '%s' holds a '/'", p);
	for (const char *c = p;;) {
		size_t len = strcspn(c, "/");

		FUZZ_CHECK(len > 0 && !(len == 1 && c[0] == '.') &&
		               !(len == 2 && c[0] == '.' && c[1] == '.'),
		           "'%s' has a bad component", p);
		if (!c[len])
			break;
		c += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vs_split p, q;
	char *t1 = NULL, *t2 = NULL;
	size_t n1, n2;
	int r = vs_split_parse((const char *)data, size, &p);

	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM, "returned %d", r);
	if (r < 0)
		return 0;
	FUZZ_CHECK(p.shards >= 1 && p.shards <= VS_SHARDS_MAX, "shards %u", p.shards);
	for (size_t i = 0; i < p.n_dirs; i++) {
		const struct vs_split_dir *d = &p.dirs[i];

		check_path(d->path, true, true);
		FUZZ_CHECK(d->k >= 1 && d->k <= VS_SHARDS_MAX && d->owner, "k %u", d->k);
		for (unsigned j = 0; j < d->k; j++)
			FUZZ_CHECK(d->owner[j] < p.shards, "owner %u of %u", d->owner[j], p.shards);
		for (size_t j = 0; j < d->n_excluded; j++) {
			check_path(d->excluded[j], false, false);
			FUZZ_CHECK(vs_split_owner(d, d->excluded[j]) == VS_SHARDS_MAX,
			           "excluded '%s' has an owner", d->excluded[j]);
		}
		FUZZ_CHECK(vs_split_owner(d, "a-name-of-no-unit") < p.shards ||
		               vs_split_owner(d, "a-name-of-no-unit") == VS_SHARDS_MAX,
		           "owner out of range");
	}
	for (size_t i = 0; i < p.n_subtrees; i++) {
		check_path(p.subtrees[i].path, true, false);
		FUZZ_CHECK(p.subtrees[i].shard < p.shards, "subtree shard %u", p.subtrees[i].shard);
	}
	FUZZ_CHECK(vs_split_encode(&p, &t1, &n1) == 0, "encode");
	FUZZ_CHECK(vs_split_parse(t1, n1, &q) == 0, "its own text does not parse:\n%.*s", (int)n1,
	           t1);
	FUZZ_CHECK(vs_split_encode(&q, &t2, &n2) == 0, "encode again");
	FUZZ_CHECK(n1 == n2 && !memcmp(t1, t2, n1), "encode is no fixed point:\n%.*s\n%.*s",
	           (int)n1, t1, (int)n2, t2);
	free(t1);
	free(t2);
	vs_split_free(&p);
	vs_split_free(&q);
	return 0;
}
