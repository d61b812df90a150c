/* SPDX-License-Identifier: Apache-2.0 */
/* volshift shift: remap ownership onto a user namespace's ID range. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: volshift shift (--map FROM:TO:LEN... | --uid-map F:T:L... --gid-map F:T:L...\n"
	    "                      | --from-pid PID) [--reverse] [OPTION...] PATH\n\n"
	    "Rewrites the owners of every entry of the tree at PATH so that a container whose\n"
	    "user namespace has this map sees them as before: an ID in a FROM range becomes\n"
	    "TO + (ID - FROM); IDs outside every FROM range stay and are counted as unmapped.\n"
	    "POSIX ACL entries and file capabilities (v3, rootid = the host ID of 0) are\n"
	    "remapped too; setuid, setgid and sticky bits are kept; hard links, re-runs and\n"
	    "runs after a crash are safe because FROM and TO ranges may not overlap.\n\n"
	    "%s%s\n"
	    "Examples:\n"
	    "  volshift shift --map 0:524288:65536 /var/lib/data\n"
	    "  volshift shift --map 0:524288:65536 --reverse /var/lib/data   # undo\n"
	    "  volshift shift --from-pid 4242 --policy=on-root-mismatch --json /data\n\n"
	    "Exit status: 0 done or skipped, 1 some entries failed, 2 bad input (nothing\n"
	    "changed), 3 could not start.\n",
	    cli_map_help, cli_common_help);
}

int cmd_shift(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    CLI_MAP_OPTIONS,
	    CLI_COMMON_OPTIONS,
	    {0},
	};
	struct cli_common common = {0};
	struct cli_maps maps = {0};
	struct vs_job job;
	int c, e;

	vs_job_init(&job, VS_MODE_SHIFT);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			help(stdout);
			return EXIT_DONE;
		case ':':
		case '?':
			return cli_getopt_error(c, argv, "shift");
		default:
			e = c >= OPT_MAP_BASE ? cli_map_opt(c, optarg, &job, &maps)
			                      : cli_common_opt(c, optarg, &job, &common);
			if (e)
				return e;
		}
	}
	e = cli_maps_finish(&job, &maps);
	if (e)
		return e;
	if (optind != argc - 1)
		return usage_error(optind == argc ? "shift needs a PATH"
		                                  : "shift takes exactly one PATH");
	job.path = argv[optind];
	return cli_run_job(&job, &common);
}
