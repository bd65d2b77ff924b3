#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# End-to-end live migration with stock QEMU, run inside the test VM (the "host"): a small
# guest (rig/guest.config kernel, busybox, the stock igbvf or ixgbevf driver) runs under the
# qemu-system-x86_64 the VM carries (Debian's, or the rig's build with NIC=ixgbe) with a VF of
# the VM's PF (82576/igb or 82599/ixgbe, scripts/e2e.sh NIC=) bound to $MIG_DRIVER passed through as
#   -device vfio-pci,host=<VF>,enable-migration=on
# and is migrated over loopback TCP with pre-copy to a second QEMU started with -incoming
# that owns another VF. Scenarios:
#   1. VF0 -> VF1 while the guest receives a file over the VF (DMA into guest memory during
#      pre-copy) and a fixed-rate ping runs; the file is checked on the destination, sent back
#      through VF1, and the PF shows the guest's MAC on VF1
#   2. cancelled migration: the source keeps running
#   3. failed destination: a relay rewrites the device stream's version on the way, the
#      destination refuses it during pre-copy, the source keeps running
#   4. VF1 -> VF0 again (both VFs still work after 2 and 3), second file round trip
#   5. a guest with two VFs (QEMU then needs P2P) migrated onto two other VFs
#   6. the same guest without a VF, migrated the same way: QEMU's downtime without our device
# Needs: VF_BDFS (4 VFs bound to $MIG_DRIVER), PF_IF, PEER_IF, /guest/{bzImage,initramfs.gz},
# qemu-system-x86_64 in the VM (rig/run-vm.sh --qemu). Output: TAP, figures as "# " lines.
# The rig's limit on igb: the outer QEMU's emulated igb maps a TX buffer through its vIOMMU in one
# piece and drops the frame (no error, the descriptor completes) when the buffer's 4 KiB pages
# are not physically contiguous in the test VM. The nested guest's RAM is scattered once the
# test VM's memory is fragmented (late scenarios: "contig" lines), which stalled the guest's
# TSO sends; so the guest turns scatter-gather and TSO off on igbvf (linear buffers stay in one
# page). The 82599 model reads buffers page by page: ixgbevf keeps them on (rig/guest/init.sh).
# E2E_SKIP=2,3,5,6 leaves those scenarios out (from the host, through the VM's kernel command
# line: MIG_APPEND=E2E_SKIP=5,6 make e2e).
T=/tests/e2e_tool
G=/guest
W=/tmp/e2e
IP=${IP:-/sbin/ip}
BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-600}
MIG_TIMEOUT=${E2E_MIG_TIMEOUT:-300}
# Pre-copy must overlap the DMA, so RAM goes at a bounded rate (same for every scenario).
BANDWIDTH=${E2E_BANDWIDTH:-8M}
# A file streamed to the guest across each migration: small, since TCP into a guest under
# nested TCG runs at a few KiB/s to a few tens of KiB/s; long enough to overlap pre-copy.
FILE_KIB=${E2E_FILE_KIB:-256}
RATE=${E2E_RATE_KIBS:-32}
mkdir -p $W
n=0 nfail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)) nfail=$((nfail + 1)); echo "not ok $n - $*"; }
check() { # <description> <command...>: ok if the command succeeds
	d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
up() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }
mon() { $T mon "$W/$1.mon" "$2"; }
# The migration's status and figures through QMP: HMP's "info migrate" changed its wording and
# rounds its sizes after QEMU 10.0 (NIC=ixgbe runs the rig's 10.2 build).
miginfo() { $T miginfo "$W/$1.qmp"; }
comment() { sed 's/^/#   /'; }
# What a guest printed last, and the kernel's and the device's view, when its traffic stalled:
# stalled <qemu name> <vf bdf>... (registers and host interrupt counts twice, 5 s apart, so
# that what still moves shows)
stalled() {
	local name=$1 v
	shift
	echo "# $name: last console lines:"
	grep -av "^\\[" "$W/$name.console" | tail -n 12 | comment
	dmesg | tail -n 5 | comment
	for i in 1 2; do
		[ $i = 1 ] || sleep 5
		for v in "$@"; do
			echo "# $v registers ($i):"
			$T regs "$v" 2>&1 | comment
		done
		echo "# PF $PF_BDF: $($T pfregs "$PF_BDF" 2>&1)"
		grep vfio /proc/interrupts | tr -s ' ' | comment
		# The host end: did the guest's frames arrive, and did TCP take them?
		$IP -s link show "$PEER_IF" | comment
		awk '/^(Ip|Tcp|TcpExt):/ { if (!h[$1]) { split($0, k); h[$1] = 1 } else { l = $1; for (i = 2; i <= NF; i++) if ($i != 0) l = l " " k[i] "=" $i; print l; h[$1] = 0 } }' \
			/proc/net/snmp /proc/net/netstat | comment
		grep -i ':138B ' /proc/net/tcp | comment
	done
	# Last, as reading clears it: a cause latched in EICR blocks every later raise.
	echo "# PF $PF_BDF: $($T pfregs "$PF_BDF" eicr 2>&1)"
	sleep 5
	echo "# $name: 5 s after the EICR read:"
	grep -av '^\[' "$W/$name.console" | tail -n 3 | comment
}

