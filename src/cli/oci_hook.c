/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volshift oci-hook: run by a container runtime (createRuntime or prestart),
 * fixes the volumes that the container's io.volshift.* annotations select.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "oci.h"

#define STATE_MAX  (1u << 20)  /* the state JSON is small */
#define CONFIG_MAX (64u << 20) /* config.json can carry large annotations */

enum {
	OPT_REPORT_DIR = OPT_OWN_BASE,
	OPT_ALLOW_SOURCE,
};

#define ALLOW_MAX 64

static const char oci_help[] =
    "Usage: volshift oci-hook [OPTION...] < STATE\n"
    "\n"
    "Runs as an OCI runtime hook (createRuntime or prestart): reads the container's\n"
    "state JSON on stdin, loads config.json from its bundle and fixes the bind\n"
    "mounts that the container's annotations select, onto the container's\n"
    "user-namespace range (linux.uidMappings / gidMappings):\n"
    "  io.volshift.shift=/data,/cache     shift with the container's own maps\n"
    "  io.volshift.fsgroup=GID            fsgroup with GID (a container GID,\n"
    "  io.volshift.fsgroup.paths=/data    mapped to the host through gidMappings)\n"
    "  io.volshift.policy=always|on-root-mismatch   (default on-root-mismatch)\n"
    "\n"
    "Options:\n"
    "      --report-dir DIR  also write the reports to DIR/<container-id>.json\n"
    "      --allow-source DIR\n"
    "                        change only mount sources at or under DIR (repeatable);\n"
    "                        for annotations set by users who must not reach other\n"
    "                        host paths (e.g. /var/lib/kubelet/pods)\n"
    "      --jobs N          worker threads (default: one per CPU)\n"
    "      --engine E        auto, uring or sync (default auto)\n"
    "      --quiet           no summary on stderr\n"
    "  -h, --help            this text\n"
    "\n"
    "Sources are resolved (realpath); '/', top-level system directories and\n"
    "anything under /proc, /sys or /dev are always refused.\n"
    "Prints one JSON report per volume on stdout and a one-line summary per volume\n"
    "on stderr. Exit status: 0 done or skipped, 1 some entries failed, 2 bad\n"
    "state, config.json or annotations (nothing changed), 3 could not start.\n"
    "Any non-zero status makes the runtime refuse to start the container.\n";

/* Reads all of fd; -EFBIG past max. *ret is NUL-terminated. */
static int read_all(int fd, size_t max, char **ret)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

static int read_config(const char *bundle, char **ret)
{
	char *path;
	int fd, r;

	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(path);
	if (fd < 0)
		return -errno;
	r = read_all(fd, CONFIG_MAX, ret);
	close(fd);
	return r;
}

/* The report of one volume: vs_report_json plus where it came from. */
static json_t *volume_report(const struct vs_report *rep, const struct vs_job *job,
                             const struct oci_state *st, const struct oci_volume *v)
{
	char *text = NULL;
	json_t *obj = NULL;

	if (vs_report_json(rep, job, &text) >= 0)
		obj = json_loads(text, 0, NULL);
	free(text);
	if (!obj || !json_is_object(obj)) {
		json_decref(obj);
		obj = json_object();
		json_object_set_new(obj, "status", json_integer(rep->status));
	}
	json_object_set_new(obj, "container", json_string(st->id));
	json_object_set_new(obj, "destination", json_string(v->destination));
	json_object_set_new(obj, "source", json_string(v->source));
	if (v->mode == VS_MODE_FSGROUP)
		json_object_set_new(obj, "container_gid", json_integer(v->container_gid));
	if (rep->message[0])
		json_object_set_new(obj, "message", json_string(rep->message));
	return obj;
}

