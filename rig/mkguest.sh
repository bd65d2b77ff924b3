#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the nested guest's initramfs for the end-to-end test: static busybox, e2e_tool and
# rig/guest/init.sh as /init.  Usage: rig/mkguest.sh <e2e_tool> <out.cpio.gz>
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${1:?e2e_tool binary} out=${2:?output file}
bb=$(command -v busybox) || { echo "mkguest: busybox missing" >&2; exit 1; }
ldd "$bb" >/dev/null 2>&1 && { echo "mkguest: $bb is not static (busybox-static)" >&2; exit 1; }
stage=$(mktemp -d "${TMPDIR:-/tmp}/rig-guest.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
cp "$bb" "$stage/bin/busybox"
"$bb" --list-full | while read -r a; do [ -e "$stage/$a" ] || ln -s /bin/busybox "$stage/$a"; done
cp "$tool" "$stage/bin/e2e_tool"
cp "$here/rig/guest/init.sh" "$stage/init"
chmod 755 "$stage/init" "$stage/bin/e2e_tool"
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$stage/dev/console" c 5 1
	mknod -m 666 "$stage/dev/null" c 1 3
fi
(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 > "$out"
