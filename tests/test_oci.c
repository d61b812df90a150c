/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: the OCI hook's parsing (src/cli/oci.c), pure: state JSON,
 * config.json and io.volshift.* annotations into a plan, with good and bad
 * inputs. No root, no files.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* oci.c is a pure parser of the CLI; compile it into this test. */
#include "../src/cli/oci.c"

#define BUNDLE "/run/bundles/c1"

static char err[512];

/* A state as runc hands it to a createRuntime hook. */
static const char *state_with(const char *annotations)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	         "{\"ociVersion\":\"1.0.2-dev\",\"id\":\"c1\",\"status\":\"creating\","
	         "\"pid\":4242,\"bundle\":\"" BUNDLE "\"%s%s}",
	         annotations ? ",\"annotations\":" : "", annotations ? annotations : "");
	return buf;
}

/* A config.json: a user namespace 0 524288 65536, bind mounts at /data,
 * /cache (relative source), /ro (read-only), a tmpfs at /tmp. */
static const char *config_with(const char *annotations, const char *linux_extra)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf),
	         "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
	         "\"mounts\":["
	         "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	         "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
	         "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/vol\","
	         "\"options\":[\"rbind\",\"rw\"]},"
	         "{\"destination\":\"/cache/\",\"source\":\"cache\",\"options\":[\"bind\"]},"
	         "{\"destination\":\"/ro\",\"type\":\"none\",\"source\":\"/srv/ro\","
	         "\"options\":[\"rbind\",\"ro\"]}"
	         "],"
	         "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"user\"}]%s%s}"
	         "%s%s}",
	         linux_extra ? "," : "", linux_extra ? linux_extra : "",
	         annotations ? ",\"annotations\":" : "", annotations ? annotations : "");
	return buf;
}

#define MAPS                                                                                       \
	"\"uidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":65536}],"                  \
	"\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":65536}]"

static void parse_state(const char *text, struct oci_state *st)
{
	int r = oci_state_parse(text, st, err, sizeof(err));

	cr_assert_eq(r, 0, "state should parse: %s", err);
}

/* Builds a plan from a state's and a config's annotations; returns r. */
static int plan(const char *state_ann, const char *config_ann, const char *linux_extra,
                struct oci_plan *p)
{
	struct oci_state st;
	int r;

	parse_state(state_with(state_ann), &st);
	err[0] = '\0';
	r = oci_plan_build(&st, config_with(config_ann, linux_extra), p, err, sizeof(err));
	oci_state_free(&st);
	return r;
}

static void plan_fails(const char *state_ann, const char *linux_extra, const char *needle)
{
	struct oci_plan p;
	int r = plan(state_ann, NULL, linux_extra, &p);

	cr_assert_eq(r, -EINVAL, "annotations %s should be refused", state_ann);
	cr_assert_eq(p.n_volumes, 0);
	cr_assert(strstr(err, needle), "reason '%s' should name '%s'", err, needle);
}

/* ------------------------------------------------------------------ state */

Test(oci_state, runc_state)
{
	struct oci_state st;

	parse_state(state_with("{\"io.volshift.shift\":\"/data\",\"other\":\"x\"}"), &st);
	cr_assert_str_eq(st.oci_version, "1.0.2-dev");
	cr_assert_str_eq(st.id, "c1");
	cr_assert_str_eq(st.status, "creating");
	cr_assert_str_eq(st.bundle, BUNDLE);
	cr_assert_eq(st.pid, 4242);
	cr_assert(json_is_object(st.annotations));
	cr_assert_str_eq(json_string_value(json_object_get(st.annotations, "io.volshift.shift")),
	                 "/data");
	oci_state_free(&st);
}

Test(oci_state, minimal_state)
{
	struct oci_state st;

	parse_state("{\"ociVersion\":\"1.0.0\",\"id\":\"x\",\"bundle\":\"/b\"}", &st);
	cr_assert_eq(st.pid, 0);
	cr_assert_null(st.status);
	cr_assert_null(st.annotations);
	oci_state_free(&st);
}

