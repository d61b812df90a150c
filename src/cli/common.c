/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every subcommand shares: the one option loop (cli_parse) and the
 * shared options, progress lines, and the one report printer
 * (cli_print_report) with the run around it (cli_run).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "macros.h"

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
    "  --json              print one JSON report on stdout when done\n"
    "  --progress=auto|always|never\n"
    "                      auto: a live line on a terminal; otherwise a line after 30 s\n"
    "                      and then every 60 s; always: a line every second. With a\n"
    "                      percentage and an ETA when PATH is the root of its\n"
    "                      filesystem (a PV usually is)\n"
    "  --quiet             no progress and no summary (errors are still printed)\n";

const char cli_shard_help[] =
    "  --shard=K/N         do shard K (from 0) of one walk split over N processes or\n"
    "                      nodes that share the volume (a Kubernetes Indexed Job: K is\n"
    "                      $JOB_COMPLETION_INDEX). The first shard to start counts the\n"
    "                      tree and makes the job's plan; the last to finish sets the root\n"
    "  --shard-id=ID       tells this job from another with the same map or GID and N\n"
    "                      (e.g. the Job's UID)\n";

const char cli_map_help[] =
    "  --map FROM:TO:LEN   an ID range for both uids and gids (repeatable); FROM:TO:LEN is\n"
    "                      OCI's containerID:hostID:size; 'FROM TO LEN' works too\n"
    "  --uid-map FROM:TO:LEN, --gid-map FROM:TO:LEN\n"
    "                      separate uid and gid ranges (repeatable; give both)\n"
    "  --from-pid PID      use the maps of PID's user namespace (/proc/PID/uid_map, gid_map)\n"
    "  --reverse           swap FROM and TO: give a shifted tree back its original IDs\n";

/* ------------------------------------------------------------ options */

enum {
	OPT_POLICY = 1000,
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
	OPT_MAP,
	OPT_UID_MAP,
	OPT_GID_MAP,
	OPT_FROM_PID,
	OPT_REVERSE,
};

static const struct {
	struct option o;
	unsigned group;
} shared_options[] = {
    {{"jobs", required_argument, NULL, OPT_JOBS}, CLI_OPTS_RUN},
    {{"engine", required_argument, NULL, OPT_ENGINE}, CLI_OPTS_RUN},
    {{"quiet", no_argument, NULL, OPT_QUIET}, CLI_OPTS_RUN},
    {{"policy", required_argument, NULL, OPT_POLICY}, CLI_OPTS_WALK},
    {{"dry-run", no_argument, NULL, OPT_DRY_RUN}, CLI_OPTS_WALK},
    {{"cross-mounts", no_argument, NULL, OPT_CROSS_MOUNTS}, CLI_OPTS_WALK},
    {{"no-xattrs", no_argument, NULL, OPT_NO_XATTRS}, CLI_OPTS_WALK},
    {{"json", no_argument, NULL, OPT_JSON}, CLI_OPTS_WALK},
    {{"progress", required_argument, NULL, OPT_PROGRESS}, CLI_OPTS_WALK},
    {{"shard", required_argument, NULL, OPT_SHARD}, CLI_OPTS_SHARD},
    {{"shard-id", required_argument, NULL, OPT_SHARD_ID}, CLI_OPTS_SHARD},
    {{"map", required_argument, NULL, OPT_MAP}, CLI_OPTS_MAPS},
    {{"uid-map", required_argument, NULL, OPT_UID_MAP}, CLI_OPTS_MAPS},
    {{"gid-map", required_argument, NULL, OPT_GID_MAP}, CLI_OPTS_MAPS},
    {{"from-pid", required_argument, NULL, OPT_FROM_PID}, CLI_OPTS_MAPS},
    {{"reverse", no_argument, NULL, OPT_REVERSE}, CLI_OPTS_MAPS},
};

