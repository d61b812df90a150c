/* SPDX-License-Identifier: Apache-2.0 */
/* Options every subcommand shares, progress lines and the printed report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char cli_common_help[] =
    "  --policy=always|on-root-mismatch\n"
    "                      always (default) walks every time; on-root-mismatch skips the\n"
    "                      walk when the root already looks done (crash-safe: a killed\n"
    "                      run never leaves a root that looks done)\n"
    "  --dry-run           change nothing; report what would change\n"
    "  --jobs=N            worker threads (default: one per CPU; 32 on network and\n"
    "                      FUSE filesystems, where each call is a round trip)\n"
    "  --engine=auto|uring|sync\n"
    "                      how entries are stat'ed: io_uring batches or plain syscalls;\n"
    "                      auto picks (uring on network/FUSE filesystems)\n"
    "  --cross-mounts      enter other filesystems mounted below PATH (never proc, sysfs,\n"
    "                      cgroup, devpts and other pseudo-filesystems)\n"
    "  --no-xattrs         skip ACLs and file capabilities (for volumes known to have none)\n"
    "  --shard=K/N         do shard K (from 0) of a walk split over N processes or nodes\n"
    "                      that share the volume (a Kubernetes Indexed Job: K is\n"
    "                      $JOB_COMPLETION_INDEX); the last shard to finish sets the root\n"
    "  --shard-id=ID       tells this job from another with the same map or GID and N\n"
    "  --json              print one JSON report on stdout when done\n"
    "  --progress=auto|always|never\n"
    "                      auto: a live line on a terminal; otherwise a line after 30 s\n"
    "                      and then every 60 s\n"
    "  --quiet             no progress and no summary (errors are still printed)\n";

const char cli_map_help[] =
    "  --map FROM:TO:LEN   an ID range for both uids and gids (repeatable); FROM:TO:LEN is\n"
    "                      OCI's containerID:hostID:size; 'FROM TO LEN' works too\n"
    "  --uid-map FROM:TO:LEN, --gid-map FROM:TO:LEN\n"
    "                      separate uid and gid ranges (repeatable; give both)\n"
    "  --from-pid PID      use the maps of PID's user namespace (/proc/PID/uid_map, gid_map)\n"
    "  --reverse           swap FROM and TO: give a shifted tree back its original IDs\n";

int cli_common_opt(int opt, const char *arg, struct vs_job *job, struct cli_common *out)
{
	uint32_t n;

	switch (opt) {
	case OPT_POLICY:
		if (vs_policy_parse(arg, &job->policy) < 0)
			return usage_error("invalid --policy '%s' (always or on-root-mismatch)",
			                   arg);
		return 0;
	case OPT_DRY_RUN:
		job->dry_run = true;
		return 0;
	case OPT_JOBS:
		if (vs_parse_u32(arg, 256, &n) < 0 || n == 0)
			return usage_error("invalid --jobs '%s' (a number from 1 to 256)", arg);
		job->jobs = n;
		return 0;
	case OPT_CROSS_MOUNTS:
		job->cross_mounts = true;
		return 0;
	case OPT_JSON:
		out->json = true;
		return 0;
	case OPT_PROGRESS:
		if (!strcmp(arg, "auto"))
			out->progress = PROGRESS_AUTO;
		else if (!strcmp(arg, "always"))
			out->progress = PROGRESS_ALWAYS;
		else if (!strcmp(arg, "never"))
			out->progress = PROGRESS_NEVER;
		else
			return usage_error("invalid --progress '%s' (auto, always or never)", arg);
		return 0;
	case OPT_QUIET:
		out->quiet = true;
		return 0;
	case OPT_ENGINE:
		if (!strcmp(arg, "auto"))
			job->engine = VS_ENGINE_AUTO;
		else if (!strcmp(arg, "uring"))
			job->engine = VS_ENGINE_URING;
		else if (!strcmp(arg, "sync"))
			job->engine = VS_ENGINE_SYNC;
		else
			return usage_error("invalid --engine '%s' (auto, uring or sync)", arg);
		return 0;
	case OPT_NO_XATTRS:
		job->no_xattrs = true;
		return 0;
	case OPT_SHARD: {
		const char *slash = strchr(arg, '/');
		char k[16];

		if (!slash || (size_t)(slash - arg) >= sizeof(k))
			return usage_error("invalid --shard '%s' (K/N: shard K of N, K from 0)",
			                   arg);
		memcpy(k, arg, (size_t)(slash - arg));
		k[slash - arg] = '\0';
		if (vs_parse_u32(slash + 1, VS_SHARDS_MAX, &n) < 0 || n == 0 ||
		    vs_parse_u32(k, n - 1, &job->shard) < 0)
			return usage_error(
			    "invalid --shard '%s' (K/N: K from 0 to N-1, N from 1 to "
			    "%d)",
			    arg, VS_SHARDS_MAX);
		job->shards = n;
		return 0;
	}
	case OPT_SHARD_ID:
		job->shard_id = arg;
		return 0;
	}
	return usage_error("internal error: option %d not handled", opt);
}

static int add_range(struct vs_idmap *m, const char *opt, const char *arg)
{
	struct vs_idmap_range r;
	int e = vs_idmap_parse_range(arg, &r);

	if (e == -ERANGE)
		return usage_error("invalid %s '%s': IDs must stay within 0..4294967295", opt, arg);
	if (e < 0)
		return usage_error("invalid %s '%s' (expected FROM:TO:LENGTH, whole numbers, "
		                   "LENGTH > 0)",
		                   opt, arg);
	if (vs_idmap_add(m, &r) < 0)
		return usage_error("too many %s ranges (at most %d)", opt, VS_IDMAP_MAX);
	return 0;
}

int cli_map_opt(int opt, const char *arg, struct vs_job *job, struct cli_maps *maps)
{
	uint32_t pid;
	int e;

	switch (opt) {
	case OPT_MAP:
		maps->any_map = true;
		e = add_range(&job->uid_map, "--map", arg);
		if (e == 0)
			e = add_range(&job->gid_map, "--map", arg);
		return e;
	case OPT_UID_MAP:
		maps->any_uid = true;
		return add_range(&job->uid_map, "--uid-map", arg);
	case OPT_GID_MAP:
		maps->any_gid = true;
		return add_range(&job->gid_map, "--gid-map", arg);
	case OPT_FROM_PID:
		if (vs_parse_u32(arg, 0x7fffffff, &pid) < 0 || pid == 0)
			return usage_error("invalid --from-pid '%s' (a process ID)", arg);
		maps->from_pid = (pid_t)pid;
		return 0;
	case OPT_REVERSE:
		maps->reverse = true;
		return 0;
	}
	return usage_error("internal error: option %d not handled", opt);
}

int cli_maps_finish(struct vs_job *job, struct cli_maps *maps)
{
	int sources = !!maps->any_map + !!(maps->any_uid || maps->any_gid) + !!maps->from_pid;
	int e;

	if (sources == 0)
		return usage_error("no ID map: give --map, --uid-map and --gid-map, or --from-pid");
	if (sources > 1)
		return usage_error(
		    "give one kind of map: --map, --uid-map/--gid-map, or --from-pid");
	if ((maps->any_uid || maps->any_gid) && !(maps->any_uid && maps->any_gid))
		return usage_error("--uid-map and --gid-map go together (or use --map for both)");
	if (maps->from_pid) {
		e = vs_idmap_from_pid(maps->from_pid, &job->uid_map, &job->gid_map);
		if (e == -ESRCH)
			return usage_error("no process with PID %d", (int)maps->from_pid);
		if (e == -EINVAL)
			return usage_error(
			    "process %d is not in a user namespace with a usable map "
			    "(identity or overlapping ranges)",
			    (int)maps->from_pid);
		if (e < 0)
			return usage_error("cannot read the maps of PID %d: %s",
			                   (int)maps->from_pid, strerror(-e));
	}
	/* the maps' rules are checked once, by the library, with the job */
	if (maps->reverse) {
		vs_idmap_reverse(&job->uid_map);
		vs_idmap_reverse(&job->gid_map);
	}
	return 0;
}

