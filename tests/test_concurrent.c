/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: volshift while another thread keeps changing the tree. A
 * writer creates, deletes and renames files, directories and symlinks (some
 * pointing outside), renames original files and makes hard links to setuid
 * and capability files, for as long as a run lasts; several rounds per mode.
 *
 * What can be asserted exactly: every name in the tree carries the inode it
 * was born with in its first component (f00097, wf123, wd45, s00012, ...:
 * renames and links keep it, "f00097.r812"), and the owner, mode and
 * capability each inode was born with follow from that name. So the state
 * every entry must end in after a run of mode M is a function of its name,
 * whatever the writer did to the layout; no second tree is needed. The
 * writer makes entries in a staging directory next to the tree and renames
 * them in whole, so volshift never sees one half-made.
 *
 * Per round: the run exits 0 or 1, and every failure is a name that
 * vanished (ENOENT), no more of them than the writer made vanish; every
 * entry that existed through the whole run under its first name ends right;
 * nothing outside the tree changes; the writer made at least MIN_RACE
 * changes while the run ran. Then, the writer stopped, a re-run (with
 * on-root-mismatch after a failed run: it must not skip) exits 0, counts
 * every entry of the tree, and leaves every one of them as its name says.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "testutil.h"
#include "tree.h"
#include "xattr_util.h"

#define N_DIRS    100
#define N_FILES   1000 /* tree_make_wide: 100,101 entries */
#define ROUNDS    3
#define MIN_RACE  100 /* writer changes while a run runs, at least */
#define MAP       "0:524288:65536"
#define SHIFT_TO  524288u
#define CAP_BIT   (1u << 10) /* cap_net_bind_service */
#define OPS_LIMIT 2000000    /* the writer's bound, whatever happens */

static char *top, *root, *outside, *stage;
static bool on_tmpfs;

/* A 100k-entry tree per test: on a tmpfs of its own (in a private mount
 * namespace) it costs no disk and vanishes with the unmount. */
static void setup(void)
{
	if (!tu_is_root())
		return;
	umask(022);
	top = tu_mkdtemp("concurrent");
	on_tmpfs = tu_private_mounts() && mount("tmpfs", top, "tmpfs", 0, "mode=0755") == 0;
	root = strdup(tu_path(top, "vol"));
	outside = strdup(tu_path(top, "outside"));
	stage = strdup(tu_path(top, "stage"));
	tu_mkdir(root, 0, 0, 0755);
	tu_mkdir(outside, 0, 0, 0755);
	tu_mkdir(tu_path(outside, "sub"), 1000, 1000, 0750);
	tu_mkfile(tu_path(outside, "secret"), 0, 0, 0600);
	tu_mkfile(tu_path(outside, "sub/inner"), 1000, 1000, 04755);
	tu_mkdir(stage, 0, 0, 0700);
}

static void teardown(void)
{
	if (top && on_tmpfs)
		umount2(top, MNT_DETACH);
	if (top)
		tu_rm_rf(top);
	top = NULL;
}

TestSuite(concurrent, .init = setup, .fini = teardown, .timeout = 300);

/* criterion runs no .fini after a skip: clean up first (errno kept for
 * the reason) */
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		int saved_errno_ = errno;                                                          \
		teardown();                                                                        \
		errno = saved_errno_;                                                              \
		cr_skip_test(__VA_ARGS__);                                                         \
	} while (0)

/* ------------------------------------------------------------ the oracle */

/* What an inode was born with. */
struct birth {
	uint32_t uid, gid, mode; /* mode with the type bits */
	bool cap;                /* a v2 cap_net_bind_service+ep */
};

static uint32_t writer_id(unsigned seq, unsigned shift)
{
	return ((seq / shift) % 3) * 1000;
}

/* The birth of the inode named name (a last path component); false when the
 * name is none of ours. */