set -- $VF_BDFS
VF0=${1-} VF1=${2-} VF2=${3-} VF3=${4-}
if [ -z "$VF3" ] || [ ! -x /usr/bin/qemu-system-x86_64 ] || [ ! -f $G/bzImage ]; then
	echo "1..0 # SKIP needs 4 VFs, QEMU and the guest kernel in the VM (rig/run-vm.sh --qemu)"
	exit 4
fi
if [ "$MIG_DRIVER" != vfio_ixgbevf_mig ]; then
	echo "1..0 # SKIP VFs bound to $MIG_DRIVER, which cannot migrate"
	exit 4
fi
# The PF's family names the VF driver the guest must be running.
PF_DRV=$(basename "$(readlink "/sys/bus/pci/devices/$PF_BDF/driver")")
case "$PF_DRV" in
igb) NIC="82576 (igb PF)" GUEST_DRV=igbvf ;;
ixgbe) NIC="82599 (ixgbe PF)" GUEST_DRV=ixgbevf ;;
*) echo "1..0 # SKIP PF $PF_BDF driven by '$PF_DRV', neither igb nor ixgbe"; exit 4 ;;
esac
# Driver statistics (debugfs), 0 when absent.
dstat() {
	awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' \
		"/sys/kernel/debug/vfio_ixgbevf_mig/$1/stats" 2>/dev/null || echo 0
}

