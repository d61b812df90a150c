/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen: makes the benchmark trees, and puts them back as they were made.
 *
 *   gen wide DIR [--dirs A,B] [--files C]   A dirs of B dirs of C empty files
 *   gen mix  DIR [--files N]                sizes, symlinks, hard links, setuid,
 *                                           several owners, ACLs, capabilities
 *   gen flat DIR [--files N]                one directory, N empty files
 *   gen deep DIR [--depth N]                a chain N directories deep, a file in each
 *   gen skew DIR [--files N] [--flat]       N empty files, 80% of them in one subtree
 *                                           (--flat: in one directory), the rest in
 *                                           20 small subtrees
 *
 * Options: --uid U --gid G (owners; 0:0 by default; for mix an offset added
 * to every owner), --threads N (2), --reset.
 *
 * --reset walks the same (deterministic) sequence over an existing tree made
 * by the same command and sets owners, modes, ACLs and capabilities back to
 * what creation gave them, without creating or unlinking anything: that is
 * how bench/run gets an identical fresh tree before every timed run, much
 * faster than deleting and making it again.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

struct opts {
	const char *kind;
	const char *dir;
	unsigned dirs_a, dirs_b, files;
	unsigned depth;
	uint32_t uid, gid;
	unsigned threads;
	bool reset;
	bool flat; /* skew: the big part is one directory */
};

struct counts {
	uint64_t dirs, files, bytes, symlinks, hardlinks, fifos, acls, caps, setid;
};

static struct opts O = {.dirs_a = 100, .dirs_b = 100, .files = 0, .depth = 10000, .threads = 2};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "gen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sets owner then mode (chown clears setuid/setgid, so the mode goes last). */
static void own(int dfd, const char *name, uint32_t uid, uint32_t gid, mode_t mode, bool link)
{
	int fl = link ? AT_SYMLINK_NOFOLLOW : 0;
	if (*name == '\0')
		fl |= AT_EMPTY_PATH;
	if (fchownat(dfd, name, uid, gid, fl) < 0)
		die("chown %s: %m", *name ? name : ".");
	if (link)
		return;
	if (*name == '\0' ? fchmod(dfd, mode) : fchmodat(dfd, name, mode, 0))
		die("chmod %s: %m", *name ? name : ".");
}

/* Makes an empty regular file, or in reset mode puts its owner and mode back. */
static void mkfile(int dfd, const char *name, uint32_t uid, uint32_t gid, mode_t mode)
{
	if (!O.reset) {
		if (mknodat(dfd, name, S_IFREG | mode, 0) < 0)
			die("mknod %s: %m", name);
		if (uid == 0 && gid == 0 && !(mode & ~0777u))
			return; /* created 0:0 by root with the right mode already */
	}
	own(dfd, name, uid, gid, mode, false);
}

/* Makes (or resets) a directory and returns an fd on it. */
static int mkdir_open(int dfd, const char *name, uint32_t uid, uint32_t gid, mode_t mode)
{
	if (!O.reset && mkdirat(dfd, name, mode) < 0)
		die("mkdir %s: %m", name);
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %m", name);
	if (O.reset || uid || gid || (mode & ~0777u))
		own(fd, "", uid, gid, mode, false);
	return fd;
}

