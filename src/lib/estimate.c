/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How many entries a walk will meet, where that is cheap to know, so that
 * progress can say "42% (ETA 01:10)" instead of only "entries/s".
 *
 * When the walk's root is the root of its filesystem (the mount of a PV
 * usually is), every inode of that filesystem lies below it, and statfs
 * already counts them: f_files - f_ffree. That is a rough bound: a few
 * inodes a filesystem keeps for itself make it high, the second names of
 * hard links (the walk counts names) make it low. Anywhere else, a
 * subdirectory or a bind mount of one, nothing cheap says how much of the
 * filesystem lies below the root, and the answer is 0: unknown.
 *
 * "Root of its filesystem" takes two facts: the directory is the root of a
 * mount (STATX_ATTR_MOUNT_ROOT), and that mount shows the filesystem from
 * its top (the root field of /proc/self/mountinfo is "/", where a bind mount
 * of a subdirectory shows "/subdir"). Network and FUSE filesystems answer
 * statfs for the server's whole filesystem, and overlayfs for its upper
 * layer's: no estimate there either.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "macros.h"

#define OVERLAYFS_MAGIC 0x794c7630

/* Whether mount mnt_id of this mount namespace shows its filesystem's root. */
static bool mount_shows_fs_root(uint64_t mnt_id)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	bool ret = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...", ROOT with blanks escaped */
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *end;

		if (strtoull(p, &end, 10) != mnt_id || end == p || *end != ' ')
			continue;
		for (int i = 0; i < 3 && p; i++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		ret = p && p[0] == '/' && p[1] == ' ';
		break;
	}
	fclose(f);
	return ret;
}

uint64_t vs_walk_estimate(int fd)
{
	struct statfs sfs;
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID) || !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
	    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return 0;
	/* f_files 0: no inode count (btrfs, ramfs, tmpfs with nr_inodes=0) */
	if (fstatfs(fd, &sfs) < 0 || sfs.f_files == 0 || sfs.f_ffree > sfs.f_files)
		return 0;
	if (vs_fs_is_slow((unsigned long)sfs.f_type) || sfs.f_type == OVERLAYFS_MAGIC)
		return 0;
	if (!mount_shows_fs_root(stx.stx_mnt_id))
		return 0;
	return (uint64_t)(sfs.f_files - sfs.f_ffree);
}
