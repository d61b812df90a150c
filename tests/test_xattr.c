/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: the byte transforms of security.capability (v2 <-> v3,
 * rootid through the uid map) and of POSIX ACL xattrs (ACL_USER/ACL_GROUP
 * qualifiers through the uid/gid maps), on byte arrays; then the same
 * through vs_xattr_save/restore and vs_acl_shift on real files in a temp
 * directory, both with the *xattrat syscalls and with the /proc fallback.
 */
#include <criterion/criterion.h>

#include <acl/libacl.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"
#include "xattr.h"
#include "xattr_util.h"

static struct vs_idmap map1(uint32_t from, uint32_t to, uint32_t len)
{
	struct vs_idmap m = {.n = 1, .r = {{.from = from, .to = to, .len = len}}};
	return m;
}

/* ------------------------------------------------------------- capabilities */

Test(cap, v2_becomes_v3_with_mapped_rootid)
{
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t in[VS_CAP_SZ_2], out[VS_CAP_MAX], want[VS_CAP_SZ_3];
	size_t len = 0;

	xu_cap_v2(in, true, 1U << 13, 0); /* cap_net_raw+ep */
	xu_cap_v3(want, true, 1U << 13, 0, 524288);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 1);
	cr_assert_eq(len, VS_CAP_SZ_3);
	cr_assert_arr_eq(out, want, VS_CAP_SZ_3);
}

Test(cap, setcap_bytes_v2_to_v3)
{
	/* what `setcap cap_net_raw+ep` writes, as getfattr -e hex shows it */
	static const uint8_t in[] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
	                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t want[] = {0x01, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00,
	                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00};
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t out[VS_CAP_MAX];
	size_t len = 0;

	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 1);
	cr_assert_eq(len, sizeof(want));
	cr_assert_arr_eq(out, want, sizeof(want));
}

Test(cap, effective_flag_and_both_words_kept)
{
	struct vs_idmap m = map1(0, 100000, 65536);
	uint8_t in[VS_CAP_SZ_2], out[VS_CAP_MAX], want[VS_CAP_SZ_3];
	size_t len = 0;

	/* no effective bit; permitted and inheritable in both u32 words */
	xu_cap_v2(in, false, 0, 0);
	memcpy(in + 4, "\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x01", 16);
	memcpy(want, in, VS_CAP_SZ_2);
	want[3] = 0x03;
	xu_put_le32(want + 20, 100000);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 1);
	cr_assert_eq(len, VS_CAP_SZ_3);
	cr_assert_arr_eq(out, want, VS_CAP_SZ_3);
	cr_assert_eq(xu_get_le32(out) & VS_CAP_FLAGS_EFFECTIVE, 0);
}

Test(cap, v3_rootid_in_from_range_is_mapped)
{
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t in[VS_CAP_SZ_3], out[VS_CAP_MAX], want[VS_CAP_SZ_3];
	size_t len = 0;

	/* a capability owned by container uid 1000 (written in a nested ns) */
	xu_cap_v3(in, true, 1U << 13, 1U << 12, 1000);
	xu_cap_v3(want, true, 1U << 13, 1U << 12, 525288);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 1);
	cr_assert_eq(len, VS_CAP_SZ_3);
	cr_assert_arr_eq(out, want, VS_CAP_SZ_3);
}

Test(cap, v3_rootid_in_second_range)
{
	struct vs_idmap m = {.n = 2,
	                     .r = {{.from = 0, .to = 200000, .len = 1000},
	                           {.from = 5000, .to = 300000, .len = 100}}};
	uint8_t in[VS_CAP_SZ_3], out[VS_CAP_MAX];
	size_t len = 0;

	xu_cap_v3(in, true, 1, 0, 5042);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 1);
	cr_assert_eq(xu_get_le32(out + 20), 300042);
}

Test(cap, v3_rootid_outside_every_range_is_kept)
{
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t in[VS_CAP_SZ_3], out[VS_CAP_MAX];
	size_t len = 0;

	/* already shifted: the rootid lies in the TO range */
	xu_cap_v3(in, true, 1U << 13, 0, 524288);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 0);
	xu_cap_v3(in, true, 1U << 13, 0, 70000);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 0);
}

