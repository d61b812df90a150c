/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The io_uring engine: the statx of a directory's entries go to the kernel
 * as one batch through the worker's own ring and are reaped together.
 *
 * io_uring always hands IORING_OP_STATX to its io-wq kernel threads, so each
 * statx costs a hand-off: on a warm local filesystem that is about 1.7x the
 * CPU of a plain statx and loses (100k files, ext4: 80 ms sync vs 105-135 ms
 * uring on one thread). Nor does it win on a cold local disk here, whose
 * inode tables are read ahead anyway (233 ms vs 225-300 ms). What it buys is
 * concurrency where each statx is a round trip: behind a FUSE server
 * answering after 1 ms, 10k files took 5.8 s sync and 0.42 s uring on two
 * threads (2 ms: 14.3 s vs 0.72 s). That is why run.c picks it for network
 * and FUSE filesystems only.
 *
 * A ring is created by init (any thread) with IORING_SETUP_R_DISABLED and
 * enabled by the first stat_batch, so that SINGLE_ISSUER / DEFER_TASKRUN bind
 * it to the thread that really submits, and the io-wq limit is set on that
 * thread's io-wq. Should the ring fail at any point, the batch (and every
 * later one) falls back to plain statx: a result is always produced.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <stdlib.h>

#include "macros.h"

/* SQ entries per worker ring: a whole batch goes out in one submission and
 * is reaped in one wait (64 measured the same; fewer adds refill rounds). */
#define URING_ENTRIES VS_BATCH_MAX
/*
 * io-wq bounded workers, i.e. statx running at once, for the whole run: split
 * between the walker threads, each thread's io-wq getting URING_IOWQ_MIN ..
 * URING_IOWQ_MAX. The kernel's default is min(ring size, 4 * CPUs), 8 here.
 * Measured (1 ms FUSE, 2 threads, per-thread limit): 8: 0.93 s, 16: 0.58 s,
 * 32: 0.42 s, 64: 0.33-0.45 s; CPU time the same.
 */
#define URING_IOWQ_TOTAL 64
#define URING_IOWQ_MIN   8
#define URING_IOWQ_MAX   32
/* Setup flags tried in turn; each refused (EINVAL) set falls to the next. */
static const unsigned uring_flag_sets[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED,
    IORING_SETUP_COOP_TASKRUN,
    0,
};

/* How often a submission that finds no kernel resources (EAGAIN) is retried
 * with nothing in flight before the rest of the batch goes the plain way. */
#define URING_AGAIN_MAX 16

struct uring_state {
	struct io_uring ring;
	unsigned setup_flags;
	unsigned iowq_bound;
	bool ready;  /* enabled and tuned, by the submitting thread */
	bool broken; /* unusable: every batch takes plain statx */
};

static void stat_plain(int dirfd, struct vs_dent *d)
{
	if (statx(dirfd, d->name, VS_STATX_FLAGS, VS_STATX_MASK, &d->stx) < 0)
		d->err = neg_errno();
	else
		d->err = 0;
}

static int ring_setup(struct io_uring *ring, unsigned entries, unsigned *ret_flags)
{
	int r = -EINVAL;

	*ret_flags = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(uring_flag_sets); i++) {
		struct io_uring_params p = {.flags = uring_flag_sets[i]};

		r = io_uring_queue_init_params(entries, ring, &p);
		if (r == 0) {
			*ret_flags = uring_flag_sets[i];
			return 0;
		}
		/* Unknown flags show up as EINVAL; anything else (EPERM from
		 * io_uring_disabled or seccomp, ENOSYS, ENOMEM) is final. */
		if (r != -EINVAL)
			return r;
	}
	return r;
}

/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
static int ring_enable(struct io_uring *ring)
{
	return io_uring_register((unsigned)ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

static int uring_init(struct vs_worker *w, unsigned n_workers)
{
	struct uring_state *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = ring_setup(&s->ring, URING_ENTRIES, &s->setup_flags);
	if (r < 0) {
		free(s);
		return r;
	}
	s->iowq_bound = URING_IOWQ_TOTAL / (n_workers ? n_workers : 1);
	if (s->iowq_bound < URING_IOWQ_MIN)
		s->iowq_bound = URING_IOWQ_MIN;
	if (s->iowq_bound > URING_IOWQ_MAX)
		s->iowq_bound = URING_IOWQ_MAX;
	w->engine_data = s;
	return 0;
}

static void uring_fini(struct vs_worker *w)
{
	struct uring_state *s = w->engine_data;

	if (!s)
		return;
	io_uring_queue_exit(&s->ring);
	free(s);
	w->engine_data = NULL;
}

/* First use, on the thread that submits from now on. */
static int ring_ready(struct uring_state *s)
{
	int r;

	if (s->setup_flags & IORING_SETUP_R_DISABLED) {
		r = ring_enable(&s->ring);
		if (r < 0)
			return r;
	}
	/* [0] bounded workers (statx has no file, so its work is bounded),
	 * [1] unbounded: left as they are. Applies to this thread's io-wq;
	 * a kernel without it keeps its default, which works, only slower. */
	unsigned vals[2] = {s->iowq_bound, 0};
	(void)io_uring_register_iowq_max_workers(&s->ring, vals);
	s->ready = true;
	return 0;
}

/* Takes every completion there is; returns how many. */
static unsigned reap(struct io_uring *ring, struct vs_dent *d, unsigned n)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(ring, head, cqe)
	{
		uint64_t i = io_uring_cqe_get_data64(cqe);

		/* every SQE carries its index; anything else is not ours */
		if (i < n)
			d[i].err = cqe->res < 0 ? cqe->res : 0;
		seen++;
	}
	io_uring_cq_advance(ring, seen);
	return seen;
}

/*
 * Waits for at least one completion without submitting. A statx in flight
 * always completes, and the kernel writes d[].stx until it does, so this
 * only returns once one has: a failed wait (EINTR, EAGAIN) is retried.
 */
static unsigned wait_reap(struct io_uring *ring, struct vs_dent *d, unsigned n)
{
	unsigned got;

	while ((got = reap(ring, d, n)) == 0) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(ring, &cqe) < 0)
			sched_yield();
	}
	return got;
}

