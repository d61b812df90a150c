/* SPDX-License-Identifier: Apache-2.0 */
/*
 * latfs: a FUSE passthrough of a directory that answers every request only
 * after a fixed delay, standing in for NFS or network block storage, where
 * each metadata operation is a round trip (bench/run's "slow" cache state),
 * and that fails chosen requests on demand (tests/test_faults.c).
 *
 *   latfs [--delay-us N] [--threads N] [--max-inflight N] [--max-fds N]
 *         [--xattrs | --no-xattrs]
 *         [--readdirplus] [--fail RULE]... [--stats] [--foreground] [--debug]
 *         BACKING MOUNTPOINT
 *
 * Metadata, what an ownership walk does: lookup, getattr, setattr (owner and
 * mode), readlink, readdir(plus), statfs and the xattr calls; and what
 * volshift keeps on a volume (the records of a sharded job, its crash notes
 * and marks where there are no xattrs): mkdir, create, open, read, write,
 * flush, fsync, truncate, rename, unlink, rmdir and POSIX locks, all passed
 * through to the backing files. Each request is answered --delay-us (1000)
 * after it came, and requests overlap their delays as on a network
 * filesystem: it is served at once (by up to --threads (128) threads) and
 * its reply waits in a queue, so that no thread sleeps through a delay.
 * Forgets are not delayed: the kernel does not wait for them.
 *
 * --max-inflight N: at most N requests of this mount are being served (their
 * delay included) at once; the others queue until a slot frees, as on an NFS
 * client whose RPC slot table has N slots. Mounts are independent: N shard
 * processes each with a mount of their own over one backing directory get N
 * slot tables. Default: no limit but --threads.
 *
 * As on NFS, lookups in one directory run in parallel and a chown does not
 * make the kernel fetch the attributes first (see INIT_FLAGS). --readdirplus
 * answers every readdir with the entries' attributes, as an NFS READDIRPLUS
 * does, so a walk needs no lookup per entry.
 *
 * Extended attributes (--xattrs, the default) pass through to the backing
 * inode, errors included (ENODATA for a missing attribute, ENOTSUP where the
 * backing filesystem has none), so POSIX ACLs and file capabilities behave
 * as on the backing filesystem; a symlink's own attributes are reached
 * through its directory and name, never by following it. --no-xattrs answers
 * ENOSYS to the xattr calls: the kernel stops asking and answers EOPNOTSUPP
 * itself without a round trip, as on an NFS mount without xattr support.
 *
 * --fail RULE (repeatable) fails matching requests, after their delay, with
 * an errno instead of serving them:
 *
 *   OP[+OP...]:ERRNO[:name=GLOB][:attr=GLOB][:every=N][:count=N]
 *
 *   OP     readdir (or getdents), lookup, getattr, statx (lookup and getattr),
 *          chown (a setattr of the owner), chmod (a setattr of the mode),
 *          getxattr, listxattr, setxattr, removexattr, xattr (all four)
 *   ERRNO  a name (EIO, EACCES, ENOSPC, ESTALE, EPERM, ENOENT, EROFS, ...) or
 *          a number; ENOSYS makes the kernel stop sending the xattr calls
 *   name=  only requests on an entry whose final component matches GLOB
 *          (fnmatch(3) with FNM_PATHNAME: a readdir matches on the directory's
 *          name, a lookup on the name looked up, the rest on the name the
 *          inode was first looked up by; the mount's root is named "/", which
 *          no '*' matches)
 *   attr=  xattr calls only: only those on an attribute whose name matches
 *          GLOB (listxattr never matches a rule with attr=)
 *   every= only every N-th request that matches the rest of the rule (the
 *          N-th, 2N-th, ...; counted per rule, over the life of the mount)
 *   count= fail at most N requests, then serve them again
 *
 * The first rule that fires decides. The kernel retries some calls once on
 * ESTALE (path lookups, chown, chmod): a rule limited by count= or every=
 * may let the retry through. With --readdirplus, an entry that a lookup rule
 * might fail is listed without attributes, so that its lookup comes as a
 * request of its own. Examples:
 *
 *   --fail chown:EIO:name=f7          every chown of an entry named f7
 *   --fail statx:ESTALE:every=100     every 100th lookup or getattr
 *   --fail setxattr:ENOSPC:attr=security.capability:count=1
 *
 * --stats prints, on exit, the requests served by kind, the most that were in
 * flight at once, and how often each rule fired.
 *
 * Mount a fresh instance for every measurement: attributes stay cached in the
 * kernel for 60 s (an NFS client's acregmax), so a second walk over the same
 * mount is a warm one. Root only (it mounts with mount(2)); daemonizes once
 * mounted unless --foreground, and exits when unmounted.
 *
 * Files are read and written with direct I/O (no page cache: every read and
 * write is a request) and a lock is an OFD lock on the backing descriptor of
 * the open that takes it, so that mounts of one backing directory (one per
 * shard of a job) see one another's data and locks, as NFS clients of one
 * server do (NLM or NFSv4 locks, data coherent under them). That is right
 * for OFD locks, what volshift takes; classic per-process POSIX locks of
 * several opens would not conflict with each other here as they should.
 *
 * Each kernel inode is one backing inode, pinned by an O_PATH|O_NOFOLLOW fd
 * and found again by (st_dev, st_ino), so hard links are one inode as on the
 * backing filesystem. Past --max-fds inodes (half the nofile limit), an
 * inode is kept by its file handle instead and opened for each request:
 * a 100k-file tree needs no 100k fds. Nothing in the backing tree is
 * followed: symlinks are entries of their own.
 */
#define FUSE_USE_VERSION 312

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <limits.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stddef.h>
#include <pthread.h>
#include <search.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CACHE_TIMEOUT 60.0