Test(cap, v2_kept_when_uid0_unmapped)
{
	struct vs_idmap m = map1(1000, 524288, 65536);
	uint8_t in[VS_CAP_SZ_2], out[VS_CAP_MAX];
	size_t len = 0;

	xu_cap_v2(in, true, 1U << 13, 0);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &m, out, &len), 0);
}

Test(cap, reverse_gives_back_v2_exactly)
{
	struct vs_idmap m = map1(0, 524288, 65536), r = map1(524288, 0, 65536);
	uint8_t orig[VS_CAP_SZ_2], mid[VS_CAP_MAX], back[VS_CAP_MAX];
	size_t mid_len = 0, back_len = 0;

	xu_cap_v2(orig, true, (1U << 13) | (1U << 10), 1U << 5);
	orig[6] = 0x42; /* a bit in the second byte of permitted[0] */
	cr_assert_eq(vs_cap_transform(orig, sizeof(orig), &m, mid, &mid_len), 1);
	cr_assert_eq(mid_len, VS_CAP_SZ_3);
	cr_assert_eq(vs_cap_transform(mid, mid_len, &r, back, &back_len), 1);
	cr_assert_eq(back_len, VS_CAP_SZ_2);
	cr_assert_arr_eq(back, orig, VS_CAP_SZ_2);
}

Test(cap, reverse_of_nonroot_rootid_stays_v3)
{
	struct vs_idmap r = map1(524288, 0, 65536);
	uint8_t in[VS_CAP_SZ_3], out[VS_CAP_MAX], want[VS_CAP_SZ_3];
	size_t len = 0;

	xu_cap_v3(in, false, 1U << 13, 0, 525288);
	xu_cap_v3(want, false, 1U << 13, 0, 1000);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &r, out, &len), 1);
	cr_assert_eq(len, VS_CAP_SZ_3);
	cr_assert_arr_eq(out, want, VS_CAP_SZ_3);
}

Test(cap, reverse_leaves_v2_alone)
{
	struct vs_idmap r = map1(524288, 0, 65536);
	uint8_t in[VS_CAP_SZ_2], out[VS_CAP_MAX];
	size_t len = 0;

	/* never shifted: uid 0 is not in the reversed FROM range */
	xu_cap_v2(in, true, 1U << 13, 0);
	cr_assert_eq(vs_cap_transform(in, sizeof(in), &r, out, &len), 0);
}

Test(cap, v1_and_malformed_pass_through)
{
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t v[32] = {0}, out[VS_CAP_MAX];
	size_t len = 0;

	xu_put_le32(v, VS_CAP_REVISION_1 | VS_CAP_FLAGS_EFFECTIVE);
	cr_assert_eq(vs_cap_transform(v, VS_CAP_SZ_1, &m, out, &len), 0);
	/* v2 magic, v3 size and the other way round */
	xu_put_le32(v, VS_CAP_REVISION_2);
	cr_assert_eq(vs_cap_transform(v, VS_CAP_SZ_3, &m, out, &len), 0);
	xu_put_le32(v, VS_CAP_REVISION_3);
	cr_assert_eq(vs_cap_transform(v, VS_CAP_SZ_2, &m, out, &len), 0);
	/* unknown revision, too short, empty */
	xu_put_le32(v, 0x04000000U);
	cr_assert_eq(vs_cap_transform(v, VS_CAP_SZ_3, &m, out, &len), 0);
	cr_assert_eq(vs_cap_transform(v, 3, &m, out, &len), 0);
	cr_assert_eq(vs_cap_transform(v, 0, &m, out, &len), 0);
	cr_assert_eq(len, 0, "out length untouched when nothing changes");
}

/* -------------------------------------------------------------------- ACLs */

/* u::rw-, u:1000:r--, g::r--, g:2000:rw-, m::rw-, o::---, as setfacl
 * writes it (getfattr -e hex on ext4). */
static const uint8_t acl_1000_2000[] = {
    0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0x02,
    0x00, 0x04, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x04, 0x00, 0x04, 0x00, 0xff, 0xff,
    0xff, 0xff, 0x08, 0x00, 0x06, 0x00, 0xd0, 0x07, 0x00, 0x00, 0x10, 0x00, 0x06,
    0x00, 0xff, 0xff, 0xff, 0xff, 0x20, 0x00, 0x04, 0x00, 0xff, 0xff, 0xff, 0xff};

