/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volshift install: puts this very binary and its OCI hook description on a
 * host, from inside a container that has no shell and no cp (the FROM-scratch
 * image run as a node DaemonSet).
 *
 * The host's directories are named as host paths (--bin-dir, --hooks-dir)
 * and reached below --root, where the container mounts the host. They are
 * opened with openat2(RESOLVE_IN_ROOT), so an absolute symlink on the host
 * (/usr/local/bin -> /opt/bin) resolves as on the host, inside --root, and
 * never into the container's own tree. Each file is written to a temp file in
 * its directory, fsync'ed, renamed over the old one and the directory
 * fsync'ed: a node sees the old file or the new one, never half of one. The
 * binary goes first, since the hook description names it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/openat2.h>

#include "cli.h"
#include "hook_json.h" /* vs_hook_json[]: hooks/volshift.json at build time */

#define DEFAULT_BIN_DIR   "/usr/local/bin"
#define DEFAULT_HOOKS_DIR "/etc/containers/oci/hooks.d"
#define BIN_NAME          "volshift"
#define HOOK_NAME         "volshift.json"

enum {
	OPT_ROOT = OPT_OWN_BASE,
	OPT_BIN_DIR,
	OPT_HOOKS_DIR,
	OPT_NO_HOOKS,
	OPT_WAIT,
	OPT_INSTALL_QUIET
};

static void help(FILE *f)
{
	fprintf(
	    f,
	    "Usage: volshift install [--root DIR] [--bin-dir DIR] [--hooks-dir DIR | --no-hooks]\n"
	    "                        [--wait] [--quiet]\n\n"
	    "Copies the running volshift binary to BIN-DIR/volshift (mode 0755) and writes\n"
	    "HOOKS-DIR/volshift.json, the OCI hook description that CRI-O and Podman read,\n"
	    "with its \"path\" set to the installed binary. Both are host paths, reached\n"
	    "below --root (where this container mounts the host); symlinks in them resolve\n"
	    "as on the host. Each file is replaced atomically. Made for a node DaemonSet\n"
	    "running the FROM-scratch image, which has no shell and no cp.\n\n"
	    "  --root DIR        the host's / as mounted here (default /)\n"
	    "  --bin-dir DIR     where the binary goes (default " DEFAULT_BIN_DIR ")\n"
	    "  --hooks-dir DIR   where volshift.json goes (default " DEFAULT_HOOKS_DIR ")\n"
	    "  --no-hooks        install the binary only (containerd reads no hooks directory)\n"
	    "  --wait            then sleep until SIGTERM or SIGINT, and exit 0 (a DaemonSet's\n"
	    "                    main container)\n"
	    "  --quiet           no summary line on stderr\n\n"
	    "Both directories must exist. Example (the host's directories mounted below /host):\n"
	    "  volshift install --root /host --wait\n\n"
	    "Exit status: 0 installed, 1 the binary was installed but not the hook\n"
	    "description, 2 bad input (nothing written), 3 nothing could be written.\n");
}

/* An absolute path with no empty, "." or ".." component, no longer than PATH_MAX. */
static bool clean_abs_path(const char *p)
{
	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return false;
	if (!strcmp(p, "/"))
		return true;
	for (const char *c = p + 1;;) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!*end)
			return true;
		c = end + 1;
	}
}

/*
 * Opens host directory path (absolute) below rootfd, resolving symlinks as if
 * rootfd were /. Kernels before 5.6 lack openat2: there the path is opened
 * with a plain openat, and an absolute symlink on the way is followed in this
 * container's own tree (deploy/README.md says so).
 */
static int open_host_dir(int rootfd, const char *path)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = path[1] ? path + 1 : ".";
	long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

