/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: the crash journal. chown(2) drops setuid/setgid bits and
 * security.capability; a run killed between its chown and the write that
 * puts them back leaves a note on the root. These tests make that state
 * exactly (a note written the way apply.c writes it, then the chown the
 * killed run did) and check that the next run restores what was dropped,
 * removes the note, and never applies a note to a different file that took
 * over the inode number.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static char *top;

static void setup(void)
{
	if (tu_is_root())
		top = tu_mkdtemp("journal");
}

static void teardown(void)
{
	if (top)
		tu_rm_rf(top);
}

TestSuite(journal, .init = setup, .fini = teardown);

/* cap_net_raw+ep as setcap writes it: revision 2, effective, permitted bit 13 */
static const uint8_t cap_v2[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00};

static void note(const char *root, const char *file, uint32_t mode, bool with_cap,
                 int64_t mtime_skew)
{
	struct vs_ctx ctx = {0};
	struct vs_xattr_state xs = {0};
	struct statx stx;

	ctx.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(ctx.root_fd, 0);
	vs_state_init(&ctx.state);
	vs_state_attach(&ctx.state, ctx.root_fd, false);
	/* as vs_run sets it: notes name the root's filesystem, not its number */
	cr_assert_eq(statx(ctx.root_fd, "", AT_EMPTY_PATH, VS_STATX_MASK, &stx), 0);
	ctx.root_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	cr_assert_eq(statx(AT_FDCWD, file, AT_SYMLINK_NOFOLLOW, VS_STATX_MASK, &stx), 0);
	stx.stx_mtime.tv_sec += mtime_skew;
	if (with_cap) {
		xs.have_cap = true;
		xs.cap_len = sizeof(cap_v2);
		memcpy(xs.cap, cap_v2, sizeof(cap_v2));
	}
	cr_assert_eq(vs_journal_add(&ctx, &stx, S_IFREG | mode, &xs), 0,
	             "the root must take trusted.* xattrs here");
	vs_state_fini(&ctx.state);
	close(ctx.root_fd);
}

static bool has_notes(const char *root)
{
	char list[4096];
	ssize_t n = listxattr(root, list, sizeof(list));

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (!strncmp(list + i, "trusted.volshift.j.", 19))
			return true;
	return false;
}