# qemu_start <name> "<vf bdfs>" [<incoming port>]
qemu_start() {
	name=$1 devs=
	for v in $2; do
		devs="$devs -device vfio-pci,host=$v,id=hostdev$(echo "$devs" | grep -o vfio-pci | wc -l),rombar=0,enable-migration=on"
	done
	inc=
	[ -z "${3-}" ] || inc="-incoming tcp:127.0.0.1:$3"
	rm -f "$W/$name.mon" "$W/$name.qmp" "$W/$name.console"
	# shellcheck disable=SC2086
	qemu-system-x86_64 -M pc -accel tcg -cpu qemu64 -m 128 -smp 1 -nodefaults \
		-no-user-config -display none \
		-chardev "file,id=con,path=$W/$name.console" -serial chardev:con \
		-monitor "unix:$W/$name.mon,server=on,wait=off" -qmp "unix:$W/$name.qmp,server=on,wait=off" \
		-kernel $G/bzImage -initrd $G/initramfs.gz \
		-append "console=ttyS0 panic=-1 no_timer_check lpj=1000000" \
		$devs $inc > "$W/$name.log" 2>&1 &
	echo $! > "$W/$name.pid"
	i=0
	while [ ! -S "$W/$name.mon" ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	[ -S "$W/$name.mon" ] || { echo "# $name: QEMU did not start:"; comment < "$W/$name.log"; return 1; }
	# A destination listens a little after its monitor is up.
	[ -n "${3-}" ] || return 0
	hex=$(printf ':%04X ' "$3")
	i=0
	while ! grep -q "$hex.* 0A " /proc/net/tcp && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	grep -q "$hex.* 0A " /proc/net/tcp || { echo "# $name: not listening on $3"; comment < "$W/$name.log"; return 1; }
}
qemu_alive() { kill -0 "$(cat "$W/$1.pid")" 2>/dev/null; }
qemu_stop() {
	pid=$(cat "$W/$1.pid" 2>/dev/null) || return 0
	kill -0 "$pid" 2>/dev/null && { mon "$1" quit >/dev/null 2>&1 || kill "$pid"; }
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$W/$1.pid"
}
# wait_console <name> <pattern> <secs>: prints the matching line
wait_console() {
	t0=$(up)
	while [ "$(elapsed "$t0" | cut -d. -f1)" -lt "$3" ]; do
		if grep -aq "$2" "$W/$1.console" 2>/dev/null; then
			# The line may still be arriving (seen: "md5=3"): read it again a moment later.
			sleep 0.5
			grep -a -m1 "$2" "$W/$1.console"
			return 0
		fi
		qemu_alive "$1" || break
		sleep 0.5
	done
	echo "# $1: no '$2' on the console after $3 s; last lines:"
	tail -n 15 "$W/$1.console" 2>/dev/null | comment
	dmesg | tail -n 5 | comment
	comment < "$W/$1.log"
	return 1
}
mig_field() { sed -n "s/^$1: *\\([0-9.]*\\).*/\\1/p" "$2" | head -n 1; }
# migrate <src> <uri>: starts a pre-copy migration and waits for its end; prints the status
migrate() {
	mon "$1" "migrate_set_capability return-path on" >/dev/null
	mon "$1" "migrate_set_parameter max-bandwidth $BANDWIDTH" >/dev/null
	mon "$1" "migrate -d $2" | comment >&2
	t0=$(up) last=0
	while [ "$(elapsed "$t0" | cut -d. -f1)" -lt "$MIG_TIMEOUT" ]; do
		miginfo "$1" > "$W/$1.info" 2>&1
		s=$(sed -n 's/^Migration status: *//p' "$W/$1.info")
		case "$s" in
		completed) echo "$s"; return 0 ;;
		failed*|cancelled*)
			# Why, from both QEMUs and the kernel.
			{
				echo "migration $s"
				for f in $W/*.log; do echo "$(basename "$f"):"; tail -n 5 "$f"; done
				dmesg | tail -n 10
			} | comment >&2
			echo "${s%% *}"
			return 0
			;;
		esac
		e=$(elapsed "$t0" | cut -d. -f1)
		if [ $((e / 15)) != $last ]; then
			last=$((e / 15))
			echo "# ${e} s: ${s:-no answer} ram $(mig_field 'transferred ram' "$W/$1.info") KiB sent, $(mig_field 'remaining ram' "$W/$1.info") KiB left, dirty sync $(mig_field 'dirty sync count' "$W/$1.info")" >&2
		fi
		sleep 0.5
	done
	# Stuck: show where QEMU's threads are in the kernel.
	{
		echo "migration timed out after ${MIG_TIMEOUT} s; query-migrate:"
		cat "$W/$1.info"
		for p in $(cat $W/*.pid); do
			for task in /proc/$p/task/*; do
				echo "task ${task##*/} $(cat $task/comm) wchan=$(cat $task/wchan 2>/dev/null)"
				cat $task/stack 2>/dev/null | head -n 12
			done
		done
	} | comment >&2
	echo "timeout"
}
guest_ping() { ping -c 3 -W 10 "$1" >/dev/null 2>&1 || ping -c 5 -W 10 "$1" >/dev/null 2>&1; }
summary=$W/summary
: > $summary
fig() { echo "$*" >> $summary; }
# per_pass <pages> <pages while quiesced> <info file>: the driver's dirty pages per pre-copy
# pass (QEMU dirty syncs while the guest runs) and in the final report(s) (device quiesced).
per_pass() {
	local n d run=$(( $1 - $2 ))
	n=$(mig_field 'dirty sync count' "$3")
	d=$(( ${n:-1} - 1 ))
	[ "$d" -gt 0 ] 2>/dev/null || d=1
	echo "$1 pages (4 KiB) reported by the driver in ${n:-?} dirty syncs:" \
		"$(( run / d )) pages ($(( run * 4 / d )) KiB) per pre-copy pass," \
		"$2 pages in the final report with the device quiesced"
}