Test(acl, user_and_group_qualifiers_mapped)
{
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t buf[sizeof(acl_1000_2000)];

	memcpy(buf, acl_1000_2000, sizeof(buf));
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), 2);
	cr_assert_eq(xu_get_le32(buf + 4 + 8 * 1 + 4), 525288);
	cr_assert_eq(xu_get_le32(buf + 4 + 8 * 3 + 4), 526288);
	/* everything else byte for byte: tags, perms, the other entries */
	for (size_t i = 0; i < sizeof(buf); i++) {
		bool qual = (i >= 16 && i < 20) || (i >= 32 && i < 36);
		if (!qual)
			cr_assert_eq(buf[i], acl_1000_2000[i], "byte %zu changed", i);
	}
}

Test(acl, separate_uid_and_gid_maps)
{
	struct vs_idmap um = map1(1000, 100000, 10), gm = map1(2000, 200000, 10);
	uint8_t buf[sizeof(acl_1000_2000)];

	memcpy(buf, acl_1000_2000, sizeof(buf));
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &um, &gm), 2);
	cr_assert_eq(xu_get_le32(buf + 4 + 8 * 1 + 4), 100000);
	cr_assert_eq(xu_get_le32(buf + 4 + 8 * 3 + 4), 200000);

	/* the uid map never applies to a group entry, nor the other way */
	memcpy(buf, acl_1000_2000, sizeof(buf));
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &gm, &um), 0);
	cr_assert_arr_eq(buf, acl_1000_2000, sizeof(buf));
}

Test(acl, ids_outside_from_ranges_left_alone)
{
	struct vs_idmap m = map1(1500, 524288, 100); /* neither 1000 nor 2000 */
	uint8_t buf[sizeof(acl_1000_2000)];

	memcpy(buf, acl_1000_2000, sizeof(buf));
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), 0);
	cr_assert_arr_eq(buf, acl_1000_2000, sizeof(buf));

	m = map1(1000, 524288, 1); /* only the user */
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), 1);
	cr_assert_eq(xu_get_le32(buf + 4 + 8 * 1 + 4), 524288);
	cr_assert_eq(xu_get_le32(buf + 4 + 8 * 3 + 4), 2000);
}

Test(acl, undefined_id_of_obj_entries_never_mapped)
{
	/* a range that covers 0xffffffff, the qualifier of u::, g::, m::, o:: */
	struct vs_idmap m = map1(4294901760U, 0, 65536);
	uint8_t buf[sizeof(acl_1000_2000)];

	memcpy(buf, acl_1000_2000, sizeof(buf));
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), 0);
	cr_assert_arr_eq(buf, acl_1000_2000, sizeof(buf));
}

Test(acl, reverse_round_trip_exact)
{
	struct vs_idmap m = map1(0, 524288, 65536), r = map1(524288, 0, 65536);
	uint8_t buf[sizeof(acl_1000_2000)];

	memcpy(buf, acl_1000_2000, sizeof(buf));
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), 2);
	/* idempotent: shifted qualifiers lie in no FROM range */
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), 0);
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &r, &r), 2);
	cr_assert_arr_eq(buf, acl_1000_2000, sizeof(buf));
}

Test(acl, many_entries)
{
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t buf[4 + 8 * 100];

	xu_put_le32(buf, VS_ACL_XATTR_VERSION);
	for (unsigned i = 0; i < 100; i++) {
		uint8_t *e = buf + 4 + 8 * i;
		e[0] = i % 2 ? VS_ACL_GROUP : VS_ACL_USER;
		e[1] = 0;
		e[2] = 7;
		e[3] = 0;
		xu_put_le32(e + 4, i * 10);
	}
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), 100);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(xu_get_le32(buf + 4 + 8 * i + 4), 524288 + i * 10);
}