int cli_choice(const char *opt, const char *arg, const char *const *names, int *ret)
{
	char choices[128] = "";
	size_t n = 0, len = 0;

	for (; names[n]; n++)
		if (!strcmp(arg, names[n])) {
			*ret = (int)n;
			return 0;
		}
	for (size_t i = 0; i < n && len < sizeof(choices); i++)
		len += (size_t)snprintf(choices + len, sizeof(choices) - len, "%s%s",
		                        i == 0      ? ""
		                        : i + 1 < n ? ", "
		                                    : " or ",
		                        names[i]);
	return usage_error("invalid %s '%s' (%s)", opt, arg, choices);
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

/* One shared option into args: 0, or EXIT_BAD_INPUT after printing why. */
static int shared_option(int opt, const char *arg, struct cli_args *a)
{
	static const char *const progress[] = {"auto", "always", "never", NULL};
	static const char *const engines[] = {"auto", "uring", "sync", NULL};
	struct vs_job *job = a->job;
	uint32_t n;
	int i, e;

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
		a->common.json = true;
		return 0;
	case OPT_PROGRESS:
		e = cli_choice("--progress", arg, progress, &i);
		a->common.progress = e ? a->common.progress : (enum progress_when)i;
		return e;
	case OPT_QUIET:
		a->common.quiet = true;
		return 0;
	case OPT_ENGINE: /* the names in enum vs_engine's order */
		e = cli_choice("--engine", arg, engines, &i);
		job->engine = e ? job->engine : (enum vs_engine)i;
		return e;
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
			return usage_error("invalid --shard '%s' (K/N: K from 0 to N-1, N from 1 "
			                   "to %d)",
			                   arg, VS_SHARDS_MAX);
		job->shards = n;
		return 0;
	}
	case OPT_SHARD_ID:
		job->shard_id = arg;
		return 0;
	case OPT_MAP:
		a->maps.any_map = true;
		e = add_range(&job->uid_map, "--map", arg);
		return e ? e : add_range(&job->gid_map, "--map", arg);
	case OPT_UID_MAP:
		a->maps.any_uid = true;
		return add_range(&job->uid_map, "--uid-map", arg);
	case OPT_GID_MAP:
		a->maps.any_gid = true;
		return add_range(&job->gid_map, "--gid-map", arg);
	case OPT_FROM_PID:
		if (vs_parse_u32(arg, 0x7fffffff, &n) < 0 || n == 0)
			return usage_error("invalid --from-pid '%s' (a process ID)", arg);
		a->maps.from_pid = (pid_t)n;
		return 0;
	case OPT_REVERSE:
		a->maps.reverse = true;
		return 0;
	}
	return usage_error("internal error: option %d not handled", opt);
}

int cli_parse(int argc, char **argv, const struct cli_syntax *syn, struct cli_args *args,
              void *userdata)
{
	_cleanup_free_ struct option *opts = NULL;
	size_t n = 0, n_own = 0;
	int c, idx, r;

	for (const struct option *o = syn->options; o && o->name; o++)
		n_own++;
	opts = calloc(n_own + ARRAY_SIZE(shared_options) + 2, sizeof(*opts));
	if (!opts) {
		log_error("out of memory");
		return -EXIT_NO_START;
	}
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	for (size_t i = 0; i < n_own; i++)
		opts[n++] = syn->options[i];
	for (size_t i = 0; i < ARRAY_SIZE(shared_options); i++)
		if (shared_options[i].group & syn->shared)
			opts[n++] = shared_options[i].o;

	/* optind 0 is glibc's full reset (a parse that ran before leaves state
	 * behind that optind 1 does not clear, and "+" is read again); ':' and
	 * opterr 0: getopt prints nothing, we print one line */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, syn->options_first ? "+:h" : ":h", opts, &idx)) != -1) {
		if (c == 'h') {
			syn->help(stdout);
			return 0;
		}
		if (c == ':')
			return -usage_error("option '%s' needs a value", argv[optind - 1]);
		if (c == '?')
			return -usage_error("unknown option '%s' (see 'volshift %s --help')",
			                    argv[optind - 1], syn->name);
		r = c >= OPT_OWN_BASE ? syn->option(&opts[idx], optarg, userdata)
		                      : shared_option(c, optarg, args);
		if (r)
			return -r;
	}
	if (argc - optind < (int)syn->n_operands)
		return -usage_error("%s needs %s (see 'volshift %s --help')", syn->name,
		                    syn->operands, syn->name);
	if (argc - optind > (int)syn->n_operands)
		return -usage_error("unexpected argument '%s' (%s takes %s%s)",
		                    argv[optind + syn->n_operands], syn->name, syn->operands,
		                    syn->options_first ? ", after the options" : "");
	args->operands = argv + optind;
	return 1;
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

