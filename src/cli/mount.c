/* SPDX-License-Identifier: Apache-2.0 */
/* volshift mount: an idmapped bind mount, or the on-disk shift and a plain bind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	OPT_USERNS = OPT_OWN_BASE,
	OPT_FALLBACK,
	OPT_RECURSIVE,
	OPT_READ_ONLY,
};

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: volshift mount (--map F:T:L... | --uid-map/--gid-map ... | --from-pid PID |\n"
	    "                       --userns NSPATH) [--fallback=shift|fail] [--recursive]\n"
	    "                      [--read-only] [OPTION...] SOURCE TARGET\n"
	    "\n"
	    "Puts an idmapped bind mount of SOURCE at TARGET: files that SOURCE's disk\n"
	    "has owned by container IDs show with host IDs at TARGET. Nothing on disk\n"
	    "changes and the time does not grow with the tree. The map means what it\n"
	    "means for 'volshift shift': on-disk IDs in FROM appear as TO at TARGET\n"
	    "(IDs outside every FROM range show as nobody through an idmapped mount).\n"
	    "\n"
	    "Support is probed by making the idmapped mount, detached, and only then\n"
	    "is it moved onto TARGET. Where SOURCE's filesystem cannot be idmapped here\n"
	    "(ramfs, NFS, tmpfs before Linux 6.3, ...), the fallback shifts ownership\n"
	    "on disk with the same map, as 'volshift shift' does (policy, crash safety,\n"
	    "ACLs, file capabilities), then bind-mounts SOURCE at TARGET plainly. If the\n"
	    "shift leaves failed entries, TARGET is not mounted (exit 1); a re-run is safe.\n"
	    "\n"
	    "The user namespace (exactly one source):\n"
	    "  --map F:T:L, --uid-map, --gid-map\n"
	    "                       volshift makes a namespace with this map\n"
	    "  --from-pid PID       the user namespace of process PID\n"
	    "  --userns NSPATH      an existing user namespace file: /proc/PID/ns/user or\n"
	    "                       a bind mount of one (a pod sandbox's); for the\n"
	    "                       fallback its maps are read from the namespace itself\n"
	    "\n"
	    "Mount options:\n"
	    "  --fallback=shift     when SOURCE cannot be idmapped, shift on disk and bind\n"
	    "                       plainly (the default)\n"
	    "  --fallback=fail      exit 3 instead, naming the filesystem; nothing changes\n"
	    "  --recursive          take SOURCE's submounts along, idmapped too (one that\n"
	    "                       cannot be makes the whole mount fall back; the shift\n"
	    "                       then crosses into the submounts)\n"
	    "  --read-only          make the mount read-only\n"
	    "  --dry-run            probe only: mount nothing; with the fallback, count\n"
	    "                       what the shift would change\n"
	    "\n"
	    "SOURCE must be a directory and TARGET must exist. The JSON report says\n"
	    "method \"idmapped-mount\" or \"walk\", and for \"walk\" why: probe_errno and\n"
	    "fstype.\n"
	    "\n"
	    "%s\n%s\n"
	    "Exit status: 0 mounted (or dry run done), 1 the fallback shift left failed\n"
	    "entries (nothing mounted), 2 bad input (nothing changed), 3 could not start\n"
	    "(no idmapped mount with --fallback=fail, nothing changed).\n",
	    cli_map_help, cli_common_help);
}

/* The shared printer for errors, JSON and the fallback walk's summary, and
 * a line of its own saying what was mounted how. */
