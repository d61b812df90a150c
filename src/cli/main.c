/* SPDX-License-Identifier: Apache-2.0 */
/* volshift: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct vs_cmd commands[] = {
    {"fsgroup", "give a tree to a group, as kubelet's fsGroup does", cmd_fsgroup},
    {"shift", "remap a tree's owners onto a user namespace's ID range", cmd_shift},
    {"mount", "idmapped bind mount; on-disk shift where it cannot be had", cmd_mount},
    {"oci-hook", "fix the volumes a container's annotations select (OCI hook)", cmd_oci_hook},
    {"install", "copy this binary and its hook description onto a host", cmd_install},
};

static void help(FILE *f)
{
	fprintf(f, "Usage: volshift SUBCOMMAND [OPTION...] PATH...\n\n"
	           "Fixes the ownership of a volume for a user-namespaced container.\n\n"
	           "Subcommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'volshift SUBCOMMAND --help' explains each one.\n"
	           "Exit status: 0 done or skipped, 1 finished with failed entries,\n"
	           "2 bad input (nothing changed), 3 could not start.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return help(stderr), EXIT_BAD_INPUT;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return help(stdout), EXIT_DONE;
	if (!strcmp(argv[1], "--version")) {
		printf("volshift %s\n", VS_VERSION);
		return EXIT_DONE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	return usage_error("unknown subcommand '%s' (see 'volshift --help')", argv[1]);
}
