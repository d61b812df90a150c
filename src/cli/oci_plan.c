/* SPDX-License-Identifier: Apache-2.0 */
/* config.json and the io.volshift.* annotations -> a plan. Pure. */
#include "oci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_annotations[] = {
    OCI_ANN_SHIFT,
    OCI_ANN_FSGROUP,
    OCI_ANN_FSGROUP_PATHS,
    OCI_ANN_POLICY,
};

/* containerd's CRI plugin (pkg/cri annotations: SandboxUID) and CRI-O
 * (kubelet's pod-UID label, which CRI-O writes into the spec). */
const char *const oci_pod_uid_keys[] = {
    "io.kubernetes.cri.sandbox-uid",
    "io.kubernetes.pod.uid",
    NULL,
};

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
		return -ENOMEM;
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
		return oci_fail(err, errsz, "annotation %s: not a string", key);
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
			return oci_fail(err, errsz,
			                "%s: unknown annotation '%s' (known: %s, %s, %s, %s)",
			                where, key, OCI_ANN_SHIFT, OCI_ANN_FSGROUP,
			                OCI_ANN_FSGROUP_PATHS, OCI_ANN_POLICY);
	}
	return 0;
}

/* containerd's and CRI-O's own record of the container's kind. */
static bool is_sandbox(const struct oci_state *st, json_t *config_ann)
{
	static const char *const keys[] = {"io.kubernetes.cri.container-type",
	                                   "io.kubernetes.cri-o.ContainerType"};
	json_t *const where[] = {config_ann, st->annotations};

	for (size_t w = 0; w < 2; w++)
		for (size_t k = 0; where[w] && k < 2; k++) {
			const char *v = json_string_value(json_object_get(where[w], keys[k]));

			if (v && !strcmp(v, "sandbox"))
				return true;
		}
	return false;
}

/*
 * The pod's UID, as the runtime recorded it under one of oci_pod_uid_keys,
 * in config.json or the state. Several records must agree; a value not
 * shaped like a UID is refused rather than ignored, since the source policy
 * puts it into a path.
 */
static int pod_uid(const struct oci_state *st, json_t *config_ann, char **ret, char *err,
                   size_t errsz)
{
	json_t *const where[] = {config_ann, st->annotations};
	const char *found = NULL, *found_key = NULL;

	*ret = NULL;
	for (size_t w = 0; w < 2; w++) {
		for (size_t k = 0; where[w] && oci_pod_uid_keys[k]; k++) {
			json_t *v = json_object_get(where[w], oci_pod_uid_keys[k]);
			const char *s;

			if (!v)
				continue;
			s = json_string_value(v);
			if (!s || !oci_pod_uid_valid(s))
				return oci_fail(err, errsz,
				                "annotation %s: not a pod UID (1 to 64 of "
				                "0-9, a-f, A-F and '-')",
				                oci_pod_uid_keys[k]);
			if (found && strcmp(found, s))
				return oci_fail(err, errsz,
				                "the pod UID is recorded twice, as '%s' (%s) and "
				                "'%s' (%s)",
				                found, found_key, s, oci_pod_uid_keys[k]);
			found = s;
			found_key = oci_pod_uid_keys[k];
		}
	}
	if (found && !(*ret = strdup(found)))
		return -ENOMEM;
	return 0;
}

/* ---------------------------------------------------------------- mappings */

static int get_u32_member(json_t *obj, const char *key, const char *what, size_t i, uint32_t *ret,
                          char *err, size_t errsz)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v)
		return oci_fail(err, errsz, "config.json: %s[%zu].%s is missing", what, i, key);
	if (!json_is_integer(v))
		return oci_fail(err, errsz, "config.json: %s[%zu].%s is not an integer", what, i,
		                key);
	n = json_integer_value(v);
	if (n < 0 || n > (json_int_t)UINT32_MAX)
		return oci_fail(err, errsz,
		                "config.json: %s[%zu].%s = %lld is out of 0..4294967295", what, i,
		                key, (long long)n);
	*ret = (uint32_t)n;
	return 0;
}

