/* SPDX-License-Identifier: Apache-2.0 */
/* Pure decisions: (inode, job) -> what to change. No syscalls here. */
#include "internal.h"

#include <sys/stat.h>

#define PERM_BITS 07777u

/* kubelet's masks (pkg/volume/volume_linux.go): rw 0660 / ro 0440, dirs add setgid and 0110 */
static uint32_t fsgroup_mask(const struct vs_job *job, uint32_t mode)
{
	uint32_t mask = job->read_only ? 0440u : 0660u;

	if (S_ISDIR(mode))
		mask |= S_ISGID | 0110u;
	return mask;
}

/* chown(2) on a non-directory drops S_ISUID and S_ISGID; the mode has to go back. */
static bool chown_drops_bits(uint32_t mode)
{
	return !S_ISDIR(mode) && !S_ISLNK(mode) && (mode & (S_ISUID | S_ISGID));
}

void vs_plan_entry(const struct vs_job *job, const struct vs_inode *ino, struct vs_plan *ret)
{
	uint32_t perm = ino->mode & PERM_BITS;

	*ret = (struct vs_plan){.uid = ino->uid, .gid = ino->gid, .mode = perm};

	if (job->mode == VS_MODE_FSGROUP) {
		ret->gid = job->gid;
		ret->chown = ino->gid != job->gid;
		if (!S_ISLNK(ino->mode))
			ret->mode = perm | fsgroup_mask(job, ino->mode);
	} else {
		bool mu = vs_idmap_map(&job->uid_map, ino->uid, &ret->uid);
		bool mg = vs_idmap_map(&job->gid_map, ino->gid, &ret->gid);

		/* an ID already in a TO range is shifted (another name of a hard
		 * link, a re-run), not unmapped: the count must not depend on the
		 * order in which names are reached */
		ret->unmapped = (!mu && !vs_idmap_in_to(&job->uid_map, ino->uid)) ||
		                (!mg && !vs_idmap_in_to(&job->gid_map, ino->gid));
		ret->chown = ret->uid != ino->uid || ret->gid != ino->gid;
	}

	if (S_ISLNK(ino->mode))
		return; /* symlink modes are never touched */
	ret->chmod = ret->mode != perm || (ret->chown && chown_drops_bits(ino->mode));
}

bool vs_root_matches(const struct vs_job *job, const struct vs_inode *root)
{
	if (!S_ISDIR(root->mode))
		return false;
	if (job->mode == VS_MODE_FSGROUP) {
		/* kubelet's requiresPermissionChange: a superset of rw|x (ro: r|x) */
		uint32_t want = job->read_only ? 0550u : 0770u;

		return root->gid == job->gid && (root->mode & want) == want &&
		       (root->mode & S_ISGID);
	}
	return vs_idmap_in_to(&job->uid_map, root->uid) && vs_idmap_in_to(&job->gid_map, root->gid);
}
