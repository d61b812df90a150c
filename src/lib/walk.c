/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parallel tree walker.
 *
 * Work is a task: "open and read directory D" or "process this chunk of D's
 * entries". Each worker owns a deque: it pushes and pops at the top (depth
 * first, which keeps few directories open), idle workers steal from the
 * bottom (the shallowest, largest pieces of work). A reader that finds a
 * worker idle hands it the next chunk of a large directory instead of
 * processing it itself, so one directory of a million entries is shared too.
 *
 * A directory is pinned by its fd while it has unopened children or chunks in
 * flight, and closed when the last of them is done: open fds stay near
 * "depth of the current path per worker" and nothing about the tree is kept
 * beyond the frontier.
 *
 * Two variants serve sharded jobs (shard.c). Counting reads directories
 * only (getdents; statx only where d_type is unknown) and adds up each
 * directory's subtree when its last child is done, keeping the large ones.
 * A shard's walk starts from its units of the plan instead of the root:
 * whole subtrees, and slices of decomposed directories, whose reads keep
 * only the names of this shard's slices.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "macros.h"

struct dir {
	struct dir *parent; /* pinned until this one is opened */
	atomic_int refs;    /* the read task, chunks in flight, unopened children */
	int fd;
	bool borrowed_fd;          /* the root's fd belongs to the caller */
	uint64_t ino, dev, mnt_id; /* what the parent's statx saw */
	/* a shard's decomposed directory: only its slices' names are read */
	const struct vs_split_dir *slices;
	/* counting: the directory whose subtree this one's adds to, what is
	 * still to finish (1 for its own read, 1 per child directory), and the
	 * entries below it so far */
	struct dir *up;
	atomic_long pending;
	_Atomic uint64_t size;
	unsigned depth; /* below the root (0) */
	char name[];
};

struct chunk {
	unsigned n;
	struct {
		const char *name;
		unsigned char type;
	} e[VS_BATCH_MAX];
	char names[]; /* the names, NUL-separated */
};

struct task {
	struct dir *dir;
	struct chunk *chunk; /* NULL: open and read dir */
	/* a shard's subtree unit, its own entry in dir (a decomposed
	 * directory): change it, then read it */
	const struct vs_split_subtree *unit;
	/* a directory of the plan to reach (dir NULL): this shard's slices
	 * of it, and its subtree units below it */
	const struct vs_split_dir *pdir;
};

struct deque {
	pthread_mutex_t lock;
	struct task *t;
	size_t head, tail, cap; /* steal at head, push/pop at tail */
};

struct walk {
	struct vs_ctx *ctx;
	const struct vs_engine_ops *engine;
	struct deque *dq;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* idle workers wait here */
	pthread_cond_t done_cond; /* the calling thread waits here */
	atomic_long pending;      /* tasks queued or running */
	atomic_int idle;
	bool done;
	/* a shard's walk: the plan directory each of its subtree units is in
	 * (an index into plan.dirs), SIZE_MAX for another shard's units */
	size_t *unit_dir;
};

/* ------------------------------------------------------------- deques */

/* Returns the number of tasks queued after the push, or -ENOMEM. */
static int dq_push(struct deque *q, struct task t)
{
	int n;

	pthread_mutex_lock(&q->lock);
	if (q->tail - q->head == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		struct task *nt = malloc(ncap * sizeof(*nt));

		if (!nt) {
			pthread_mutex_unlock(&q->lock);
			return -ENOMEM;
		}
		for (size_t i = q->head; i < q->tail; i++)
			nt[i - q->head] = q->t[i % q->cap];
		free(q->t);
		q->t = nt;
		q->tail -= q->head;
		q->head = 0;
		q->cap = ncap;
	}
	q->t[q->tail++ % q->cap] = t;
	n = (int)(q->tail - q->head);
	pthread_mutex_unlock(&q->lock);
	return n;
}

static bool dq_pop(struct deque *q, struct task *ret, bool steal)
{
	bool ok = false;

	pthread_mutex_lock(&q->lock);
	if (q->tail != q->head) {
		*ret = steal ? q->t[q->head++ % q->cap] : q->t[--q->tail % q->cap];
		ok = true;
	}
	pthread_mutex_unlock(&q->lock);
	return ok;
}

/* -------------------------------------------------------------- dirs */

