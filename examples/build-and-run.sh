#!/usr/bin/env bash
# Installs volshift into PREFIX, builds examples/embed.c against the installed
# pkg-config file (shared and static), checks what was installed, and runs the
# example on temp volumes. Exits non-zero on any failure; 77 (skip) for the
# runs when not root (they chown and mount).
#   examples/build-and-run.sh PREFIX [BUILD_DIR]     (BUILD_DIR default: build)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:?usage: build-and-run.sh PREFIX [BUILD_DIR]}
build=${2:-$src/build}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)

fail() { echo "build-and-run: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null

pcdir=$(dirname "$(find "$prefix" -name volshift.pc -path '*/pkgconfig/*' | head -n1)")
[ -f "$pcdir/volshift.pc" ] || fail "no volshift.pc installed under $prefix"
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir=$(pkg-config --variable=libdir volshift)
[ "$(pkg-config --modversion volshift)" = "$("$prefix/bin/volshift" --version | awk '{print $2}')" ] ||
	fail "pkg-config version differs from volshift --version"

# what an embedder and a runtime get
for f in "$prefix/bin/volshift" "$prefix/include/volshift.h" "$libdir/libvolshift.a" \
	"$libdir/libvolshift.so" "$prefix/share/man/man1/volshift.1" \
	"$prefix/share/man/man3/volshift.3" "$prefix/share/man/man3/vs_run.3" \
	"$prefix/share/containers/oci/hooks.d/volshift.json"; do
	[ -e "$f" ] || fail "not installed: $f"
done
soname=$(objdump -p "$libdir/libvolshift.so" | awk '/SONAME/ {print $2}')
[ -e "$libdir/$soname" ] || fail "no $soname link in $libdir"
others=$(nm -D --defined-only "$libdir/libvolshift.so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
	grep -v '^vs_' || true)
[ -z "$others" ] || fail "libvolshift.so exports more than vs_*: $others"
hookpath=$(sed -n 's/^ *"path": *"\([^"]*\)".*/\1/p' \
	"$prefix/share/containers/oci/hooks.d/volshift.json")
[ "$hookpath" = "$prefix/bin/volshift" ] || fail "hooks.d volshift.json names $hookpath"
if command -v groff >/dev/null; then
	for page in "$prefix/share/man/man1/volshift.1" "$prefix/share/man/man3/volshift.3"; do
		warnings=$(groff -t -man -Tutf8 -ww -z "$page" 2>&1)
		[ -z "$warnings" ] || fail "$page: $warnings"
	done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/volshift-embed-XXXXXX")
trap 'rm -rf "$work"' EXIT
# CFLAGS / LDFLAGS from the environment reach the Makefile (a sanitizer build needs them)
make -s -C "$work" -f "$src/examples/Makefile" SRC="$src/examples" all
ldd "$work/embed-static" | grep -q libvolshift && fail "embed-static links libvolshift.so"
ldd "$work/embed" | grep -q "$libdir/libvolshift.so" || fail "embed does not use $libdir"
echo "build-and-run: built embed and embed-static against $pcdir/volshift.pc"

if [ "$(id -u)" != 0 ]; then
	echo "build-and-run: not root, not running the examples (they chown and mount)" >&2
	exit 77
fi

# owners on disk, as `stat -c %u:%g`
own() { stat -c %u:%g "$1"; }

for bin in embed embed-static; do
	vol="$work/vol-$bin"
	mkdir -m 0755 "$vol" "$vol/sub"
	touch "$vol/root-file" "$vol/sub/user-file"
	chown 1000:1000 "$vol/sub" "$vol/sub/user-file"

	"$work/$bin" "$vol" >"$work/report.json" || fail "$bin: exit $? on $vol"
	[ "$(own "$vol")" = 524288:524288 ] || fail "$bin: root of $vol is $(own "$vol")"
	[ "$(own "$vol/root-file")" = 524288:524288 ] || fail "$bin: root-file not shifted"
	[ "$(own "$vol/sub/user-file")" = 525288:525288 ] || fail "$bin: user-file not shifted"
	grep -q '"skipped":false' "$work/report.json" || fail "$bin: first run skipped"

	"$work/$bin" "$vol" >"$work/report.json" || fail "$bin: second run exit $?"
	grep -q '"skipped":true' "$work/report.json" || fail "$bin: second run did not skip"
	echo "build-and-run: $bin shifted $vol, then skipped it"
done

# vs_mount in a private mount namespace: idmapped where the filesystem takes
# one (disk untouched), shifted on disk otherwise; either way the target shows
# the container's range.
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
	vol="$work/vol-mount"
	mkdir -m 0755 "$vol" "$work/target"
	touch "$vol/root-file"
	unshare -m --propagation private sh -c '
		"$1/embed" "$2" "$1/target" >"$1/mount.json" || exit 1
		stat -c %u:%g "$1/target/root-file"' sh "$work" "$vol" >"$work/seen" ||
		fail "embed: mount failed: $(cat "$work/mount.json")"
	[ "$(cat "$work/seen")" = 524288:524288 ] ||
		fail "embed: target shows $(cat "$work/seen"), not 524288:524288"
	method=$(sed -n 's/.*"method":"\([^"]*\)".*/\1/p' "$work/mount.json")
	case $method in
	idmapped-mount) [ "$(own "$vol/root-file")" = 0:0 ] || fail "idmapped mount changed the disk" ;;
	walk) [ "$(own "$vol/root-file")" = 524288:524288 ] || fail "fallback did not shift" ;;
	*) fail "unknown method $method" ;;
	esac
	echo "build-and-run: embed mounted $vol with method $method"

	# ramfs takes no idmapped mount: the fallback shifts on disk, then binds
	mkdir "$work/ramvol" "$work/target2"
	unshare -m --propagation private sh -c '
		mount -t ramfs ramfs "$1/ramvol" && touch "$1/ramvol/f" || exit 2
		"$1/embed" "$1/ramvol" "$1/target2" >"$1/mount2.json" || exit 1
		echo "$(stat -c %u:%g "$1/target2/f") $(stat -c %u:%g "$1/ramvol/f")"' \
		sh "$work" >"$work/seen" || fail "embed: ramfs mount failed: $(cat "$work/mount2.json")"
	[ "$(cat "$work/seen")" = "524288:524288 524288:524288" ] ||
		fail "embed: ramfs target/disk show $(cat "$work/seen")"
	grep -q '"method":"walk"' "$work/mount2.json" || fail "embed: ramfs was not shifted on disk"
	echo "build-and-run: embed mounted a ramfs volume with the on-disk fallback"
fi
echo "build-and-run: ok"
