/* SPDX-License-Identifier: Apache-2.0 */
/* OCI state, config.json and io.volshift.* annotations -> a plan. Pure. */
#include "oci.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OCI_ANN_PREFIX "io.volshift."

static const char *const known_annotations[] = {
    OCI_ANN_SHIFT,
    OCI_ANN_FSGROUP,
    OCI_ANN_FSGROUP_PATHS,
    OCI_ANN_POLICY,
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

/* ------------------------------------------------------------------ state */

/* A required (or, with !required, optional) string member. */
static int get_string(json_t *obj, const char *key, bool required, const char *what, char **ret,
                      char *err, size_t errsz)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v) {
		if (required)
			return fail(err, errsz, "%s: '%s' is missing", what, key);
		return 0;
	}
	if (!json_is_string(v))
		return fail(err, errsz, "%s: '%s' is not a string", what, key);
	if (required && !*json_string_value(v))
		return fail(err, errsz, "%s: '%s' is empty", what, key);
	*ret = xstrdup(json_string_value(v));
	return 0;
}

static json_t *load(const char *text, const char *what, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root;

	if (!text) {
		fail(err, errsz, "%s: no input", what);
		return NULL;
	}
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fail(err, errsz, "%s: not valid JSON (line %d: %s)", what, jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		fail(err, errsz, "%s: not a JSON object", what);
		return NULL;
	}
	return root;
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
	root = load(text, "state", err, errsz);
	if (!root)
		return -EINVAL;
	if ((r = get_string(root, "ociVersion", true, "state", &s.oci_version, err, errsz)) < 0 ||
	    (r = get_string(root, "id", true, "state", &s.id, err, errsz)) < 0 ||
	    (r = get_string(root, "status", false, "state", &s.status, err, errsz)) < 0 ||
	    (r = get_string(root, "bundle", true, "state", &s.bundle, err, errsz)) < 0)
		goto out;
	if (s.bundle[0] != '/') {
		r = fail(err, errsz, "state: bundle '%s' is not an absolute path", s.bundle);
		goto out;
	}
	v = json_object_get(root, "pid");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > (1LL << 30)) {
			r = fail(err, errsz, "state: 'pid' is not a process ID");
			goto out;
		}
		s.pid = json_integer_value(v);
	}
	v = json_object_get(root, "annotations");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v)) {
			r = fail(err, errsz, "state: 'annotations' is not an object");
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

/* ------------------------------------------------------------------- paths */

int oci_clean_path(const char *in, char **ret)
{
	size_t len, o = 0;
	const char *p;
	char *out;

	*ret = NULL;
	if (!in || in[0] != '/')
		return -EINVAL;
	len = strlen(in);
	out = malloc(len + 2);
	if (!out)
		abort();
	for (p = in; *p;) {
		const char *e;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return -EINVAL;
		}
		out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	*ret = out;
	return 0;
}

/* ------------------------------------------------------------- annotations */

/* The value of an annotation, from the state first, then config.json. */
static int annotation(const struct oci_state *st, json_t *config_ann, const char *key,
                      const char **ret, char *err, size_t errsz)
{
	json_t *v = NULL;

	*ret = NULL;
	if (st->annotations)
		v = json_object_get(st->annotations, key);
	if (!v && config_ann)
		v = json_object_get(config_ann, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(err, errsz, "annotation %s: not a string", key);
	*ret = json_string_value(v);
	return 0;
}

/* Refuses io.volshift.* keys we do not know: a typo must not go unnoticed. */
static int check_unknown(json_t *ann, const char *where, char *err, size_t errsz)
{
	const char *key;
	json_t *v;

	if (!ann)
		return 0;
	json_object_foreach(ann, key, v)
	{
		bool known = false;

		(void)v;
		if (strncmp(key, OCI_ANN_PREFIX, strlen(OCI_ANN_PREFIX)) != 0)
			continue;
		for (size_t i = 0; i < sizeof(known_annotations) / sizeof(known_annotations[0]);
		     i++)
			known |= !strcmp(key, known_annotations[i]);
		if (!known)
			return fail(err, errsz,
			            "%s: unknown annotation '%s' (known: %s, %s, %s, %s)", where,
			            key, OCI_ANN_SHIFT, OCI_ANN_FSGROUP, OCI_ANN_FSGROUP_PATHS,
			            OCI_ANN_POLICY);
	}
	return 0;
}

static int parse_u32(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* ---------------------------------------------------------------- mappings */

static int get_u32_member(json_t *obj, const char *key, const char *what, size_t i, uint32_t *ret,
                          char *err, size_t errsz)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v)
		return fail(err, errsz, "config.json: %s[%zu].%s is missing", what, i, key);
	if (!json_is_integer(v))
		return fail(err, errsz, "config.json: %s[%zu].%s is not an integer", what, i, key);
	n = json_integer_value(v);
	if (n < 0 || n > (json_int_t)UINT32_MAX)
		return fail(err, errsz, "config.json: %s[%zu].%s = %lld is out of 0..4294967295",
		            what, i, key, (long long)n);
	*ret = (uint32_t)n;
	return 0;
}

static int parse_mappings(json_t *arr, const char *what, struct vs_idmap *ret, char *err,
                          size_t errsz)
{
	const char *reason = NULL;
	size_t i;
	json_t *e;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!json_is_array(arr))
		return fail(err, errsz, "config.json: %s is not an array", what);
	json_array_foreach(arr, i, e)
	{
		struct vs_idmap_range range;

		if (!json_is_object(e))
			return fail(err, errsz, "config.json: %s[%zu] is not an object", what, i);
		if ((r = get_u32_member(e, "containerID", what, i, &range.from, err, errsz)) < 0 ||
		    (r = get_u32_member(e, "hostID", what, i, &range.to, err, errsz)) < 0 ||
		    (r = get_u32_member(e, "size", what, i, &range.len, err, errsz)) < 0)
			return r;
		if (range.len == 0)
			return fail(err, errsz, "config.json: %s[%zu].size is 0", what, i);
		if ((uint64_t)range.from + range.len - 1 > UINT32_MAX ||
		    (uint64_t)range.to + range.len - 1 > UINT32_MAX)
			return fail(err, errsz, "config.json: %s[%zu] runs past 4294967295", what,
			            i);
		if (vs_idmap_add(ret, &range) < 0)
			return fail(err, errsz, "config.json: %s has more than %d ranges", what,
			            VS_IDMAP_MAX);
	}
	if (vs_idmap_validate(ret, &reason) < 0)
		return fail(err, errsz, "config.json: %s: %s", what,
		            reason ? reason : "not a valid map");
	return 0;
}