struct progress {
	bool tty;
	bool always;
	double next_line; /* non-tty: when the next line is due */
	bool drew;        /* tty: a line is on screen */
	unsigned percent; /* the highest shown: a percentage never goes back */
	/* a sharded run's phases (counting, waiting, walking) each give their
	 * own elapsed time: the phases before this one took before_s */
	enum vs_phase phase;
	double before_s, phase_s;
};

/* "42% (ETA 01:10), 12345 of ~29000 entries" when the library knows about
 * how many entries there are, else "12345 entries". The estimate is rough
 * (hard links count once per name; --cross-mounts adds filesystems): the
 * percentage stops at 99 until the run ends, and never goes back. */
static void progress_count(struct progress *ps, const struct vs_progress *p, double rate, char *buf,
                           size_t size)
{
	uint64_t total = p->total_estimate;
	unsigned pct;
	char eta[32] = "";

	if (!total) {
		snprintf(buf, size, "%llu entries", (unsigned long long)p->entries);
		return;
	}
	pct = p->entries >= total ? 99 : (unsigned)(p->entries * 100 / total);
	if (pct < ps->percent)
		pct = ps->percent;
	ps->percent = pct;
	if (p->entries < total && rate > 0) {
		unsigned long long s =
		    (unsigned long long)((double)(total - p->entries) / rate + 0.5);

		snprintf(eta, sizeof(eta), " (ETA %02llu:%02llu)", s / 60, s % 60);
	}
	snprintf(buf, size, "%u%%%s, %llu of ~%llu entries", pct, eta,
	         (unsigned long long)p->entries, (unsigned long long)total);
}

/* A sharded run before its walk: the first shard counts the tree for the
 * job's plan, the others wait for it. */
static void progress_phase(struct progress *ps, const struct vs_progress *p)
{
	char what[160], total[40] = "";

	if (p->phase == VS_PHASE_COUNT) {
		if (p->total_estimate)
			snprintf(total, sizeof(total), " of ~%llu",
			         (unsigned long long)p->total_estimate);
		snprintf(what, sizeof(what),
		         "counting the tree for the job's plan: %llu%s entries in %.0f s",
		         (unsigned long long)p->entries, total, p->elapsed_s);
	} else {
		snprintf(
		    what, sizeof(what),
		    "waiting %.0f s for the job's plan (the shard that found none counts the tree)",
		    p->elapsed_s);
	}
	if (ps->tty) {
		fprintf(stderr, "\r\033[Kvolshift: %s", what);
		ps->drew = true;
		return;
	}
	fprintf(stderr, "volshift: %s\n", what);
}

static void on_progress(const struct vs_progress *p, void *userdata)
{
	struct progress *ps = userdata;
	double rate = p->elapsed_s > 0 ? (double)p->entries / p->elapsed_s : 0;
	char count[96];

	/* each phase times itself; a log line is due by the whole run's time */
	if (p->phase != ps->phase) {
		ps->before_s += ps->phase_s;
		ps->phase = p->phase;
	}
	ps->phase_s = p->elapsed_s;
	if (!ps->tty && !ps->always && ps->before_s + p->elapsed_s < ps->next_line)
		return;
	if (!ps->tty)
		ps->next_line = ps->before_s + p->elapsed_s + 60;
	if (p->phase != VS_PHASE_WALK) {
		progress_phase(ps, p);
		return;
	}
	progress_count(ps, p, rate, count, sizeof(count));
	if (ps->tty) {
		fprintf(stderr, "\r\033[Kvolshift: %s (%.0f/s), %llu changed, %llu failed", count,
		        rate, (unsigned long long)p->changed, (unsigned long long)p->failed);
		ps->drew = true;
		return;
	}
	/* kubelet says the same on long walks: a log reader can tell it is alive */
	fprintf(stderr, "volshift: %s processed in %.0f s (%.0f/s), %llu changed, %llu failed\n",
	        count, p->elapsed_s, rate, (unsigned long long)p->changed,
	        (unsigned long long)p->failed);
}