Test(oci_state, bad_states)
{
	static const struct {
		const char *text, *needle;
	} bad[] = {
	    {"", "not valid JSON"},
	    {"{\"ociVersion\":", "not valid JSON"},
	    {"[1,2]", "not a JSON object"},
	    {"\"x\"", "not valid JSON"}, /* jansson refuses a bare string at top level */
	    {"{\"id\":\"x\",\"bundle\":\"/b\"}", "ociVersion"},
	    {"{\"ociVersion\":\"1\",\"bundle\":\"/b\"}", "'id' is missing"},
	    {"{\"ociVersion\":\"1\",\"id\":\"\",\"bundle\":\"/b\"}", "'id' is empty"},
	    {"{\"ociVersion\":\"1\",\"id\":7,\"bundle\":\"/b\"}", "'id' is not a string"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\"}", "'bundle' is missing"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\",\"bundle\":\"b\"}", "not an absolute path"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\",\"bundle\":\"/b\",\"pid\":-1}", "pid"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\",\"bundle\":\"/b\",\"pid\":\"1\"}", "pid"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\",\"bundle\":\"/b\",\"pid\":1.5}", "pid"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\",\"bundle\":\"/b\",\"status\":3}", "status"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\",\"bundle\":\"/b\",\"annotations\":[]}",
	     "annotations"},
	    {"{\"ociVersion\":\"1\",\"id\":\"x\",\"id\":\"y\",\"bundle\":\"/b\"}",
	     "not valid JSON"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct oci_state st;

		err[0] = '\0';
		cr_assert_eq(oci_state_parse(bad[i].text, &st, err, sizeof(err)), -EINVAL,
		             "state %s should be refused", bad[i].text);
		cr_assert(strstr(err, bad[i].needle), "reason '%s' should name '%s'", err,
		          bad[i].needle);
		cr_assert_null(st.id);
	}
	cr_assert_eq(oci_state_parse(NULL, &(struct oci_state){0}, err, sizeof(err)), -EINVAL);
}

/* ------------------------------------------------------------------ paths */

Test(oci_path, clean)
{
	static const char *const good[][2] = {
	    {"/data", "/data"}, {"/data/", "/data"}, {"//a//b/./c/", "/a/b/c"},
	    {"/", "/"},         {"/./", "/"},        {"/a/.b/..c", "/a/.b/..c"},
	};
	static const char *const bad[] = {"data", "", "./data", "/a/../b", "/..", NULL};
	char *out;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(oci_clean_path(good[i][0], &out), 0);
		cr_assert_str_eq(out, good[i][1], "clean(%s)", good[i][0]);
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(oci_clean_path(bad[i], &out), -EINVAL, "clean(%s)",
		             bad[i] ? bad[i] : "NULL");
		cr_assert_null(out);
	}
}

/* ------------------------------------------------------------------ plans */

Test(oci_plan, shift_two_volumes)
{
	struct oci_plan p;
	struct vs_job job;
	uint32_t id;

	cr_assert_eq(plan("{\"io.volshift.shift\":\" /data/ ,/cache\"}", NULL, MAPS, &p), 0, "%s",
	             err);
	cr_assert_eq(p.policy, VS_POLICY_ON_ROOT_MISMATCH, "the default policy");
	cr_assert(p.have_maps);
	cr_assert_not(p.need_maps);
	cr_assert_eq(p.n_volumes, 2);
	cr_assert_eq(p.volumes[0].mode, VS_MODE_SHIFT);
	cr_assert_str_eq(p.volumes[0].destination, "/data");
	cr_assert_str_eq(p.volumes[0].source, "/srv/vol");
	cr_assert_str_eq(p.volumes[1].destination, "/cache");
	cr_assert_str_eq(p.volumes[1].source, BUNDLE "/cache", "relative to the bundle");

	oci_plan_job(&p, 0, &job);
	cr_assert_eq(job.mode, VS_MODE_SHIFT);
	cr_assert_str_eq(job.path, "/srv/vol");
	cr_assert_eq(job.policy, VS_POLICY_ON_ROOT_MISMATCH);
	cr_assert_eq(job.uid_map.n, 1);
	cr_assert_eq(job.gid_map.n, 1);
	cr_assert(vs_idmap_map(&job.uid_map, 0, &id));
	cr_assert_eq(id, 524288);
	cr_assert(vs_idmap_map(&job.gid_map, 1000, &id));
	cr_assert_eq(id, 525288);
	cr_assert_not(vs_idmap_map(&job.uid_map, 65536, &id));
	oci_plan_free(&p);
}

