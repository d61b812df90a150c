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
 */
#include "internal.h"

#include <errno.h>
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

static void dir_unref(struct dir *d)
{
	while (d && atomic_fetch_sub(&d->refs, 1) == 1) {
		struct dir *p = d->parent; /* only set when never opened */

		if (d->fd >= 0 && !d->borrowed_fd)
			close(d->fd);
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

static void process_chunk(struct walk *wk, struct vs_worker *w, struct dir *d, unsigned n)
{
	struct vs_ctx *ctx = wk->ctx;

	wk->engine->stat_batch(w, d->fd, w->dents, n);
	ctr_add(&w->c.statx, n);
	for (unsigned i = 0; i < n; i++) {
		struct vs_dent *e = &w->dents[i];

		if (e->err) {
			ctr_add(&w->c.entries, 1);
			vs_record_error(ctx, &w->c, d->fd, e->name, e->err);
			continue;
		}
		/* the volume's state (state.c) is volshift's, not the tree's */
		if (d->borrowed_fd && !strcmp(e->name, VS_STATE_DIR) && vs_state_is_ours(&e->stx))
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
					dir_unref(c);
				vs_record_error(ctx, &w->c, d->fd, e->name, r);
			}
		}
	}
}

/* Hands the chunk in w->dents[0..n) to an idle worker. */
static int offload_chunk(struct walk *wk, struct vs_worker *w, struct dir *d, unsigned n)
{
	size_t bytes = 0, off = 0;
	struct chunk *c;

	for (unsigned i = 0; i < n; i++)
		bytes += strlen(w->dents[i].name) + 1;
	c = malloc(sizeof(*c) + bytes);
	if (!c)
		return -ENOMEM;
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(w->dents[i].name) + 1;

		memcpy(c->names + off, w->dents[i].name, len);
		c->e[i].name = c->names + off;
		c->e[i].type = w->dents[i].d_type;
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

static void flush(struct walk *wk, struct vs_worker *w, struct dir *d, unsigned n)
{
	if (n == 0)
		return;
	/* only full chunks are worth a hand-over; the tail of a directory
	 * (or a small one) is done here */
	if (n == VS_BATCH_MAX && atomic_load(&wk->idle) > 0 && offload_chunk(wk, w, d, n) == 0)
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

static void read_dir(struct walk *wk, struct vs_worker *w, struct dir *d, char *buf, size_t bufsize)
{
	struct vs_ctx *ctx = wk->ctx;
	unsigned n = 0;

	if (d->fd < 0) {
		int r = open_dir(d);
		struct dir *p = d->parent;

		if (r < 0) {
			vs_record_error(ctx, &w->c, p->fd, d->name, r);
			return;
		}
		d->parent = NULL;
		dir_unref(p);
	}
	ctr_add(&w->c.dirs_read, 1);

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

static void run_task(struct walk *wk, struct vs_worker *w, struct task *t, char *buf,
                     size_t bufsize)
{
	struct dir *d = t->dir;

	if (atomic_load(&wk->ctx->cancel)) {
		/* drain: release what the task holds */
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
	dir_unref(d);
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
			dir_unref(t.dir);
			task_done(wk);
			continue;
		}
		run_task(wk, w, &t, buf, bufsize);
	}
	return NULL;
}

int vs_walk(struct vs_ctx *ctx, const struct vs_engine_ops *engine,
            void (*tick)(struct vs_ctx *ctx, void *userdata), void *userdata, unsigned tick_ms)
{
	unsigned n = ctx->n_workers;
	struct walk wk = {.ctx = ctx, .engine = engine};
	struct worker_arg *args;
	struct dir *root;
	unsigned started = 0;
	int r = 0;

	wk.dq = calloc(n, sizeof(*wk.dq));
	args = calloc(n, sizeof(*args));
	root = calloc(1, sizeof(*root) + 1);
	if (!wk.dq || !args || !root) {
		free(wk.dq);
		free(args);
		free(root);
		return -ENOMEM;
	}
	pthread_mutex_init(&wk.lock, NULL);
	pthread_cond_init(&wk.cond, NULL);
	pthread_cond_init(&wk.done_cond, NULL);
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&wk.dq[i].lock, NULL);

	atomic_init(&root->refs, 1);
	root->fd = ctx->root_fd;
	root->borrowed_fd = true;
	root->dev = ctx->root_dev;
	root->mnt_id = ctx->have_mnt_id ? ctx->root_mnt_id : 0;
	atomic_init(&wk.pending, 1);
	wk.dq[0].t = NULL;
	if (dq_push(&wk.dq[0], (struct task){root, NULL}) < 0) {
		r = -ENOMEM;
		free(root);
		goto out;
	}

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
out:
	for (unsigned i = 0; i < n; i++) {
		free(wk.dq[i].t);
		pthread_mutex_destroy(&wk.dq[i].lock);
	}
	pthread_cond_destroy(&wk.cond);
	pthread_cond_destroy(&wk.done_cond);
	pthread_mutex_destroy(&wk.lock);
	free(wk.dq);
	free(args);
	return r < 0 ? r : ctx->fatal;
}
