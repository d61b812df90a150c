/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: the statx engines (sync and io_uring) on a real tree in a
 * fresh temp dir: every result matches a plain statx of the same name,
 * missing names and bad paths give their -errno per entry, batches of 1, 2,
 * 128 and repeated batches work, and a ring set up on one thread serves
 * batches from another (as the walker does). A seccomp filter denying
 * io_uring_setup or io_uring_enter (EPERM, ENOSYS) makes vs_uring_probe()
 * fail with that error, and a ring that can no longer submit still gives
 * every result. As root, with
 * /proc/sys/kernel/io_uring_disabled set to 2 (restored after, even when the
 * test dies): vs_uring_probe() fails, `--engine=uring` exits 3 and changes
 * nothing, `--engine=auto` falls back to sync and says so in its report.
 *
 * The io_uring_disabled tests change a machine-wide setting: CMakeLists.txt
 * marks this program RUN_SERIAL, so that no other test of the same ctest run
 * (which may need io_uring) runs while it does. That does not reach other
 * ctest runs on the machine: run it only briefly and rarely there.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "macros.h"
#include "testutil.h"

#define NFILES 300 /* more than two full batches */

static char *top;
static int topfd = -1;

static void mk_tree(void)
{
	top = tu_mkdtemp("engine");
	for (int i = 0; i < NFILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03d", i);
		/* a spread of modes; owners only where we may chown */
		tu_mkfile(tu_path(top, name), tu_is_root() ? (uid_t)(1000 + i % 7) : getuid(),
		          tu_is_root() ? (gid_t)(2000 + i % 5) : getgid(), 0600 | (i % 8) << 3);
	}
	tu_mkdir(tu_path(top, "dir"), getuid(), getgid(), 0755);
	cr_assert_eq(symlink("f000", tu_path(top, "link")), 0);
	cr_assert_eq(symlink("/nonexistent/target", tu_path(top, "dangling")), 0);
	cr_assert_eq(symlink("/", tu_path(top, "toroot")), 0);
	cr_assert_eq(link(tu_path(top, "f001"), tu_path(top, "hardlink")), 0);
	cr_assert_eq(mkfifo(tu_path(top, "fifo"), 0640), 0);
	topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(topfd, 0);
}

static void rm_tree(void)
{
	if (topfd >= 0)
		close(topfd);
	topfd = -1;
	if (top)
		tu_rm_rf(top);
	free(top);
	top = NULL;
}

TestSuite(engine, .init = mk_tree, .fini = rm_tree);

/* ------------------------------------------------------------ helpers */

/* Names live here for the whole test: a batch only borrows pointers. */
static char names[1024][32];
static unsigned n_names;

static void add_name(const char *s)
{
	cr_assert_lt(n_names, ARRAY_SIZE(names));
	snprintf(names[n_names++], sizeof(names[0]), "%s", s);
}

/* Every name of the tree, then `missing` names that do not exist. */
static void all_names(unsigned missing)
{
	static const char *extra[] = {"dir", "link", "dangling", "toroot", "hardlink", "fifo"};

	n_names = 0;
	for (int i = 0; i < NFILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03d", i);
		add_name(name);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(extra); i++)
		add_name(extra[i]);
	for (unsigned i = 0; i < missing; i++) {
		char name[32];

		snprintf(name, sizeof(name), "missing%u", i);
		add_name(name);
	}
}

static bool is_missing(const char *name)
{
	return !strncmp(name, "missing", 7);
}

/* Checks d against a plain statx of the same name. */
static void check_dent(const struct vs_dent *d)
{
	struct statx want;
	int r = statx(topfd, d->name, VS_STATX_FLAGS, VS_STATX_MASK, &want);

	if (r < 0) {
		cr_assert_eq(d->err, -errno, "%s: err %d, plain statx says %d", d->name, d->err,
		             -errno);
		return;
	}
	cr_assert_eq(d->err, 0, "%s: err %d (%s)", d->name, d->err, strerror(-d->err));
	cr_assert_eq(d->stx.stx_mode, want.stx_mode, "%s: mode %o != %o", d->name, d->stx.stx_mode,
	             want.stx_mode);
	cr_assert_eq(d->stx.stx_uid, want.stx_uid, "%s: uid", d->name);
	cr_assert_eq(d->stx.stx_gid, want.stx_gid, "%s: gid", d->name);
	cr_assert_eq(d->stx.stx_ino, want.stx_ino, "%s: ino", d->name);
	cr_assert_eq(d->stx.stx_nlink, want.stx_nlink, "%s: nlink", d->name);
	cr_assert_eq(d->stx.stx_dev_major, want.stx_dev_major, "%s: dev", d->name);
	cr_assert_eq(d->stx.stx_dev_minor, want.stx_dev_minor, "%s: dev", d->name);
	cr_assert_eq(d->stx.stx_mask & VS_STATX_MASK, want.stx_mask & VS_STATX_MASK, "%s: mask",
	             d->name);
	if (want.stx_mask & STATX_MNT_ID)
		cr_assert_eq(d->stx.stx_mnt_id, want.stx_mnt_id, "%s: mnt_id", d->name);
}

