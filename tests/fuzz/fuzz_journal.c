/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vs_journal_decode: a crash-journal note as a run finds it in the volume's
 * state (key j.DEV.INO: a trusted.volshift.j.DEV.INO xattr of the root, or a
 * file of .volshift) and its value, which the next run loads and restores
 * modes and capabilities from.
 *
 * Input: NAME \0 VALUE (the value is all the bytes after the first NUL).
 *
 * Properties of a note that decodes:
 * - its name is exactly the one vs_journal_add writes for its DEV and INO
 *   (lower-case hex, no sign, no 0x, no leading zeros, nothing after):
 *   the name is how the note is removed once it is done, so a note decoded
 *   from another spelling would outlive its run and be applied again by
 *   every later one;
 * - its value has the size and magic of a note, and at most 32 bytes of
 *   capability (have_cap exactly when there are some);
 * - vs_journal_lookup finds it for a file with its device, inode and mtime
 *   and no other mtime, and then gives that file's own type with the
 *   note's permission bits only (a note never changes what a file is).
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/sysmacros.h>

#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	struct vs_journal_ent e, *ents;
	struct vs_xattr_state xs;
	struct vs_ctx ctx = {0};
	struct statx stx = {0};
	char *name, key[96];
	uint8_t *value;
	size_t vlen;
	uint32_t mode;
	int r;

	if (!nul)
		return 0;
	name = fuzz_strndup(data, (size_t)(nul - data));
	vlen = size - (size_t)(nul - data) - 1;
	value = malloc(vlen ? vlen : 1);
	if (!value)
		abort();
	memcpy(value, nul + 1, vlen);

	memset(&e, 0x5a, sizeof(e));
	r = vs_journal_decode(name, value, vlen, &e);
	FUZZ_CHECK(r == 0 || r == -EINVAL, "returned %d", r);
	if (r < 0)
		goto out;

	snprintf(key, sizeof(key), "j.%" PRIx64 ".%" PRIx64, e.dev, e.ino);
	FUZZ_CHECK(!strcmp(key, name), "'%s' decodes as the note '%s'", name, key);
	FUZZ_CHECK(vlen == 56, "a %zu-byte value decodes", vlen);
	FUZZ_CHECK(e.xs.cap_len <= sizeof(e.xs.cap) && e.xs.have_cap == (e.xs.cap_len > 0),
	           "cap_len %u, have_cap %d", e.xs.cap_len, e.xs.have_cap);

	/* a file the note is for, of any type and mode */
	stx.stx_dev_major = major(e.dev);
	stx.stx_dev_minor = minor(e.dev);
	stx.stx_ino = e.ino;
	stx.stx_mtime.tv_sec = e.mtime_sec;
	stx.stx_mtime.tv_nsec = e.mtime_nsec;
	stx.stx_mode = (uint16_t)(vlen > 8 ? value[8] << 8 | value[9] : 0);
	ents = malloc(sizeof(*ents));
	if (!ents)
		abort();
	ents[0] = e;
	ctx.journal = ents;
	ctx.journal_n = 1;
	FUZZ_CHECK(makedev(stx.stx_dev_major, stx.stx_dev_minor) == e.dev, "dev %" PRIx64, e.dev);
	FUZZ_CHECK(vs_journal_lookup(&ctx, &stx, &mode, &xs), "the note's own file not found");
	FUZZ_CHECK((mode & S_IFMT) == (stx.stx_mode & S_IFMT) && (mode & ~(S_IFMT | 07777u)) == 0,
	           "file mode %#o with note mode %#o gives %#o", stx.stx_mode, e.mode, mode);
	FUZZ_CHECK((mode & 07777) == (e.mode & 07777), "note mode %#o gives %#o", e.mode, mode);
	FUZZ_CHECK(xs.have_cap == e.xs.have_cap && xs.cap_len == e.xs.cap_len &&
	               !memcmp(xs.cap, e.xs.cap, xs.cap_len),
	           "the note's capability is not what lookup gives");
	stx.stx_mtime.tv_nsec ^= 1;
	FUZZ_CHECK(!vs_journal_lookup(&ctx, &stx, &mode, &xs), "found for another mtime");
	free(ents);
out:
	free(value);
	free(name);
	return 0;
}
