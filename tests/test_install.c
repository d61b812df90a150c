/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: `volshift install` (src/cli/install.c) into a fresh temp dir
 * standing for a host's /: the binary is this build's, byte for byte, mode
 * 0755; the hook description is hooks/volshift.json of the source tree with
 * "path" naming the installed binary; an old file is replaced by rename (a
 * hard link to it keeps the old content); an absolute symlink on the host
 * path resolves inside --root; bad input writes nothing and exits 2 with one
 * line on stderr; --wait keeps running until SIGTERM and then exits 0.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define BIN_DIR   "/usr/local/bin"
#define HOOKS_DIR "/etc/containers/oci/hooks.d"

static char *root;

static void setup(void)
{
	root = tu_mkdtemp("install");
	cr_assert_eq(tu_sh("mkdir -p '%s" BIN_DIR "' '%s" HOOKS_DIR "'", root, root), 0);
}

static void teardown(void)
{
	tu_rm_rf(root);
	free(root);
}

TestSuite(install, .init = setup, .fini = teardown, .timeout = 60);

static char *slurp_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;

	cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		buf = realloc(buf, len + 65536 + 1);
		size_t n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}

/* Number of entries in dir other than . and .. */
static int count_entries(const char *dir)
{
	char cmd[512];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void assert_binary(const char *path)
{
	struct stat st;
	size_t a_len, b_len;
	char *a, *b;

	cr_assert_eq(lstat(path, &st), 0, "%s missing: %s", path, strerror(errno));
	cr_assert(S_ISREG(st.st_mode), "%s is not a regular file", path);
	cr_assert_eq(st.st_mode & 07777, 0755, "%s has mode %o", path, st.st_mode & 07777);
	a = slurp_file(path, &a_len);
	b = slurp_file(VS_BIN, &b_len);
	cr_assert_eq(a_len, b_len, "installed binary is %zu bytes, the build's %zu", a_len, b_len);
	cr_assert(memcmp(a, b, a_len) == 0, "installed binary differs from " VS_BIN);
	free(a);
	free(b);
}

/* The hook file equals hooks/volshift.json with hook.path = bin_path. */
static void assert_hook(const char *path, const char *bin_path)
{
	json_error_t jerr;
	json_t *got, *want;
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s missing: %s", path, strerror(errno));
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0644, "%s has mode %o", path, st.st_mode & 07777);
	got = json_load_file(path, 0, &jerr);
	cr_assert_not_null(got, "%s is not JSON: %s", path, jerr.text);
	want = json_load_file(VS_SOURCE_DIR "/hooks/volshift.json", 0, &jerr);
	cr_assert_not_null(want, "hooks/volshift.json: %s", jerr.text);
	json_object_set_new(json_object_get(want, "hook"), "path", json_string(bin_path));
	cr_assert(json_equal(got, want), "%s is not hooks/volshift.json with path %s", path,
	          bin_path);
	json_decref(got);
	json_decref(want);
}

Test(install, default_dirs)
{
	char *err = NULL;
	int r = tu_volshift(NULL, &err, "install", "--root", root, NULL);

	cr_assert_eq(r, 0, "exit %d: %s", r, err);
	assert_binary(tu_path(root, BIN_DIR "/volshift"));
	assert_hook(tu_path(root, HOOKS_DIR "/volshift.json"), BIN_DIR "/volshift");
	/* no temp file left behind */
	cr_assert_eq(count_entries(tu_path(root, BIN_DIR)), 1);
	cr_assert_eq(count_entries(tu_path(root, HOOKS_DIR)), 1);
	free(err);
}

Test(install, other_dirs_name_the_binary_in_the_hook)
{
	char *err = NULL;
	int r;

	cr_assert_eq(tu_sh("mkdir -p '%s/opt/vs/bin' '%s/hooks'", root, root), 0);
	r = tu_volshift(NULL, &err, "install", "--root", root, "--bin-dir", "/opt/vs/bin",
	                "--hooks-dir", "/hooks", "--quiet", NULL);
	cr_assert_eq(r, 0, "exit %d: %s", r, err);
	cr_assert_str_empty(err, "--quiet printed: %s", err);
	assert_binary(tu_path(root, "opt/vs/bin/volshift"));
	assert_hook(tu_path(root, "hooks/volshift.json"), "/opt/vs/bin/volshift");
	cr_assert_eq(count_entries(tu_path(root, BIN_DIR)), 0);
	free(err);
}

Test(install, replaces_by_rename)
{
	const char *bin = tu_path(root, BIN_DIR "/volshift");
	char keep[4096], *err = NULL, *old;
	struct stat before, after;
	int r;

	snprintf(keep, sizeof(keep), "%s/keep", root);
	cr_assert_eq(
	    tu_sh("printf old > '%s' && chmod 0600 '%s' && ln '%s' '%s'", bin, bin, bin, keep), 0);
	cr_assert_eq(lstat(bin, &before), 0);
	r = tu_volshift(NULL, &err, "install", "--root", root, NULL);
	cr_assert_eq(r, 0, "exit %d: %s", r, err);
	cr_assert_eq(lstat(bin, &after), 0);
	cr_assert_neq(after.st_ino, before.st_ino, "the old inode was rewritten, not replaced");
	assert_binary(bin);
	old = slurp_file(keep, NULL);
	cr_assert_str_eq(old, "old", "a hard link to the old file changed");
	free(old);
	free(err);
}

