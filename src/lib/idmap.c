/* SPDX-License-Identifier: Apache-2.0 */
/* ID maps: parse, validate, apply. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macros.h"

/* A whole decimal number in [0, 2^32-1]; *end past it. No signs, no blanks. */
static int parse_id(const char *s, const char **end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*end = p;
	*ret = v;
	return 0;
}

int vs_parse_u32(const char *s, uint32_t max, uint32_t *ret)
{
	const char *end;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_id(s, &end, &v);
	if (r < 0)
		return r;
	if (*end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int vs_idmap_parse_range(const char *s, struct vs_idmap_range *ret)
{
	uint64_t v[3];
	const char *p;
	bool colon;
	int r;

	if (!s || !ret)
		return -EINVAL;
	p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	colon = strchr(p, ':') != NULL;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (colon) {
				if (*p != ':')
					return -EINVAL;
				p++;
			} else {
				if (*p != ' ' && *p != '\t')
					return -EINVAL;
				while (*p == ' ' || *p == '\t')
					p++;
			}
		}
		r = parse_id(p, &p, &v[i]);
		if (r < 0)
			return r;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p)
		return -EINVAL;
	if (v[2] == 0)
		return -EINVAL;
	/* the last ID of either range must still be a valid 32-bit ID */
	if (v[0] + v[2] - 1 > UINT32_MAX || v[1] + v[2] - 1 > UINT32_MAX)
		return -ERANGE;
	*ret = (struct vs_idmap_range){(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]};
	return 0;
}

int vs_idmap_add(struct vs_idmap *m, const struct vs_idmap_range *r)
{
	if (m->n >= VS_IDMAP_MAX)
		return -E2BIG;
	m->r[m->n++] = *r;
	return 0;
}

static bool overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	/* 64-bit ends: a range may end exactly at 2^32 */
	return (uint64_t)a < (uint64_t)b + blen && (uint64_t)b < (uint64_t)a + alen;
}

int vs_idmap_validate(const struct vs_idmap *m, const char **ret_reason)
{
	const char *why = NULL;

	if (m->n == 0)
		why = "the map is empty";
	for (unsigned i = 0; !why && i < m->n; i++) {
		const struct vs_idmap_range *a = &m->r[i];

		if (a->len == 0 || (uint64_t)a->from + a->len - 1 > UINT32_MAX ||
		    (uint64_t)a->to + a->len - 1 > UINT32_MAX) {
			why = "a range is empty or runs past 4294967295";
			break;
		}
		for (unsigned j = 0; j < m->n; j++) {
			const struct vs_idmap_range *b = &m->r[j];

			if (j > i && overlap(a->from, a->len, b->from, b->len)) {
				why = "two FROM ranges overlap";
				break;
			}
			if (j > i && overlap(a->to, a->len, b->to, b->len)) {
				why = "two TO ranges overlap";
				break;
			}
			if (overlap(a->from, a->len, b->to, b->len)) {
				why =
				    "a FROM range overlaps a TO range (a re-run would shift twice)";
				break;
			}
		}
	}
	if (ret_reason)
		*ret_reason = why;
	return why ? -EINVAL : 0;
}

int vs_idmap_parse_text(const char *text, struct vs_idmap *ret)
{
	struct vs_idmap m = {0};
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[128];
		struct vs_idmap_range r;
		int e;

		if (len >= sizeof(line))
			return -EINVAL;
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		if (strspn(line, " \t") == len)
			continue;
		e = vs_idmap_parse_range(line, &r);
		if (e < 0)
			return e;
		e = vs_idmap_add(&m, &r);
		if (e < 0)
			return e;
	}
	*ret = m;
	return 0;
}

static int read_map(pid_t pid, const char *which, struct vs_idmap *ret)
{
	char path[64], buf[16384];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, which);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : neg_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return neg_errno();
	buf[n] = '\0';
	return vs_idmap_parse_text(buf, ret);
}

static bool is_identity(const struct vs_idmap *m)
{
	return m->n == 1 && m->r[0].from == 0 && m->r[0].to == 0 && m->r[0].len == UINT32_MAX;
}

int vs_idmap_from_pid(pid_t pid, struct vs_idmap *ret_uid, struct vs_idmap *ret_gid)
{
	struct vs_idmap u, g;
	int r;

	if (pid <= 0)
		return -ESRCH;
	r = read_map(pid, "uid_map", &u);
	if (r < 0)
		return r;
	r = read_map(pid, "gid_map", &g);
	if (r < 0)
		return r;
	if (is_identity(&u) || is_identity(&g))
		return -EINVAL;
	if (vs_idmap_validate(&u, NULL) < 0 || vs_idmap_validate(&g, NULL) < 0)
		return -EINVAL;
	*ret_uid = u;
	*ret_gid = g;
	return 0;
}

bool vs_idmap_map(const struct vs_idmap *m, uint32_t id, uint32_t *ret)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vs_idmap_range *r = &m->r[i];

		if (id >= r->from && (uint64_t)id < (uint64_t)r->from + r->len) {
			*ret = r->to + (id - r->from);
			return true;
		}
	}
	return false;
}

bool vs_idmap_in_to(const struct vs_idmap *m, uint32_t id)
{
	for (unsigned i = 0; i < m->n; i++)
		if (id >= m->r[i].to && (uint64_t)id < (uint64_t)m->r[i].to + m->r[i].len)
			return true;
	return false;
}

void vs_idmap_reverse(struct vs_idmap *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		uint32_t t = m->r[i].from;

		m->r[i].from = m->r[i].to;
		m->r[i].to = t;
	}
}
