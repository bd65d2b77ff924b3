#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench-nics`: the migration benchmark (selftests/vfio_mig_bench) on each NIC of the rig,
# the 82576 (igb family) and the 82599 model (ixgbe family), one VM after the other in one
# invocation, then the figures side by side with the ixgbe/igb ratio of each. TCG makes
# absolute times meaningless; the ratios compare the two families under the same conditions.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kdir=$(bash "$here/scripts/build-all.sh" | tail -n 1) || { echo "bench-nics: build failed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-nics.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rc=0
for nic in igb ixgbe; do
	echo "== $nic: vfio_mig_bench"
	bash "$here/rig/run-vm.sh" --kernel "$kdir" --nic "$nic" \
		--module "$here/drivers/vfio_ixgbevf_mig/vfio_ixgbevf_mig.ko" \
		--tests "$here/selftests/out" --drivers vfio_ixgbevf_mig --cmd vfio_mig_bench \
		--timeout "${MIG_VM_TIMEOUT:-900}" --log "$tmp/$nic.log" >/dev/null 2>&1 || rc=1
	sed -n 's/^.*\[vfio_ixgbevf_mig:vfio_mig_bench\] # //p' "$tmp/$nic.log" | tee "$tmp/$nic.out"
done

# fig <nic> <what>: one figure out of the bench's lines.
fig() {
	local f=$tmp/$1.out
	case $2 in
	size) sed -n 's/^stop-copy state size: \([0-9]*\) bytes.*/\1/p' "$f" ;;
	save) sed -n 's/^RUNNING -> STOP_COPY + read .* median \([0-9.]*\) us.*/\1/p' "$f" ;;
	resume) sed -n 's/^RESUMING write .* median \([0-9.]*\) us.*/\1/p' "$f" ;;
	window) sed -n 's/^migration VF0 -> VF1: stop window \([0-9.]*\) ms.*/\1/p' "$f" ;;
	lost) sed -n 's/^  frames lost: \([0-9]*\)/\1/p' "$f" ;;
	esac | head -n 1
}

echo
echo "==== migration figures per NIC (same invocation; ratio = ixgbe / igb) ===="
printf '%-44s %12s %12s %8s\n' figure "igb (82576)" "ixgbe (82599)" ratio
for w in "size:stop-copy state size (bytes)" "save:RUNNING -> STOP_COPY + read, median (us)" \
	"resume:RESUMING write + -> RUNNING, median (us)" "window:stop window under traffic (ms)" \
	"lost:frames lost in the migration"; do
	k=${w%%:*} a=$(fig igb "${w%%:*}") b=$(fig ixgbe "${w%%:*}")
	r=$(awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN{ if (a > 0 && b != "") printf "%.2f", b / a; else print "-" }')
	[ -n "$a" ] && [ -n "$b" ] || rc=1
	printf '%-44s %12s %12s %8s\n' "${w#*:}" "${a:-?}" "${b:-?}" "$r"
done
exit $rc