/* ------------------------------------------------------------ progress */

static void on_progress(const struct vs_progress *p, void *userdata)
{
	struct cli_progress *ps = userdata;
	double rate = p->elapsed_s > 0 ? (double)p->entries / p->elapsed_s : 0;

	if (ps->tty) {
		fprintf(stderr,
		        "\r\033[Kvolshift: %llu entries (%.0f/s), %llu changed, %llu failed",
		        (unsigned long long)p->entries, rate, (unsigned long long)p->changed,
		        (unsigned long long)p->failed);
		ps->drew = true;
		return;
	}
	if (!ps->always && p->elapsed_s < ps->next_line)
		return;
	/* kubelet says the same on long walks: a log reader can tell it is alive */
	fprintf(stderr,
	        "volshift: %llu entries processed in %.0f s (%.0f/s), %llu changed, %llu failed\n",
	        (unsigned long long)p->entries, p->elapsed_s, rate, (unsigned long long)p->changed,
	        (unsigned long long)p->failed);
	ps->next_line = p->elapsed_s + 60;
}

int cli_exit_status(const struct vs_report *r)
{
	switch (r->status) {
	case VS_STATUS_OK:
	case VS_STATUS_PARTIAL:
	case VS_STATUS_BAD_INPUT:
	case VS_STATUS_CANNOT_START:
		return (int)r->status;
	}
	return EXIT_NO_START;
}

