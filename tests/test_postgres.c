/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: a real application as a strict client of the volume:
 * PostgreSQL, which refuses a data directory that is not owned by the user
 * it runs as, or that its group or others may write.
 *
 * The volume is what a container image leaves: a cluster initdb'd by the
 * image's postgres user, uid/gid 999 (the Debian-based official image's),
 * owned 999:999 on disk. The test gives that user a name the way a
 * container does, with its own /etc/passwd (bind-mounted over the host's in
 * this test's private mount namespace), and runs initdb as 999:999.
 *
 * shift: as it is, the cluster cannot be used by a pod with a user
 * namespace "0 524288 65536": inside, its files belong to nobody, and
 * postgres, run as the container's 999, cannot even read its configuration
 * ("could not access the server configuration file ...: Permission
 * denied"). `volshift shift --map 0:524288:65536` moves the cluster
 * to the pod's host range (999 -> 525287); postgres then runs inside that
 * user namespace (its /proc/PID/uid_map and host uid checked), as 999, and
 * starts, creates a table and answers a query (psql from the host, over a
 * unix socket). Every file it wrote is owned by 525287 on disk. After it
 * stops, `--reverse` gives back exactly the tree it left with 999:999
 * (owners and modes of every entry, the ones postgres created included);
 * before that, a shift and --reverse without postgres between them give
 * back the initdb'd tree itself, entry for entry.
 *
 * fsgroup is wrong for it: `volshift fsgroup` (kubelet's fsGroup) makes the
 * data directory 02770, group-writable, which postgres takes as a cluster
 * anyone in the group could tamper with, and refuses to start ("data
 * directory ... has invalid permissions", "Permissions should be u=rwx
 * (0700) or u=rwx,g=rx (0750)"). Put back to 0700, the same cluster starts.
 * What such a volume needs is its owner fixed (shift, or an idmapped mount),
 * not group access.
 *
 * Needs root, PostgreSQL server binaries (Debian: postgresql, found under
 * /usr/lib/postgresql/N/bin, or $VS_PG_BINDIR), psql and user namespaces;
 * skips with the reason otherwise. Everything lives in a fresh temp dir;
 * postgres is killed in teardown whatever happens.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "testutil.h"
#include "tree.h"

#define PG_ID     999U                /* the image's postgres user and group */
#define HOST_BASE 524288U             /* the pod's range: 0:524288:65536 */
#define HOST_PG   (HOST_BASE + PG_ID) /* 525287 */
#define MAP       "0:524288:65536"
#define FS_GID    2000U /* the pod's fsGroup in the fsgroup case */

static struct {
	char bindir[512];
	char *dir;       /* the temp dir */
	char data[4200]; /* the cluster */
	char sock[4200]; /* unix socket directory */
	char log[4200];  /* postgres's stderr */
	pid_t pg;        /* a running postgres, or 0 */
	bool passwd_mounted;
} P;

/* ------------------------------------------------------------ helpers */

static const char *bin(const char *name)
{
	static char buf[4][600];
	static int slot;
	char *b = buf[slot++ & 3];

	snprintf(b, sizeof(buf[0]), "%s/%s", P.bindir, name);
	return b;
}

/* The newest /usr/lib/postgresql/N/bin with postgres, initdb and psql. */
static bool find_bindir(void)
{
	const char *env = getenv("VS_PG_BINDIR");
	glob_t g;
	bool found = false;

	if (env && *env) {
		snprintf(P.bindir, sizeof(P.bindir), "%s", env);
	} else if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
		int best = -1;

		for (size_t i = 0; i < g.gl_pathc; i++) {
			int v = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));

			if (v > best) {
				best = v;
				snprintf(P.bindir, sizeof(P.bindir), "%s", g.gl_pathv[i]);
			}
		}
		globfree(&g);
	}
	if (P.bindir[0])
		found = access(bin("postgres"), X_OK) == 0 && access(bin("initdb"), X_OK) == 0 &&
		        access(bin("psql"), X_OK) == 0 && access(bin("pg_isready"), X_OK) == 0;
	return found;
}

/* The container's /etc/passwd: initdb names the cluster's owner after its
 * uid, and the host has no user 999. Only this test's mount namespace
 * sees it. */
static void container_passwd(void)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/passwd", P.dir);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fprintf(f,
	        "root:x:0:0:root:/root:/bin/sh\n"
	        "postgres:x:%u:%u:PostgreSQL:%s:/bin/sh\n",
	        PG_ID, PG_ID, P.dir);
	fclose(f);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(mount(path, "/etc/passwd", NULL, MS_BIND, NULL), 0,
	             "bind-mounting the container's passwd: %s", strerror(errno));
	P.passwd_mounted = true;
}