Test(acl, malformed_refused)
{
	struct vs_idmap m = map1(0, 524288, 65536);
	uint8_t buf[sizeof(acl_1000_2000)];

	memcpy(buf, acl_1000_2000, sizeof(buf));
	cr_assert_eq(vs_acl_transform(buf, 3, &m, &m), -EINVAL);
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf) - 1, &m, &m), -EINVAL);
	cr_assert_eq(vs_acl_transform(buf, 4 + 7, &m, &m), -EINVAL);
	buf[0] = 1; /* version 1 */
	cr_assert_eq(vs_acl_transform(buf, sizeof(buf), &m, &m), -EINVAL);
	buf[0] = 2;
	cr_assert_eq(vs_acl_transform(buf, 4, &m, &m), 0, "a header alone is an empty ACL");
	cr_assert_arr_eq(buf, acl_1000_2000, sizeof(buf));
}

/* ----------------------------------------- save / restore / acl_shift on files */

struct fixture {
	struct vs_job job;
	struct vs_ctx ctx;
	char *dir;
	int dfd;
};

/* The temp dir of the running test, removed by the suite's fini even when
 * an assertion ends the test early. */
static char *test_dir;

static void files_cleanup(void)
{
	if (test_dir) {
		tu_rm_rf(test_dir);
		free(test_dir);
		test_dir = NULL;
	}
}

TestSuite(files, .fini = files_cleanup);

static void fixture_init(struct fixture *f, enum vs_mode mode)
{
	memset(f, 0, sizeof(*f));
	f->job.mode = mode;
	f->job.uid_map = map1(0, 524288, 65536);
	f->job.gid_map = map1(0, 524288, 65536);
	f->ctx.job = &f->job;
	f->ctx.xattrs = true;
	f->dir = test_dir = tu_mkdtemp("xattr");
	f->dfd = open(f->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(f->dfd, 0);
}

/* What the library calls, without the listxattr hint it passes along. */
static int vs_xattr_save(struct vs_ctx *ctx, int dirfd, const char *name, struct vs_xattr_state *st)
{
	int acl;

	return vs_xattr_save_hint(ctx, dirfd, name, st, &acl);
}

static int vs_acl_shift(struct vs_ctx *ctx, int dirfd, const char *name, uint32_t mode)
{
	return vs_acl_shift_hint(ctx, dirfd, name, mode, -1);
}

static void fixture_fini(struct fixture *f)
{
	close(f->dfd);
	files_cleanup();
	f->dir = NULL;
}

/* The ACL of path (libacl's view) must name exactly these qualifiers. */
static void assert_acl_quals(const char *path, acl_type_t type, long uid, long gid)
{
	long u = -1, g = -1;

	cr_assert_eq(xu_acl_quals(path, type, &u, &g), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(u, uid, "%s: user qualifier %ld, want %ld", path, u, uid);
	cr_assert_eq(g, gid, "%s: group qualifier %ld, want %ld", path, g, gid);
}

static void acl_shift_on_files(bool use_at)
{
	struct fixture f;
	struct statx stx;
	uint32_t mode_before;
	int n;

	fixture_init(&f, VS_MODE_SHIFT);
	/* false: as on a kernel without the *xattrat syscalls */
	f.ctx.no_xattrat = !use_at;
	tu_mkfile(tu_path(f.dir, "f"), getuid(), getgid(), 0640);
	tu_mkdir(tu_path(f.dir, "d"), getuid(), getgid(), 0750);
	cr_assert_eq(symlink("f", tu_path(f.dir, "l")), 0);
	cr_assert_eq(xu_acl_set(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 1000, 2000), 0);
	cr_assert_eq(xu_acl_set(tu_path(f.dir, "d"), ACL_TYPE_ACCESS, 1000, 2000), 0);
	cr_assert_eq(xu_acl_set(tu_path(f.dir, "d"), ACL_TYPE_DEFAULT, 1001, 2001), 0);
	cr_assert_eq(xu_acl_set(f.dir, ACL_TYPE_DEFAULT, 3, 4), 0);

	cr_assert_eq(statx(f.dfd, "f", AT_SYMLINK_NOFOLLOW, STATX_MODE, &stx), 0);
	mode_before = stx.stx_mode;

	/* dry run: counted, nothing written */
	f.job.dry_run = true;
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "f", S_IFREG | 0640), 1);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "d", S_IFDIR | 0750), 2);
	assert_acl_quals(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 1000, 2000);
	assert_acl_quals(tu_path(f.dir, "d"), ACL_TYPE_DEFAULT, 1001, 2001);

	f.job.dry_run = false;
	/* a symlink gets no ACL work, and its target is not touched */
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "l", S_IFLNK | 0777), 0);
	assert_acl_quals(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 1000, 2000);

	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "f", S_IFREG | 0640), 1);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "d", S_IFDIR | 0750), 2);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "", S_IFDIR | 0700), 1, "the root, by its fd");
	assert_acl_quals(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 525288, 526288);
	assert_acl_quals(tu_path(f.dir, "d"), ACL_TYPE_ACCESS, 525288, 526288);
	assert_acl_quals(tu_path(f.dir, "d"), ACL_TYPE_DEFAULT, 525289, 526289);
	assert_acl_quals(f.dir, ACL_TYPE_DEFAULT, 524291, 524292);
	/* the mode the ACL implies (group bits = mask) did not move */
	cr_assert_eq(statx(f.dfd, "f", AT_SYMLINK_NOFOLLOW, STATX_MODE, &stx), 0);
	cr_assert_eq(stx.stx_mode, mode_before);

	/* a second pass finds nothing to do */
	n = vs_acl_shift(&f.ctx, f.dfd, "f", S_IFREG | 0640);
	cr_assert_eq(n, 0);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "d", S_IFDIR | 0750), 0);

	/* --reverse: the map comes reversed; the bytes come back as they were */
	f.job.uid_map = map1(524288, 0, 65536);
	f.job.gid_map = map1(524288, 0, 65536);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "f", S_IFREG | 0640), 1);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "d", S_IFDIR | 0750), 2);
	assert_acl_quals(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 1000, 2000);
	assert_acl_quals(tu_path(f.dir, "d"), ACL_TYPE_DEFAULT, 1001, 2001);

	/* no ACL at all (the root's default would be inherited), a missing entry */
	cr_assert_eq(acl_delete_def_file(f.dir), 0);
	tu_mkfile(tu_path(f.dir, "plain"), getuid(), getgid(), 0644);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "plain", S_IFREG | 0644), 0);
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "gone", S_IFREG | 0644), -ENOENT);
	fixture_fini(&f);
}