/* Counting: path of d relative to the root ("" for the root), malloc'ed. */
static char *count_path(const struct dir *d)
{
	size_t len = 0;
	char *p, *at;

	for (const struct dir *x = d; x->up; x = x->up)
		len += strlen(x->name) + 1;
	len -= len > 0; /* no '/' before the first name */
	p = malloc(len + 1);
	if (!p)
		return NULL;
	at = p + len;
	*at = '\0';
	for (const struct dir *x = d; x->up; x = x->up) {
		size_t n = strlen(x->name);

		at -= n;
		memcpy(at, x->name, n);
		if (at > p)
			*--at = '/';
	}
	return p;
}

/* Counting: keeps d when its subtree is large enough and it is not too deep
 * (VS_SPLIT_DEPTH_MAX), the root always. */
static void count_keep(struct vs_ctx *ctx, struct dir *d, uint64_t size)
{
	struct vs_count_rec rec = {.ino = d->ino, .size = size};

	if (d->up && (size < ctx->count_min || d->depth > VS_SPLIT_DEPTH_MAX))
		return;
	pthread_mutex_lock(&ctx->count_lock);
	if ((rec.path = count_path(d))) {
		if (ctx->n_count == ctx->cap_count) {
			size_t cap = ctx->cap_count ? 2 * ctx->cap_count : 256;
			struct vs_count_rec *v = realloc(ctx->count, cap * sizeof(*v));

			if (!v) {
				free(rec.path);
				rec.path = NULL;
			} else {
				ctx->count = v;
				ctx->cap_count = cap;
			}
		}
		if (rec.path)
			ctx->count[ctx->n_count++] = rec;
		/* too many kept: only the larger ones matter for the plan */
		if (ctx->n_count >= (1u << 20)) {
			size_t k = 0;

			ctx->count_min *= 4;
			for (size_t i = 0; i < ctx->n_count; i++) {
				if (ctx->count[i].size >= ctx->count_min || !ctx->count[i].path[0])
					ctx->count[k++] = ctx->count[i];
				else
					free(ctx->count[i].path);
			}
			ctx->n_count = k;
		}
	}
	pthread_mutex_unlock(&ctx->count_lock);
}

/* Counting: one thing d waited for is done; when it was the last, d's
 * subtree is complete: keep it, add it to the one above, free it. */
static void subtree_done(struct vs_ctx *ctx, struct dir *d)
{
	while (d && atomic_fetch_sub(&d->pending, 1) == 1) {
		struct dir *up = d->up;
		uint64_t size = atomic_load(&d->size);

		count_keep(ctx, d, size);
		if (up)
			atomic_fetch_add(&up->size, size);
		free(d);
		d = up;
	}
}

static void dir_unref(struct vs_ctx *ctx, struct dir *d)
{
	while (d && atomic_fetch_sub(&d->refs, 1) == 1) {
		struct dir *p = d->parent; /* only set when never opened */

		if (d->fd >= 0 && !d->borrowed_fd)
			close(d->fd);
		if (ctx->counting)
			subtree_done(ctx, d); /* a child still waiting keeps it */
		else
			free(d);
		d = p;
	}
}

static struct dir *dir_new(struct dir *parent, const char *name, const struct statx *stx)
{
	size_t len = strlen(name);
	struct dir *d = malloc(sizeof(*d) + len + 1);

	if (!d)
		return NULL;
	d->parent = parent;
	atomic_init(&d->refs, 1);
	atomic_fetch_add(&parent->refs, 1);
	d->fd = -1;
	d->borrowed_fd = false;
	d->ino = stx->stx_ino;
	d->dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	d->mnt_id = (stx->stx_mask & STATX_MNT_ID) ? stx->stx_mnt_id : 0;
	d->slices = NULL;
	d->up = NULL;
	atomic_init(&d->pending, 1);
	atomic_init(&d->size, 0);
	d->depth = parent->depth + 1;
	memcpy(d->name, name, len + 1);
	return d;
}

/* --------------------------------------------------------- scheduling */

static void wake_one(struct walk *wk)
{
	if (atomic_load(&wk->idle) > 0) {
		pthread_mutex_lock(&wk->lock);
		pthread_cond_signal(&wk->cond);
		pthread_mutex_unlock(&wk->lock);
	}
}

