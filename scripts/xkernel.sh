#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make xkernel`: device streams across kernels, both ways. Boots the test VM on each rig kernel
# (6.12 and 7.3) with VF0 bound to vfio_ixgbevf_mig built for that kernel, saves a running VF's
# state there (selftests/xkernel_in_vm.sh prints the stream), then loads each kernel's stream in a
# VM on the other kernel. Ends with one line per direction and "N passed, N failed".
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
		--timeout "${MIG_VM_TIMEOUT:-600}" --log "$log" "$@" >"$log.out" 2>&1
}

pass=0 fail=0
for k in "${kernels[@]}"; do
	log=$tmp/save-$k.log
	if vm "$k" "$log" && grep -q 'XSTREAM-END' "$log"; then
		sed -n 's/^.*\] # XS //p' "$log" | tr -d '\r' | base64 -d > "$tmp/stream-$k.bin"
		want=$(sed -n 's/^.*\] # XSTREAM-BEGIN [^ ]* \([0-9]*\).*/\1/p' "$log" | tr -d '\r')
		have=$(wc -c < "$tmp/stream-$k.bin")
		if [ "$want" = "$have" ]; then
			echo "xkernel: saved a running VF's state on linux ${rel[$k]}: $have bytes"
		else
			echo "xkernel: stream from linux ${rel[$k]} garbled on the console ($have of $want bytes)"
			rm -f "$tmp/stream-$k.bin"
		fi
	else
		echo "xkernel: saving on linux ${rel[$k]} failed:"
		tail -n 30 "$log.out"
	fi
done
if [ -s "$tmp/stream-6.12.bin" ] && [ -s "$tmp/stream-7.3.bin" ]; then
	n=$(cmp -l "$tmp/stream-6.12.bin" "$tmp/stream-7.3.bin" 2>/dev/null | wc -l)
	if [ "$n" = 0 ]; then
		echo "xkernel: the two kernels saved byte-identical streams (same VF setup, same format)"
	else
		echo "xkernel: the two streams differ in $n bytes (same format; register values differ)"
	fi
fi
for src in "${kernels[@]}"; do
	for dst in "${kernels[@]}"; do
		[ "$src" != "$dst" ] || continue
		what="stream saved on linux ${rel[$src]} -> loaded on linux ${rel[$dst]}"
		if [ ! -s "$tmp/stream-$src.bin" ]; then
			echo "xkernel: $what: not ok (no stream)"
			fail=$((fail + 1))
			continue
		fi
		log=$tmp/load-$src-$dst.log
		if vm "$dst" "$log" --add "$tmp/stream-$src.bin:/xstream.in"; then
			echo "xkernel: $what: ok ($(sed -n 's/^.*\(loaded [0-9]* bytes\).*/\1/p' "$log" | head -n 1 | tr -d '\r'), the VF then passes frames both ways)"
			pass=$((pass + 1))
		else
			echo "xkernel: $what: not ok"
			grep -a 'external_stream\|#   ' "$log" | tail -n 20
			fail=$((fail + 1))
		fi
	done
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