Test(oci_plan, fsgroup_gid_mapped_into_range)
{
	struct oci_plan p;
	struct vs_job job;

	cr_assert_eq(plan("{\"io.volshift.fsgroup\":\"1000\",\"io.volshift.fsgroup.paths\":"
	                  "\"/data,/ro\",\"io.volshift.policy\":\"always\"}",
	                  NULL, MAPS, &p),
	             0, "%s", err);
	cr_assert_eq(p.policy, VS_POLICY_ALWAYS);
	cr_assert_eq(p.n_volumes, 2);
	cr_assert_eq(p.volumes[0].mode, VS_MODE_FSGROUP);
	cr_assert_eq(p.volumes[0].container_gid, 1000);
	cr_assert_eq(p.volumes[0].gid, 525288);
	cr_assert_not(p.volumes[0].read_only);
	cr_assert(p.volumes[1].read_only, "the /ro mount is read-only");

	oci_plan_job(&p, 1, &job);
	cr_assert_eq(job.mode, VS_MODE_FSGROUP);
	cr_assert_eq(job.gid, 525288);
	cr_assert(job.read_only);
	cr_assert_str_eq(job.path, "/srv/ro");
	cr_assert_eq(job.policy, VS_POLICY_ALWAYS);
	oci_plan_free(&p);
}

Test(oci_plan, shift_and_fsgroup_together)
{
	struct oci_plan p;

	cr_assert_eq(plan("{\"io.volshift.shift\":\"/data\",\"io.volshift.fsgroup\":\"5\","
	                  "\"io.volshift.fsgroup.paths\":\"/cache\"}",
	                  NULL, MAPS, &p),
	             0, "%s", err);
	cr_assert_eq(p.n_volumes, 2);
	cr_assert_eq(p.volumes[0].mode, VS_MODE_SHIFT);
	cr_assert_eq(p.volumes[1].mode, VS_MODE_FSGROUP);
	cr_assert_eq(p.volumes[1].gid, 524293);
	oci_plan_free(&p);
}

Test(oci_plan, annotations_from_config_and_state_first)
{
	struct oci_plan p;

	/* only in config.json */
	cr_assert_eq(plan(NULL, "{\"io.volshift.shift\":\"/data\"}", MAPS, &p), 0, "%s", err);
	cr_assert_eq(p.n_volumes, 1);
	cr_assert_str_eq(p.volumes[0].destination, "/data");
	oci_plan_free(&p);

	/* the state's value wins over config.json's */
	cr_assert_eq(plan("{\"io.volshift.shift\":\"/cache\"}",
	                  "{\"io.volshift.shift\":\"/data\",\"io.volshift.policy\":\"always\"}",
	                  MAPS, &p),
	             0, "%s", err);
	cr_assert_eq(p.n_volumes, 1);
	cr_assert_str_eq(p.volumes[0].destination, "/cache");
	cr_assert_eq(p.policy, VS_POLICY_ALWAYS, "keys missing from the state come from config");
	oci_plan_free(&p);
}

Test(oci_plan, nothing_selected)
{
	struct oci_plan p;

	cr_assert_eq(plan(NULL, NULL, NULL, &p), 0, "%s", err);
	cr_assert_eq(p.n_volumes, 0);
	cr_assert_eq(
	    plan("{\"other.key\":\"1\",\"io.volshift.policy\":\"always\"}", NULL, NULL, &p), 0,
	    "%s", err);
	cr_assert_eq(p.n_volumes, 0);
	oci_plan_free(&p);
}

