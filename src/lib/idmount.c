/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volshift mount: an idmapped bind mount of SOURCE at TARGET where the
 * filesystem takes one, the on-disk shift plus a plain bind where it does
 * not.
 *
 * Support is never guessed from a kernel version or a filesystem name: the
 * kernel says "no" with EINVAL, ENOSYS, EPERM or EOPNOTSUPP depending on its
 * age and the filesystem, so the probe makes the real thing, a detached
 * idmapped clone (open_tree + mount_setattr), and the mount is that very
 * clone moved onto TARGET. Nothing is attached until everything that can
 * fail before it has been tried.
 *
 * The namespace's map lines are the FROM TO LEN triples of the shift: an
 * idmapped mount shows an on-disk ID k as the namespace's map of k (k read
 * as an ID inside the namespace, shown as the ID outside it), which is what
 * the shift writes on disk.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "macros.h"
#include "syscalls.h"
#include "userns.h"

#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

void vs_mount_job_init(struct vs_mount_job *job)
{
	memset(job, 0, sizeof(*job));
	vs_job_init(&job->shift, VS_MODE_SHIFT);
	job->fallback = VS_FALLBACK_SHIFT;
}

static void fstype_name(int fd, char *buf, size_t size)
{
	struct statfs s;

	if (fstatfs(fd, &s) < 0)
		snprintf(buf, size, "unknown");
	else
		vs_fs_name((unsigned long)s.f_type, buf, size);
}

/* What the kernel answers when this mount cannot be idmapped here. */
static bool is_unsupported(int err)
{
	return err == EINVAL || err == ENOSYS || err == EPERM || err == EOPNOTSUPP;
}

/*
 * A detached clone of the mount tree at src_fd (its submounts too when
 * recursive), idmapped with userns_fd when >= 0, read-only when rdonly.
 * Returns the clone's fd or -errno; *ret_at_setattr tells whether it was
 * mount_setattr (not open_tree) that failed.
 */
static int clone_tree(int src_fd, int userns_fd, bool recursive, bool rdonly, bool *ret_at_setattr)
{
	struct vs_mount_attr attr = {0};
	_cleanup_close_ int fd = -1;
	unsigned rec = recursive ? AT_RECURSIVE : 0;

	*ret_at_setattr = false;
	fd = sys_open_tree(src_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | rec);
	if (fd < 0)
		return neg_errno();
	if (userns_fd >= 0) {
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t)userns_fd;
	}
	if (rdonly)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (attr.attr_set && sys_mount_setattr(fd, "", AT_EMPTY_PATH | rec, &attr) < 0) {
		*ret_at_setattr = true;
		return neg_errno();
	}
	return TAKE_FD(fd);
}

/*
 * The probe, and the mount itself when it succeeds: 1 with *ret_fd the
 * idmapped clone; 0 when it cannot be had here (*ret_errno says why);
 * -errno when the probe could not be made at all.
 */
static int idmapped_clone(int src_fd, int userns_fd, bool recursive, bool rdonly, int *ret_fd,
                          int *ret_errno)
{
	bool at_setattr;
	int fd;

	*ret_fd = -1;
	*ret_errno = 0;
	fd = clone_tree(src_fd, userns_fd, recursive, rdonly, &at_setattr);
	if (fd >= 0) {
		*ret_fd = fd;
		return 1;
	}
	/* open_tree missing means no new mount API, hence no idmapped mounts */
	if ((at_setattr && is_unsupported(-fd)) || fd == -ENOSYS) {
		*ret_errno = -fd;
		return 0;
	}
	return fd;
}