/* ------------------------------------------------------------------ mounts */

static bool has_option(json_t *mount, const char *opt)
{
	json_t *opts = json_object_get(mount, "options"), *o;
	size_t i;

	json_array_foreach(opts, i, o)
	{
		if (json_is_string(o) && !strcmp(json_string_value(o), opt))
			return true;
	}
	return false;
}

/* "ro" unless a later "rw" undoes it, as mount(8) reads options. */
static bool mount_read_only(json_t *mount)
{
	json_t *opts = json_object_get(mount, "options"), *o;
	bool ro = false;
	size_t i;

	json_array_foreach(opts, i, o)
	{
		if (!json_is_string(o))
			continue;
		if (!strcmp(json_string_value(o), "ro"))
			ro = true;
		else if (!strcmp(json_string_value(o), "rw"))
			ro = false;
	}
	return ro;
}

static int check_mounts(json_t *mounts, char *err, size_t errsz)
{
	size_t i;
	json_t *m, *v;

	if (!mounts)
		return 0;
	if (!json_is_array(mounts))
		return fail(err, errsz, "config.json: 'mounts' is not an array");
	json_array_foreach(mounts, i, m)
	{
		if (!json_is_object(m))
			return fail(err, errsz, "config.json: mounts[%zu] is not an object", i);
		v = json_object_get(m, "destination");
		if (!json_is_string(v))
			return fail(err, errsz,
			            "config.json: mounts[%zu].destination is not a string", i);
		v = json_object_get(m, "source");
		if (v && !json_is_string(v))
			return fail(err, errsz, "config.json: mounts[%zu].source is not a string",
			            i);
		v = json_object_get(m, "type");
		if (v && !json_is_string(v))
			return fail(err, errsz, "config.json: mounts[%zu].type is not a string", i);
		v = json_object_get(m, "options");
		if (v && !json_is_array(v))
			return fail(err, errsz, "config.json: mounts[%zu].options is not an array",
			            i);
	}
	return 0;
}

/* The mount of config.json at dest; the last one wins, as it covers the others. */
static json_t *find_mount(json_t *mounts, const char *dest)
{
	json_t *m, *found = NULL;
	size_t i;

	json_array_foreach(mounts, i, m)
	{
		char *clean;

		if (oci_clean_path(json_string_value(json_object_get(m, "destination")), &clean) <
		    0)
			continue;
		if (!strcmp(clean, dest))
			found = m;
		free(clean);
	}
	return found;
}