static int open_root(void)
{
	if (!O.reset && mkdir(O.dir, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %m", O.dir);
	int fd = open(O.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %m", O.dir);
	return fd;
}

/* ------------------------------------------------------------------ wide */

struct wide_arg {
	int root;
	unsigned first, step;
	struct counts c;
};

static void *wide_worker(void *p)
{
	struct wide_arg *a = p;
	char name[32];
	for (unsigned i = a->first; i < O.dirs_a; i += a->step) {
		snprintf(name, sizeof(name), "d%u", i);
		int d1 = mkdir_open(a->root, name, O.uid, O.gid, 0755);
		a->c.dirs++;
		for (unsigned j = 0; j < O.dirs_b; j++) {
			snprintf(name, sizeof(name), "d%u", j);
			int d2 = mkdir_open(d1, name, O.uid, O.gid, 0755);
			a->c.dirs++;
			for (unsigned k = 0; k < O.files; k++) {
				snprintf(name, sizeof(name), "f%u", k);
				mkfile(d2, name, O.uid, O.gid, 0644);
			}
			a->c.files += O.files;
			close(d2);
		}
		close(d1);
	}
	return NULL;
}

/* Runs fn over O.threads threads, each with its own arg (stride split). */
static void run_threads(void *(*fn)(void *), void *args, size_t argsz, unsigned n)
{
	pthread_t t[64];
	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&t[i], NULL, fn, (char *)args + i * argsz);
		if (r)
			die("pthread_create: %s", strerror(r));
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void gen_wide(int root, struct counts *c)
{
	if (!O.files)
		O.files = 100;
	unsigned n = O.threads ? O.threads : 1;
	struct wide_arg a[64];
	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++)
		a[i] = (struct wide_arg){.root = root, .first = i, .step = n};
	run_threads(wide_worker, a, sizeof(a[0]), n);
	for (unsigned i = 0; i < n; i++) {
		c->dirs += a[i].c.dirs;
		c->files += a[i].c.files;
	}
}

/* ------------------------------------------------------------------ flat */

static void *flat_worker(void *p)
{
	struct wide_arg *a = p;
	char name[32];
	for (unsigned k = a->first; k < O.files; k += a->step) {
		snprintf(name, sizeof(name), "f%u", k);
		mkfile(a->root, name, O.uid, O.gid, 0644);
		a->c.files++;
	}
	return NULL;
}

static void gen_flat(int root, struct counts *c)
{
	if (!O.files)
		O.files = 1000000;
	unsigned n = O.threads ? O.threads : 1;
	struct wide_arg a[64];
	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++)
		a[i] = (struct wide_arg){.root = root, .first = i, .step = n};
	run_threads(flat_worker, a, sizeof(a[0]), n);
	for (unsigned i = 0; i < n; i++)
		c->files += a[i].c.files;
}

/* ------------------------------------------------------------------ deep */

static void gen_deep(int root, struct counts *c)
{
	int fd = dup(root);
	if (fd < 0)
		die("dup: %m");
	for (unsigned i = 0; i < O.depth; i++) {
		mkfile(fd, "f", O.uid, O.gid, 0644);
		c->files++;
		int sub = mkdir_open(fd, "d", O.uid, O.gid, 0755);
		c->dirs++;
		close(fd);
		fd = sub;
	}
	close(fd);
}

/* ------------------------------------------------------------------ skew */

/*
 * The tree a split has the most trouble with: big/ holds 80% of the files,
 * in directories of 100 (big/d0 ...), or with --flat all in big/ itself;
 * the other 20% are spread over s00 ... s19, each of directories of 100
 * (sNN/d0 ...). A split that only cut the top level would give one shard
 * 80% of the work.
 */
struct leaf {
	int fd;
	unsigned files;
};

struct skew_arg {
	const struct leaf *leaves;
	size_t n_leaves;
	unsigned first, step;
	struct counts c;
};

static void *skew_worker(void *p)
{
	struct skew_arg *a = p;
	char name[32];

	for (size_t l = 0; l < a->n_leaves; l++) {
		for (unsigned k = a->first; k < a->leaves[l].files; k += a->step) {
			snprintf(name, sizeof(name), "f%u", k);
			mkfile(a->leaves[l].fd, name, O.uid, O.gid, 0644);
			a->c.files++;
		}
	}
	return NULL;
}

/* Directories of (up to) 100 files below dfd holding `files` in all; their
 * fds go to leaves. */
static void skew_dirs(int dfd, unsigned files, struct leaf *leaves, size_t *n, struct counts *c)
{
	char name[32];

	for (unsigned i = 0; i * 100 < files; i++) {
		snprintf(name, sizeof(name), "d%u", i);
		leaves[*n].fd = mkdir_open(dfd, name, O.uid, O.gid, 0755);
		leaves[*n].files = files - i * 100 < 100 ? files - i * 100 : 100;
		(*n)++;
		c->dirs++;
	}
}

static void gen_skew(int root, struct counts *c)
{
	if (!O.files)
		O.files = 100000;
	unsigned big = O.files / 5 * 4, rest = O.files - big, n = O.threads ? O.threads : 1;
	struct leaf *leaves = calloc(O.files / 100 + 64, sizeof(*leaves));
	struct skew_arg a[64];
	size_t n_leaves = 0;
	char name[32];

	if (!leaves)
		die("out of memory");
	int bfd = mkdir_open(root, "big", O.uid, O.gid, 0755);
	c->dirs++;
	if (O.flat) {
		leaves[n_leaves++] = (struct leaf){bfd, big};
	} else {
		skew_dirs(bfd, big, leaves, &n_leaves, c);
		close(bfd);
	}
	for (unsigned s = 0; s < 20; s++) {
		snprintf(name, sizeof(name), "s%02u", s);
		int sfd = mkdir_open(root, name, O.uid, O.gid, 0755);
		c->dirs++;
		skew_dirs(sfd, rest / 20 + (s < rest % 20), leaves, &n_leaves, c);
		close(sfd);
	}
	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++)
		a[i] = (struct skew_arg){
		    .leaves = leaves, .n_leaves = n_leaves, .first = i, .step = n};
	run_threads(skew_worker, a, sizeof(a[0]), n);
	for (unsigned i = 0; i < n; i++)
		c->files += a[i].c.files;
	for (size_t l = 0; l < n_leaves; l++)
		close(leaves[l].fd);
	free(leaves);
}

