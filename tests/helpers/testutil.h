/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers every test program shares: temp trees, running the CLI, skipping. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A fresh directory under $TMPDIR (default /tmp); never NULL (aborts). */
char *tu_mkdtemp(const char *tag);

/* Removes a tree made by a test (no symlink following, stays on its filesystem). */
void tu_rm_rf(const char *path);

/* Runs argv (argv[0] a path), waits; captures stdout/stderr (malloc'ed, NUL
 * terminated) when out/err are not NULL. Returns the exit status, or 128+sig. */
int tu_run(char *const argv[], char **out, char **err);

/* tu_run of the volshift binary with a NULL-terminated list of arguments. */
int tu_volshift(char **out, char **err, ...) __attribute__((sentinel));

/* Runs a shell command line; returns its exit status. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* path = dir + "/" + rel, in a static rotating buffer (8 slots). */
const char *tu_path(const char *dir, const char *rel);

/* Writes a file with owner, group and mode (no symlink following). */
void tu_mkfile(const char *path, uid_t uid, gid_t gid, mode_t mode);
void tu_mkdir(const char *path, uid_t uid, gid_t gid, mode_t mode);

/* Enters a private mount namespace (the test process only), so mounts
 * vanish with it. Returns false (and the test should skip) when it cannot. */
bool tu_private_mounts(void);

bool tu_is_root(void);

/* How many flock() waiters /proc/locks shows blocked on path's inode: a
 * test holding the lock knows then that its runs are all waiting on it. */
int tu_flock_waiters(const char *path);

/* Whether s (may be NULL) contains needle (for JSON / message checks). */
bool tu_contains(const char *s, const char *needle);

/* Reads a number field "key": N of a flat JSON object (true/false read as
 * 1/0); -1 if missing. */
long long tu_json_num(const char *json, const char *key);