static bool is_bind(json_t *m)
{
	json_t *type = json_object_get(m, "type");

	return (type && !strcmp(json_string_value(type), "bind")) || has_option(m, "bind") ||
	       has_option(m, "rbind");
}

static int add_volume(struct oci_plan *p, const struct oci_state *st, json_t *mounts,
                      enum vs_mode mode, const char *dest, const char *ann, char *err, size_t errsz)
{
	struct oci_volume *v;
	const char *src;
	json_t *m;

	for (size_t i = 0; i < p->n_volumes; i++)
		if (!strcmp(p->volumes[i].destination, dest))
			return fail(err, errsz, "annotation %s: '%s' is named more than once", ann,
			            dest);
	m = find_mount(mounts, dest);
	if (!m)
		return fail(err, errsz, "annotation %s: no mount at '%s' in config.json", ann,
		            dest);
	if (!is_bind(m))
		return fail(err, errsz, "annotation %s: the mount at '%s' is not a bind mount", ann,
		            dest);
	src = json_string_value(json_object_get(m, "source"));
	if (!src || !*src)
		return fail(err, errsz, "annotation %s: the mount at '%s' has no source", ann,
		            dest);

	p->volumes = realloc(p->volumes, (p->n_volumes + 1) * sizeof(*p->volumes));
	if (!p->volumes)
		abort();
	v = &p->volumes[p->n_volumes++];
	memset(v, 0, sizeof(*v));
	v->mode = mode;
	v->destination = xstrdup(dest);
	/* runc resolves a relative source against the bundle */
	if (src[0] == '/')
		v->source = xstrdup(src);
	else if (asprintf(&v->source, "%s/%s", st->bundle, src) < 0)
		abort();
	v->read_only = mount_read_only(m);
	return 0;
}

/* Splits a comma-separated list of destinations and adds each. */
static int add_list(struct oci_plan *p, const struct oci_state *st, json_t *mounts,
                    enum vs_mode mode, const char *list, const char *ann, char *err, size_t errsz)
{
	const char *s = list;
	int r;

	for (;;) {
		const char *e = strchrnul(s, ',');
		const char *b = s, *end = e;
		char *item, *clean;

		while (b < end && (*b == ' ' || *b == '\t'))
			b++;
		while (end > b && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (b == end)
			return fail(err, errsz, "annotation %s: empty entry in '%s'", ann, list);
		item = strndup(b, (size_t)(end - b));
		if (!item)
			abort();
		r = oci_clean_path(item, &clean);
		if (r < 0) {
			r = fail(err, errsz,
			         "annotation %s: '%s' is not an absolute path without '..'", ann,
			         item);
			free(item);
			return r;
		}
		free(item);
		r = add_volume(p, st, mounts, mode, clean, ann, err, errsz);
		free(clean);
		if (r < 0)
			return r;
		if (!*e)
			return 0;
		s = e + 1;
	}
}

/* ------------------------------------------------------------------- plans */

void oci_plan_free(struct oci_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_volumes; i++) {
		free(p->volumes[i].destination);
		free(p->volumes[i].source);
	}
	free(p->volumes);
	memset(p, 0, sizeof(*p));
}

int oci_plan_set_maps(struct oci_plan *p, const struct vs_idmap *uid_map,
                      const struct vs_idmap *gid_map, char *err, size_t errsz)
{
	const char *reason = NULL;

	if (vs_idmap_validate(uid_map, &reason) < 0)
		return fail(err, errsz, "uid map: %s", reason ? reason : "not a valid map");
	if (vs_idmap_validate(gid_map, &reason) < 0)
		return fail(err, errsz, "gid map: %s", reason ? reason : "not a valid map");
	p->uid_map = *uid_map;
	p->gid_map = *gid_map;
	p->have_maps = true;
	p->need_maps = false;
	for (size_t i = 0; i < p->n_volumes; i++) {
		struct oci_volume *v = &p->volumes[i];

		if (v->mode != VS_MODE_FSGROUP)
			continue;
		if (!vs_idmap_map(&p->gid_map, v->container_gid, &v->gid) || v->gid == UINT32_MAX)
			return fail(err, errsz,
			            "annotation %s: GID %u is outside the container's gidMappings",
			            OCI_ANN_FSGROUP, v->container_gid);
	}
	return 0;
}