/* ------------------------------------------------------------------- mix */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: deterministic, so --reset replays the same choices. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* Container IDs: mostly inside 0..65535 (mapped by a shift), a few outside. */
static uint32_t pick_id(uint32_t offset)
{
	static const uint32_t ids[] = {0,    0,    0,    0,     0,     0,     0,
	                               0,    1000, 1000, 1000,  1000,  1000,  1000,
	                               1001, 1001, 1001, 65534, 65534, 100000};
	return offset + ids[rndn(sizeof(ids) / sizeof(ids[0]))];
}

static mode_t pick_file_mode(void)
{
	static const mode_t modes[] = {0644, 0644, 0644, 0644, 0644, 0644, 0644, 0644, 0644, 0644,
	                               0600, 0600, 0600, 0755, 0755, 0755, 0664, 0664, 0400, 0640};
	static const mode_t setid[] = {04755, 02755, 06755, 02750};
	if (rndn(40) == 0)
		return setid[rndn(sizeof(setid) / sizeof(setid[0]))];
	return modes[rndn(sizeof(modes) / sizeof(modes[0]))];
}

static mode_t pick_dir_mode(void)
{
	static const mode_t modes[] = {0755, 0755, 0755, 0755,  0755,
	                               0700, 0775, 0750, 01777, 02775};
	return modes[rndn(sizeof(modes) / sizeof(modes[0]))];
}

static void set_acl(int dfd, const char *name, bool dir, struct counts *c)
{
	char text[160];
	snprintf(text, sizeof(text), "u::rw-,u:%u:r--,g::r--,g:%u:rw-,m::rw-,o::r--", O.uid + 1000,
	         O.gid + 1001);
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		die("open %s: %m", name);
	acl_t acl = acl_from_text(text);
	if (!acl)
		die("acl_from_text: %m");
	if (acl_set_fd(fd, acl) < 0)
		die("acl_set_fd %s: %m", name);
	c->acls++;
	if (dir) {
		/* acl_set_file is the only libacl way to a default ACL; go through
		 * /proc so that no path in the tree is resolved. */
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		if (acl_set_file(p, ACL_TYPE_DEFAULT, acl) < 0)
			die("default acl %s: %m", name);
		c->acls++;
	}
	acl_free(acl);
	close(fd);
}

/* security.capability, revision 2, cap_net_bind_service+ep. */
static void set_cap(int dfd, const char *name, struct counts *c)
{
	uint32_t v[5] = {0x02000001u, 1u << 10, 0, 0, 0};
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %m", name);
	if (fsetxattr(fd, "security.capability", v, sizeof(v), 0) < 0)
		die("setcap %s: %m", name);
	close(fd);
	c->caps++;
}

static char filler[65536];

static void write_file(int dfd, const char *name, mode_t mode, size_t size, struct counts *c)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
	if (fd < 0)
		die("create %s: %m", name);
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, filler, size - off);
		if (w <= 0)
			die("write %s: %m", name);
		off += (size_t)w;
	}
	close(fd);
	c->bytes += size;
}