struct node {
	dev_t dev;
	ino_t ino;
	/* O_PATH|O_NOFOLLOW on the backing entry; -1 past the fd budget, where
	 * the node keeps a file handle and opens it for each request */
	int fd;
	struct file_handle *fh;
	int dir_fd; /* symlinks: O_PATH on the directory it was found in, else -1 */
	char *name; /* the name it was first looked up by; "/" for the root */
	bool is_symlink;
	uint64_t nlookup; /* the kernel's references; under table_lock */
};

struct dir {
	DIR *dp;
	off_t next; /* offset of the entry the next readdir starts at */
};

static struct node root = {.dir_fd = -1, .name = "/"};
static void *table; /* tsearch tree of struct node by (dev, ino) */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec delay = {.tv_nsec = 1000000};
static bool readdirplus_always;

/* ------------------------------------------------------- round trips */

/* What the requests were, for --stats. */
enum kind {
	K_LOOKUP,
	K_GETATTR,
	K_SETATTR,
	K_READLINK,
	K_OPENDIR,
	K_READDIR,
	K_RELEASEDIR,
	K_STATFS,
	K_GETXATTR,
	K_LISTXATTR,
	K_SETXATTR,
	K_REMOVEXATTR,
	K_MKDIR,
	K_CREATE,
	K_OPEN,
	K_READ,
	K_WRITE,
	K_FLUSH,
	K_FSYNC,
	K_RENAME,
	K_UNLINK,
	K_RMDIR,
	K_LOCK,
	K_MAX,
};
static const char *const kind_names[K_MAX] = {
    "lookup",   "getattr",   "setattr",  "readlink",    "opendir", "readdir", "release", "statfs",
    "getxattr", "listxattr", "setxattr", "removexattr", "mkdir",   "create",  "open",    "read",
    "write",    "flush",     "fsync",    "rename",      "unlink",  "rmdir",   "lock",
};
static atomic_ulong served[K_MAX];

/*
 * The round trip. A request is served at once, on the thread that read it,
 * and its reply waits in a queue until its delay has passed since the
 * request came; one thread writes the replies that are due. A thread then
 * never sleeps through the delay: it reads the next request, and a batch
 * of replies due together costs one wake-up, so the CPU time per request
 * (which on a small machine is shared with the clients: bench/run's shards
 * scenario) stays near what the passthrough itself costs.
 *
 * The slot table of --max-inflight: a request takes a slot before it is
 * served and gives it back once its reply is written. Every reply of a
 * delayed request leaves through io_writev on the thread that served it,
 * which queues it with its slot: no reply path of an op can forget to.
 */
static sem_t slots;
static bool slots_limited;
static atomic_int inflight, inflight_peak;
static __thread bool serving;        /* this thread holds a request (and a slot) */
static __thread uint64_t arrived_ns; /* when it came */

struct reply {
	uint64_t due_ns;
	uint64_t seq; /* replies due at once leave in the order they came */
	int fd;
	size_t len;
	char data[];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	struct reply **heap; /* a min-heap by (due_ns, seq) */
	size_t n, cap;
	uint64_t seq;
} replies = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool reply_before(const struct reply *a, const struct reply *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

/* Under replies.lock. */
static void heap_push(struct reply *r)
{
	size_t i = replies.n++;

	while (i > 0 && reply_before(r, replies.heap[(i - 1) / 2])) {
		replies.heap[i] = replies.heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	replies.heap[i] = r;
}

/* Under replies.lock, with replies.n > 0. */
static struct reply *heap_pop(void)
{
	struct reply *top = replies.heap[0], *last = replies.heap[--replies.n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= replies.n)
			break;
		if (c + 1 < replies.n && reply_before(replies.heap[c + 1], replies.heap[c]))
			c++;
		if (!reply_before(replies.heap[c], last))
			break;
		replies.heap[i] = replies.heap[c];
		i = c;
	}
	if (replies.n)
		replies.heap[i] = last;
	return top;
}

static void release_slot(void)
{
	atomic_fetch_sub(&inflight, 1);
	if (slots_limited)
		sem_post(&slots);
}

/* Writes the replies that are due, as they fall due. */
static void *reply_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&replies.lock);
	for (;;) {
		uint64_t now = mono_ns();
		struct reply *r;

		if (replies.n == 0) {
			pthread_cond_wait(&replies.cond, &replies.lock);
			continue;
		}
		if (replies.heap[0]->due_ns > now) {
			uint64_t due = replies.heap[0]->due_ns;
			struct timespec ts = {(time_t)(due / 1000000000u),
			                      (long)(due % 1000000000u)};

			pthread_cond_timedwait(&replies.cond, &replies.lock, &ts);
			continue;
		}
		r = heap_pop();
		pthread_mutex_unlock(&replies.lock);
		/* an interrupted request's reply fails with ENOENT: nothing waits */
		(void)write(r->fd, r->data, r->len);
		release_slot();
		free(r);
		pthread_mutex_lock(&replies.lock);
	}
	return NULL;
}

static void start_reply_thread(void)
{
	pthread_condattr_t ca;
	pthread_t t;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&replies.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t, NULL, reply_thread, NULL) != 0) {
		fprintf(stderr, "latfs: cannot start the reply thread\n");
		exit(1);
	}
	pthread_detach(t);
}

/* Queues the reply in iov for when its request's delay has passed. Returns
 * its length, or -1 (errno ENOMEM) when it cannot be kept. */