Test(journal, killed_between_chown_and_restore)
{
	char *root, *file;
	struct stat st;
	uint8_t cap[32];
	ssize_t n;

	if (!tu_is_root())
		cr_skip_test("needs root for chown and trusted.* xattrs");
	root = strdup(tu_path(top, "vol"));
	file = strdup(tu_path(root, "ping"));
	tu_mkdir(root, 0, 0, 0755);
	tu_mkfile(file, 0, 0, 04755);
	cr_assert_eq(lsetxattr(file, "security.capability", cap_v2, sizeof(cap_v2), 0), 0);

	/* what a run killed right after its chown leaves behind */
	note(root, file, 04755, true, 0);
	cr_assert_eq(lchown(file, 524288, 524288), 0);
	cr_assert_eq(lstat(file, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755, "the kernel dropped setuid on chown");
	cr_assert_lt(lgetxattr(file, "security.capability", cap, sizeof(cap)), 0,
	             "and the capability");

	cr_assert_eq(tu_volshift(NULL, NULL, "shift", "--map", "0:524288:65536",
	                         "--policy=on-root-mismatch", root, NULL),
	             0);
	cr_assert_eq(lstat(file, &st), 0);
	cr_assert_eq(st.st_uid, 524288);
	cr_assert_eq(st.st_mode & 07777, 04755, "setuid back from the note");
	n = lgetxattr(file, "security.capability", cap, sizeof(cap));
	cr_assert_eq(n, 24, "capability back, as v3");
	cr_assert_eq(cap[3], 0x03);
	cr_assert_eq(cap[20] | cap[21] << 8 | cap[22] << 16 | (uint32_t)cap[23] << 24, 524288);
	cr_assert_not(has_notes(root), "the note is gone once it was used");
	free(root);
	free(file);
}

Test(journal, fsgroup_killed_between_chown_and_chmod)
{
	char *root, *file;
	struct stat st;

	if (!tu_is_root())
		cr_skip_test("needs root for chown and trusted.* xattrs");
	root = strdup(tu_path(top, "vol"));
	file = strdup(tu_path(root, "tool"));
	tu_mkdir(root, 0, 0, 0755);
	tu_mkfile(file, 0, 0, 02755);
	note(root, file, 02755, false, 0);
	cr_assert_eq(lchown(file, -1, 2000), 0);
	cr_assert_eq(tu_volshift(NULL, NULL, "fsgroup", "--gid", "2000",
	                         "--policy=on-root-mismatch", root, NULL),
	             0);
	cr_assert_eq(lstat(file, &st), 0);
	cr_assert_eq(st.st_gid, 2000);
	cr_assert_eq(st.st_mode & 07777, 02775, "setgid back, g+rw added");
	cr_assert_not(has_notes(root));
	free(root);
	free(file);
}

Test(journal, note_for_a_reused_inode_is_not_applied)
{
	char *root, *file;
	struct stat st;

	if (!tu_is_root())
		cr_skip_test("needs root for chown and trusted.* xattrs");
	root = strdup(tu_path(top, "vol"));
	file = strdup(tu_path(root, "newcomer"));
	tu_mkdir(root, 0, 0, 0755);
	tu_mkfile(file, 0, 0, 0644);
	/* a note for the same inode number but another file (other mtime):
	 * what is left when the noted file was deleted and its number reused */
	note(root, file, 04755, false, -100);
	cr_assert_eq(tu_volshift(NULL, NULL, "shift", "--map", "0:524288:65536", root, NULL), 0);
	cr_assert_eq(lstat(file, &st), 0);
	cr_assert_eq(st.st_uid, 524288);
	cr_assert_eq(st.st_mode & 07777, 0644, "a stranger's note must not make this setuid");
	cr_assert_not(has_notes(root), "a finished run drops notes it could not use");
	free(root);
	free(file);
}

/* The name and value of the one note on root, as vs_journal_add wrote it. */
static char *read_note(const char *root, uint8_t *value, size_t size, ssize_t *ret_len)
{
	char list[4096];
	ssize_t n = listxattr(root, list, sizeof(list));

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (!strncmp(list + i, "trusted.volshift.j.", 19)) {
			*ret_len = getxattr(root, list + i, value, size);
			cr_assert_gt(*ret_len, 0);
			return strdup(list + i);
		}
	cr_assert_fail("no note on %s", root);
	return NULL;
}

/* found by tests/fuzz/fuzz_journal: sscanf took other spellings of a name */
Test(journal, decode_takes_only_the_names_it_writes)
{
	struct vs_journal_ent e;
	char *root, *file, *name, other[128];
	const char *dot;
	uint8_t value[256];
	ssize_t len;

	if (!tu_is_root())
		cr_skip_test("needs root for trusted.* xattrs");
	root = strdup(tu_path(top, "vol"));
	file = strdup(tu_path(root, "ping"));
	tu_mkdir(root, 0, 0, 0755);
	tu_mkfile(file, 0, 0, 04755);
	note(root, file, 04755, false, 0);
	name = read_note(root, value, sizeof(value), &len);
	/* the state's key: the xattr's name less its "trusted.volshift." */
	cr_assert_eq(vs_journal_decode(name + 17, value, (size_t)len, &e), 0, "%s", name);
	cr_assert_eq(e.mode & 07777, 04755);

	/* "trusted.volshift.j.DEV.INO" spelt otherwise */
	dot = strchr(name + 19, '.');
	snprintf(other, sizeof(other), "trusted.volshift.j.0x%s", name + 19);
	cr_assert_eq(vs_journal_decode(other + 17, value, (size_t)len, &e), -EINVAL, "%s", other);
	snprintf(other, sizeof(other), "trusted.volshift.j.0%s", name + 19);
	cr_assert_eq(vs_journal_decode(other + 17, value, (size_t)len, &e), -EINVAL, "%s", other);
	snprintf(other, sizeof(other), "trusted.volshift.j.+%s", name + 19);
	cr_assert_eq(vs_journal_decode(other + 17, value, (size_t)len, &e), -EINVAL, "%s", other);
	snprintf(other, sizeof(other), "%s.0", name);
	cr_assert_eq(vs_journal_decode(other + 17, value, (size_t)len, &e), -EINVAL, "%s", other);
	snprintf(other, sizeof(other), "%.*s.0x%s", (int)(dot - name), name, dot + 1);
	cr_assert_eq(vs_journal_decode(other + 17, value, (size_t)len, &e), -EINVAL, "%s", other);
	free(name);
	free(root);
	free(file);
}

Test(journal, note_spelt_otherwise_is_not_applied)
{
	char *root, *file, *name, other[128];
	uint8_t value[256];
	struct stat st;
	ssize_t len;

	if (!tu_is_root())
		cr_skip_test("needs root for chown and trusted.* xattrs");
	root = strdup(tu_path(top, "vol"));
	file = strdup(tu_path(root, "plain"));
	tu_mkdir(root, 0, 0, 0755);
	tu_mkfile(file, 0, 0, 0644);
	/* a note for this very file (same inode, same mtime), but under a name
	 * no run writes, so no run removes it either */
	note(root, file, 04755, false, 0);
	name = read_note(root, value, sizeof(value), &len);
	snprintf(other, sizeof(other), "trusted.volshift.j.0%s", name + 19);
	cr_assert_eq(removexattr(root, name), 0);
	cr_assert_eq(setxattr(root, other, value, (size_t)len, 0), 0);
	cr_assert_eq(tu_volshift(NULL, NULL, "shift", "--map", "0:524288:65536", root, NULL), 0);
	cr_assert_eq(lstat(file, &st), 0);
	cr_assert_eq(st.st_uid, 524288);
	cr_assert_eq(st.st_mode & 07777, 0644, "a note no run removes must not make this setuid");
	free(name);
	free(root);
	free(file);
}
