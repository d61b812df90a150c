/* SPDX-License-Identifier: Apache-2.0 */
/* Building test trees and comparing their state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A text snapshot of every entry below (and including) root: one line per
 * entry, sorted, "relpath uid gid mode" (mode with the type bits). Paths are
 * escaped so names with newlines keep one line each. malloc'ed.
 */
char *tree_snapshot(const char *root);

/*
 * The extended attributes of every entry below (and including) root, symlinks'
 * own included: one line per attribute, sorted, "relpath name=HEX" (ACLs,
 * file capabilities and trusted.* byte for byte). malloc'ed; "" when there
 * are none.
 */
char *tree_xattr_snapshot(const char *root);

/* The mixed tree of the integration tests: files, dirs, symlinks (one to a
 * file outside, one to a directory outside), hard links, a FIFO, setuid and
 * setgid files, a sticky dir, a name with a newline, a 255-byte name, owners
 * 0, 1000, 1001 (inside a 0:524288:65536 map) and 70000 (outside). */
void tree_make_mixed(const char *root, const char *outside_file, const char *outside_dir);

/* n_dirs directories of n_files empty files each, owners varied, a few
 * setuid files; used by the crash tests. */
void tree_make_wide(const char *root, unsigned n_dirs, unsigned n_files);

/* The number of lines on which two snapshots differ (0: identical); prints
 * the first few differences to stderr. */
size_t tree_diff(const char *a, const char *b);
