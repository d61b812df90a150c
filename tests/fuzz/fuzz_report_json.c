/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_report_json: the JSON report runtimes parse (and oci-hook re-reads
 * with jansson). Its paths are file names from the volume, i.e. any bytes
 * but NUL and whatever whoever wrote the volume chose, and its message may
 * quote them.
 *
 * Input: strings separated by NUL (the job's path, target, message,
 * fstype, method, engine, then up to 10 error paths), after a header of
 * counters and flags.
 *
 * Properties:
 * - it returns 0 and one JSON object that jansson parses, whatever the
 *   bytes;
 * - every string field reads back as it went in when that is valid UTF-8,
 *   and otherwise with each byte that is not part of a valid UTF-8
 *   sequence replaced by U+FFFD (jansson is the UTF-8 judge here);
 * - counters, flags, errnos and the optional fields (target, message,
 *   probe_errno and fstype) read back as they were set.
 */
#include <errno.h>
#include <math.h>

#include <jansson.h>

#include "fuzz.h"

/* What a string should read back as: invalid bytes become U+FFFD. */
static char *expected(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out = malloc(3 * len + 1);

	if (!out)
		abort();
	for (size_t i = 0; i < len;) {
		size_t n;

		/* ASCII is one code point; otherwise the shortest prefix that
		 * jansson takes is one whole code point */
		for (n = 1; n <= 4 && i + n <= len && (unsigned char)s[i] >= 0x80; n++) {
			json_t *one = json_stringn(s + i, n);
			bool ok = one != NULL;

			json_decref(one);
			if (ok)
				break;
		}
		if (n <= 4 && i + n <= len) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

static void check_str(json_t *obj, const char *key, const char *in)
{
	json_t *v = json_object_get(obj, key);
	char *want = expected(in);

	FUZZ_CHECK(json_is_string(v), "'%s' missing or not a string", key);
	FUZZ_CHECK(!strcmp(json_string_value(v), want), "'%s' reads back as '%s', want '%s'", key,
	           json_string_value(v), want);
	free(want);
}

static void check_uint(json_t *obj, const char *key, uint64_t want)
{
	json_t *v = json_object_get(obj, key);

	FUZZ_CHECK(json_is_integer(v) && (uint64_t)json_integer_value(v) == want,
	           "'%s' is not %llu", key, (unsigned long long)want);
}

static void check_bool(json_t *obj, const char *key, bool want)
{
	json_t *v = json_object_get(obj, key);

	FUZZ_CHECK(json_is_boolean(v) && json_is_true(v) == want, "'%s' is not %d", key, want);
}

/* The next NUL-terminated string of the input, or NULL when it is used up. */
static const char *next_str(struct fuzz_in *in)
{
	const char *s = (const char *)in->p;
	const uint8_t *nul;

	if (!in->left)
		return NULL;
	nul = memchr(in->p, '\0', in->left);
	if (!nul)
		return NULL; /* the last one is not terminated: LLVMFuzzerTestOneInput adds it */
	in->left -= (size_t)(nul - in->p) + 1;
	in->p = nul + 1;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + 1);
	struct fuzz_in in;
	struct vs_report r;
	struct vs_job job;
	const char *s, *path, *method, *engine;
	uint8_t flags;
	char *text = NULL;
	json_error_t jerr;
	json_t *o, *errs;
	uint64_t counters[7];

	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0'; /* the last string ends here */
	in = (struct fuzz_in){buf, size + 1};

	memset(&r, 0, sizeof(r));
	vs_job_init(&job, VS_MODE_SHIFT);
	flags = fuzz_u8(&in);
	job.mode = flags & 1 ? VS_MODE_FSGROUP : VS_MODE_SHIFT;
	job.policy = flags & 2 ? VS_POLICY_ON_ROOT_MISMATCH : VS_POLICY_ALWAYS;
	job.dry_run = flags & 4;
	r.skipped = flags & 8;
	r.root_left_unmatched = flags & 16;
	r.status = (enum vs_status)(fuzz_u8(&in) % 4);
	for (int i = 0; i < 7; i++)
		counters[i] = ((uint64_t)fuzz_u32(&in) << 21) ^ fuzz_u32(&in); /* < 2^53 */
	r.entries = counters[0];
	r.changed = counters[1];
	r.unmapped = counters[2];
	r.failed = counters[3];
	r.acls = counters[4];
	r.caps = counters[5];
	r.skipped_mounts = counters[6];
	r.jobs = fuzz_u32(&in);
	r.elapsed_s = fuzz_u32(&in) / 1000.0;
	r.probe_errno = (int)fuzz_u32(&in);

	path = next_str(&in);
	job.path = path ? path : "/vol";
	if ((s = next_str(&in)) && *s)
		r.target = s;
	if ((s = next_str(&in)))
		snprintf(r.message, sizeof(r.message), "%s", s);
	if ((s = next_str(&in)))
		snprintf(r.fstype, sizeof(r.fstype), "%s", s);
	method = next_str(&in);
	r.method = method && *method ? method : NULL;
	engine = next_str(&in);
	r.engine = engine && *engine ? engine : NULL;
	while (r.n_errors < VS_ERROR_SAMPLE_MAX && (s = next_str(&in))) {
		r.errors[r.n_errors].path = strdup(s);
		r.errors[r.n_errors].err = (int)(s[0] ? (uint8_t)s[0] : 0) - 64;
		r.n_errors++;
	}

	/* what made the report, as vs_run and vs_mount set it */
	r.mode = r.target ? "mount" : vs_mode_name(job.mode);
	FUZZ_CHECK(vs_report_json(&r, flags & 32 ? NULL : &job, &text) == 0, "returned an error");
	o = json_loads(text, 0, &jerr);
	FUZZ_CHECK(json_is_object(o), "not a JSON object (%s at %d): %s", jerr.text, jerr.position,
	           text);
	if (!(flags & 32)) {
		json_t *mode = json_object_get(o, "mode");

		FUZZ_CHECK(json_is_string(mode) &&
		               !strcmp(json_string_value(mode),
		                       r.target ? "mount" : vs_mode_name(job.mode)),
		           "mode");
		check_str(o, "path", job.path);
		if (r.target)
			check_str(o, "target", r.target);
		check_str(o, "policy", vs_policy_name(job.policy));
		check_bool(o, "dry_run", job.dry_run);
	} else {
		FUZZ_CHECK(!json_object_get(o, "path"), "a path without a job");
	}
	check_uint(o, "status", r.status);
	check_str(o, "method", r.method ? r.method : "walk");
	if (r.engine)
		check_str(o, "engine", r.engine);
	else
		FUZZ_CHECK(json_is_null(json_object_get(o, "engine")), "engine is not null");
	check_bool(o, "skipped", r.skipped);
	check_bool(o, "root_left_unmatched", r.root_left_unmatched);
	check_uint(o, "entries", r.entries);
	check_uint(o, "changed", r.changed);
	check_uint(o, "unmapped", r.unmapped);
	check_uint(o, "failed", r.failed);
	check_uint(o, "acls", r.acls);
	check_uint(o, "caps", r.caps);
	check_uint(o, "skipped_mounts", r.skipped_mounts);
	check_uint(o, "jobs", r.jobs);
	FUZZ_CHECK(fabs(json_number_value(json_object_get(o, "elapsed_s")) - r.elapsed_s) < 1e-5,
	           "elapsed_s");
	errs = json_object_get(o, "errors");
	FUZZ_CHECK(json_is_array(errs) && json_array_size(errs) == r.n_errors, "%u errors",
	           r.n_errors);
	for (unsigned i = 0; i < r.n_errors; i++) {
		json_t *e = json_array_get(errs, i);

		check_str(e, "path", r.errors[i].path);
		FUZZ_CHECK(json_integer_value(json_object_get(e, "errno")) == r.errors[i].err,
		           "errno of error %u", i);
		check_str(e, "message", strerror(r.errors[i].err));
	}
	if (r.message[0])
		check_str(o, "message", r.message);
	else
		FUZZ_CHECK(!json_object_get(o, "message"), "a message where there is none");
	/* why a mount fell back to a walk: there only when it did */
	if (r.target && r.method && !strcmp(r.method, "walk") && r.fstype[0]) {
		FUZZ_CHECK(json_integer_value(json_object_get(o, "probe_errno")) == r.probe_errno,
		           "probe_errno");
		check_str(o, "fstype", r.fstype);
	} else {
		FUZZ_CHECK(!json_object_get(o, "fstype"), "an fstype where there is none");
	}
	json_decref(o);
	free(text);
	vs_report_free(&r);
	free(buf);
	return 0;
}