Test(oci_plan, last_mount_at_a_destination_wins)
{
	struct oci_state st;
	struct oci_plan p;
	const char *config =
	    "{\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/a\"},"
	    "{\"destination\":\"//data/\",\"type\":\"bind\",\"source\":\"/b\"}],"
	    "\"linux\":{\"namespaces\":[{\"type\":\"user\"}]," MAPS "}}";

	parse_state(state_with("{\"io.volshift.shift\":\"/data\"}"), &st);
	cr_assert_eq(oci_plan_build(&st, config, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.n_volumes, 1);
	cr_assert_str_eq(p.volumes[0].source, "/b");
	oci_plan_free(&p);
	oci_state_free(&st);
}

Test(oci_plan, fsgroup_without_user_namespace_keeps_gid)
{
	struct oci_state st;
	struct oci_plan p;
	const char *config =
	    "{\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/a\"}]}";

	parse_state(state_with("{\"io.volshift.fsgroup\":\"1000\","
	                       "\"io.volshift.fsgroup.paths\":\"/data\"}"),
	            &st);
	cr_assert_eq(oci_plan_build(&st, config, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.n_volumes, 1);
	cr_assert_eq(p.volumes[0].gid, 1000);
	oci_plan_free(&p);

	/* but shift needs a namespace to shift onto */
	oci_state_free(&st);
	parse_state(state_with("{\"io.volshift.shift\":\"/data\"}"), &st);
	cr_assert_eq(oci_plan_build(&st, config, &p, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no user namespace"), "%s", err);
	oci_state_free(&st);
}

Test(oci_plan, joined_namespace_takes_maps_later)
{
	struct oci_state st;
	struct oci_plan p;
	struct vs_idmap u = {0}, g = {0};
	struct vs_idmap_range r = {.from = 0, .to = 1 << 20, .len = 65536};
	const char *config =
	    "{\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/a\"}],"
	    "\"linux\":{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"}]}}";

	vs_idmap_add(&u, &r);
	vs_idmap_add(&g, &r);
	parse_state(state_with("{\"io.volshift.fsgroup\":\"7\","
	                       "\"io.volshift.fsgroup.paths\":\"/data\"}"),
	            &st);
	cr_assert_eq(oci_plan_build(&st, config, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert(p.need_maps);
	cr_assert_not(p.have_maps);
	cr_assert_eq(oci_plan_set_maps(&p, &u, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert(p.have_maps);
	cr_assert_eq(p.volumes[0].gid, (1u << 20) + 7);
	oci_plan_free(&p);

	/* a GID the joined namespace does not map */
	oci_state_free(&st);
	parse_state(state_with("{\"io.volshift.fsgroup\":\"70000\","
	                       "\"io.volshift.fsgroup.paths\":\"/data\"}"),
	            &st);
	cr_assert_eq(oci_plan_build(&st, config, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(oci_plan_set_maps(&p, &u, &g, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "outside"), "%s", err);
	oci_plan_free(&p);
	oci_state_free(&st);
}

Test(oci_plan, bad_annotations)
{
	plan_fails("{\"io.volshift.polcy\":\"always\"}", MAPS, "unknown annotation");
	plan_fails("{\"io.volshift.shift\":\"/data\",\"io.volshift.policy\":\"sometimes\"}", MAPS,
	           "io.volshift.policy");
	plan_fails("{\"io.volshift.shift\":\"/data\",\"io.volshift.policy\":\"\"}", MAPS,
	           "io.volshift.policy");
	plan_fails("{\"io.volshift.shift\":7}", MAPS, "not a string");
	plan_fails("{\"io.volshift.shift\":\"\"}", MAPS, "empty entry");
	plan_fails("{\"io.volshift.shift\":\"/data,,/cache\"}", MAPS, "empty entry");
	plan_fails("{\"io.volshift.shift\":\"/data,\"}", MAPS, "empty entry");
	plan_fails("{\"io.volshift.shift\":\"data\"}", MAPS, "not an absolute path");
	plan_fails("{\"io.volshift.shift\":\"/data/../etc\"}", MAPS, "not an absolute path");
	plan_fails("{\"io.volshift.shift\":\"/data,/data/\"}", MAPS, "more than once");
	plan_fails("{\"io.volshift.shift\":\"/nope\"}", MAPS, "no mount at '/nope'");
	plan_fails("{\"io.volshift.shift\":\"/tmp\"}", MAPS, "not a bind mount");
	plan_fails("{\"io.volshift.shift\":\"/proc\"}", MAPS, "not a bind mount");
	plan_fails("{\"io.volshift.fsgroup\":\"1000\"}", MAPS, "io.volshift.fsgroup.paths");
	plan_fails("{\"io.volshift.fsgroup.paths\":\"/data\"}", MAPS, "io.volshift.fsgroup");
	plan_fails("{\"io.volshift.fsgroup\":\"abc\",\"io.volshift.fsgroup.paths\":\"/data\"}",
	           MAPS, "not a GID");
	plan_fails("{\"io.volshift.fsgroup\":\"-1\",\"io.volshift.fsgroup.paths\":\"/data\"}", MAPS,
	           "not a GID");
	plan_fails("{\"io.volshift.fsgroup\":\"\",\"io.volshift.fsgroup.paths\":\"/data\"}", MAPS,
	           "not a GID");
	plan_fails("{\"io.volshift.fsgroup\":\"4294967296\",\"io.volshift.fsgroup.paths\":"
	           "\"/data\"}",
	           MAPS, "not a GID");
	plan_fails("{\"io.volshift.fsgroup\":\"4294967295\",\"io.volshift.fsgroup.paths\":"
	           "\"/data\"}",
	           MAPS, "not a GID");
	plan_fails("{\"io.volshift.fsgroup\":\"65536\",\"io.volshift.fsgroup.paths\":\"/data\"}",
	           MAPS, "outside the container's gidMappings");
	plan_fails("{\"io.volshift.shift\":\"/data\",\"io.volshift.fsgroup\":\"5\","
	           "\"io.volshift.fsgroup.paths\":\"/data\"}",
	           MAPS, "more than once");
}

Test(oci_plan, bad_config)
{
	static const char *const ann = "{\"io.volshift.shift\":\"/data\"}";
	static const struct {
		const char *linux_extra, *needle;
	} bad[] = {
	    {NULL, "without linux.uidMappings"},
	    {"\"uidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":65536}]",
	     "without linux.gidMappings"},
	    {"\"uidMappings\":{},\"gidMappings\":[]", "not an array"},
	    {"\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":65536}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":65536}]",
	     "linux.uidMappings"},
	    {"\"uidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":0}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "size is 0"},
	    {"\"uidMappings\":[{\"containerID\":0,\"hostID\":-5,\"size\":1}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "hostID"},
	    {"\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967296,\"size\":1}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "out of 0..4294967295"},
	    {"\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967295,\"size\":2}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "runs past"},
	    {"\"uidMappings\":[{\"containerID\":\"0\",\"hostID\":524288,\"size\":1}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "containerID is not an integer"},
	    {"\"uidMappings\":[{\"hostID\":524288,\"size\":1}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "containerID is missing"},
	    {"\"uidMappings\":[7],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "not an object"},
	    {"\"uidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":10},"
	     "{\"containerID\":5,\"hostID\":600000,\"size\":10}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":524288,\"size\":1}]",
	     "linux.uidMappings"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		plan_fails(ann, bad[i].linux_extra, bad[i].needle);
}

Test(oci_plan, bad_config_documents)
{
	static const struct {
		const char *config, *needle;
	} bad[] = {
	    {"", "not valid JSON"},
	    {"{\"mounts\":", "not valid JSON"},
	    {"[]", "not a JSON object"},
	    {"{\"mounts\":{}}", "'mounts' is not an array"},
	    {"{\"mounts\":[1]}", "mounts[0] is not an object"},
	    {"{\"mounts\":[{\"type\":\"bind\",\"source\":\"/a\"}]}", "destination"},
	    {"{\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":1}]}", "source"},
	    {"{\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"options\":\"ro\"}]}",
	     "options"},
	    {"{\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\"}]}", "has no source"},
	    {"{\"linux\":[]}", "'linux' is not an object"},
	    {"{\"annotations\":[]}", "'annotations' is not an object"},
	    {"{\"annotations\":{\"io.volshift.shfit\":\"/data\"}}", "unknown annotation"},
	    {"{\"linux\":{\"namespaces\":{}}}", "linux.namespaces"},
	};
	struct oci_state st;

	parse_state(state_with("{\"io.volshift.shift\":\"/data\"}"), &st);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct oci_plan p;

		err[0] = '\0';
		cr_assert_eq(oci_plan_build(&st, bad[i].config, &p, err, sizeof(err)), -EINVAL,
		             "config %s should be refused", bad[i].config);
		cr_assert(strstr(err, bad[i].needle), "reason '%s' should name '%s'", err,
		          bad[i].needle);
		cr_assert_eq(p.n_volumes, 0);
	}
	oci_state_free(&st);
}

/* ---------------------------------------------------------------- sources */

Test(oci_source, system_paths_refused)
{
	static const char *const refused[] = {"/",          "/etc",     "/usr",     "/var/lib",
	                                      "/proc/1",    "/sys",     "/dev/shm", "/proc",
	                                      "/usr/local", "relative", ""};
	static const char *const allowed[] = {"/etc/app", "/srv/vol", "/devices", "/var/lib/x",
	                                      "/tmp/volshift-1/vol"};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		err[0] = '\0';
		cr_assert_lt(oci_source_allowed(refused[i], NULL, 0, err, sizeof(err)), 0, "%s",
		             refused[i]);
		cr_assert(strstr(err, refused[i]), "reason '%s' names the path", err);
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		cr_assert_eq(oci_source_allowed(allowed[i], NULL, 0, err, sizeof(err)), 0, "%s: %s",
		             allowed[i], err);
}

Test(oci_source, allow_list_on_component_boundaries)
{
	char *allow[] = {"/var/lib/kubelet/pods/", "/srv/volumes"};
	char *root[] = {"/"};

	cr_assert_eq(
	    oci_source_allowed("/var/lib/kubelet/pods/u1/volumes/v", allow, 2, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(oci_source_allowed("/var/lib/kubelet/pods", allow, 2, err, sizeof(err)), 0);
	cr_assert_eq(oci_source_allowed("/srv/volumes/a", allow, 2, err, sizeof(err)), 0);
	cr_assert_eq(oci_source_allowed("/var/lib/kubelet/podsx", allow, 2, err, sizeof(err)),
	             -EPERM);
	cr_assert_eq(oci_source_allowed("/var/lib/kubelet", allow, 2, err, sizeof(err)), -EPERM);
	cr_assert_eq(oci_source_allowed("/srv/volumes-other", allow, 2, err, sizeof(err)), -EPERM);
	cr_assert(strstr(err, "--allow-source"), "%s", err);
	/* an allow list never lets a system directory through */
	cr_assert_eq(oci_source_allowed("/srv/x", root, 1, err, sizeof(err)), 0);
	cr_assert_eq(oci_source_allowed("/etc", root, 1, err, sizeof(err)), -EPERM);
}

/* found by tests/fuzz/fuzz_oci_path: the checks compared strings, so other
 * spellings of '/', a system directory or /proc passed */
Test(oci_source, other_spellings_refused)
{
	static const char *const refused[] = {
	    "//",      "//etc",        "/etc/",      "/./proc/1",   "/srv/../proc",
	    "/a//../", "/usr/./local", "/srv/vol/.", "/srv/vol/..", "/srv//vol",
	};
	char *allow[] = {"/srv/volumes"};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(oci_source_allowed(refused[i], NULL, 0, err, sizeof(err)), -EPERM,
		             "%s", refused[i]);
		cr_assert(strstr(err, refused[i]), "reason '%s' names the path", err);
	}
	cr_assert_eq(oci_source_allowed("/srv/volumes/../../etc", allow, 1, err, sizeof(err)),
	             -EPERM);
	cr_assert_eq(oci_source_allowed("/srv/volumes/a/..b", allow, 1, err, sizeof(err)), 0, "%s",
	             err);
}
