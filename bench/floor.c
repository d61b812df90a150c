/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor: the syscall floor of an ownership walk, to show how close volshift
 * gets to the limit of this machine.
 *
 *   floor shift DIR --map FROM:TO:LEN [--threads N] [--no-xattrs]
 *   floor fsgroup DIR --gid G [--read-only] [--threads N] [--no-xattrs]
 *
 * Per entry: getdents64, statx, fchownat when an ID changes (and fchmodat
 * where a mode must change or chown dropped setuid/setgid). With xattrs (the
 * default, as volshift's default) shift also maps the ACL qualifiers and both
 * modes keep security.capability across the chown, so the end state is
 * volshift's and the times compare; one listxattrat tells which are there.
 *
 * No bookkeeping beyond that: a shared stack of work under one mutex; a work
 * item is a directory to read, or one getdents64 buffer of a big directory
 * handed to an idle thread. The root is done last.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif

#define BUFSZ (32 * 1024)

struct xattr_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static ssize_t getxattrat(int dfd, const char *path, unsigned fl, const char *name, void *v,
                          size_t size)
{
	struct xattr_args a = {.value = (uintptr_t)v, .size = (uint32_t)size};
	return syscall(__NR_getxattrat, dfd, path, fl, name, &a, sizeof(a));
}

static int setxattrat(int dfd, const char *path, unsigned fl, const char *name, const void *v,
                      size_t size)
{
	struct xattr_args a = {.value = (uintptr_t)v, .size = (uint32_t)size};
	return (int)syscall(__NR_setxattrat, dfd, path, fl, name, &a, sizeof(a));
}

static ssize_t listxattrat(int dfd, const char *path, unsigned fl, char *list, size_t size)
{
	return syscall(__NR_listxattrat, dfd, path, fl, list, size);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* ------------------------------------------------------------ the job */

static struct {
	bool shift;
	uint32_t from, to, len; /* shift */
	uint32_t gid;           /* fsgroup */
	bool read_only;
	bool xattrs;
	unsigned threads;
} J = {.xattrs = true, .threads = 2};

static atomic_ullong n_entries, n_changed, n_failed;

static bool map_id(uint32_t id, uint32_t *ret)
{
	if (id >= J.from && id - J.from < J.len) {
		*ret = J.to + (id - J.from);
		return true;
	}
	return false;
}

#define ACL_USER  0x02
#define ACL_GROUP 0x08

/* Maps the qualifiers of one ACL xattr in place; true when any changed. */
static bool map_acl(unsigned char *v, ssize_t n)
{
	bool changed = false;
	for (ssize_t off = 4; off + 8 <= n; off += 8) {
		uint16_t tag;
		uint32_t id, nid;
		memcpy(&tag, v + off, 2);
		memcpy(&id, v + off + 4, 4);
		if ((tag == ACL_USER || tag == ACL_GROUP) && map_id(id, &nid)) {
			memcpy(v + off + 4, &nid, 4);
			changed = true;
		}
	}
	return changed;
}

static void shift_acl(int dfd, const char *name, unsigned fl, const char *xname)
{
	unsigned char v[4096];
	ssize_t n = getxattrat(dfd, name, fl, xname, v, sizeof(v));
	if (n < 0) {
		if (errno != ENODATA && errno != EOPNOTSUPP)
			n_failed++;
		return;
	}
	if (map_acl(v, n) && setxattrat(dfd, name, fl, xname, v, (size_t)n) < 0)
		n_failed++;
}

/* security.capability for the write-back: v2 becomes v3 with rootid = map(0). */
static ssize_t cap_for_shift(unsigned char *v, ssize_t n)
{
	uint32_t magic, rootid;
	memcpy(&magic, v, 4);
	if ((magic & 0xff000000u) == 0x02000000u && n == 20) {
		if (!map_id(0, &rootid))
			return n;
		magic = (magic & ~0xff000000u) | 0x03000000u;
		memcpy(v, &magic, 4);
		memcpy(v + 20, &rootid, 4);
		return 24;
	}
	if ((magic & 0xff000000u) == 0x03000000u && n == 24) {
		memcpy(&rootid, v + 20, 4);
		if (map_id(rootid, &rootid))
			memcpy(v + 20, &rootid, 4);
	}
	return n;
}

/* One entry: (dfd, name), or the directory dfd itself when name is "". */
static void do_entry(int dfd, const char *name)
{
	unsigned fl = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
	struct statx stx;
	n_entries++;
	if (statx(dfd, name, fl, STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID, &stx) < 0) {
		if (errno != ENOENT)
			n_failed++;
		return;
	}
	mode_t type = stx.stx_mode & S_IFMT, mode = stx.stx_mode & 07777;
	bool lnk = type == S_IFLNK, reg = type == S_IFREG, dir = type == S_IFDIR;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	mode_t want = mode;
	if (J.shift) {
		uint32_t v;
		if (map_id(stx.stx_uid, &v))
			uid = v;
		if (map_id(stx.stx_gid, &v))
			gid = v;
	} else {
		if (stx.stx_gid != J.gid)
			gid = J.gid;
		if (!lnk) {
			want |= J.read_only ? 0440 : 0660;
			if (dir)
				want |= S_ISGID | 0110;
		}
	}
	bool chown = uid != (uid_t)-1 || gid != (gid_t)-1;

	/* Which xattrs are there: one call instead of one per name. */
	bool has_cap = false, has_acl = false, has_dacl = false;
	if (J.xattrs && !lnk && (J.shift || (chown && reg))) {
		char list[1024];
		ssize_t n = listxattrat(dfd, name, fl, list, sizeof(list));
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1) {
			has_cap |= !strcmp(list + off, "security.capability");
			has_acl |= !strcmp(list + off, "system.posix_acl_access");
			has_dacl |= !strcmp(list + off, "system.posix_acl_default");
		}
	}
	if (has_acl)
		shift_acl(dfd, name, fl, "system.posix_acl_access");
	if (has_dacl)
		shift_acl(dfd, name, fl, "system.posix_acl_default");
	if (!chown && want == mode)
		return;

	unsigned char cap[32];
	ssize_t caplen = -1;
	if (has_cap && chown && reg)
		caplen = getxattrat(dfd, name, fl, "security.capability", cap, 24);
	if (chown && fchownat(dfd, name, uid, gid, fl) < 0) {
		n_failed++;
		return;
	}
	/* chown clears setuid/setgid on non-directories: put them back */
	if (want != mode || (chown && !lnk && !dir && (mode & (S_ISUID | S_ISGID)))) {
		int r = *name ? fchmodat(dfd, name, want, 0) : fchmod(dfd, want);
		if (r < 0)
			n_failed++;
	}
	if (caplen > 0) {
		if (J.shift)
			caplen = cap_for_shift(cap, caplen);
		if (setxattrat(dfd, name, fl, "security.capability", cap, (size_t)caplen) < 0)
			n_failed++;
	}
	n_changed++;
}

/* ----------------------------------------------------------- the work */

struct dirref {
	int fd;
	atomic_int refs;
};

struct item {
	struct dirref *dir;
	char *buf; /* NULL: read the directory; else getdents64 records */
	size_t len;
	struct item *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *top;
	unsigned busy, waiting;
} W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0};