struct as {
	uid_t uid;
	gid_t gid;
	gid_t extra_gid; /* a supplementary group, or 0 for none */
	bool userns;     /* in a user namespace mapping 0 -> HOST_BASE, 65536 IDs */
	const char *out; /* stdout and stderr go here (appended), or NULL: /dev/null */
};

static void write_map(pid_t pid, const char *what)
{
	char path[64], map[64];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	n = snprintf(map, sizeof(map), "0 %u 65536\n", HOST_BASE);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, map, (size_t)n), n, "%s: %s", path, strerror(errno));
	close(fd);
}

/* Starts argv as a->uid:a->gid (inside a user namespace when a->userns),
 * with a small clean environment; returns its pid. */
static pid_t spawn_as(const struct as *a, char *const argv[])
{
	int ready[2], go[2];
	char c = 0;
	pid_t pid;

	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", "TZ=UTC", NULL};
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = a->out ? open(a->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
		                 : open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (a->userns) {
			c = unshare(CLONE_NEWUSER) < 0 ? (char)errno : 0;
			if (write(ready[1], &c, 1) != 1 || c || read(go[0], &c, 1) != 1)
				_exit(126);
		}
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		if (setgroups(a->extra_gid ? 1 : 0, &a->extra_gid) < 0 ||
		    setresgid(a->gid, a->gid, a->gid) < 0 || setresuid(a->uid, a->uid, a->uid) < 0)
			_exit(125);
		/* after the uid change, which clears it: die with the test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (chdir(P.dir) < 0)
			_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(ready[1]);
	close(go[0]);
	if (a->userns) {
		if (read(ready[0], &c, 1) != 1)
			c = EIO;
		if (c) {
			char why[256];

			waitpid(pid, NULL, 0);
			kp_userns_why((unsigned char)c, why, sizeof(why));
			cr_skip_test("needs a user namespace: %s", why);
		}
		write_map(pid, "uid_map");
		write_map(pid, "gid_map");
		cr_assert_eq(write(go[1], &c, 1), 1);
	}
	close(ready[0]);
	close(go[1]);
	return pid;
}

/* Waits up to secs for pid; its exit status, or -1 if it still runs. */
static int wait_for(pid_t pid, int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		cr_assert_geq(r, 0, "waitpid: %s", strerror(errno));
		usleep(10000);
	}
	return -1;
}

static int run_as(const struct as *a, char *const argv[])
{
	pid_t pid = spawn_as(a, argv);
	int st = wait_for(pid, 120);

	if (st < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return st;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/* Prints the lines of postgres's log that say why, for the test's output. */
static void show_log(const char *tag)
{
	char *text = slurp(P.log);

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "FATAL") || strstr(line, "DETAIL") || strstr(line, "HINT") ||
		    strstr(line, "ready to accept") || strstr(line, "shut down"))
			fprintf(stderr, "%s: %s\n", tag, line);
	free(text);
}

/* initdb as the image's postgres user, into P.data (made 999:999 0700). */
static void initdb_as_image(void)
{
	const struct as a = {PG_ID, PG_ID, 0, false, P.log};
	char *argv[] = {(char *)bin("initdb"),
	                "-D",
	                P.data,
	                "-U",
	                "postgres",
	                "--auth=trust",
	                "-E",
	                "UTF8",
	                "--locale=C",
	                "--no-sync",
	                NULL};
	int st;

	tu_mkdir(P.data, PG_ID, PG_ID, 0700);
	st = run_as(&a, argv);
	if (st != 0) {
		char *text = slurp(P.log);

		cr_assert_fail("initdb as %u:%u exit %d:\n%s", PG_ID, PG_ID, st, text);
	}
	fprintf(stderr, "postgres: initdb as %u:%u made %s\n", PG_ID, PG_ID, P.data);
}

static void setup(void)
{
	memset(&P, 0, sizeof(P));
	if (!tu_is_root())
		cr_skip_test("needs root (chown, mounts, user namespaces)");
	if (!find_bindir())
		cr_skip_test("no PostgreSQL server binaries (Debian package postgresql; or set "
		             "VS_PG_BINDIR): looked in %s",
		             P.bindir[0] ? P.bindir : "/usr/lib/postgresql/*/bin");
	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	P.dir = tu_mkdtemp("postgres");
	/* the container's postgres (host 525287 after the shift) walks through */
	cr_assert_eq(chmod(P.dir, 0755), 0);
	snprintf(P.data, sizeof(P.data), "%s/data", P.dir);
	snprintf(P.sock, sizeof(P.sock), "%s/sock", P.dir);
	snprintf(P.log, sizeof(P.log), "%s/postgres.log", P.dir);
	tu_mkdir(P.sock, 0, 0, 01777);
	container_passwd();
}

static void stop_postgres(void)
{
	if (P.pg <= 0)
		return;
	kill(P.pg, SIGINT); /* fast shutdown */
	if (wait_for(P.pg, 30) < 0) {
		kill(P.pg, SIGKILL);
		waitpid(P.pg, NULL, 0);
	}
	P.pg = 0;
}

static void teardown(void)
{
	if (P.pg > 0) {
		kill(P.pg, SIGKILL);
		waitpid(P.pg, NULL, 0);
		P.pg = 0;
	}
	if (P.passwd_mounted)
		umount2("/etc/passwd", MNT_DETACH);
	if (P.dir) {
		tu_rm_rf(P.dir);
		free(P.dir);
	}
	P.dir = NULL;
}

TestSuite(postgres, .init = setup, .fini = teardown, .timeout = 240);

/* Starts postgres on P.data as a (no TCP, the socket in P.sock). */
static void start_postgres(const struct as *a)
{
	char *argv[] = {(char *)bin("postgres"),
	                "-D",
	                P.data,
	                "-k",
	                P.sock,
	                "-c",
	                "listen_addresses=",
	                "-c",
	                "fsync=off",
	                "-c",
	                "shared_buffers=16MB",
	                "-c",
	                "max_connections=10",
	                NULL};

	P.pg = spawn_as(a, argv);
}

/* Waits until postgres answers on its socket (true), or exits (false). */
static bool postgres_ready(void)
{
	char *argv[] = {(char *)bin("pg_isready"), "-q", "-h", P.sock, "-U", "postgres", NULL};

	for (int i = 0; i < 600; i++) {
		int st;

		if (waitpid(P.pg, &st, WNOHANG) == P.pg) {
			P.pg = 0;
			return false;
		}
		if (tu_run(argv, NULL, NULL) == 0)
			return true;
		usleep(50000);
	}
	cr_assert_fail("postgres neither answered nor exited in 30 s");
	return false;
}

/* psql -c sql from the host; its output (malloc'ed), asserting exit 0. */
static char *psql(const char *sql)
{
	char *argv[] = {(char *)bin("psql"),
	                "-X",
	                "-q",
	                "-At",
	                "-v",
	                "ON_ERROR_STOP=1",
	                "-h",
	                P.sock,
	                "-U",
	                "postgres",
	                "-d",
	                "postgres",
	                "-c",
	                (char *)sql,
	                NULL};
	char *out = NULL, *err = NULL;
	int st = tu_run(argv, &out, &err);

	cr_assert_eq(st, 0, "psql -c '%s': exit %d: %s", sql, st, err);
	free(err);
	out[strcspn(out, "\n")] = '\0';
	fprintf(stderr, "postgres: psql -c \"%s\" -> %s\n", sql, out);
	return out;
}

static struct stat lst(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "lstat %s: %s", path, strerror(errno));
	return st;
}

