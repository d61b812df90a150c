/* SPDX-License-Identifier: Apache-2.0 */
/* Description: the JSON report parses (jansson) and carries every field a
 * runtime reads, whatever bytes the error paths hold. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "volshift.h"

Test(report, json_parses_with_odd_paths)
{
	struct vs_report r;
	struct vs_job j;
	json_error_t err;
	json_t *o, *e;
	char *s = NULL;

	memset(&r, 0, sizeof(r));
	vs_job_init(&j, VS_MODE_SHIFT);
	j.path = "/vol/\"quoted\"\n\xff";
	r.method = "walk";
	r.engine = "sync";
	r.entries = 5;
	r.changed = 3;
	r.failed = 2;
	r.status = VS_STATUS_PARTIAL;
	r.n_errors = 2;
	r.errors[0].path = strdup("/vol/new\nline\\\t\x01");
	r.errors[0].err = 1;
	r.errors[1].path = strdup("/vol/caf\xc3\xa9/\xc3\x28");
	r.errors[1].err = 2;
	cr_assert_eq(vs_report_json(&r, &j, &s), 0);
	o = json_loads(s, 0, &err);
	cr_assert_not_null(o, "not JSON: %s (%s)", err.text, s);
	cr_assert_str_eq(json_string_value(json_object_get(o, "mode")), "shift");
	cr_assert_str_eq(json_string_value(json_object_get(o, "method")), "walk");
	cr_assert_str_eq(json_string_value(json_object_get(o, "policy")), "always");
	cr_assert_eq(json_integer_value(json_object_get(o, "entries")), 5);
	cr_assert_eq(json_integer_value(json_object_get(o, "failed")), 2);
	cr_assert_eq(json_integer_value(json_object_get(o, "status")), 1);
	cr_assert(json_is_false(json_object_get(o, "skipped")));
	cr_assert(json_is_real(json_object_get(o, "elapsed_s")));
	e = json_object_get(o, "errors");
	cr_assert_eq(json_array_size(e), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "path")),
	                 "/vol/new\nline\\\t\x01");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "message")),
	                 "Operation not permitted");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(e, 1), "errno")), 2);
	/* valid UTF-8 passes, the stray byte becomes U+FFFD */
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 1), "path")),
	                 "/vol/caf\xc3\xa9/\xef\xbf\xbd(");
	json_decref(o);
	free(s);
	vs_report_free(&r);
}

/* found by tests/fuzz/fuzz_report_json: a line of counters longer than the
 * formatter's stack buffer was cut, and the report was not JSON any more */
Test(report, largest_counters_still_json)
{
	struct vs_report r = {.status = VS_STATUS_CANNOT_START, .method = "walk"};
	json_error_t jerr;
	char *text;
	json_t *o;

	r.entries = r.changed = r.unmapped = r.failed = r.acls = r.caps = r.skipped_mounts =
	    r.dirs_read = r.statx = r.statx_ring = (1ULL << 53) - 1; /* what JSON numbers hold */
	r.jobs = UINT32_MAX;
	r.elapsed_s = 4294967.295;
	cr_assert_eq(vs_report_json(&r, NULL, &text), 0);
	o = json_loads(text, 0, &jerr);
	cr_assert_not_null(o, "%s: %s", jerr.text, text);
	cr_assert_eq(json_integer_value(json_object_get(o, "jobs")), UINT32_MAX);
	cr_assert_not_null(json_object_get(o, "statx_ring"));
	json_decref(o);
	free(text);
}
