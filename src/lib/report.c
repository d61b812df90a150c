/* SPDX-License-Identifier: Apache-2.0 */
/* The report: error sample, names, failure messages, and the JSON form. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macros.h"

const char *vs_mode_name(enum vs_mode m)
{
	switch (m) {
	case VS_MODE_FSGROUP:
		return "fsgroup";
	case VS_MODE_SHIFT:
		return "shift";
	}
	return "unknown";
}

const char *vs_policy_name(enum vs_policy p)
{
	return p == VS_POLICY_ON_ROOT_MISMATCH ? "on-root-mismatch" : "always";
}

int vs_policy_parse(const char *s, enum vs_policy *ret)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "always") || !strcmp(s, "Always"))
		*ret = VS_POLICY_ALWAYS;
	else if (!strcmp(s, "on-root-mismatch") || !strcmp(s, "OnRootMismatch"))
		*ret = VS_POLICY_ON_ROOT_MISMATCH;
	else
		return -EINVAL;
	return 0;
}

void vs_report_free(struct vs_report *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n_errors; i++) {
		free(r->errors[i].path);
		r->errors[i].path = NULL;
	}
	r->n_errors = 0;
}

int vs_fail(struct vs_report *r, enum vs_status status, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	r->status = status;
	return err;
}

char *vs_fd_path(int dirfd, const char *name)
{
	char proc[64], buf[PATH_MAX];
	ssize_t n;
	char *ret;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		n = snprintf(buf, sizeof(buf), "%s", "?");
	buf[n] = '\0';
	if (!name || !*name)
		return strdup(buf);
	if (asprintf(&ret, "%s%s%s", buf, strcmp(buf, "/") ? "/" : "", name) < 0)
		return NULL;
	return ret;
}

void vs_record_error(struct vs_ctx *ctx, struct vs_counters *c, int dirfd, const char *name,
                     int err)
{
	struct vs_report *r = ctx->report;

	ctr_add(&c->failed, 1); /* the progress thread reads it while we run */
	if (err < 0)
		err = -err;
	pthread_mutex_lock(&ctx->err_lock);
	if (r->n_errors < VS_ERROR_SAMPLE_MAX) {
		r->errors[r->n_errors].path = vs_error_path(ctx, dirfd, name);
		r->errors[r->n_errors].err = err;
		r->n_errors++;
	}
	pthread_mutex_unlock(&ctx->err_lock);
}

/* A growing string; on allocation failure it stays NULL and the result is -ENOMEM. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = (b->cap ? b->cap * 2 : 1024) + n;
		char *ns = realloc(b->s, ncap);

		if (!ns) {
			b->oom = true;
			return;
		}
		b->s = ns;
		b->cap = ncap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sb_putn(b, tmp, (size_t)n);
		return;
	}
	/* longer than the stack buffer (all counters at their largest): never
	 * cut it, that would break the JSON (found by tests/fuzz) */
	big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb_putn(b, big, (size_t)n);
	free(big);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string. File names are bytes, JSON is UTF-8: a byte that is not
 * part of valid UTF-8 becomes U+FFFD, so the report always parses. */
static void sb_json_str(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	sb_putn(b, "\"", 1);
	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0) {
			sb_putn(b, "\\ufffd", 6);
			p++;
		} else if (*p == '"' || *p == '\\') {
			sb_putn(b, "\\", 1);
			sb_putn(b, (const char *)p++, 1);
		} else if (*p < 0x20) {
			sb_printf(b, "\\u%04x", *p++);
		} else {
			sb_putn(b, (const char *)p, n);
			p += n;
		}
	}
	sb_putn(b, "\"", 1);
}

int vs_report_json(const struct vs_report *r, const struct vs_job *job, char **ret)
{
	struct sbuf b = {0};

	sb_puts(&b, "{");
	if (job) {
		sb_printf(&b,
		          "\"mode\":\"%s\",\"path\":", r->mode ? r->mode : vs_mode_name(job->mode));
		sb_json_str(&b, job->path);
		if (r->target) {
			sb_puts(&b, ",\"target\":");
			sb_json_str(&b, r->target);
		}
		sb_printf(&b, ",\"policy\":\"%s\",\"dry_run\":%s,", vs_policy_name(job->policy),
		          job->dry_run ? "true" : "false");
	}
	sb_printf(&b, "\"status\":%d,\"method\":", (int)r->status);
	sb_json_str(&b, r->method ? r->method : "walk");
	sb_puts(&b, ",\"engine\":");
	if (r->engine)
		sb_json_str(&b, r->engine);
	else
		sb_puts(&b, "null");
	sb_printf(&b,
	          ",\"skipped\":%s,\"root_left_unmatched\":%s,\"entries\":%llu,\"changed\":%llu,"
	          "\"unmapped\":%llu,\"failed\":%llu,\"acls\":%llu,\"caps\":%llu,"
	          "\"skipped_mounts\":%llu,\"dirs_read\":%llu,\"statx\":%llu,\"statx_ring\":%llu,",
	          r->skipped ? "true" : "false", r->root_left_unmatched ? "true" : "false",
	          (unsigned long long)r->entries, (unsigned long long)r->changed,
	          (unsigned long long)r->unmapped, (unsigned long long)r->failed,
	          (unsigned long long)r->acls, (unsigned long long)r->caps,
	          (unsigned long long)r->skipped_mounts, (unsigned long long)r->dirs_read,
	          (unsigned long long)r->statx, (unsigned long long)r->statx_ring);
	sb_puts(&b, "\"errors\":[");
	for (unsigned i = 0; i < r->n_errors; i++) {
		sb_puts(&b, i ? ",{\"path\":" : "{\"path\":");
		sb_json_str(&b, r->errors[i].path ? r->errors[i].path : "?");
		sb_printf(&b, ",\"errno\":%d,\"message\":", r->errors[i].err);
		sb_json_str(&b, strerror(r->errors[i].err));
		sb_puts(&b, "}");
	}
	sb_printf(&b, "],\"elapsed_s\":%.6f,\"jobs\":%u", r->elapsed_s, r->jobs);
	if (r->message[0]) {
		sb_puts(&b, ",\"message\":");
		sb_json_str(&b, r->message);
	}
	if (r->shards > 1)
		sb_printf(&b,
		          ",\"shard\":%u,\"shards\":%u,\"shards_done\":%u,\"planned\":%s,"
		          "\"finished_root\":%s",
		          r->shard, r->shards, r->shards_done, r->planned ? "true" : "false",
		          r->finished_root ? "true" : "false");
	/* why a mount fell back to a walk: not there when it did not */
	if (r->target && r->method && !strcmp(r->method, "walk") && r->fstype[0]) {
		sb_printf(&b, ",\"probe_errno\":%d,\"fstype\":", r->probe_errno);
		sb_json_str(&b, r->fstype);
	}
	sb_puts(&b, "}");
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*ret = b.s;
	return 0;
}
