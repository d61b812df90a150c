/* SPDX-License-Identifier: Apache-2.0 */
/* vs_run: check the job, open the root, apply the policy, walk, root last. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h> /* ST_RDONLY, which statfs f_flags reports too */
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "macros.h"

void vs_job_init(struct vs_job *job, enum vs_mode mode)
{
	memset(job, 0, sizeof(*job));
	job->mode = mode;
	job->policy = VS_POLICY_ALWAYS;
	job->engine = VS_ENGINE_AUTO;
}

double vs_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What changing others' files and keeping their setgid bits takes; and what
 * writing a file capability back after a chown takes. */
static const int need_caps[] = {CAP_CHOWN, CAP_FOWNER, CAP_FSETID}, setfcap = CAP_SETFCAP;

static bool have_caps(const int *need, size_t n)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return geteuid() == 0;
	for (size_t i = 0; i < n; i++)
		if (!(d[need[i] / 32].effective & (1u << (need[i] % 32))))
			return false;
	return true;
}

int vs_job_validate(const struct vs_job *job, struct vs_report *r)
{
	const char *why;

	switch (job->mode) {
	case VS_MODE_FSGROUP:
		if (job->gid == UINT32_MAX)
			return vs_fail(
			    r, VS_STATUS_BAD_INPUT, -EINVAL,
			    "GID 4294967295 is not a valid group (it means 'unchanged')");
		break;
	case VS_MODE_SHIFT:
		if (vs_idmap_validate(&job->uid_map, &why) < 0)
			return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL, "invalid uid map: %s", why);
		if (vs_idmap_validate(&job->gid_map, &why) < 0)
			return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL, "invalid gid map: %s", why);
		break;
	default:
		return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL, "unknown mode %d", (int)job->mode);
	}
	if (job->policy != VS_POLICY_ALWAYS && job->policy != VS_POLICY_ON_ROOT_MISMATCH)
		return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL, "unknown policy %d",
		               (int)job->policy);
	if (job->engine > VS_ENGINE_SYNC)
		return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL, "unknown engine %d",
		               (int)job->engine);
	if (job->shards > VS_SHARDS_MAX || (job->shards && job->shard >= job->shards) ||
	    (!job->shards && job->shard))
		return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL,
		               "invalid shard %u/%u (K from 0 to N-1, N from 1 to %d)", job->shard,
		               job->shards, VS_SHARDS_MAX);
	return 0;
}

/* How messages name the tree: its path, or what vs_run_at was given. */
static const char *tree_name(const struct vs_job *job)
{
	return job->path && *job->path ? job->path : "(the directory given by fd)";
}

/*
 * Takes the tree at dirfd for this run: a descriptor of our own, readable
 * (getdents needs it; dirfd may be O_PATH), of the same directory, reached
 * without a lookup by path ("." of the directory itself). One fstatfs tells
 * everything the run needs of the filesystem.
 */
static int open_root(struct vs_ctx *ctx, int dirfd, struct vs_report *r, struct statx *ret_stx)
{
	const struct vs_job *job = ctx->job;
	struct statfs sfs;
	struct stat st;
	int e;

	if (fstat(dirfd, &st) < 0) {
		e = neg_errno();
		return vs_fail(r, VS_STATUS_BAD_INPUT, e, "cannot use '%s': %s", tree_name(job),
		               strerror(-e));
	}
	if (S_ISLNK(st.st_mode))
		return vs_fail(r, VS_STATUS_BAD_INPUT, -ELOOP,
		               "'%s' is a symbolic link; name the directory itself",
		               tree_name(job));
	if (!S_ISDIR(st.st_mode))
		return vs_fail(r, VS_STATUS_BAD_INPUT, -ENOTDIR, "'%s' is not a directory",
		               tree_name(job));
	ctx->root_fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (ctx->root_fd < 0) {
		e = neg_errno();
		return vs_fail(r, VS_STATUS_BAD_INPUT, e, "cannot open '%s': %s", tree_name(job),
		               strerror(-e));
	}
	if (statx(ctx->root_fd, "", AT_EMPTY_PATH, VS_STATX_MASK, ret_stx) < 0 ||
	    fstatfs(ctx->root_fd, &sfs) < 0) {
		e = neg_errno();
		return vs_fail(r, VS_STATUS_CANNOT_START, e, "cannot inspect '%s': %s",
		               tree_name(job), strerror(-e));
	}
	ctx->root_fs_type = (unsigned long)sfs.f_type;
	if (vs_fs_is_pseudo(ctx->root_fs_type))
		return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL,
		               "'%s' is on a pseudo-filesystem; refusing to walk it",
		               tree_name(job));
	if (!job->dry_run && (sfs.f_flags & ST_RDONLY))
		return vs_fail(r, VS_STATUS_CANNOT_START, -EROFS,
		               "'%s' is on a read-only filesystem", tree_name(job));
	ctx->root_dev = makedev(ret_stx->stx_dev_major, ret_stx->stx_dev_minor);
	ctx->root_ino = ret_stx->stx_ino;
	ctx->have_mnt_id = ret_stx->stx_mask & STATX_MNT_ID;
	ctx->root_mnt_id = ctx->have_mnt_id ? ret_stx->stx_mnt_id : 0;
	return 0;
}

