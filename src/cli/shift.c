/* SPDX-License-Identifier: Apache-2.0 */
/* volshift shift: remap ownership onto a user namespace's ID range. */
#include <stdio.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: volshift shift (--map FROM:TO:LEN... | --uid-map F:T:L... --gid-map F:T:L...\n"
	    "                      | --from-pid PID) [--reverse] [OPTION...] PATH\n\n"
	    "Rewrites the owners of every entry of the tree at PATH so that a container whose\n"
	    "user namespace has this map sees them as before: an ID in a FROM range becomes\n"
	    "TO + (ID - FROM); an ID outside every FROM range is left as it is (the report\n"
	    "counts the entries that have one as unmapped). POSIX ACL entries and file\n"
	    "capabilities (v3, rootid = the host ID of 0) are remapped too; setuid, setgid\n"
	    "and sticky bits are kept; hard links, re-runs and runs after a crash are safe\n"
	    "because FROM and TO ranges may not overlap.\n\n"
	    "%s%s%s\n"
	    "Examples:\n"
	    "  volshift shift --map 0:524288:65536 /var/lib/data\n"
	    "  volshift shift --map 0:524288:65536 --reverse /var/lib/data   # undo\n"
	    "  volshift shift --from-pid 4242 --policy=on-root-mismatch --json /data\n"
	    "  volshift shift --map 0:524288:65536 --shard \"$JOB_COMPLETION_INDEX/8\" /data\n\n"
	    "Exit status: 0 done or skipped, 1 some entries failed, 2 bad input (nothing\n"
	    "changed), 3 could not start.\n",
	    cli_map_help, cli_common_help, cli_shard_help);
}

int cmd_shift(int argc, char **argv)
{
	static const struct cli_syntax syntax = {
	    .name = "shift",
	    .shared = CLI_OPTS_COMMON | CLI_OPTS_MAPS | CLI_OPTS_SHARD,
	    .n_operands = 1,
	    .operands = "one PATH",
	    .help = help,
	};
	struct vs_job job;
	struct cli_args args = {.job = &job};
	int r;

	vs_job_init(&job, VS_MODE_SHIFT);
	r = cli_parse(argc, argv, &syntax, &args, NULL);
	if (r <= 0)
		return -r;
	r = cli_maps_finish(&job, &args.maps);
	if (r)
		return r;
	job.path = args.operands[0];
	return cli_run(&job, NULL, &args.common);
}