/* Whether linux.namespaces has a user namespace, and whether it joins one by path. */
static int user_namespace(json_t *linux_obj, bool *ret_userns, bool *ret_joins, char *err,
                          size_t errsz)
{
	json_t *nss = json_object_get(linux_obj, "namespaces"), *ns;
	size_t i;

	*ret_userns = *ret_joins = false;
	if (!nss)
		return 0;
	if (!json_is_array(nss))
		return fail(err, errsz, "config.json: linux.namespaces is not an array");
	json_array_foreach(nss, i, ns)
	{
		json_t *type = json_object_get(ns, "type"), *path = json_object_get(ns, "path");

		if (!json_is_string(type))
			return fail(err, errsz,
			            "config.json: linux.namespaces[%zu].type is not a string", i);
		if (strcmp(json_string_value(type), "user") != 0)
			continue;
		*ret_userns = true;
		*ret_joins = json_is_string(path) && *json_string_value(path);
	}
	return 0;
}

int oci_plan_build(const struct oci_state *st, const char *config_text, struct oci_plan *ret,
                   char *err, size_t errsz)
{
	const char *shift = NULL, *fsgroup = NULL, *fsgroup_paths = NULL, *policy = NULL;
	json_t *config, *linux_obj, *mounts, *config_ann, *uidm, *gidm;
	struct oci_plan p = {0};
	bool userns = false, joins = false;
	uint32_t gid = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	p.policy = VS_POLICY_ON_ROOT_MISMATCH;
	config = load(config_text, "config.json", err, errsz);
	if (!config)
		return -EINVAL;

	config_ann = json_object_get(config, "annotations");
	if (json_is_null(config_ann))
		config_ann = NULL;
	if (config_ann && !json_is_object(config_ann)) {
		r = fail(err, errsz, "config.json: 'annotations' is not an object");
		goto out;
	}
	if ((r = check_unknown(st->annotations, "state", err, errsz)) < 0 ||
	    (r = check_unknown(config_ann, "config.json", err, errsz)) < 0)
		goto out;
	if ((r = annotation(st, config_ann, OCI_ANN_SHIFT, &shift, err, errsz)) < 0 ||
	    (r = annotation(st, config_ann, OCI_ANN_FSGROUP, &fsgroup, err, errsz)) < 0 ||
	    (r = annotation(st, config_ann, OCI_ANN_FSGROUP_PATHS, &fsgroup_paths, err, errsz)) <
	        0 ||
	    (r = annotation(st, config_ann, OCI_ANN_POLICY, &policy, err, errsz)) < 0)
		goto out;

	if (policy) {
		if (!strcmp(policy, "always"))
			p.policy = VS_POLICY_ALWAYS;
		else if (!strcmp(policy, "on-root-mismatch"))
			p.policy = VS_POLICY_ON_ROOT_MISMATCH;
		else {
			r = fail(err, errsz,
			         "annotation %s: '%s' is not 'always' or 'on-root-mismatch'",
			         OCI_ANN_POLICY, policy);
			goto out;
		}
	}
	if (fsgroup && !fsgroup_paths) {
		r = fail(err, errsz, "annotation %s is set but %s is not", OCI_ANN_FSGROUP,
		         OCI_ANN_FSGROUP_PATHS);
		goto out;
	}
	if (fsgroup_paths && !fsgroup) {
		r = fail(err, errsz, "annotation %s is set but %s is not", OCI_ANN_FSGROUP_PATHS,
		         OCI_ANN_FSGROUP);
		goto out;
	}
	/* (gid_t)-1 means "leave the group" to chown: not a GID */
	if (fsgroup && (parse_u32(fsgroup, &gid) < 0 || gid == UINT32_MAX)) {
		r = fail(err, errsz, "annotation %s: '%s' is not a GID (0..4294967294)",
		         OCI_ANN_FSGROUP, fsgroup);
		goto out;
	}

	linux_obj = json_object_get(config, "linux");
	if (linux_obj && !json_is_object(linux_obj)) {
		r = fail(err, errsz, "config.json: 'linux' is not an object");
		goto out;
	}
	mounts = json_object_get(config, "mounts");
	if ((r = check_mounts(mounts, err, errsz)) < 0 ||
	    (r = user_namespace(linux_obj, &userns, &joins, err, errsz)) < 0)
		goto out;

	uidm = json_object_get(linux_obj, "uidMappings");
	gidm = json_object_get(linux_obj, "gidMappings");
	if (json_is_null(uidm))
		uidm = NULL;
	if (json_is_null(gidm))
		gidm = NULL;
	if (!!uidm != !!gidm) {
		r = fail(err, errsz, "config.json: linux.%s is given without linux.%s",
		         uidm ? "uidMappings" : "gidMappings",
		         uidm ? "gidMappings" : "uidMappings");
		goto out;
	}
	/* empty arrays say "no mappings" as well as absent ones */
	if (uidm && !(json_is_array(uidm) && json_is_array(gidm) && json_array_size(uidm) == 0 &&
	              json_array_size(gidm) == 0)) {
		if ((r = parse_mappings(uidm, "linux.uidMappings", &p.uid_map, err, errsz)) < 0 ||
		    (r = parse_mappings(gidm, "linux.gidMappings", &p.gid_map, err, errsz)) < 0)
			goto out;
		p.have_maps = true;
	}

	if (shift &&
	    (r = add_list(&p, st, mounts, VS_MODE_SHIFT, shift, OCI_ANN_SHIFT, err, errsz)) < 0)
		goto out;
	if (fsgroup) {
		size_t first = p.n_volumes;

		if ((r = add_list(&p, st, mounts, VS_MODE_FSGROUP, fsgroup_paths,
		                  OCI_ANN_FSGROUP_PATHS, err, errsz)) < 0)
			goto out;
		for (size_t i = first; i < p.n_volumes; i++)
			p.volumes[i].container_gid = p.volumes[i].gid = gid;
	}

	if (p.n_volumes > 0 && !p.have_maps) {
		bool any_shift = false;

		for (size_t i = 0; i < p.n_volumes; i++)
			any_shift |= p.volumes[i].mode == VS_MODE_SHIFT;
		if (userns && joins) {
			/* joins an existing namespace: the maps come from its process */
			p.need_maps = true;
		} else if (userns) {
			r = fail(err, errsz,
			         "config.json: a user namespace without linux.uidMappings");
			goto out;
		} else if (any_shift) {
			r = fail(err, errsz, "annotation %s: the container has no user namespace",
			         OCI_ANN_SHIFT);
			goto out;
		}
		/* fsgroup without a user namespace: the GID is the host's */
	}
	if (p.have_maps) {
		struct vs_idmap u = p.uid_map, g = p.gid_map;

		if ((r = oci_plan_set_maps(&p, &u, &g, err, errsz)) < 0)
			goto out;
	}

	*ret = p;
	memset(&p, 0, sizeof(p));
	r = 0;
out:
	oci_plan_free(&p);
	json_decref(config);
	return r;
}

