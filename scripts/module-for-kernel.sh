#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds (or reuses) rig kernel <6.12|7.3> and the module against it in a copy of the tree under
# <dir> (the checkout's own .ko stays built for its kernel). Prints "<kernel build dir> <.ko>"
# on the last line of stdout. Used by check-kernel.sh and xkernel.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: module-for-kernel.sh <6.12|7.3> <dir>} dir=${2:?usage: module-for-kernel.sh <6.12|7.3> <dir>}
export KERNEL=$kernel
MIG_DEPS_73=1 bash "$here/scripts/install-deps.sh" >&2 || exit 1
. "$here/scripts/env.sh"
kdir=$(bash "$here/scripts/build-kernel.sh" | tail -n 1) ||
	{ echo "module-for-kernel: linux $kernel build failed" >&2; exit 1; }
cat "$kdir/../build-time" >&2 2>/dev/null || true
release=$(cat "$kdir/include/config/kernel.release")
cmp -s "$kdir/include/linux/intel_vf_mig.h" "$here/drivers/vfio_ixgbevf_mig/intel_vf_mig.h" || {
	echo "module-for-kernel: drivers/vfio_ixgbevf_mig/intel_vf_mig.h differs from linux $kernel's patched header" >&2
	exit 1
}
mkdir -p "$dir/drivers" "$dir/scripts"
cp -a "$here/Makefile" "$here/Kbuild" "$dir/"
cp -a "$here/scripts/env.sh" "$here/scripts/check-toolchain.sh" "$dir/scripts/"
rm -rf "$dir/drivers/vfio_ixgbevf_mig" && cp -a "$here/drivers/vfio_ixgbevf_mig" "$dir/drivers/"
find "$dir" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' -o -name 'sys_generated.rs.inc' \) -delete
echo "module-for-kernel: building the module against linux $release" >&2
make -C "$dir" KDIR="$kdir" modules >"$dir/build.log" 2>&1 || {
	cat "$dir/build.log" >&2
	echo "module-for-kernel: module build against linux $release failed" >&2
	exit 1
}
echo "$kdir $dir/drivers/vfio_ixgbevf_mig/vfio_ixgbevf_mig.ko"
