/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: progress with a percentage. The library's estimate of how
 * many entries a walk meets (vs_walk_estimate; progress callbacks get it as
 * total_estimate) is the used inode count of a filesystem whose root the
 * walk starts at, and 0 (unknown) on a subdirectory, a bind mount of one,
 * or a filesystem that counts no inodes. The CLI's --progress=always line
 * shows "NN% (ETA mm:ss)" on a filesystem's root and entries/s elsewhere.
 * A sharded run says what it does before its walk: the job's first shard
 * that it counts the tree for the plan (with the whole tree's estimate),
 * the others that they wait for that plan.
 * Each test runs in its own private mount namespace, on a tmpfs. The CLI
 * tests hold the walk at one directory with a fanotify permission event
 * until a progress line is out, so that nothing depends on the speed of the
 * machine.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define N_FILES 200

static char *dir;
static char fs[4096];

/* dir/fs: a fresh tmpfs holding N_FILES files, a directory "sub" with one
 * more, and a directory "gate" with N_FILES more. */
static void setup_tmpfs(void)
{
	if (!tu_is_root())
		cr_skip_test("needs root to mount");
	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	dir = tu_mkdtemp("progress");
	snprintf(fs, sizeof(fs), "%s/fs", dir);
	cr_assert_eq(mkdir(fs, 0755), 0);
	if (mount("tmpfs", fs, "tmpfs", 0, "mode=0755") < 0)
		cr_skip_test("cannot mount tmpfs: %s", strerror(errno));
	for (int i = 0; i < N_FILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03d", i);
		tu_mkfile(tu_path(fs, name), 0, 0, 0644);
	}
	tu_mkdir(tu_path(fs, "sub"), 0, 0, 0755);
	tu_mkfile(tu_path(fs, "sub/file"), 0, 0, 0644);
	tu_mkdir(tu_path(fs, "gate"), 0, 0, 0755);
	for (int i = 0; i < N_FILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "gate/f%03d", i);
		tu_mkfile(tu_path(fs, name), 0, 0, 0644);
	}
}

static void teardown(void)
{
	if (!dir)
		return;
	umount2(tu_path(dir, "bind"), MNT_DETACH);
	umount2(fs, MNT_DETACH);
	tu_rm_rf(dir);
	free(dir);
	dir = NULL;
}

TestSuite(progress, .fini = teardown);

static uint64_t estimate(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t e;

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	e = vs_walk_estimate(fd);
	close(fd);
	return e;
}

Test(progress, estimate_on_a_filesystem_root)
{
	uint64_t e;

	setup_tmpfs();
	e = estimate(fs);
	/* the root, the files, sub with one, gate with N_FILES */
	cr_assert_geq(e, 2 * N_FILES + 4, "a tmpfs root with %d entries: estimate %llu",
	              2 * N_FILES + 4, (unsigned long long)e);
	cr_assert_leq(e, 4 * N_FILES, "estimate %llu", (unsigned long long)e);
}

Test(progress, no_estimate_below_the_root)
{
	char bind[4200];

	setup_tmpfs();
	cr_assert_eq(estimate(tu_path(fs, "sub")), 0, "a subdirectory: unknown");

	/* the root of a mount, but of a bind mount of a subdirectory */
	snprintf(bind, sizeof(bind), "%s/bind", dir);
	cr_assert_eq(mkdir(bind, 0755), 0);
	cr_assert_eq(mount(tu_path(fs, "sub"), bind, NULL, MS_BIND, NULL), 0, "%s",
	             strerror(errno));
	cr_assert_eq(estimate(bind), 0, "a bind mount of a subdirectory: unknown");
}

Test(progress, no_estimate_without_an_inode_count)
{
	char ram[4200];

	setup_tmpfs();
	snprintf(ram, sizeof(ram), "%s/bind", dir); /* teardown unmounts it */
	cr_assert_eq(mkdir(ram, 0755), 0);
	if (mount("ramfs", ram, "ramfs", 0, NULL) < 0)
		cr_skip_test("cannot mount ramfs: %s", strerror(errno));
	tu_mkfile(tu_path(ram, "a"), 0, 0, 0644);
	cr_assert_eq(estimate(ram), 0, "ramfs counts no inodes");
}

