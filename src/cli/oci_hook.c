/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volshift oci-hook: run by a container runtime (createRuntime or prestart),
 * fixes the volumes that the container's io.volshift.* annotations select.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "macros.h"
#include "oci.h"

#define STATE_MAX  (1u << 20)  /* the state JSON is small */
#define CONFIG_MAX (64u << 20) /* config.json can carry large annotations */

enum {
	OPT_REPORT_DIR = OPT_OWN_BASE,
	OPT_ALLOW_SOURCE,
	OPT_KUBELET_ROOT,
	OPT_STORAGE_ROOT,
};

#define DEFAULT_KUBELET_ROOT "/var/lib/kubelet"
#define DEFAULT_STORAGE_ROOT "/var/lib/containers/storage"

static const char oci_help[] =
    "Usage: volshift oci-hook [OPTION...] < STATE\n"
    "\n"
    "Runs as an OCI runtime hook (createRuntime or prestart): reads the container's\n"
    "state JSON on stdin, loads config.json from its bundle and fixes the bind\n"
    "mounts that the container's annotations select, onto the container's\n"
    "user-namespace range (linux.uidMappings / gidMappings):\n"
    "  io.volshift.shift=/data:/cache     shift with the container's own maps\n"
    "  io.volshift.fsgroup=GID            fsgroup with GID (a container GID,\n"
    "  io.volshift.fsgroup.paths=/data    mapped to the host through gidMappings)\n"
    "  io.volshift.policy=always|on-root-mismatch   (default on-root-mismatch)\n"
    "Lists take ':' or ',' between destinations (podman splits --annotation\n"
    "values on ',', so use ':' there). Any other io.volshift.* key is refused.\n"
    "\n"
    "Which sources it changes (it runs as host root; annotations are written by\n"
    "whoever may create pods): a source is opened and resolved (symlinks, '..',\n"
    "the mount it is reached through) and then must be\n"
    "  - a volume of the container's own pod: KUBELET/pods/UID/volumes/PLUGIN/NAME\n"
    "    or KUBELET/pods/UID/volume-subpaths/..., where UID is the pod UID the\n"
    "    runtime recorded (io.kubernetes.cri.sandbox-uid from containerd,\n"
    "    io.kubernetes.pod.uid from CRI-O); refused when none is recorded;\n"
    "  - a containers-storage named volume: STORAGE/volumes/NAME/_data;\n"
    "  - or at or under an --allow-source directory;\n"
    "and never '/', a system directory, or anything under /proc, /sys or /dev.\n"
    "Anything else (hostPath volumes, another pod's volumes) stops the container.\n"
    "The directory that was checked is the one walked, through the same fd.\n"
    "\n"
    "Options:\n"
    "      --report-dir DIR  also write the reports to DIR/<container-id>.json\n"
    "                        (DIR is made if missing; runtimes discard a hook's\n"
    "                        output when it succeeds)\n"
    "      --allow-source DIR\n"
    "                        also change sources at or under DIR (repeatable), e.g.\n"
    "                        the host directories hostPath volumes may name\n"
    "      --kubelet-root DIR  kubelet's --root-dir (default " DEFAULT_KUBELET_ROOT ")\n"
    "      --storage-root DIR  containers-storage's graph root (default\n"
    "                        " DEFAULT_STORAGE_ROOT ")\n"
    "      --jobs N          worker threads (default: one per CPU)\n"
    "      --engine E        auto, uring or sync (default auto)\n"
    "      --quiet           no summary on stderr\n"
    "  -h, --help            this text\n"
    "\n"
    "Prints one JSON report per volume on stdout and a one-line summary per volume\n"
    "on stderr. Exit status: 0 done or skipped, 1 some entries failed, 2 bad\n"
    "state, config.json, annotations or a refused source (nothing changed),\n"
    "3 could not start. Any non-zero status makes the runtime refuse to start\n"
    "the container.\n";

static void help(FILE *f)
{
	fputs(oci_help, f);
}

