/* SPDX-License-Identifier: Apache-2.0 */
/* The plain-syscall engine: one statx per entry, on the worker's own thread. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

static int sync_init(struct vs_worker *w, unsigned n_workers)
{
	(void)w;
	(void)n_workers;
	return 0;
}

static void sync_fini(struct vs_worker *w)
{
	(void)w;
}

static void sync_stat_batch(struct vs_worker *w, int dirfd, struct vs_dent *d, unsigned n)
{
	(void)w;
	for (unsigned i = 0; i < n; i++)
		d[i].err = statx(dirfd, d[i].name, VS_STATX_FLAGS, VS_STATX_MASK, &d[i].stx) < 0
		               ? (errno > 0 ? -errno : -EIO)
		               : 0;
}

const struct vs_engine_ops vs_engine_sync = {
    .name = "sync",
    .init = sync_init,
    .fini = sync_fini,
    .stat_batch = sync_stat_batch,
    /* its calls go one after another: a batch gains nothing, and a worker
     * falling idle gets a share of the rest after every entry */
    .window = 1,
};