/* auto: plain syscalls win on local, cached metadata (bench/); io_uring's
 * concurrency pays where each statx waits on storage or the network. */
static const struct vs_engine_ops *pick_engine(struct vs_ctx *ctx, bool slow, struct vs_report *r,
                                               int *err)
{
	const struct vs_job *job = ctx->job;
	int e;

	*err = 0;
	if (job->engine == VS_ENGINE_SYNC)
		return &vs_engine_sync;
	if (job->engine == VS_ENGINE_AUTO && !slow)
		return &vs_engine_sync;
	e = vs_uring_probe();
	if (e == 0)
		return &vs_engine_uring;
	if (job->engine == VS_ENGINE_URING)
		*err = vs_fail(r, VS_STATUS_CANNOT_START, e,
		               "io_uring is not available here (%s); use --engine=sync or auto",
		               strerror(-e));
	return &vs_engine_sync;
}

static int start_workers(struct vs_ctx *ctx, const struct vs_engine_ops **engine,
                         struct vs_report *r)
{
	for (unsigned i = 0; i < ctx->n_workers; i++) {
		struct vs_worker *w = &ctx->workers[i];
		int e;

		w->ctx = ctx;
		w->id = i;
		w->engine = *engine;
		e = w->engine->init(w, ctx->n_workers);
		if (e == 0)
			continue;
		for (unsigned j = 0; j < i; j++)
			ctx->workers[j].engine->fini(&ctx->workers[j]);
		if (ctx->job->engine == VS_ENGINE_URING)
			return vs_fail(r, VS_STATUS_CANNOT_START, e, "cannot set up io_uring: %s",
			               strerror(-e));
		*engine = &vs_engine_sync; /* auto: fall back quietly */
		return start_workers(ctx, engine, r);
	}
	return 0;
}

static void sum_counters(const struct vs_ctx *ctx, struct vs_counters *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < ctx->n_workers; i++) {
		const struct vs_counters *c = &ctx->workers[i].c;

		t->entries += __atomic_load_n(&c->entries, __ATOMIC_RELAXED);
		t->changed += __atomic_load_n(&c->changed, __ATOMIC_RELAXED);
		t->unmapped += __atomic_load_n(&c->unmapped, __ATOMIC_RELAXED);
		t->failed += __atomic_load_n(&c->failed, __ATOMIC_RELAXED);
		t->acls += __atomic_load_n(&c->acls, __ATOMIC_RELAXED);
		t->caps += __atomic_load_n(&c->caps, __ATOMIC_RELAXED);
		t->skipped_mounts += __atomic_load_n(&c->skipped_mounts, __ATOMIC_RELAXED);
		t->dirs_read += __atomic_load_n(&c->dirs_read, __ATOMIC_RELAXED);
		t->statx += __atomic_load_n(&c->statx, __ATOMIC_RELAXED);
		t->statx_ring += __atomic_load_n(&c->statx_ring, __ATOMIC_RELAXED);
	}
}

struct tick_state {
	bool estimated;          /* total_estimate was looked up */
	uint64_t total_estimate; /* vs_walk_estimate: the whole tree's */
};

void vs_set_phase(struct vs_ctx *ctx, enum vs_phase phase)
{
	ctx->phase = phase;
	ctx->phase_start = vs_now_s();
}

static void tick(struct vs_ctx *ctx, void *userdata)
{
	struct tick_state *ts = userdata;
	struct vs_counters t;
	struct vs_progress p = {.phase = ctx->phase};

	/* at the first tick, not before: a run too short for progress never
	 * pays for reading mountinfo */
	if (!ts->estimated) {
		ts->total_estimate = vs_walk_estimate(ctx->root_fd);
		ts->estimated = true;
	}
	p.elapsed_s = vs_now_s() - ctx->phase_start;
	switch (ctx->phase) {
	case VS_PHASE_COUNT:
		p.entries = atomic_load_explicit(&ctx->counted, memory_order_relaxed);
		p.total_estimate = ts->total_estimate;
		break;
	case VS_PHASE_WAIT:
		break;
	case VS_PHASE_WALK:
		sum_counters(ctx, &t);
		p.entries = t.entries, p.changed = t.changed, p.failed = t.failed;
		/* a shard meets its part: the plan makes them about equal */
		p.total_estimate = ts->total_estimate / ctx->shards;
		break;
	}
	ctx->job->progress(&p, ctx->job->progress_userdata);
}

