#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The 82599 model against the stock drivers (docs/ixgbe-model.md): builds the rig's QEMU
# (rig/qemu/build-qemu.sh, cached), the hostile-guest tool and, when the test kernel has no
# ixgbevf, the stock ixgbevf out of tree from the same kernel source; then boots the VM on
# the 82599 (rig/run-vm.sh --nic ixgbe) and runs rig/ixgbe_model_test.sh: ixgbe probe, link,
# SR-IOV, PF traffic, ixgbevf on a VF with traffic and RSS over its two queues, the PF's port
# VLAN and spoofchk on that VF (rig/ixgbe_l2.c sends and captures the raw frames), the hostile
# guest; then checks the TX checksums the model computed in a pcap of the peer's side. Exit
# status: 0 if all passed.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
die() { echo "ixgbe-model: $*" >&2; exit 1; }

# IXGBE_QEMU=<qemu-system-x86_64>: another build of the patched QEMU (an incremental one while
# the patch is being edited) instead of rig/qemu/build-qemu.sh's.
qemu=${IXGBE_QEMU:-$(bash "$here/rig/qemu/build-qemu.sh" | tail -n 1)} || die "QEMU build failed"
kdir=${KDIR:-$(bash "$here/scripts/build-kernel.sh" | tail -n 1)} || die "kernel build failed"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ixgbe-model.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
gcc -static -O2 -Wall -o "$tmp/ixgbe_hostile" "$here/rig/ixgbe_hostile.c" || die "ixgbe_hostile"
gcc -static -O2 -Wall -o "$tmp/ixgbe_l2" "$here/rig/ixgbe_l2.c" || die "ixgbe_l2"
gcc -static -O2 -Wall -o "$tmp/ixgbe_stats" "$here/rig/ixgbe_stats.c" || die "ixgbe_stats"
adds=(--add "$here/rig/ixgbe_model_test.sh:/tests/ixgbe_model_test"
	--add "$tmp/ixgbe_hostile:/tests/ixgbe_hostile" --add "$tmp/ixgbe_l2:/tests/ixgbe_l2"
	--add "$tmp/ixgbe_stats:/tests/ixgbe_stats")
if ! grep -q '^CONFIG_IXGBEVF=[ym]' "$kdir/.config"; then
	cp -r "$kdir/drivers/net/ethernet/intel/ixgbevf" "$tmp/ixgbevf"
	rm -f "$tmp"/ixgbevf/*.o "$tmp"/ixgbevf/.*.cmd
	make -s -C "$kdir" "${KMAKE_FLAGS[@]}" M="$tmp/ixgbevf" CONFIG_IXGBEVF=m modules >&2 ||
		die "ixgbevf out of tree"
	adds+=(--add "$tmp/ixgbevf/ixgbevf.ko:/tests/ixgbevf.ko")
fi
# The peer's side of the hub goes to a pcap: the TX checksums the model filled in are checked
# on the wire (rig/pcap_csum.py), frames from the PF's and the VF's MAC.
MIG_QEMU_ARGS="-object filter-dump,id=dump0,netdev=p1,file=$tmp/peer.pcap" \
	bash "$here/rig/run-vm.sh" --qemu-bin "$qemu" --nic ixgbe --kernel "$kdir" --drivers vfio-pci \
	"${adds[@]}" --cmd ixgbe_model_test --timeout "${MIG_IXGBE_TIMEOUT:-600}" "$@"
rc=$?
echo "== TX checksums on the wire (the peer's hubport)"
if python3 "$here/rig/pcap_csum.py" "$tmp/peer.pcap" 52:54:00:00:00:01 02:00:00:00:00:10; then
	echo "vm: 1 passed, 0 failed (TX checksums)"
else
	echo "vm: 0 passed, 1 failed (TX checksums)"
	rc=1
fi
exit $rc
