// SPDX-License-Identifier: Apache-2.0

// kubelet: a kubelet-like fsGroup walk, the peer volshift fsgroup is measured
// against. Written from kubelet's documented behaviour
// (pkg/volume/volume_linux.go, fsGroupChangePolicy Always), not from its code:
//
//   - one goroutine, post-order: a directory's entries (unsorted, as
//     Readdirnames gives them) are done before the directory, the root last;
//   - every entry is reached by its full path and Lstat'ed;
//   - every entry gets Lchown(path, -1, gid), whether or not its group is
//     already gid;
//   - every entry but a symlink gets Chmod(path, mode|mask), mask 0660 (0440
//     read-only), directories also setgid and 0110;
//   - a failed chown or chmod is logged and the walk goes on; an entry that
//     cannot be listed or Lstat'ed stops the walk.
//
// Usage: kubelet [-read-only] [-q] -gid G DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

type walker struct {
	gid      int
	mask     os.FileMode
	quiet    bool
	entries  int64
	failures int64
}

func (w *walker) logf(format string, args ...interface{}) {
	w.failures++
	if !w.quiet {
		fmt.Fprintf(os.Stderr, "kubelet: "+format+"\n", args...)
	}
}

// fix changes one entry the way kubelet does.
func (w *walker) fix(path string, info os.FileInfo) {
	w.entries++
	if err := os.Lchown(path, -1, w.gid); err != nil {
		w.logf("lchown %s: %v", path, err)
	}
	if info.Mode()&os.ModeSymlink != 0 {
		return
	}
	mask := w.mask
	if info.IsDir() {
		mask |= os.ModeSetgid | 0110
	}
	if err := os.Chmod(path, info.Mode()|mask); err != nil {
		w.logf("chmod %s: %v", path, err)
	}
}

// names lists a directory without sorting it.
func names(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// walk does everything below path, then path itself.
func (w *walker) walk(path string, info os.FileInfo) error {
	if info.IsDir() {
		list, err := names(path)
		if err != nil {
			return err
		}
		for _, name := range list {
			child := filepath.Join(path, name)
			ci, err := os.Lstat(child)
			if err != nil {
				return err
			}
			if err := w.walk(child, ci); err != nil {
				return err
			}
		}
	}
	w.fix(path, info)
	return nil
}

func main() {
	gid := flag.Int("gid", -1, "the fsGroup")
	ro := flag.Bool("read-only", false, "use the read-only mask 0440")
	quiet := flag.Bool("q", false, "do not log failures")
	flag.Parse()
	if *gid < 0 || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: kubelet [-read-only] [-q] -gid G DIR")
		os.Exit(2)
	}
	w := &walker{gid: *gid, mask: 0660, quiet: *quiet}
	if *ro {
		w.mask = 0440
	}
	root := flag.Arg(0)
	start := time.Now()
	info, err := os.Lstat(root)
	if err == nil {
		err = w.walk(root, info)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("kubelet: fsgroup %s: %d entries, %d failed, %.3f s\n", root, w.entries,
		w.failures, time.Since(start).Seconds())
	if w.failures > 0 {
		os.Exit(1)
	}
}