struct mixfile {
	unsigned dir;
	unsigned idx;
};

static void gen_mix(int root, struct counts *c)
{
	if (!O.files)
		O.files = 20000;
	for (size_t i = 0; i < sizeof(filler); i++)
		filler[i] = (char)('a' + i % 26);
	unsigned ndirs = O.files / 25 + 1; /* dir 0 is the root */
	unsigned *parent = calloc(ndirs, sizeof(*parent));
	unsigned *depth = calloc(ndirs, sizeof(*depth));
	char **path = calloc(ndirs, sizeof(*path));
	struct mixfile *files = calloc(O.files + 1, sizeof(*files));
	if (!parent || !depth || !path || !files)
		die("out of memory");
	path[0] = strdup(".");
	unsigned nfiles = 0;
	char name[64];

	/* The directory tree: half the time under the previous one (depth),
	 * half under any earlier one (breadth), at most 12 deep. */
	for (unsigned i = 1; i < ndirs; i++) {
		unsigned p = (rnd() & 1) && depth[i - 1] < 12 ? i - 1 : rndn(i);
		parent[i] = p;
		depth[i] = depth[p] + 1;
		if (asprintf(&path[i], "%s/d%u", path[p], i) < 0)
			die("out of memory");
	}
	/* Owners and modes of the dirs are applied after their contents, so that
	 * a 0500 dir does not stop its own creation. */
	for (unsigned i = 1; i < ndirs; i++) {
		if (!O.reset && mkdirat(root, path[i], 0755) < 0)
			die("mkdir %s: %m", path[i]);
		c->dirs++;
	}

	unsigned per_dir = O.files / ndirs + 1;
	unsigned made = 0;
	for (unsigned i = 0; i < ndirs && made < O.files; i++) {
		int dfd = openat(root, path[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			die("open %s: %m", path[i]);
		unsigned n = i + 1 == ndirs ? O.files - made : rndn(2 * per_dir);
		if (made + n > O.files)
			n = O.files - made;
		for (unsigned k = 0; k < n; k++, made++) {
			unsigned kind = rndn(100);
			uint32_t uid = pick_id(O.uid), gid = pick_id(O.gid);
			snprintf(name, sizeof(name), "e%u", k);
			if (kind < 8 && k > 0) { /* symlink to a sibling, a dir, or nowhere */
				char target[64];
				unsigned t = rndn(4);
				if (t == 0)
					snprintf(target, sizeof(target), "e%u", rndn(k));
				else if (t == 1)
					snprintf(target, sizeof(target), "..");
				else if (t == 2)
					snprintf(target, sizeof(target), "../e%u", rndn(k));
				else
					snprintf(target, sizeof(target), "missing-%u", k);
				if (!O.reset && symlinkat(target, dfd, name) < 0)
					die("symlink %s: %m", name);
				own(dfd, name, uid, gid, 0, true);
				c->symlinks++;
			} else if (kind < 13 && nfiles > 0) { /* hard link to an earlier file */
				struct mixfile f = files[rndn(nfiles)];
				if (!O.reset) {
					char src[4200];
					snprintf(src, sizeof(src), "%s/e%u", path[f.dir], f.idx);
					if (linkat(root, src, dfd, name, 0) < 0)
						die("link %s: %m", src);
				}
				c->hardlinks++;
			} else if (kind < 14) {
				if (!O.reset && mknodat(dfd, name, S_IFIFO | 0644, 0) < 0)
					die("mkfifo %s: %m", name);
				own(dfd, name, uid, gid, 0644, false);
				c->fifos++;
			} else {
				mode_t mode = pick_file_mode();
				/* a quarter empty, the rest log-uniform up to 64 KiB */
				size_t size = rndn(4) == 0 ? 0 : (size_t)1 << rndn(17);
				if (size > 1)
					size += rndn((unsigned)size);
				if (size > 65536)
					size = 65536;
				unsigned extra = rndn(200);
				if (!O.reset)
					write_file(dfd, name, mode, size, c);
				own(dfd, name, uid, gid, mode, false);
				if (extra < 2)
					set_acl(dfd, name, false, c);
				else if (extra < 3 && !(mode & 06000))
					set_cap(dfd, name, c);
				if (mode & 06000)
					c->setid++;
				c->files++;
				files[nfiles++] = (struct mixfile){.dir = i, .idx = k};
			}
		}
		close(dfd);
	}

	/* Links that leave the tree or point at dirs, in the root. */
	static const char *const specials[][2] = {
	    {"etc-link", "/etc"}, {"dangling", "no/such/file"}, {"dir-link", "d1"}};
	for (unsigned i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		if (!O.reset && symlinkat(specials[i][1], root, specials[i][0]) < 0)
			die("symlink %s: %m", specials[i][0]);
		own(root, specials[i][0], O.uid, O.gid, 0, true);
		c->symlinks++;
	}

	/* Dirs last, deepest first: owner, mode, and a few default ACLs. */
	for (unsigned i = ndirs; i-- > 1;) {
		uint32_t uid = pick_id(O.uid), gid = pick_id(O.gid);
		mode_t mode = pick_dir_mode();
		own(root, path[i], uid, gid, mode, false);
		if (rndn(50) == 0)
			set_acl(root, path[i], true, c);
	}
	own(root, "", O.uid, O.gid, 0755, false);

	for (unsigned i = 0; i < ndirs; i++)
		free(path[i]);
	free(path);
	free(parent);
	free(depth);
	free(files);
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: gen wide DIR [--dirs A,B] [--files C]\n"
	                "       gen mix DIR [--files N]\n"
	                "       gen flat DIR [--files N]\n"
	                "       gen deep DIR [--depth N]\n"
	                "       gen skew DIR [--files N] [--flat]\n"
	                "options: --uid U --gid G --threads N --reset\n");
	exit(2);
}

static unsigned num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		die("bad number '%s'", s);
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dirs", required_argument, NULL, 'D'},  {"files", required_argument, NULL, 'f'},
	    {"depth", required_argument, NULL, 'd'}, {"uid", required_argument, NULL, 'u'},
	    {"gid", required_argument, NULL, 'g'},   {"threads", required_argument, NULL, 't'},
	    {"reset", no_argument, NULL, 'r'},       {"flat", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},        {0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'D': {
			unsigned a, b;
			char tail;
			if (sscanf(optarg, "%u,%u%c", &a, &b, &tail) != 2 || !a || !b)
				die("--dirs wants A,B");
			O.dirs_a = a;
			O.dirs_b = b;
			break;
		}
		case 'f':
			O.files = num(optarg);
			break;
		case 'd':
			O.depth = num(optarg);
			break;
		case 'u':
			O.uid = num(optarg);
			break;
		case 'g':
			O.gid = num(optarg);
			break;
		case 't':
			O.threads = num(optarg);
			break;
		case 'r':
			O.reset = true;
			break;
		case 'F':
			O.flat = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	O.kind = argv[optind];
	O.dir = argv[optind + 1];
	umask(0);

	double t0 = now();
	struct counts c = {0};
	int root = open_root();
	if (!strcmp(O.kind, "wide"))
		gen_wide(root, &c);
	else if (!strcmp(O.kind, "flat"))
		gen_flat(root, &c);
	else if (!strcmp(O.kind, "deep"))
		gen_deep(root, &c);
	else if (!strcmp(O.kind, "mix"))
		gen_mix(root, &c);
	else if (!strcmp(O.kind, "skew"))
		gen_skew(root, &c);
	else
		usage();
	if (strcmp(O.kind, "mix"))
		own(root, "", O.uid, O.gid, 0755, false);
	c.dirs++; /* the root */
	close(root);

	printf("gen: %s %s %s: %llu dirs, %llu files", O.reset ? "reset" : "made", O.kind, O.dir,
	       (unsigned long long)c.dirs, (unsigned long long)c.files);
	if (!strcmp(O.kind, "mix"))
		printf(" (%llu bytes, %llu setuid/setgid), %llu symlinks, %llu hard links, "
		       "%llu fifos, %llu ACLs, %llu caps",
		       (unsigned long long)c.bytes, (unsigned long long)c.setid,
		       (unsigned long long)c.symlinks, (unsigned long long)c.hardlinks,
		       (unsigned long long)c.fifos, (unsigned long long)c.acls,
		       (unsigned long long)c.caps);
	printf(", owner %u:%u, %.2f s\n", O.uid, O.gid, now() - t0);
	return 0;
}
