#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The VM selftest suite (both drivers, each NIC: CHECK_NICS, default "igb ixgbe") on another rig
# kernel than the checkout's own build: `scripts/check-kernel.sh 7.3` builds (or reuses) that
# kernel, builds the module against it in a copy (the checkout's .ko stays built for its kernel),
# boots the suite and ends each NIC with a line "kernel <release> nic <nic>: vm suite N passed,
# N failed". `make check` runs it for 7.3 when that kernel is cached or with CHECK_73=1; `make
# check-kernel KERNEL=7.3` runs it alone.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:-${KERNEL:-7.3}}
# The selftests and their uAPI headers come from the main build (same uAPI on every kernel):
# KERNEL as the caller has it (default 6.12), cached after `make check`'s own build.
bash "$here/scripts/build-all.sh" >/dev/null || { echo "check-kernel: build failed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-kernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
set -- $(bash "$here/scripts/module-for-kernel.sh" "$kernel" "$tmp" | tail -n 1)
[ $# = 2 ] || { echo "check-kernel: no module for linux $kernel" >&2; exit 1; }
kdir=$1 ko=$2
release=$(cat "$kdir/include/config/kernel.release")
rc=0
for nic in ${CHECK_NICS:-igb ixgbe}; do
	log=$(mktemp "${TMPDIR:-/tmp}/check-kernel-$kernel-$nic.XXXXXX.log")
	bash "$here/rig/run-vm.sh" --kernel "$kdir" --nic "$nic" \
		--module "$ko" \
		--tests "$here/selftests/out" --drivers "vfio_ixgbevf_mig vfio-pci" \
		--timeout "${MIG_VM_TIMEOUT:-1500}" 2>&1 | tee "$log"
	r=${PIPESTATUS[0]}
	[ "$r" = 0 ] || rc=$r
	counts=$(awk '/^vm: [0-9]+ passed, [0-9]+ failed/{p+=$2; f+=$4} END{print p+0" passed, "f+0" failed"}' "$log")
	echo "kernel $release nic $nic: vm suite $counts (rc=$r, log $log)"
done
exit $rc