static int parse_mappings(json_t *arr, const char *what, struct vs_idmap *ret, char *err,
                          size_t errsz)
{
	size_t i;
	json_t *e;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!json_is_array(arr))
		return oci_fail(err, errsz, "config.json: %s is not an array", what);
	json_array_foreach(arr, i, e)
	{
		struct vs_idmap_range range;

		if (!json_is_object(e))
			return oci_fail(err, errsz, "config.json: %s[%zu] is not an object", what,
			                i);
		if ((r = get_u32_member(e, "containerID", what, i, &range.from, err, errsz)) < 0 ||
		    (r = get_u32_member(e, "hostID", what, i, &range.to, err, errsz)) < 0 ||
		    (r = get_u32_member(e, "size", what, i, &range.len, err, errsz)) < 0)
			return r;
		if (range.len == 0)
			return oci_fail(err, errsz, "config.json: %s[%zu].size is 0", what, i);
		if ((uint64_t)range.from + range.len - 1 > UINT32_MAX ||
		    (uint64_t)range.to + range.len - 1 > UINT32_MAX)
			return oci_fail(err, errsz, "config.json: %s[%zu] runs past 4294967295",
			                what, i);
		if (vs_idmap_add(ret, &range) < 0)
			return oci_fail(err, errsz, "config.json: %s has more than %d ranges", what,
			                VS_IDMAP_MAX);
	}
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
		return oci_fail(err, errsz, "config.json: 'mounts' is not an array");
	json_array_foreach(mounts, i, m)
	{
		if (!json_is_object(m))
			return oci_fail(err, errsz, "config.json: mounts[%zu] is not an object", i);
		v = json_object_get(m, "destination");
		if (!json_is_string(v))
			return oci_fail(err, errsz,
			                "config.json: mounts[%zu].destination is not a string", i);
		v = json_object_get(m, "source");
		if (v && !json_is_string(v))
			return oci_fail(err, errsz,
			                "config.json: mounts[%zu].source is not a string", i);
		v = json_object_get(m, "type");
		if (v && !json_is_string(v))
			return oci_fail(err, errsz, "config.json: mounts[%zu].type is not a string",
			                i);
		v = json_object_get(m, "options");
		if (v && !json_is_array(v))
			return oci_fail(err, errsz,
			                "config.json: mounts[%zu].options is not an array", i);
	}
	return 0;
}

/* The mount of config.json at dest; the last one wins, as it covers the others.
 */
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
	struct oci_volume *v, *grown;
	const char *src;
	json_t *m;

	for (size_t i = 0; i < p->n_volumes; i++)
		if (!strcmp(p->volumes[i].destination, dest))
			return oci_fail(err, errsz, "annotation %s: '%s' is named more than once",
			                ann, dest);
	m = find_mount(mounts, dest);
	if (!m)
		return oci_fail(err, errsz, "annotation %s: no mount at '%s' in config.json", ann,
		                dest);
	if (!is_bind(m))
		return oci_fail(err, errsz, "annotation %s: the mount at '%s' is not a bind mount",
		                ann, dest);
	src = json_string_value(json_object_get(m, "source"));
	if (!src || !*src)
		return oci_fail(err, errsz, "annotation %s: the mount at '%s' has no source", ann,
		                dest);
	grown = realloc(p->volumes, (p->n_volumes + 1) * sizeof(*p->volumes));
	if (!grown)
		return -ENOMEM;
	p->volumes = grown;
	v = &p->volumes[p->n_volumes++];
	memset(v, 0, sizeof(*v));
	v->mode = mode;
	v->read_only = mount_read_only(m);
	v->destination = strdup(dest);
	/* runc resolves a relative source against the bundle */
	if (src[0] == '/')
		v->source = strdup(src);
	else if (asprintf(&v->source, "%s/%s", st->bundle, src) < 0)
		v->source = NULL;
	return v->destination && v->source ? 0 : -ENOMEM;
}

/*
 * Splits a list of destinations and adds each. ',' separates them, and so
 * does ':', which needs no quoting where ',' does (podman splits an
 * --annotation value on commas); a destination holding either cannot be
 * named.
 */
static int add_list(struct oci_plan *p, const struct oci_state *st, json_t *mounts,
                    enum vs_mode mode, const char *list, const char *ann, char *err, size_t errsz)
{
	const char *s = list;
	int r;

