/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's map building: cli_map_opt for each --map, --uid-map, --gid-map,
 * --from-pid and --reverse of a command line, then cli_maps_finish, which
 * checks the sources, pairs the uid and gid maps, validates and reverses.
 *
 * Input: options, each an opcode byte (% 5: map, uid-map, gid-map,
 * from-pid, reverse) and its argument up to a NUL.
 *
 * Properties (against a reference here, built on vs_idmap_parse_range):
 * - cli_map_opt takes an option exactly when its argument parses and its
 *   map has room (VS_IDMAP_MAX), else says EXIT_BAD_INPUT, as the CLI then
 *   stops;
 * - cli_maps_finish accepts exactly one kind of map (--map; --uid-map with
 *   --gid-map; --from-pid), valid as vs_idmap_validate says, and then the
 *   job holds the ranges given, in order, swapped for --reverse, and both
 *   maps pass vs_idmap_validate;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int codes[OP_N] = {OPT_MAP, OPT_UID_MAP, OPT_GID_MAP, OPT_FROM_PID,
	                                OPT_REVERSE};
	char *buf = fuzz_strndup(data, size), *p = buf, *end = buf + size;
	struct vs_idmap want_u = {0}, want_g = {0};
	bool any_map = false, any_uid = false, any_gid = false, reverse = false;
	uint32_t pid = 0;
	struct cli_maps maps = {0};
	struct vs_job job;
	const char *why;
	int sources, e, n_opts = 0;
	bool ok = true;

	vs_job_init(&job, VS_MODE_SHIFT);
	while (p < end && n_opts++ < MAX_OPTS) {
		int op = (unsigned char)*p++ % OP_N;
		const char *arg = p;
		struct vs_idmap_range r;
		bool want_ok = true;

		p += strlen(p) + 1;
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
			want_ok = cli_parse_u32(arg, 0x7fffffff, &pid) == 0 && pid != 0;
			break;
		case OP_REVERSE:
			reverse = true;
			break;
		}
		e = cli_map_opt(codes[op], arg, &job, &maps);
		FUZZ_CHECK(e == (want_ok ? 0 : EXIT_BAD_INPUT), "option %d '%s': %d", op, arg, e);
		if (!want_ok) {
			ok = false;
			break;
		}
	}
	if (!ok)
		goto out;
	FUZZ_CHECK(maps.any_map == any_map && maps.any_uid == any_uid && maps.any_gid == any_gid &&
	               maps.reverse == reverse && maps.from_pid == (pid_t)pid,
	           "collected flags differ");
	FUZZ_CHECK(job.uid_map.n == want_u.n && job.gid_map.n == want_g.n &&
	               !memcmp(job.uid_map.r, want_u.r, want_u.n * sizeof(want_u.r[0])) &&
	               !memcmp(job.gid_map.r, want_g.r, want_g.n * sizeof(want_g.r[0])),
	           "collected %u/%u ranges, want %u/%u", job.uid_map.n, job.gid_map.n, want_u.n,
	           want_g.n);

	sources = any_map + (any_uid || any_gid) + (pid != 0);
	if (sources == 1 && pid != 0)
		goto out; /* reads /proc/PID */
	ok = sources == 1 && any_uid == any_gid && vs_idmap_validate(&want_u, &why) == 0 &&
	     vs_idmap_validate(&want_g, &why) == 0;
	e = cli_maps_finish(&job, &maps);
	FUZZ_CHECK(e == (ok ? 0 : EXIT_BAD_INPUT), "finish gives %d, want %s", e,
	           ok ? "success" : "a refusal");
	if (!ok)
		goto out;
	if (reverse) {
		vs_idmap_reverse(&want_u);
		vs_idmap_reverse(&want_g);
	}
	FUZZ_CHECK(!memcmp(&job.uid_map, &want_u, sizeof(want_u)) &&
	               !memcmp(&job.gid_map, &want_g, sizeof(want_g)),
	           "finished maps are not the ranges given%s", reverse ? ", reversed" : "");
	FUZZ_CHECK(vs_idmap_validate(&job.uid_map, &why) == 0 &&
	               vs_idmap_validate(&job.gid_map, &why) == 0,
	           "a finished map is invalid: %s", why);
	if (any_map)
		FUZZ_CHECK(!memcmp(&job.uid_map, &job.gid_map, sizeof(job.uid_map)),
		           "--map gave different uid and gid maps");
out:
	free(buf);
	return 0;
}
