/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A sharded job's coordination, with nothing but the volume.
 *
 * One file in the state directory (state.c; a directory even where the root
 * takes xattrs, since it is locked and may be large), shard.KEY, where KEY
 * hashes the mode, the maps or GID, N and the job's id, so that another
 * job's leftovers never count:
 *
 *   [0, 4 KiB)      which shards have finished, and the plan's length
 *   [4 KiB, ...)    the plan (shard.c), made by the first shard to start
 *   [1 GiB, 2 GiB)  one byte per inode-number slot: locks that keep two
 *                   shards off one hard-linked inode at once, so that no
 *                   capability or set-id bit is restored from a stale read
 *
 * It is read and written only under an OFD lock on its byte 0 (POSIX
 * byte-range locks, which NFS keeps coherent between clients: data is read
 * fresh after the lock is taken). The first shard finds no plan, counts the
 * tree and writes one while it holds the lock; the others wait on the lock
 * and read it.
 *
 * No shard sets the root but the last: a shard clears its own bit when it
 * starts and sets it when it has finished its part without a failure, so a
 * shard that is killed, fails, or is retried never counts early. The shard
 * that sets the last bit finishes the root (root.c: its plan, then the
 * mark), clears the crash notes and removes every shard file: nothing is
 * left on the volume.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "macros.h"

#define JOB_MAGIC   0x33535356u /* "VSS3" */
#define PLAN_AT     4096
#define INODE_LOCKS (1u << 20) /* slots */
#define INODE_AT    (1LL << 30)

struct job_file {
	uint32_t magic;
	uint32_t shards;
	uint64_t plan_len;
	uint8_t done[VS_SHARDS_MAX / 8];
};

static uint64_t fold(uint64_t h, uint64_t v)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%016" PRIx64 ".%016" PRIx64, h, v);
	return vs_shard_hash(buf);
}

/* What tells this job from another on the same volume. */
static void job_key(const struct vs_job *job, unsigned shards, char *buf, size_t size)
{
	const struct vs_idmap *maps[2] = {&job->uid_map, &job->gid_map};
	uint64_t h = fold(0, (uint64_t)job->mode << 32 | shards);

	if (job->mode == VS_MODE_FSGROUP) {
		h = fold(h, (uint64_t)job->gid << 1 | job->read_only);
	} else {
		for (int m = 0; m < 2; m++) {
			h = fold(h, maps[m]->n);
			for (unsigned i = 0; i < maps[m]->n; i++)
				h = fold(h, (uint64_t)maps[m]->r[i].from << 32 ^
				                (uint64_t)maps[m]->r[i].to << 16 ^
				                maps[m]->r[i].len);
		}
	}
	h = fold(h, vs_shard_hash(job->shard_id ? job->shard_id : ""));
	snprintf(buf, size, "%016" PRIx64, h);
}

static int lock_at(int fd, off_t at, bool wait, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};

	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0)
		if (errno != EINTR)
			return neg_errno();
	return 0;
}

static int read_job(int fd, unsigned shards, struct job_file *jf)
{
	ssize_t n = pread(fd, jf, sizeof(*jf), 0);

	if (n < 0)
		return neg_errno();
	/* a new file, or another N under this key (a hash collision): start over */
	if (n != (ssize_t)sizeof(*jf) || jf->magic != JOB_MAGIC || jf->shards != shards ||
	    jf->plan_len > INODE_AT - PLAN_AT)
		*jf = (struct job_file){.magic = JOB_MAGIC, .shards = shards};
	return 0;
}

static int write_job(int fd, const struct job_file *jf)
{
	if (pwrite(fd, jf, sizeof(*jf), 0) != (ssize_t)sizeof(*jf))
		return errno ? neg_errno() : -EIO;
	return fsync(fd) < 0 ? neg_errno() : 0;
}

static unsigned count_done(const struct job_file *jf, unsigned shards)
{
	unsigned n = 0;

	for (unsigned k = 0; k < shards; k++)
		n += (jf->done[k / 8] >> (k % 8)) & 1;
	return n;
}

/* Opens (or makes) the job file: ours, or refused. */
static int open_job(struct vs_ctx *ctx, int dfd)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "shard.%s", ctx->job_key);
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return neg_errno();
	(void)fchmod(fd, 0600); /* whatever the umask made of it */
	if (!vs_state_file_ours(fd)) {
		close(fd);
		return -EEXIST;
	}
	return fd;
}

