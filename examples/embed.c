/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How a container runtime embeds libvolshift: before starting a
 * user-namespaced container, make its volume usable by the container's root.
 *
 *   embed [--map FROM:TO:LEN] [--always] VOLUME [TARGET]
 *
 * Probes whether VOLUME's filesystem takes an idmapped mount. With a TARGET
 * (an existing directory, e.g. in the container's rootfs) it mounts VOLUME
 * there: idmapped where it can, else shifted on disk and bind-mounted
 * plainly (vs_mount). Without one it shifts VOLUME on disk (vs_run), skipping
 * the walk when the volume is already on the container's range. Prints the
 * JSON report on stdout; the exit status is the report's status.
 *
 * Build: cc embed.c $(pkg-config --cflags --libs volshift)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <volshift.h>

static int usage(void)
{
	fprintf(stderr, "usage: embed [--map FROM:TO:LEN] [--always] VOLUME [TARGET]\n");
	return VS_STATUS_BAD_INPUT;
}

static int finish(struct vs_report *rep, const struct vs_job *job)
{
	int status = (int)rep->status;
	char *json;

	if (rep->message[0])
		fprintf(stderr, "embed: %s\n", rep->message);
	if (vs_report_json(rep, job, &json) == 0) {
		puts(json);
		free(json);
	}
	vs_report_free(rep);
	return status;
}

int main(int argc, char **argv)
{
	struct vs_idmap_range range = {.from = 0, .to = 524288, .len = 65536};
	enum vs_policy policy = VS_POLICY_ON_ROOT_MISMATCH;
	const char *volume, *target = NULL, *reason = NULL;
	struct vs_idmap map = {0};
	struct vs_report rep;
	int i = 1, r, probe_errno = 0;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--map") && i + 1 < argc) {
			r = vs_idmap_parse_range(argv[++i], &range);
			if (r < 0) {
				fprintf(stderr, "embed: bad map '%s': %s\n", argv[i], strerror(-r));
				return VS_STATUS_BAD_INPUT;
			}
		} else if (!strcmp(argv[i], "--always")) {
			policy = VS_POLICY_ALWAYS;
		} else {
			return usage();
		}
	}
	if (argc - i < 1 || argc - i > 2)
		return usage();
	volume = argv[i];
	if (argc - i == 2)
		target = argv[i + 1];

	if (vs_idmap_add(&map, &range) < 0 || vs_idmap_validate(&map, &reason) < 0) {
		fprintf(stderr, "embed: bad map: %s\n", reason ? reason : "too many ranges");
		return VS_STATUS_BAD_INPUT;
	}

	/* A runtime would pass the container's user namespace fd; -1 probes with
	 * a throwaway one, which answers the same question about the filesystem. */
	r = vs_idmap_supported(volume, -1, &probe_errno);
	if (r < 0)
		fprintf(stderr, "embed: cannot probe '%s': %s\n", volume, strerror(-r));
	else if (r == 1)
		fprintf(stderr, "embed: '%s' can be idmapped\n", volume);
	else
		fprintf(stderr, "embed: '%s' cannot be idmapped here (%s)\n", volume,
		        strerror(probe_errno));

	if (target) {
		struct vs_mount_job mj;

		vs_mount_job_init(&mj);
		mj.shift.path = volume;
		mj.shift.policy = policy;
		mj.shift.uid_map = map;
		mj.shift.gid_map = map;
		mj.target = target;
		mj.fallback = VS_FALLBACK_SHIFT;
		vs_mount(&mj, &rep);
		return finish(&rep, &mj.shift);
	}

	struct vs_job job;

	vs_job_init(&job, VS_MODE_SHIFT);
	job.path = volume;
	job.policy = policy;
	job.uid_map = map;
	job.gid_map = map;
	vs_run(&job, &rep);
	return finish(&rep, &job);
}
