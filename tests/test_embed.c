/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Description: packaging for embedders. `cmake --install` of this build into a
 * temp prefix, then examples/build-and-run.sh: the installed files (binary,
 * shared + static library, header, volshift.pc, man pages, hooks.d JSON), only
 * vs_* exported, examples/embed.c built with the installed pkg-config file
 * (shared and static) and run on temp volumes (vs_run, and vs_mount both
 * idmapped and with the on-disk fallback). Needs root to run the example;
 * the script exits 77 without it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

Test(embed, installed_example_builds_and_runs, .timeout = 600)
{
	char *prefix = tu_mkdtemp("prefix");
	int r;

#if defined(__SANITIZE_ADDRESS__)
	/* the sanitizer build's library needs the runtime in what links it */
	setenv("CFLAGS", "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer", 1);
	setenv("LDFLAGS", "-fsanitize=address,undefined", 1);
#endif
	r = tu_sh("'%s/examples/build-and-run.sh' '%s' '%s' >&2", VS_SOURCE_DIR, prefix,
	          VS_BUILD_DIR);
	tu_rm_rf(prefix);
	free(prefix);
	if (r == 77)
		cr_skip_test("not root: the example chowns and mounts (it was built)");
	cr_assert_eq(r, 0, "examples/build-and-run.sh failed (exit %d), see its stderr", r);
}
