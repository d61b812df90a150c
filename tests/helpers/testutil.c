/* SPDX-License-Identifier: Apache-2.0 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_mkdtemp(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/volshift-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag) < 0)
		abort();
	if (!mkdtemp(p))
		abort();
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* best effort: what cannot go stays in the temp dir */
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void tu_rm_rf(const char *path)
{
	if (!path || !*path || !strcmp(path, "/"))
		return;
	/* as root, modes do not stand in the way; a test that makes an
	 * immutable file undoes it itself (test_walk's chattr -i) */
	nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *slurp(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	for (;;) {
		if (len + 1024 > cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

int tu_run(char *const argv[], char **out, char **err)
{
	char tmpl_o[] = "/tmp/tu-out-XXXXXX", tmpl_e[] = "/tmp/tu-err-XXXXXX";
	int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e), status;
	pid_t pid;

	unlink(tmpl_o);
	unlink(tmpl_e);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	lseek(fo, 0, SEEK_SET);
	lseek(fe, 0, SEEK_SET);
	if (out)
		*out = slurp(fo);
	if (err)
		*err = slurp(fe);
	close(fo);
	close(fe);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int tu_volshift(char **out, char **err, ...)
{
	char *argv[64];
	int n = 0;
	va_list ap;

	argv[n++] = (char *)VS_BIN;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) && n < 63;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return tu_run(argv, out, err);
}

int tu_sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	st = system(cmd);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *tu_path(const char *dir, const char *rel)
{
	static __thread char buf[8][4096];
	static __thread int slot;
	char *b = buf[slot++ & 7];

	snprintf(b, 4096, "%s/%s", dir, rel);
	return b;
}

void tu_mkfile(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0) {
		perror(path);
		abort();
	}
	close(fd);
}

void tu_mkdir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	if (mkdir(path, 0700) < 0 || lchown(path, uid, gid) < 0 || chmod(path, mode) < 0) {
		perror(path);
		abort();
	}
}

bool tu_private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return false;
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

bool tu_is_root(void)
{
	return geteuid() == 0;
}

int tu_flock_waiters(const char *path)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[512];
	struct stat st;
	int n = 0;

	if (!f || stat(path, &st) < 0) {
		if (f)
			fclose(f);
		return -1;
	}
	/* "1: -> FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF", in hex */
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "-> FLOCK");
		unsigned maj, min;
		unsigned long ino;

		if (p && sscanf(p, "-> FLOCK %*s %*s %*d %x:%x:%lu", &maj, &min, &ino) == 3 &&
		    ino == st.st_ino && makedev(maj, min) == st.st_dev)
			n++;
	}
	fclose(f);
	return n;
}

bool tu_contains(const char *s, const char *needle)
{
	return s && strstr(s, needle);
}

long long tu_json_num(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (!strncmp(p, "true", 4))
		return 1;
	if (!strncmp(p, "false", 5))
		return 0;
	return strtoll(p, NULL, 10);
}