/* Splits a snapshot line "relpath uid gid mode" (the path may hold blanks:
 * from the right). */
static void parse_line(const char *line, size_t len, char *path, size_t size, unsigned *uid,
                       unsigned *gid, unsigned *mode)
{
	const char *p = line + len;
	int blanks = 0;

	while (p > line && blanks < 3)
		if (*--p == ' ')
			blanks++;
	cr_assert_eq(blanks, 3, "snapshot line '%.*s'", (int)len, line);
	cr_assert_eq(sscanf(p, " %u %u %o", uid, gid, mode), 3, "snapshot line '%.*s'", (int)len,
	             line);
	snprintf(path, size, "%.*s", (int)(p - line), line);
}

/* A snapshot with one ID put for another (in uid and gid alike): what the
 * tree must be after a shift or its reverse. */
static char *swap_owner(const char *snap, unsigned from, unsigned to)
{
	size_t cap = strlen(snap) * 2 + 1, off = 0;
	char *out = malloc(cap);

	cr_assert_not_null(out);
	for (const char *line = snap; *line;) {
		const char *end = strchrnul(line, '\n');
		char path[8192];
		unsigned uid, gid, mode;

		parse_line(line, (size_t)(end - line), path, sizeof(path), &uid, &gid, &mode);
		off += (size_t)snprintf(out + off, cap - off, "%s %u %u %o\n", path,
		                        uid == from ? to : uid, gid == from ? to : gid, mode);
		line = *end ? end + 1 : end;
	}
	out[off] = '\0';
	return out;
}