int vs_idmap_supported(const char *path, int userns_fd, int *ret_errno)
{
	/* any map will do: the namespace only has to exist */
	static const struct vs_idmap throwaway = {.n = 1, .r = {{0, 65534, 1}}};
	_cleanup_close_ int src = -1, own = -1, clone = -1;
	int err = 0, r;

	if (ret_errno)
		*ret_errno = 0;
	if (!path)
		return -EINVAL;
	src = open(path, O_PATH | O_CLOEXEC);
	if (src < 0)
		return neg_errno();
	if (userns_fd >= 0) {
		if (vs_userns_check(userns_fd) < 0)
			return -EINVAL;
	} else {
		own = vs_userns_make(&throwaway, &throwaway);
		if (own < 0)
			return own;
		userns_fd = own;
	}
	r = idmapped_clone(src, userns_fd, false, false, &clone, &err);
	if (r == 0 && ret_errno)
		*ret_errno = err;
	return r;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int move_onto(int clone_fd, int tgt_fd)
{
	if (sys_move_mount(clone_fd, "", tgt_fd, "",
	                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return neg_errno();
	return 0;
}

/* A plain bind of src at tgt: made detached and read-only before it is
 * attached where the new mount API exists, so it is never writable there. */
static int plain_bind(int src_fd, int tgt_fd, const char *target, bool recursive, bool rdonly)
{
	_cleanup_close_ int fd = -1;
	bool at_setattr;
	char from[64];
	int r;

	fd = clone_tree(src_fd, -1, recursive, rdonly, &at_setattr);
	if (fd >= 0)
		return move_onto(fd, tgt_fd);
	if (fd != -ENOSYS)
		return fd;
	snprintf(from, sizeof(from), "/proc/self/fd/%d", src_fd);
	if (mount(from, target, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
		return neg_errno();
	if (rdonly && mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		r = neg_errno();
		umount2(target, MNT_DETACH);
		return r;
	}
	return 0;
}

/* Opens a path the job names; BAD_INPUT with a reason when it will not do. */
static int open_dir(const char *what, const char *path, struct vs_report *ret)
{
	int fd, r;

	if (!path || !*path)
		return vs_fail(ret, VS_STATUS_BAD_INPUT, -EINVAL, "no %s given", what);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	r = neg_errno();
	if (r == -ENOTDIR)
		return vs_fail(ret, VS_STATUS_BAD_INPUT, r, "%s '%s' is not a directory", what,
		               path);
	return vs_fail(ret, VS_STATUS_BAD_INPUT, r, "cannot open %s '%s': %s", what, path,
	               strerror(-r));
}

/* The user namespace the job names or implies; an fd, or -errno with ret filled. */
static int get_userns(const struct vs_mount_job *job, struct vs_report *ret)
{
	char path[64];
	int fd;

	if (job->userns_path && job->from_pid)
		return vs_fail(ret, VS_STATUS_BAD_INPUT, -EINVAL,
		               "name one user namespace: a namespace path or a process, not both");
	if (job->userns_path || job->from_pid) {
		const char *p = job->userns_path;
		char what[96];

		if (!p) {
			if (job->from_pid < 0)
				return vs_fail(ret, VS_STATUS_BAD_INPUT, -EINVAL,
				               "invalid process ID %d", (int)job->from_pid);
			snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)job->from_pid);
			p = path;
			snprintf(what, sizeof(what), "process %d", (int)job->from_pid);
		} else {
			snprintf(what, sizeof(what), "'%.80s'", p);
		}
		fd = vs_userns_open(p);
		if (fd >= 0)
			return fd;
		if (job->from_pid && (fd == -ENOENT || fd == -ESRCH))
			return vs_fail(ret, VS_STATUS_BAD_INPUT, fd, "no process %d",
			               (int)job->from_pid);
		switch (fd) {
		case -ENOTTY:
			return vs_fail(ret, VS_STATUS_BAD_INPUT, fd, "%s is not a namespace file",
			               what);
		case -EINVAL:
			return vs_fail(ret, VS_STATUS_BAD_INPUT, fd, "%s is not a user namespace",
			               what);
		case -EPERM:
			return vs_fail(ret, VS_STATUS_BAD_INPUT, fd,
			               "%s: user namespace is volshift's own or above it; an "
			               "idmapped mount needs one below it",
			               what);
		default:
			return vs_fail(ret, VS_STATUS_BAD_INPUT, fd,
			               "cannot open the user namespace of %s: %s", what,
			               strerror(-fd));
		}
	}

	fd = vs_job_validate(&job->shift, ret);
	if (fd < 0)
		return fd;
	fd = vs_userns_make(&job->shift.uid_map, &job->shift.gid_map);
	if (fd >= 0)
		return fd;
	switch (fd) {
	case -EPERM:
		return vs_fail(ret, VS_STATUS_BAD_INPUT, fd,
		               "not enough privilege to make a user namespace with this map");
	case -E2BIG:
		return vs_fail(ret, VS_STATUS_BAD_INPUT, fd,
		               "map too long for the kernel (a user namespace's map is "
		               "written in one page)");
	case -EINVAL:
		return vs_fail(ret, VS_STATUS_BAD_INPUT, fd,
		               "the kernel refused the map for a user namespace");
	default:
		return vs_fail(ret, VS_STATUS_CANNOT_START, fd, "cannot make a user namespace: %s",
		               strerror(-fd));
	}
}

/*
 * Not idmappable: shift on disk with the namespace's map, then bind plainly.
 * The shift walks the very directory src_fd pinned (no second lookup of
 * SOURCE), and fills ret; vs_mount adds its own fields after.
 */
static int fallback_shift(const struct vs_mount_job *job, int src_fd, int tgt_fd, int userns_fd,
                          const char *fstype, struct vs_report *ret)
{
	_cleanup_free_ struct vs_job *sj = malloc(sizeof(*sj));
	int r;

	if (!sj)
		return vs_fail(ret, VS_STATUS_CANNOT_START, -ENOMEM, "out of memory");
	*sj = job->shift;
	sj->mode = VS_MODE_SHIFT;
	if (job->userns_path || job->from_pid) {
		r = vs_userns_maps(userns_fd, &sj->uid_map, &sj->gid_map);
		if (r < 0)
			return vs_fail(ret, VS_STATUS_BAD_INPUT, r,
			               "%s cannot be idmapped and the user namespace's maps "
			               "cannot drive an on-disk shift: %s",
			               fstype,
			               r == -EINVAL ? "they are the identity or overlap"
			                            : strerror(-r));
	}
	/* submounts are bound too, so their owners must be shifted as well */
	if (job->recursive)
		sj->cross_mounts = true;

	r = vs_run_at(src_fd, sj, ret);
	if (r < 0)
		return r;
	if (ret->status != VS_STATUS_OK) {
		/* a retry redoes the shift idempotently; a mount now would stack */
		snprintf(ret->message, sizeof(ret->message),
		         "on-disk shift left %llu entries failed; '%s' not mounted",
		         (unsigned long long)ret->failed, job->target);
		return 0;
	}
	if (sj->dry_run)
		return 0;
	r = plain_bind(src_fd, tgt_fd, job->target, job->recursive, job->read_only);
	if (r < 0)
		return vs_fail(ret, VS_STATUS_CANNOT_START, r,
		               "owners shifted on disk, but cannot bind-mount '%s' at '%s': %s",
		               sj->path, job->target, strerror(-r));
	return 0;
}

int vs_mount(const struct vs_mount_job *job, struct vs_report *ret)
{
	_cleanup_close_ int src = -1, tgt = -1, userns = -1, clone = -1;
	const char *source = job->shift.path;
	char fstype[sizeof(ret->fstype)];
	struct timespec t0;
	int probe_errno, r;

	memset(ret, 0, sizeof(*ret));
	ret->mode = "mount";
	ret->target = job->target;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	src = open_dir("source", source, ret);
	if (src < 0)
		return src;
	tgt = open_dir("target", job->target, ret);
	if (tgt < 0)
		return tgt;
	fstype_name(src, ret->fstype, sizeof(ret->fstype));
	userns = get_userns(job, ret);
	if (userns < 0)
		return userns;

	r = idmapped_clone(src, userns, job->recursive, job->read_only, &clone, &ret->probe_errno);
	if (r < 0) {
		if (r == -EPERM)
			return vs_fail(ret, VS_STATUS_BAD_INPUT, r,
			               "not enough privilege to mount (CAP_SYS_ADMIN needed)");
		return vs_fail(ret, VS_STATUS_CANNOT_START, r, "cannot clone the mount of '%s': %s",
		               source, strerror(-r));
	}
	if (r == 1) {
		ret->method = "idmapped-mount";
		if (!job->shift.dry_run) {
			r = move_onto(clone, tgt);
			if (r < 0)
				return vs_fail(ret, VS_STATUS_CANNOT_START, r,
				               "cannot mount at '%s': %s", job->target,
				               strerror(-r));
		}
		ret->status = VS_STATUS_OK;
		ret->elapsed_s = since(&t0);
		return 0;
	}

	ret->method = "walk";
	if (job->fallback == VS_FALLBACK_FAIL)
		return vs_fail(ret, VS_STATUS_CANNOT_START, -ret->probe_errno,
		               "'%s' is on %s, which cannot be idmapped here (%s); not shifting "
		               "on disk (fallback: fail)",
		               source, ret->fstype, strerror(ret->probe_errno));
	memcpy(fstype, ret->fstype, sizeof(fstype));
	probe_errno = ret->probe_errno;
	r = fallback_shift(job, src, tgt, userns, fstype, ret);
	ret->mode = "mount";
	ret->target = job->target;
	ret->method = "walk";
	ret->probe_errno = probe_errno;
	memcpy(ret->fstype, fstype, sizeof(fstype));
	ret->elapsed_s = since(&t0);
	return r;
}
