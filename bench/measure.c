/* SPDX-License-Identifier: Apache-2.0 */
/*
 * measure: runs a command and prints one machine-readable line about it:
 *
 *   wall_s=1.234567 user_s=0.5 sys_s=1.1 maxrss_kib=5120 peak_fds=9 exit=0
 *
 * wall time from fork to reap (CLOCK_MONOTONIC), peak RSS from wait4's
 * rusage, and (with --fds) the peak number of open fds of the child, polled
 * from /proc/PID/fd about every millisecond. exit is the child's status, or
 * 128+signal.
 *
 *   measure [--fds] [--nofile N] [--out FILE] [--] CMD [ARGS...]
 *
 * --nofile sets RLIMIT_NOFILE (soft and hard) in the child before exec.
 * --out appends the line to FILE instead of printing it on stdout, so the
 * command's own stdout can go elsewhere. measure exits with the child's status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Counts the entries of /proc/PID/fd through a directory fd kept open. */
static int count_fds(int dfd)
{
	char buf[16384];
	int n = 0;
	if (lseek(dfd, 0, SEEK_SET) < 0)
		return -1;
	for (;;) {
		long r = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (r <= 0)
			return r < 0 ? -1 : n;
		for (long off = 0; off < r;) {
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof(reclen));
			if (buf[off + 19] != '.')
				n++;
			off += reclen;
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: measure [--fds] [--nofile N] [--out FILE] [--] CMD [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"fds", no_argument, NULL, 'f'},
	                                         {"nofile", required_argument, NULL, 'n'},
	                                         {"out", required_argument, NULL, 'o'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {0}};
	bool fds = false;
	long nofile = -1;
	const char *out = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			fds = true;
			break;
		case 'n':
			nofile = atol(optarg);
			if (nofile < 3)
				usage();
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	/* The child waits on this pipe until /proc/PID/fd is open here, so even
	 * the first fds it opens are seen. */
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0) {
		perror("measure: pipe");
		return 125;
	}
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 125;
	}
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(126);
		close(go[0]);
		if (nofile > 0) {
			struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
				perror("measure: setrlimit");
				_exit(126);
			}
		}
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "measure: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	int dfd = -1;
	if (fds) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
		dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	t0 = now();
	close(go[1]);

	int status = 0, peak = -1;
	struct rusage ru;
	for (;;) {
		pid_t r = wait4(pid, &status, fds ? WNOHANG : 0, &ru);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("measure: wait4");
			return 125;
		}
		if (r == 0) {
			int n = count_fds(dfd);
			if (n > peak)
				peak = n;
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	double wall = now() - t0;
	if (dfd >= 0)
		close(dfd);

	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	FILE *f = stdout;
	if (out && !(f = fopen(out, "ae"))) {
		fprintf(stderr, "measure: %s: %s\n", out, strerror(errno));
		return 125;
	}
	fprintf(f, "wall_s=%.6f user_s=%.6f sys_s=%.6f maxrss_kib=%ld peak_fds=%d exit=%d\n", wall,
	        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, peak,
	        code);
	if (f != stdout)
		fclose(f);
	return code;
}