/* Counts the tree and makes its plan into ctx->plan. */
static int count_and_split(struct vs_ctx *ctx, const struct vs_engine_ops *engine)
{
	int r = vs_count(ctx, engine);

	if (r == 0)
		r = vs_split_build(ctx->count, ctx->n_count, ctx->shards, &ctx->plan);
	for (size_t i = 0; i < ctx->n_count; i++)
		free(ctx->count[i].path);
	free(ctx->count);
	ctx->count = NULL;
	ctx->n_count = ctx->cap_count = 0;
	return r;
}

/* The first shard: count the tree, make the plan, keep it in the job file. */
static int make_plan(struct vs_ctx *ctx, const struct vs_engine_ops *engine, struct job_file *jf)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = count_and_split(ctx, engine);
	if (r == 0)
		r = vs_split_encode(&ctx->plan, &text, &len);
	if (r == 0 && len > INODE_AT - PLAN_AT)
		r = -E2BIG;
	if (r == 0 && (pwrite(ctx->job_fd, text, len, PLAN_AT) != (ssize_t)len ||
	               ftruncate(ctx->job_fd, PLAN_AT + (off_t)len) < 0))
		r = errno ? neg_errno() : -EIO;
	free(text);
	if (r == 0) {
		memset(jf->done, 0, sizeof(jf->done));
		jf->plan_len = len;
	}
	return r;
}

/* Every later shard: the plan the first one made. */
static int load_plan(struct vs_ctx *ctx, const struct job_file *jf)
{
	char *text = malloc(jf->plan_len ? jf->plan_len : 1);
	int r;

	if (!text)
		return -ENOMEM;
	if (pread(ctx->job_fd, text, jf->plan_len, PLAN_AT) != (ssize_t)jf->plan_len)
		r = errno ? neg_errno() : -EIO;
	else
		r = vs_split_parse(text, jf->plan_len, &ctx->plan);
	free(text);
	if (r == 0 && ctx->plan.shards != ctx->shards) {
		vs_split_free(&ctx->plan);
		r = -EINVAL;
	}
	return r;
}

/*
 * Takes the job file's lock, which the shard making the plan holds while it
 * counts. With progress wanted, a shard that finds it taken says that it
 * waits, and asks again after 10 ms, 20 ms, ... up to a second (on network
 * storage each ask is a round trip); without, it blocks until it is free.
 */
static int lock_job(struct vs_ctx *ctx)
{
	const double every = (ctx->tick_ms ? ctx->tick_ms : 1000) / 1000.0;
	long pause_ns = 10 * 1000000L;
	double next = 0;
	int e;

	if (!ctx->tick)
		return lock_at(ctx->job_fd, 0, true, F_WRLCK);
	vs_set_phase(ctx, VS_PHASE_WAIT);
	while ((e = lock_at(ctx->job_fd, 0, false, F_WRLCK)) == -EAGAIN || e == -EACCES) {
		double now = vs_now_s();

		if (now >= next) {
			ctx->tick(ctx, ctx->tick_data);
			next = now + every;
		}
		nanosleep(&(struct timespec){0, pause_ns}, NULL);
		pause_ns = pause_ns * 2 < 1000000000L ? pause_ns * 2 : 999999999L;
	}
	vs_set_phase(ctx, VS_PHASE_WALK);
	return e;
}