static bool birth_of(const char *name, struct birth *b)
{
	static const uint32_t wf_modes[] = {0644, 0600, 0755, 0400, 04755, 02750};
	static const uint32_t wd_modes[] = {0755, 0700, 0750};
	char tok[64], tail;
	unsigned n;

	snprintf(tok, sizeof(tok), "%.*s", (int)strcspn(name, "."), name);
	*b = (struct birth){0};
	if (sscanf(tok, "d%u%c", &n, &tail) == 1 || sscanf(tok, "a%u%c", &n, &tail) == 1) {
		b->mode = S_IFDIR | 0755;
	} else if (sscanf(tok, "f%u%c", &n, &tail) == 1) {
		/* tree_make_wide, plus a capability on every 101st */
		b->uid = b->gid = (n % 3) * 1000;
		b->mode = S_IFREG | (n % 97 == 0 ? 04755 : n % 89 == 0 ? 02750 : 0644);
		b->cap = n % 101 == 0;
	} else if (sscanf(tok, "wf%u%c", &n, &tail) == 1) {
		b->uid = writer_id(n, 1);
		b->gid = writer_id(n, 3);
		b->mode = S_IFREG | wf_modes[n % 6];
	} else if (sscanf(tok, "wd%u%c", &n, &tail) == 1) {
		b->uid = writer_id(n, 1);
		b->gid = writer_id(n, 3);
		b->mode = S_IFDIR | wd_modes[n % 3];
	} else if (sscanf(tok, "wl%u%c", &n, &tail) == 1) {
		b->uid = writer_id(n, 1);
		b->gid = writer_id(n, 3);
		b->mode = S_IFLNK | 0777;
	} else if (sscanf(tok, "s%u%c", &n, &tail) == 1) {
		b->uid = b->gid = 1000;
		b->mode = S_IFREG | 04755;
	} else if (sscanf(tok, "c%u%c", &n, &tail) == 1) {
		b->mode = S_IFREG | 0755;
		b->cap = true;
	} else {
		return false;
	}
	return true;
}

enum mode { FSGROUP, SHIFT };

/* What a finished run leaves: shift forward, shift --reverse (the birth
 * state: every ID was in the map), or fsgroup with gid. */
struct target {
	enum mode mode;
	bool reverse;
	uint32_t gid;
};

static void expected(const struct birth *b, const struct target *t, struct stat *want)
{
	want->st_uid = b->uid;
	want->st_gid = b->gid;
	want->st_mode = b->mode;
	if (t->mode == SHIFT && !t->reverse) {
		want->st_uid += SHIFT_TO;
		want->st_gid += SHIFT_TO;
	} else if (t->mode == FSGROUP) {
		want->st_gid = t->gid;
		if (S_ISDIR(b->mode))
			want->st_mode |= 02770 | 0110;
		else if (!S_ISLNK(b->mode))
			want->st_mode |= 0660;
	}
}

static void cap_bytes(const struct target *t, uint8_t *buf, size_t *len)
{
	if (t->mode == SHIFT && !t->reverse) {
		xu_cap_v3(buf, true, CAP_BIT, 0, SHIFT_TO);
		*len = 24;
	} else {
		xu_cap_v2(buf, true, CAP_BIT, 0);
		*len = 20;
	}
}

/* 0 when the entry at path (named name) is as t leaves it, else 1 (printed). */
static unsigned check_one(const char *path, const char *name, bool is_root, const struct stat *st,
                          const struct target *t)
{
	struct birth b = {.mode = S_IFDIR | 0755};
	struct stat want;

	if (!is_root && !birth_of(name, &b)) {
		fprintf(stderr, "  %s: not a name the test made\n", path);
		return 1;
	}
	expected(&b, t, &want);
	if (st->st_uid != want.st_uid || st->st_gid != want.st_gid || st->st_mode != want.st_mode) {
		fprintf(stderr, "  %s: %u:%u %o, want %u:%u %o\n", path, st->st_uid, st->st_gid,
		        st->st_mode, want.st_uid, want.st_gid, want.st_mode);
		return 1;
	}
	if (b.cap) {
		uint8_t got[64], w[24];
		size_t wlen;
		ssize_t n = lgetxattr(path, "security.capability", got, sizeof(got));

		cap_bytes(t, w, &wlen);
		if (n != (ssize_t)wlen || memcmp(got, w, wlen)) {
			fprintf(stderr, "  %s: capability %zd bytes, not the %zu expected\n", path,
			        n, wlen);
			return 1;
		}
	}
	return 0;
}

