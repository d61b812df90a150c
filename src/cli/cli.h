/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's shared pieces: subcommand table, the option loop, progress, printing. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "volshift.h"

/* Exit statuses; the same numbers as enum vs_status. */
#define EXIT_DONE      0
#define EXIT_PARTIAL   1
#define EXIT_BAD_INPUT 2
#define EXIT_NO_START  3

struct vs_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Subcommands, one file each. */
int cmd_fsgroup(int argc, char **argv);
int cmd_shift(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_oci_hook(int argc, char **argv);
int cmd_install(int argc, char **argv);

/* Prints "volshift: <message>" on stderr; returns EXIT_BAD_INPUT. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "volshift: <message>" on stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------ options */

enum progress_when { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_NEVER };

/* How a run is printed: --json, --quiet, --progress. */
struct cli_common {
	bool json;
	bool quiet;
	enum progress_when progress;
	/* the summary on stderr even with the JSON on stdout (oci-hook) */
	bool summary_with_json;
};

/* Map options, collected until cli_maps_finish. */
struct cli_maps {
	bool any_map, any_uid, any_gid, reverse;
	pid_t from_pid;
};

/* The shared options, in groups; a subcommand names the groups it takes. */
enum {
	CLI_OPTS_RUN = 1 << 0, /* --jobs --engine --quiet: every subcommand */
	CLI_OPTS_WALK =
	    1 << 1, /* --policy --dry-run --cross-mounts --no-xattrs --json --progress */
	CLI_OPTS_MAPS = 1 << 2,  /* --map --uid-map --gid-map --from-pid --reverse */
	CLI_OPTS_SHARD = 1 << 3, /* --shard --shard-id: fsgroup and shift */
};
#define CLI_OPTS_COMMON (CLI_OPTS_RUN | CLI_OPTS_WALK)

/* A subcommand's own options are long-only, with codes from here up. */
#define OPT_OWN_BASE 1200

/*
 * One subcommand's command line. One loop (cli_parse) reads every
 * subcommand's: -h/--help, the shared groups into struct cli_args, the
 * subcommand's own options through .option, a missing value or an unknown
 * option as one line on stderr (exit 2), and then the operands.
 */
struct cli_syntax {
	const char *name;             /* "fsgroup", as messages name it */
	const struct option *options; /* its own options, {0}-terminated; may be NULL */
	unsigned shared;              /* CLI_OPTS_* groups it takes too */
	/* options end at the first operand (getopt's "+"): what follows it is
	 * an operand even if it starts with '-', and an option after the
	 * operands is refused instead of being moved in front of them */
	bool options_first;
	unsigned n_operands;  /* exactly this many */
	const char *operands; /* how messages name them: "one PATH" */
	void (*help)(FILE *f);
	/* an own option (o->val >= OPT_OWN_BASE): 0, or an exit status after
	 * printing why */
	int (*option)(const struct option *o, const char *arg, void *userdata);
};

/* What cli_parse fills. */
struct cli_args {
	struct vs_job *job; /* in: the job the shared options go into */
	struct cli_common common;
	struct cli_maps maps;
	char **operands; /* syntax.n_operands of them */
};

/*
 * Parses argv (argv[0] is the subcommand). Returns 1 to go on, 0 after
 * --help (exit 0), or -EXIT_BAD_INPUT after one line on stderr; so that a
 * subcommand says: r = cli_parse(...); if (r <= 0) return -r;
 */
int cli_parse(int argc, char **argv, const struct cli_syntax *syn, struct cli_args *args,
              void *userdata);

/* For an option that takes one of a few words (--engine=sync): *ret = the
 * index of arg in names (NULL-terminated) and 0, or EXIT_BAD_INPUT after
 * printing "invalid OPT 'ARG' (a, b or c)". */
int cli_choice(const char *opt, const char *arg, const char *const *names, int *ret);

/* The help text of the shared groups, for --help. */
extern const char cli_common_help[];
extern const char cli_map_help[];
extern const char cli_shard_help[];

/* Checks the collected maps (exactly one source, both uid and gid maps),
 * reads --from-pid, applies --reverse; the overlap rules are the library's
 * (vs_job_validate, when the job runs). 0 or EXIT_BAD_INPUT. */
int cli_maps_finish(struct vs_job *job, struct cli_maps *maps);

/* ------------------------------------------------------- running, printing */

/* What a report is about, beyond its job. */
struct cli_subject {
	const struct vs_job *job;         /* the job that ran (mount: its shift) */
	const struct vs_mount_job *mount; /* volshift mount: say how TARGET was mounted */
	const char *name;      /* names the run in lines ("oci-hook: container C: /data (shift
	                        * of 'SRC')"); NULL: "MODE PATH" */
	const char *json_head; /* JSON members put before the library's ("\"container\":...,") */
};

/*
 * Prints how a run ended, for every subcommand: why it could not start (one
 * line on stderr, nothing else there), the JSON line on stdout (--json), the
 * failures and a summary on stderr (not with --quiet; not with --json unless
 * summary_with_json). When ret_json is not NULL it gets the JSON line
 * (malloc'ed, NULL when out of memory) whether or not it was printed.
 */
void cli_print_report(const struct vs_report *r, const struct cli_subject *s,
                      const struct cli_common *common, char **ret_json);

/* The exit status for a report (its status, unless an unknown value). */
int cli_exit_status(const struct vs_report *r);

/*
 * Runs job with vs_run, or mount with vs_mount (give one, the other NULL),
 * with progress on stderr as asked; prints the report with cli_print_report
 * and returns the exit status.
 */
int cli_run(struct vs_job *job, struct vs_mount_job *mount, const struct cli_common *common);