/*
 * One worker per CPU keeps local filesystems at the syscall floor. Where
 * every call is a round trip (network, FUSE) a worker spends its time
 * waiting on its chown, which io_uring cannot batch: there the number of
 * workers is the number of round trips in flight (bench/run, 10k files
 * behind 1 ms: 2 workers 6.7 s, 8: 1.9 s, 32: 0.53 s, 64: 0.38 s). Each
 * worker may hold a ring fd and a few directory fds: stay well inside the
 * fd limit.
 */
static unsigned default_jobs(bool slow)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned jobs = n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
	struct rlimit rl;

	if (!slow || jobs >= 32)
		return jobs;
	jobs = 32;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		rlim_t fit = rl.rlim_cur > 32 ? (rl.rlim_cur - 32) / 4 : 1;

		if (fit < jobs)
			jobs = fit ? (unsigned)fit : 1;
	}
	return jobs;
}

int vs_run_at(int dirfd, const struct vs_job *job, struct vs_report *r)
{
	struct vs_ctx ctx = {.job = job, .root_fd = -1, .job_fd = -1};
	bool sharded = job->shards > 1;
	const struct vs_engine_ops *engine;
	struct tick_state ts = {0};
	double start = vs_now_s();
	struct vs_counters t, root_c = {0};
	struct statx root;
	bool slow;
	int e;

	ctx.phase_start = start;
	if (job->progress) {
		ctx.tick = tick;
		ctx.tick_data = &ts;
		ctx.tick_ms = job->progress_interval_ms ? job->progress_interval_ms : 1000;
	}

	memset(r, 0, sizeof(*r));
	r->mode = vs_mode_name(job->mode);
	r->method = "walk";
	r->shard = job->shard;
	r->shards = job->shards;
	ctx.report = r;
	ctx.shard = job->shard;
	ctx.shards = sharded ? job->shards : 1;
	pthread_mutex_init(&ctx.err_lock, NULL);
	pthread_mutex_init(&ctx.count_lock, NULL);
	/* on the heap: a caller's thread may have a small stack */
	ctx.ino_locks = calloc(VS_INO_LOCKS, sizeof(*ctx.ino_locks));
	for (size_t i = 0; ctx.ino_locks && i < VS_INO_LOCKS; i++)
		pthread_mutex_init(&ctx.ino_locks[i], NULL);
	ctx.xattrs = !job->no_xattrs;
	ctx.can_setfcap = have_caps(&setfcap, 1);
	vs_state_init(&ctx.state);

	e = vs_job_validate(job, r);
	if (e < 0)
		goto out;
	if (!job->dry_run && !have_caps(need_caps, ARRAY_SIZE(need_caps))) {
		e = vs_fail(r, VS_STATUS_BAD_INPUT, -EPERM,
		            "changing ownership needs root (CAP_CHOWN, CAP_FOWNER, CAP_FSETID)");
		goto out;
	}
	if (!ctx.ino_locks) {
		e = vs_fail(r, VS_STATUS_CANNOT_START, -ENOMEM, "out of memory");
		goto out;
	}
	e = open_root(&ctx, dirfd, r, &root);
	if (e < 0)
		goto out;

	vs_state_attach(&ctx.state, ctx.root_fd, sharded);
	/* one run on a tree at a time: a second (a retried container creation
	 * whose first hook still runs) waits, then finds the tree done; the
	 * shards of one job run at once by design */
	if (!job->dry_run && !sharded && flock(ctx.root_fd, LOCK_EX) < 0 && errno != ENOLCK &&
	    errno != EOPNOTSUPP && errno != EINVAL) {
		e = neg_errno();
		e = vs_fail(r, VS_STATUS_CANNOT_START, e, "cannot lock '%s': %s", tree_name(job),
		            strerror(-e));
		goto out;
	}
	/* the root as the run that held the lock left it, not as it was
	 * before the wait: else a run that waited walks a done tree again */
	if (!job->dry_run && statx(ctx.root_fd, "", AT_EMPTY_PATH, VS_STATX_MASK, &root) < 0) {
		e = neg_errno();
		e = vs_fail(r, VS_STATUS_CANNOT_START, e, "cannot inspect '%s': %s", tree_name(job),
		            strerror(-e));
		goto out;
	}
	if (vs_tree_done(&ctx, &root) && job->policy == VS_POLICY_ON_ROOT_MISMATCH) {
		r->skipped = true;
		goto out;
	}

	slow = vs_fs_is_slow(ctx.root_fs_type);
	ctx.n_workers = job->jobs ? job->jobs : default_jobs(slow);
	if (ctx.n_workers > 256)
		ctx.n_workers = 256;
	r->jobs = ctx.n_workers;
	ctx.workers = calloc(ctx.n_workers, sizeof(*ctx.workers));
	if (!ctx.workers) {
		e = vs_fail(r, VS_STATUS_CANNOT_START, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < ctx.n_workers; i++)
		ctx.workers[i].lock_fd = -1;
	engine = pick_engine(&ctx, slow, r, &e);
	if (e < 0)
		goto out;
	e = start_workers(&ctx, &engine, r);
	if (e < 0)
		goto out;
	r->engine = engine->name;

	if (!job->dry_run) {
		if (sharded) {
			e = vs_shardjob_begin(&ctx, engine, r);
			if (e < 0) {
				if (!r->message[0])
					vs_fail(r, VS_STATUS_CANNOT_START, e,
					        "cannot open the shard job file: %s", strerror(-e));
				goto stop;
			}
		}
		e = vs_journal_load(&ctx);
		if (e == 0)
			e = vs_root_unmatch(&ctx, &root);
		if (e < 0) {
			e = vs_fail(r, VS_STATUS_CANNOT_START, e, "cannot prepare '%s': %s",
			            tree_name(job), strerror(-e));
			goto stop;
		}
	} else if (sharded) {
		/* a dry run joins no job and writes nothing: its own plan says
		 * what this shard's part is (the root is the job's, in none) */
		e = vs_shardjob_dry(&ctx, engine, r);
		if (e < 0)
			goto stop;
	}

	e = vs_walk(&ctx, engine, ctx.tick, ctx.tick_data, ctx.tick_ms);
	sum_counters(&ctx, &t);

	/* the root last, and only when everything below it is done: by this
	 * run, or by the last shard of a job to finish */
	if (e == 0 && t.failed == 0 && sharded && !job->dry_run) {
		vs_shardjob_end(&ctx, r, &root_c, &root);
		r->root_left_unmatched = !r->finished_root;
	} else if (e == 0 && t.failed == 0 && !sharded) {
		vs_root_finish(&ctx, &root_c, &root);
		if (!job->dry_run && !root_c.failed)
			vs_journal_clear(&ctx);
	} else {
		root_c.entries = sharded ? 0 : 1; /* a shard's root is the job's */
		r->root_left_unmatched = !job->dry_run;
	}
	if (root_c.failed)
		r->root_left_unmatched = true;
	if (!job->dry_run)
		vs_state_tidy(&ctx.state);

	r->entries = t.entries + root_c.entries;
	r->changed = t.changed + root_c.changed;
	r->unmapped = t.unmapped + root_c.unmapped;
	r->failed = t.failed + root_c.failed;
	r->acls = t.acls + root_c.acls;
	r->caps = t.caps + root_c.caps;
	r->skipped_mounts = t.skipped_mounts;
	r->dirs_read = t.dirs_read;
	r->statx = t.statx;
	r->statx_ring = t.statx_ring;
	if (e < 0)
		vs_fail(r, VS_STATUS_PARTIAL, e, "the walk stopped early: %s", strerror(-e));
	else if (r->message[0])
		r->status = VS_STATUS_PARTIAL; /* a shard that could not finish its part */
	else
		r->status = r->failed ? VS_STATUS_PARTIAL : VS_STATUS_OK;
	e = 0; /* it started: the status says how it ended */
stop:
	for (unsigned i = 0; ctx.workers && i < ctx.n_workers; i++) {
		if (ctx.workers[i].engine)
			ctx.workers[i].engine->fini(&ctx.workers[i]);
		vs_shardjob_worker_close(&ctx.workers[i]);
	}
	vs_shardjob_close(&ctx);
out:
	r->elapsed_s = vs_now_s() - start;
	free(ctx.workers);
	free(ctx.journal);
	vs_state_fini(&ctx.state);
	if (ctx.root_fd >= 0)
		close(ctx.root_fd); /* and with it the lock */
	pthread_mutex_destroy(&ctx.err_lock);
	pthread_mutex_destroy(&ctx.count_lock);
	for (size_t i = 0; ctx.ino_locks && i < VS_INO_LOCKS; i++)
		pthread_mutex_destroy(&ctx.ino_locks[i]);
	free(ctx.ino_locks);
	return e;
}

int vs_run(const struct vs_job *job, struct vs_report *r)
{
	_cleanup_close_ int fd = -1;
	int e;

	memset(r, 0, sizeof(*r));
	r->mode = vs_mode_name(job->mode);
	r->method = "walk";
	if (!job->path || !*job->path)
		return vs_fail(r, VS_STATUS_BAD_INPUT, -EINVAL, "no path given");
	/* the job's own mistakes first: they say more than a missing path */
	e = vs_job_validate(job, r);
	if (e < 0)
		return e;
	fd = open(job->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = neg_errno();
		return vs_fail(r, VS_STATUS_BAD_INPUT, e, "cannot open '%s': %s", job->path,
		               strerror(-e));
	}
	return vs_run_at(fd, job, r);
}