Test(files, acl_shift_xattrat)
{
	acl_shift_on_files(true);
}

Test(files, acl_shift_proc_fallback)
{
	acl_shift_on_files(false);
}

Test(files, big_acl_beyond_stack_buffer)
{
	struct fixture f;
	uint8_t raw[4 + 8 * 200];
	ssize_t n;

	fixture_init(&f, VS_MODE_SHIFT);
	tu_mkfile(tu_path(f.dir, "f"), getuid(), getgid(), 0640);
	/* 100 named users and 95 named groups, plus the 5 required entries */
	n = xu_acl_set_many(tu_path(f.dir, "f"), 100, 95);
	cr_assert_eq(n, 0, "%s", strerror(errno));
	cr_assert_eq(vs_acl_shift(&f.ctx, f.dfd, "f", S_IFREG | 0640), 1);
	n = lgetxattr(tu_path(f.dir, "f"), VS_XATTR_ACL_ACCESS, raw, sizeof(raw));
	cr_assert_gt(n, 4 + 8 * 100);
	for (size_t off = 4; off < (size_t)n; off += 8) {
		uint16_t tag = (uint16_t)(raw[off] | raw[off + 1] << 8);
		uint32_t id = xu_get_le32(raw + off + 4);
		if (tag == VS_ACL_USER || tag == VS_ACL_GROUP)
			cr_assert_geq(id, 524288, "qualifier %u not shifted", id);
	}
	fixture_fini(&f);
}

