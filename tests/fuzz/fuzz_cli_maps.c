/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's map building: cli_parse over a command line of --map,
 * --uid-map, --gid-map, --from-pid and --reverse options, then
 * cli_maps_finish, which checks the sources, pairs the uid and gid maps and
 * reverses, then vs_job_validate, the library's one check of the maps.
 *
 * Input: options, each an opcode byte (% 5: map, uid-map, gid-map,
 * from-pid, reverse) and its argument up to a NUL.
 *
 * Properties (against a reference here, built on vs_idmap_parse_range):
 * - cli_parse takes the line exactly when every argument parses and its map
 *   has room (VS_IDMAP_MAX), else says EXIT_BAD_INPUT;
 * - cli_maps_finish accepts exactly one kind of map (--map; --uid-map with
 *   --gid-map; --from-pid), and then the job holds the ranges given, in
 *   order, swapped for --reverse;
 * - vs_job_validate accepts exactly the maps vs_idmap_validate accepts;
 * - --map gives the same uid and gid maps.
 * A lone --from-pid is not finished: it reads /proc, which is no input.
 */
#include "cli.h"
#include "fuzz.h"

enum { OP_MAP, OP_UID, OP_GID, OP_PID, OP_REVERSE, OP_N };

#define MAX_OPTS 400

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* the CLI's usage errors go to the stderr stream: silence it (ASan and
	 * libFuzzer write to fd 2 themselves), and report on the real one */
	fuzz_log = stderr;
	stderr = fopen("/dev/null", "w");
	if (!stderr)
		abort();
	return 0;
}

static const struct cli_syntax syntax = {
    .name = "shift",
    .shared = CLI_OPTS_MAPS,
    .n_operands = 1,
    .operands = "one PATH",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[OP_N] = {"--map", "--uid-map", "--gid-map", "--from-pid",
	                                        "--reverse"};
	char *buf = fuzz_strndup(data, size), *p = buf, *end = buf + size;
	char *argv[2 * MAX_OPTS + 3];
	struct vs_idmap want_u = {0}, want_g = {0};
	bool any_map = false, any_uid = false, any_gid = false, reverse = false;
	uint32_t pid = 0;
	struct cli_args args = {0};
	struct vs_report rep;
	struct vs_job job;
	const char *why;
	int argc = 0, sources, e, n_opts = 0;
	bool want_ok = true;

	vs_job_init(&job, VS_MODE_SHIFT);
	args.job = &job;
	argv[argc++] = "shift";
	while (p < end && n_opts++ < MAX_OPTS) {
		int op = (unsigned char)*p++ % OP_N;
		char *arg = p;
		struct vs_idmap_range r;

		p += strlen(p) + 1;
		argv[argc++] = (char *)names[op];
		if (op != OP_REVERSE)
			argv[argc++] = arg;
		if (!want_ok)
			continue; /* the CLI stops at the first bad one */
		switch (op) {
		case OP_MAP:
			any_map = true;
			want_ok = vs_idmap_parse_range(arg, &r) == 0 &&
			          vs_idmap_add(&want_u, &r) == 0 && vs_idmap_add(&want_g, &r) == 0;
			break;
		case OP_UID:
			any_uid = true;
			want_ok =
			    vs_idmap_parse_range(arg, &r) == 0 && vs_idmap_add(&want_u, &r) == 0;
			break;
		case OP_GID:
			any_gid = true;
			want_ok =
			    vs_idmap_parse_range(arg, &r) == 0 && vs_idmap_add(&want_g, &r) == 0;
			break;
		case OP_PID:
			want_ok = vs_parse_u32(arg, 0x7fffffff, &pid) == 0 && pid != 0;
			break;
		case OP_REVERSE:
			reverse = true;
			break;
		}
	}
	argv[argc++] = "/the/path";
	argv[argc] = NULL;
	e = cli_parse(argc, argv, &syntax, &args, NULL);
	FUZZ_CHECK(e == (want_ok ? 1 : -EXIT_BAD_INPUT), "cli_parse gives %d, want %s", e,
	           want_ok ? "success" : "a refusal");
	if (!want_ok)
		goto out;
	FUZZ_CHECK(args.maps.any_map == any_map && args.maps.any_uid == any_uid &&
	               args.maps.any_gid == any_gid && args.maps.reverse == reverse &&
	               args.maps.from_pid == (pid_t)pid,
	           "collected flags differ");
	FUZZ_CHECK(job.uid_map.n == want_u.n && job.gid_map.n == want_g.n &&
	               !memcmp(job.uid_map.r, want_u.r, want_u.n * sizeof(want_u.r[0])) &&
	               !memcmp(job.gid_map.r, want_g.r, want_g.n * sizeof(want_g.r[0])),
	           "collected %u/%u ranges, want %u/%u", job.uid_map.n, job.gid_map.n, want_u.n,
	           want_g.n);

	sources = any_map + (any_uid || any_gid) + (pid != 0);
	if (sources == 1 && pid != 0)
		goto out; /* reads /proc/PID */
	want_ok = sources == 1 && any_uid == any_gid;
	e = cli_maps_finish(&job, &args.maps);
	FUZZ_CHECK(e == (want_ok ? 0 : EXIT_BAD_INPUT), "finish gives %d, want %s", e,
	           want_ok ? "success" : "a refusal");
	if (!want_ok)
		goto out;
	if (reverse) {
		vs_idmap_reverse(&want_u);
		vs_idmap_reverse(&want_g);
	}
	FUZZ_CHECK(!memcmp(&job.uid_map, &want_u, sizeof(want_u)) &&
	               !memcmp(&job.gid_map, &want_g, sizeof(want_g)),
	           "finished maps are not the ranges given%s", reverse ? ", reversed" : "");
	if (any_map)
		FUZZ_CHECK(!memcmp(&job.uid_map, &job.gid_map, sizeof(job.uid_map)),
		           "--map gave different uid and gid maps");
	/* the library's one check of the maps, as vs_run makes it */
	want_ok = vs_idmap_validate(&want_u, &why) == 0 && vs_idmap_validate(&want_g, &why) == 0;
	e = vs_job_validate(&job, &rep);
	FUZZ_CHECK((e == 0) == want_ok, "vs_job_validate gives %d, want %s", e,
	           want_ok ? "success" : "a refusal");
out:
	free(buf);
	return 0;
}