static void push(struct dirref *d, char *buf, size_t len)
{
	struct item *it = malloc(sizeof(*it));
	if (!it) {
		perror("floor: malloc");
		exit(1);
	}
	atomic_fetch_add(&d->refs, 1);
	*it = (struct item){.dir = d, .buf = buf, .len = len};
	pthread_mutex_lock(&W.lock);
	it->next = W.top;
	W.top = it;
	if (W.waiting)
		pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
}

static void unref(struct dirref *d)
{
	if (atomic_fetch_sub(&d->refs, 1) == 1) {
		close(d->fd);
		free(d);
	}
}

static void do_buf(struct dirref *d, const char *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		const struct linux_dirent64 *e = (const void *)(buf + off);
		off += e->d_reclen;
		const char *n = e->d_name;
		if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
			continue;
		do_entry(d->fd, n);
		if (e->d_type == DT_DIR) {
			int fd = openat(d->fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				if (errno != ENOENT)
					n_failed++;
				continue;
			}
			struct dirref *sub = malloc(sizeof(*sub));
			if (!sub) {
				perror("floor: malloc");
				exit(1);
			}
			sub->fd = fd;
			atomic_init(&sub->refs, 1);
			push(sub, NULL, 0);
			unref(sub);
		}
	}
}

static void do_dir(struct dirref *d)
{
	char buf[BUFSZ];
	for (;;) {
		long n = syscall(SYS_getdents64, d->fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0)
				n_failed++;
			return;
		}
		/* Another thread idles: give it this buffer. Unlocked read: a
		 * stale value only costs one handoff more or less. */
		if (__atomic_load_n(&W.waiting, __ATOMIC_RELAXED)) {
			char *copy = malloc((size_t)n);
			if (copy) {
				memcpy(copy, buf, (size_t)n);
				push(d, copy, (size_t)n);
				continue;
			}
		}
		do_buf(d, buf, (size_t)n);
	}
}

