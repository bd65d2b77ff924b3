#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make xkernel`: device streams across kernels, both ways. Boots the test VM on each rig kernel
# (6.12 and 7.3) with VF0 bound to vfio_ixgbevf_mig built for that kernel, saves a running VF's
# state there (selftests/xkernel_in_vm.sh prints the stream), then loads each kernel's stream in a
# VM on the other kernel; on each NIC (CHECK_NICS, default "igb ixgbe"). Ends with one line per
# NIC and direction and "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/build-all.sh" >/dev/null || { echo "xkernel: build failed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xkernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
kernels=(6.12 7.3)
declare -A kdir ko rel
for k in "${kernels[@]}"; do
	set -- $(bash "$here/scripts/module-for-kernel.sh" "$k" "$tmp/mod-$k" | tail -n 1)
	[ $# = 2 ] || { echo "xkernel: no module for linux $k" >&2; exit 1; }
	kdir[$k]=$1 ko[$k]=$2 rel[$k]=$(cat "$1/include/config/kernel.release")
done

# vm <kernel> <log> [run-vm args...]
vm() {
	local k=$1 log=$2
	shift 2
	bash "$here/rig/run-vm.sh" --kernel "${kdir[$k]}" --module "${ko[$k]}" \
		--tests "$here/selftests/out" --drivers vfio_ixgbevf_mig --cmd xkernel_in_vm.sh \
		--nic "$nic" --timeout "${MIG_VM_TIMEOUT:-600}" --log "$log" "$@" >"$log.out" 2>&1
}

pass=0 fail=0
# Each NIC of the rig: the 82576 (igb family) and the 82599 model (ixgbe family).
for nic in ${CHECK_NICS:-igb ixgbe}; do
	for k in "${kernels[@]}"; do
		log=$tmp/$nic-save-$k.log
		if vm "$k" "$log" && grep -q 'XSTREAM-END' "$log"; then
			sed -n 's/^.*\] # XS //p' "$log" | tr -d '\r' | base64 -d > "$tmp/$nic-stream-$k.bin"
			want=$(sed -n 's/^.*\] # XSTREAM-BEGIN [^ ]* \([0-9]*\).*/\1/p' "$log" | tr -d '\r')
			have=$(wc -c < "$tmp/$nic-stream-$k.bin")
			if [ "$want" = "$have" ]; then
				echo "xkernel [$nic]: saved a running VF's state on linux ${rel[$k]}: $have bytes"
			else
				echo "xkernel [$nic]: stream from linux ${rel[$k]} garbled on the console ($have of $want bytes)"
				rm -f "$tmp/$nic-stream-$k.bin"
			fi
		else
			echo "xkernel [$nic]: saving on linux ${rel[$k]} failed:"
			tail -n 30 "$log.out"
		fi
	done
	if [ -s "$tmp/$nic-stream-6.12.bin" ] && [ -s "$tmp/$nic-stream-7.3.bin" ]; then
		n=$(cmp -l "$tmp/$nic-stream-6.12.bin" "$tmp/$nic-stream-7.3.bin" 2>/dev/null | wc -l)
		if [ "$n" = 0 ]; then
			echo "xkernel [$nic]: the two kernels saved byte-identical streams (same VF setup, same format)"
		else
			echo "xkernel [$nic]: the two streams differ in $n bytes (same format; register values differ)"
		fi
	fi
	for src in "${kernels[@]}"; do
		for dst in "${kernels[@]}"; do
			[ "$src" != "$dst" ] || continue
			what="stream saved on linux ${rel[$src]} -> loaded on linux ${rel[$dst]}"
			if [ ! -s "$tmp/$nic-stream-$src.bin" ]; then
				echo "xkernel [$nic]: $what: not ok (no stream)"
				fail=$((fail + 1))
				continue
			fi
			log=$tmp/$nic-load-$src-$dst.log
			if vm "$dst" "$log" --add "$tmp/$nic-stream-$src.bin:/xstream.in"; then
				echo "xkernel [$nic]: $what: ok ($(sed -n 's/^.*\(loaded [0-9]* bytes\).*/\1/p' "$log" | head -n 1 | tr -d '\r'), the VF then passes frames both ways)"
				pass=$((pass + 1))
			else
				echo "xkernel [$nic]: $what: not ok"
				grep -a 'external_stream\|#   ' "$log" | tail -n 20
				fail=$((fail + 1))
			fi
		done
	done
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
