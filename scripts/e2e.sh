#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The end-to-end migration test with stock QEMU (selftests/e2e_in_vm.sh runs inside the test VM):
# builds everything plus the nested guest's kernel (rig/guest.config, cached like the test
# kernel) and initramfs, boots the test VM with QEMU inside and 4 VFs bound to
# vfio_ixgbevf_mig, and prints the test's figures at the end. Exit status: the VM's verdict.
# Both NICs run on the rig's QEMU build (rig/qemu/build-qemu.sh, cached), which also runs the
# nested guest. NIC=igb (default): the emulated 82576, igbvf in the nested guest. NIC=ixgbe:
# the 82599 model, ixgbevf in the nested guest.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
nic=${NIC:-igb}
case "$nic" in
igb) qemu_args=() ;;
ixgbe)
	qemu=$(bash "$here/rig/qemu/build-qemu.sh" | tail -n 1) || { echo "e2e: QEMU build failed" >&2; exit 1; }
	qemu_args=(--qemu-bin "$qemu" --nic ixgbe)
	;;
*) echo "e2e: NIC=$nic: igb or ixgbe" >&2; exit 2 ;;
esac
kdir=$(bash "$here/scripts/build-all.sh" | tail -n 1) || { echo "e2e: build failed" >&2; exit 1; }
# The nested guest runs a stock igbvf/ixgbevf and no Rust: one guest kernel (6.12) for either
# host kernel and either NIC.
gdir=$(KERNEL=6.12 bash "$here/scripts/build-kernel.sh" --variant guest | tail -n 1) ||
	{ echo "e2e: guest kernel build failed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bash "$here/rig/mkguest.sh" "$here/selftests/out/e2e_tool" "$tmp/guest.cpio.gz" ||
	{ echo "e2e: guest initramfs failed" >&2; exit 1; }
log=${MIG_E2E_LOG:-$tmp/vm.log}
MIG_MEM=${MIG_MEM:-2G} bash "$here/rig/run-vm.sh" --kernel "$kdir" \
	--module "$here/drivers/vfio_ixgbevf_mig/vfio_ixgbevf_mig.ko" \
	--tests "$here/selftests/out" --drivers vfio_ixgbevf_mig --cmd e2e_in_vm.sh --numvfs 4 --qemu \
	${qemu_args[@]+"${qemu_args[@]}"} \
	--add "$gdir/arch/x86/boot/bzImage:/guest/bzImage" --add "$tmp/guest.cpio.gz:/guest/initramfs.gz" \
	--timeout "${MIG_E2E_TIMEOUT:-2400}" --log "$log"
rc=$?
echo
echo "==== end-to-end migration with QEMU ($nic): what moved ===="
sed -n 's/^.*\[vfio_ixgbevf_mig:e2e_in_vm\.sh\] //p' "$log" > "$tmp/out"
grep -aE '^(ok|not ok)' "$tmp/out"
sed -n '/^# =====/,/^1\.\./p' "$tmp/out" | grep -v '^1\.\.' | sed 's/^# //'
exit $rc
