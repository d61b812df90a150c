/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How one walk is split over N shards (--shard K/N), once per job, from the
 * tree alone. Pure: sizes in, a plan out, and the plan's text form.
 *
 * The first shard of a job to start counts the tree (walk.c, count mode:
 * getdents only, one read per directory, no statx where d_type is given)
 * and keeps the size of every directory whose subtree holds at least G
 * entries. From those it makes the plan, which every shard of the job then
 * follows (shardjob.c keeps it in the job file on the volume):
 *
 *   - a subtree small enough (at most theta = total / (8 N) entries) is a
 *     unit: one shard walks all of it, as an ordinary walk;
 *   - a larger directory is decomposed: its large subdirectories get units
 *     of their own (or are decomposed in turn), and everything else in it
 *     (files, small subdirectories with their subtrees) is cut into k
 *     slices by a hash of the name, k = its size / theta, each slice a
 *     unit. A huge flat directory is thus shared by several shards, each
 *     reading it once and changing only its slices' names.
 *   - units go to shards largest first, each to the least loaded shard
 *     (LPT): no shard gets more than the mean plus theta, an eighth of it.
 *
 * The count keeps no directory deeper than VS_SPLIT_DEPTH_MAX: below that, a
 * large directory is part of a slice of the one above, not decomposed (a
 * chain of directories would otherwise cost every shard O(depth^2) opens).
 *
 * Every name below the root is in exactly one unit: the excluded (large)
 * children of a decomposed directory have units of their own, everything
 * else falls in a slice by its hash, including names created after the
 * count. A decomposed directory's own inode is its slice 0's (the root's is
 * the job's: the last shard sets it). Shards that start later follow the
 * plan the first one made, so a tree that changes between their starts
 * does not make them disagree on who has what.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"

/* Units per shard aimed at: theta = total / (UNITS_PER_SHARD * N). */
#define UNITS_PER_SHARD 8

/* splitmix64's finalizer: every input bit moves every output bit. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t vs_shard_hash(const char *name)
{
	/* FNV-1a over the bytes, then mixed: the same on every machine */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return mix(h);
}

unsigned vs_split_owner(const struct vs_split_dir *d, const char *name)
{
	for (size_t i = 0; i < d->n_excluded; i++)
		if (!strcmp(d->excluded[i], name))
			return VS_SHARDS_MAX; /* a unit of its own */
	return d->owner[vs_shard_hash(name) % d->k];
}

void vs_split_free(struct vs_split *p)
{
	for (size_t i = 0; i < p->n_dirs; i++) {
		free(p->dirs[i].path);
		free(p->dirs[i].owner);
		for (size_t j = 0; j < p->dirs[i].n_excluded; j++)
			free(p->dirs[i].excluded[j]);
		free(p->dirs[i].excluded);
	}
	for (size_t i = 0; i < p->n_subtrees; i++)
		free(p->subtrees[i].path);
	free(p->dirs);
	free(p->subtrees);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------ building */

struct unit {
	uint64_t weight;
	size_t dir;     /* plan dir index, or SIZE_MAX for a subtree */
	unsigned slice; /* or the subtree index */
};

struct build {
	struct vs_split *plan;
	const struct vs_count_rec *recs;
	size_t n_recs;
	uint64_t theta;
	struct unit *units;
	size_t n_units, cap_units;
	int err;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return p;
	while (c < need)
		c *= 2;
	q = realloc(p, c * size);
	if (q)
		*cap = c;
	return q;
}

static void add_unit(struct build *b, uint64_t weight, size_t dir, unsigned slice)
{
	struct unit *u = grow(b->units, &b->cap_units, b->n_units + 1, sizeof(*u));

	if (!u) {
		b->err = -ENOMEM;
		return;
	}
	b->units = u;
	b->units[b->n_units++] = (struct unit){weight, dir, slice};
}

/* Whether rec path c is a child of p ("" is the root). */
static bool child_of(const char *c, const char *p)
{
	size_t n = strlen(p);
	const char *rest;

	if (n && (strncmp(c, p, n) || c[n] != '/'))
		return false;
	rest = n ? c + n + 1 : c;
	return *rest && !strchr(rest, '/');
}

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct vs_count_rec *)a)->path,
	              ((const struct vs_count_rec *)b)->path);
}

/* Records are sorted by path: a directory's children follow it, before any
 * path that is not below it. */