Test(install, absolute_symlink_resolves_inside_root)
{
	struct open_how how = {.flags = O_PATH, .resolve = RESOLVE_IN_ROOT};
	char target[64], installed[4096], *err = NULL;
	long fd;
	int r;

	fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		cr_skip_test("no openat2 (Linux < 5.6): symlinks resolve in the container's tree");
	if (fd >= 0)
		close((int)fd);
	/* a name that exists nowhere on this machine outside root */
	snprintf(target, sizeof(target), "/volshift-test-bin-%d-%ld", getpid(), (long)time(NULL));
	cr_assert_eq(access(target, F_OK), -1);
	cr_assert_eq(tu_sh("mkdir '%s%s' && rmdir '%s" BIN_DIR "' && ln -s '%s' '%s" BIN_DIR "'",
	                   root, target, root, target, root),
	             0);
	r = tu_volshift(NULL, &err, "install", "--root", root, NULL);
	cr_assert_eq(r, 0, "exit %d: %s", r, err);
	snprintf(installed, sizeof(installed), "%s%s/volshift", root, target);
	assert_binary(installed);
	assert_hook(tu_path(root, HOOKS_DIR "/volshift.json"), BIN_DIR "/volshift");
	cr_assert_eq(access(target, F_OK), -1, "%s was created outside the root", target);
	free(err);
}

Test(install, no_hooks_writes_only_the_binary)
{
	char *err = NULL;
	int r = tu_volshift(NULL, &err, "install", "--root", root, "--no-hooks", NULL);

	cr_assert_eq(r, 0, "exit %d: %s", r, err);
	assert_binary(tu_path(root, BIN_DIR "/volshift"));
	cr_assert_eq(count_entries(tu_path(root, HOOKS_DIR)), 0);
	free(err);
}

/* Runs install with the arguments given; expects exit 2, one stderr line, nothing written. */
static void assert_refused(const char *a1, const char *a2, const char *a3, const char *a4)
{
	char *err = NULL;
	int r = tu_volshift(NULL, &err, "install", a1, a2, a3, a4, NULL);
	const char *nl;

	cr_assert_eq(r, 2, "install %s %s %s %s: exit %d (want 2): %s", a1, a2 ? a2 : "",
	             a3 ? a3 : "", a4 ? a4 : "", r, err);
	nl = strchr(err, '\n');
	cr_assert(nl && nl[1] == '\0', "want one line on stderr, got: %s", err);
	cr_assert(!strncmp(err, "volshift: ", 10), "stderr: %s", err);
	cr_assert_eq(count_entries(tu_path(root, BIN_DIR)), 0, "something was written");
	cr_assert_eq(count_entries(tu_path(root, HOOKS_DIR)), 0, "something was written");
	free(err);
}

Test(install, bad_input_writes_nothing)
{
	char missing[4096];

	snprintf(missing, sizeof(missing), "%s/missing", root);
	assert_refused("--root", root, "--hooks-dir", "/no/such/dir");
	assert_refused("--root", root, "--bin-dir", "/no/such/dir");
	assert_refused("--root", root, "--bin-dir", "usr/local/bin");
	assert_refused("--root", root, "--bin-dir", "/usr/../usr/local/bin");
	assert_refused("--root", root, "--hooks-dir", "/etc//containers");
	assert_refused("--root", missing, NULL, NULL);
	assert_refused("--root", "relative", NULL, NULL);
	assert_refused("--root", root, "--no-hooks", "--hooks-dir=" HOOKS_DIR);
	assert_refused("--root", root, "extra-argument", NULL);
	assert_refused("--root", root, "--frobnicate", NULL);
	assert_refused("--root", root, "--bin-dir", NULL);
	/* a file where the bin dir should be */
	cr_assert_eq(tu_sh("touch '%s/afile'", root), 0);
	assert_refused("--root", root, "--bin-dir", "/afile");
}

Test(install, wait_runs_until_sigterm)
{
	const char *hook = tu_path(root, HOOKS_DIR "/volshift.json");
	struct timespec tick = {0, 20 * 1000 * 1000};
	int status, i;
	pid_t pid;

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		execl(VS_BIN, "volshift", "install", "--root", root, "--wait", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && access(hook, F_OK) != 0; i++)
		nanosleep(&tick, NULL);
	cr_assert_eq(access(hook, F_OK), 0, "install --wait wrote no hook file in 10 s");
	/* still running a moment after installing */
	nanosleep(&tick, NULL);
	cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "install --wait exited by itself");
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "install --wait did not exit 0 on SIGTERM (status 0x%x)", status);
	assert_binary(tu_path(root, BIN_DIR "/volshift"));
}
