#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /init of the nested guest in the end-to-end migration test (selftests/e2e_in_vm.sh). The guest
# drives its passed-through VF(s) with the stock igbvf (82576) or ixgbevf (82599) driver, both
# built in (rig/guest.config); it numbers them eth0, eth1, ...
# with addresses 10.0.<2+n>.2/24, and then serves forever, unattended (it is migrated
# under its feet): it receives a file over TCP on port 5001 (DMA into guest memory, also
# while pre-copy runs), prints its checksum on the console and sends it back to
# 10.0.2.1:5003 (DMA out of guest memory). Console lines start with GUEST: for the test.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
echo "GUEST:BOOT uptime=$(cut -d' ' -f1 /proc/uptime)"
# Several VFs on one L2: answer ARP only on the interface that owns the address.
echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore
echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce
ip link set lo up
n=0 ifs=
for d in /sys/class/net/eth*; do
	[ -e "$d" ] || continue
	i=${d##*/}
	ip addr add "10.0.$((2 + n)).2/24" dev "$i"
	drv=$(basename "$(readlink "$d/device/driver")")
	# Linear TX buffers only on igbvf: the rig's emulated igb (the outer QEMU) drops a TX
	# buffer that spans 4 KiB pages which are not physically contiguous behind its vIOMMU, and
	# this guest's RAM is scattered once the test VM's memory is fragmented (see
	# selftests/e2e_in_vm.sh). The 82599 model copies each buffer through the vIOMMU page by
	# page, so ixgbevf keeps scatter-gather and TSO.
	if [ "$drv" = igbvf ]; then
		/bin/e2e_tool nooffload "$i" || echo "GUEST:WARN could not turn off SG/TSO on $i"
	fi
	ip link set "$i" up
	ifs="$ifs $i=$(cat "$d/address"),$drv"
	n=$((n + 1))
done
echo "GUEST:READY vfs=$n$ifs uptime=$(cut -d' ' -f1 /proc/uptime)"
[ $n -gt 0 ] || exec sleep 100000
# Counters on the console now and then: the test prints them when traffic stalls.
(while sleep 20; do
	for d in /sys/class/net/eth*; do
		s=$d/statistics
		echo "GUEST:STATS ${d##*/} tx=$(cat $s/tx_packets) rx=$(cat $s/rx_packets) tx_err=$(cat $s/tx_errors) rx_err=$(cat $s/rx_errors) tx_drop=$(cat $s/tx_dropped)"
	done
	# TCP's view (retransmissions, checksum errors) as "name=value" pairs.
	awk '/^Tcp:/ { if (!h) { split($0, k); h = 1 } else { l = ""; for (i = 2; i <= NF; i++) l = l " " k[i] "=" $i; print "GUEST:TCP" l } }' /proc/net/snmp
done) &
r=0
while :; do
	if /bin/e2e_tool recv 5001 /tmp/rx.bin >/dev/null; then
		echo "GUEST:RX n=$r bytes=$(wc -c < /tmp/rx.bin) md5=$(md5sum < /tmp/rx.bin | cut -d' ' -f1)"
		if /bin/e2e_tool send 10.0.2.1 5003 /tmp/rx.bin >/dev/null; then
			echo "GUEST:TX n=$r"
		else
			echo "GUEST:TXFAIL n=$r"
		fi
	else
		echo "GUEST:RXFAIL n=$r"
		sleep 1
	fi
	r=$((r + 1))
done
