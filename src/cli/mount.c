/* SPDX-License-Identifier: Apache-2.0 */
/* volshift mount: an idmapped bind mount, or the on-disk shift and a plain bind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "macros.h"

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

static int option(const struct option *o, const char *arg, void *userdata)
{
	static const char *const fallbacks[] = {"shift", "fail", NULL}; /* enum vs_fallback */
	struct vs_mount_job *job = userdata;
	int i, r;

	switch (o->val) {
	case OPT_USERNS:
		job->userns_path = arg;
		return 0;
	case OPT_FALLBACK:
		r = cli_choice("--fallback", arg, fallbacks, &i);
		job->fallback = r ? job->fallback : (enum vs_fallback)i;
		return r;
	case OPT_RECURSIVE:
		job->recursive = true;
		return 0;
	case OPT_READ_ONLY:
		job->read_only = true;
		return 0;
	}
	return usage_error("internal error: option %d not handled", o->val);
}

/*
 * The user namespace: a namespace named by --userns or --from-pid is used as
 * it is; its maps are read only if the fallback needs them, so a namespace
 * whose maps a shift would refuse can still carry an idmapped mount. Else
 * the maps given make one. 0 or EXIT_BAD_INPUT.
 */
static int pick_userns(struct vs_mount_job *job, struct cli_maps *maps)
{
	bool named = job->userns_path || maps->from_pid;
	bool mapped = maps->any_map || maps->any_uid || maps->any_gid;

	if (!named && !mapped)
		return usage_error("mount needs a user namespace: --map (or --uid-map and "
		                   "--gid-map), --from-pid or --userns");
	if (job->userns_path && maps->from_pid)
		return usage_error("give --userns or --from-pid, not both");
	if (named && mapped)
		return usage_error("%s names the user namespace; give no map with it",
		                   job->userns_path ? "--userns" : "--from-pid");
	if (named && maps->reverse)
		return usage_error("--reverse cannot turn an existing user namespace around");
	if (!named)
		return cli_maps_finish(&job->shift, maps);
	job->from_pid = maps->from_pid;
	return 0;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option options[] = {
	    {"userns", required_argument, NULL, OPT_USERNS},
	    {"fallback", required_argument, NULL, OPT_FALLBACK},
	    {"recursive", no_argument, NULL, OPT_RECURSIVE},
	    {"read-only", no_argument, NULL, OPT_READ_ONLY},
	    {0},
	};
	/* options_first, as since the first mount: SOURCE ends the options */
	static const struct cli_syntax syntax = {
	    .name = "mount",
	    .options = options,
	    .shared = CLI_OPTS_COMMON | CLI_OPTS_MAPS,
	    .options_first = true,
	    .n_operands = 2,
	    .operands = "SOURCE and TARGET",
	    .help = help,
	    .option = option,
	};
	_cleanup_free_ struct vs_mount_job *job = malloc(sizeof(*job));
	struct cli_args args;
	int r;

	if (!job) {
		log_error("out of memory");
		return EXIT_NO_START;
	}
	vs_mount_job_init(job);
	args = (struct cli_args){.job = &job->shift};
	r = cli_parse(argc, argv, &syntax, &args, job);
	if (r <= 0)
		return -r;
	job->shift.path = args.operands[0];
	job->target = args.operands[1];
	r = pick_userns(job, &args.maps);
	if (r)
		return r;
	return cli_run(NULL, job, &args.common);
}