static struct {
	const struct target *t;
	unsigned bad, entries;
} walk_check;

static int check_fn(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	walk_check.entries++;
	if (walk_check.bad < 10)
		walk_check.bad +=
		    check_one(path, path + ftw->base, ftw->level == 0, st, walk_check.t);
	return 0;
}

/* Every entry of the tree as t leaves it; returns the number that are not
 * (counting stops at 10) and the number of entries. */
static unsigned check_tree(const struct target *t, unsigned *ret_entries)
{
	walk_check.t = t;
	walk_check.bad = walk_check.entries = 0;
	cr_assert_eq(nftw(root, check_fn, 64, FTW_PHYS), 0);
	*ret_entries = walk_check.entries;
	return walk_check.bad;
}

/* ------------------------------------------------------------ the writer */

struct wdir {
	char path[64]; /* relative to root */
	unsigned f[3]; /* its files wf<f[i]> */
};

struct writer {
	int rootfd, stagefd;
	bool links_only; /* only hard links to setuid / capability files */
	unsigned link_dirs, link_files;
	pthread_t thread;
	atomic_bool stop;
	atomic_ulong ops;      /* changes made */
	atomic_ulong vanished; /* names made to vanish (a bound on failures) */
	atomic_ulong errors;   /* the writer's own calls that failed: none */
	uint64_t rng;
	unsigned seq;
	char **files; /* names the writer may unlink or rename */
	size_t n_files, cap_files;
	struct wdir *dirs;
	size_t n_dirs, cap_dirs;
	uint8_t moved[N_DIRS * N_FILES];  /* originals renamed away */
	uint8_t linked[N_DIRS * N_FILES]; /* originals given another name */
};

static unsigned rnd(struct writer *w, unsigned n)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (unsigned)((z ^ (z >> 31)) % n);
}

static void werr(struct writer *w, const char *what, const char *name)
{
	if (atomic_fetch_add(&w->errors, 1) < 5)
		fprintf(stderr, "writer: %s %s: %s\n", what, name, strerror(errno));
}

static void add_file(struct writer *w, const char *path)
{
	if (w->n_files == w->cap_files) {
		w->cap_files = w->cap_files ? 2 * w->cap_files : 1024;
		w->files = realloc(w->files, w->cap_files * sizeof(*w->files));
		cr_assert(w->files);
	}
	w->files[w->n_files++] = strdup(path);
}

static char *take_file(struct writer *w, size_t i)
{
	char *p = w->files[i];

	w->files[i] = w->files[--w->n_files];
	return p;
}

/* "dNNNN/" of a random original directory */
static void rand_dir(struct writer *w, char *buf, size_t size)
{
	snprintf(buf, size, "d%04u", rnd(w, N_DIRS));
}