/*
 * A chunk is handed over for an idle worker: wake one. A directory is
 * popped next by the worker that pushed it, so a thief is only worth waking
 * when there is more than that one task queued: a chain of single
 * subdirectories then stays on one thread instead of bouncing between two.
 */
static int push(struct walk *wk, struct vs_worker *w, struct task t)
{
	int n;

	atomic_fetch_add(&wk->pending, 1);
	n = dq_push(&wk->dq[w->id], t);
	if (n < 0) {
		atomic_fetch_sub(&wk->pending, 1);
		return n;
	}
	if (t.chunk || n > 1)
		wake_one(wk);
	return 0;
}

static bool find_task(struct walk *wk, struct vs_worker *w, struct task *ret)
{
	unsigned n = wk->ctx->n_workers;

	if (dq_pop(&wk->dq[w->id], ret, false))
		return true;
	for (unsigned i = 1; i < n; i++)
		if (dq_pop(&wk->dq[(w->id + i) % n], ret, true))
			return true;
	return false;
}

/* Blocks until there is a task (true) or the walk is over (false). */
static bool next_task(struct walk *wk, struct vs_worker *w, struct task *ret)
{
	bool found;

	if (find_task(wk, w, ret))
		return true;
	pthread_mutex_lock(&wk->lock);
	/* idle first, then look again: a push that our first look missed
	 * sees idle > 0 and signals, after we wait (it needs the lock) */
	atomic_fetch_add(&wk->idle, 1);
	while (!(found = find_task(wk, w, ret)) && !wk->done)
		pthread_cond_wait(&wk->cond, &wk->lock);
	atomic_fetch_sub(&wk->idle, 1);
	pthread_mutex_unlock(&wk->lock);
	return found;
}

static void task_done(struct walk *wk)
{
	if (atomic_fetch_sub(&wk->pending, 1) == 1) {
		pthread_mutex_lock(&wk->lock);
		wk->done = true;
		pthread_cond_broadcast(&wk->cond);
		pthread_cond_signal(&wk->done_cond);
		pthread_mutex_unlock(&wk->lock);
	}
}

/* ------------------------------------------------------------ entries */

/* Is this entry on another mount than its directory? */
static bool crosses_mount(const struct dir *d, const struct statx *stx)
{
	if ((stx->stx_mask & STATX_MNT_ID) && d->mnt_id)
		return stx->stx_mnt_id != d->mnt_id;
	return makedev(stx->stx_dev_major, stx->stx_dev_minor) != d->dev;
}

/* With --cross-mounts: may we enter the filesystem mounted at (dirfd, name)? */
static bool mount_allowed(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct statfs sfs;

	if (fd < 0 || fstatfs(fd, &sfs) < 0)
		return false;
	return !vs_fs_is_pseudo((unsigned long)sfs.f_type);
}

/* Hands the entries e[0..n) to an idle worker, as a chunk of their own. */
static int offload_chunk(struct walk *wk, struct vs_worker *w, struct dir *d,
                         const struct vs_dent *e, unsigned n)
{
	size_t bytes = 0, off = 0;
	struct chunk *c;

	for (unsigned i = 0; i < n; i++)
		bytes += strlen(e[i].name) + 1;
	c = malloc(sizeof(*c) + bytes);
	if (!c)
		return -ENOMEM;
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(e[i].name) + 1;

		memcpy(c->names + off, e[i].name, len);
		c->e[i].name = c->names + off;
		c->e[i].type = e[i].d_type;
		off += len;
	}
	atomic_fetch_add(&d->refs, 1);
	if (push(wk, w, (struct task){d, c}) < 0) {
		atomic_fetch_sub(&d->refs, 1);
		free(c);
		return -ENOMEM;
	}
	return 0;
}

/*
 * The fewest entries a piece handed to an idle worker holds: below this a
 * hand-over (a copy, a wake-up, a steal) costs more than the entries on a
 * local disk. On network storage, where each entry is a round trip or two,
 * the pieces are what keeps every worker's requests in flight.
 */
#define VS_PIECE_MIN 8

/*
 * Shares the entries still to do, w->dents[at..n), with the workers that
 * are idle: pieces from the end go to them, this one keeps the first.
 * Returns the new end of this worker's part.
 */