static ssize_t queue_reply(int fd, const struct iovec *iov, int count)
{
	size_t len = 0, off = 0;
	struct reply *r;

	for (int i = 0; i < count; i++)
		len += iov[i].iov_len;
	r = malloc(sizeof(*r) + len);
	if (!r)
		return -1;
	for (int i = 0; i < count; i++) {
		memcpy(r->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	r->fd = fd;
	r->len = len;
	r->due_ns = arrived_ns + (uint64_t)delay.tv_sec * 1000000000u + (uint64_t)delay.tv_nsec;
	pthread_mutex_lock(&replies.lock);
	if (replies.n == replies.cap) {
		size_t cap = replies.cap ? 2 * replies.cap : 256;
		struct reply **h = realloc(replies.heap, cap * sizeof(*h));

		if (!h) {
			pthread_mutex_unlock(&replies.lock);
			free(r);
			return -1;
		}
		replies.heap = h;
		replies.cap = cap;
	}
	r->seq = replies.seq++;
	heap_push(r);
	/* a new earliest reply: the writer may be waiting for a later one */
	if (replies.heap[0] == r)
		pthread_cond_signal(&replies.cond);
	pthread_mutex_unlock(&replies.lock);
	serving = false; /* the slot goes with the reply */
	return (ssize_t)len;
}

static void close_req_fds(void);

/* A request that gets no reply (a forget) gives its slot back here. */
static void end_request(void)
{
	if (!serving)
		return;
	serving = false;
	release_slot();
}

static void begin_request(enum kind k)
{
	int now, peak;

	end_request(); /* a request before that had no reply: not ours to hold */
	close_req_fds();
	if (slots_limited)
		while (sem_wait(&slots) < 0)
			;
	serving = true;
	arrived_ns = mono_ns();
	now = atomic_fetch_add(&inflight, 1) + 1;
	peak = atomic_load(&inflight_peak);
	while (now > peak && !atomic_compare_exchange_weak(&inflight_peak, &peak, now))
		;
	atomic_fetch_add(&served[k], 1);
}

/* ------------------------------------------------------------- faults */

enum {
	OP_READDIR = 1 << 0,
	OP_LOOKUP = 1 << 1,
	OP_GETATTR = 1 << 2,
	OP_CHOWN = 1 << 3,
	OP_CHMOD = 1 << 4,
	OP_GETXATTR = 1 << 5,
	OP_LISTXATTR = 1 << 6,
	OP_SETXATTR = 1 << 7,
	OP_REMOVEXATTR = 1 << 8,
};

static const struct {
	const char *name;
	unsigned ops;
} op_names[] = {
    {"readdir", OP_READDIR},
    {"getdents", OP_READDIR},
    {"lookup", OP_LOOKUP},
    {"getattr", OP_GETATTR},
    {"statx", OP_LOOKUP | OP_GETATTR},
    {"chown", OP_CHOWN},
    {"chmod", OP_CHMOD},
    {"getxattr", OP_GETXATTR},
    {"listxattr", OP_LISTXATTR},
    {"setxattr", OP_SETXATTR},
    {"removexattr", OP_REMOVEXATTR},
    {"xattr", OP_GETXATTR | OP_LISTXATTR | OP_SETXATTR | OP_REMOVEXATTR},
};

/* clang-format off */
#define ERRNO_NAME(e) {#e, e}
/* clang-format on */
static const struct {
	const char *name;
	int err;
} errno_names[] = {
    ERRNO_NAME(EPERM),   ERRNO_NAME(ENOENT),       ERRNO_NAME(EIO),        ERRNO_NAME(ENXIO),
    ERRNO_NAME(E2BIG),   ERRNO_NAME(EBADF),        ERRNO_NAME(EAGAIN),     ERRNO_NAME(ENOMEM),
    ERRNO_NAME(EACCES),  ERRNO_NAME(EFAULT),       ERRNO_NAME(EBUSY),      ERRNO_NAME(EEXIST),
    ERRNO_NAME(EXDEV),   ERRNO_NAME(ENODEV),       ERRNO_NAME(ENOTDIR),    ERRNO_NAME(EISDIR),
    ERRNO_NAME(EINVAL),  ERRNO_NAME(ENFILE),       ERRNO_NAME(EMFILE),     ERRNO_NAME(EFBIG),
    ERRNO_NAME(ENOSPC),  ERRNO_NAME(EROFS),        ERRNO_NAME(EMLINK),     ERRNO_NAME(ERANGE),
    ERRNO_NAME(EDEADLK), ERRNO_NAME(ENAMETOOLONG), ERRNO_NAME(ENOSYS),     ERRNO_NAME(ENOTEMPTY),
    ERRNO_NAME(ELOOP),   ERRNO_NAME(ENODATA),      ERRNO_NAME(EOVERFLOW),  ERRNO_NAME(EOPNOTSUPP),
    ERRNO_NAME(ENOTSUP), ERRNO_NAME(ENOTCONN),     ERRNO_NAME(ECONNRESET), ERRNO_NAME(ETIMEDOUT),
    ERRNO_NAME(ESTALE),  ERRNO_NAME(EDQUOT),       ERRNO_NAME(EREMOTEIO),  ERRNO_NAME(EINTR),
    ERRNO_NAME(ENOLCK),  ERRNO_NAME(ECANCELED),
};

struct rule {
	const char *spec; /* as given, for --stats */
	unsigned ops;
	int err;
	char *name;          /* glob of the entry's name, or NULL */
	char *attr;          /* glob of the xattr's name, or NULL */
	unsigned long every; /* 0: every matching request */
	long count;          /* -1: no limit */
	atomic_ulong calls;  /* matching requests seen */
	atomic_long fired;
};

static struct rule *rules;
static size_t n_rules;

static bool rule_matches(const struct rule *r, unsigned op, const char *name, const char *attr)
{
	if (!(r->ops & op))
		return false;
	if (r->name && fnmatch(r->name, name, FNM_PATHNAME) != 0)
		return false;
	return !r->attr || (attr && fnmatch(r->attr, attr, 0) == 0);
}

/* One more failure of R, unless its count is used up. */
static bool rule_take(struct rule *r)
{
	long f = atomic_load(&r->fired);

	do {
		if (r->count >= 0 && f >= r->count)
			return false;
	} while (!atomic_compare_exchange_weak(&r->fired, &f, f + 1));
	return true;
}

/* The errno the rules answer this request with, or 0 to serve it. NAME is
 * the entry's name, ATTR the xattr's (or NULL). */
static int fault(unsigned op, const char *name, const char *attr)
{
	for (size_t i = 0; i < n_rules; i++) {
		struct rule *r = &rules[i];
		unsigned long call;

		if (!rule_matches(r, op, name, attr))
			continue;
		call = atomic_fetch_add(&r->calls, 1) + 1;
		if (r->every && call % r->every)
			continue;
		if (rule_take(r))
			return r->err;
	}
	return 0;
}

/* Whether some rule could fail this request (nothing is counted). */
static bool may_fault(unsigned op, const char *name)
{
	for (size_t i = 0; i < n_rules; i++)
		if (rule_matches(&rules[i], op, name, NULL))
			return true;
	return false;
}

static void bad_rule(const char *spec, const char *why)
{
	fprintf(stderr, "latfs: --fail '%s': %s\n", spec, why);
	exit(2);
}

static long rule_number(const char *spec, const char *s, long min, const char *why)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min)
		bad_rule(spec, why);
	return v;
}