static void decompose(struct build *b, size_t r, bool own_inode)
{
	const struct vs_count_rec *d = &b->recs[r];
	size_t di, cap_ex = 0;
	struct vs_split_dir *pd;
	uint64_t small = d->size;
	size_t plen = strlen(d->path);

	pd = grow(b->plan->dirs, &b->plan->cap_dirs, b->plan->n_dirs + 1, sizeof(*pd));
	if (!pd) {
		b->err = -ENOMEM;
		return;
	}
	b->plan->dirs = pd;
	di = b->plan->n_dirs++;
	pd = &b->plan->dirs[di];
	*pd = (struct vs_split_dir){.path = strdup(d->path), .ino = d->ino};
	if (!pd->path)
		b->err = -ENOMEM;

	for (size_t c = r + 1; c < b->n_recs && b->err == 0; c++) {
		const struct vs_count_rec *x = &b->recs[c];
		const char *name;
		char **ex;

		if (plen && (strncmp(x->path, d->path, plen) || x->path[plen] != '/'))
			break; /* past everything below d */
		if (!child_of(x->path, d->path))
			continue;
		name = plen ? x->path + plen + 1 : x->path;
		pd = &b->plan->dirs[di];
		ex = grow(pd->excluded, &cap_ex, pd->n_excluded + 1, sizeof(*ex));
		if (!ex) {
			b->err = -ENOMEM;
			break;
		}
		pd->excluded = ex;
		pd->excluded[pd->n_excluded] = strdup(name);
		if (!pd->excluded[pd->n_excluded++]) {
			b->err = -ENOMEM;
			break;
		}
		small -= x->size + 1 <= small ? x->size + 1 : small;
		if (x->size + 1 > b->theta) {
			decompose(b, c, true);
		} else {
			struct vs_split_subtree *st =
			    grow(b->plan->subtrees, &b->plan->cap_subtrees, b->plan->n_subtrees + 1,
			         sizeof(*st));

			if (!st) {
				b->err = -ENOMEM;
				break;
			}
			b->plan->subtrees = st;
			st[b->plan->n_subtrees] =
			    (struct vs_split_subtree){.path = strdup(x->path), .ino = x->ino};
			if (!st[b->plan->n_subtrees].path)
				b->err = -ENOMEM;
			add_unit(b, x->size + 1, SIZE_MAX, (unsigned)b->plan->n_subtrees++);
		}
	}
	if (b->err)
		return;
	pd = &b->plan->dirs[di];
	pd->k = (unsigned)((small + b->theta / 2) / b->theta); /* nearest: no slice of a crumb */
	if (pd->k < 1)
		pd->k = 1;
	if (pd->k > VS_SHARDS_MAX)
		pd->k = VS_SHARDS_MAX;
	pd->owner = calloc(pd->k, sizeof(*pd->owner));
	if (!pd->owner) {
		b->err = -ENOMEM;
		return;
	}
	for (unsigned j = 0; j < pd->k; j++)
		add_unit(b, small / pd->k + (j == 0 && own_inode) + (j < small % pd->k), di, j);
}

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return x->slice < y->slice ? -1 : x->slice > y->slice;
}

int vs_split_build(struct vs_count_rec *recs, size_t n_recs, unsigned shards, struct vs_split *ret)
{
	struct build b = {.plan = ret, .recs = recs, .n_recs = n_recs};
	uint64_t *load;
	size_t root = SIZE_MAX;

	memset(ret, 0, sizeof(*ret));
	ret->shards = shards;
	qsort(recs, n_recs, sizeof(*recs), cmp_rec);
	for (size_t i = 0; i < n_recs; i++)
		if (!recs[i].path[0])
			root = i;
	if (root == SIZE_MAX || shards == 0 || shards > VS_SHARDS_MAX)
		return -EINVAL;
	b.theta = recs[root].size / ((uint64_t)UNITS_PER_SHARD * shards);
	if (b.theta < 1)
		b.theta = 1;
	decompose(&b, root, false);
	if (b.err) {
		free(b.units);
		vs_split_free(ret);
		return b.err;
	}
	/* largest first, each to the least loaded shard */
	qsort(b.units, b.n_units, sizeof(*b.units), cmp_unit);
	load = calloc(shards, sizeof(*load));
	if (!load) {
		free(b.units);
		vs_split_free(ret);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b.n_units; i++) {
		unsigned k = 0;

		for (unsigned s = 1; s < shards; s++)
			if (load[s] < load[k])
				k = s;
		load[k] += b.units[i].weight;
		if (b.units[i].dir == SIZE_MAX)
			ret->subtrees[b.units[i].slice].shard = k;
		else
			ret->dirs[b.units[i].dir].owner[b.units[i].slice] = k;
	}
	free(load);
	free(b.units);
	return 0;
}