/*
 * Runs d[0..n) through the ring. Returns k: d[0..k) have their results,
 * d[k..n) were never run and are left to the caller. Never returns with a
 * request in flight.
 */
static unsigned batch_ring(struct uring_state *s, int dirfd, struct vs_dent *d, unsigned n)
{
	struct io_uring *ring = &s->ring;
	unsigned next = 0, inflight = 0, queued = 0, again = 0;

	while (next < n || queued || inflight) {
		struct io_uring_sqe *sqe;
		unsigned wait_nr;
		int r;

		/* Queue while the SQ has room. Keeping inflight within the SQ
		 * size also keeps it within the CQ (twice that): no overflow. */
		while (next < n && inflight + queued < URING_ENTRIES &&
		       (sqe = io_uring_get_sqe(ring))) {
			io_uring_prep_statx(sqe, dirfd, d[next].name, VS_STATX_FLAGS, VS_STATX_MASK,
			                    &d[next].stx);
			io_uring_sqe_set_data64(sqe, next);
			next++;
			queued++;
		}

		/* Wait for all once the batch is out, else for one completion
		 * that makes room. */
		wait_nr = inflight + queued;
		if (next < n && wait_nr > 1)
			wait_nr = 1;
		r = io_uring_submit_and_wait(ring, wait_nr);
		if (r == 0 && queued)
			r = -EAGAIN; /* took none: treat as out of memory */
		if (r >= 0) {
			/* a short count (no request memory) skips the wait;
			 * the rest stays queued in the SQ for the next round */
			inflight += (unsigned)r;
			queued -= (unsigned)r < queued ? (unsigned)r : queued;
			again = 0;
		} else if (r == -EINTR) {
			continue; /* nothing was submitted */
		} else if ((r == -EAGAIN || r == -EBUSY) && inflight) {
			/* out of request memory, or completions to reap first */
			inflight -= wait_reap(ring, d, n);
			continue;
		} else if ((r == -EAGAIN || r == -EBUSY) && ++again <= URING_AGAIN_MAX) {
			sched_yield();
			continue;
		} else {
			/* The kernel will not take the queued SQEs. They cannot
			 * be pulled back out of the SQ, so this ring is done:
			 * let what is out complete, the caller does the rest. */
			s->broken = true;
			while (inflight)
				inflight -= wait_reap(ring, d, n);
			return next - queued;
		}
		inflight -= reap(ring, d, n);
	}
	return n;
}

static void uring_stat_batch(struct vs_worker *w, int dirfd, struct vs_dent *d, unsigned n)
{
	struct uring_state *s = w->engine_data;
	unsigned done = 0;

	if (n == 0)
		return;
	if (s && !s->broken && !s->ready && ring_ready(s) < 0)
		s->broken = true;
	if (s && !s->broken && n > 1)
		done = batch_ring(s, dirfd, d, n);
	ctr_add(&w->c.statx_ring, done);
	/* A lone entry is not worth a hand-off to io-wq. */
	for (unsigned i = done; i < n; i++)
		stat_plain(dirfd, &d[i]);
}

const struct vs_engine_ops vs_engine_uring = {
    .name = "uring",
    .init = uring_init,
    .fini = uring_fini,
    .stat_batch = uring_stat_batch,
    /* the statx of a window are in flight at once */
    .window = 32,
};

int vs_uring_probe(void)
{
	struct io_uring ring;
	struct io_uring_probe *probe;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct statx stx;
	unsigned flags;
	int r;

	/* Really trying is the only test that sees every way io_uring can be
	 * missing: ENOSYS (no kernel support, or seccomp), EPERM
	 * (kernel.io_uring_disabled, or a seccomp profile). */
	r = ring_setup(&ring, 4, &flags);
	if (r < 0)
		return r;
	if ((flags & IORING_SETUP_R_DISABLED) && (r = ring_enable(&ring)) < 0)
		goto out;

	probe = calloc(1, sizeof(*probe) + 256 * sizeof(struct io_uring_probe_op));
	if (!probe) {
		r = -ENOMEM;
		goto out;
	}
	r = io_uring_register_probe(&ring, probe, 256);
	if (r == 0 && !io_uring_opcode_supported(probe, IORING_OP_STATX))
		r = -EOPNOTSUPP;
	free(probe);
	if (r < 0)
		goto out;

	/* One real statx: a filter may allow setup but not io_uring_enter,
	 * and the io-wq thread it needs may not be allowed to start. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_statx(sqe, AT_FDCWD, "/", VS_STATX_FLAGS, VS_STATX_MASK, &stx);
	do
		r = io_uring_submit_and_wait(&ring, 1);
	while (r == -EINTR);
	if (r < 0)
		goto out;
	r = io_uring_wait_cqe(&ring, &cqe);
	if (r == 0) {
		r = cqe->res < 0 ? cqe->res : 0;
		io_uring_cqe_seen(&ring, cqe);
	}
out:
	io_uring_queue_exit(&ring);
	return r;
}
