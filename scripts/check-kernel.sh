#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The VM selftest suite (both drivers) on another rig kernel than the checkout's own build:
# `scripts/check-kernel.sh 7.3` builds (or reuses) that kernel, builds the module against it in
# a copy (the checkout's .ko stays built for its kernel), boots the suite and ends with a line
# "kernel <release>: vm suite N passed, N failed". `make check` runs it for 7.3 when that kernel
# is cached or with CHECK_73=1; `make check-kernel KERNEL=7.3` runs it alone.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:-${KERNEL:-7.3}}
# The selftests and their uAPI headers come from the main build (same uAPI on every kernel):
# KERNEL as the caller has it (default 6.12), cached after `make check`'s own build.
bash "$here/scripts/build-all.sh" >/dev/null || { echo "check-kernel: build failed" >&2; exit 1; }
export KERNEL=$kernel
. "$here/scripts/env.sh"
kdir=$(bash "$here/scripts/build-kernel.sh" | tail -n 1) ||
	{ echo "check-kernel: linux $kernel build failed" >&2; exit 1; }
cat "$kdir/../build-time" 2>/dev/null || true
release=$(cat "$kdir/include/config/kernel.release")
cmp -s "$kdir/include/linux/intel_vf_mig.h" "$here/drivers/vfio_ixgbevf_mig/intel_vf_mig.h" || {
	echo "check-kernel: drivers/vfio_ixgbevf_mig/intel_vf_mig.h differs from linux $kernel's patched header" >&2
	exit 1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-kernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -a "$here/Makefile" "$here/Kbuild" "$tmp/"
mkdir -p "$tmp/drivers" "$tmp/scripts" && cp -a "$here/drivers/vfio_ixgbevf_mig" "$tmp/drivers/"
cp -a "$here/scripts/env.sh" "$here/scripts/check-toolchain.sh" "$tmp/scripts/"
find "$tmp" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' -o -name 'sys_generated.rs.inc' \) -delete
echo "check-kernel: building the module against linux $release"
make -C "$tmp" KDIR="$kdir" modules >"$tmp/build.log" 2>&1 || {
	cat "$tmp/build.log" >&2
	echo "check-kernel: module build against linux $release failed" >&2
	exit 1
}
log=$(mktemp "${TMPDIR:-/tmp}/check-kernel-$kernel.XXXXXX.log")
bash "$here/rig/run-vm.sh" --kernel "$kdir" \
	--module "$tmp/drivers/vfio_ixgbevf_mig/vfio_ixgbevf_mig.ko" \
	--tests "$here/selftests/out" --drivers "vfio_ixgbevf_mig vfio-pci" \
	--timeout "${MIG_VM_TIMEOUT:-1500}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
counts=$(awk '/^vm: [0-9]+ passed, [0-9]+ failed/{p+=$2; f+=$4} END{print p+0" passed, "f+0" failed"}' "$log")
echo "kernel $release: vm suite $counts (rc=$rc, log $log)"
exit $rc