/* ----------------------------------------------------------- text form */

/*
 * The plan as text, one item per line, names and paths with every byte
 * below '!', above '~' and '%' written as %XX:
 *
 *   volshift-plan 1 SHARDS
 *   dir INO K PATH           a decomposed directory ("." the root), then
 *   owners S0 S1 ... S(K-1)  the shard of each of its slices
 *   exclude NAME             a child of it with a unit of its own
 *   subtree SHARD INO PATH
 *   end
 */

struct sbuf {
	char *s;
	size_t len, cap;
	int err;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	char *g = grow(b->s, &b->cap, b->len + n + 1, 1);

	if (!g) {
		b->err = -ENOMEM;
		return;
	}
	b->s = g;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void putf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_escaped(struct sbuf *b, const char *s)
{
	if (!*s) {
		put(b, ".", 1);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p > '~' || *p == '%')
			putf(b, "%%%02X", *p);
		else
			put(b, (const char *)p, 1);
	}
}

int vs_split_encode(const struct vs_split *p, char **ret, size_t *ret_len)
{
	struct sbuf b = {0};

	putf(&b, "volshift-plan 1 %u\n", p->shards);
	for (size_t i = 0; i < p->n_dirs; i++) {
		const struct vs_split_dir *d = &p->dirs[i];

		putf(&b, "dir %" PRIu64 " %u ", d->ino, d->k);
		put_escaped(&b, d->path);
		put(&b, "\nowners", 7);
		for (unsigned j = 0; j < d->k; j++)
			putf(&b, " %u", d->owner[j]);
		put(&b, "\n", 1);
		for (size_t j = 0; j < d->n_excluded; j++) {
			put(&b, "exclude ", 8);
			put_escaped(&b, d->excluded[j]);
			put(&b, "\n", 1);
		}
	}
	for (size_t i = 0; i < p->n_subtrees; i++) {
		putf(&b, "subtree %u %" PRIu64 " ", p->subtrees[i].shard, p->subtrees[i].ino);
		put_escaped(&b, p->subtrees[i].path);
		put(&b, "\n", 1);
	}
	put(&b, "end\n", 4);
	if (b.err) {
		free(b.s);
		return b.err;
	}
	*ret = b.s;
	*ret_len = b.len;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes an escaped word; -EINVAL for bad escapes, a NUL byte, "." or "..",
 * or (names) a '/'; a path must not start or end with '/' nor hold "//". */
static int unescape(const char *s, size_t n, bool is_path, char **ret)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return -ENOMEM;
	if (n == 1 && s[0] == '.' && is_path) {
		*out = '\0';
		*ret = out;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi << 4 | lo) == 0)
				goto bad;
			c = hi << 4 | lo;
			i += 2;
		}
		*o++ = (char)c;
	}
	*o = '\0';
	if (!*out)
		goto bad;
	/* every component a real name: no "", ".", ".." */
	for (char *c = out;;) {
		char *e = strchrnul(c, '/');
		size_t len = (size_t)(e - c);

		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			goto bad;
		if (!*e)
			break;
		if (!is_path)
			goto bad;
		c = e + 1;
	}
	*ret = out;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

/* The next space-separated word of *line; false when there is none. */
static bool word(const char **line, const char **ret, size_t *ret_len)
{
	const char *p = *line;

	while (*p == ' ')
		p++;
	if (!*p || *p == '\n')
		return false;
	*ret = p;
	while (*p && *p != ' ' && *p != '\n')
		p++;
	*ret_len = (size_t)(p - *ret);
	*line = p;
	return true;
}