static void print_report(const struct vs_report *r, const struct vs_mount_job *job,
                         const struct cli_common *common)
{
	bool idmapped = r->method && !strcmp(r->method, "idmapped-mount");
	bool dry = job->shift.dry_run;
	struct cli_common c = *common;

	if (idmapped)
		c.quiet = true; /* the walk summary would only say "0 entries" */
	cli_print_report(r, &job->shift, &c);
	if (common->quiet || common->json)
		return;
	if (r->status != VS_STATUS_OK)
		return;
	if (idmapped)
		fprintf(stderr,
		        "volshift: %s '%s' at '%s': idmapped (%s)%s, nothing on disk changed, "
		        "in %.3f s\n",
		        dry ? "would mount" : "mounted", job->shift.path, job->target, r->fstype,
		        job->read_only ? ", read-only" : "", r->elapsed_s);
	else
		fprintf(stderr,
		        "volshift: %s cannot be idmapped here (%s): owners %s on disk; %s '%s' "
		        "at '%s' as a plain bind%s\n",
		        r->fstype, strerror(r->probe_errno), dry ? "would be shifted" : "shifted",
		        dry ? "would mount" : "mounted", job->shift.path, job->target,
		        job->read_only ? ", read-only" : "");
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"userns", required_argument, NULL, OPT_USERNS},
	    {"fallback", required_argument, NULL, OPT_FALLBACK},
	    {"recursive", no_argument, NULL, OPT_RECURSIVE},
	    {"read-only", no_argument, NULL, OPT_READ_ONLY},
	    CLI_COMMON_OPTIONS,
	    CLI_MAP_OPTIONS,
	    {0},
	};
	struct cli_common common = {0};
	struct cli_maps maps = {0};
	struct vs_mount_job *job;
	struct vs_report report;
	struct cli_progress progress;
	int opt, r;

	job = malloc(sizeof(*job));
	if (!job) {
		log_error("out of memory");
		return EXIT_NO_START;
	}
	vs_mount_job_init(job);

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		r = 0;
		switch (opt) {
		case 'h':
			help(stdout);
			free(job);
			return EXIT_DONE;
		case OPT_USERNS:
			job->userns_path = optarg;
			break;
		case OPT_FALLBACK:
			if (!strcmp(optarg, "shift"))
				job->fallback = VS_FALLBACK_SHIFT;
			else if (!strcmp(optarg, "fail"))
				job->fallback = VS_FALLBACK_FAIL;
			else
				r = usage_error("--fallback takes 'shift' or 'fail', not '%s'",
				                optarg);
			break;
		case OPT_RECURSIVE:
			job->recursive = true;
			break;
		case OPT_READ_ONLY:
			job->read_only = true;
			break;
		default:
			if (opt >= OPT_MAP_BASE && opt < OPT_OWN_BASE)
				r = cli_map_opt(opt, optarg, &job->shift, &maps);
			else if (opt >= OPT_COMMON_BASE && opt < OPT_MAP_BASE)
				r = cli_common_opt(opt, optarg, &job->shift, &common);
			else
				r = cli_getopt_error(opt, argv, "mount");
		}
		if (r) {
			free(job);
			return r;
		}
	}
	if (argc - optind != 2) {
		free(job);
		return usage_error("mount takes SOURCE and TARGET (see 'volshift mount --help')");
	}
	job->shift.path = argv[optind];
	job->target = argv[optind + 1];

	/* A namespace named by --userns or --from-pid is used as it is; its maps
	 * are read only if the fallback needs them, so a namespace whose maps a
	 * shift would refuse can still carry an idmapped mount. */
	bool named = job->userns_path || maps.from_pid;
	bool mapped = maps.any_map || maps.any_uid || maps.any_gid;
	if (!named && !mapped)
		r = usage_error("mount needs a user namespace: --map (or --uid-map and "
		                "--gid-map), --from-pid or --userns");
	else if (job->userns_path && maps.from_pid)
		r = usage_error("give --userns or --from-pid, not both");
	else if (named && mapped)
		r = usage_error("%s names the user namespace; give no map with it",
		                job->userns_path ? "--userns" : "--from-pid");
	else if (named && maps.reverse)
		r = usage_error("--reverse cannot turn an existing user namespace around");
	else if (named)
		job->from_pid = maps.from_pid;
	else
		r = cli_maps_finish(&job->shift, &maps);
	if (r) {
		free(job);
		return r;
	}

	cli_progress_attach(&job->shift, &common, &progress);
	vs_mount(job, &report);
	cli_progress_done(&progress);
	print_report(&report, job, &common);
	r = cli_exit_status(&report);
	vs_report_free(&report);
	free(job);
	return r;
}