/* Runs names[0..n_names) through the engine in batches of `batch`. */
static void run_batches(const struct vs_engine_ops *e, struct vs_worker *w, unsigned batch)
{
	for (unsigned off = 0; off < n_names; off += batch) {
		unsigned n = n_names - off < batch ? n_names - off : batch;

		for (unsigned i = 0; i < n; i++) {
			/* poison: a result must come from the engine */
			memset(&w->dents[i], 0xa5, sizeof(w->dents[i]));
			w->dents[i].name = names[off + i];
		}
		e->stat_batch(w, topfd, w->dents, n);
		for (unsigned i = 0; i < n; i++) {
			check_dent(&w->dents[i]);
			if (is_missing(w->dents[i].name))
				cr_assert_eq(w->dents[i].err, -ENOENT, "%s", w->dents[i].name);
		}
	}
}

static struct vs_worker *new_worker(const struct vs_engine_ops *e)
{
	struct vs_worker *w = calloc(1, sizeof(*w));
	int r;

	cr_assert_not_null(w);
	w->engine = e;
	r = e->init(w, 1);
	cr_assert_eq(r, 0, "%s init: %s", e->name, strerror(-r));
	return w;
}

static void free_worker(struct vs_worker *w)
{
	w->engine->fini(w);
	free(w);
}

static const struct vs_engine_ops *engine_or_skip(const char *name)
{
	if (!strcmp(name, "sync"))
		return &vs_engine_sync;
	int r = vs_uring_probe();

	if (r < 0)
		cr_skip_test("io_uring cannot be used here: %s", strerror(-r));
	return &vs_engine_uring;
}

static void batches_of(const char *engine, unsigned batch, unsigned missing)
{
	const struct vs_engine_ops *e = engine_or_skip(engine);
	struct vs_worker *w = new_worker(e);

	all_names(missing);
	run_batches(e, w, batch);
	free_worker(w);
}

/* ------------------------------------------------------- per engine */

Test(engine, sync_batch_128)
{
	batches_of("sync", VS_BATCH_MAX, 40);
}

Test(engine, sync_batch_1)
{
	batches_of("sync", 1, 3);
}

Test(engine, uring_batch_128)
{
	batches_of("uring", VS_BATCH_MAX, 40);
}

Test(engine, uring_batch_1)
{
	batches_of("uring", 1, 3);
}

Test(engine, uring_batch_2)
{
	batches_of("uring", 2, 3);
}

Test(engine, uring_odd_batches)
{
	/* sizes that straddle the ring size, so the ring is refilled mid-batch */
	batches_of("uring", 97, 11);
}

Test(engine, uring_all_missing)
{
	const struct vs_engine_ops *e = engine_or_skip("uring");
	struct vs_worker *w = new_worker(e);

	all_names(VS_BATCH_MAX);
	/* keep only the missing ones */
	memmove(names, names[NFILES + 6], VS_BATCH_MAX * sizeof(names[0]));
	n_names = VS_BATCH_MAX;
	run_batches(e, w, VS_BATCH_MAX);
	free_worker(w);
}

Test(engine, per_entry_errors)
{
	static const char *bad[] = {"f000/x", "dir/missing", "missing", "dangling/x"};

	for (int k = 0; k < 2; k++) {
		const struct vs_engine_ops *e = k ? engine_or_skip("uring") : &vs_engine_sync;
		struct vs_worker *w = new_worker(e);
		int want[] = {-ENOTDIR, -ENOENT, -ENOENT, -ENOENT};

		/* errors mixed with good names in one batch */
		for (unsigned i = 0; i < 2 * ARRAY_SIZE(bad); i++)
			w->dents[i].name = i % 2 ? bad[i / 2] : "f002";
		e->stat_batch(w, topfd, w->dents, 2 * ARRAY_SIZE(bad));
		for (unsigned i = 0; i < 2 * ARRAY_SIZE(bad); i++) {
			if (i % 2)
				cr_assert_eq(w->dents[i].err, want[i / 2], "%s %s: %d", e->name,
				             w->dents[i].name, w->dents[i].err);
			else
				check_dent(&w->dents[i]);
		}
		free_worker(w);
	}
}