static unsigned share(struct walk *wk, struct vs_worker *w, struct dir *d, unsigned at, unsigned n)
{
	unsigned idle = atomic_load(&wk->idle), parts, size;

	if (idle == 0)
		return n;
	parts = (n - at) / VS_PIECE_MIN;
	if (parts > idle + 1)
		parts = idle + 1;
	if (parts < 2)
		return n;
	size = (n - at) / parts;
	for (unsigned k = 1; k < parts; k++) {
		if (offload_chunk(wk, w, d, &w->dents[n - size], size) < 0)
			break;
		n -= size;
	}
	return n;
}

/*
 * Processes w->dents[0..n), a window (the engine's) at a time: a worker that
 * falls idle meanwhile (its own part done; the end of a walk, a shard's
 * small directories) gets a share of what is left, so one directory does
 * not keep one worker busy while the others wait.
 */
static void process_chunk(struct walk *wk, struct vs_worker *w, struct dir *d, unsigned n)
{
	struct vs_ctx *ctx = wk->ctx;
	const unsigned win = wk->engine->window ? wk->engine->window : 1;

	for (unsigned at = 0; at < n;) {
		unsigned end;

		n = share(wk, w, d, at, n);
		/* no last window smaller than a piece: the ring sends a lone
		 * entry plain */
		end = n - at >= win + VS_PIECE_MIN ? at + win : n;
		wk->engine->stat_batch(w, d->fd, &w->dents[at], end - at);
		ctr_add(&w->c.statx, end - at);
		for (unsigned i = at; i < end; i++) {
			struct vs_dent *e = &w->dents[i];

			if (e->err) {
				ctr_add(&w->c.entries, 1);
				vs_record_error(ctx, &w->c, d->fd, e->name, e->err);
				continue;
			}
			/* the volume's state (state.c) is volshift's, not the tree's */
			if (d->borrowed_fd && !strcmp(e->name, VS_STATE_DIR) &&
			    vs_state_is_ours(&e->stx))
				continue;
			if (crosses_mount(d, &e->stx) &&
			    (!ctx->job->cross_mounts || !mount_allowed(d->fd, e->name))) {
				ctr_add(&w->c.skipped_mounts, 1);
				continue;
			}
			vs_apply_entry(w, d->fd, e);
			if (S_ISDIR(e->stx.stx_mode) && !atomic_load(&ctx->cancel)) {
				struct dir *c = dir_new(d, e->name, &e->stx);
				int r = c ? push(wk, w, (struct task){c, NULL}) : -ENOMEM;

				if (r < 0) {
					if (c)
						dir_unref(ctx, c);
					vs_record_error(ctx, &w->c, d->fd, e->name, r);
				}
			}
		}
		at = end;
	}
}

