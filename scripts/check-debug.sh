#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check-debug`: the VM selftest suite on the debug variant of the test kernel (KASAN,
# UBSAN, kmemleak, lockdep, DEBUG_OBJECTS, failslab; rig/debug.config, cached under its own
# key). The bar is zero reports: rig/run-vm.sh fails the run on any KASAN/UBSAN/ODEBUG/lockdep
# splat, and rig/init.sh has kmemleak scan after the tests and prints what it found.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
# The rig kernel's build provides the selftests and the uAPI headers (same source, same uAPI).
bash "$here/scripts/build-all.sh" >/dev/null || { echo "check-debug: build failed" >&2; exit 1; }
kdir=$(bash "$here/scripts/build-kernel.sh" --variant debug | tail -n 1) ||
	{ echo "check-debug: debug kernel build failed" >&2; exit 1; }
# The module must be built against this kernel; do it in a copy so the checkout's .ko (built
# for the rig kernel) stays as it is.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-debug.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -a "$here/Makefile" "$here/Kbuild" "$tmp/"
mkdir -p "$tmp/drivers" "$tmp/scripts" && cp -a "$here/drivers/vfio_ixgbevf_mig" "$tmp/drivers/"
cp -a "$here/scripts/env.sh" "$here/scripts/check-toolchain.sh" "$tmp/scripts/"
find "$tmp" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete
make -C "$tmp" KDIR="$kdir" modules >/dev/null || { echo "check-debug: module build failed" >&2; exit 1; }
MIG_APPEND="kmemleak=on ${MIG_APPEND:-}" bash "$here/rig/run-vm.sh" --kernel "$kdir" \
	--module "$tmp/drivers/vfio_ixgbevf_mig/vfio_ixgbevf_mig.ko" \
	--tests "$here/selftests/out" --drivers "vfio_ixgbevf_mig vfio-pci" \
	--timeout "${MIG_VM_TIMEOUT:-3000}"
