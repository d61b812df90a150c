#!/usr/bin/env bash
# Builds volshift and runs it on a small example volume it makes in a temp
# dir: shift, the same shift undone, fsgroup, and an idmapped mount (in a
# private mount namespace), printing owners before and after. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target volshift_cli >/dev/null
VS=$PWD/build/volshift

vol=$(mktemp -d /tmp/volshift-demo-XXXXXX)
trap 'rm -rf "$vol"' EXIT
mkdir -p "$vol/data/app" "$vol/data/db"
echo hello >"$vol/data/app/config"
install -m 4755 /bin/true "$vol/data/app/helper"
touch "$vol/data/db/table"
ln -s ../app/config "$vol/data/db/link"
chown -R 0:0 "$vol/data"
chown -R 1000:1000 "$vol/data/db"
chmod 4755 "$vol/data/app/helper" # set after chown -R, which drops it
show() { echo "--- $1"; (cd "$vol/data" && find . -printf '%U:%G\t%M\t%p\n' | sort -k3); }

show "a volume written by container root (0) and user 1000"
echo
echo "\$ volshift shift --map 0:524288:65536 $vol/data"
"$VS" shift --map 0:524288:65536 "$vol/data"
show "after: what a pod with hostUsers: false (root = 524288) needs"
echo
echo "\$ volshift shift --map 0:524288:65536 --reverse --json $vol/data"
"$VS" shift --map 0:524288:65536 --reverse --json "$vol/data"
echo
echo "\$ volshift fsgroup --gid 2000 $vol/data"
"$VS" fsgroup --gid 2000 "$vol/data"
show "after fsgroup: group 2000 everywhere, g+rw, setgid directories"
echo
echo "\$ volshift fsgroup --gid 2000 --policy=on-root-mismatch $vol/data"
"$VS" fsgroup --gid 2000 --policy=on-root-mismatch "$vol/data"
echo
mkdir "$vol/target"
echo "\$ volshift mount --map 0:524288:65536 $vol/data $vol/target   (private mount namespace)"
unshare -m --propagation private sh -c "
	'$VS' mount --map 0:524288:65536 '$vol/data' '$vol/target' &&
	echo '--- through the idmapped mount (disk unchanged):' &&
	(cd '$vol/target' && find . -printf '%U:%G\t%M\t%p\n' | sort -k3)"