/* A file with its birth owner and mode, at path in the staging dir. */
static bool stage_file(struct writer *w, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct birth b;
	int fd;

	birth_of(base, &b);
	fd = openat(w->stagefd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, b.uid, b.gid) < 0 || fchmod(fd, b.mode & 07777) < 0) {
		werr(w, "create", path);
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* renameat from the staging dir into the tree. */
static bool move_in(struct writer *w, const char *sname, const char *dst)
{
	if (renameat(w->stagefd, sname, w->rootfd, dst) < 0) {
		werr(w, "rename in", dst);
		return false;
	}
	return true;
}

/* The token of a name (up to the first '.'), renamed with a fresh suffix. */
static void renamed(const char *dir, const char *old, unsigned seq, char *buf, size_t size)
{
	const char *base = strrchr(old, '/') ? strrchr(old, '/') + 1 : old;

	snprintf(buf, size, "%s/%.*s.r%u", dir, (int)strcspn(base, "."), base, seq);
}

static void op_create_file(struct writer *w)
{
	char sname[32], dst[96], d[16];
	unsigned seq = w->seq++;

	snprintf(sname, sizeof(sname), "wf%u", seq);
	rand_dir(w, d, sizeof(d));
	snprintf(dst, sizeof(dst), "%s/%s", d, sname);
	if (stage_file(w, sname) && move_in(w, sname, dst))
		add_file(w, dst);
}

static void op_unlink(struct writer *w)
{
	char *p;

	if (!w->n_files)
		return;
	p = take_file(w, rnd(w, (unsigned)w->n_files));
	if (unlinkat(w->rootfd, p, 0) < 0)
		werr(w, "unlink", p);
	atomic_fetch_add(&w->vanished, 1);
	free(p);
}

static void op_rename_file(struct writer *w)
{
	char dst[128], d[16], *p;

	if (!w->n_files)
		return;
	p = take_file(w, rnd(w, (unsigned)w->n_files));
	rand_dir(w, d, sizeof(d));
	renamed(d, p, w->seq++, dst, sizeof(dst));
	if (renameat(w->rootfd, p, w->rootfd, dst) < 0)
		werr(w, "rename", p);
	atomic_fetch_add(&w->vanished, 1);
	add_file(w, dst);
	free(p);
}

static void op_rename_original(struct writer *w)
{
	unsigned dn = rnd(w, N_DIRS), fn = rnd(w, N_FILES);
	char src[32], dst[96], d[16];

	if (w->moved[dn * N_FILES + fn])
		return;
	w->moved[dn * N_FILES + fn] = 1;
	snprintf(src, sizeof(src), "d%04u/f%05u", dn, fn);
	rand_dir(w, d, sizeof(d));
	renamed(d, src, w->seq++, dst, sizeof(dst));
	if (renameat(w->rootfd, src, w->rootfd, dst) < 0)
		werr(w, "rename", src);
	atomic_fetch_add(&w->vanished, 1);
	add_file(w, dst);
}

static void op_make_dir(struct writer *w)
{
	struct wdir wd;
	struct birth b;
	char sname[32], d[16];
	unsigned seq = w->seq++;

	snprintf(sname, sizeof(sname), "wd%u", seq);
	if (mkdirat(w->stagefd, sname, 0700) < 0) {
		werr(w, "mkdir", sname);
		return;
	}
	for (int i = 0; i < 3; i++) {
		char fname[64];

		wd.f[i] = w->seq++;
		snprintf(fname, sizeof(fname), "%s/wf%u", sname, wd.f[i]);
		if (!stage_file(w, fname))
			return;
	}
	birth_of(sname, &b);
	if (fchownat(w->stagefd, sname, b.uid, b.gid, 0) < 0 ||
	    fchmodat(w->stagefd, sname, b.mode & 07777, 0) < 0) {
		werr(w, "chown", sname);
		return;
	}
	rand_dir(w, d, sizeof(d));
	snprintf(wd.path, sizeof(wd.path), "%s/%s", d, sname);
	if (!move_in(w, sname, wd.path))
		return;
	if (w->n_dirs == w->cap_dirs) {
		w->cap_dirs = w->cap_dirs ? 2 * w->cap_dirs : 256;
		w->dirs = realloc(w->dirs, w->cap_dirs * sizeof(*w->dirs));
		cr_assert(w->dirs);
	}
	w->dirs[w->n_dirs++] = wd;
}

static void op_rename_dir(struct writer *w)
{
	struct wdir *wd;
	char dst[64], d[16];

	if (!w->n_dirs)
		return;
	wd = &w->dirs[rnd(w, (unsigned)w->n_dirs)];
	rand_dir(w, d, sizeof(d));
	renamed(d, wd->path, w->seq++, dst, sizeof(dst));
	if (renameat(w->rootfd, wd->path, w->rootfd, dst) < 0)
		werr(w, "rename", wd->path);
	/* its entry, and its open, may each fail */
	atomic_fetch_add(&w->vanished, 2);
	snprintf(wd->path, sizeof(wd->path), "%s", dst);
}

static void op_remove_dir(struct writer *w)
{
	struct wdir wd;
	size_t i;

	if (!w->n_dirs)
		return;
	i = rnd(w, (unsigned)w->n_dirs);
	wd = w->dirs[i];
	w->dirs[i] = w->dirs[--w->n_dirs];
	for (int k = 0; k < 3; k++) {
		char p[96];

		snprintf(p, sizeof(p), "%s/wf%u", wd.path, wd.f[k]);
		if (unlinkat(w->rootfd, p, 0) < 0)
			werr(w, "unlink", p);
	}
	if (unlinkat(w->rootfd, wd.path, AT_REMOVEDIR) < 0)
		werr(w, "rmdir", wd.path);
	/* three files, and the directory's entry and its read */
	atomic_fetch_add(&w->vanished, 5);
}

static void op_symlink(struct writer *w)
{
	const char *targets[] = {tu_path(outside, "secret"), outside, "..", "../d0000",
	                         "/etc/passwd"};
	char sname[32], dst[64], d[16];
	unsigned seq = w->seq++;
	struct birth b;

	snprintf(sname, sizeof(sname), "wl%u", seq);
	birth_of(sname, &b);
	if (symlinkat(targets[rnd(w, 5)], w->stagefd, sname) < 0 ||
	    fchownat(w->stagefd, sname, b.uid, b.gid, AT_SYMLINK_NOFOLLOW) < 0) {
		werr(w, "symlink", sname);
		return;
	}
	rand_dir(w, d, sizeof(d));
	snprintf(dst, sizeof(dst), "%s/%s", d, sname);
	if (move_in(w, sname, dst))
		add_file(w, dst);
}

/* A hard link, in another directory, to an original setuid or capability file. */
static void op_link_original(struct writer *w)
{
	unsigned dn = rnd(w, N_DIRS),
	         fn = rnd(w, 2) ? 97 * rnd(w, N_FILES / 97 + 1) : 101 * rnd(w, N_FILES / 101 + 1);
	char src[32], dst[96], d[16];

	if (fn >= N_FILES || w->moved[dn * N_FILES + fn])
		return;
	snprintf(src, sizeof(src), "d%04u/f%05u", dn, fn);
	rand_dir(w, d, sizeof(d));
	snprintf(dst, sizeof(dst), "%s/f%05u.h%u", d, fn, w->seq++);
	w->linked[dn * N_FILES + fn] = 1;
	if (linkat(w->rootfd, src, w->rootfd, dst, 0) < 0)
		werr(w, "link", src);
	add_file(w, dst);
}

/* The links-only writer: link_dirs dirs aNN of link_files s and c files each. */
static void op_link_sc(struct writer *w)
{
	unsigned from = rnd(w, w->link_dirs), to = rnd(w, w->link_dirs);
	unsigned i = rnd(w, w->link_files);
	char kind = rnd(w, 2) ? 's' : 'c';
	char src[48], dst[64];

	snprintf(src, sizeof(src), "a%02u/%c%05u", from, kind, from * w->link_files + i);
	snprintf(dst, sizeof(dst), "a%02u/%c%05u.h%u", to, kind, from * w->link_files + i,
	         w->seq++);
	if (linkat(w->rootfd, src, w->rootfd, dst, 0) < 0)
		werr(w, "link", src);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!atomic_load(&w->stop) && atomic_load(&w->ops) < OPS_LIMIT) {
		unsigned r = rnd(w, 100);

		if (w->links_only)
			op_link_sc(w);
		else if (r < 30)
			op_create_file(w);
		else if (r < 45)
			op_unlink(w);
		else if (r < 60)
			op_rename_file(w);
		else if (r < 65)
			op_rename_original(w);
		else if (r < 75)
			op_make_dir(w);
		else if (r < 83)
			op_rename_dir(w);
		else if (r < 88)
			op_remove_dir(w);
		else if (r < 94)
			op_symlink(w);
		else
			op_link_original(w);
		atomic_fetch_add(&w->ops, 1);
	}
	return NULL;
}