static void *worker(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&W.lock);
	for (;;) {
		while (!W.top && W.busy) {
			W.waiting++;
			pthread_cond_wait(&W.cond, &W.lock);
			W.waiting--;
		}
		if (!W.top)
			break;
		struct item *it = W.top;
		W.top = it->next;
		W.busy++;
		pthread_mutex_unlock(&W.lock);
		if (it->buf)
			do_buf(it->dir, it->buf, it->len);
		else
			do_dir(it->dir);
		unref(it->dir);
		free(it->buf);
		free(it);
		pthread_mutex_lock(&W.lock);
		W.busy--;
	}
	pthread_cond_broadcast(&W.cond);
	pthread_mutex_unlock(&W.lock);
	return NULL;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr,
	        "usage: floor shift DIR --map FROM:TO:LEN [--threads N] [--no-xattrs]\n"
	        "       floor fsgroup DIR --gid G [--read-only] [--threads N] [--no-xattrs]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"map", required_argument, NULL, 'm'},
	                                         {"gid", required_argument, NULL, 'g'},
	                                         {"read-only", no_argument, NULL, 'r'},
	                                         {"threads", required_argument, NULL, 't'},
	                                         {"no-xattrs", no_argument, NULL, 'x'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {0}};
	bool have_map = false, have_gid = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char tail;
		switch (opt) {
		case 'm':
			if (sscanf(optarg, "%u:%u:%u%c", &J.from, &J.to, &J.len, &tail) != 3 ||
			    !J.len)
				usage();
			have_map = true;
			break;
		case 'g':
			if (sscanf(optarg, "%u%c", &J.gid, &tail) != 1)
				usage();
			have_gid = true;
			break;
		case 'r':
			J.read_only = true;
			break;
		case 't':
			J.threads = (unsigned)atoi(optarg);
			if (J.threads < 1 || J.threads > 64)
				usage();
			break;
		case 'x':
			J.xattrs = false;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	J.shift = !strcmp(argv[optind], "shift");
	if (J.shift ? !have_map : (strcmp(argv[optind], "fsgroup") || !have_gid))
		usage();
	const char *path = argv[optind + 1];

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		fprintf(stderr, "floor: %s: %m\n", path);
		return 2;
	}
	struct dirref *d = malloc(sizeof(*d));
	if (!d)
		return 1;
	d->fd = dup(root);
	atomic_init(&d->refs, 1);
	push(d, NULL, 0);
	unref(d);

	pthread_t t[64];
	for (unsigned i = 0; i < J.threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (unsigned i = 0; i < J.threads; i++)
		pthread_join(t[i], NULL);
	do_entry(root, "");
	close(root);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("floor: %s %s: %llu entries, %llu changed, %llu failed, %.3f s\n", argv[optind],
	       path, (unsigned long long)n_entries, (unsigned long long)n_changed,
	       (unsigned long long)n_failed,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return n_failed ? 1 : 0;
}
