/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's state JSON, and the JSON helpers of the OCI parsers. Pure. */
#include "oci.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int oci_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

json_t *oci_json_load(const char *text, const char *what, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root;

	if (!text) {
		oci_fail(err, errsz, "%s: no input", what);
		return NULL;
	}
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		oci_fail(err, errsz, "%s: not valid JSON (line %d: %s)", what, jerr.line,
		         jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		oci_fail(err, errsz, "%s: not a JSON object", what);
		return NULL;
	}
	return root;
}

/* A required (or, with !required, optional) string member, copied. */
static int get_string(json_t *obj, const char *key, bool required, char **ret, char *err,
                      size_t errsz)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v) {
		if (required)
			return oci_fail(err, errsz, "state: '%s' is missing", key);
		return 0;
	}
	if (!json_is_string(v))
		return oci_fail(err, errsz, "state: '%s' is not a string", key);
	if (required && !*json_string_value(v))
		return oci_fail(err, errsz, "state: '%s' is empty", key);
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

void oci_state_free(struct oci_state *s)
{
	if (!s)
		return;
	free(s->oci_version);
	free(s->id);
	free(s->status);
	free(s->bundle);
	json_decref(s->annotations);
	memset(s, 0, sizeof(*s));
}

int oci_state_parse(const char *text, struct oci_state *ret, char *err, size_t errsz)
{
	struct oci_state s = {0};
	json_t *root, *v;
	int r;

	memset(ret, 0, sizeof(*ret));
	root = oci_json_load(text, "state", err, errsz);
	if (!root)
		return -EINVAL;
	if ((r = get_string(root, "ociVersion", true, &s.oci_version, err, errsz)) < 0 ||
	    (r = get_string(root, "id", true, &s.id, err, errsz)) < 0 ||
	    (r = get_string(root, "status", false, &s.status, err, errsz)) < 0 ||
	    (r = get_string(root, "bundle", true, &s.bundle, err, errsz)) < 0)
		goto out;
	if (s.bundle[0] != '/') {
		r = oci_fail(err, errsz, "state: bundle '%s' is not an absolute path", s.bundle);
		goto out;
	}
	v = json_object_get(root, "pid");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > (1LL << 30)) {
			r = oci_fail(err, errsz, "state: 'pid' is not a process ID");
			goto out;
		}
		s.pid = json_integer_value(v);
	}
	v = json_object_get(root, "annotations");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v)) {
			r = oci_fail(err, errsz, "state: 'annotations' is not an object");
			goto out;
		}
		s.annotations = json_incref(v);
	}
	*ret = s;
	memset(&s, 0, sizeof(s));
	r = 0;
out:
	oci_state_free(&s);
	json_decref(root);
	return r;
}
