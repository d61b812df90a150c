/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_state_parse: the state JSON a container runtime writes to a hook's
 * stdin (runtime-spec "State"). The hook runs as root on it.
 *
 * Properties:
 * - it returns 0 or -EINVAL; on -EINVAL it gives a reason (a non-empty,
 *   NUL-terminated line, even in a small buffer or none) and leaves *ret
 *   all zero;
 * - a state that parses is what jansson reads from the same text: ociVersion,
 *   id and bundle non-empty strings, bundle absolute, status absent or a
 *   string, pid absent (0) or an integer in 0..2^30, annotations absent,
 *   null or an object (then *ret holds that object);
 * - the result does not depend on the size of the error buffer.
 */
#include <errno.h>

#include "fuzz.h"
#include "oci.h"

static void check_str(json_t *root, const char *key, const char *got, bool required)
{
	json_t *v = json_object_get(root, key);

	if (!v) {
		FUZZ_CHECK(!required && !got, "'%s' is absent but parsed as '%s'", key,
		           got ? got : "(null)");
		return;
	}
	FUZZ_CHECK(json_is_string(v) && got && !strcmp(got, json_string_value(v)),
	           "'%s' parsed as '%s'", key, got ? got : "(null)");
	FUZZ_CHECK(!required || *got, "required '%s' is empty", key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct oci_state zero;
	char *text = fuzz_strndup(data, size), err[512], *small;
	struct oci_state st, st2;
	json_t *root, *v;
	int r, r2;

	memset(err, 'x', sizeof(err));
	memset(&st, 0x55, sizeof(st));
	r = oci_state_parse(text, &st, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL, "returned %d", r);

	/* the same in an error buffer of 5 bytes, and with none */
	small = malloc(5);
	if (!small)
		abort();
	r2 = oci_state_parse(text, &st2, small, 5);
	FUZZ_CHECK(r2 == r, "%d with a 512-byte error buffer, %d with a 5-byte one", r, r2);
	if (r2 < 0)
		FUZZ_CHECK(memchr(small, '\0', 5), "reason not NUL-terminated in 5 bytes");
	free(small);
	oci_state_free(&st2);
	r2 = oci_state_parse(text, &st2, NULL, 0);
	FUZZ_CHECK(r2 == r, "%d with an error buffer, %d without", r, r2);
	oci_state_free(&st2);

	if (r < 0) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0], "a refusal without a reason");
		FUZZ_CHECK(!memcmp(&st, &zero, sizeof(st)), "a refused state left fields set");
		free(text);
		return 0;
	}

	root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(root), "parsed, but jansson reads no object: %s", text);
	check_str(root, "ociVersion", st.oci_version, true);
	check_str(root, "id", st.id, true);
	check_str(root, "status", st.status, false);
	check_str(root, "bundle", st.bundle, true);
	FUZZ_CHECK(st.bundle[0] == '/', "bundle '%s' is not absolute", st.bundle);
	v = json_object_get(root, "pid");
	FUZZ_CHECK(v ? json_is_integer(v) && json_integer_value(v) == st.pid : st.pid == 0,
	           "pid %lld", st.pid);
	FUZZ_CHECK(st.pid >= 0 && st.pid <= (1LL << 30), "pid %lld out of range", st.pid);
	v = json_object_get(root, "annotations");
	if (!v || json_is_null(v))
		FUZZ_CHECK(!st.annotations, "annotations where there are none");
	else
		FUZZ_CHECK(json_is_object(st.annotations) && json_equal(st.annotations, v),
		           "annotations differ from the text's");
	json_decref(root);
	oci_state_free(&st);
	FUZZ_CHECK(!memcmp(&st, &zero, sizeof(st)), "oci_state_free left fields set");
	free(text);
	return 0;
}