/* Parses OP[+OP...]:ERRNO[:name=GLOB][:attr=GLOB][:every=N][:count=N]. */
static void add_rule(const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *field, *op, *opsave = NULL;
	struct rule *r, *grown;

	grown = realloc(rules, (n_rules + 1) * sizeof(*rules));
	if (!copy || !grown) {
		fprintf(stderr, "latfs: out of memory\n");
		exit(1);
	}
	rules = grown;
	r = &rules[n_rules++];
	*r = (struct rule){.spec = spec, .count = -1};

	field = strtok_r(copy, ":", &save);
	for (op = strtok_r(field ? field : "", "+", &opsave); op;
	     op = strtok_r(NULL, "+", &opsave)) {
		size_t i;

		for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
			if (!strcmp(op, op_names[i].name))
				break;
		if (i == sizeof(op_names) / sizeof(op_names[0]))
			bad_rule(spec, "unknown operation (readdir, getdents, lookup, getattr, "
			               "statx, chown, chmod, getxattr, listxattr, setxattr, "
			               "removexattr, xattr)");
		r->ops |= op_names[i].ops;
	}
	if (!r->ops)
		bad_rule(spec, "no operation");

	field = strtok_r(NULL, ":", &save);
	if (!field)
		bad_rule(spec, "no errno");
	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (!strcmp(field, errno_names[i].name))
			r->err = errno_names[i].err;
	if (!r->err)
		r->err = (int)rule_number(spec, field, 1,
		                          "unknown errno (a name such as EIO, or 1..4095)");
	if (r->err > 4095)
		bad_rule(spec, "unknown errno (a name such as EIO, or 1..4095)");

	while ((field = strtok_r(NULL, ":", &save))) {
		if (!strncmp(field, "name=", 5) && field[5])
			r->name = field + 5;
		else if (!strncmp(field, "attr=", 5) && field[5])
			r->attr = field + 5;
		else if (!strncmp(field, "every=", 6))
			r->every = (unsigned long)rule_number(spec, field + 6, 1,
			                                      "every= wants a number >= 1");
		else if (!strncmp(field, "count=", 6))
			r->count = rule_number(spec, field + 6, 1, "count= wants a number >= 1");
		else
			bad_rule(spec, "unknown field (name=, attr=, every=, count=)");
	}
	/* copy stays: name and attr point into it */
}

static struct node *node_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &root : (struct node *)(uintptr_t)ino;
}

static int node_cmp(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

/*
 * Pinning every inode the kernel knows by an fd needs a tree's worth of fds,
 * more than a machine's nofile limit allows for a big tree (the full
 * bench's 100k files). Past --max-fds (half the nofile limit), a node keeps
 * a file handle instead (name_to_handle_at), and a request opens it
 * (open_by_handle_at, as root may) for as long as it runs: until its reply
 * is written or queued. A node whose inode was removed meanwhile then gets
 * ESTALE, as on NFS.
 */
static long fd_budget;    /* node fds that may be kept; 0: all */
static int mount_fd = -1; /* the backing directory, opened for reading:
                           * open_by_handle_at takes no O_PATH fd */
static atomic_long node_fds;

/* The fds this thread's request opened from handles. */
static __thread struct {
	const struct node *n;
	int fd;
} req_fds[8];
static __thread unsigned n_req_fds;

static void close_req_fds(void)
{
	while (n_req_fds)
		close(req_fds[--n_req_fds].fd);
}

/* An O_PATH fd on the node's inode for this request, or -1 (errno set). */
static int node_fd(const struct node *n)
{
	int fd;

	if (n->fd >= 0)
		return n->fd;
	for (unsigned i = 0; i < n_req_fds; i++)
		if (req_fds[i].n == n)
			return req_fds[i].fd;
	if (n_req_fds == sizeof(req_fds) / sizeof(req_fds[0])) {
		errno = EMFILE;
		return -1;
	}
	fd = open_by_handle_at(mount_fd, n->fh, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		req_fds[n_req_fds++] = (typeof(req_fds[0])){n, fd};
	return fd;
}

/* Past the fd budget: fd becomes a file handle (closed), when it can. */
static void keep_node_fd(struct node *n, int fd)
{
	struct file_handle probe = {.handle_bytes = 0}, *fh;
	int mount_id;

	n->fd = fd;
	if (!fd_budget || n->is_symlink || atomic_fetch_add(&node_fds, 1) < fd_budget)
		return;
	atomic_fetch_sub(&node_fds, 1);
	if (name_to_handle_at(fd, "", &probe, &mount_id, AT_EMPTY_PATH) == 0 || errno != EOVERFLOW)
		goto keep;
	fh = malloc(sizeof(*fh) + probe.handle_bytes);
	if (!fh)
		goto keep;
	fh->handle_bytes = probe.handle_bytes;
	if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) < 0) {
		free(fh);
		goto keep;
	}
	n->fh = fh;
	n->fd = -1;
	close(fd);
	return;
keep: /* no handles here: the fd it is, over budget */
	atomic_fetch_add(&node_fds, 1);
}

