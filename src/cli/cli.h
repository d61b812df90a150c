/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's shared pieces: subcommand table, common options, printing. */
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

/* getopt_long's ':' (missing value) and '?' (unknown option) as one line. */
int cli_getopt_error(int c, char **argv, const char *cmd);

/* Prints "volshift: <message>" on stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Output options every walking subcommand takes. */
enum progress_when { PROGRESS_AUTO, PROGRESS_ALWAYS, PROGRESS_NEVER };

struct cli_common {
	bool json;
	bool quiet;
	enum progress_when progress;
};

/*
 * Option parsing shared by the subcommands. Each subcommand builds one
 * getopt_long table: its own entries, then CLI_COMMON_OPTIONS (and, when it
 * takes ID maps, CLI_MAP_OPTIONS), then {0}. Codes >= OPT_COMMON_BASE are
 * handed to cli_common_opt / cli_map_opt.
 */
enum {
	OPT_COMMON_BASE = 1000,
	OPT_POLICY = OPT_COMMON_BASE,
	OPT_DRY_RUN,
	OPT_JOBS,
	OPT_CROSS_MOUNTS,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_QUIET,
	OPT_ENGINE,
	OPT_NO_XATTRS,
	OPT_SHARD,
	OPT_SHARD_ID,
	OPT_MAP_BASE = 1100,
	OPT_MAP = OPT_MAP_BASE,
	OPT_UID_MAP,
	OPT_GID_MAP,
	OPT_FROM_PID,
	OPT_REVERSE,
	OPT_OWN_BASE = 1200, /* a subcommand's own long-only options */
};

#define CLI_COMMON_OPTIONS                                                                         \
	{"policy", required_argument, NULL, OPT_POLICY},                                           \
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},                                           \
	    {"jobs", required_argument, NULL, OPT_JOBS},                                           \
	    {"cross-mounts", no_argument, NULL, OPT_CROSS_MOUNTS},                                 \
	    {"json", no_argument, NULL, OPT_JSON},                                                 \
	    {"progress", required_argument, NULL, OPT_PROGRESS},                                   \
	    {"quiet", no_argument, NULL, OPT_QUIET},                                               \
	    {"engine", required_argument, NULL, OPT_ENGINE},                                       \
	    {"no-xattrs", no_argument, NULL, OPT_NO_XATTRS},                                       \
	    {"shard", required_argument, NULL, OPT_SHARD},                                         \
	{                                                                                          \
		"shard-id", required_argument, NULL, OPT_SHARD_ID                                  \
	}

#define CLI_MAP_OPTIONS                                                                            \
	{"map", required_argument, NULL, OPT_MAP},                                                 \
	    {"uid-map", required_argument, NULL, OPT_UID_MAP},                                     \
	    {"gid-map", required_argument, NULL, OPT_GID_MAP},                                     \
	    {"from-pid", required_argument, NULL, OPT_FROM_PID},                                   \
	{                                                                                          \
		"reverse", no_argument, NULL, OPT_REVERSE                                          \
	}

/* The help text of CLI_COMMON_OPTIONS and CLI_MAP_OPTIONS, for --help. */
extern const char cli_common_help[];
extern const char cli_map_help[];

/* Handles one common option. Returns 0, or EXIT_BAD_INPUT after printing why. */
int cli_common_opt(int opt, const char *arg, struct vs_job *job, struct cli_common *out);

/* Map options, collected until cli_maps_finish. */
struct cli_maps {
	bool any_map, any_uid, any_gid, reverse;
	pid_t from_pid;
};
int cli_map_opt(int opt, const char *arg, struct vs_job *job, struct cli_maps *maps);

/* Checks the collected maps (exactly one source, both uid and gid maps),
 * reads --from-pid, applies --reverse; the overlap rules are the library's
 * (vs_job_validate, when the job runs). 0 or EXIT_BAD_INPUT. */
int cli_maps_finish(struct vs_job *job, struct cli_maps *maps);

/* Progress on stderr as --progress and --quiet ask: attach before vs_run (or
 * vs_mount), done after it (clears a live line). */
struct cli_progress {
	bool tty;
	bool always;
	double next_line; /* non-tty: when the next line is due */
	bool drew;        /* tty: a line is on screen */
};
void cli_progress_attach(struct vs_job *job, const struct cli_common *common,
                         struct cli_progress *ps);
void cli_progress_done(struct cli_progress *ps);

/* Runs job with progress on stderr as asked, prints the report (JSON on
 * stdout, or a human summary on stderr) and returns the exit status. */
int cli_run_job(struct vs_job *job, const struct cli_common *common);

/* Prints a finished report as cli_run_job does. */
void cli_print_report(const struct vs_report *r, const struct vs_job *job,
                      const struct cli_common *common);

/* The exit status for a report (its status, unless an unknown value). */
int cli_exit_status(const struct vs_report *r);
