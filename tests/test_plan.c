/* SPDX-License-Identifier: Apache-2.0 */
/* Description: the per-entry decisions of both modes: the whole fsgroup table of
 * DESIGN.md (read-write and read-only), symlinks, setuid bits, the shift plan
 * and the on-root-mismatch rule. Pure functions, no root needed. */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "internal.h"

static struct vs_job fsgroup_job(bool ro)
{
	struct vs_job j;

	vs_job_init(&j, VS_MODE_FSGROUP);
	j.gid = 2000;
	j.read_only = ro;
	return j;
}

static struct vs_plan plan(const struct vs_job *j, uint32_t uid, uint32_t gid, uint32_t mode)
{
	struct vs_inode ino = {uid, gid, mode};
	struct vs_plan p;

	vs_plan_entry(j, &ino, &p);
	return p;
}

struct row {
	uint32_t type, before, rw, ro;
};

/* DESIGN.md, "fsgroup: kubelet-compatible group ownership" */
static const struct row table[] = {
    {S_IFREG, 0644, 0664, 0644}, {S_IFREG, 0600, 0660, 0640},   {S_IFREG, 0755, 0775, 0755},
    {S_IFREG, 0400, 0660, 0440}, {S_IFDIR, 0755, 02775, 02755}, {S_IFDIR, 0700, 02770, 02750},
};

Test(plan, fsgroup_table_read_write_and_read_only)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		for (int ro = 0; ro < 2; ro++) {
			struct vs_job j = fsgroup_job(ro);
			struct vs_plan p = plan(&j, 1000, 1000, table[i].type | table[i].before);
			uint32_t want = ro ? table[i].ro : table[i].rw;

			cr_assert_eq(p.mode, want, "row %zu %s: got %o want %o", i,
			             ro ? "ro" : "rw", p.mode, want);
			cr_assert(p.chown);
			cr_assert_eq(p.gid, 2000);
			cr_assert_eq(p.uid, 1000, "fsgroup keeps the owner");
			cr_assert_eq(p.chmod, want != table[i].before);
		}
	}
}

Test(plan, fsgroup_symlink_group_only)
{
	struct vs_job j = fsgroup_job(false);
	struct vs_plan p = plan(&j, 0, 0, S_IFLNK | 0777);

	cr_assert(p.chown);
	cr_assert_eq(p.gid, 2000);
	cr_assert_not(p.chmod);
	p = plan(&j, 0, 2000, S_IFLNK | 0777);
	cr_assert_not(p.chown);
	cr_assert_not(p.chmod);
}

Test(plan, fsgroup_nothing_when_right)
{
	struct vs_job j = fsgroup_job(false);
	struct vs_plan p = plan(&j, 5, 2000, S_IFREG | 0664);

	cr_assert_not(p.chown);
	cr_assert_not(p.chmod);
	p = plan(&j, 5, 2000, S_IFDIR | 02775);
	cr_assert_not(p.chown);
	cr_assert_not(p.chmod);
}

Test(plan, special_bits_survive_chown)
{
	struct vs_job j = fsgroup_job(false);
	/* chown drops S_ISUID/S_ISGID on non-directories: the mode must go back */
	struct vs_plan p = plan(&j, 0, 0, S_IFREG | 04775);

	cr_assert(p.chown);
	cr_assert(p.chmod);
	cr_assert_eq(p.mode, 04775);
	p = plan(&j, 0, 0, S_IFREG | 02775);
	cr_assert(p.chmod);
	cr_assert_eq(p.mode, 02775);
	p = plan(&j, 0, 0, S_IFDIR | 01777);
	cr_assert_eq(p.mode, 03777, "sticky kept, setgid added");
	p = plan(&j, 0, 0, S_IFDIR | 02775);
	cr_assert_not(p.chmod, "directories keep setgid across chown");
}

static struct vs_job shift_job(void)
{
	struct vs_job j;
	struct vs_idmap_range r = {0, 524288, 65536};

	vs_job_init(&j, VS_MODE_SHIFT);
	vs_idmap_add(&j.uid_map, &r);
	vs_idmap_add(&j.gid_map, &r);
	return j;
}

Test(plan, shift_maps_and_counts_unmapped)
{
	struct vs_job j = shift_job();
	struct vs_plan p = plan(&j, 1000, 2000, S_IFREG | 0644);

	cr_assert(p.chown);
	cr_assert_eq(p.uid, 525288);
	cr_assert_eq(p.gid, 526288);
	cr_assert_not(p.chmod);
	cr_assert_not(p.unmapped);

	p = plan(&j, 70000, 5, S_IFREG | 0644);
	cr_assert(p.chown);
	cr_assert_eq(p.uid, 70000);
	cr_assert_eq(p.gid, 524293);
	cr_assert(p.unmapped);

	p = plan(&j, 524288, 524288, S_IFREG | 04755);
	cr_assert_not(p.chown, "already shifted: never twice");
	cr_assert_not(p.chmod);

	p = plan(&j, 0, 0, S_IFREG | 06755);
	cr_assert(p.chmod);
	cr_assert_eq(p.mode, 06755);
	p = plan(&j, 0, 0, S_IFLNK | 0777);
	cr_assert(p.chown);
	cr_assert_not(p.chmod);
}

Test(plan, root_match_fsgroup)
{
	struct vs_job j = fsgroup_job(false);
	struct vs_inode ok = {0, 2000, S_IFDIR | 02770};

	cr_assert(vs_root_matches(&j, &ok));
	ok.mode = S_IFDIR | 02775;
	cr_assert(vs_root_matches(&j, &ok), "other bits are not looked at");
	ok.uid = 12345;
	cr_assert(vs_root_matches(&j, &ok), "the owner is not looked at");
	struct vs_inode no_sgid = {0, 2000, S_IFDIR | 0770};
	cr_assert_not(vs_root_matches(&j, &no_sgid));
	struct vs_inode wrong_gid = {0, 2001, S_IFDIR | 02770};
	cr_assert_not(vs_root_matches(&j, &wrong_gid));
	struct vs_inode short_mode = {0, 2000, S_IFDIR | 02750};
	cr_assert_not(vs_root_matches(&j, &short_mode));

	j = fsgroup_job(true);
	struct vs_inode ro = {0, 2000, S_IFDIR | 02755};
	cr_assert(vs_root_matches(&j, &ro), "02755 holds r-x for the group");
	ro.mode = S_IFDIR | 02705;
	cr_assert_not(vs_root_matches(&j, &ro));
}

Test(plan, root_match_shift)
{
	struct vs_job j = shift_job();
	struct vs_inode in = {524288, 524288, S_IFDIR | 0755};
	struct vs_inode half = {524288, 0, S_IFDIR | 0755};
	struct vs_inode out = {0, 0, S_IFDIR | 0755};

	cr_assert(vs_root_matches(&j, &in));
	cr_assert_not(vs_root_matches(&j, &half));
	cr_assert_not(vs_root_matches(&j, &out));
}

Test(plan, shift_already_shifted_is_not_unmapped)
{
	struct vs_job j = shift_job();
	struct vs_plan p = plan(&j, 525288, 525288, S_IFREG | 0644);

	cr_assert_not(p.unmapped, "an ID in a TO range was shifted before");
	p = plan(&j, 525288, 70000, S_IFREG | 0644);
	cr_assert(p.unmapped);
}