static void drop_node_fd(struct node *n)
{
	if (n->fd >= 0) {
		close(n->fd);
		if (fd_budget && !n->is_symlink)
			atomic_fetch_sub(&node_fds, 1);
	}
	free(n->fh);
}

/* The path that reaches a node's own inode through its O_PATH fd, for the
 * calls that have no fd or AT_EMPTY_PATH form; never used on a symlink.
 * False (errno set) when the node's inode cannot be reached. */
static bool proc_path(const struct node *n, char buf[static 32])
{
	int fd = node_fd(n);

	if (fd < 0)
		return false;
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return true;
}

/* Looks NAME up in PARENT and takes one kernel reference on its node.
 * Returns 0 or an errno. */
static int lookup_ref(struct node *parent, const char *name, struct fuse_entry_param *e)
{
	struct node *n, **slot;
	int fd, err;

	memset(e, 0, sizeof(*e));
	fd = node_fd(parent);
	if (fd >= 0)
		fd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		return ENOMEM;
	}
	n->dev = e->attr.st_dev;
	n->ino = e->attr.st_ino;
	n->dir_fd = -1;
	pthread_mutex_lock(&table_lock);
	slot = tsearch(n, &table, node_cmp);
	if (!slot) {
		pthread_mutex_unlock(&table_lock);
		free(n);
		close(fd);
		return ENOMEM;
	}
	if (*slot != n) { /* known inode: another name or a second lookup */
		free(n);
		close(fd);
		n = *slot;
	} else {
		n->is_symlink = S_ISLNK(e->attr.st_mode);
		keep_node_fd(n, fd);
		n->name = strdup(name);
		if (n->is_symlink)
			n->dir_fd = fcntl(node_fd(parent), F_DUPFD_CLOEXEC, 0);
		if (!n->name || (n->is_symlink && n->dir_fd < 0)) {
			tdelete(n, &table, node_cmp);
			pthread_mutex_unlock(&table_lock);
			if (n->dir_fd >= 0)
				close(n->dir_fd);
			drop_node_fd(n);
			free(n->name);
			free(n);
			return ENOMEM;
		}
	}
	n->nlookup++;
	pthread_mutex_unlock(&table_lock);
	e->ino = (uintptr_t)n;
	e->attr_timeout = CACHE_TIMEOUT;
	e->entry_timeout = CACHE_TIMEOUT;
	return 0;
}

static void unref(fuse_ino_t ino, uint64_t count)
{
	struct node *n = node_of(ino);

	if (n == &root)
		return;
	pthread_mutex_lock(&table_lock);
	n->nlookup -= count;
	if (n->nlookup == 0) {
		tdelete(n, &table, node_cmp);
		drop_node_fd(n);
		if (n->dir_fd >= 0)
			close(n->dir_fd);
		free(n->name);
		free(n);
	}
	pthread_mutex_unlock(&table_lock);
}

