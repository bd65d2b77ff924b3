#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots the test kernel in QEMU (q35 + vIOMMU + emulated igb with SR-IOV + a virtio-net peer
# on the same hub), runs the tests inside (rig/init.sh) and turns the serial console into a
# verdict: exit 0 only if the VM reached its end marker, no TAP test failed and the kernel
# logged no warning, lockdep report, oops or hang.
usage() {
	cat <<EOF
usage: rig/run-vm.sh --kernel <builddir> [--module <vfio_ixgbevf_mig.ko>] [--tests <dir>]
                     [--smoke] [--timeout SECS] [--drivers "drv1 drv2"] [--cmd <script>]
                     [--log <file>] [--numvfs N] [--qemu] [--add <src>:<dst>]...
                     [--qemu-bin <qemu-system-x86_64>] [--nic igb|ixgbe]
  --kernel   kernel build dir (scripts/build-kernel.sh's last line); modules are taken
             from <builddir>/../mods
  --module   our module; empty or absent: not loaded
  --tests    dir copied to /tests; every executable /tests/*_test runs once per driver
  --cmd      run this script instead (absolute path in the VM, or relative to /tests)
  --drivers  drivers the VFs are bound to in turn (default: "vfio_ixgbevf_mig vfio-pci"
             with --module, "vfio-pci" without)
  --smoke    add the rig self-test (rig/smoke_test.sh); needs no --tests
  --timeout  hard limit for the whole VM run, default 600 s
  --log      serial log file (default: a new file under \$TMPDIR)
  --numvfs   VFs to enable on the PF (default 2, at most 7); all are bound to the driver
  --qemu     put the QEMU that runs the VM and its firmware in the VM (nested guests)
  --add      copy a host file into the VM's initramfs at <dst>
  --qemu-bin the QEMU that runs the VM (default: \$MIG_QEMU_BIN, else the rig's own build,
             rig/qemu/build-qemu.sh, which has the 82599 model; Debian's when not built)
  --nic      the SR-IOV PF: igb (82576, default) or ixgbe (82599, -device ixgbe82599)
env: MIG_ACCEL=tcg|tcg-mt|kvm (default: tcg unless a cached KVM probe boot succeeded;
     tcg-mt: multi-threaded TCG, one host thread per vCPU, for trials: see qemu_cmd),
     MIG_SMP (vCPUs, default 2), MIG_MEM (RAM, default 1G), MIG_APPEND (extra kernel
     command line), MIG_QEMU_ARGS (extra QEMU arguments, split at blanks; e.g. a
     filter-dump of the hub: -object filter-dump,id=d,netdev=p1,file=<pcap>)
EOF
	exit 2
}
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"

die() { echo "run-vm: $*" >&2; exit 2; }

kdir= module= tests= timeout=600 drivers= cmd= smoke=0 log= numvfs=2 qemu=0
qemu_bin= nic=igb
adds=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kdir=${2-}; shift 2 || usage ;;
	--module) module=${2-}; shift 2 || usage ;;
	--tests) tests=${2-}; shift 2 || usage ;;
	--timeout) timeout=${2-}; shift 2 || usage ;;
	--drivers) drivers=${2-}; shift 2 || usage ;;
	--cmd) cmd=${2-}; shift 2 || usage ;;
	--log) log=${2-}; shift 2 || usage ;;
	--smoke) smoke=1; shift ;;
	--numvfs) numvfs=${2-}; shift 2 || usage ;;
	--qemu) qemu=1; shift ;;
	--qemu-bin) qemu_bin=${2-}; shift 2 || usage ;;
	--nic) nic=${2-}; shift 2 || usage ;;
	--add) adds+=("${2-}"); shift 2 || usage ;;
	-h|--help) usage ;;
	*) echo "run-vm: unknown argument $1" >&2; usage ;;
	esac
done
[ -n "$kdir" ] || usage
bz=$kdir/arch/x86/boot/bzImage
[ -f "$bz" ] || die "$bz missing (kernel not built?)"
[ -n "$tests" ] || [ $smoke = 1 ] || [ -n "$cmd" ] || die "need --tests, --cmd or --smoke"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "bad --timeout $timeout"
[[ "$numvfs" =~ ^[1-7]$ ]] || die "bad --numvfs $numvfs (1..7)"
# The rig's QEMU (rig/qemu/build-qemu.sh: Debian's 10.2.2 + the 82599 model) runs both NICs;
# MIG_QEMU_BIN or --qemu-bin picks another, Debian's if the rig's is not built yet.
if [ -z "$qemu_bin" ]; then
	qemu_bin=${MIG_QEMU_BIN:-$(bash "$here/rig/qemu/build-qemu.sh" --print 2>/dev/null || true)}
	[ -n "$qemu_bin" ] || {
		qemu_bin=qemu-system-x86_64
		echo "run-vm: the rig's QEMU is not built (rig/qemu/build-qemu.sh): using Debian's" >&2
	}
fi
command -v "$qemu_bin" >/dev/null || die "QEMU $qemu_bin not found"
case "$nic" in
igb) nicdev=igb ;;
ixgbe) nicdev=ixgbe82599 ;;
*) die "bad --nic $nic (igb or ixgbe)" ;;
esac
"$qemu_bin" -device help 2>/dev/null | grep -q "\"$nicdev\"" ||
	die "$qemu_bin has no $nicdev device (rig/qemu/build-qemu.sh builds a QEMU that has ixgbe82599)"
if [ -z "$drivers" ]; then
	if [ -n "$module" ]; then drivers="vfio_ixgbevf_mig vfio-pci"; else drivers=vfio-pci; fi
fi
# These end up in a shell file sourced by init: keep them to harmless characters.
[[ "$drivers" =~ ^[A-Za-z0-9_\ -]+$ ]] || die "bad --drivers '$drivers'"
[[ "$cmd" =~ ^[A-Za-z0-9_./-]*$ ]] || die "bad --cmd '$cmd'"
modname=
if [ -n "$module" ]; then
	[ -f "$module" ] || die "module $module not found"
	modname=$(basename "$module"); modname=${modname%%.ko*}
fi
smp=${MIG_SMP:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rig-vm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -n "$log" ] || log=$(mktemp "${TMPDIR:-/tmp}/vfio-ixgbevf-mig-vm.$(date +%Y%m%d-%H%M%S).XXXXXX.log")
: > "$log" || die "cannot write $log"

cat > "$tmp/rig.conf" <<EOF
RIG_DRIVERS='$drivers'
RIG_CMD='$cmd'
RIG_MODULE='$modname'
RIG_NUMVFS=$numvfs
RIG_NIC=$nic
EOF
mkargs=(--kernel "$kdir" --out "$tmp/initramfs.cpio.gz" --conf "$tmp/rig.conf")
[ -z "$module" ] || mkargs+=(--module "$module")
[ -z "$tests" ] || mkargs+=(--tests "$tests")
[ $smoke = 0 ] || mkargs+=(--add "$here/rig/smoke_test.sh:/tests/smoke_test")
[ $qemu = 0 ] || mkargs+=(--qemu)
# One QEMU: the nested guest runs on the same build as the VM.
[ $qemu = 0 ] || [ "$qemu_bin" = qemu-system-x86_64 ] || mkargs+=(--qemu-bin "$(command -v "$qemu_bin")")
for a in ${adds[@]+"${adds[@]}"}; do mkargs+=(--add "$a"); done
"$here/rig/mkinitramfs.sh" "${mkargs[@]}" || die "initramfs build failed"

append="console=ttyS0 panic=-1 oops=panic no_timer_check intel_iommu=on iommu.strict=1 ${MIG_APPEND:-}"
qemu_cmd() { # <accel>: sets the array q
	# Multi-threaded TCG aborted QEMU 10.0.2 now and then (iotlb_to_section assertion while a
	# VF reset remaps memory under MMIO from the other vCPU); with 10.2.2 one suite run passed
	# and one hung in the stress test (RCU stalls: an idle vCPU's timer did not fire for 26 s).
	# One TCG thread runs as fast here; races are shown by host-side interleaving checks and
	# widened windows instead.
	local a=$1
	[ "$a" = tcg ] && a=tcg,thread=single
	[ "$a" = tcg-mt ] && a=tcg,thread=multi
	q=("$qemu_bin" -M q35,kernel-irqchip=split -accel "$a" -smp "$smp" -m "${MIG_MEM:-1G}"
		-nodefaults -nographic -serial stdio -monitor none -no-reboot
		-device intel-iommu,intremap=on,caching-mode=on
		-device pcie-root-port,id=rp0,chassis=1
		-netdev hubport,id=p0,hubid=0 -device "$nicdev",netdev=p0,bus=rp0,mac=52:54:00:00:00:01,romfile=
		-netdev hubport,id=p1,hubid=0 -device virtio-net-pci,netdev=p1,mac=52:54:00:00:00:02,romfile=
		-device pci-testdev
		-kernel "$bz" -initrd "$tmp/initramfs.cpio.gz")
	# shellcheck disable=SC2206
	[ -z "${MIG_QEMU_ARGS:-}" ] || q+=(${MIG_QEMU_ARGS})
}

# Nested KVM dies on this machine (DESIGN.md section 6), so KVM must earn its use: one short
# probe boot per (QEMU, host kernel, CPU, bzImage), verdict cached.
probe_kvm() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo tcg; return; }
	local key f
	key=$( { "$qemu_bin" --version | head -n 1; uname -r
		grep -m1 'model name' /proc/cpuinfo; sha256sum < "$bz"; } | sha256sum | cut -c1-16)
	f=$MIG_CACHE/kvm-probe-$key
	if [ -f "$f" ]; then cat "$f"; return; fi
	echo "run-vm: probing KVM (one-off, cached in $f)" >&2
	local verdict=tcg
	qemu_cmd kvm
	timeout -k 5 30 "${q[@]}" -append "$append rig.mode=probe" \
		</dev/null > "$tmp/probe.log" 2>&1
	grep -q 'RIG:END probe' "$tmp/probe.log" && verdict=kvm
	mkdir -p "$MIG_CACHE" 2>/dev/null && echo "$verdict" > "$f"
	echo "$verdict"
}
case "${MIG_ACCEL:-}" in
tcg|tcg-mt|kvm) accel=$MIG_ACCEL ;;
"") if [ -e /dev/kvm ]; then accel=$(probe_kvm); else accel=tcg; fi ;;
*) die "MIG_ACCEL must be tcg, tcg-mt or kvm" ;;
esac

# Kernel log lines that fail the run no matter what the tests said.
kpat='WARNING:|BUG:|unreferenced object 0x|ODEBUG:|Oops|possible recursive locking|possible circular locking|INFO: |refcount_t:|Kernel panic|general protection|list_add corruption|list_del corruption|sleeping function called from invalid context|hung_task|blocked for more than|Call Trace:|UBSAN:|kernel BUG at'
tappat='(^|\] )not ok( |$)'

echo "run-vm: $("$qemu_bin" --version | head -n 1), nic=$nic"
echo "run-vm: accel=$accel smp=$smp drivers='$drivers' timeout=${timeout}s log=$log"
fifo=$tmp/serial
mkfifo "$fifo"
t0=$EPOCHREALTIME
qemu_cmd "$accel"
"${q[@]}" -append "$append" </dev/null > "$fifo" 2>&1 &
qpid=$!
exec 3< "$fifo" 4>> "$log"

secs() { echo "${EPOCHREALTIME%.*}"; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
deadline=$(( $(secs) + timeout ))
boot= end_line= killed= end_at= poweroff_stuck= running=
klines=() taplines=() summaries=()
handle() {
	local l=${1%$'\r'}
	printf '%s\n' "$l" >&4
	printf '%s\n' "$l"
	case "$l" in
	*RIG:INIT*) boot=$(since "$t0" "$EPOCHREALTIME") ;;
	*RIG:RUN*) running=${l#*RIG:RUN } ;;
	*RIG:SUMMARY*) summaries+=("${l#*RIG:SUMMARY }") ;;
	*RIG:END*) end_line=${l#*RIG:END }; end_at=$(secs) ;;
	esac
	[[ "$l" =~ $tappat ]] && [[ "$l" != *"# TODO"* ]] && taplines+=("$l")
	[[ "$l" =~ $kpat ]] && klines+=("$l")
}
buf=
while :; do
	if IFS= read -r -t 2 -u 3 chunk; then
		handle "$buf$chunk"
		buf=
	else
		rc=$?
		if [ $rc -le 128 ]; then
			[ -z "$buf$chunk" ] || handle "$buf$chunk"
			break
		fi
		buf+=$chunk
	fi
	now=$(secs)
	if [ -z "$killed" ] && [ "$now" -ge "$deadline" ]; then
		echo "run-vm: timeout after ${timeout}s, killing QEMU"
		kill -TERM "$qpid" 2>/dev/null
		killed=$now
	elif [ -z "$killed" ] && [ -n "$end_at" ] && [ $((now - end_at)) -ge 30 ]; then
		echo "run-vm: VM still running 30 s after its end marker, killing QEMU"
		kill -TERM "$qpid" 2>/dev/null
		killed=$now poweroff_stuck=1
	elif [ -n "$killed" ] && [ $((now - killed)) -ge 5 ]; then
		kill -KILL "$qpid" 2>/dev/null
	fi
done
wait "$qpid"
qrc=$?
exec 3<&- 4>&-
elapsed=$(since "$t0" "$EPOCHREALTIME")

# Verdict.
reasons=()
if [ -z "$end_line" ]; then
	if [ -n "$killed" ]; then
		reasons+=("no end marker: timed out${running:+ while running $running}")
	else
		reasons+=("no end marker: VM stopped early (QEMU status $qrc; panic or failed boot?)${running:+ last test: $running}")
	fi
fi
[ -z "$poweroff_stuck" ] || reasons+=("VM did not power off after the tests (device shutdown hang?)")
[ ${#taplines[@]} = 0 ] || reasons+=("${#taplines[@]} TAP 'not ok' line(s)")
[ ${#klines[@]} = 0 ] || reasons+=("${#klines[@]} kernel log line(s) with warnings/errors")

# Values end at a blank or at a '[': a kernel message may be glued to the marker line.
get() { sed -n "s/.*\\b$1=\\([^ []*\\).*/\\1/p" <<< "$2"; }
echo
echo "==== run-vm summary ===="
echo "log: $log"
if [ ${#taplines[@]} -gt 0 ]; then
	echo "failed TAP lines:"
	printf '  %s\n' "${taplines[@]}"
fi
if [ ${#klines[@]} -gt 0 ]; then
	echo "kernel log problems (context in the log):"
	printf '  %s\n' "${klines[@]}"
fi
tp=0 tf=0 ts=0
for s in ${summaries[@]+"${summaries[@]}"}; do
	p=$(get pass "$s") f=$(get fail "$s") k=$(get skip "$s")
	echo "$(get group "$s"): $p passed, $f failed, $k skipped"
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + k))
done
# A VM that died mid-test still failed, even if no summary counted it.
[ -n "$end_line" ] || [ $tf -gt 0 ] || tf=1
echo "boot: ${boot:-n/a} s to init (QEMU start -> RIG:INIT), whole run ${elapsed} s, accel=$accel"
echo "vm: $tp passed, $tf failed, $ts skipped"
if [ ${#reasons[@]} = 0 ] && [ $tf = 0 ]; then
	echo "run-vm: PASS"
	exit 0
fi
printf 'run-vm: FAIL: %s\n' "${reasons[@]:-TAP failures}"
exit 1
