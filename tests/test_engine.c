/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: the statx engines (sync and io_uring) on a real tree in a
 * fresh temp dir: every result matches a plain statx of the same name,
 * missing names and bad paths give their -errno per entry, batches of 1, 2,
 * 128 and repeated batches work, and a ring set up on one thread serves
 * batches from another (as the walker does). The uring engine falls back to
 * plain statx silently, so results alone cannot tell a working ring from a
 * broken one: every batch also checks the worker's statx_ring counter, by
 * the exact number the ring must have served (the whole batch; none for a
 * batch of one, which is not worth a hand-off, and none once the ring cannot
 * submit). Through the CLI, on a tree whose chunks are known, the report's
 * statx and statx_ring are checked to the entry, with --engine=uring, sync,
 * and auto on a FUSE filesystem (bench/latfs), where auto picks io_uring. A seccomp filter denying
 * io_uring_setup or io_uring_enter (EPERM, ENOSYS) makes vs_uring_probe()
 * fail with that error, and a ring that can no longer submit still gives
 * every result. As root, with
 * /proc/sys/kernel/io_uring_disabled set to 2 (restored after, even when the
 * test dies): vs_uring_probe() fails, `--engine=uring` exits 3 and changes
 * nothing, `--engine=auto` on FUSE falls back to sync and says so in its
 * report, with no statx through a ring. A skip because vs_uring_probe()
 * says no is taken only when the kernel says no too (kp_uring: a raw
 * io_uring_setup and a real IORING_OP_STATX); the reason names both.
 *
 * The io_uring_disabled tests change a machine-wide setting: CMakeLists.txt
 * marks this program RUN_SERIAL, so that no other test of the same ctest run
 * (which may need io_uring) runs while it does. That does not reach other
 * ctest runs on the machine: run it only briefly and rarely there. Among
 * themselves, in this process or another, they take turns (a flock on the
 * setting's file): each restores the value it found, never one that a test
 * running beside it had just set.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
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
#include "kernel.h"
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

/* How many of a batch of n must come through the ring: uring sends every
 * batch of two or more whole (a batch of one goes plain: not worth the
 * hand-off to io-wq); sync, or a ring that cannot submit, none. */
enum ring_want { RING_NONE, RING_ALL };

static unsigned ring_share(enum ring_want want, unsigned n)
{
	return want == RING_ALL && n > 1 ? n : 0;
}

/* Runs names[0..n_names) through the engine in batches of `batch`, and
 * checks what the ring served, batch by batch. */
static void run_batches(const struct vs_engine_ops *e, struct vs_worker *w, unsigned batch,
                        enum ring_want want)
{
	for (unsigned off = 0; off < n_names; off += batch) {
		unsigned n = n_names - off < batch ? n_names - off : batch;
		uint64_t ring0 = w->c.statx_ring;

		for (unsigned i = 0; i < n; i++) {
			/* poison: a result must come from the engine */
			memset(&w->dents[i], 0xa5, sizeof(w->dents[i]));
			w->dents[i].name = names[off + i];
		}
		e->stat_batch(w, topfd, w->dents, n);
		cr_assert_eq(w->c.statx_ring - ring0, ring_share(want, n),
		             "%s: a batch of %u at %u: %llu through the ring, want %u", e->name, n,
		             off, (unsigned long long)(w->c.statx_ring - ring0),
		             ring_share(want, n));
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

/*
 * Skips because vs_uring_probe() said no (r < 0) only when the kernel says
 * no as well; a probe that refuses what the kernel does is a bug, and
 * fails. Should the kernel say yes, the probe is asked once more (another
 * test may have set kernel.io_uring_disabled for a moment meanwhile).
 */
static void uring_skip_if_kernel_agrees(int r)
{
	char why[256];
	int k = kp_uring(why, sizeof(why));

	if (k == 0) {
		int again = vs_uring_probe();

		cr_assert_eq(again, 0,
		             "vs_uring_probe() says %s (then %s), but the kernel says: %s",
		             strerror(-r), strerror(-again), why);
		return;
	}
	cr_skip_test("io_uring cannot be used here: vs_uring_probe() %s; the kernel agrees: %s",
	             strerror(-r), why);
}

static const struct vs_engine_ops *engine_or_skip(const char *name)
{
	if (!strcmp(name, "sync"))
		return &vs_engine_sync;
	int r = vs_uring_probe();

	if (r < 0)
		uring_skip_if_kernel_agrees(r);
	return &vs_engine_uring;
}

static enum ring_want ring_of(const struct vs_engine_ops *e)
{
	return e == &vs_engine_uring ? RING_ALL : RING_NONE;
}

static void batches_of(const char *engine, unsigned batch, unsigned missing)
{
	const struct vs_engine_ops *e = engine_or_skip(engine);
	struct vs_worker *w = new_worker(e);

	all_names(missing);
	run_batches(e, w, batch, ring_of(e));
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
	/* ENOENT is an answer the ring gives: all of them count */
	run_batches(e, w, VS_BATCH_MAX, RING_ALL);
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
		cr_assert_eq(w->c.statx_ring, ring_share(ring_of(e), 2 * ARRAY_SIZE(bad)),
		             "%s: %llu through the ring", e->name,
		             (unsigned long long)w->c.statx_ring);
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
		run_batches(e, w, VS_BATCH_MAX, RING_ALL);
	cr_assert_eq(w->c.statx_ring, 20 * (uint64_t)n_names);
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
	/* a dirfd that is no directory: ENOTDIR from every entry, all four
	 * answered by the ring */
	e->stat_batch(w, fd, w->dents, 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(w->dents[i].err, -ENOTDIR, "got %d", w->dents[i].err);
	cr_assert_eq(w->c.statx_ring, 4);
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

	run_batches(a->e, a->w, a->batch, RING_ALL);
	return NULL;
}

/* The walker sets its engines up on the main thread and submits from its
 * workers; two workers at once, each on its own ring. */
Test(engine, uring_init_here_submit_there)
{
	const struct vs_engine_ops *e = engine_or_skip("uring");
	struct thread_arg a[2] = {{e, new_worker(e), VS_BATCH_MAX}, {e, new_worker(e), 64}};
	pthread_t t[2];
	bool bound;

	all_names(5);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, batch_thread, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* and back on this thread. The engine asks first for SINGLE_ISSUER +
	 * DEFER_TASKRUN, which bind the ring to the thread that enabled it:
	 * where the kernel takes those, this thread cannot submit (EEXIST)
	 * and every batch must go plain, results still right; elsewhere the
	 * ring serves it. */
	bound = kp_uring_setup_takes(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
	                             IORING_SETUP_R_DISABLED);
	uint64_t ring0 = a[0].w->c.statx_ring;

	run_batches(e, a[0].w, VS_BATCH_MAX, bound ? RING_NONE : RING_ALL);
	cr_assert_eq(a[0].w->c.statx_ring - ring0, bound ? 0 : (uint64_t)n_names);
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
	int r = vs_uring_probe();

	if (r < 0)
		uring_skip_if_kernel_agrees(r);
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
	/* the forced fallback: every result, none of them through the ring */
	run_batches(e, w, VS_BATCH_MAX, RING_NONE);
	cr_assert_eq(w->c.statx_ring, 0);
	free_worker(w);
}

/* ---------------------------------------- the CLI: what the report counts */

/*
 * A tree whose chunks are known. The walker statxes a directory's entries in
 * chunks of VS_BATCH_MAX as getdents64 hands them over (a few thousand short
 * names come back from one call of its 64 KiB buffer, so a small directory
 * is one call): full/ is a chunk of VS_BATCH_MAX and one of 2, plus1/ one of
 * VS_BATCH_MAX and a lone entry, one/ a lone entry, empty/ nothing, links/ a
 * chunk of 3 in which two names share an inode. Each name of a hard-linked
 * file is statted once more, plainly, under the inode's lock. So, with the
 * root (statted by vs_run itself, not counted):
 *   entries    1 + 5 + (B+2) + (B+1) + 1 + 0 + 3
 *   statx      entries - 1 + 2 (the two hard-link names again)
 *   statx_ring 5 + (B+2) + B + 0 + 0 + 3 with io_uring (the lone entries
 *              and the re-stats go plain), 0 with sync
 */
#define CT_ENTRIES (1 + 5 + (VS_BATCH_MAX + 2) + (VS_BATCH_MAX + 1) + 1 + 0 + 3)
#define CT_STATX   (CT_ENTRIES - 1 + 2)
#define CT_RING    (5 + (VS_BATCH_MAX + 2) + VS_BATCH_MAX + 3)
#define CT_DIRS    6

static void files_in(const char *path, unsigned n)
{
	char dir[4096]; /* path may sit in tu_path's rotating buffer */

	snprintf(dir, sizeof(dir), "%s", path);
	for (unsigned i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%03u", i);
		tu_mkfile(tu_path(dir, name), 1000 + i % 3, 1000, 0644);
	}
}

static char *chunk_tree(void)
{
	char *t = tu_mkdtemp("engine-chunks");

	cr_assert_eq(chmod(t, 0755), 0);
	tu_mkdir(tu_path(t, "full"), 0, 0, 0755);
	files_in(tu_path(t, "full"), VS_BATCH_MAX + 2);
	tu_mkdir(tu_path(t, "plus1"), 0, 0, 0755);
	files_in(tu_path(t, "plus1"), VS_BATCH_MAX + 1);
	tu_mkdir(tu_path(t, "one"), 0, 0, 0755);
	files_in(tu_path(t, "one"), 1);
	tu_mkdir(tu_path(t, "empty"), 0, 0, 0755);
	tu_mkdir(tu_path(t, "links"), 0, 0, 0755);
	files_in(tu_path(t, "links"), 2);
	cr_assert_eq(link(tu_path(t, "links/f000"), tu_path(t, "links/f000_hl")), 0);
	return t;
}

/* Checks the JSON report of a run over the chunk tree. */
static void counts_are(const char *out, const char *engine, long long ring)
{
	char want[64];

	snprintf(want, sizeof(want), "\"engine\":\"%s\"", engine);
	cr_assert(tu_contains(out, want), "want %s: %s", want, out);
	cr_assert_eq(tu_json_num(out, "failed"), 0, "%s", out);
	cr_assert_eq(tu_json_num(out, "entries"), CT_ENTRIES, "%s", out);
	cr_assert_eq(tu_json_num(out, "dirs_read"), CT_DIRS, "%s", out);
	cr_assert_eq(tu_json_num(out, "statx"), CT_STATX, "%s", out);
	cr_assert_eq(tu_json_num(out, "statx_ring"), ring, "%s", out);
}

/* volshift shift [--reverse] --engine=E --jobs=J --json DIR */
static int shift_run(char **out, char **err, const char *dir, const char *engine, const char *jobs,
                     bool reverse)
{
	char e[32], j[32];

	snprintf(e, sizeof(e), "--engine=%s", engine);
	snprintf(j, sizeof(j), "--jobs=%s", jobs);
	return tu_volshift(out, err, "shift", "--map", "0:100000:65536", e, j, "--json",
	                   reverse ? "--reverse" : "--quiet", dir, NULL);
}

/* A ring-using run that exits 3: skip only when the kernel agrees (another
 * test may have set kernel.io_uring_disabled meanwhile), else fail. */
static void exit3_skip(int st, const char *err)
{
	char why[256];

	if (st != 3)
		return;
	cr_assert_neq(kp_uring(why, sizeof(why)), 0, "exit 3 (%s), but the kernel says: %s", err,
	              why);
	cr_skip_test("--engine=uring exits 3 (%s); the kernel agrees: %s", err, why);
}

static char *ct;

static void ct_fini(void)
{
	if (ct)
		tu_rm_rf(ct);
	free(ct);
	ct = NULL;
}

TestSuite(engine_cli, .fini = ct_fini);

/* Every statx the ring can take goes through it, on one worker and on two
 * (full chunks then move between workers, each on its own ring). */
Test(engine_cli, uring_counts_every_ring_statx)
{
	_cleanup_free_ char *out = NULL, *err = NULL, *out2 = NULL, *err2 = NULL;
	int st;

	if (!tu_is_root())
		cr_skip_test("needs root to chown files");
	engine_or_skip("uring");
	ct = chunk_tree();
	st = shift_run(&out, &err, ct, "uring", "1", false);
	exit3_skip(st, err);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	counts_are(out, "uring", CT_RING);
	/* every inode once: two of the names are one inode */
	cr_assert_eq(tu_json_num(out, "changed"), CT_ENTRIES - 1, "%s", out);

	st = shift_run(&out2, &err2, ct, "uring", "2", true);
	exit3_skip(st, err2);
	cr_assert_eq(st, 0, "exit %d: %s", st, err2);
	counts_are(out2, "uring", CT_RING);
}

Test(engine_cli, sync_never_uses_a_ring)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	int st;

	if (!tu_is_root())
		cr_skip_test("needs root to chown files");
	ct = chunk_tree();
	st = shift_run(&out, &err, ct, "sync", "2", false);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	counts_are(out, "sync", 0);
}

/* bench/latfs (a FUSE passthrough, here without its delay) in this test's
 * private mount namespace: a filesystem on which auto picks io_uring. */
#define FUSE_SUPER_MAGIC_ 0x65735546
static char *fuse_mnt;
static pid_t fuse_pid = -1;

static void fuse_down(void)
{
	if (fuse_mnt) {
		if (umount2(fuse_mnt, 0) < 0)
			umount2(fuse_mnt, MNT_DETACH);
		rmdir(fuse_mnt);
	}
	if (fuse_pid > 0) {
		/* latfs ends when unmounted; make sure */
		kill(fuse_pid, SIGKILL);
		waitpid(fuse_pid, NULL, 0);
	}
	free(fuse_mnt);
	fuse_mnt = NULL;
	fuse_pid = -1;
}

static bool is_fuse(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && (unsigned long)sfs.f_type == FUSE_SUPER_MAGIC_;
}

/* Mounts backing at fuse_mnt through latfs; skips when it cannot. */
static void fuse_up_or_skip(const char *backing)
{
	const char *latfs = VS_BUILD_DIR "/bench/latfs";

	if (access(latfs, X_OK) < 0)
		cr_skip_test("no %s (libfuse3 was missing at build time)", latfs);
	if (access("/dev/fuse", R_OK | W_OK) < 0)
		cr_skip_test("no /dev/fuse: %s", strerror(errno));
	if (!tu_private_mounts())
		cr_skip_test("cannot make a private mount namespace");
	fuse_mnt = tu_mkdtemp("engine-fuse");
	fuse_pid = fork();
	cr_assert_geq(fuse_pid, 0);
	if (fuse_pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		/* should this test die, latfs must not keep its namespace alive */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execl(latfs, latfs, "--foreground", "--delay-us", "0", "--threads", "8", backing,
		      fuse_mnt, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && !is_fuse(fuse_mnt); i++) {
		int st;

		if (waitpid(fuse_pid, &st, WNOHANG) == fuse_pid) {
			fuse_pid = -1;
			cr_skip_test("latfs could not mount (exit %d)",
			             WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		usleep(10000);
	}
	cr_assert(is_fuse(fuse_mnt), "latfs did not mount in 10 s");
}

static void ct_fuse_fini(void)
{
	fuse_down();
	ct_fini();
}

/* auto picks io_uring on FUSE, and the ring really serves what it can */
Test(engine_cli, auto_on_fuse_goes_through_the_ring, .fini = ct_fuse_fini)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	int st;

	if (!tu_is_root())
		cr_skip_test("needs root to mount FUSE and chown files");
	engine_or_skip("uring");
	ct = chunk_tree();
	fuse_up_or_skip(ct);
	st = shift_run(&out, &err, fuse_mnt, "auto", "2", false);
	cr_assert_eq(st, 0, "exit %d: %s", st, err);
	counts_are(out, "uring", CT_RING);
}

/* ------------------------------------------ io_uring_disabled = 2 */

#define DISABLED_PATH "/proc/sys/kernel/io_uring_disabled"

static char old_disabled[16];
static pid_t guard = -1;
static int guard_pipe = -1;
static int disabled_lock = -1;

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
	/* One test at a time on the machine sets it, so that each reads the
	 * value to restore as it was, not as another test left it for a
	 * moment (criterion runs tests in parallel unless told -j1). The lock
	 * goes with the guard too: it is free once the value is restored. */
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	disabled_lock = fd;
	n = read(fd, old_disabled, sizeof(old_disabled) - 1);
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
	fuse_down();
	ct_fini();
	if (guard_pipe >= 0)
		close(guard_pipe); /* the guard restores once more and exits */
	if (guard > 0)
		waitpid(guard, NULL, 0);
	if (disabled_lock >= 0)
		close(disabled_lock); /* the next test may set it now */
	guard_pipe = -1;
	guard = -1;
	disabled_lock = -1;
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

/* auto picks io_uring only where it pays (FUSE, network filesystems): on
 * FUSE, with io_uring disabled, it must fall back to sync, whole. */
Test(engine_disabled, cli_auto_falls_back_to_sync)
{
	_cleanup_free_ char *out = NULL, *err = NULL;
	int st;

	if (!tu_is_root())
		cr_skip_test("needs root to mount FUSE and set " DISABLED_PATH);
	ct = chunk_tree();
	fuse_up_or_skip(ct);
	disable_or_skip();
	st = shift_run(&out, &err, fuse_mnt, "auto", "2", false);
	write_disabled(old_disabled); /* at once: the setting is machine-wide */
	cr_assert_eq(st, 0, "exit %d, stderr: %s", st, err);
	counts_are(out, "sync", 0);

	/* and it really ran */
	struct stat sb;

	cr_assert_eq(lstat(tu_path(ct, "plus1/f001"), &sb), 0);
	cr_assert_eq(sb.st_uid, 100000 + 1001);
	cr_assert_eq(sb.st_gid, 100000 + 1000);
}
