#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /init of the rig VM (busybox sh). Sets up the igb PF with two VFs and the virtio-net peer,
# then for each driver in RIG_DRIVERS binds both VFs to it and runs the tests, forwarding
# their TAP output to the console as "[<driver>:<test>] <line>". rig/run-vm.sh parses the
# RIG:* marker lines; their format is the interface between the two, keep them in sync.
PATH=/sbin:/bin:/usr/sbin:/usr/bin
# Debian's static busybox runs its own applets before searching PATH, so in shell scripts a
# bare `ip` is busybox's, which cannot do `ip link set <pf> vf N ...`: use "$IP" (iproute2).
IP=/sbin/ip
export PATH IP

# Without a /dev/console node in the cpio the kernel started us with no stdio at all.
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
echo "RIG:INIT uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"

die_vm() {
	# Returning from init panics the kernel; always leave through a power-off.
	sync
	poweroff -f
	sleep 5
	reboot -f
	echo o > /proc/sysrq-trigger
	sleep 60
}

# The KVM probe boot only needs to reach this point.
if grep -q 'rig.mode=probe' /proc/cmdline; then
	echo "RIG:END probe"
	die_vm
fi

RIG_DRIVERS=vfio-pci
RIG_CMD=
RIG_MODULE=
RIG_NUMVFS=2
[ -f /etc/rig.conf ] && . /etc/rig.conf

total_pass=0 total_fail=0 total_skip=0

# Per-group TAP for the rig's own steps: "[<group>:rig] ok N - ...".
grp_n=0 grp_pass=0 grp_fail=0 grp_skip=0
group_begin() { grp=$1 grp_n=0 grp_pass=0 grp_fail=0 grp_skip=0; }
rig_ok() { grp_n=$((grp_n + 1)) grp_pass=$((grp_pass + 1)); echo "[$grp:rig] ok $grp_n - $*"; }
rig_fail() { grp_n=$((grp_n + 1)) grp_fail=$((grp_fail + 1)); echo "[$grp:rig] not ok $grp_n - $*"; }
group_end() {
	echo "RIG:SUMMARY group=$grp pass=$grp_pass fail=$grp_fail skip=$grp_skip"
	total_pass=$((total_pass + grp_pass))
	total_fail=$((total_fail + grp_fail))
	total_skip=$((total_skip + grp_skip))
}

# Run one test, stream its output prefixed, then count its TAP from a clean copy (console
# lines can be interleaved with kernel messages). Exit status and plan are checked too.
run_test() {
	path=$1 name=$2
	out=/tmp/tap.out
	: > "$out"
	echo "RIG:RUN group=$grp test=$name"
	run=; [ -x "$path" ] || run=sh
	{ (cd /tests && exec $run "$path" </dev/null 2>&1); echo "$?" > /tmp/tap.rc; } |
	while IFS= read -r l; do
		echo "[$grp:$name] $l"
		echo "$l" >> "$out"
	done
	rc=$(cat /tmp/tap.rc)
	ok=$(grep -c '^ok ' "$out")
	skip=$(grep '^ok ' "$out" | grep -ci '# *skip')
	# TAP: "not ok ... # TODO" is a known open bug, not a failure.
	fail=$(grep '^not ok' "$out" | grep -vc '# TODO')
	todo=$(grep '^not ok' "$out" | grep -c '# TODO')
	pass=$((ok - skip))
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	ran=$((ok + fail + todo))
	if [ "$plan" = 0 ] || { [ "$rc" = 4 ] && [ "$ran" = 0 ]; }; then
		# Whole test skipped ("1..0 # SKIP" or the kselftest skip status).
		skip=$((skip + 1))
	elif [ -z "$plan" ] && [ "$ran" = 0 ]; then
		echo "[$grp:$name] not ok - $name produced no TAP output (status $rc)"
		fail=$((fail + 1))
	else
		if [ -n "$plan" ] && [ "$plan" != "$ran" ]; then
			echo "[$grp:$name] not ok - $name planned $plan tests but ran $ran"
			fail=$((fail + 1))
		fi
		if [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$fail" = 0 ]; then
			echo "[$grp:$name] not ok - $name exited with status $rc"
			fail=$((fail + 1))
		fi
	fi
	echo "RIG:RESULT group=$grp test=$name pass=$pass fail=$fail skip=$skip status=$rc"
	grp_pass=$((grp_pass + pass)) grp_fail=$((grp_fail + fail)) grp_skip=$((grp_skip + skip))
}

find_pci() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ] && echo "${d##*/}"
	done
}

drv_of() {
	[ -e "/sys/bus/pci/devices/$1/driver" ] || return 0
	basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
}

# Bind a VF to a driver via driver_override, so no ID table matters and igbvf never wins.
bind_vf() {
	dev=/sys/bus/pci/devices/$1
	cur=$(drv_of "$1")
	[ "$cur" = "$2" ] && return 0
	[ -n "$cur" ] && echo "$1" > "$dev/driver/unbind"
	echo "$2" > "$dev/driver_override"
	echo "$1" > /sys/bus/pci/drivers_probe
	[ "$(drv_of "$1")" = "$2" ]
}