/* Reads all of fd; -EFBIG past max. *ret is NUL-terminated. */
static int read_all(int fd, size_t max, char **ret)
{
	size_t cap = 8192, len = 0;
	_cleanup_free_ char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (cap > max)
				return -EFBIG;
			nb = realloc(buf, cap * 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		return -EFBIG;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static int read_config(const char *bundle, char **ret)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return read_all(fd, CONFIG_MAX, ret);
}

/* A JSON string (quotes included) for s; NULL on allocation failure. */
static char *json_quote(const char *s)
{
	json_t *v = json_string(s ? s : "");
	char *out = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

	json_decref(v);
	return out;
}

/*
 * What one volume's report says where it came from: the JSON members put
 * in front of the library's (container, destination, source and, for
 * fsgroup, container_gid) and the name its lines on stderr go by. 0 or
 * -ENOMEM.
 */
static int volume_subject(const struct oci_state *st, const struct oci_volume *v,
                          char **ret_json_head, char **ret_name)
{
	_cleanup_free_ char *id = json_quote(st->id), *dst = json_quote(v->destination);
	_cleanup_free_ char *src = json_quote(v->source);
	char gid[32] = "";

	if (v->mode == VS_MODE_FSGROUP)
		snprintf(gid, sizeof(gid), "\"container_gid\":%u,", v->container_gid);
	if (!id || !dst || !src ||
	    asprintf(ret_json_head, "\"container\":%s,\"destination\":%s,\"source\":%s,%s", id, dst,
	             src, gid) < 0)
		return -ENOMEM;
	if (asprintf(ret_name, "oci-hook: container %s: %s (%s of '%s')", st->id, v->destination,
	             vs_mode_name(v->mode), v->source) < 0) {
		free(*ret_json_head);
		return -ENOMEM;
	}
	return 0;
}

/* Writes DIR/<id>.json atomically (a temp file renamed into place): the
 * container, its bundle, the hook's exit status and each volume's report. */
static int write_reports(const char *dir, const struct oci_state *st, int status,
                         char *const *volumes, size_t n)
{
	_cleanup_free_ char *name = NULL, *tmp = NULL;
	_cleanup_free_ char *id = json_quote(st->id), *bundle = json_quote(st->bundle);
	_cleanup_close_ int fd = -1;
	FILE *f;
	int r = 0;

	/* a container ID names one file in dir, nothing else */
	if (strchr(st->id, '/') || !strcmp(st->id, ".") || !strcmp(st->id, ".."))
		return -EINVAL;
	if (!id || !bundle || asprintf(&name, "%s/%s.json", dir, st->id) < 0 ||
	    asprintf(&tmp, "%s/.%s.json.XXXXXX", dir, st->id) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	fd = -1; /* f has it now */
	fprintf(f, "{\"container\":%s,\"bundle\":%s,\"status\":%d,\"volumes\":[", id, bundle,
	        status);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", volumes[i]);
	fputs("]}\n", f);
	if (fflush(f) != 0 || fchmod(fileno(f), 0644) < 0 || fsync(fileno(f)) < 0) {
		r = errno ? -errno : -EIO;
		unlink(tmp);
	} else if (rename(tmp, name) < 0) {
		r = -errno;
		unlink(tmp);
	}
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	return r;
}

/* What /proc/self/fd says fd is: the path the kernel resolved it to (no
 * symlink, no "..", through the mount it was reached by). */
static int fd_path(int fd, char **ret)
{
	char proc[64], buf[PATH_MAX];
	ssize_t n;

	*ret = NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

/* A policy path, resolved as sources are; NULL when it does not exist here
 * (nothing can be under it then). */
static char *resolve_dir(const char *path)
{
	_cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *real = NULL;

	if (fd < 0 || fd_path(fd, &real) < 0)
		return NULL;
	return real;
}

/* The hook's run, from its inputs to its exit status. */
struct hook {
	struct oci_state st;
	struct oci_plan plan;
	struct oci_source_policy pol;
	const char *report_dir;
	bool quiet;
	struct vs_job opts;
	int *fds;       /* per volume: the source, opened and checked */
	char **reports; /* per volume: its JSON report */
	size_t n_reports;
	char message[1024]; /* why the container is refused */
};

/* Records why the hook refuses the container (for the report file too), and
 * prints it: one line. */
__attribute__((format(printf, 3, 4))) static int refuse(struct hook *h, int status, const char *fmt,
                                                        ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->message, sizeof(h->message), fmt, ap);
	va_end(ap);
	log_error("oci-hook: %s", h->message);
	return status;
}

/*
 * Every source is opened, resolved and checked against the policy, and every
 * job validated, before anything changes. What was checked is what is run:
 * the fd opened here, handed to vs_run_at, never the path again.
 */
static int check_sources(struct hook *h)
{
	struct oci_plan *p = &h->plan;
	char err[512];

	h->fds = malloc(p->n_volumes * sizeof(*h->fds));
	if (!h->fds)
		return refuse(h, EXIT_NO_START, "out of memory");
	for (size_t i = 0; i < p->n_volumes; i++)
		h->fds[i] = -1;
	for (size_t i = 0; i < p->n_volumes; i++) {
		struct oci_volume *v = &p->volumes[i];
		struct vs_report rep;
		struct vs_job job;
		char *real;
		int r;

		/* as the runtime's bind mount does: symlinks followed, then pinned */
		h->fds[i] = open(v->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (h->fds[i] < 0)
			return refuse(h, EXIT_BAD_INPUT, "container %s: volume %s: source '%s': %s",
			              h->st.id, v->destination, v->source, strerror(errno));
		r = fd_path(h->fds[i], &real);
		if (r < 0)
			return refuse(h, EXIT_BAD_INPUT,
			              "container %s: volume %s: cannot resolve source '%s': %s",
			              h->st.id, v->destination, v->source, strerror(-r));
		free(v->source);
		v->source = real;
		if (oci_source_allowed(&h->pol, v->source, p->pod_uid, err, sizeof(err)) < 0)
			return refuse(h, EXIT_BAD_INPUT, "container %s: volume %s: %s", h->st.id,
			              v->destination, err);
		oci_plan_job(p, i, &job);
		if (vs_job_validate(&job, &rep) < 0)
			return refuse(h, EXIT_BAD_INPUT, "container %s: volume %s: %s", h->st.id,
			              v->destination, rep.message);
	}
	return EXIT_DONE;
}

static int run_plan(struct hook *h)
{
	const struct oci_plan *p = &h->plan;
	int status = EXIT_DONE;

	h->reports = calloc(p->n_volumes, sizeof(*h->reports));
	if (!h->reports)
		return refuse(h, EXIT_NO_START, "out of memory");
	for (size_t i = 0; i < p->n_volumes; i++) {
		_cleanup_free_ char *head = NULL, *name = NULL;
		struct vs_report rep;
		struct vs_job job;
		char *line = NULL;

		if (volume_subject(&h->st, &p->volumes[i], &head, &name) < 0)
			return refuse(h, EXIT_NO_START, "out of memory");
		oci_plan_job(p, i, &job);
		job.jobs = h->opts.jobs;
		job.engine = h->opts.engine;
		vs_run_at(h->fds[i], &job, &rep);
		/* JSON on stdout for the runtime's log, a line on stderr for
		 * whoever reads the runtime's error (--quiet: only when the
		 * volume did not finish cleanly) */
		cli_print_report(
		    &rep, &(struct cli_subject){.job = &job, .name = name, .json_head = head},
		    &(struct cli_common){.json = true,
		                         .summary_with_json = true,
		                         .quiet = h->quiet && rep.status == VS_STATUS_OK},
		    &line);
		if (line)
			h->reports[h->n_reports++] = line;
		if (cli_exit_status(&rep) > status)
			status = cli_exit_status(&rep);
		vs_report_free(&rep);
		/* the runtime refuses the container anyway: change no more */
		if (status >= EXIT_BAD_INPUT)
			break;
	}
	fflush(stdout);
	return status;
}

/* DIR/<id>.json, for the admin: made also when the container is refused.
 * Diagnostics only: a report that cannot be written stops nothing. */
static void leave_report(struct hook *h, int status)
{
	char *msg = NULL, *volumes[1];
	int r;

	if (!h->report_dir || !h->st.id)
		return;
	if (mkdir(h->report_dir, 0755) < 0 && errno != EEXIST) {
		log_error("oci-hook: cannot make the report directory '%s': %s", h->report_dir,
		          strerror(errno));
		return;
	}
	if (h->message[0]) {
		char *q = json_quote(h->message);

		if (q && asprintf(&msg, "{\"status\":%d,\"message\":%s}", status, q) < 0)
			msg = NULL;
		free(q);
		volumes[0] = msg;
	}
	r = msg ? write_reports(h->report_dir, &h->st, status, volumes, 1)
	        : write_reports(h->report_dir, &h->st, status, h->reports, h->n_reports);
	if (r < 0)
		log_error("oci-hook: cannot write a report to '%s': %s", h->report_dir,
		          strerror(-r));
	free(msg);
}

static int hook_main(struct hook *h)
{
	char *state_text = NULL, *config_text = NULL;
	char err[512];
	int r;

	r = read_all(STDIN_FILENO, STATE_MAX, &state_text);
	if (r < 0)
		return refuse(h, EXIT_BAD_INPUT, "cannot read the state on stdin: %s",
		              strerror(-r));
	r = oci_state_parse(state_text, &h->st, err, sizeof(err));
	free(state_text);
	if (r < 0)
		return refuse(h, EXIT_BAD_INPUT, "%s", err);

	r = read_config(h->st.bundle, &config_text);
	if (r < 0)
		return refuse(h, EXIT_BAD_INPUT, "container %s: cannot read '%s/config.json': %s",
		              h->st.id, h->st.bundle, strerror(-r));
	r = oci_plan_build(&h->st, config_text, &h->plan, err, sizeof(err));
	free(config_text);
	if (r < 0)
		return refuse(h, r == -ENOMEM ? EXIT_NO_START : EXIT_BAD_INPUT, "container %s: %s",
		              h->st.id, r == -ENOMEM ? strerror(ENOMEM) : err);
	if (h->plan.n_volumes == 0)
		return EXIT_DONE;
	if (h->plan.need_maps) {
		struct vs_idmap u, g;

		if (h->st.pid <= 0)
			return refuse(
			    h, EXIT_BAD_INPUT,
			    "container %s joins a user namespace and the state has no pid "
			    "to read its maps from",
			    h->st.id);
		r = vs_idmap_from_pid((pid_t)h->st.pid, &u, &g);
		if (r < 0)
			return refuse(h, EXIT_BAD_INPUT,
			              "container %s: cannot read the ID maps of pid %lld: %s",
			              h->st.id, h->st.pid, strerror(-r));
		if (oci_plan_set_maps(&h->plan, &u, &g, err, sizeof(err)) < 0)
			return refuse(h, EXIT_BAD_INPUT, "container %s: %s", h->st.id, err);
	}
	r = check_sources(h);
	if (r != EXIT_DONE)
		return r;
	return run_plan(h);
}

/* The paths the options name, until they are resolved into the policy. */
struct hook_paths {
	struct hook *h;
	const char *kubelet_root, *storage_root;
	const char *allow[OCI_ALLOW_MAX];
	size_t n_allow;
};

static int option(const struct option *o, const char *arg, void *userdata)
{
	struct hook_paths *hp = userdata;

	if (arg[0] != '/')
		return usage_error("oci-hook: --%s '%s' is not an absolute path", o->name, arg);
	switch (o->val) {
	case OPT_REPORT_DIR:
		hp->h->report_dir = arg;
		return 0;
	case OPT_KUBELET_ROOT:
		hp->kubelet_root = arg;
		return 0;
	case OPT_STORAGE_ROOT:
		hp->storage_root = arg;
		return 0;
	}
	if (hp->n_allow == OCI_ALLOW_MAX)
		return usage_error("oci-hook: more than %d --allow-source", OCI_ALLOW_MAX);
	hp->allow[hp->n_allow++] = arg;
	return 0;
}

int cmd_oci_hook(int argc, char **argv)
{
	static const struct option options[] = {
	    {"report-dir", required_argument, NULL, OPT_REPORT_DIR},
	    {"allow-source", required_argument, NULL, OPT_ALLOW_SOURCE},
	    {"kubelet-root", required_argument, NULL, OPT_KUBELET_ROOT},
	    {"storage-root", required_argument, NULL, OPT_STORAGE_ROOT},
	    {0},
	};
	static const struct cli_syntax syntax = {
	    .name = "oci-hook",
	    .options = options,
	    .shared = CLI_OPTS_RUN,
	    .n_operands = 0,
	    .operands = "no arguments: the state comes on stdin",
	    .help = help,
	    .option = option,
	};
	struct hook h = {0};
	struct hook_paths hp = {
	    .h = &h, .kubelet_root = DEFAULT_KUBELET_ROOT, .storage_root = DEFAULT_STORAGE_ROOT};
	struct cli_args args = {.job = &h.opts};
	int status;

	vs_job_init(&h.opts, VS_MODE_SHIFT);
	status = cli_parse(argc, argv, &syntax, &args, &hp);
	if (status <= 0)
		return -status;
	h.quiet = args.common.quiet;
	/* the policy's own paths are resolved as sources are */
	h.pol.kubelet_root = resolve_dir(hp.kubelet_root);
	h.pol.storage_root = resolve_dir(hp.storage_root);
	for (size_t i = 0; i < hp.n_allow; i++) {
		char *real = resolve_dir(hp.allow[i]);

		if (real)
			h.pol.allow[h.pol.n_allow++] = real;
	}

	status = hook_main(&h);
	leave_report(&h, status);

	for (size_t i = 0; h.fds && i < h.plan.n_volumes; i++)
		if (h.fds[i] >= 0)
			close(h.fds[i]);
	free(h.fds);
	for (size_t i = 0; i < h.n_reports; i++)
		free(h.reports[i]);
	free(h.reports);
	free((char *)h.pol.kubelet_root);
	free((char *)h.pol.storage_root);
	for (size_t i = 0; i < h.pol.n_allow; i++)
		free((char *)h.pol.allow[i]);
	oci_plan_free(&h.plan);
	oci_state_free(&h.st);
	return status;
}