void cli_print_report(const struct vs_report *r, const struct vs_job *job,
                      const struct cli_common *common)
{
	char *json = NULL;

	if (r->status == VS_STATUS_BAD_INPUT || r->status == VS_STATUS_CANNOT_START)
		log_error("%s", r->message);
	if (common->json) {
		if (vs_report_json(r, job, &json) == 0) {
			puts(json);
			fflush(stdout);
			free(json);
		} else {
			log_error("cannot format the report: out of memory");
		}
	}
	if (r->status == VS_STATUS_BAD_INPUT || r->status == VS_STATUS_CANNOT_START)
		return;
	if (!common->json)
		for (unsigned i = 0; i < r->n_errors; i++)
			log_error("'%s': %s", r->errors[i].path ? r->errors[i].path : "?",
			          strerror(r->errors[i].err));
	if (r->status == VS_STATUS_PARTIAL && r->message[0])
		log_error("%s", r->message);
	if (common->quiet || common->json)
		return;
	if (r->skipped) {
		fprintf(stderr, "volshift: %s: root already matches (on-root-mismatch), skipped\n",
		        job->path);
		return;
	}
	fprintf(stderr,
	        "volshift: %s %s%s: %llu entries, %llu %s, %llu unmapped, %llu failed, "
	        "%llu ACLs, %llu capabilities, in %.2f s (%s, %u jobs, %s)\n",
	        vs_mode_name(job->mode), job->path, job->dry_run ? " (dry run)" : "",
	        (unsigned long long)r->entries, (unsigned long long)r->changed,
	        job->dry_run ? "would change" : "changed", (unsigned long long)r->unmapped,
	        (unsigned long long)r->failed, (unsigned long long)r->acls,
	        (unsigned long long)r->caps, r->elapsed_s, r->method ? r->method : "walk", r->jobs,
	        r->engine ? r->engine : "-");
	if (r->n_errors < r->failed)
		fprintf(stderr, "volshift: (%llu more failures not listed)\n",
		        (unsigned long long)(r->failed - r->n_errors));
	if (r->root_left_unmatched && r->failed)
		fprintf(stderr, "volshift: the root was left un-matched so that a later run redoes "
		                "the walk\n");
	if (r->skipped_mounts)
		fprintf(stderr, "volshift: %llu mount points not entered (see --cross-mounts)\n",
		        (unsigned long long)r->skipped_mounts);
}

void cli_progress_attach(struct vs_job *job, const struct cli_common *common,
                         struct cli_progress *ps)
{
	*ps = (struct cli_progress){.tty = isatty(STDERR_FILENO), .next_line = 30};
	ps->always = common->progress == PROGRESS_ALWAYS;
	if (common->quiet || common->progress == PROGRESS_NEVER)
		return;
	job->progress = on_progress;
	job->progress_userdata = ps;
	job->progress_interval_ms = ps->tty ? 250 : 1000;
}

void cli_progress_done(struct cli_progress *ps)
{
	if (ps->drew)
		fputs("\r\033[K", stderr);
	ps->drew = false;
}

int cli_run_job(struct vs_job *job, const struct cli_common *common)
{
	struct cli_progress ps;
	struct vs_report r;
	int status;

	cli_progress_attach(job, common, &ps);
	vs_run(job, &r);
	cli_progress_done(&ps);
	cli_print_report(&r, job, common);
	status = cli_exit_status(&r);
	vs_report_free(&r);
	return status;
}