unbind_vf() {
	dev=/sys/bus/pci/devices/$1
	[ -e "$dev/driver" ] && echo "$1" > "$dev/driver/unbind"
	echo > "$dev/driver_override"
}

# The SR-IOV PF the VM got (rig/run-vm.sh --nic): the emulated 82576 or 82599.
case "${RIG_NIC:-igb}" in
ixgbe) PF_MOD=ixgbe PF_ID=0x10f8 VF_ID=0x10ed PF_NAME="ixgbe PF" VF_NAME="82599 VF" ;;
*) PF_MOD=igb PF_ID=0x10c9 VF_ID=0x10ca PF_NAME="igb PF" VF_NAME="82576 VF" ;;
esac

group_begin setup
for m in $PF_MOD vfio-pci $RIG_MODULE; do
	if modprobe "$m"; then rig_ok "modprobe $m"; else rig_fail "modprobe $m"; fi
done

PF_BDF=$(find_pci 0x8086 $PF_ID | head -n 1)
VF_BDF= VF_BDF2= VF_BDFS= PF_IF= PEER_IF=
if [ -n "$PF_BDF" ]; then
	rig_ok "$PF_NAME at $PF_BDF"
	if echo "$RIG_NUMVFS" > "/sys/bus/pci/devices/$PF_BDF/sriov_numvfs"; then
		rig_ok "sriov_numvfs=$RIG_NUMVFS"
	else
		rig_fail "sriov_numvfs=$RIG_NUMVFS"
	fi
	i=0
	while [ $i -lt "$RIG_NUMVFS" ]; do
		l=/sys/bus/pci/devices/$PF_BDF/virtfn$i
		[ -e "$l" ] && VF_BDFS="$VF_BDFS${VF_BDFS:+ }$(basename "$(readlink "$l")")"
		i=$((i + 1))
	done
	set -- $VF_BDFS
	VF_BDF=${1-} VF_BDF2=${2-}
	PF_IF=$(ls "/sys/bus/pci/devices/$PF_BDF/net" 2>/dev/null | head -n 1)
else
	rig_fail "$PF_NAME (8086:${PF_ID#0x}) not found"
fi
set -- $VF_BDFS
[ $# = "$RIG_NUMVFS" ] || rig_fail "found $# of $RIG_NUMVFS VFs"
for v in $VF_BDFS; do
	if [ "$(cat "/sys/bus/pci/devices/$v/device")" = "$VF_ID" ]; then
		rig_ok "VF $v (8086:${VF_ID#0x})"
	else
		rig_fail "VF $v is not an $VF_NAME"
	fi
done
for n in /sys/class/net/*; do
	[ "$(basename "$(readlink "$n/device/driver" 2>/dev/null)")" = virtio_net ] && PEER_IF=${n##*/}
done
ip link set dev lo up
for i in PF_IF PEER_IF; do
	eval "ifname=\$$i"
	if [ -n "$ifname" ] && ip link set dev "$ifname" up; then
		rig_ok "$i $ifname up"
	else
		rig_fail "$i netdev not found or not up"
	fi
done
group_end
export PF_BDF PF_IF VF_BDF VF_BDF2 VF_BDFS PEER_IF

# Debug kernel (rig/debug.config): objects leaked before the tests (boot) are not ours.
kml=/sys/kernel/debug/kmemleak
if [ -w $kml ]; then
	echo scan > $kml
	echo clear > $kml
fi

for drv in $RIG_DRIVERS; do
	group_begin "$drv"
	MIG_DRIVER=$drv
	export MIG_DRIVER
	bound=1
	if [ ! -d "/sys/bus/pci/drivers/$drv" ]; then
		rig_fail "driver $drv not registered"
		bound=0
	fi
	if [ $bound = 1 ]; then
		[ -n "$VF_BDFS" ] || { rig_fail "no VF to bind"; bound=0; }
		for v in $VF_BDFS; do
			if bind_vf "$v" "$drv"; then
				rig_ok "$v bound to $drv"
			else
				rig_fail "bind VF $v to $drv"
				bound=0
			fi
		done
	fi
	if [ $bound = 1 ]; then
		if [ -n "$RIG_CMD" ]; then
			case "$RIG_CMD" in /*) cmd=$RIG_CMD ;; *) cmd=/tests/$RIG_CMD ;; esac
			run_test "$cmd" "$(basename "$cmd")"
		else
			found=0
			for t in /tests/*_test; do
				[ -f "$t" ] && [ -x "$t" ] || continue
				found=1
				run_test "$t" "${t##*/}"
			done
			[ $found = 1 ] || rig_fail "no executable /tests/*_test"
		fi
	fi
	# Leave the VFs unbound so the next driver starts from the same state.
	for v in $VF_BDFS; do
		unbind_vf "$v"
	done
	group_end
done

# kmemleak needs an object unreferenced over two scans; what it prints fails the run (run-vm.sh).
if [ -w $kml ]; then
	echo "RIG:RUN group=kmemleak"
	echo scan > $kml
	sleep 5
	echo scan > $kml
	echo "kmemleak: $(grep -c 'unreferenced object' $kml) leak report(s) after the tests"
	cat $kml
fi

echo "RIG:END pass=$total_pass fail=$total_fail skip=$total_skip uptime=$(cut -d' ' -f1 /proc/uptime)"
die_vm