static void caps_on_files(bool use_at)
{
	struct fixture f;
	struct vs_xattr_state st;
	uint8_t v2[VS_CAP_SZ_2], v3[VS_CAP_SZ_3], raw[64];
	ssize_t n;

	if (!tu_is_root())
		cr_skip_test("writing security.capability needs CAP_SETFCAP");
	fixture_init(&f, VS_MODE_SHIFT);
	/* false: as on a kernel without the *xattrat syscalls */
	f.ctx.no_xattrat = !use_at;
	tu_mkfile(tu_path(f.dir, "ping"), 0, 0, 0755);
	tu_mkfile(tu_path(f.dir, "plain"), 0, 0, 0755);
	cr_assert_eq(symlink("ping", tu_path(f.dir, "l")), 0);
	xu_cap_v2(v2, true, 1U << 13, 0);
	xu_cap_v3(v3, true, 1U << 13, 0, 524288);
	cr_assert_eq(lsetxattr(tu_path(f.dir, "ping"), VS_XATTR_CAPS, v2, sizeof(v2), 0), 0);

	/* save -> chown (the kernel drops the capability) -> restore */
	cr_assert_eq(vs_xattr_save(&f.ctx, f.dfd, "ping", &st), 0);
	cr_assert(st.have_cap);
	cr_assert_eq(st.cap_len, VS_CAP_SZ_2);
	cr_assert_arr_eq(st.cap, v2, VS_CAP_SZ_2);
	cr_assert_eq(fchownat(f.dfd, "ping", 524288, 524288, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert_lt(lgetxattr(tu_path(f.dir, "ping"), VS_XATTR_CAPS, raw, sizeof(raw)), 0);
	cr_assert_eq(vs_xattr_restore(&f.ctx, f.dfd, "ping", &st), 1);
	n = lgetxattr(tu_path(f.dir, "ping"), VS_XATTR_CAPS, raw, sizeof(raw));
	cr_assert_eq(n, VS_CAP_SZ_3);
	cr_assert_arr_eq(raw, v3, VS_CAP_SZ_3);

	/* nothing there: nothing saved, nothing written */
	cr_assert_eq(vs_xattr_save(&f.ctx, f.dfd, "plain", &st), 0);
	cr_assert_not(st.have_cap);
	cr_assert_eq(vs_xattr_restore(&f.ctx, f.dfd, "plain", &st), 0);
	cr_assert_lt(lgetxattr(tu_path(f.dir, "plain"), VS_XATTR_CAPS, raw, sizeof(raw)), 0);
	cr_assert_eq(errno, ENODATA);

	/* a symlink is never followed to the capability behind it */
	cr_assert_eq(vs_xattr_save(&f.ctx, f.dfd, "l", &st), 0);
	cr_assert_not(st.have_cap);

	/* --reverse: v3 524288 back to the v2 setcap wrote */
	f.job.uid_map = map1(524288, 0, 65536);
	cr_assert_eq(vs_xattr_save(&f.ctx, f.dfd, "ping", &st), 0);
	cr_assert_eq(fchownat(f.dfd, "ping", 0, 0, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert_eq(vs_xattr_restore(&f.ctx, f.dfd, "ping", &st), 1);
	n = lgetxattr(tu_path(f.dir, "ping"), VS_XATTR_CAPS, raw, sizeof(raw));
	cr_assert_eq(n, VS_CAP_SZ_2);
	cr_assert_arr_eq(raw, v2, VS_CAP_SZ_2);

	/* fsgroup: the exact bytes, whatever the maps say */
	f.job.mode = VS_MODE_FSGROUP;
	f.job.uid_map = map1(0, 524288, 65536);
	cr_assert_eq(vs_xattr_save(&f.ctx, f.dfd, "ping", &st), 0);
	cr_assert_eq(fchownat(f.dfd, "ping", -1, 1234, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert_eq(vs_xattr_restore(&f.ctx, f.dfd, "ping", &st), 1);
	n = lgetxattr(tu_path(f.dir, "ping"), VS_XATTR_CAPS, raw, sizeof(raw));
	cr_assert_eq(n, VS_CAP_SZ_2);
	cr_assert_arr_eq(raw, v2, VS_CAP_SZ_2);

	/* dry run: counted, not written */
	f.job.dry_run = true;
	cr_assert_eq(lremovexattr(tu_path(f.dir, "ping"), VS_XATTR_CAPS), 0);
	cr_assert_eq(vs_xattr_restore(&f.ctx, f.dfd, "ping", &st), 1);
	cr_assert_lt(lgetxattr(tu_path(f.dir, "ping"), VS_XATTR_CAPS, raw, sizeof(raw)), 0);

	fixture_fini(&f);
}

Test(files, caps_xattrat)
{
	caps_on_files(true);
}

Test(files, caps_proc_fallback)
{
	caps_on_files(false);
}

/* Many user.* xattrs: a name list longer than the list buffer. */
static void add_long_list(const char *path)
{
	char name[128];

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name),
		         "user.padding-to-make-the-list-long-%02d-"
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		         i);
		cr_assert_eq(lsetxattr(path, name, "1", 1, 0), 0, "%s", strerror(errno));
	}
}

static void hints(bool long_list)
{
	struct fixture f;
	struct vs_xattr_state st;
	uint8_t v2[VS_CAP_SZ_2];
	int acl = 42;

	if (!tu_is_root())
		cr_skip_test("writing security.capability needs CAP_SETFCAP");
	fixture_init(&f, VS_MODE_SHIFT);
	tu_mkfile(tu_path(f.dir, "both"), 0, 0, 0755);
	tu_mkfile(tu_path(f.dir, "none"), 0, 0, 0644);
	tu_mkdir(tu_path(f.dir, "d"), 0, 0, 0755);
	xu_cap_v2(v2, true, 1U << 13, 0);
	cr_assert_eq(xu_acl_set(tu_path(f.dir, "both"), ACL_TYPE_ACCESS, 1000, 2000), 0);
	cr_assert_eq(lsetxattr(tu_path(f.dir, "both"), VS_XATTR_CAPS, v2, sizeof(v2), 0), 0);
	cr_assert_eq(xu_acl_set(tu_path(f.dir, "d"), ACL_TYPE_ACCESS, 1000, 2000), 0);
	cr_assert_eq(xu_acl_set(tu_path(f.dir, "d"), ACL_TYPE_DEFAULT, 1000, 2000), 0);
	if (long_list) {
		add_long_list(tu_path(f.dir, "both"));
		add_long_list(tu_path(f.dir, "none"));
		add_long_list(tu_path(f.dir, "d"));
	}

	cr_assert_eq(vs_xattr_save_hint(&f.ctx, f.dfd, "both", &st, &acl), 0);
	cr_assert(st.have_cap);
	cr_assert_arr_eq(st.cap, v2, VS_CAP_SZ_2);
	/* a list too long to read in one go: "cannot tell", never "none" */
	cr_assert_eq(acl, long_list ? -1 : 1);
	cr_assert_eq(vs_acl_shift_hint(&f.ctx, f.dfd, "both", S_IFREG | 0755, acl), 1);
	assert_acl_quals(tu_path(f.dir, "both"), ACL_TYPE_ACCESS, 525288, 526288);

	cr_assert_eq(vs_xattr_save_hint(&f.ctx, f.dfd, "none", &st, &acl), 0);
	cr_assert_not(st.have_cap);
	cr_assert_eq(acl, long_list ? -1 : 0);
	cr_assert_eq(vs_acl_shift_hint(&f.ctx, f.dfd, "none", S_IFREG | 0644, acl), 0);

	/* a directory: both ACLs found through one list (or two reads) */
	cr_assert_eq(vs_acl_shift_hint(&f.ctx, f.dfd, "d", S_IFDIR | 0755, -1), 2);
	assert_acl_quals(tu_path(f.dir, "d"), ACL_TYPE_ACCESS, 525288, 526288);
	assert_acl_quals(tu_path(f.dir, "d"), ACL_TYPE_DEFAULT, 525288, 526288);
	fixture_fini(&f);
}

Test(files, save_hint_short_list)
{
	hints(false);
}

Test(files, save_hint_long_list)
{
	hints(true);
}

Test(files, hint_zero_is_trusted)
{
	struct fixture f;

	/* the hint is what spares the read: 0 means the caller saw no ACL */
	fixture_init(&f, VS_MODE_SHIFT);
	tu_mkfile(tu_path(f.dir, "f"), getuid(), getgid(), 0640);
	cr_assert_eq(xu_acl_set(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 1000, 2000), 0);
	cr_assert_eq(vs_acl_shift_hint(&f.ctx, f.dfd, "f", S_IFREG | 0640, 0), 0);
	assert_acl_quals(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 1000, 2000);
	cr_assert_eq(vs_acl_shift_hint(&f.ctx, f.dfd, "f", S_IFREG | 0640, -1), 1);
	assert_acl_quals(tu_path(f.dir, "f"), ACL_TYPE_ACCESS, 525288, 526288);
	fixture_fini(&f);
}