/* Progress on stderr as --progress and --quiet ask, for the job about to run. */
static void progress_attach(struct vs_job *job, const struct cli_common *common,
                            struct progress *ps)
{
	*ps = (struct progress){.tty = isatty(STDERR_FILENO), .next_line = 30};
	ps->always = common->progress == PROGRESS_ALWAYS;
	if (common->quiet || common->progress == PROGRESS_NEVER)
		return;
	job->progress = on_progress;
	job->progress_userdata = ps;
	job->progress_interval_ms = ps->tty ? 250 : 1000;
}

/* Clears a live line before the report is printed. */
static void progress_done(struct progress *ps)
{
	if (ps->drew)
		fputs("\r\033[K", stderr);
	ps->drew = false;
}

/* ------------------------------------------------------------ the report */

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

/* The library's JSON object, with s->json_head's members in front. */
static char *report_json(const struct vs_report *r, const struct cli_subject *s)
{
	_cleanup_free_ char *lib = NULL;
	char *out;

	if (vs_report_json(r, s->job, &lib) < 0)
		return NULL;
	if (!s->json_head)
		return TAKE_PTR(lib);
	if (asprintf(&out, "{%s%s", s->json_head, lib + 1) < 0)
		return NULL;
	return out;
}

/* "0.4 ms", "2.35 s" */
static const char *duration(double s, char *buf, size_t size)
{
	if (s < 1)
		snprintf(buf, size, "%.1f ms", s * 1000);
	else
		snprintf(buf, size, "%.2f s", s);
	return buf;
}

static const char *plural(uint64_t n, const char *one, const char *more)
{
	return n == 1 ? one : more;
}

/* What a walk did, in words: names looked at against inodes changed (the
 * second name of a hard link finds its inode done), what "unmapped" means,
 * and ACLs and capabilities only when there were any. */
static void walk_summary(const struct vs_report *r, const struct vs_job *job, const char *name)
{
	unsigned long long entries = r->entries, changed = r->changed, unmapped = r->unmapped;
	char t[32], extra[160] = "";
	size_t len = 0;

	if (job->mode == VS_MODE_SHIFT && unmapped)
		len += (size_t)snprintf(extra + len, sizeof(extra) - len,
		                        "; %llu %s an owner or group outside the map (kept as is)",
		                        unmapped, plural(unmapped, "entry has", "entries have"));
	if (r->acls && len < sizeof(extra))
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "; %llu %s %sremapped",
		                        (unsigned long long)r->acls, plural(r->acls, "ACL", "ACLs"),
		                        job->dry_run ? "would be " : "");
	if (r->caps && len < sizeof(extra))
		snprintf(extra + len, sizeof(extra) - len, "; %llu file %s %sput back",
		         (unsigned long long)r->caps, plural(r->caps, "capability", "capabilities"),
		         job->dry_run ? "would be " : "");
	fprintf(stderr,
	        "volshift: %s: %llu %s looked at (a hard-linked file once per name), %llu %s %s, "
	        "%llu failed%s; in %s (%s, %u %s, %s)\n",
	        name, entries, plural(entries, "entry", "entries"), changed,
	        plural(changed, "inode", "inodes"), job->dry_run ? "would change" : "changed",
	        (unsigned long long)r->failed, extra, duration(r->elapsed_s, t, sizeof(t)),
	        r->method ? r->method : "walk", r->jobs, plural(r->jobs, "job", "jobs"),
	        r->engine ? r->engine : "-");
}

/* volshift mount: how TARGET was mounted. */
static void mount_line(const struct vs_report *r, const struct vs_mount_job *m, bool idmapped)
{
	const char *how = m->shift.dry_run ? "would mount" : "mounted";
	char t[32];

	if (idmapped)
		fprintf(stderr,
		        "volshift: %s '%s' at '%s': idmapped (%s)%s, nothing on disk changed, "
		        "in %s\n",
		        how, m->shift.path, m->target, r->fstype, m->read_only ? ", read-only" : "",
		        duration(r->elapsed_s, t, sizeof(t)));
	else
		fprintf(stderr,
		        "volshift: %s cannot be idmapped here (%s): owners %s on disk; %s '%s' "
		        "at '%s' as a plain bind%s\n",
		        r->fstype, strerror(r->probe_errno),
		        m->shift.dry_run ? "would be shifted" : "shifted", how, m->shift.path,
		        m->target, m->read_only ? ", read-only" : "");
}