Test(engine, uring_reused_many_times)
{
	const struct vs_engine_ops *e = engine_or_skip("uring");
	struct vs_worker *w = new_worker(e);

	all_names(2);
	for (int round = 0; round < 20; round++)
		run_batches(e, w, VS_BATCH_MAX);
	free_worker(w);
}

Test(engine, uring_bad_dirfd)
{
	const struct vs_engine_ops *e = engine_or_skip("uring");
	struct vs_worker *w = new_worker(e);
	int fd = open(tu_path(top, "f000"), O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	for (unsigned i = 0; i < 4; i++)
		w->dents[i].name = "x";
	/* a dirfd that is no directory: ENOTDIR from every entry */
	e->stat_batch(w, fd, w->dents, 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(w->dents[i].err, -ENOTDIR, "got %d", w->dents[i].err);
	close(fd);
	free_worker(w);
}

struct thread_arg {
	const struct vs_engine_ops *e;
	struct vs_worker *w;
	unsigned batch;
};

static void *batch_thread(void *p)
{
	struct thread_arg *a = p;

	run_batches(a->e, a->w, a->batch);
	return NULL;
}

/* The walker sets its engines up on the main thread and submits from its
 * workers; two workers at once, each on its own ring. */
Test(engine, uring_init_here_submit_there)
{
	const struct vs_engine_ops *e = engine_or_skip("uring");
	struct thread_arg a[2] = {{e, new_worker(e), VS_BATCH_MAX}, {e, new_worker(e), 64}};
	pthread_t t[2];

	all_names(5);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, batch_thread, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* and back on this thread, which the ring is not bound to */
	run_batches(e, a[0].w, VS_BATCH_MAX);
	for (int i = 0; i < 2; i++)
		free_worker(a[i].w);
}

Test(engine, fini_without_use)
{
	const struct vs_engine_ops *e = engine_or_skip("uring");
	struct vs_worker *w = new_worker(e);

	cr_assert_not_null(w->engine_data);
	e->fini(w);
	cr_assert_null(w->engine_data);
	e->fini(w); /* twice is harmless */
	free(w);
}

/* -------------------------------------------------- seccomp */

/* Makes syscall nr fail with err in this test process (criterion forks one
 * per test), as container runtimes' default profiles do for io_uring. */
static void seccomp_deny(int nr, int err)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = ARRAY_SIZE(f), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		cr_skip_test("cannot install a seccomp filter: %s", strerror(errno));
}

static void seccomp_case(int nr, int err)
{
	struct vs_worker w = {0};

	if (vs_uring_probe() < 0)
		cr_skip_test("io_uring cannot be used here even without a filter");
	seccomp_deny(nr, err);
	cr_assert_eq(vs_uring_probe(), -err);
	if (nr == __NR_io_uring_setup) {
		cr_assert_eq(vs_engine_uring.init(&w, 1), -err);
		cr_assert_null(w.engine_data);
	}
}

Test(engine, seccomp_setup_eperm)
{
	seccomp_case(__NR_io_uring_setup, EPERM);
}

Test(engine, seccomp_setup_enosys)
{
	seccomp_case(__NR_io_uring_setup, ENOSYS);
}

/* setup allowed, but no submission: only a real request finds that out */
Test(engine, seccomp_enter_eperm)
{
	seccomp_case(__NR_io_uring_enter, EPERM);
}

/* a worker whose ring cannot submit still gets every result */
Test(engine, seccomp_enter_after_init)
{
	const struct vs_engine_ops *e = engine_or_skip("uring");
	struct vs_worker *w = new_worker(e);

	seccomp_deny(__NR_io_uring_enter, EPERM);
	all_names(7);
	run_batches(e, w, VS_BATCH_MAX);
	free_worker(w);
}

/* ------------------------------------------ io_uring_disabled = 2 */

#define DISABLED_PATH "/proc/sys/kernel/io_uring_disabled"

static char old_disabled[16];
static pid_t guard = -1;
static int guard_pipe = -1;

static int write_disabled(const char *val)
{
	int fd = open(DISABLED_PATH, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static void disabled_setup(void)
{
	int fd, p[2];
	ssize_t n;

	mk_tree();
	old_disabled[0] = '\0';
	fd = open(DISABLED_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* the test skips */
	n = read(fd, old_disabled, sizeof(old_disabled) - 1);
	close(fd);
	old_disabled[n > 0 ? n : 0] = '\0';
	if (!tu_is_root() || n <= 0)
		return;

	/* A guard outlives this test process: should it be killed before its
	 * teardown runs, the guard sees the pipe close and restores the value. */
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	guard = fork();
	cr_assert_geq(guard, 0);
	if (guard == 0) {
		char c;

		close(p[1]);
		setsid();
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		write_disabled(old_disabled);
		_exit(0);
	}
	close(p[0]);
	guard_pipe = p[1];
}

static void disabled_teardown(void)
{
	if (old_disabled[0] && tu_is_root())
		write_disabled(old_disabled);
	if (guard_pipe >= 0)
		close(guard_pipe); /* the guard restores once more and exits */
	if (guard > 0)
		waitpid(guard, NULL, 0);
	guard_pipe = -1;
	guard = -1;
	rm_tree();
}

static void disable_or_skip(void)
{
	int r;

	if (!tu_is_root())
		cr_skip_test("needs root to set " DISABLED_PATH);
	if (!old_disabled[0])
		cr_skip_test(DISABLED_PATH " is missing (kernel older than 6.6)");
	r = write_disabled("2\n");
	if (r < 0)
		cr_skip_test("cannot write " DISABLED_PATH ": %s", strerror(-r));
}

TestSuite(engine_disabled, .init = disabled_setup, .fini = disabled_teardown);

Test(engine_disabled, probe_fails)
{
	disable_or_skip();
	int r = vs_uring_probe();

	cr_assert_lt(r, 0, "vs_uring_probe() succeeded with io_uring_disabled=2");
	cr_assert(r == -EPERM || r == -ENOSYS, "unexpected error %d", r);

	/* and a worker's init says so too, rather than half working */
	struct vs_worker w = {0};

	cr_assert_lt(vs_engine_uring.init(&w, 1), 0);
	cr_assert_null(w.engine_data);
}

Test(engine_disabled, probe_comes_back)
{
	disable_or_skip();
	cr_assert_lt(vs_uring_probe(), 0);
	cr_assert_eq(write_disabled(old_disabled), 0);
	if (!strncmp(old_disabled, "0", 1))
		cr_assert_eq(vs_uring_probe(), 0, "io_uring still refused after restoring %s",
		             old_disabled);
}

static void own_tree(uid_t uid)
{
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03d", i);
		cr_assert_eq(lchown(tu_path(top, name), uid, uid), 0);
	}
}

static void assert_owner(const char *name, uid_t uid, gid_t gid)
{
	struct stat st;

	cr_assert_eq(lstat(tu_path(top, name), &st), 0, "lstat %s: %s", name, strerror(errno));
	cr_assert_eq(st.st_uid, uid, "%s: uid %u, want %u", name, st.st_uid, uid);
	cr_assert_eq(st.st_gid, gid, "%s: gid %u, want %u", name, st.st_gid, gid);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; s && *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

Test(engine_disabled, cli_uring_exits_3_and_changes_nothing)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	struct stat before, after;
	int st;

	disable_or_skip();
	cr_assert_eq(lchown(top, 0, 0), 0);
	own_tree(0);
	cr_assert_eq(lstat(top, &before), 0);

	st = tu_volshift(&out, &err, "shift", "--map", "0:100000:65536", "--engine=uring", top,
	                 NULL);
	cr_assert_eq(st, 3, "exit %d, stderr: %s", st, err);
	cr_assert_eq(count_lines(err), 1, "want one stderr line, got: %s", err);
	cr_assert(tu_contains(err, "io_uring"), "stderr does not name io_uring: %s", err);

	cr_assert_eq(lstat(top, &after), 0);
	cr_assert_eq(after.st_uid, 0);
	cr_assert_eq(after.st_gid, 0);
	cr_assert_eq(after.st_mode, before.st_mode);
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03d", i);
		assert_owner(name, 0, 0);
	}
	assert_owner("f005", 1005, 2000);
}

Test(engine_disabled, cli_auto_falls_back_to_sync)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	int st;

	disable_or_skip();
	cr_assert_eq(lchown(top, 0, 0), 0);
	own_tree(0);

	st = tu_volshift(&out, &err, "shift", "--map", "0:100000:65536", "--engine=auto", "--json",
	                 top, NULL);
	cr_assert_eq(st, 0, "exit %d, stderr: %s", st, err);
	cr_assert(tu_contains(out, "\"engine\":\"sync\""), "report: %s", out);

	/* and it really ran */
	assert_owner("f000", 100000, 100000);
	assert_owner("f006", 100000 + 1006, 100000 + 2001);
}