/* ------------------------------------------------------------ requests */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* See INIT_FLAGS: libfuse 3.14 wants both but does not say so. */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_HANDLE_KILLPRIV)
		conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
	if (readdirplus_always)
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err;

	begin_request(K_LOOKUP);
	err = fault(OP_LOOKUP, name, NULL);
	if (!err)
		err = lookup_ref(node_of(parent), name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	unref(ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		unref(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void reply_attr(fuse_req_t req, const struct node *n)
{
	struct stat st;

	int fd = node_fd(n);

	if (fd < 0 || fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	int err;

	(void)fi;
	begin_request(K_GETATTR);
	err = fault(OP_GETATTR, n->name, NULL);
	if (err)
		fuse_reply_err(req, err);
	else
		reply_attr(req, n);
}

/* Owner and mode, what a walk changes, and size (a job file's truncate);
 * times are not served. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	char proc[32];
	int err = 0;

	(void)fi;
	begin_request(K_SETATTR);
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (fi ? ftruncate((int)fi->fh, attr->st_size) < 0
		       : !proc_path(n, proc) || truncate(proc, attr->st_size) < 0) {
			fuse_reply_err(req, errno);
			return;
		}
	}
	/* a request that is refused changes nothing, as a whole */
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		err = fault(OP_CHOWN, n->name, NULL);
	if (!err && (to_set & FUSE_SET_ATTR_MODE))
		err = fault(OP_CHMOD, n->name, NULL);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	/* The owner first: a chown clears setuid/setgid, and a mode sent with
	 * it is the mode wanted after it. */
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

		int fd = node_fd(n);

		if (fd < 0 || fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			fuse_reply_err(req, errno);
			return;
		}
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		if (n->is_symlink || !proc_path(n, proc) ||
		    chmod(proc, attr->st_mode & 07777) < 0) {
			fuse_reply_err(req, n->is_symlink ? EOPNOTSUPP : errno);
			return;
		}
	}
	reply_attr(req, n);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t len;

	begin_request(K_READLINK);
	len = readlinkat(node_of(ino)->fd, "", buf, PATH_MAX); /* a symlink keeps its fd */
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir *d;
	int fd;

	begin_request(K_OPENDIR);
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = node_fd(node_of(ino));
	if (fd >= 0)
		fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d->dp = fd < 0 ? NULL : fdopendir(fd);
	if (!d->dp) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static bool is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Fills at most SIZE bytes of entries from OFF on; with PLUS, each entry but
 * . and .. is looked up and carries its attributes and a kernel reference. */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, bool plus)
{
	struct dir *d = (struct dir *)(uintptr_t)fi->fh;
	char *buf, *p;
	size_t left = size;
	int err;

	begin_request(K_READDIR);
	err = fault(OP_READDIR, node_of(ino)->name, NULL);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	buf = p = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->next) {
		seekdir(d->dp, off);
		d->next = off;
	}
	for (;;) {
		struct fuse_entry_param e = {0};
		struct dirent *de;
		size_t len;

		errno = 0;
		de = readdir(d->dp);
		if (!de) {
			err = errno;
			break;
		}
		/* an entry a lookup rule might fail goes without attributes:
		 * the kernel then looks it up, and the rule sees that */
		if (plus && !is_dot(de->d_name) && !may_fault(OP_LOOKUP, de->d_name)) {
			if (lookup_ref(node_of(ino), de->d_name, &e) != 0)
				continue; /* gone since it was listed */
		} else {
			e.attr.st_ino = de->d_ino;
			e.attr.st_mode = DTTOIF(de->d_type);
		}
		if (plus)
			len = fuse_add_direntry_plus(req, p, left, de->d_name, &e, de->d_off);
		else
			len = fuse_add_direntry(req, p, left, de->d_name, &e.attr, de->d_off);
		if (len > left) { /* full: this entry starts the next call */
			if (e.ino)
				unref(e.ino, 1);
			seekdir(d->dp, d->next);
			break;
		}
		p += len;
		left -= len;
		d->next = de->d_off;
	}
	if (err && p == buf)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, (size_t)(p - buf));
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir *d = (struct dir *)(uintptr_t)fi->fh;

	(void)ino;
	begin_request(K_RELEASEDIR);
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	begin_request(K_STATFS);
	int fd = node_fd(node_of(ino));

	if (fd < 0 || fstatvfs(fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/*
 * Where the xattr calls reach a node's own inode without following a
 * symlink: a file or directory through the /proc link of its O_PATH fd,
 * which the plain calls follow to the inode itself; a symlink through the
 * directory it was found in and its name, with the l* calls, which do not
 * follow it.
 */
struct xpath {
	char path[64 + NAME_MAX];
	bool nofollow;
};

/* Starts an xattr request of kind K; false when it was answered already
 * (refused by a rule, or a name too long). */
static bool xattr_begin(fuse_req_t req, fuse_ino_t ino, enum kind k, unsigned op, const char *attr,
                        struct xpath *x)
{
	struct node *n = node_of(ino);
	int err, len, fd;

	begin_request(k);
	err = fault(op, n->name, attr);
	if (err) {
		fuse_reply_err(req, err);
		return false;
	}
	x->nofollow = n->is_symlink;
	fd = n->is_symlink ? n->dir_fd : node_fd(n);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return false;
	}
	len = n->is_symlink ? snprintf(x->path, sizeof(x->path), "/proc/self/fd/%d/%s", fd, n->name)
	                    : snprintf(x->path, sizeof(x->path), "/proc/self/fd/%d", fd);
	if (len < 0 || (size_t)len >= sizeof(x->path)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return false;
	}
	return true;
}

/* listxattr (NAME NULL) and getxattr; SIZE 0 asks for the length only. */
static void read_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct xpath x;
	char *buf = NULL;
	ssize_t len;

	if (!xattr_begin(req, ino, name ? K_GETXATTR : K_LISTXATTR,
	                 name ? OP_GETXATTR : OP_LISTXATTR, name, &x))
		return;
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (name)
		len = x.nofollow ? lgetxattr(x.path, name, buf, size)
		                 : getxattr(x.path, name, buf, size);
	else
		len = x.nofollow ? llistxattr(x.path, buf, size) : listxattr(x.path, buf, size);
	if (len < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, buf, (size_t)len);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	read_xattr(req, ino, NULL, size);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	read_xattr(req, ino, name, size);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
	struct xpath x;
	int r;

	if (!xattr_begin(req, ino, K_SETXATTR, OP_SETXATTR, name, &x))
		return;
	r = x.nofollow ? lsetxattr(x.path, name, value, size, flags)
	               : setxattr(x.path, name, value, size, flags);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct xpath x;
	int r;

	if (!xattr_begin(req, ino, K_REMOVEXATTR, OP_REMOVEXATTR, name, &x))
		return;
	r = x.nofollow ? lremovexattr(x.path, name) : removexattr(x.path, name);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

/* ------------------------------------------------------------- files */

/* Replies to a request that made an entry in PARENT with the entry. */
static void reply_new_entry(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = lookup_ref(node_of(parent), name, &e);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	begin_request(K_MKDIR);
	int fd = node_fd(node_of(parent));

	if (fd < 0 || mkdirat(fd, name, mode) < 0)
		fuse_reply_err(req, errno);
	else
		reply_new_entry(req, parent, name);
}

/* What an open of the kernel asks for, on a backing descriptor of its own:
 * no following, no controlling terminal, closed on exec. */
static int open_flags(int flags)
{
	return (flags & ~(O_NOCTTY | O_CLOEXEC)) | O_NOFOLLOW | O_CLOEXEC;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd, err;

	begin_request(K_CREATE);
	fd = node_fd(node_of(parent));
	if (fd >= 0)
		fd = openat(fd, name, open_flags(fi->flags) | O_CREAT, mode & 07777);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = lookup_ref(node_of(parent), name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) != 0) {
		close(fd); /* the open was interrupted: the kernel never saw it */
		unref(e.ino, 1);
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	char proc[32];
	int fd;

	begin_request(K_OPEN);
	if (n->is_symlink) {
		fuse_reply_err(req, ELOOP);
		return;
	}
	fd = proc_path(n, proc)
	         ? open(proc, open_flags(fi->flags) & ~(O_CREAT | O_EXCL | O_NOFOLLOW))
	         : -1;
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	(void)ino;
	begin_request(K_READ);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pread((int)fi->fh, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	ssize_t n;

	(void)ino;
	begin_request(K_WRITE);
	n = pwrite((int)fi->fh, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

/* A close: NFS writes back and closes in a round trip. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	begin_request(K_FLUSH);
	fuse_reply_err(req, 0);
}

/* The kernel does not wait for a release: not delayed, as forgets. */
static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	close((int)fi->fh); /* and with it this open's OFD locks */
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int r;

	(void)ino;
	begin_request(K_FSYNC);
	r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
	begin_request(K_RENAME);
	int from = node_fd(node_of(parent)), to = from < 0 ? -1 : node_fd(node_of(newparent));

	if (to < 0 || renameat2(from, name, to, newname, flags) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_err(req, 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	begin_request(K_UNLINK);
	int fd = node_fd(node_of(parent));

	fuse_reply_err(req, fd < 0 || unlinkat(fd, name, 0) < 0 ? errno : 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	begin_request(K_RMDIR);
	int fd = node_fd(node_of(parent));

	fuse_reply_err(req, fd < 0 || unlinkat(fd, name, AT_REMOVEDIR) < 0 ? errno : 0);
}

static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	struct flock fl = *lock;

	(void)ino;
	begin_request(K_LOCK);
	fl.l_pid = 0; /* an OFD lock's */
	if (fcntl((int)fi->fh, F_OFD_GETLK, &fl) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lock(req, &fl);
}

/*
 * The round trip, then the lock. A lock that has to wait does so without a
 * slot: on NFS a blocked lock is the server's to wake, not a request of the
 * client's table held open.
 */
static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
                     int sleep)
{
	struct flock fl = *lock;
	int r;

	(void)ino;
	begin_request(K_LOCK);
	fl.l_pid = 0;
	r = fcntl((int)fi->fh, F_OFD_SETLK, &fl);
	if (r < 0 && sleep && (errno == EAGAIN || errno == EACCES)) {
		end_request();
		while ((r = fcntl((int)fi->fh, F_OFD_SETLKW, &fl)) < 0 && errno == EINTR)
			;
	}
	fuse_reply_err(req, r < 0 ? errno : 0);
}

static struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
    .listxattr = op_listxattr,
    .getxattr = op_getxattr,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
    .mkdir = op_mkdir,
    .create = op_create,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .rename = op_rename,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .getlk = op_getlk,
    .setlk = op_setlk,
};

/* ------------------------------------------------------------- plumbing */

/*
 * Two flags libfuse 3.14 never passes to the kernel, whatever init asks for
 * (PARALLEL_DIROPS from 3.16 on, libfuse PR #861):
 * - FUSE_PARALLEL_DIROPS: without it every lookup in a directory waits for
 *   the one before it.
 * - FUSE_HANDLE_KILLPRIV: the backing chown clears setuid, setgid and
 *   security.capability itself; without it the kernel fetches the attributes
 *   again before every chown of a file, a round trip NFS does not make.
 * Custom I/O on our own /dev/fuse fd is the one place libfuse 3.14 lets us
 * see the INIT exchange: the flags the kernel offered are added to the reply
 * to the INIT request.
 */
#define INIT_FLAGS (FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV)
static uint64_t init_unique; /* of the INIT request; INIT comes first, alone */
static uint32_t init_flags;  /* INIT_FLAGS that the kernel offered */

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *in = buf;
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n >= (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in)) && in->opcode == FUSE_INIT) {
		const struct fuse_init_in *arg = (const void *)(in + 1);

		init_unique = in->unique;
		init_flags = arg->flags & INIT_FLAGS;
	}
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	ssize_t n;

	(void)userdata;
	if (init_unique && out->unique == init_unique && out->error == 0 && count >= 2 &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
		((struct fuse_init_out *)iov[1].iov_base)->flags |= init_flags;
		init_unique = 0;
	}
	close_req_fds(); /* the request is done with its inodes */
	if (serving && (n = queue_reply(fd, iov, count)) >= 0)
		return n;
	n = writev(fd, iov, count);
	end_request(); /* the reply is out: the request's slot is free */
	return n;
}

static const struct fuse_custom_io io = {.read = io_read, .writev = io_writev};

/* Mounts MNT by hand (root only), since custom I/O comes with our own fd.
 * Returns the /dev/fuse fd, or -errno. */
static int mount_fuse(const char *mnt)
{
	char opts[128];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(opts, sizeof(opts),
	         "fd=%d,rootmode=%o,user_id=%u,group_id=%u,default_permissions,allow_other", fd,
	         S_IFDIR, getuid(), getgid());
	if (mount("latfs", mnt, "fuse.latfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* A signal stops serving and takes the mount away; an unmount ends the loop
 * by itself, and then the mount point may already hold the next instance. */
static struct fuse_session *session;
static volatile sig_atomic_t stopped;

static void on_signal(int sig)
{
	(void)sig;
	stopped = 1;
	fuse_session_exit(session);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: latfs [--delay-us N] [--threads N] [--max-inflight N] [--max-fds N]\n"
	           "             [--xattrs | --no-xattrs] [--readdirplus] [--fail RULE]...\n"
	           "             [--stats] [--foreground] [--debug] BACKING MOUNTPOINT\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "A FUSE passthrough of BACKING on MOUNTPOINT (metadata only) that answers\n"
	       "every request after a fixed delay, and fails chosen requests on demand.\n"
	       "\n"
	       "  --delay-us N      delay of every request, in microseconds (1000)\n"
	       "  --threads N       requests served at once, at most (128)\n"
	       "  --max-inflight N  requests of this mount in flight (delay included) at\n"
	       "                    once, at most; the rest queue (no limit)\n"
	       "  --max-fds N       inodes kept open, at most; the others by file handle\n"
	       "                    (half the nofile limit)\n"
	       "  --xattrs          pass xattr calls through to the backing inode (default)\n"
	       "  --no-xattrs       answer ENOSYS to them: the kernel then answers EOPNOTSUPP\n"
	       "  --readdirplus     answer every readdir with the entries' attributes\n"
	       "  --fail RULE       fail the requests RULE matches (repeatable; first wins)\n"
	       "  --stats           on exit, print requests served, peak in flight, faults\n"
	       "  --foreground      do not daemonize; --debug: and log every request\n"
	       "\n"
	       "RULE: OP[+OP...]:ERRNO[:name=GLOB][:attr=GLOB][:every=N][:count=N]\n"
	       "  OP      readdir (getdents), lookup, getattr, statx (lookup+getattr),\n"
	       "          chown, chmod, getxattr, listxattr, setxattr, removexattr,\n"
	       "          xattr (all four xattr calls)\n"
	       "  ERRNO   EIO, EACCES, ENOSPC, ESTALE, EPERM, ... or a number\n"
	       "  name=   only on entries whose final component matches GLOB (readdir:\n"
	       "          the directory's name; the root is named /)\n"
	       "  attr=   xattr calls only: only on attributes whose name matches GLOB\n"
	       "  every=  only every N-th matching request\n"
	       "  count=  at most N failures\n"
	       "e.g. --fail chown:EIO:name=f7  --fail statx:ESTALE:every=100\n");
}

static void print_stats(void)
{
	unsigned long total = 0;

	for (int k = 0; k < K_MAX; k++)
		total += atomic_load(&served[k]);
	fprintf(stderr, "latfs: %lu requests served, at most %d in flight:", total,
	        atomic_load(&inflight_peak));
	for (int k = 0; k < K_MAX; k++)
		if (atomic_load(&served[k]))
			fprintf(stderr, " %s %lu", kind_names[k], atomic_load(&served[k]));
	fputc('\n', stderr);
	for (size_t i = 0; i < n_rules; i++)
		fprintf(stderr, "latfs: --fail %s: %lu matching, %ld failed\n", rules[i].spec,
		        atomic_load(&rules[i].calls), atomic_load(&rules[i].fired));
}

static long number(const char *s, const char *what, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min) {
		fprintf(stderr, "latfs: %s wants a number >= %ld, not '%s'\n", what, min, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"delay-us", required_argument, NULL, 'D'},
	    {"threads", required_argument, NULL, 't'},
	    {"max-inflight", required_argument, NULL, 'M'},
	    {"max-fds", required_argument, NULL, 'N'},
	    {"xattrs", no_argument, NULL, 'x'},
	    {"no-xattrs", no_argument, NULL, 'X'},
	    {"readdirplus", no_argument, NULL, 'P'},
	    {"fail", required_argument, NULL, 'F'},
	    {"stats", no_argument, NULL, 'S'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool foreground = false, stats = false, xattrs = true;
	long max_inflight = 0;
	unsigned threads = 128;
	char *fargv[] = {argv[0], "-d", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
	struct sigaction sa = {.sa_handler = on_signal};
	struct fuse_loop_config *cfg;
	char *mnt;
	struct rlimit rl;
	long us;
	int c, fd, rc;

	while ((c = getopt_long(argc, argv, "fdh", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			us = number(optarg, "--delay-us", 0);
			delay = (struct timespec){.tv_sec = us / 1000000,
			                          .tv_nsec = us % 1000000 * 1000};
			break;
		case 't':
			threads = (unsigned)number(optarg, "--threads", 1);
			break;
		case 'M':
			max_inflight = number(optarg, "--max-inflight", 1);
			break;
		case 'N':
			fd_budget = number(optarg, "--max-fds", 1);
			break;
		case 'x':
			xattrs = true;
			break;
		case 'X':
			xattrs = false;
			break;
		case 'F':
			add_rule(optarg);
			break;
		case 'S':
			stats = true;
			break;
		case 'P':
			ops.readdirplus = op_readdirplus;
			readdirplus_always = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'd':
			foreground = true;
			args.argc = 2;
			break;
		case 'h':
			help();
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	if (!xattrs) {
		ops.listxattr = NULL, ops.getxattr = NULL;
		ops.setxattr = NULL, ops.removexattr = NULL;
	}
	if (max_inflight) {
		slots_limited = true;
		sem_init(&slots, 0,
		         max_inflight > SEM_VALUE_MAX ? SEM_VALUE_MAX : (unsigned)max_inflight);
	}
	mnt = realpath(argv[optind + 1], NULL); /* fuse_daemonize() goes to / */
	if (!mnt) {
		fprintf(stderr, "latfs: cannot use '%s': %s\n", argv[optind + 1], strerror(errno));
		return 1;
	}

	/* One fd per inode the kernel holds, up to half the limit; file
	 * handles past that */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!fd_budget && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fd_budget = (long)(rl.rlim_cur / 2) > 1 ? (long)(rl.rlim_cur / 2) : 1;
	mount_fd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		fd_budget = 0; /* no handles to open: an fd per inode */
	root.fd = open(argv[optind], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root.fd < 0) {
		fprintf(stderr, "latfs: cannot open '%s': %s\n", argv[optind], strerror(errno));
		return 1;
	}
	session = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	fuse_opt_free_args(&args);
	if (!session)
		return 1;
	fd = mount_fuse(mnt);
	if (fd < 0) {
		fprintf(stderr, "latfs: cannot mount on '%s': %s\n", mnt, strerror(-fd));
		return 1;
	}
	if (fuse_session_custom_io(session, &io, fd) != 0) {
		umount2(mnt, MNT_DETACH);
		return 1;
	}
	/* The parent exits once the child runs: mounted, and ready to serve. */
	if (fuse_daemonize(foreground) != 0) {
		umount2(mnt, MNT_DETACH);
		return 1;
	}
	start_reply_thread(); /* after the fork of fuse_daemonize */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return 1;
	fuse_loop_cfg_set_max_threads(cfg, threads);
	fuse_loop_cfg_set_idle_threads(cfg, threads); /* no thread churn between bursts */
	rc = fuse_session_loop_mt(session, cfg);
	fuse_loop_cfg_destroy(cfg);
	if (stopped)
		umount2(mnt, MNT_DETACH);
	if (stats)
		print_stats();
	fuse_session_destroy(session);
	free(mnt);
	return rc == 0 ? 0 : 1;
}