/* Every entry of a snapshot is owned id:id. */
static void all_owned(const char *snap, unsigned id, const char *when)
{
	size_t n = 0;

	for (const char *line = snap; *line; n++) {
		const char *end = strchrnul(line, '\n');
		char path[8192];
		unsigned uid, gid, mode;

		parse_line(line, (size_t)(end - line), path, sizeof(path), &uid, &gid, &mode);
		cr_assert(uid == id && gid == id, "%s: %s is owned %u:%u, not %u:%u", when, path,
		          uid, gid, id, id);
		line = *end ? end + 1 : end;
	}
	fprintf(stderr, "postgres: %s: all %zu entries owned %u:%u\n", when, n, id, id);
}

/* pid runs in a user namespace mapping 0 -> 524288, as host 525287. */
static void in_the_pods_userns(pid_t pid)
{
	char path[64], line[256];
	unsigned from, to, len, uid = 0;

	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	kp_read_line(path, line, sizeof(line));
	cr_assert_eq(sscanf(line, "%u %u %u", &from, &to, &len), 3, "%s: %s", path, line);
	cr_assert(from == 0 && to == HOST_BASE && len == 65536, "%s: %s", path, line);

	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u", &uid) == 1)
			break;
	fclose(f);
	cr_assert_eq(uid, HOST_PG, "postgres runs as host uid %u", uid);
	fprintf(stderr, "postgres: pid %d: uid_map \"0 %u 65536\", host uid %u (999 inside)\n",
	        (int)pid, HOST_BASE, uid);
}

/* ------------------------------------------------------------- tests */

