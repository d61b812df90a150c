/* SPDX-License-Identifier: Apache-2.0 */
/* volshift fsgroup: kubelet-compatible group ownership. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
	        "  --gid GID           the group (0..4294967294)\n"
	        "  --read-only         the read-only masks (0440, directories 02550)\n%s\n"
	        "Examples:\n"
	        "  volshift fsgroup --gid 2000 /var/lib/data\n"
	        "  volshift fsgroup --gid 2000 --policy=on-root-mismatch --json /var/lib/data\n\n"
	        "Exit status: 0 done or skipped, 1 some entries failed, 2 bad input (nothing\n"
	        "changed), 3 could not start.\n",
	        cli_common_help);
}

int cmd_fsgroup(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"gid", required_argument, NULL, OPT_GID},
	    {"read-only", no_argument, NULL, OPT_READ_ONLY},
	    CLI_COMMON_OPTIONS,
	    {0},
	};
	struct cli_common common = {0};
	struct vs_job job;
	bool have_gid = false;
	int c, e;

	vs_job_init(&job, VS_MODE_FSGROUP);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			help(stdout);
			return EXIT_DONE;
		case OPT_GID:
			e = vs_parse_u32(optarg, UINT32_MAX - 1, &job.gid);
			if (e < 0)
				return usage_error(
				    "invalid --gid '%s' (a number from 0 to 4294967294)", optarg);
			have_gid = true;
			break;
		case OPT_READ_ONLY:
			job.read_only = true;
			break;
		case ':':
		case '?':
			return cli_getopt_error(c, argv, "fsgroup");
		default:
			e = cli_common_opt(c, optarg, &job, &common);
			if (e)
				return e;
		}
	}
	if (!have_gid)
		return usage_error("fsgroup needs --gid GID");
	if (optind != argc - 1)
		return usage_error(optind == argc ? "fsgroup needs a PATH"
		                                  : "fsgroup takes exactly one PATH");
	job.path = argv[optind];
	return cli_run_job(&job, &common);
}