static struct writer *writer_new(bool links_only)
{
	struct writer *w = calloc(1, sizeof(*w));

	cr_assert(w);
	w->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w->stagefd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert(w->rootfd >= 0 && w->stagefd >= 0);
	w->links_only = links_only;
	w->rng = 0x5eed;
	return w;
}

static void writer_start(struct writer *w)
{
	atomic_store(&w->stop, false);
	cr_assert_eq(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static void writer_stop(struct writer *w)
{
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
}

static void writer_free(struct writer *w)
{
	for (size_t i = 0; i < w->n_files; i++)
		free(w->files[i]);
	free(w->files);
	free(w->dirs);
	close(w->rootfd);
	close(w->stagefd);
	free(w);
}

/* --------------------------------------------------------------- running */

static char *const *vs_args(const struct target *t, const char *policy)
{
	static char *v[16];
	static char gid[16], pol[48];
	int n = 0;

	v[n++] = (char *)VS_BIN;
	if (t->mode == FSGROUP) {
		snprintf(gid, sizeof(gid), "%u", t->gid);
		v[n++] = "fsgroup";
		v[n++] = "--gid";
		v[n++] = gid;
	} else {
		v[n++] = "shift";
		v[n++] = "--map";
		v[n++] = MAP;
		if (t->reverse)
			v[n++] = "--reverse";
	}
	snprintf(pol, sizeof(pol), "--policy=%s", policy);
	v[n++] = pol;
	v[n++] = "--jobs=8";
	v[n++] = "--json";
	v[n++] = root;
	v[n] = NULL;
	return v;
}

/* Runs volshift while the writer runs; returns its exit status (128+sig)
 * and the report, and how many changes the writer made meanwhile. */
static int run_racing(struct writer *w, char *const argv[], json_t **ret_report,
                      unsigned long *ret_ops, unsigned long *ret_vanished)
{
	const char *out = tu_path(top, "report.json");
	unsigned long ops0, van0;
	json_error_t e;
	int fd, status;
	pid_t pid;

	fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	writer_start(w);
	ops0 = atomic_load(&w->ops);
	van0 = atomic_load(&w->vanished);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	cr_assert(pid > 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*ret_ops = atomic_load(&w->ops) - ops0;
	*ret_vanished = atomic_load(&w->vanished) - van0;
	writer_stop(w);
	close(fd);
	*ret_report = json_load_file(out, 0, &e);
	cr_assert(*ret_report, "no JSON report: %s", e.text);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static long long jnum(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	cr_assert(json_is_integer(v) || json_is_boolean(v), "report has no '%s'", key);
	return json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);
}

/* The run's failures: each a name under root that vanished (ENOENT). */
static void assert_only_vanished(json_t *rep, unsigned long vanished)
{
	json_t *errs = json_object_get(rep, "errors"), *e;
	long long failed = jnum(rep, "failed");
	size_t i;

	cr_assert(json_is_array(errs));
	cr_assert_eq((long long)json_array_size(errs), failed < 10 ? failed : 10,
	             "%lld failed, %zu in the sample", failed, json_array_size(errs));
	json_array_foreach(errs, i, e)
	{
		const char *path = json_string_value(json_object_get(e, "path"));
		long long err = json_integer_value(json_object_get(e, "errno"));

		cr_assert(path && !strncmp(path, root, strlen(root)), "failure outside: %s", path);
		cr_assert_eq(err, ENOENT, "%s failed with %s, not a vanished name", path,
		             strerror((int)err));
	}
	cr_assert_leq(failed, (long long)vanished,
	              "%lld failures, but the writer made only %lu names vanish", failed, vanished);
}

static void assert_outside_untouched(const char *before)
{
	char *now = tree_snapshot(outside);

	cr_assert_eq(tree_diff(before, now), 0, "the directory outside the tree changed");
	free(now);
}

/*
 * The originals the writer never renamed nor linked existed through the
 * whole run, and nothing else reached their inodes. A linked one may be
 * left half-done by the racing run, rightly: when the worker on the other
 * name gets ENOENT between its chown and the chmod or capability write
 * (the writer renamed that name), the worker on this name, under the same
 * inode lock, finds the owner done and the bit or capability gone; the
 * run then exits 1 and the crash journal's note lets the re-run put them
 * back, which rerun_and_check asserts.
 */
static unsigned check_stayed(const struct writer *w, const struct target *t)
{
	unsigned bad = 0;

	for (unsigned d = 0; d < N_DIRS && bad < 10; d++) {
		char rel[32];
		struct stat st;

		snprintf(rel, sizeof(rel), "d%04u", d);
		cr_assert_eq(lstat(tu_path(root, rel), &st), 0);
		bad += check_one(tu_path(root, rel), rel, false, &st, t);
		for (unsigned f = 0; f < N_FILES && bad < 10; f++) {
			if (w->moved[d * N_FILES + f] || w->linked[d * N_FILES + f])
				continue;
			snprintf(rel, sizeof(rel), "d%04u/f%05u", d, f);
			cr_assert_eq(lstat(tu_path(root, rel), &st), 0, "%s", rel);
			bad += check_one(tu_path(root, rel), rel + 6, false, &st, t);
		}
	}
	return bad;
}

/* Puts a v2 capability on every 101st file of the wide tree. */
static void add_caps(void)
{
	uint8_t v2[20];

	xu_cap_v2(v2, true, CAP_BIT, 0);
	for (unsigned d = 0; d < N_DIRS; d++)
		for (unsigned f = 0; f < N_FILES; f += 101) {
			char rel[32];

			snprintf(rel, sizeof(rel), "d%04u/f%05u", d, f);
			if (lsetxattr(tu_path(root, rel), "security.capability", v2, sizeof(v2),
			              0) < 0)
				SKIP("no file capabilities here: %s", strerror(errno));
		}
}

static struct target round_target(enum mode m, unsigned round)
{
	if (m == FSGROUP)
		return (struct target){.mode = FSGROUP, .gid = 2000 + round};
	return (struct target){.mode = SHIFT, .reverse = round % 2 == 1};
}

/* After a racing run: the writer stopped, a re-run finishes the job. */
static void rerun_and_check(const struct target *t, bool after_failure)
{
	unsigned entries, bad;
	json_t *rep;
	char *out = NULL;
	int st;

	/* after a failed run the root must not look done */
	st = tu_run(vs_args(t, after_failure ? "on-root-mismatch" : "always"), &out, NULL);
	cr_assert_eq(st, 0, "re-run exit %d: %s", st, out);
	rep = json_loads(out, 0, NULL);
	cr_assert(rep, "%s", out);
	cr_assert_eq(jnum(rep, "skipped"), 0, "the failed run left a root that looks done");
	cr_assert_eq(jnum(rep, "failed"), 0, "%s", out);
	bad = check_tree(t, &entries);
	cr_assert_eq(bad, 0, "%u entries not as the re-run must leave them", bad);
	cr_assert_eq(jnum(rep, "entries"), entries, "the re-run counted %lld of %u entries",
	             jnum(rep, "entries"), entries);
	json_decref(rep);
	free(out);
}

static void concurrent_case(enum mode m)
{
	struct writer *w;
	char *outside_before;
	unsigned long total_ops = 0;
	unsigned failed_rounds = 0;

	if (!tu_is_root())
		SKIP("needs root to chown files");
	tree_make_wide(root, N_DIRS, N_FILES);
	add_caps();
	outside_before = tree_snapshot(outside);
	w = writer_new(false);

	for (unsigned round = 0; round < ROUNDS; round++) {
		struct target t = round_target(m, round);
		unsigned long ops, vanished;
		json_t *rep;
		unsigned bad;
		int st;

		st = run_racing(w, vs_args(&t, "always"), &rep, &ops, &vanished);
		cr_assert_eq(atomic_load(&w->errors), 0, "the writer's own calls failed");
		cr_assert(st == 0 || st == 1, "round %u: exit %d", round, st);
		cr_assert_eq(st == 1, jnum(rep, "failed") > 0);
		assert_only_vanished(rep, vanished);
		cr_assert_geq(ops, MIN_RACE,
		              "round %u: the writer made only %lu changes during the run", round,
		              ops);
		bad = check_stayed(w, &t);
		if (bad) {
			char *dump = json_dumps(rep, 0);

			cr_assert_fail("round %u: %u entries that stayed put are not done (listed "
			               "above); the run: exit %d, %s",
			               round, bad, st, dump);
		}
		assert_outside_untouched(outside_before);
		cr_log_info("round %u: exit %d, %lld failed, writer: %lu changes, %lu names gone",
		            round, st, jnum(rep, "failed"), ops, vanished);
		failed_rounds += st == 1;
		total_ops += ops;
		json_decref(rep);

		rerun_and_check(&t, st == 1);
		assert_outside_untouched(outside_before);
	}
	cr_log_info("%u of %u rounds had vanished entries; %lu writer changes during runs",
	            failed_rounds, ROUNDS, total_ops);
	writer_free(w);
	free(outside_before);
}

Test(concurrent, fsgroup_while_the_tree_changes)
{
	concurrent_case(FSGROUP);
}

Test(concurrent, shift_while_the_tree_changes)
{
	concurrent_case(SHIFT);
}

/* ------------------------------------------------- hard links mid-walk */

#define LINK_DIRS  40
#define LINK_FILES 100 /* of each kind per dir: 8000 files */

static void make_link_tree(void)
{
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint8_t v2[20];

	cr_assert(rfd >= 0);
	xu_cap_v2(v2, true, CAP_BIT, 0);
	for (unsigned d = 0; d < LINK_DIRS; d++) {
		char dn[16];
		int dfd;

		snprintf(dn, sizeof(dn), "a%02u", d);
		cr_assert_eq(mkdirat(rfd, dn, 0755), 0);
		dfd = openat(rfd, dn, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cr_assert(dfd >= 0);
		for (unsigned i = 0; i < LINK_FILES; i++) {
			char s[16], c[16];
			int fs, fc;

			snprintf(s, sizeof(s), "s%05u", d * LINK_FILES + i);
			snprintf(c, sizeof(c), "c%05u", d * LINK_FILES + i);
			fs = openat(dfd, s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			fc = openat(dfd, c, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			cr_assert(fs >= 0 && fc >= 0);
			cr_assert_eq(fchown(fs, 1000, 1000), 0);
			cr_assert_eq(fchmod(fs, 04755), 0);
			cr_assert_eq(fchmod(fc, 0755), 0);
			if (fsetxattr(fc, "security.capability", v2, sizeof(v2), 0) < 0)
				SKIP("no file capabilities here: %s", strerror(errno));
			close(fs);
			close(fc);
		}
		close(dfd);
	}
	close(rfd);
}

/*
 * Nothing vanishes here, so each run must finish (exit 0), and every name
 * of every inode, the links made mid-walk included, must carry the owner,
 * setuid bit and capability the run gives, right after it: each inode is
 * also reached through its first name, which stays put.
 */
static void links_case(enum mode m)
{
	unsigned long total = 0;
	struct writer *w;

	if (!tu_is_root())
		SKIP("needs root to chown files");
	make_link_tree();
	w = writer_new(true);
	w->link_dirs = LINK_DIRS;
	w->link_files = LINK_FILES;

	for (unsigned round = 0; round < 6; round++) {
		struct target t = round_target(m, round);
		unsigned long ops, vanished;
		unsigned entries, bad;
		json_t *rep;
		int st;

		st = run_racing(w, vs_args(&t, "always"), &rep, &ops, &vanished);
		cr_assert_eq(atomic_load(&w->errors), 0, "the writer's own calls failed");
		cr_assert_eq(st, 0, "round %u: exit %d", round, st);
		cr_assert_eq(jnum(rep, "failed"), 0);
		bad = check_tree(&t, &entries);
		cr_assert_eq(bad, 0, "round %u: %u names not as the run must leave them", round,
		             bad);
		cr_log_info("round %u: %lu links made during the run, %u names now", round, ops,
		            entries);
		total += ops;
		json_decref(rep);
	}
	cr_assert_geq(total, 6 * MIN_RACE, "only %lu links were made during the runs", total);
	writer_free(w);
}

Test(concurrent, fsgroup_hard_links_made_mid_walk)
{
	links_case(FSGROUP);
}

Test(concurrent, shift_hard_links_made_mid_walk)
{
	links_case(SHIFT);
}