Test(postgres, shift_runs_postgres_in_a_userns_and_reverse_restores)
{
	const struct as in_pod = {PG_ID, PG_ID, 0, true, P.log};
	char *orig, *shifted, *mid, *back, *want, *out = NULL, *err = NULL, *r;
	int st;

	initdb_as_image();
	orig = tree_snapshot(P.data);
	all_owned(orig, PG_ID, "after initdb");

	/* a shift and its reverse, nothing between: the initdb'd tree itself */
	st = tu_volshift(&out, &err, "shift", "--map", MAP, "--json", P.data, NULL);
	cr_assert_eq(st, 0, "shift: exit %d: %s", st, err);
	cr_assert_eq(tu_json_num(out, "failed"), 0, "%s", out);
	shifted = tree_snapshot(P.data);
	want = swap_owner(orig, PG_ID, HOST_PG);
	cr_assert_eq(tree_diff(want, shifted), 0,
	             "the shift must move 999 to 525287, nothing else");
	free(want);
	free(out);
	free(err);
	st = tu_volshift(&out, &err, "shift", "--map", MAP, "--reverse", "--json", P.data, NULL);
	cr_assert_eq(st, 0, "reverse: exit %d: %s", st, err);
	back = tree_snapshot(P.data);
	cr_assert_eq(tree_diff(orig, back), 0, "--reverse must give back the initdb'd tree");
	fprintf(stderr, "postgres: shift + --reverse: the same %zu-byte snapshot\n", strlen(back));
	free(back);
	free(shifted);
	free(out);
	free(err);

	/* without volshift, the pod's postgres cannot get at its data */
	cr_assert_eq(truncate(P.log, 0), 0);
	start_postgres(&in_pod);
	cr_assert_not(postgres_ready(), "postgres started on a cluster it does not own");
	char *log = slurp(P.log);

	fprintf(stderr, "postgres (not shifted): %s", log);
	cr_assert(tu_contains(log, "could not access the server configuration file") &&
	              tu_contains(log, "Permission denied"),
	          "postgres log:\n%s", log);
	free(log);
	cr_assert_eq(truncate(P.log, 0), 0);

	/* shifted for the pod: postgres runs as the container's 999 */
	st = tu_volshift(&out, &err, "shift", "--map", MAP, "--json", P.data, NULL);
	cr_assert_eq(st, 0, "shift: exit %d: %s", st, err);
	fprintf(stderr, "postgres: volshift shift --map %s: %s\n", MAP, out);
	free(out);
	free(err);
	cr_assert_eq(lst(P.data).st_uid, HOST_PG);

	start_postgres(&in_pod);
	if (!postgres_ready()) {
		show_log("postgres");
		cr_assert_fail("postgres did not start in the user namespace");
	}
	in_the_pods_userns(P.pg);
	r = psql("SELECT current_user, version() LIKE 'PostgreSQL %'");
	cr_assert_str_eq(r, "postgres|t");
	free(r);
	free(psql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, "
	          "10000) g"));
	r = psql("SELECT count(*), sum(id) FROM t");
	cr_assert_str_eq(r, "10000|50005000");
	free(r);
	r = psql("SELECT pg_relation_filepath('t')");
	char relfile[8400];

	snprintf(relfile, sizeof(relfile), "%s/%s", P.data, r);
	free(r);
	stop_postgres();
	show_log("postgres");

	/* what it wrote, it wrote as the container's 999: 525287 on disk */
	cr_assert_eq(lst(relfile).st_uid, HOST_PG, "%s", relfile);
	mid = tree_snapshot(P.data);
	all_owned(mid, HOST_PG, "after postgres ran");

	/* --reverse: the tree postgres left, with its original owners */
	st = tu_volshift(&out, &err, "shift", "--map", MAP, "--reverse", "--json", P.data, NULL);
	cr_assert_eq(st, 0, "reverse: exit %d: %s", st, err);
	cr_assert_eq(tu_json_num(out, "failed"), 0, "%s", out);
	fprintf(stderr, "postgres: volshift shift --reverse: %s\n", out);
	back = tree_snapshot(P.data);
	want = swap_owner(mid, HOST_PG, PG_ID);
	cr_assert_eq(tree_diff(want, back), 0, "--reverse must give back every entry as 999:999");
	all_owned(back, PG_ID, "after --reverse");
	free(want);
	free(back);
	free(mid);
	free(orig);
	free(out);
	free(err);
}

Test(postgres, fsgroup_makes_postgres_refuse_its_data_directory)
{
	/* a pod with fsGroup 2000 running postgres as 999, no user namespace */
	const struct as pod = {PG_ID, PG_ID, FS_GID, false, P.log};
	char *out = NULL, *err = NULL, *log, *r;
	int st;

	initdb_as_image();
	st = tu_volshift(&out, &err, "fsgroup", "--gid", "2000", "--json", P.data, NULL);
	cr_assert_eq(st, 0, "fsgroup: exit %d: %s", st, err);
	fprintf(stderr, "postgres: volshift fsgroup --gid 2000: %s\n", out);
	free(out);
	free(err);
	cr_assert_eq(lst(P.data).st_mode & 07777, 02770, "fsgroup's directory mode");
	cr_assert_eq(lst(P.data).st_uid, PG_ID, "fsgroup keeps the owner");

	cr_assert_eq(truncate(P.log, 0), 0);
	start_postgres(&pod);
	if (postgres_ready()) {
		stop_postgres();
		cr_assert_fail("postgres started on a group-writable data directory");
	}
	show_log("postgres (after fsgroup)");
	log = slurp(P.log);
	cr_assert(tu_contains(log, "has invalid permissions"), "postgres log:\n%s", log);
	cr_assert(tu_contains(log, "Permissions should be u=rwx (0700) or u=rwx,g=rx (0750)"),
	          "postgres log:\n%s", log);
	free(log);

	/* the same cluster starts once its directory is 0700 again: the mode
	 * is all that stopped it */
	cr_assert_eq(chmod(P.data, 0700), 0);
	cr_assert_eq(truncate(P.log, 0), 0);
	start_postgres(&pod);
	if (!postgres_ready()) {
		show_log("postgres (0700)");
		cr_assert_fail("postgres did not start with the data directory back at 0700");
	}
	r = psql("SELECT 1");
	cr_assert_str_eq(r, "1");
	free(r);
	stop_postgres();
}