static void summary(const struct vs_report *r, const struct cli_subject *s, const char *name,
                    bool listed)
{
	bool idmapped = r->method && !strcmp(r->method, "idmapped-mount");

	if (idmapped) { /* nothing was walked: a walk summary would say "0 entries" */
		mount_line(r, s->mount, true);
		return;
	}
	if (r->skipped)
		fprintf(stderr,
		        "volshift: %s: skipped, its root already matches (on-root-mismatch)\n",
		        name);
	else
		walk_summary(r, s->job, name);
	if (listed && r->n_errors < r->failed)
		fprintf(stderr, "volshift: (%llu more failures not listed)\n",
		        (unsigned long long)(r->failed - r->n_errors));
	if (r->root_left_unmatched && r->failed)
		fprintf(stderr, "volshift: the root was left un-matched so that a later run redoes "
		                "the walk\n");
	if (r->skipped_mounts)
		fprintf(stderr, "volshift: %llu mount points not entered (see --cross-mounts)\n",
		        (unsigned long long)r->skipped_mounts);
	if (r->shards > 1 && !r->skipped && !s->job->dry_run)
		fprintf(stderr, "volshift: shard %u of %u%s: %u of %u shards done%s\n", r->shard,
		        r->shards, r->planned ? " (counted the tree, made the job's plan)" : "",
		        r->shards_done, r->shards,
		        r->finished_root ? "; this one was the last and set the root"
		        : r->failed      ? ""
		                         : "; the last one to finish sets the root");
	if (s->mount && r->status == VS_STATUS_OK)
		mount_line(r, s->mount, false);
}

void cli_print_report(const struct vs_report *r, const struct cli_subject *s,
                      const struct cli_common *common, char **ret_json)
{
	bool started = r->status == VS_STATUS_OK || r->status == VS_STATUS_PARTIAL;
	_cleanup_free_ char *json = NULL, *own_name = NULL;
	const char *name = s->name;

	if (!name && asprintf(&own_name, "%s %s%s", vs_mode_name(s->job->mode), s->job->path,
	                      s->job->dry_run ? " (dry run)" : "") < 0)
		own_name = NULL;
	name = name ? name : own_name ? own_name : "?";

	/* could not start: one line says why, the JSON says it too */
	if (!started && s->name)
		log_error("%s: could not start: %s", name, r->message);
	else if (!started)
		log_error("%s", r->message);
	if (common->json || ret_json)
		json = report_json(r, s);
	if (common->json && json) {
		puts(json);
		fflush(stdout);
	} else if (common->json) {
		log_error("cannot format the report: out of memory");
	}
	if (ret_json)
		*ret_json = TAKE_PTR(json);
	if (!started)
		return;
	/* the JSON has the failures; without it they are listed here */
	if (!common->json)
		for (unsigned i = 0; i < r->n_errors; i++)
			log_error("'%s': %s", r->errors[i].path ? r->errors[i].path : "?",
			          strerror(r->errors[i].err));
	if (r->status == VS_STATUS_PARTIAL && r->message[0])
		log_error("%s: %s", name, r->message);
	if (common->quiet || (common->json && !common->summary_with_json))
		return;
	summary(r, s, name, !common->json);
}

int cli_run(struct vs_job *job, struct vs_mount_job *mount, const struct cli_common *common)
{
	struct cli_subject s = {.job = mount ? &mount->shift : job, .mount = mount};
	struct progress ps;
	struct vs_report r;
	int status;

	progress_attach(mount ? &mount->shift : job, common, &ps);
	if (mount)
		vs_mount(mount, &r);
	else
		vs_run(job, &r);
	progress_done(&ps);
	cli_print_report(&r, &s, common, NULL);
	status = cli_exit_status(&r);
	vs_report_free(&r);
	return status;
}
