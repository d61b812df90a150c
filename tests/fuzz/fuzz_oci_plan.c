/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_plan_build, oci_plan_set_maps and oci_plan_job: config.json and the
 * io.volshift.* annotations (which Kubernetes users can set on a pod) into
 * the jobs the hook runs as root.
 *
 * Input: STATE \0 CONFIG \0 UIDMAP \0 GIDMAP, where the maps are
 * /proc/PID/uid_map text for oci_plan_set_maps (used when the plan needs
 * maps). With no NUL, the input is CONFIG and STATE is a fixed runc state.
 *
 * Properties of a plan that builds:
 * - every destination is absolute and clean (oci_clean_path gives it back),
 *   none is named twice; every source is an absolute path, and it is the
 *   source of the last bind mount of config.json at that destination
 *   (checked against jansson's reading of the text);
 * - every entry of io.volshift.shift and io.volshift.fsgroup.paths (state
 *   first, then config.json) became exactly one volume: nothing is dropped;
 * - maps, when the plan has them, pass vs_idmap_validate; a shift volume
 *   has maps or asks for them (need_maps), never neither; need_maps and
 *   have_maps never go together;
 * - fsgroup GIDs (container and host) are not 4294967295, and the host GID
 *   is the container GID through gid_map (or the same without maps);
 * - oci_plan_set_maps, when it succeeds, leaves valid maps and fsgroup GIDs
 *   mapped through them; oci_plan_job gives a job with the volume's source,
 *   valid maps for shift, the volume's GID for fsgroup.
 * A plan that does not build comes with a reason and no volumes.
 */
#include <errno.h>

#include "fuzz.h"
#include "oci.h"

static const char default_state[] =
    "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":4242,"
    "\"bundle\":\"/run/bundles/c1\"}";

/* An annotation as oci_plan_build looks it up: the state first. */
static const char *ann(const struct oci_state *st, json_t *config, const char *key)
{
	json_t *v = st->annotations ? json_object_get(st->annotations, key) : NULL;

	if (!v)
		v = json_object_get(json_object_get(config, "annotations"), key);
	return json_string_value(v);
}

static size_t list_len(const char *list)
{
	size_t n = 1;

	if (!list)
		return 0;
	for (; *list; list++)
		n += *list == ',';
	return n;
}

/* The source of the last mount whose cleaned destination is dest. */
static const char *ref_source(json_t *config, const char *dest)
{
	json_t *mounts = json_object_get(config, "mounts"), *m;
	const char *src = NULL;
	size_t i;

	json_array_foreach(mounts, i, m)
	{
		char *clean;

		if (oci_clean_path(json_string_value(json_object_get(m, "destination")), &clean) <
		    0)
			continue;
		if (!strcmp(clean, dest))
			src = json_string_value(json_object_get(m, "source"));
		free(clean);
	}
	return src;
}

static void check_volume(const struct oci_plan *p, size_t i, const struct oci_state *st,
                         json_t *config)
{
	const struct oci_volume *v = &p->volumes[i];
	const char *src;
	struct vs_job job;
	char *clean;

	FUZZ_CHECK(v->destination && v->destination[0] == '/', "volume %zu: destination '%s'", i,
	           v->destination ? v->destination : "(null)");
	FUZZ_CHECK(oci_clean_path(v->destination, &clean) == 0 && !strcmp(clean, v->destination),
	           "volume %zu: destination '%s' is not clean", i, v->destination);
	free(clean);
	for (size_t j = 0; j < i; j++)
		FUZZ_CHECK(strcmp(p->volumes[j].destination, v->destination), "'%s' planned twice",
		           v->destination);
	FUZZ_CHECK(v->source && v->source[0] == '/', "volume %zu: source '%s' is not absolute", i,
	           v->source ? v->source : "(null)");
	src = ref_source(config, v->destination);
	FUZZ_CHECK(src && *src, "volume %zu: no mount with a source at '%s'", i, v->destination);
	if (src[0] == '/') {
		FUZZ_CHECK(!strcmp(v->source, src), "volume %zu: source '%s', mount says '%s'", i,
		           v->source, src);
	} else {
		/* relative to the bundle, as runc reads it */
		char *want;

		if (asprintf(&want, "%s/%s", st->bundle, src) < 0)
			abort();
		FUZZ_CHECK(!strcmp(v->source, want), "volume %zu: source '%s', want '%s'", i,
		           v->source, want);
		free(want);
	}

	if (v->mode == VS_MODE_FSGROUP) {
		uint32_t want = v->container_gid;

		FUZZ_CHECK(v->container_gid != UINT32_MAX && v->gid != UINT32_MAX,
		           "volume %zu: fsgroup GID %u (container %u)", i, v->gid,
		           v->container_gid);
		if (p->have_maps)
			FUZZ_CHECK(vs_idmap_map(&p->gid_map, v->container_gid, &want) &&
			               want == v->gid,
			           "volume %zu: container GID %u maps to %u, planned %u", i,
			           v->container_gid, want, v->gid);
		else if (!p->need_maps)
			FUZZ_CHECK(v->gid == v->container_gid,
			           "volume %zu: no maps, but GID %u became %u", i, v->container_gid,
			           v->gid);
	} else {
		FUZZ_CHECK(v->mode == VS_MODE_SHIFT, "volume %zu: mode %d", i, (int)v->mode);
		FUZZ_CHECK(p->have_maps || p->need_maps, "volume %zu: shift without maps", i);
	}

	if (p->need_maps)
		return; /* the hook calls oci_plan_job only once it has the maps */
	oci_plan_job(p, i, &job);
	FUZZ_CHECK(job.mode == v->mode && job.path == v->source && job.policy == p->policy,
	           "volume %zu: the job is not the volume's", i);
	if (v->mode == VS_MODE_SHIFT)
		FUZZ_CHECK(vs_idmap_validate(&job.uid_map, NULL) == 0 &&
		               vs_idmap_validate(&job.gid_map, NULL) == 0,
		           "volume %zu: shift job with an invalid map", i);
	else
		FUZZ_CHECK(job.gid == v->gid && job.read_only == v->read_only,
		           "volume %zu: fsgroup job gid %u", i, job.gid);
}

static void check_plan(const struct oci_plan *p, const struct oci_state *st, json_t *config)
{
	const char *shift = ann(st, config, OCI_ANN_SHIFT);
	const char *paths = ann(st, config, OCI_ANN_FSGROUP_PATHS);

	FUZZ_CHECK(p->policy == VS_POLICY_ALWAYS || p->policy == VS_POLICY_ON_ROOT_MISMATCH,
	           "policy %d", (int)p->policy);
	FUZZ_CHECK(!(p->have_maps && p->need_maps), "have_maps and need_maps");
	if (p->have_maps) {
		FUZZ_CHECK(vs_idmap_validate(&p->uid_map, NULL) == 0, "invalid uid map planned");
		FUZZ_CHECK(vs_idmap_validate(&p->gid_map, NULL) == 0, "invalid gid map planned");
	}
	FUZZ_CHECK(p->n_volumes == list_len(shift) + list_len(paths),
	           "%zu volumes for shift '%s' and fsgroup.paths '%s'", p->n_volumes,
	           shift ? shift : "", paths ? paths : "");
	for (size_t i = 0; i < p->n_volumes; i++)
		check_volume(p, i, st, config);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *parts[4] = {NULL, NULL, NULL, NULL}, err[512];
	const char *state_text, *config_text;
	struct oci_state st;
	struct oci_plan p;
	size_t n = 0;
	json_t *config;
	int r;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *s = buf; n < 4;) {
		parts[n++] = s;
		s += strlen(s);
		if (s == buf + size)
			break;
		s++;
	}
	state_text = n > 1 ? parts[0] : default_state;
	config_text = n > 1 ? parts[1] : parts[0];
	if (oci_state_parse(state_text, &st, err, sizeof(err)) < 0) {
		free(buf);
		return 0;
	}

	memset(err, 'x', sizeof(err));
	r = oci_plan_build(&st, config_text, &p, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL, "oci_plan_build returned %d", r);
	if (r < 0) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0], "a refusal without a reason");
		FUZZ_CHECK(p.n_volumes == 0 && !p.volumes, "a refused plan has volumes");
		goto out;
	}
	config = json_loads(config_text, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(config), "built, but jansson reads no object");
	check_plan(&p, &st, config);

	if (p.need_maps) {
		struct vs_idmap u = {0}, g = {0};

		(void)vs_idmap_parse_text(n > 2 ? parts[2] : "0 524288 65536", &u);
		(void)vs_idmap_parse_text(n > 3 ? parts[3] : "0 524288 65536", &g);
		memset(err, 'x', sizeof(err));
		r = oci_plan_set_maps(&p, &u, &g, err, sizeof(err));
		FUZZ_CHECK(r == 0 || r == -EINVAL, "oci_plan_set_maps returned %d", r);
		if (r == 0) {
			FUZZ_CHECK(p.have_maps && !p.need_maps, "set_maps left the flags");
			FUZZ_CHECK(!memcmp(&p.uid_map, &u, sizeof(u)) &&
			               !memcmp(&p.gid_map, &g, sizeof(g)),
			           "set_maps did not take the maps");
			check_plan(&p, &st, config);
		} else {
			FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0],
			           "a refusal without a reason");
			FUZZ_CHECK(vs_idmap_validate(&u, NULL) < 0 ||
			               vs_idmap_validate(&g, NULL) < 0 || p.n_volumes > 0,
			           "valid maps refused with no volume to blame: %s", err);
		}
	}
	json_decref(config);
	oci_plan_free(&p);
out:
	oci_state_free(&st);
	free(buf);
	return 0;
}