void oci_plan_job(const struct oci_plan *p, size_t i, struct vs_job *job)
{
	const struct oci_volume *v = &p->volumes[i];

	vs_job_init(job, v->mode);
	job->path = v->source;
	job->policy = p->policy;
	if (v->mode == VS_MODE_SHIFT) {
		job->uid_map = p->uid_map;
		job->gid_map = p->gid_map;
	} else {
		job->gid = v->gid;
		job->read_only = v->read_only;
	}
}

/* ----------------------------------------------------------------- sources */

/* At or under prefix, on a component boundary. */
static bool path_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1 && prefix[0] == '/')
		return true;
	return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

int oci_source_allowed(const char *source, char *const *allow, size_t n_allow, char *err,
                       size_t errsz)
{
	static const char *const system_dirs[] = {
	    "/",          "/bin",       "/boot",     "/dev",       "/etc",     "/home",
	    "/lib",       "/lib32",     "/lib64",    "/libx32",    "/media",   "/mnt",
	    "/opt",       "/proc",      "/root",     "/run",       "/sbin",    "/srv",
	    "/sys",       "/tmp",       "/usr",      "/var",       "/usr/bin", "/usr/lib",
	    "/usr/lib64", "/usr/local", "/usr/sbin", "/usr/share", "/var/lib", "/var/log",
	};
	static const char *const pseudo[] = {"/proc", "/sys", "/dev"};
	char *clean = NULL;
	bool canonical;

	if (!source || source[0] != '/')
		return fail(err, errsz, "source '%s' is not an absolute path",
		            source ? source : "");
	/* realpath's form only: "//etc", "/etc/", "/./proc" or "/srv/../proc"
	 * name what the checks below refuse without matching their strings */
	canonical = oci_clean_path(source, &clean) == 0 && !strcmp(clean, source);
	free(clean);
	if (!canonical) {
		fail(err, errsz, "source '%s' is not a canonical path; not changing it", source);
		return -EPERM;
	}
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
		if (!strcmp(source, system_dirs[i])) {
			fail(err, errsz, "source '%s' is a system directory; not changing it",
			     source);
			return -EPERM;
		}
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
		if (path_under(source, pseudo[i])) {
			fail(err, errsz, "source '%s' is under %s; not changing it", source,
			     pseudo[i]);
			return -EPERM;
		}
	if (n_allow == 0)
		return 0;
	for (size_t i = 0; i < n_allow; i++)
		if (path_under(source, allow[i]))
			return 0;
	fail(err, errsz, "source '%s' is not under an --allow-source directory", source);
	return -EPERM;
}