static void flush(struct walk *wk, struct vs_worker *w, struct dir *d, unsigned n)
{
	if (n == 0)
		return;
	/* a full chunk goes whole to an idle worker, and this one reads on;
	 * the tail of a directory (or a small one) is done here, shared */
	if (n == VS_BATCH_MAX && atomic_load(&wk->idle) > 0 &&
	    offload_chunk(wk, w, d, w->dents, n) == 0)
		return;
	process_chunk(wk, w, d, n);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Opens d below its parent and checks it is the directory the parent listed. */
static int open_dir(struct dir *d)
{
	struct stat st;
	int fd;

	fd = openat(d->parent->fd, d->name,
	            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return neg_errno();
	if (fstat(fd, &st) < 0) {
		int r = neg_errno();

		close(fd);
		return r;
	}
	if (st.st_ino != d->ino || st.st_dev != d->dev) {
		close(fd); /* swapped since it was listed: not ours to walk */
		return -ESTALE;
	}
	d->fd = fd;
	return 0;
}

/*
 * Counting: one name of d. A directory (by d_type, or by statx where the
 * filesystem does not say) is queued to be counted in turn; its identity
 * is the d_ino getdents gave, so a mount point (a different inode once
 * opened) is not entered.
 */
static void count_entry(struct walk *wk, struct vs_worker *w, struct dir *d, const char *name,
                        unsigned char type, uint64_t ino)
{
	struct vs_ctx *ctx = wk->ctx;
	struct statx stx = {
	    .stx_ino = ino, .stx_dev_major = major(d->dev), .stx_dev_minor = minor(d->dev)};
	struct dir *c;

	/* the volume's state, not the tree: the plan is the same with or
	 * without it (a dry run makes its own, before any job file exists) */
	if (d->borrowed_fd && !strcmp(name, VS_STATE_DIR))
		return;
	atomic_fetch_add(&d->size, 1);
	atomic_fetch_add_explicit(&ctx->counted, 1, memory_order_relaxed);
	if (type == DT_UNKNOWN) {
		struct statx s;

		ctr_add(&w->c.statx, 1);
		if (statx(d->fd, name, VS_STATX_FLAGS, STATX_TYPE | STATX_INO, &s) < 0)
			return;
		type = S_ISDIR(s.stx_mode) ? DT_DIR : DT_REG;
		stx.stx_ino = s.stx_ino;
	}
	if (type != DT_DIR || atomic_load(&ctx->cancel))
		return;
	c = dir_new(d, name, &stx);
	if (!c)
		return;
	c->mnt_id = d->mnt_id;
	c->up = d;
	atomic_fetch_add(&d->pending, 1);
	if (push(wk, w, (struct task){c, NULL}) < 0) {
		atomic_fetch_sub(&d->pending, 1);
		c->up = NULL;
		dir_unref(ctx, c);
	}
}

static void read_dir(struct walk *wk, struct vs_worker *w, struct dir *d, char *buf, size_t bufsize)
{
	struct vs_ctx *ctx = wk->ctx;
	unsigned n = 0;

	if (d->fd < 0) {
		int r = open_dir(d);
		struct dir *p = d->parent;

		if (r < 0) {
			/* a count skips what it cannot open (a mount point, a
			 * directory gone): the walk itself will say */
			if (!ctx->counting)
				vs_record_error(ctx, &w->c, p->fd, d->name, r);
			return;
		}
		d->parent = NULL;
		dir_unref(ctx, p);
	}
	ctr_add(&w->c.dirs_read, 1);
	/* the caller's root fd may have been read before (a shard's count) */
	if (d->borrowed_fd)
		(void)lseek(d->fd, 0, SEEK_SET);

	for (;;) {
		long got = syscall(SYS_getdents64, d->fd, buf, bufsize);

		if (got < 0) {
			vs_record_error(ctx, &w->c, d->fd, "", neg_errno());
			break;
		}
		if (got == 0 || atomic_load(&ctx->cancel))
			break;
		for (long off = 0; off < got;) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(buf + off);
			const char *nm = de->d_name;

			off += de->d_reclen;
			if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
				continue;
			if (ctx->counting) {
				count_entry(wk, w, d, nm, de->d_type, de->d_ino);
				continue;
			}
			/* a shard's slices of a decomposed directory */
			if (d->slices && vs_split_owner(d->slices, nm) != ctx->shard)
				continue;
			w->dents[n].name = nm;
			w->dents[n].d_type = de->d_type;
			if (++n == VS_BATCH_MAX) {
				flush(wk, w, d, n);
				n = 0;
			}
		}
		/* names point into buf: the chunk must go before the next read */
		flush(wk, w, d, n);
		n = 0;
	}
}

static void seed_unit(struct walk *wk, struct vs_worker *w, struct dir *p,
                      const struct vs_split_subtree *st);
static void seed_plan_dir(struct walk *wk, struct vs_worker *w, const struct vs_split_dir *pd);

static void run_task(struct walk *wk, struct vs_worker *w, struct task *t, char *buf,
                     size_t bufsize)
{
	struct dir *d = t->dir;

	if (atomic_load(&wk->ctx->cancel)) {
		/* drain: release what the task holds */
	} else if (t->pdir) {
		seed_plan_dir(wk, w, t->pdir);
	} else if (t->unit) {
		seed_unit(wk, w, d, t->unit);
	} else if (t->chunk) {
		for (unsigned i = 0; i < t->chunk->n; i++) {
			w->dents[i].name = t->chunk->e[i].name;
			w->dents[i].d_type = t->chunk->e[i].type;
		}
		process_chunk(wk, w, d, t->chunk->n);
	} else {
		read_dir(wk, w, d, buf, bufsize);
	}
	free(t->chunk);
	dir_unref(wk->ctx, d);
	task_done(wk);
}

struct worker_arg {
	struct walk *wk;
	struct vs_worker *w;
};

static void *worker_main(void *p)
{
	struct worker_arg *a = p;
	struct walk *wk = a->wk;
	struct vs_worker *w = a->w;
	const size_t bufsize = 64 * 1024;
	_cleanup_free_ char *buf = malloc(bufsize);
	struct task t;

	if (!buf) {
		atomic_store(&wk->ctx->cancel, true);
		wk->ctx->fatal = -ENOMEM;
	}
	while (next_task(wk, w, &t)) {
		if (!buf) {
			free(t.chunk);
			dir_unref(wk->ctx, t.dir);
			task_done(wk);
			continue;
		}
		run_task(wk, w, &t, buf, bufsize);
	}
	return NULL;
}

/* A directory of the plan, reached from the root name by name without
 * following a symlink; 0 with *ret_fd (or the root's own fd for ""), or
 * -errno (-ESTALE when it is not the inode the plan names). *ret_parent gets
 * the fd of the directory holding it (-1 for the root). */
static int resolve(struct vs_ctx *ctx, const char *path, uint64_t ino, int *ret_fd, int *ret_parent)
{
	_cleanup_close_ int parent = -1, fd = -1;
	const char *p = path;
	struct stat st;

	*ret_fd = ctx->root_fd;
	*ret_parent = -1;
	if (!*path)
		return 0;
	while (*p) {
		const char *e = strchrnul(p, '/');
		char name[NAME_MAX + 1];

		if ((size_t)(e - p) > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, (size_t)(e - p));
		name[e - p] = '\0';
		if (parent >= 0)
			close(parent);
		parent = TAKE_FD(fd);
		fd = openat(parent >= 0 ? parent : ctx->root_fd, name,
		            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return neg_errno();
		p = *e ? e + 1 : e;
	}
	if (fstat(fd, &st) < 0)
		return neg_errno();
	if ((uint64_t)st.st_ino != ino || st.st_dev != ctx->root_dev)
		return -ESTALE; /* the tree changed since the plan was made */
	if (parent < 0)
		parent = fcntl(ctx->root_fd, F_DUPFD_CLOEXEC, 3);
	*ret_parent = TAKE_FD(parent);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* The last name of a relative path. */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* A directory struct for an fd the walk owns (borrowed: the root's). */
static struct dir *dir_at(struct vs_ctx *ctx, int fd, const char *path, uint64_t ino)
{
	size_t len = strlen(path);
	struct dir *d = calloc(1, sizeof(*d) + len + 1);

	if (!d)
		return NULL;
	atomic_init(&d->refs, 1);
	atomic_init(&d->pending, 1);
	d->fd = fd;
	d->borrowed_fd = fd == ctx->root_fd;
	d->ino = ino;
	d->dev = ctx->root_dev;
	d->mnt_id = ctx->have_mnt_id ? ctx->root_mnt_id : 0;
	memcpy(d->name, path, len + 1);
	return d;
}

/* Changes the inode at (dirfd, name) as an entry the walk met: a unit's own
 * directory. Returns the statx it saw, for a subtree to be entered. */
static bool seed_entry(struct walk *wk, struct vs_worker *w, int dirfd, const char *name,
                       struct statx *ret)
{
	struct vs_dent *e = &w->dents[0];

	e->name = name;
	e->d_type = DT_DIR;
	wk->engine->stat_batch(w, dirfd, e, 1);
	ctr_add(&w->c.statx, 1);
	if (e->err) {
		ctr_add(&w->c.entries, 1);
		vs_record_error(wk->ctx, &w->c, dirfd, name, e->err);
		return false;
	}
	vs_apply_entry(w, dirfd, e);
	*ret = e->stx;
	return true;
}

/* A shard's subtree unit, on a worker: its own entry in p (a decomposed
 * directory), then, when it is still the directory the plan names, its
 * read. */
static void seed_unit(struct walk *wk, struct vs_worker *w, struct dir *p,
                      const struct vs_split_subtree *st)
{
	const char *name = base_name(st->path);
	struct statx stx;
	struct dir *c;

	if (!seed_entry(wk, w, p->fd, name, &stx) || !S_ISDIR(stx.stx_mode))
		return;
	if (stx.stx_ino != st->ino) {
		vs_record_error(wk->ctx, &w->c, p->fd, name, -ESTALE);
		return;
	}
	c = dir_new(p, name, &stx);
	if (!c || push(wk, w, (struct task){c, NULL, NULL}) < 0) {
		if (c)
			dir_unref(wk->ctx, c);
		vs_record_error(wk->ctx, &w->c, p->fd, name, -ENOMEM);
	}
}

static bool owns_slice(const struct vs_split_dir *pd, unsigned shard)
{
	for (unsigned j = 0; j < pd->k; j++)
		if (pd->owner[j] == shard)
			return true;
	return false;
}

/*
 * A directory of the plan, on a worker: reached by name from the root; its
 * own entry changed when this shard has its slice 0 (a decomposed directory
 * is its slice 0's); then this shard's slices of it read and its subtree
 * units below it queued, all in parallel: on network storage each is a few
 * round trips, and a shard has dozens.
 */
static void seed_plan_dir(struct walk *wk, struct vs_worker *w, const struct vs_split_dir *pd)
{
	struct vs_ctx *ctx = wk->ctx;
	const struct vs_split *plan = &ctx->plan;
	size_t k = (size_t)(pd - plan->dirs);
	bool mine = owns_slice(pd, ctx->shard);
	struct dir *d = NULL;
	int fd, parent, r;

	r = resolve(ctx, pd->path, pd->ino, &fd, &parent);
	if (r == 0) {
		if (parent >= 0) {
			struct statx stx;

			if (pd->owner[0] == ctx->shard)
				seed_entry(wk, w, parent, base_name(pd->path), &stx);
			close(parent);
		}
		d = dir_at(ctx, fd, pd->path, pd->ino);
		if (!d) {
			if (fd != ctx->root_fd)
				close(fd);
			r = -ENOMEM;
		}
	}
	if (mine && r == 0) {
		d->slices = pd;
		atomic_fetch_add(&d->refs, 1);
		if (push(wk, w, (struct task){d, NULL, NULL, NULL}) < 0) {
			atomic_fetch_sub(&d->refs, 1);
			r = -ENOMEM;
		}
	}
	if (mine && r < 0)
		vs_record_error(ctx, &w->c, ctx->root_fd, pd->path, r);
	for (size_t i = 0; i < plan->n_subtrees; i++) {
		const struct vs_split_subtree *st = &plan->subtrees[i];
		int e = r;

		if (wk->unit_dir[i] != k)
			continue;
		if (e == 0) {
			atomic_fetch_add(&d->refs, 1);
			if (push(wk, w, (struct task){d, NULL, st, NULL}) < 0) {
				atomic_fetch_sub(&d->refs, 1);
				e = -ENOMEM;
			}
		}
		if (e < 0)
			vs_record_error(ctx, &w->c, ctx->root_fd, st->path, e);
	}
	dir_unref(ctx, d);
}

/*
 * The tasks a walk starts from: the root, or the directories of the plan
 * this shard has a part in (its slices, or subtree units below them), to be
 * reached by the workers. Returns how many were queued on worker 0's deque;
 * a unit that cannot be reached is a failure of this shard (counted, with
 * its path).
 */
static long seed(struct walk *wk)
{
	struct vs_ctx *ctx = wk->ctx;
	struct vs_worker *w = &ctx->workers[0];
	const struct vs_split *plan = &ctx->plan;
	bool *needed;
	long n = 0;

	if (ctx->shards <= 1 || ctx->counting) {
		struct dir *root = dir_at(ctx, ctx->root_fd, "", ctx->root_ino);

		if (!root || dq_push(&wk->dq[0], (struct task){root, NULL}) < 0) {
			free(root);
			return -ENOMEM;
		}
		return 1;
	}
	wk->unit_dir = malloc((plan->n_subtrees ? plan->n_subtrees : 1) * sizeof(*wk->unit_dir));
	needed = calloc(plan->n_dirs ? plan->n_dirs : 1, sizeof(*needed));
	if (!wk->unit_dir || !needed) {
		free(needed);
		return -ENOMEM;
	}
	for (size_t k = 0; k < plan->n_dirs; k++)
		needed[k] = owns_slice(&plan->dirs[k], ctx->shard);
	/* each subtree unit's parent is a decomposed directory of the plan */
	for (size_t i = 0; i < plan->n_subtrees; i++) {
		const struct vs_split_subtree *st = &plan->subtrees[i];
		size_t plen = (size_t)(base_name(st->path) - st->path), k;

		wk->unit_dir[i] = SIZE_MAX;
		if (st->shard != ctx->shard)
			continue;
		plen -= plen > 0; /* the '/' before the name */
		for (k = 0; k < plan->n_dirs; k++)
			if (strlen(plan->dirs[k].path) == plen &&
			    !strncmp(plan->dirs[k].path, st->path, plen))
				break;
		if (k == plan->n_dirs) {
			vs_record_error(ctx, &w->c, ctx->root_fd, st->path, -ENOENT);
			continue;
		}
		wk->unit_dir[i] = k;
		needed[k] = true;
	}
	for (size_t k = 0; k < plan->n_dirs; k++) {
		if (!needed[k])
			continue;
		if (dq_push(&wk->dq[0], (struct task){NULL, NULL, NULL, &plan->dirs[k]}) < 0) {
			n = -ENOMEM;
			break;
		}
		n++;
	}
	free(needed);
	return n;
}

int vs_walk(struct vs_ctx *ctx, const struct vs_engine_ops *engine,
            void (*tick)(struct vs_ctx *ctx, void *userdata), void *userdata, unsigned tick_ms)
{
	unsigned n = ctx->n_workers;
	struct walk wk = {.ctx = ctx, .engine = engine};
	struct worker_arg *args;
	unsigned started = 0;
	long seeded;
	int r = 0;

	wk.dq = calloc(n, sizeof(*wk.dq));
	args = calloc(n, sizeof(*args));
	if (!wk.dq || !args) {
		free(wk.dq);
		free(args);
		return -ENOMEM;
	}
	pthread_mutex_init(&wk.lock, NULL);
	pthread_cond_init(&wk.cond, NULL);
	pthread_cond_init(&wk.done_cond, NULL);
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&wk.dq[i].lock, NULL);

	seeded = seed(&wk);
	if (seeded < 0) {
		r = (int)seeded;
		goto drain;
	}
	atomic_init(&wk.pending, seeded);
	wk.done = seeded == 0;

	for (unsigned i = 0; i < n; i++) {
		args[i] = (struct worker_arg){&wk, &ctx->workers[i]};
		if (pthread_create(&ctx->workers[i].thread, NULL, worker_main, &args[i]) != 0)
			break;
		started++;
	}
	if (started == 0) {
		/* no thread at all: walk on this one */
		struct worker_arg a = {&wk, &ctx->workers[0]};
		worker_main(&a);
	}

	pthread_mutex_lock(&wk.lock);
	while (!wk.done) {
		if (tick) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += tick_ms / 1000;
			ts.tv_nsec += (long)(tick_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&wk.done_cond, &wk.lock, &ts);
			if (!wk.done) {
				pthread_mutex_unlock(&wk.lock);
				tick(ctx, userdata);
				pthread_mutex_lock(&wk.lock);
			}
		} else {
			pthread_cond_wait(&wk.done_cond, &wk.lock);
		}
	}
	pthread_mutex_unlock(&wk.lock);
	/* fewer threads than asked (or none, then this one walked): still a
	 * complete walk */
	for (unsigned i = 0; i < started; i++)
		pthread_join(ctx->workers[i].thread, NULL);
	goto out;
drain:
	/* seeding failed: release what was queued, nothing ran */
	for (struct task t; dq_pop(&wk.dq[0], &t, false);)
		dir_unref(ctx, t.dir);
out:
	for (unsigned i = 0; i < n; i++) {
		free(wk.dq[i].t);
		pthread_mutex_destroy(&wk.dq[i].lock);
	}
	pthread_cond_destroy(&wk.cond);
	pthread_cond_destroy(&wk.done_cond);
	pthread_mutex_destroy(&wk.lock);
	free(wk.dq);
	free(wk.unit_dir);
	free(args);
	return r < 0 ? r : ctx->fatal;
}

int vs_count(struct vs_ctx *ctx, const struct vs_engine_ops *engine)
{
	int r;

	ctx->counting = true;
	ctx->count_min = 16;
	vs_set_phase(ctx, VS_PHASE_COUNT);
	r = vs_walk(ctx, engine, ctx->tick, ctx->tick_data, ctx->tick_ms);
	vs_set_phase(ctx, VS_PHASE_WALK);
	ctx->counting = false;
	return r;
}
