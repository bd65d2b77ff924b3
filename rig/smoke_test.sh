#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Rig self-test, installed as /tests/smoke_test by `rig/run-vm.sh --smoke`: checks what the
# real tests take for granted (VFs bound, one IOMMU group each, VFIO nodes, iproute2 VF
# control, links up) with no test binaries of the project.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() {
	desc=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$desc"; else nok "$desc"; fi
}
link_base() { [ -e "$1" ] && basename "$(readlink "$1")"; }

dev=/sys/bus/pci/devices
g1=$(link_base "$dev/$VF_BDF/iommu_group")
g2=$(link_base "$dev/$VF_BDF2/iommu_group")
cdev=$(ls "$dev/$VF_BDF/vfio-dev" 2>/dev/null | head -n 1)

# The igb link comes up a moment after the PF is opened.
wait_carrier() {
	i=0
	while [ $i -lt 50 ]; do
		[ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" = 1 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
vf_mac() {
	"$IP" link set dev "$PF_IF" vf 0 mac 02:00:00:00:00:10 &&
		"$IP" link show dev "$PF_IF" | grep -q 'vf 0 .*02:00:00:00:00:10'
}
one_member() { [ "$(ls "/sys/kernel/iommu_groups/$1/devices" | wc -l)" = 1 ]; }

echo "1..9"
check "vf bound to $MIG_DRIVER" [ "$(link_base "$dev/$VF_BDF/driver")" = "$MIG_DRIVER" ]
check "second vf bound to $MIG_DRIVER" [ "$(link_base "$dev/$VF_BDF2/driver")" = "$MIG_DRIVER" ]
check "vfs in separate iommu groups ($g1, $g2)" [ -n "$g1" -a -n "$g2" -a "$g1" != "$g2" ]
check "vf alone in iommu group $g1" one_member "$g1"
check "group node /dev/vfio/$g1" [ -c "/dev/vfio/$g1" ]
check "device cdev /dev/vfio/devices/$cdev" [ -n "$cdev" -a -c "/dev/vfio/devices/$cdev" ]
check "iommufd node /dev/iommu" [ -c /dev/iommu ]
check "PF $PF_IF carrier up, peer $PEER_IF carrier up" eval 'wait_carrier "$PF_IF" && wait_carrier "$PEER_IF"'
check "iproute2 sets VF 0 MAC through PF $PF_IF" vf_mac