# mac_clear <vf index>...: the admin takes the VFs' MACs back.
mac_clear() {
	local v
	for v in "$@"; do
		$IP link set "$PF_IF" vf "$v" mac 00:00:00:00:00:00 || echo "# could not clear VF $v's MAC"
	done
}
# release <qemu name> <vf index>...: as after any migration, the admin releases the source VFs
# (on one PF, a stale filter for the guest's MAC would also catch its frames): MACs cleared,
# then QEMU quits. In that order: QEMU's exit resets the VF (vfio's FLR), which takes the filter
# out of ixgbe's table but leaves the address set for the VF, and ixgbe then refuses the clear
# ("Could NOT remove the VF MAC address", ENOMEM) and would hand that MAC to the VF's next user.
release() {
	local name=$1
	shift
	mac_clear "$@"
	qemu_stop "$name"
}

cleanup() {
	for p in $W/*.pid; do [ -f "$p" ] && qemu_stop "$(basename "$p" .pid)"; done
}
trap cleanup EXIT

$IP addr add 10.0.2.1/24 dev "$PEER_IF"
$IP addr add 10.0.3.1/24 dev "$PEER_IF"
# The host admin gives the source VFs their MACs; the destination VFs get theirs from the
# migration stream (the PF-held state our driver carries).
$IP link set "$PF_IF" vf 0 mac 52:54:00:e2:e0:01
$IP link set "$PF_IF" vf 1 mac 00:00:00:00:00:00
head -c $((FILE_KIB * 1024)) /dev/urandom > $W/tx.bin
tx_md5=$(md5sum < $W/tx.bin | cut -d' ' -f1)
echo "# NIC: $NIC, VFs $VF0 $VF1 $VF2 $VF3, $GUEST_DRV in the guest"
echo "# guest: $(ls -l $G/bzImage | awk '{print $5}') B kernel, $(ls -l $G/initramfs.gz | awk '{print $5}') B initramfs"

# --- 1. VF0 -> VF1 under DMA
t=$(up)
qemu_start src1 "$VF0" || exit 1
if ! l=$(wait_console src1 GUEST:READY $BOOT_TIMEOUT); then
	notok "guest boots with $VF0 passed through"
	echo "1..$n"
	exit 1
fi
boot1=$(elapsed "$t")
echo "# $l"
ok "guest boots with $VF0 passed through (${boot1} s to GUEST:READY)"
check "the guest drives it with $GUEST_DRV" sh -c "echo '$l' | grep -q ',$GUEST_DRV '"
fig "guest boot (nested TCG, QEMU start to guest init ready): ${boot1} s"
check "guest reachable over $VF0" guest_ping 10.0.2.2
qemu_start dst1 "$VF1" 4444 || exit 1
$T send 10.0.2.2 5001 $W/tx.bin $RATE > $W/send1.out 2>&1 &
sendpid=$!
ping -i 0.1 10.0.2.2 > $W/ping1.log 2>&1 &
pingpid=$!
sleep 3
saved0=$(dstat "$VF0" save_bytes) dirty0=$(dstat "$VF0" dirty_pages_reported)
quiet0=$(dstat "$VF0" dirty_pages_quiesced)
kill -0 $sendpid 2>/dev/null && during=1 || during=0
t=$(up)
st=$(migrate src1 tcp:127.0.0.1:4444)
mig1=$(elapsed "$t")
# The source's MAC first of all: ixgbe gives the destination VF its filter in the PF's first
# free slot, usually behind the source's, and the 82599 model hands a frame to the first match
# only (seen: ~3 s of pings lost while the test read the source's counters before releasing it).
mac_clear 0
# The destination VF as the guest restarts on it, shown below if over 2 s of pings were lost.
$T regs "$VF1" > $W/regs1.a 2>&1
kill -0 $sendpid 2>/dev/null && still=1 || still=0
cp $W/src1.info $W/mig1.info
comment < $W/mig1.info
echo "# dst1 guest RAM in the test VM: $($T contig "$(cat $W/dst1.pid)" 128)"
saved1=$(( $(dstat "$VF0" save_bytes) - saved0 ))
dirty1=$(( $(dstat "$VF0" dirty_pages_reported) - dirty0 ))
quiet1=$(( $(dstat "$VF0" dirty_pages_quiesced) - quiet0 ))
release src1 0
$T regs "$VF1" > $W/regs1.b 2>&1
if [ "$st" = completed ]; then ok "pre-copy migration $VF0 -> $VF1 completed in ${mig1} s"; else notok "migration $VF0 -> $VF1: $st"; fi
check "destination runs the guest" sh -c "$T mon $W/dst1.mon 'info status' | grep -q 'status: running'"
check "the file was still arriving over DMA when pre-copy started" [ $during = 1 ]
l=$(wait_console dst1 'GUEST:RX n=0' 600) && echo "# $l"
# What the guest's kernel said after the switch-over (its VF driver resetting, link changes).
echo "# dst1 guest kernel since the switch-over:"
grep -a '^\[' $W/dst1.console | tail -n 8 | comment
# The guest sends it back at once (retrying its connect for a minute).
$T recv 5003 $W/back1.bin 240 > $W/back1.out 2>&1 &
backpid=$!
check "data received across the migration is intact on the destination (md5 $tx_md5)" \
	sh -c "echo '$l' | grep -q 'md5=$tx_md5'"
wait $backpid || stalled dst1 "$VF1"
check "guest sent it back through $VF1 intact" sh -c "[ \"\$(md5sum < $W/back1.bin | cut -d' ' -f1)\" = $tx_md5 ]"
kill -INT $pingpid 2>/dev/null
wait $pingpid 2>/dev/null
wait $sendpid 2>/dev/null
tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' $W/ping1.log)
rx=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' $W/ping1.log)
check "ping at 10/s answered before and after the switch-over ($rx of $tx)" [ "${rx:-0}" -gt 0 ]
check "PF shows the guest's MAC on VF1 (restored from the stream)" \
	sh -c "$IP link show $PF_IF | grep -q 'vf 1 .*52:54:00:e2:e0:01'"
check "our driver reported DMA-dirtied pages during pre-copy ($dirty1)" [ "$dirty1" -gt 0 ]
fig "1. VF0 -> VF1 pre-copy, guest receiving a $FILE_KIB KiB file (sent at <= $RATE KiB/s) and ping at 10/s:"
fig "   QEMU: total $(mig_field 'total time' $W/mig1.info) ms, downtime $(mig_field downtime $W/mig1.info) ms, setup $(mig_field setup $W/mig1.info) ms, RAM sent $(mig_field 'transferred ram' $W/mig1.info) KiB, VFIO device $(mig_field 'vfio device transferred' $W/mig1.info) KiB"
fig "   driver: device state $saved1 B saved on $VF0, $(dstat "$VF1" resume_bytes) B resumed on $VF1, $dirty1 dirty pages reported from the RX trap"
fig "   pre-copy under traffic: $(per_pass "$dirty1" "$quiet1" $W/mig1.info)"
fig "   ping: $tx sent, $rx answered, $((tx - rx)) lost (10/s, spanning the whole migration); wall ${mig1} s"
# Which seqs went unanswered, from the whole log (ping's output to a file is block-buffered, so
# reading it mid-run says little about when the losses fell).
lost=$(awk -v n="${tx:-0}" '/ seq=/ { sub(/.* seq=/, ""); got[$1 + 0] = 1 }
	END { for (i = 0; i <= n; i++) {
		if (i < n && !got[i]) { if (s == "") s = i; e = i; continue }
		if (s != "" && k++ < 8) r = r " " (s == e ? s : s "-" e); s = "" }
		print r }' $W/ping1.log)
fig "   ping seqs lost:${lost:- none}"
if [ $((tx - rx)) -gt 20 ]; then
	echo "# $((tx - rx)) pings lost: $VF1 at completion:"
	comment < $W/regs1.a
	echo "# and after the source's release:"
	comment < $W/regs1.b
fi

skip() { case " $(echo "${E2E_SKIP:-}" | tr , " ") " in *" $1 "*) return 0 ;; esac; return 1; }

# --- 2. cancelled: the guest (now on VF1) starts towards VF0, the migration is cancelled
if ! skip 2; then
qemu_start dst2 "$VF0" 4445 || exit 1
mon dst1 "migrate_set_capability return-path on" >/dev/null
mon dst1 "migrate_set_parameter max-bandwidth 512K" >/dev/null
mon dst1 "migrate -d tcp:127.0.0.1:4445" | comment
sleep 4
miginfo dst1 | grep -E '^Migration status' | comment
mon dst1 migrate_cancel | comment
i=0
while [ $i -lt 60 ]; do
	s=$(miginfo dst1 | sed -n 's/^Migration status: *//p')
	[ "$s" = cancelled ] && break
	sleep 0.5; i=$((i + 1))
done
check "migration cancelled during pre-copy" [ "$s" = cancelled ]
check "source still running after the cancel" sh -c "$T mon $W/dst1.mon 'info status' | grep -q 'status: running'"
check "guest still reachable over $VF1 after the cancel" guest_ping 10.0.2.2
qemu_stop dst2
fi

# --- 3. failed destination: it refuses the (rewritten) device stream during pre-copy
if ! skip 3; then
qemu_start dst3 "$VF0" 4447 || exit 1
$T relay 4446 4447 corrupt > $W/relay.out 2>&1 &
relaypid=$!
sleep 0.5
dmesg -c >/dev/null
st=$(migrate dst1 tcp:127.0.0.1:4446)
comment < $W/relay.out
kmsg=$(dmesg | grep -m1 'vfio_ixgbevf_mig.*stream')
echo "# kernel: $kmsg"
check "migration to a destination that refuses the stream fails ($st)" [ "$st" = failed ]
check "the destination refused it with a kernel message" [ -n "$kmsg" ]
check "the destination QEMU exited" sh -c "! kill -0 \$(cat $W/dst3.pid) 2>/dev/null || sleep 3; ! kill -0 \$(cat $W/dst3.pid) 2>/dev/null"
grep -a -m2 -i 'error\|fail' $W/dst3.log | comment
check "source still running after the failed migration" sh -c "$T mon $W/dst1.mon 'info status' | grep -q 'status: running'"
check "guest still reachable over $VF1 after the failed migration" guest_ping 10.0.2.2
kill $relaypid 2>/dev/null
qemu_stop dst3
fi

# --- 4. back to VF0: both VFs still migrate after the cancel and the failure
qemu_start dst4 "$VF0" 4448 || exit 1
$T send 10.0.2.2 5001 $W/tx.bin $RATE > $W/send2.out 2>&1 &
sendpid=$!
sleep 2
t=$(up)
st=$(migrate dst1 tcp:127.0.0.1:4448)
mig4=$(elapsed "$t")
if [ "$st" = completed ]; then ok "migration $VF1 -> $VF0 completed in ${mig4} s"; else notok "migration $VF1 -> $VF0: $st"; fi
cp $W/dst1.info $W/mig4.info
echo "# dst4 guest RAM in the test VM: $($T contig "$(cat $W/dst4.pid)" 128)"
release dst1 1
check "guest reachable over $VF0 after the migration back" guest_ping 10.0.2.2
l=$(wait_console dst4 'GUEST:RX n=1' 600) && echo "# $l"
$T recv 5003 $W/back2.bin 240 > $W/back2.out 2>&1 &
backpid=$!
check "second file intact on the destination" sh -c "echo '$l' | grep -q 'md5=$tx_md5'"
wait $backpid || stalled dst4 "$VF0"
check "and sent back through $VF0 intact" sh -c "[ \"\$(md5sum < $W/back2.bin | cut -d' ' -f1)\" = $tx_md5 ]"
wait $sendpid 2>/dev/null
fig "4. VF1 -> VF0 after a cancelled and a failed migration: downtime $(mig_field downtime $W/mig4.info) ms, total $(mig_field 'total time' $W/mig4.info) ms"
release dst4 0

# --- 5. two VFs in one guest (QEMU needs P2P): VF0 + VF1 -> VF2 + VF3
if ! skip 5; then
$IP link set "$PF_IF" vf 0 mac 52:54:00:e2:e0:01
$IP link set "$PF_IF" vf 1 mac 52:54:00:e2:e0:02
t=$(up)
qemu_start src5 "$VF0 $VF1" || exit 1
if l=$(wait_console src5 'GUEST:READY vfs=2' $BOOT_TIMEOUT); then
	echo "# $l"
	ok "guest with two VFs boots ($(elapsed "$t") s)"
	check "both VFs reachable before" sh -c "ping -c 3 -W 10 10.0.2.2 >/dev/null && ping -c 3 -W 10 10.0.3.2 >/dev/null"
	qemu_start dst5 "$VF2 $VF3" 4449 || exit 1
	# The final report (device quiesced) carries each VF's posted RX buffers, ~1 MiB per VF,
	# into the downtime (pre-copy passes carry only what the VFs filled): two VFs' worth needs
	# more than BANDWIDTH x downtime-limit.
	b=$BANDWIDTH BANDWIDTH=64M
	d5=$(( $(dstat "$VF0" dirty_pages_reported) + $(dstat "$VF1" dirty_pages_reported) ))
	q5=$(( $(dstat "$VF0" dirty_pages_quiesced) + $(dstat "$VF1" dirty_pages_quiesced) ))
	st=$(migrate src5 tcp:127.0.0.1:4449)
	d5=$(( $(dstat "$VF0" dirty_pages_reported) + $(dstat "$VF1" dirty_pages_reported) - d5 ))
	q5=$(( $(dstat "$VF0" dirty_pages_quiesced) + $(dstat "$VF1" dirty_pages_quiesced) - q5 ))
	BANDWIDTH=$b
	cp $W/src5.info $W/mig5.info
	release src5 0 1
	if [ "$st" = completed ]; then ok "two-VF guest migrated (P2P)"; else notok "two-VF migration: $st"; fi
	check "both VFs reachable after, on $VF2 and $VF3" sh -c "ping -c 3 -W 10 10.0.2.2 >/dev/null && ping -c 3 -W 10 10.0.3.2 >/dev/null"
	check "PF shows the MACs on VF2 and VF3" sh -c "$IP link show $PF_IF | grep -q 'vf 2 .*52:54:00:e2:e0:01' && $IP link show $PF_IF | grep -q 'vf 3 .*52:54:00:e2:e0:02'"
	fig "5. two VFs (P2P): downtime $(mig_field downtime $W/mig5.info) ms, total $(mig_field 'total time' $W/mig5.info) ms, VFIO device $(mig_field 'vfio device transferred' $W/mig5.info) KiB"
	fig "   pre-copy with both VFs idle: $(per_pass "$d5" "$q5" $W/mig5.info)"
else
	notok "guest with two VFs boots"
fi
qemu_stop src5
qemu_stop dst5
fi

# --- 6. the same guest without a VF, migrated the same way: QEMU's own downtime
if ! skip 6; then
qemu_start src6 "" || exit 1
if wait_console src6 'GUEST:READY' $BOOT_TIMEOUT > /dev/null; then
	qemu_start dst6 "" 4450 || exit 1
	st=$(migrate src6 tcp:127.0.0.1:4450)
	cp $W/src6.info $W/mig6.info
	if [ "$st" = completed ]; then ok "guest without a VF migrated (baseline)"; else notok "baseline migration: $st"; fi
	fig "6. baseline, no VF: downtime $(mig_field downtime $W/mig6.info) ms, total $(mig_field 'total time' $W/mig6.info) ms, RAM sent $(mig_field 'transferred ram' $W/mig6.info) KiB"
else
	notok "guest without a VF boots"
fi
qemu_stop src6
qemu_stop dst6
fi

echo "# ===== end-to-end summary ($NIC, QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}'), guest under TCG inside the TCG test VM: compare ratios, not absolute times)"
comment < $summary
d1=$(mig_field downtime $W/mig1.info) d6=$(mig_field downtime $W/mig6.info 2>/dev/null)
[ -n "$d1" ] && [ -n "$d6" ] && [ "$d6" != 0 ] &&
	echo "#   downtime with the VF / without: $d1 ms / $d6 ms = $(awk -v a="$d1" -v b="$d6" 'BEGIN { printf "%.2f", a / b }')"
echo "1..$n"
[ $nfail = 0 ]