/* Creates a fresh ".volshift-install.XXXXXXXX" in dirfd; its name in ret_name. */
static int create_temp(int dirfd, char ret_name[static 64])
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned int rnd;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (unsigned int)getpid() * 2654435761u + (unsigned int)tries;
		snprintf(ret_name, 64, ".volshift-install.%08x", rnd);
		fd = openat(dirfd, ret_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		            0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies everything readable from src to dst. */
static int copy_fd(int src, int dst)
{
	char buf[1 << 16];

	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		r = write_all(dst, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

/*
 * Replaces dirfd/name atomically with mode and the content that fill()
 * writes: temp file, fill, fchmod, fsync, rename, fsync of the directory.
 * The temp file is removed on any failure.
 */
static int replace_file(int dirfd, const char *name, mode_t mode,
                        int (*fill)(int fd, const void *arg), const void *arg)
{
	char tmp[64];
	int fd, r;

	fd = create_temp(dirfd, tmp);
	if (fd < 0)
		return fd;
	r = fill(fd, arg);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	/* the rename is durable once the directory is */
	return fsync(dirfd) < 0 ? -errno : 0;
}

static int fill_from_fd(int fd, const void *arg)
{
	int src = *(const int *)arg;

	if (lseek(src, 0, SEEK_SET) < 0)
		return -errno;
	return copy_fd(src, fd);
}

static int fill_text(int fd, const void *arg)
{
	const char *text = arg;

	return write_all(fd, text, strlen(text));
}

/* hooks/volshift.json as built in, with hook.path = bin_path; malloc'ed text. */
static char *hook_description(const char *bin_path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc, *hook;
	char *text = NULL;

	doc = json_loads(vs_hook_json, 0, &jerr);
	if (!doc) {
		snprintf(err, errlen, "the built-in hook description is not JSON: %s", jerr.text);
		return NULL;
	}
	hook = json_object_get(doc, "hook");
	if (!json_is_object(hook) || !json_is_string(json_object_get(hook, "path"))) {
		snprintf(err, errlen, "the built-in hook description has no hook.path");
		goto out;
	}
	if (json_object_set_new(hook, "path", json_string(bin_path)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* one trailing newline, as an editor leaves a file */
	{
		size_t n = strlen(text);
		char *t = realloc(text, n + 2);

		if (!t) {
			free(text);
			text = NULL;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		text = t;
		memcpy(text + n, "\n", 2);
	}
out:
	json_decref(doc);
	return text;
}

/* Blocks until SIGTERM or SIGINT (also as PID 1, where default actions are ignored). */
static int wait_for_stop(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || sigwait(&set, &sig) != 0) {
		log_error("install: cannot wait for SIGTERM: %s", strerror(errno));
		return EXIT_NO_START;
	}
	return EXIT_DONE;
}

struct install_opts {
	const char *root, *bin_dir, *hooks_dir;
	bool hooks, wait, quiet;
	bool hooks_dir_given;
};

static int option(const struct option *opt, const char *arg, void *userdata)
{
	struct install_opts *o = userdata;

	switch (opt->val) {
	case OPT_ROOT:
		o->root = arg;
		return 0;
	case OPT_BIN_DIR:
		o->bin_dir = arg;
		return 0;
	case OPT_HOOKS_DIR:
		o->hooks_dir = arg;
		o->hooks_dir_given = true;
		return 0;
	case OPT_NO_HOOKS:
		o->hooks = false;
		return 0;
	case OPT_WAIT:
		o->wait = true;
		return 0;
	case OPT_INSTALL_QUIET:
		o->quiet = true;
		return 0;
	}
	return usage_error("internal error: option %d not handled", opt->val);
}

/* 0 to go on, -1 after --help, or an exit status after printing why. */
static int parse(int argc, char **argv, struct install_opts *o)
{
	static const struct option options[] = {
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"bin-dir", required_argument, NULL, OPT_BIN_DIR},
	    {"hooks-dir", required_argument, NULL, OPT_HOOKS_DIR},
	    {"no-hooks", no_argument, NULL, OPT_NO_HOOKS},
	    {"wait", no_argument, NULL, OPT_WAIT},
	    {"quiet", no_argument, NULL, OPT_INSTALL_QUIET}, /* its own: no progress to quiet */
	    {0},
	};
	static const struct cli_syntax syntax = {
	    .name = "install",
	    .options = options,
	    .n_operands = 0,
	    .operands = "no PATH",
	    .help = help,
	    .option = option,
	};
	struct cli_args args = {0};
	int r;

	*o = (struct install_opts){
	    .root = "/", .bin_dir = DEFAULT_BIN_DIR, .hooks_dir = DEFAULT_HOOKS_DIR, .hooks = true};
	r = cli_parse(argc, argv, &syntax, &args, o);
	if (r <= 0)
		return r == 0 ? -1 : -r;
	if (o->hooks_dir_given && !o->hooks)
		return usage_error("--hooks-dir and --no-hooks exclude each other");
	if (o->root[0] != '/')
		return usage_error("--root must be an absolute path, not '%s'", o->root);
	if (!clean_abs_path(o->bin_dir))
		return usage_error("--bin-dir must be an absolute path without '.' or '..' "
		                   "components, not '%s'",
		                   o->bin_dir);
	if (o->hooks && !clean_abs_path(o->hooks_dir))
		return usage_error("--hooks-dir must be an absolute path without '.' or '..' "
		                   "components, not '%s'",
		                   o->hooks_dir);
	return 0;
}

int cmd_install(int argc, char **argv)
{
	struct install_opts o;
	char bin_path[PATH_MAX + sizeof(BIN_NAME) + 1], err[256];
	char *hook_text = NULL;
	int rootfd = -1, bindir = -1, hookdir = -1, self = -1, r, status;

	r = parse(argc, argv, &o);
	if (r)
		return r < 0 ? EXIT_DONE : r;
	snprintf(bin_path, sizeof(bin_path), "%s%s" BIN_NAME, o.bin_dir,
	         strcmp(o.bin_dir, "/") ? "/" : "");

	/* Everything is checked and prepared before the first write. */
	status = EXIT_BAD_INPUT;
	rootfd = open(o.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		usage_error("install: cannot open --root '%s': %s", o.root, strerror(errno));
		goto out;
	}
	bindir = open_host_dir(rootfd, o.bin_dir);
	if (bindir < 0) {
		usage_error("install: cannot open --bin-dir '%s' below '%s': %s", o.bin_dir, o.root,
		            strerror(-bindir));
		goto out;
	}
	if (o.hooks) {
		hookdir = open_host_dir(rootfd, o.hooks_dir);
		if (hookdir < 0) {
			usage_error("install: cannot open --hooks-dir '%s' below '%s': %s",
			            o.hooks_dir, o.root, strerror(-hookdir));
			goto out;
		}
	}
	status = EXIT_NO_START;
	self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		log_error("install: cannot open /proc/self/exe: %s", strerror(errno));
		goto out;
	}
	if (o.hooks) {
		hook_text = hook_description(bin_path, err, sizeof(err));
		if (!hook_text) {
			log_error("install: %s", err);
			goto out;
		}
	}

	r = replace_file(bindir, BIN_NAME, 0755, fill_from_fd, &self);
	if (r < 0) {
		log_error("install: cannot write '%s' below '%s': %s", bin_path, o.root,
		          strerror(-r));
		goto out;
	}
	if (o.hooks) {
		r = replace_file(hookdir, HOOK_NAME, 0644, fill_text, hook_text);
		if (r < 0) {
			log_error("install: installed '%s', but cannot write '%s/" HOOK_NAME
			          "' below '%s': %s",
			          bin_path, o.hooks_dir, o.root, strerror(-r));
			status = EXIT_PARTIAL;
			goto out;
		}
	}
	if (!o.quiet) {
		if (o.hooks)
			log_error("installed %s and %s/" HOOK_NAME " (below %s)", bin_path,
			          o.hooks_dir, o.root);
		else
			log_error("installed %s (below %s)", bin_path, o.root);
	}
	status = o.wait ? wait_for_stop() : EXIT_DONE;
out:
	free(hook_text);
	if (self >= 0)
		close(self);
	if (hookdir >= 0)
		close(hookdir);
	if (bindir >= 0)
		close(bindir);
	if (rootfd >= 0)
		close(rootfd);
	return status;
}