static bool number(const char **line, uint64_t max, uint64_t *ret)
{
	const char *w;
	size_t n;
	uint64_t v = 0;

	if (!word(line, &w, &n) || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (w[i] < '0' || w[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(w[i] - '0');
	}
	if (v > max)
		return false;
	*ret = v;
	return true;
}

static bool at_eol(const char *p)
{
	while (*p == ' ')
		p++;
	return *p == '\n';
}

int vs_split_parse(const char *text, size_t len, struct vs_split *ret)
{
	const char *p = text, *end = text + len, *w;
	struct vs_split_dir *cur = NULL;
	size_t n, cap_ex = 0;
	uint64_t v;
	int r = -EINVAL;

	memset(ret, 0, sizeof(*ret));
	if (memchr(text, '\0', len) || len == 0 || text[len - 1] != '\n')
		return -EINVAL;
	if (strncmp(p, "volshift-plan 1 ", 16))
		return -EINVAL;
	p += 15;
	if (!number(&p, VS_SHARDS_MAX, &v) || v == 0 || !at_eol(p))
		return -EINVAL;
	ret->shards = (unsigned)v;
	p = strchr(p, '\n') + 1;
	while (p < end) {
		const char *line = p, *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl + 1;
		if (!word(&line, &w, &n))
			goto fail;
		if (n == 3 && !strncmp(w, "end", 3) && at_eol(line)) {
			if (p != end || (cur && !cur->owner))
				goto fail;
			return 0;
		} else if (n == 3 && !strncmp(w, "dir", 3)) {
			uint64_t ino, k;
			struct vs_split_dir *dirs;

			if ((cur && !cur->owner) || !number(&line, UINT64_MAX, &ino) ||
			    !number(&line, VS_SHARDS_MAX, &k) || k == 0 || !word(&line, &w, &n) ||
			    !at_eol(line))
				goto fail;
			dirs = grow(ret->dirs, &ret->cap_dirs, ret->n_dirs + 1, sizeof(*dirs));
			if (!dirs) {
				r = -ENOMEM;
				goto fail;
			}
			ret->dirs = dirs;
			cur = &ret->dirs[ret->n_dirs++];
			*cur = (struct vs_split_dir){.ino = ino, .k = (unsigned)k};
			cap_ex = 0;
			if ((r = unescape(w, n, true, &cur->path)) < 0)
				goto fail;
			r = -EINVAL;
		} else if (n == 6 && !strncmp(w, "owners", 6)) {
			if (!cur || cur->owner)
				goto fail;
			cur->owner = calloc(cur->k, sizeof(*cur->owner));
			if (!cur->owner) {
				r = -ENOMEM;
				goto fail;
			}
			for (unsigned j = 0; j < cur->k; j++) {
				if (!number(&line, ret->shards - 1, &v))
					goto fail;
				cur->owner[j] = (unsigned)v;
			}
			if (!at_eol(line))
				goto fail;
		} else if (n == 7 && !strncmp(w, "exclude", 7)) {
			char **ex;

			if (!cur || !cur->owner || !word(&line, &w, &n) || !at_eol(line))
				goto fail;
			ex = grow(cur->excluded, &cap_ex, cur->n_excluded + 1, sizeof(*ex));
			if (!ex) {
				r = -ENOMEM;
				goto fail;
			}
			cur->excluded = ex;
			if ((r = unescape(w, n, false, &cur->excluded[cur->n_excluded])) < 0)
				goto fail;
			cur->n_excluded++;
			r = -EINVAL;
		} else if (n == 7 && !strncmp(w, "subtree", 7)) {
			struct vs_split_subtree *st;
			uint64_t shard, ino;

			if ((cur && !cur->owner) || !number(&line, ret->shards - 1, &shard) ||
			    !number(&line, UINT64_MAX, &ino) || !word(&line, &w, &n) ||
			    !at_eol(line))
				goto fail;
			st = grow(ret->subtrees, &ret->cap_subtrees, ret->n_subtrees + 1,
			          sizeof(*st));
			if (!st) {
				r = -ENOMEM;
				goto fail;
			}
			ret->subtrees = st;
			st = &ret->subtrees[ret->n_subtrees];
			*st = (struct vs_split_subtree){.shard = (unsigned)shard, .ino = ino};
			if ((r = unescape(w, n, true, &st->path)) < 0)
				goto fail;
			if (!*st->path) { /* the root is never a subtree unit */
				free(st->path);
				r = -EINVAL;
				goto fail;
			}
			ret->n_subtrees++;
			r = -EINVAL;
		} else {
			goto fail;
		}
	}
fail:
	vs_split_free(ret);
	return r;
}