static void summary(const struct oci_state *st, const struct oci_volume *v,
                    const struct vs_report *rep)
{
	const char *mode = vs_mode_name(v->mode);

	if (rep->status >= VS_STATUS_BAD_INPUT)
		log_error("oci-hook: container %s: %s (%s of '%s') could not start: %s", st->id,
		          v->destination, mode, v->source,
		          rep->message[0] ? rep->message : "unknown error");
	else if (rep->skipped)
		log_error("oci-hook: container %s: %s (%s of '%s'): skipped, its root already "
		          "matches",
		          st->id, v->destination, mode, v->source);
	else
		log_error("oci-hook: container %s: %s (%s of '%s'): %llu entries, %llu changed, "
		          "%llu failed, %.3f s",
		          st->id, v->destination, mode, v->source, (unsigned long long)rep->entries,
		          (unsigned long long)rep->changed, (unsigned long long)rep->failed,
		          rep->elapsed_s);
}

/* Writes DIR/<id>.json atomically (a temp file renamed into place). */
static int write_reports(const char *dir, const struct oci_state *st, int status, json_t *volumes)
{
	char *name = NULL, *tmp = NULL, *text = NULL;
	json_t *doc;
	int fd = -1, r = 0;
	size_t len;

	doc = json_pack("{s:s, s:s, s:i, s:O}", "container", st->id, "bundle", st->bundle, "status",
	                status, "volumes", volumes);
	if (!doc)
		return -ENOMEM;
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	/* a container ID names one file in dir, nothing else */
	if (strchr(st->id, '/') || !strcmp(st->id, ".") || !strcmp(st->id, "..")) {
		free(text);
		return -EINVAL;
	}
	if (asprintf(&name, "%s/%s.json", dir, st->id) < 0 ||
	    asprintf(&tmp, "%s/.%s.json.XXXXXX", dir, st->id) < 0) {
		r = -ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	len = strlen(text);
	text[len] = '\n';
	if (write(fd, text, len + 1) != (ssize_t)(len + 1) || fchmod(fd, 0644) < 0 ||
	    fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, name) < 0) {
		r = -errno;
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	free(name);
	free(tmp);
	free(text);
	return r;
}

/*
 * Every source exists, is a directory and may be changed, before anything
 * changes. Sources are resolved (realpath) once here, and that path is run.
 */
static int check_sources(struct oci_plan *p, char *const *allow, size_t n_allow)
{
	char err[512];

	for (size_t i = 0; i < p->n_volumes; i++) {
		struct oci_volume *v = &p->volumes[i];
		struct stat sb;
		char *real;

		real = realpath(v->source, NULL);
		if (!real)
			return usage_error("oci-hook: volume %s: source '%s': %s", v->destination,
			                   v->source, strerror(errno));
		free(v->source);
		v->source = real;
		if (stat(v->source, &sb) < 0)
			return usage_error("oci-hook: volume %s: source '%s': %s", v->destination,
			                   v->source, strerror(errno));
		if (!S_ISDIR(sb.st_mode))
			return usage_error("oci-hook: volume %s: source '%s' is not a directory",
			                   v->destination, v->source);
		if (oci_source_allowed(v->source, allow, n_allow, err, sizeof(err)) < 0)
			return usage_error("oci-hook: volume %s: %s", v->destination, err);
	}
	return 0;
}

static int run_plan(const struct oci_plan *p, const struct oci_state *st, const struct vs_job *opts,
                    const char *report_dir, bool quiet)
{
	json_t *volumes = json_array();
	int status = EXIT_DONE;

	for (size_t i = 0; i < p->n_volumes; i++) {
		struct vs_report rep;
		struct vs_job job;
		json_t *obj;
		char *line;

		oci_plan_job(p, i, &job);
		job.jobs = opts->jobs;
		job.engine = opts->engine;
		vs_run(&job, &rep);
		obj = volume_report(&rep, &job, st, &p->volumes[i]);
		line = json_dumps(obj, JSON_COMPACT);
		if (line) {
			printf("%s\n", line);
			free(line);
		}
		json_array_append_new(volumes, obj);
		if (!quiet || rep.status != VS_STATUS_OK)
			summary(st, &p->volumes[i], &rep);
		if (cli_exit_status(&rep) > status)
			status = cli_exit_status(&rep);
		vs_report_free(&rep);
		/* the runtime refuses the container anyway: change no more */
		if (status >= EXIT_BAD_INPUT)
			break;
	}
	fflush(stdout);
	if (report_dir) {
		int r = write_reports(report_dir, st, status, volumes);

		/* diagnostics only: the volumes are fixed, the container may start */
		if (r < 0)
			log_error("oci-hook: cannot write a report to '%s': %s", report_dir,
			          strerror(-r));
	}
	json_decref(volumes);
	return status;
}

int cmd_oci_hook(int argc, char **argv)
{
	static const struct option options[] = {
	    {"report-dir", required_argument, NULL, OPT_REPORT_DIR},
	    {"allow-source", required_argument, NULL, OPT_ALLOW_SOURCE},
	    {"jobs", required_argument, NULL, OPT_JOBS},
	    {"engine", required_argument, NULL, OPT_ENGINE},
	    {"quiet", no_argument, NULL, OPT_QUIET},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cli_common common = {0};
	struct oci_state st = {0};
	struct oci_plan plan = {0};
	const char *report_dir = NULL;
	char *allow[ALLOW_MAX];
	size_t n_allow = 0;
	char *state_text = NULL, *config_text = NULL;
	char err[512];
	struct vs_job opts;
	int c, r, status;

	vs_job_init(&opts, VS_MODE_SHIFT);
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(oci_help, stdout);
			return EXIT_DONE;
		case OPT_REPORT_DIR:
			report_dir = optarg;
			break;
		case OPT_ALLOW_SOURCE:
			if (optarg[0] != '/')
				return usage_error(
				    "oci-hook: --allow-source '%s' is not an absolute "
				    "path",
				    optarg);
			if (n_allow == ALLOW_MAX)
				return usage_error("oci-hook: more than %d --allow-source",
				                   ALLOW_MAX);
			allow[n_allow++] = optarg;
			break;
		case OPT_JOBS:
		case OPT_ENGINE:
		case OPT_QUIET:
			if (cli_common_opt(c, optarg, &opts, &common) != 0)
				return EXIT_BAD_INPUT;
			break;
		default:
			return cli_getopt_error(c, argv, "oci-hook");
		}
	}
	if (optind < argc)
		return usage_error("oci-hook: unexpected argument '%s' (the state comes on stdin)",
		                   argv[optind]);
	if (report_dir) {
		struct stat sb;

		if (stat(report_dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
			return usage_error("oci-hook: --report-dir '%s' is not a directory",
			                   report_dir);
	}

	r = read_all(STDIN_FILENO, STATE_MAX, &state_text);
	if (r < 0)
		return usage_error("oci-hook: cannot read the state on stdin: %s", strerror(-r));
	r = oci_state_parse(state_text, &st, err, sizeof(err));
	free(state_text);
	if (r < 0)
		return usage_error("oci-hook: %s", err);

	r = read_config(st.bundle, &config_text);
	if (r < 0) {
		status = usage_error("oci-hook: cannot read '%s/config.json': %s", st.bundle,
		                     strerror(-r));
		goto out;
	}
	r = oci_plan_build(&st, config_text, &plan, err, sizeof(err));
	free(config_text);
	if (r < 0) {
		status = usage_error("oci-hook: container %s: %s", st.id, err);
		goto out;
	}
	if (plan.n_volumes == 0) {
		status = EXIT_DONE;
		goto out;
	}
	if (plan.need_maps) {
		struct vs_idmap u, g;

		if (st.pid <= 0) {
			status =
			    usage_error("oci-hook: container %s joins a user namespace and the "
			                "state has no pid to read its maps from",
			                st.id);
			goto out;
		}
		r = vs_idmap_from_pid((pid_t)st.pid, &u, &g);
		if (r < 0) {
			status =
			    usage_error("oci-hook: container %s: cannot read the ID maps of pid "
			                "%lld: %s",
			                st.id, st.pid, strerror(-r));
			goto out;
		}
		if (oci_plan_set_maps(&plan, &u, &g, err, sizeof(err)) < 0) {
			status = usage_error("oci-hook: container %s: %s", st.id, err);
			goto out;
		}
	}
	status = check_sources(&plan, allow, n_allow);
	if (status != 0)
		goto out;
	status = run_plan(&plan, &st, &opts, report_dir, common.quiet);
out:
	oci_plan_free(&plan);
	oci_state_free(&st);
	return status;
}
