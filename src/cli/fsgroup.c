/* SPDX-License-Identifier: Apache-2.0 */
/* volshift fsgroup: kubelet-compatible group ownership. */
#include <stdio.h>

#include "cli.h"

enum { OPT_GID = OPT_OWN_BASE, OPT_READ_ONLY };

static void help(FILE *f)
{
	fprintf(f,
	        "Usage: volshift fsgroup --gid GID [--read-only] [OPTION...] PATH\n\n"
	        "Gives every entry of the tree at PATH to group GID, as kubelet's fsGroup does:\n"
	        "the group becomes GID (the owner stays), files get mode |= 0660 and directories\n"
	        "|= 02770 (with --read-only: 0440 and 02550); symlinks only change group.\n"
	        "setuid, setgid and sticky bits and file capabilities are kept. The root is\n"
	        "changed last; symlinks are never followed.\n\n"
	        "Programs that check modes refuse what fsgroup leaves, as they refuse\n"
	        "kubelet's fsGroup: PostgreSQL does not start on a data directory that is\n"
	        "not 0700 or 0750 (data directory \"...\" has invalid permissions), OpenSSH\n"
	        "refuses group-readable private keys and a group-writable ~/.ssh. For such\n"
	        "volumes move the owners and keep the modes: 'volshift shift' (on disk) or\n"
	        "'volshift mount' (an idmapped mount; nothing on disk changes).\n\n"
	        "  --gid GID           the group (0..4294967294)\n"
	        "  --read-only         the read-only masks (0440, directories 02550)\n%s%s\n"
	        "Examples:\n"
	        "  volshift fsgroup --gid 2000 /var/lib/data\n"
	        "  volshift fsgroup --gid 2000 --policy=on-root-mismatch --json /var/lib/data\n"
	        "  volshift fsgroup --gid 2000 --shard \"$JOB_COMPLETION_INDEX/8\" /data\n\n"
	        "Exit status: 0 done or skipped, 1 some entries failed, 2 bad input (nothing\n"
	        "changed), 3 could not start.\n",
	        cli_common_help, cli_shard_help);
}

struct fsgroup {
	struct vs_job job;
	bool have_gid;
};

static int option(const struct option *o, const char *arg, void *userdata)
{
	struct fsgroup *f = userdata;

	if (o->val == OPT_READ_ONLY) {
		f->job.read_only = true;
		return 0;
	}
	if (vs_parse_u32(arg, UINT32_MAX - 1, &f->job.gid) < 0)
		return usage_error("invalid --gid '%s' (a number from 0 to 4294967294)", arg);
	f->have_gid = true;
	return 0;
}

int cmd_fsgroup(int argc, char **argv)
{
	static const struct option options[] = {
	    {"gid", required_argument, NULL, OPT_GID},
	    {"read-only", no_argument, NULL, OPT_READ_ONLY},
	    {0},
	};
	static const struct cli_syntax syntax = {
	    .name = "fsgroup",
	    .options = options,
	    .shared = CLI_OPTS_COMMON | CLI_OPTS_SHARD,
	    .n_operands = 1,
	    .operands = "one PATH",
	    .help = help,
	    .option = option,
	};
	struct fsgroup f = {0};
	struct cli_args args = {.job = &f.job};
	int r;

	vs_job_init(&f.job, VS_MODE_FSGROUP);
	r = cli_parse(argc, argv, &syntax, &args, &f);
	if (r <= 0)
		return -r;
	if (!f.have_gid)
		return usage_error("fsgroup needs --gid GID");
	f.job.path = args.operands[0];
	return cli_run(&f.job, NULL, &args.common);
}
