/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filesystem kinds, by statfs f_type: one table says which are pseudo
 * filesystems (never walked), which are slow (every call a round trip: the
 * engine and worker count change there), and what each is called in
 * messages and reports. Values from linux/magic.h and the filesystems' own
 * headers.
 */
#include "internal.h"

#include <stdio.h>

#include "macros.h"

enum {
	FS_PSEUDO = 1 << 0, /* proc, sysfs, ...: never entered */
	FS_SLOW = 1 << 1,   /* network and FUSE: each metadata call waits on a server */
};

static const struct {
	uint32_t magic;
	const char *name;
	unsigned flags;
} fs_table[] = {
    {0xEF53, "ext4", 0}, /* ext2, ext3 and ext4 share it */
    {0x01021994, "tmpfs", 0},
    {0x858458f6, "ramfs", 0},
    {0x958458f6, "hugetlbfs", 0},
    {0x58465342, "xfs", 0},
    {0x9123683E, "btrfs", 0},
    {0x794c7630, "overlay", 0},
    {0xF2F52010, "f2fs", 0},
    {0x2fc12fc1, "zfs", 0},
    {0xca451a4e, "bcachefs", 0},
    {0xE0F5E1E2, "erofs", 0},
    {0x73717368, "squashfs", 0},
    {0x4d44, "vfat", 0},
    {0x2011BAB0, "exfat", 0},
    {0x5346544e, "ntfs", 0},
    {0x9660, "iso9660", 0},
    {0x01161970, "gfs2", 0},
    {0x7461636f, "ocfs2", 0},
    {0x6969, "nfs", FS_SLOW},
    {0x65735546, "fuse", FS_SLOW},
    {0xFF534D42, "cifs", FS_SLOW},
    {0xFE534D42, "smb2", FS_SLOW},
    {0x00c36400, "ceph", FS_SLOW},
    {0x47504653, "gpfs", FS_SLOW},
    {0x0bd00bd0, "lustre", FS_SLOW},
    {0x01021997, "9p", FS_SLOW},
    {0x9fa0, "proc", FS_PSEUDO},
    {0x62656572, "sysfs", FS_PSEUDO},
    {0x27e0eb, "cgroup", FS_PSEUDO},
    {0x63677270, "cgroup2", FS_PSEUDO},
    {0x1cd1, "devpts", FS_PSEUDO},
    {0x64626720, "debugfs", FS_PSEUDO},
    {0x74726163, "tracefs", FS_PSEUDO},
    {0x73636673, "securityfs", FS_PSEUDO},
    {0xcafe4a11, "bpf", FS_PSEUDO},
    {0x62656570, "configfs", FS_PSEUDO},
    {0x6165676c, "pstore", FS_PSEUDO},
    {0x19800202, "mqueue", FS_PSEUDO},
    {0x65735543, "fusectl", FS_PSEUDO},
    {0xde5e81e4, "efivarfs", FS_PSEUDO},
    {0xf97cff8c, "selinuxfs", FS_PSEUDO},
    {0x42494e4d, "binfmt_misc", FS_PSEUDO},
    {0x0187, "autofs", FS_PSEUDO},
    {VS_NSFS_MAGIC, "nsfs", FS_PSEUDO},
    {0x50495045, "pipefs", FS_PSEUDO},
    {0x534f434b, "sockfs", FS_PSEUDO},
};

static unsigned fs_flags(unsigned long f_type)
{
	for (size_t i = 0; i < ARRAY_SIZE(fs_table); i++)
		if (fs_table[i].magic == (uint32_t)f_type)
			return fs_table[i].flags;
	return 0;
}

bool vs_fs_is_pseudo(unsigned long f_type)
{
	return fs_flags(f_type) & FS_PSEUDO;
}

bool vs_fs_is_slow(unsigned long f_type)
{
	return fs_flags(f_type) & FS_SLOW;
}

void vs_fs_name(unsigned long f_type, char *buf, size_t size)
{
	for (size_t i = 0; i < ARRAY_SIZE(fs_table); i++)
		if (fs_table[i].magic == (uint32_t)f_type) {
			snprintf(buf, size, "%s", fs_table[i].name);
			return;
		}
	snprintf(buf, size, "0x%lx", f_type);
}