/* A volshift run with its stderr on a pipe. */
struct child {
	pid_t pid;
	int err; /* the read end of its stderr */
};

static struct child start(char *const argv[])
{
	struct child c;
	int pipefd[2];

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	c.pid = fork();
	cr_assert_geq(c.pid, 0);
	if (c.pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(pipefd[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	c.err = pipefd[0];
	return c;
}

/* Drains its stderr (so that it can finish) and returns its exit status. */
static int finish(struct child *c)
{
	char buf[4096];
	int status;

	while (read(c->err, buf, sizeof(buf)) > 0)
		;
	close(c->err);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Its first whole line on stderr (malloc'ed). Generous bounds, so that a
 * broken build fails instead of hanging; nothing is asserted on time. */
static char *first_line(struct child *c)
{
	char buf[4096];
	size_t len = 0;

	while (!memchr(buf, '\n', len)) {
		struct pollfd pfd = {.fd = c->err, .events = POLLIN};
		ssize_t n;

		cr_assert_eq(poll(&pfd, 1, 120000), 1, "no progress line while the walk waits");
		n = read(c->err, buf + len, sizeof(buf) - 1 - len);
		cr_assert_gt(n, 0, "stderr closed: '%.*s'", (int)len, buf);
		len += (size_t)n;
		cr_assert_lt(len, sizeof(buf) - 1);
	}
	*(char *)memchr(buf, '\n', len) = '\0';
	return strdup(buf);
}

/* A gate: a directory whose first open (to read it) waits until let go. */
struct gate {
	int fan;
	int fd; /* the held open's, once held */
};

static struct gate gate_at(const char *path)
{
	struct gate g = {.fd = -1};

	g.fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
	if (g.fan < 0)
		cr_skip_test("no fanotify permission events here: %s", strerror(errno));
	if (fanotify_mark(g.fan, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ONDIR, AT_FDCWD, path) < 0)
		cr_skip_test("cannot watch opens of %s: %s", path, strerror(errno));
	return g;
}

/* Returns once a walk has opened the gate and waits there. */
static void gate_held(struct gate *g)
{
	struct fanotify_event_metadata ev;
	struct pollfd pfd = {.fd = g->fan, .events = POLLIN};

	cr_assert_eq(poll(&pfd, 1, 120000), 1, "volshift did not open the gate directory");
	cr_assert_eq(read(g->fan, &ev, sizeof(ev)), (ssize_t)sizeof(ev));
	cr_assert(ev.mask & FAN_OPEN_PERM);
	g->fd = ev.fd;
}

/* Lets the held walk go on; later opens are not watched. */
static void gate_open(struct gate *g)
{
	cr_assert_eq(write(g->fan, &(struct fanotify_response){.fd = g->fd, .response = FAN_ALLOW},
	                   sizeof(struct fanotify_response)),
	             (ssize_t)sizeof(struct fanotify_response));
	close(g->fd);
	close(g->fan);
}

/*
 * Runs volshift (argv). When it opens the gate directory (to read it) the
 * walk waits until a whole line has come on stderr: that line is returned
 * (malloc'ed). Then the walk goes on, and *ret_status is volshift's exit
 * status.
 */
static char *line_while_held(const char *gate, char *const argv[], int *ret_status)
{
	struct gate g = gate_at(gate);
	struct child c = start(argv);
	char *line;

	gate_held(&g);
	line = first_line(&c);
	gate_open(&g);
	*ret_status = finish(&c);
	return line;
}

Test(progress, cli_shows_a_percentage_on_a_filesystem_root)
{
	unsigned pct, min, sec;
	char *line;
	int st;

	setup_tmpfs();
	char *argv[] = {VS_BIN,     "shift", "--map", "0:524288:65536", "--progress=always",
	                "--jobs=2", fs,      NULL};
	line = line_while_held(tu_path(fs, "gate"), argv, &st);
	cr_log_info("progress line: %s", line);
	cr_assert_eq(st, 0, "volshift exited %d", st);
	cr_assert_eq(sscanf(line, "volshift: %u%% (ETA %u:%u), ", &pct, &min, &sec), 3,
	             "no percentage and ETA in '%s'", line);
	/* held before the gate's files, about half of all: not 100 before the end */
	cr_assert_leq(pct, 99, "%s", line);
	cr_assert_lt(sec, 60, "%s", line);
	cr_assert(tu_contains(line, " entries processed in "), "%s", line);
	free(line);
}

Test(progress, cli_shows_entries_per_second_below_the_root)
{
	unsigned long long n;
	char *line;
	int st;

	/* dir holds fs: the walk crosses no mount, so hold it in a directory of
	 * dir's own filesystem */
	setup_tmpfs();
	char *argv[] = {VS_BIN,     "fsgroup", "--gid", "2000", "--progress=always",
	                "--jobs=2", dir,       NULL};
	tu_mkdir(tu_path(dir, "gate"), 0, 0, 0755);
	tu_mkfile(tu_path(dir, "gate/file"), 0, 0, 0644);
	line = line_while_held(tu_path(dir, "gate"), argv, &st);
	cr_log_info("progress line: %s", line);
	cr_assert_eq(st, 0, "volshift exited %d", st);
	cr_assert_eq(sscanf(line, "volshift: %llu entries processed in ", &n), 1, "'%s'", line);
	cr_assert_not(strchr(line, '%'), "no percentage below a filesystem's root: '%s'", line);
	cr_assert(tu_contains(line, "/s)"), "entries/s: '%s'", line);
	free(line);
}

/* The first shard of a job counts the tree before its walk: held in the
 * count, it says so, with the whole tree's estimate. */
Test(progress, cli_shows_a_shard_counting_for_the_plan)
{
	unsigned long long n, total;
	char *line;
	int st;

	setup_tmpfs();
	char *argv[] = {
	    VS_BIN,     "shift", "--map", "0:524288:65536", "--shard", "0/2", "--progress=always",
	    "--jobs=2", fs,      NULL};
	line = line_while_held(tu_path(fs, "gate"), argv, &st);
	cr_log_info("progress line: %s", line);
	cr_assert_eq(st, 0, "volshift exited %d", st);
	cr_assert_eq(
	    sscanf(line,
	           "volshift: counting the tree for the job's plan: %llu of ~%llu entries in ", &n,
	           &total),
	    2, "'%s'", line);
	cr_assert_lt(n, total, "%s", line);
	free(line);
}

/* The other shards wait for that plan: one held in its count, another
 * started meanwhile says that it waits, and both finish the job. */
Test(progress, cli_shows_a_shard_waiting_for_the_plan)
{
	char *first[] = {
	    VS_BIN,     "shift", "--map", "0:524288:65536", "--shard", "0/2", "--progress=never",
	    "--jobs=2", fs,      NULL};
	char *second[] = {
	    VS_BIN,     "shift", "--map", "0:524288:65536", "--shard", "1/2", "--progress=always",
	    "--jobs=2", fs,      NULL};
	struct child a, b;
	struct gate g;
	char *line;
	struct stat st;

	setup_tmpfs();
	g = gate_at(tu_path(fs, "gate"));
	a = start(first);
	gate_held(&g);
	b = start(second);
	line = first_line(&b);
	cr_log_info("progress line: %s", line);
	cr_assert(tu_contains(line, "volshift: waiting ") &&
	              tu_contains(line, " s for the job's plan"),
	          "'%s'", line);
	gate_open(&g);
	cr_assert_eq(finish(&a), 0);
	cr_assert_eq(finish(&b), 0);
	cr_assert_eq(stat(fs, &st), 0);
	cr_assert_eq(st.st_uid, 524288, "the job did not finish its root");
	free(line);
}
