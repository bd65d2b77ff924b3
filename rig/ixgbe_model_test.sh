#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The 82599 model (rig/qemu/patches) against the stock drivers, installed as
# /tests/ixgbe_model_test and run by `rig/run-vm.sh --nic ixgbe --add
# rig/ixgbe_model_test.sh:/tests/ixgbe_model_test --cmd ixgbe_model_test`: the ixgbe PF probed
# (EEPROM checksum, MAC reset, semaphores), its link up at 10 Gb/s, ARP both ways
# between the PF and the virtio-net peer on the QEMU hub, the VFs 8086:10ed, and, when
# the kernel has ixgbevf, a VF driven by stock ixgbevf passing traffic, with the PF's port VLAN
# (ip link set .. vf 0 vlan) and spoofchk honoured (with /tests/ixgbe_l2, rig/ixgbe_l2.c,
# static, for frames busybox cannot make or show); last, with
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

echo "1..27"
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
# Layer-2 frames busybox cannot make (rig/ixgbe_l2.c): ARP requests with any source MAC and
# VLAN tag, and captures that show the tag each frame arrived with (the kernel has no 802.1Q).
L2=/tests/ixgbe_l2
PEER_MAC=52:54:00:00:00:02
FORGED=02:00:00:00:00:99
# capture <if> <file> [promisc]: 5 s of the frames <if> receives, in the background; returns
# once the socket listens. promisc on the peer: its virtio-net drops tagged frames otherwise.
capture() {
	"$L2" capture "$1" 5 ${3-} > "$2" 2>&1 &
	i=0
	while ! grep -q '^# capturing' "$2" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
show_caps() { for f in "$@"; do sed "s|^|# $f: |" "$f"; done; }
# What the PF's ixgbe logged as "<n> Spoofed packets detected" (its watchdog reads SSVPC
# every 2 s), summed over the whole boot.
spoofed() { dmesg | sed -n 's/.* \([0-9][0-9]*\) Spoofed packets detected.*/\1/p' | awk '{s += $1} END {print s + 0}'; }

# The PF's `ip link set ... vf 0 vlan 10` (VMVIR, VLVF/VLVFB, VMOLR.AUPE off) with ixgbevf on
# the VF: tagged frames of VLAN 10 reach it untagged, its own leave tagged, untagged frames
# and other VLANs stay out; vlan 0 undoes it.
port_vlan_tests() {
	check "port VLAN: ip link set dev $PF_IF vf 0 vlan 10" sh -c \
		"$IP link set dev $PF_IF vf 0 vlan 10 && $IP link show dev $PF_IF | grep -q 'vf 0 .*vlan 10'"
	capture "$PEER_IF" /tmp/peer.cap promisc
	capture "$vif" /tmp/vf.cap
	"$L2" send "$PEER_IF" $PEER_MAC ff:ff:ff:ff:ff:ff 10 10.99.0.2 10.99.0.3
	wait
	if grep -q "^$PEER_MAC > ff:ff:ff:ff:ff:ff vlan - arp 1 10.99.0.2 > 10.99.0.3" /tmp/vf.cap &&
		grep -q "^$vmac > $PEER_MAC .* arp 2 10.99.0.3 > 10.99.0.2" /tmp/peer.cap; then
		ok "port VLAN: the peer's ARP tagged 10 reaches the VF untagged and is answered"
	else
		nok "port VLAN: the peer's ARP tagged 10 reaches the VF untagged and is answered"
		show_caps /tmp/vf.cap /tmp/peer.cap
	fi
	if grep -q "^$vmac > $PEER_MAC vlan 10 arp 2 10.99.0.3 > 10.99.0.2" /tmp/peer.cap; then
		ok "port VLAN: the VF's reply leaves tagged 10 (VMVIR insertion)"
	else
		nok "port VLAN: the VF's reply leaves tagged 10 (VMVIR insertion)"
		show_caps /tmp/peer.cap
	fi
	rx0=$(stat "$vif" rx_packets)
	capture "$PEER_IF" /tmp/peer.cap promisc
	capture "$vif" /tmp/vf.cap
	"$L2" send "$PEER_IF" $PEER_MAC ff:ff:ff:ff:ff:ff - 10.99.0.2 10.99.0.3
	"$L2" send "$PEER_IF" $PEER_MAC "$vmac" - 10.99.0.2 10.99.0.3
	"$L2" send "$PEER_IF" $PEER_MAC ff:ff:ff:ff:ff:ff 20 10.99.0.2 10.99.0.3
	"$L2" send "$PEER_IF" $PEER_MAC "$vmac" 20 10.99.0.2 10.99.0.3
	wait
	rx1=$(stat "$vif" rx_packets)
	if [ "$rx1" = "$rx0" ] && ! grep -q "^$PEER_MAC" /tmp/vf.cap &&
		! grep -q "arp 2 10.99.0.3" /tmp/peer.cap; then
		ok "port VLAN: untagged and VLAN 20 frames from the peer do not reach the VF (rx_packets $rx0 -> $rx1)"
	else
		nok "port VLAN: untagged and VLAN 20 frames from the peer do not reach the VF (rx_packets $rx0 -> $rx1)"
		show_caps /tmp/vf.cap /tmp/peer.cap
	fi
	"$IP" link set dev "$PF_IF" vf 0 vlan 0
	capture "$PEER_IF" /tmp/peer.cap promisc
	"$L2" send "$PEER_IF" $PEER_MAC ff:ff:ff:ff:ff:ff - 10.99.0.2 10.99.0.3
	wait
	if ! "$IP" link show dev "$PF_IF" | grep -q 'vf 0 .*vlan 10' &&
		grep -q "^$vmac > $PEER_MAC vlan - arp 2 10.99.0.3 > 10.99.0.2" /tmp/peer.cap; then
		ok "vf 0 vlan 0: untagged ARP answered again, untagged"
	else
		nok "vf 0 vlan 0: untagged ARP answered again, untagged"
		show_caps /tmp/peer.cap
	fi
}

# spoofchk (PFVFSPOOF, on by default): the VF's frames with a source MAC that is not its own, or
# a VLAN its pool is not in, are dropped and counted in SSVPC; with spoofchk off they go out.
# The VF's driver cannot be told to forge, a packet socket on its netdev can.
spoofchk_tests() {
	s0=$(spoofed)
	capture "$PEER_IF" /tmp/peer.cap promisc
	"$L2" send "$vif" $FORGED ff:ff:ff:ff:ff:ff - 10.99.0.3 10.99.0.201
	"$L2" send "$vif" "$vmac" ff:ff:ff:ff:ff:ff - 10.99.0.3 10.99.0.211
	"$L2" send "$vif" "$vmac" ff:ff:ff:ff:ff:ff 30 10.99.0.3 10.99.0.202
	wait
	if "$IP" link show dev "$PF_IF" | grep -q 'vf 0 .*spoof checking on' &&
		grep -q "^$vmac > ff:ff:ff:ff:ff:ff vlan - arp 1 10.99.0.3 > 10.99.0.211" /tmp/peer.cap &&
		! grep -q "^$FORGED" /tmp/peer.cap; then
		ok "spoofchk on: the VF's frames from $FORGED are dropped, its own go out"
	else
		nok "spoofchk on: the VF's frames from $FORGED are dropped, its own go out"
		show_caps /tmp/peer.cap
	fi
	check "spoofchk on: the VF's frames tagged VLAN 30 (not its VLAN) are dropped" \
		sh -c "! grep -q 'arp 1 10.99.0.3 > 10.99.0.202' /tmp/peer.cap"
	i=0
	while [ $(($(spoofed) - s0)) -lt 6 ] && [ $i -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	sleep 2	# one more watchdog round: more than 6 would be counted by now
	check "ixgbe reads the 6 drops from SSVPC: $(($(spoofed) - s0)) Spoofed packets detected" \
		[ $(($(spoofed) - s0)) -eq 6 ]
	"$IP" link set dev "$PF_IF" vf 0 spoofchk off
	capture "$PEER_IF" /tmp/peer.cap promisc
	"$L2" send "$vif" $FORGED ff:ff:ff:ff:ff:ff - 10.99.0.3 10.99.0.203
	"$L2" send "$vif" "$vmac" ff:ff:ff:ff:ff:ff 30 10.99.0.3 10.99.0.204
	wait
	if "$IP" link show dev "$PF_IF" | grep -q 'vf 0 .*spoof checking off' &&
		grep -q "^$FORGED > ff:ff:ff:ff:ff:ff vlan - arp 1 10.99.0.3 > 10.99.0.203" /tmp/peer.cap; then
		ok "spoofchk off: the VF's frames from $FORGED reach the peer"
	else
		nok "spoofchk off: the VF's frames from $FORGED reach the peer"
		show_caps /tmp/peer.cap
	fi
	check "spoofchk off: the VF's frames tagged VLAN 30 reach the peer" \
		grep -q "^$vmac > ff:ff:ff:ff:ff:ff vlan 30 arp 1 10.99.0.3 > 10.99.0.204" /tmp/peer.cap
	"$IP" link set dev "$PF_IF" vf 0 spoofchk on
}

# RSS for the VF's pool (MRQC VMDq + RSS, RETA, PSRTYPE.RQPL): ixgbevf with 2 queues (the VM's 2
# CPUs, 2 queues per pool in the PF's 64-pool mode). The peer pings 32 addresses routed through
# a gateway that has the VF's MAC: the frames cross the wire to the VF, whose stack drops them
# (not its address), and hash (IPv4, the PF's random RSS key) over both queues. ixgbevf's
# per-queue RX counters (ethtool -S, /tests/ixgbe_stats from rig/ixgbe_stats.c) must both move.
# (Not the TxRx vectors' interrupts: the VF's own transmits raise those too.)
STATS=/tests/ixgbe_stats
rxq() { "$STATS" "$vif" | sed -n "s/^rx_queue_$1_packets //p"; }
rss_test() {
	if [ ! -x "$STATS" ]; then
		skip "RSS over the VF's queues: no $STATS"
		return
	fi
	if [ ! -e "/sys/class/net/$vif/queues/rx-1" ]; then
		nok "RSS: ixgbevf has one RX queue only"
		return
	fi
	"$IP" neigh add 10.99.0.77 lladdr "$vmac" dev "$PEER_IF"
	"$IP" route add 10.99.3.0/24 via 10.99.0.77 dev "$PEER_IF"
	p0=$(rxq 0) p1=$(rxq 1)
	i=1
	while [ $i -le 32 ]; do
		ping -c 1 -W 1 "10.99.3.$i" > /dev/null 2>&1 &
		i=$((i + 1))
	done
	wait
	r0=$(rxq 0) r1=$(rxq 1)
	check "RSS: the peer's 32 flows reach both of the VF's RX queues (rx_queue_0_packets $p0 -> $r0, rx_queue_1_packets $p1 -> $r1)" \
		[ "${r0:-0}" -gt "${p0:-0}" -a "${r1:-0}" -gt "${p1:-0}" ]
	"$IP" route del 10.99.3.0/24
	"$IP" neigh del 10.99.0.77 dev "$PEER_IF"
}

# Stock ixgbevf: the kernel's module, or one built out of tree from the same source
# (make -C <kernel> M=<copy of drivers/net/ethernet/intel/ixgbevf> CONFIG_IXGBEVF=m).
VF_TESTS=12	# the ARP test, rss_test, port_vlan_tests (5) and spoofchk_tests (5)
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
		rss_test
		if [ -x "$L2" ]; then
			port_vlan_tests
			spoofchk_tests
		else
			i=2
			while [ $i -lt $VF_TESTS ]; do skip "VLAN/spoofchk part: no $L2"; i=$((i + 1)); done
		fi
		"$IP" -s link show dev "$vif" | sed 's/^/# /'
		echo "$VF_BDF" > "$dev/$VF_BDF/driver/unbind"
	else
		i=0
		while [ $i -lt $VF_TESTS ]; do nok "ixgbevf binds $VF_BDF and brings its link up"; i=$((i + 1)); done
	fi
	dmesg | grep -i ixgbevf | sed 's/^/# /'
else
	i=0
	while [ $i -lt $VF_TESTS ]; do skip "no ixgbevf module in this kernel (CONFIG_IXGBEVF)"; i=$((i + 1)); done
fi
dmesg | grep -E "ixgbe " | sed 's/^/# /'
if [ -x /tests/ixgbe_hostile ]; then
	echo "$PF_BDF" > "$dev/$PF_BDF/driver/unbind"
	arping -b -I "$PEER_IF" -c 20 -w 10 10.99.0.1 > /dev/null 2>&1 &
	/tests/ixgbe_hostile "$PF_BDF" 100000 $((n + 1))
	wait
else
	for i in 1 2 3 4 5 6; do skip "hostile-guest part: no /tests/ixgbe_hostile"; done
fi
