#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The 82599 model (rig/qemu/patches) against the stock drivers, installed as
# /tests/ixgbe_model_test and run by `rig/run-vm.sh --nic ixgbe --add
# rig/ixgbe_model_test.sh:/tests/ixgbe_model_test --cmd ixgbe_model_test`: the ixgbe PF probed
# (EEPROM checksum, MAC reset, semaphores), its link up at 10 Gb/s, ARP both ways
# between the PF and the virtio-net peer on the QEMU hub, the VFs 8086:10ed, and, when
# the kernel has ixgbevf, a VF driven by stock ixgbevf passing traffic; last, with
# /tests/ixgbe_hostile present (rig/ixgbe_hostile.c, static), the PF unbound and its BAR
# programmed with garbage while the peer sends: the model must log and carry on.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $* # SKIP"; }
check() {
	desc=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$desc"; else nok "$desc"; fi
}
link_base() { [ -e "$1" ] && basename "$(readlink "$1")"; }
wait_carrier() {
	i=0
	while [ $i -lt 100 ]; do
		[ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" = 1 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
stat() { cat "/sys/class/net/$1/statistics/$2" 2>/dev/null || echo 0; }
dev=/sys/bus/pci/devices

echo "1..16"
check "PF $PF_BDF bound to ixgbe" [ "$(link_base "$dev/$PF_BDF/driver")" = ixgbe ]
check "PF netdev $PF_IF carrier up" wait_carrier "$PF_IF"
check "ixgbe reports link up at 10 Gbps" sh -c 'dmesg | grep -q "NIC Link is Up 10 Gbps"'
check "no EEPROM / reset / semaphore errors from ixgbe" sh -c \
	'! dmesg | grep -E "ixgbe.*(Checksum Is Not Valid|HW Init failed|invalid MAC|semaphore|Reset polling)"'
# One kernel owns both ends and there are no network namespaces: accept_local lets the PF's
# stack answer a request whose source address is the peer's, also local.
"$IP" addr add 10.99.0.1/24 dev "$PF_IF"
"$IP" addr add 10.99.0.2/24 dev "$PEER_IF"
for c in all "$PF_IF" "$PEER_IF"; do
	echo 1 > "/proc/sys/net/ipv4/conf/$c/accept_local"
	echo 0 > "/proc/sys/net/ipv4/conf/$c/rp_filter"
done
# Each interface answers only for its own address (no ARP flux): a reply for the VF's address
# must come from the VF.
echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore
rx0=$(stat "$PF_IF" rx_packets) tx0=$(stat "$PF_IF" tx_packets)
# The peer asks for the PF's address: the request crosses the hub into the 82599's RX, the
# reply leaves through its TX.
if arping -I "$PEER_IF" -s 10.99.0.2 -c 3 -w 6 10.99.0.1 > /tmp/arping.out 2>&1 &&
	grep -q 'Received [1-9]' /tmp/arping.out; then
	ok "ARP peer -> PF -> peer: $(grep Received /tmp/arping.out)"
else
	nok "ARP peer -> PF -> peer"
	sed 's/^/# /' /tmp/arping.out
fi
rx1=$(stat "$PF_IF" rx_packets) tx1=$(stat "$PF_IF" tx_packets)
check "PF rx_packets $rx0 -> $rx1" [ "$rx1" -gt "$rx0" ]
check "PF tx_packets $tx0 -> $tx1" [ "$tx1" -gt "$tx0" ]
# Checksum offload and large frames on TX: a TCP SYN and UDP (checksums left to the NIC), a
# ping of 8000 bytes (IP fragments), to a neighbour that only exists on the wire. What arrives
# is not checked (one kernel, no namespaces): this is about the model's offload path.
"$IP" route add 10.99.1.0/24 dev "$PF_IF"
"$IP" neigh add 10.99.1.50 lladdr 52:54:00:00:00:02 dev "$PF_IF"
tx0=$(stat "$PF_IF" tx_packets)
nc -w 1 10.99.1.50 80 < /dev/null > /dev/null 2>&1
echo hello | nc -u -w 1 10.99.1.50 9 > /dev/null 2>&1
ping -c 1 -s 8000 -W 1 10.99.1.50 > /dev/null 2>&1
tx1=$(stat "$PF_IF" tx_packets)
check "TX offload paths: SYN, UDP, fragmented ping leave the PF ($tx0 -> $tx1)" [ "$tx1" -ge $((tx0 + 3)) ]
check "VF MAC set through the PF (ip link set vf 0 mac)" sh -c \
	"$IP link set dev $PF_IF vf 0 mac 02:00:00:00:00:10 && $IP link show dev $PF_IF | grep -q 'vf 0 .*02:00:00:00:00:10'"
# Stock ixgbevf: the kernel's module, or one built out of tree from the same source
# (make -C <kernel> M=<copy of drivers/net/ethernet/intel/ixgbevf> CONFIG_IXGBEVF=m).
if modprobe ixgbevf 2>/dev/null || { [ -f /tests/ixgbevf.ko ] && insmod /tests/ixgbevf.ko; }; then
	echo "$VF_BDF" > "$dev/$VF_BDF/driver/unbind" 2>/dev/null
	echo ixgbevf > "$dev/$VF_BDF/driver_override"
	echo "$VF_BDF" > /sys/bus/pci/drivers_probe
	vif=$(ls "$dev/$VF_BDF/net" 2>/dev/null | head -n 1)
	if [ -n "$vif" ] && "$IP" link set dev "$vif" up && wait_carrier "$vif"; then
		"$IP" addr add 10.99.0.3/24 dev "$vif"
		vmac=$(cat "/sys/class/net/$vif/address")
		if arping -I "$PEER_IF" -s 10.99.0.2 -c 3 -w 6 10.99.0.3 > /tmp/arping.out 2>&1 &&
			grep -qi "reply from 10.99.0.3 \[$vmac\]" /tmp/arping.out; then
			ok "ixgbevf on $VF_BDF ($vif, $vmac) answers ARP from the peer: $(grep Received /tmp/arping.out)"
		else
			nok "ixgbevf on $VF_BDF ($vif, $vmac) answers ARP from the peer"
			sed 's/^/# /' /tmp/arping.out
		fi
		# A TCP SYN from the VF: its checksum, filled in by the model through the VF's
		# queue, is checked in the pcap (scripts/ixgbe-model.sh).
		"$IP" route add 10.99.2.0/24 dev "$vif"
		"$IP" neigh add 10.99.2.50 lladdr 52:54:00:00:00:02 dev "$vif"
		nc -w 1 10.99.2.50 80 < /dev/null > /dev/null 2>&1
		"$IP" -s link show dev "$vif" | sed 's/^/# /'
		echo "$VF_BDF" > "$dev/$VF_BDF/driver/unbind"
	else
		nok "ixgbevf binds $VF_BDF and brings its link up"
	fi
	dmesg | grep -i ixgbevf | sed 's/^/# /'
else
	skip "no ixgbevf module in this kernel (CONFIG_IXGBEVF)"
fi
dmesg | grep -E "ixgbe " | sed 's/^/# /'
if [ -x /tests/ixgbe_hostile ]; then
	echo "$PF_BDF" > "$dev/$PF_BDF/driver/unbind"
	arping -b -I "$PEER_IF" -c 20 -w 10 10.99.0.1 > /dev/null 2>&1 &
	/tests/ixgbe_hostile "$PF_BDF" 100000 11
	wait
else
	for i in 11 12 13 14 15 16; do skip "hostile-guest part: no /tests/ixgbe_hostile"; done
fi