int vs_shardjob_begin(struct vs_ctx *ctx, const struct vs_engine_ops *engine, struct vs_report *r)
{
	struct job_file jf;
	const char *what = "update";
	int dfd, e;

	job_key(ctx->job, ctx->shards, ctx->job_key, sizeof(ctx->job_key));
	dfd = vs_state_dirfd(&ctx->state, true);
	if (dfd < 0)
		return vs_fail(r, VS_STATUS_CANNOT_START, dfd,
		               "cannot keep the shard records on the volume (%s/%s): %s",
		               ctx->job->path ? ctx->job->path : ".", VS_STATE_DIR,
		               dfd == -EEXIST ? "something else has that name" : strerror(-dfd));
	ctx->job_fd = open_job(ctx, dfd);
	if (ctx->job_fd < 0)
		return vs_fail(r, VS_STATUS_CANNOT_START, ctx->job_fd,
		               "cannot open the shard job file: %s", strerror(-ctx->job_fd));
	e = lock_job(ctx);
	if (e == 0)
		e = read_job(ctx->job_fd, ctx->shards, &jf);
	if (e == 0 && jf.plan_len == 0) {
		what = "count the tree for";
		e = make_plan(ctx, engine, &jf);
		r->planned = e == 0;
	} else if (e == 0) {
		what = "read the plan of";
		e = load_plan(ctx, &jf);
	}
	if (e == 0) {
		/* not done until it is done again: a retried shard never counts early */
		jf.done[ctx->shard / 8] &= (uint8_t) ~(1u << (ctx->shard % 8));
		e = write_job(ctx->job_fd, &jf);
		r->shards_done = count_done(&jf, ctx->shards);
	}
	(void)lock_at(ctx->job_fd, 0, false, F_UNLCK);
	if (e < 0)
		return vs_fail(r, VS_STATUS_CANNOT_START, e, "cannot %s the shard job: %s%s", what,
		               strerror(-e),
		               e == -EINVAL ? " (a damaged job file: use another --shard-id)" : "");
	return 0;
}

int vs_shardjob_dry(struct vs_ctx *ctx, const struct vs_engine_ops *engine, struct vs_report *r)
{
	int e = count_and_split(ctx, engine);

	if (e < 0)
		return vs_fail(r, VS_STATUS_CANNOT_START, e,
		               "cannot count the tree for the shard plan: %s", strerror(-e));
	r->planned = true;
	return 0;
}

void vs_shardjob_worker_close(struct vs_worker *w)
{
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	w->lock_fd = -1;
}

int vs_shardjob_lock_inode(struct vs_worker *w, uint64_t ino, bool lock)
{
	struct vs_ctx *ctx = w->ctx;

	if (ctx->job_fd < 0 || (!lock && w->lock_fd < 0))
		return 0;
	/* an open file description of this worker's own, opened when first
	 * needed (most trees have few hard links; on network storage each
	 * open is a round trip): OFD locks then keep this worker off an inode
	 * that another worker, here or in another shard, holds */
	if (w->lock_fd < 0) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ctx->job_fd);
		w->lock_fd = open(proc, O_RDWR | O_CLOEXEC);
		if (w->lock_fd < 0)
			return neg_errno();
	}
	return lock_at(w->lock_fd, INODE_AT + (off_t)(ino % INODE_LOCKS), true,
	               lock ? F_WRLCK : F_UNLCK);
}

void vs_shardjob_end(struct vs_ctx *ctx, struct vs_report *r, struct vs_counters *root_c,
                     const struct statx *root_before)
{
	struct job_file jf;
	int e;

	e = lock_at(ctx->job_fd, 0, true, F_WRLCK);
	if (e == 0)
		e = read_job(ctx->job_fd, ctx->shards, &jf);
	if (e == 0 && jf.plan_len == 0)
		e = -ESTALE; /* another shard's job took the file over */
	if (e == 0) {
		jf.done[ctx->shard / 8] |= (uint8_t)(1u << (ctx->shard % 8));
		e = write_job(ctx->job_fd, &jf);
	}
	if (e < 0) {
		(void)lock_at(ctx->job_fd, 0, false, F_UNLCK);
		vs_fail(r, VS_STATUS_PARTIAL, e, "cannot update the shard job file: %s",
		        strerror(-e));
		return;
	}
	r->shards_done = count_done(&jf, ctx->shards);
	if (r->shards_done == ctx->shards) {
		/* the last one: the root, once, for the whole job */
		vs_root_finish(ctx, root_c, root_before);
		if (!root_c->failed) {
			vs_journal_clear_all(ctx);
			/* every shard file, this job's and any other's: the
			 * tree is done now */
			vs_state_remove_files(&ctx->state, "shard.");
			r->finished_root = true;
		}
	}
	(void)lock_at(ctx->job_fd, 0, false, F_UNLCK);
}

void vs_shardjob_close(struct vs_ctx *ctx)
{
	if (ctx->job_fd >= 0)
		close(ctx->job_fd);
	ctx->job_fd = -1;
	vs_split_free(&ctx->plan);
}