	for (;;) {
		const char *e = s + strcspn(s, ",:");
		const char *b = s, *end = e;
		char *item, *clean;

		while (b < end && (*b == ' ' || *b == '\t'))
			b++;
		while (end > b && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (b == end)
			return oci_fail(err, errsz, "annotation %s: empty entry in '%s'", ann,
			                list);
		item = strndup(b, (size_t)(end - b));
		if (!item)
			return -ENOMEM;
		r = oci_clean_path(item, &clean);
		if (r == -ENOMEM) {
			free(item);
			return r;
		}
		if (r < 0) {
			r = oci_fail(err, errsz,
			             "annotation %s: '%s' is not an absolute path without '..'",
			             ann, item);
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
	free(p->pod_uid);
	memset(p, 0, sizeof(*p));
}

int oci_plan_set_maps(struct oci_plan *p, const struct vs_idmap *uid_map,
                      const struct vs_idmap *gid_map, char *err, size_t errsz)
{
	struct vs_report rep;
	struct vs_job job;

	/* the maps' rules are the library's: ask it, as for any shift job */
	vs_job_init(&job, VS_MODE_SHIFT);
	job.uid_map = *uid_map;
	job.gid_map = *gid_map;
	if (vs_job_validate(&job, &rep) < 0)
		return oci_fail(err, errsz, "linux.uidMappings/gidMappings: %s", rep.message);
	p->uid_map = *uid_map;
	p->gid_map = *gid_map;
	p->have_maps = true;
	p->need_maps = false;
	for (size_t i = 0; i < p->n_volumes; i++) {
		struct oci_volume *v = &p->volumes[i];

		if (v->mode != VS_MODE_FSGROUP)
			continue;
		if (!vs_idmap_map(&p->gid_map, v->container_gid, &v->gid) || v->gid == UINT32_MAX)
			return oci_fail(
			    err, errsz,
			    "annotation %s: GID %u is outside the container's gidMappings",
			    OCI_ANN_FSGROUP, v->container_gid);
	}
	return 0;
}

/* Whether linux.namespaces has a user namespace, and whether it joins one by
 * path. */
static int user_namespace(json_t *linux_obj, bool *ret_userns, bool *ret_joins, char *err,
                          size_t errsz)
{
	json_t *nss = json_object_get(linux_obj, "namespaces"), *ns;
	size_t i;

	*ret_userns = *ret_joins = false;
	if (!nss)
		return 0;
	if (!json_is_array(nss))
		return oci_fail(err, errsz, "config.json: linux.namespaces is not an array");
	json_array_foreach(nss, i, ns)
	{
		json_t *type = json_object_get(ns, "type"), *path = json_object_get(ns, "path");

		if (!json_is_string(type))
			return oci_fail(err, errsz,
			                "config.json: linux.namespaces[%zu].type is not a string",
			                i);
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
	config = oci_json_load(config_text, "config.json", err, errsz);
	if (!config)
		return -EINVAL;

	config_ann = json_object_get(config, "annotations");
	if (json_is_null(config_ann))
		config_ann = NULL;
	if (config_ann && !json_is_object(config_ann)) {
		r = oci_fail(err, errsz, "config.json: 'annotations' is not an object");
		goto out;
	}
	if ((r = check_unknown(st->annotations, "state", err, errsz)) < 0 ||
	    (r = check_unknown(config_ann, "config.json", err, errsz)) < 0)
		goto out;
	/* The pod's sandbox (pause) container carries the pod's annotations
	 * too (containerd runs a base_runtime_spec's hooks for it) but mounts
	 * no volume: nothing to do, and no reason to stop the pod. */
	if (is_sandbox(st, config_ann)) {
		r = 0;
		goto out;
	}
	if ((r = pod_uid(st, config_ann, &p.pod_uid, err, errsz)) < 0 ||
	    (r = annotation(st, config_ann, OCI_ANN_SHIFT, &shift, err, errsz)) < 0 ||
	    (r = annotation(st, config_ann, OCI_ANN_FSGROUP, &fsgroup, err, errsz)) < 0 ||
	    (r = annotation(st, config_ann, OCI_ANN_FSGROUP_PATHS, &fsgroup_paths, err, errsz)) <
	        0 ||
	    (r = annotation(st, config_ann, OCI_ANN_POLICY, &policy, err, errsz)) < 0)
		goto out;

	if (policy && vs_policy_parse(policy, &p.policy) < 0) {
		r = oci_fail(err, errsz,
		             "annotation %s: '%s' is not 'always' or 'on-root-mismatch'",
		             OCI_ANN_POLICY, policy);
		goto out;
	}
	if (fsgroup && !fsgroup_paths) {
		r = oci_fail(err, errsz, "annotation %s is set but %s is not", OCI_ANN_FSGROUP,
		             OCI_ANN_FSGROUP_PATHS);
		goto out;
	}
	if (fsgroup_paths && !fsgroup) {
		r = oci_fail(err, errsz, "annotation %s is set but %s is not",
		             OCI_ANN_FSGROUP_PATHS, OCI_ANN_FSGROUP);
		goto out;
	}
	/* (gid_t)-1 means "leave the group" to chown: not a GID */
	if (fsgroup && vs_parse_u32(fsgroup, UINT32_MAX - 1, &gid) < 0) {
		r = oci_fail(err, errsz, "annotation %s: '%s' is not a GID (0..4294967294)",
		             OCI_ANN_FSGROUP, fsgroup);
		goto out;
	}

	linux_obj = json_object_get(config, "linux");
	if (linux_obj && !json_is_object(linux_obj)) {
		r = oci_fail(err, errsz, "config.json: 'linux' is not an object");
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
		r = oci_fail(err, errsz, "config.json: linux.%s is given without linux.%s",
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
			r = oci_fail(err, errsz,
			             "config.json: a user namespace without linux.uidMappings");
			goto out;
		} else if (any_shift) {
			r = oci_fail(err, errsz,
			             "annotation %s: the container has no user namespace",
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
