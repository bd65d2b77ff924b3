#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make demo`, inside the test VM: both VFs are bound to vfio_ixgbevf_mig. Shows DMA through
# VF0 (a userspace VF driver over VFIO), then a live migration of that running VF onto VF1
# under traffic, then the migration figures. Output stays TAP so the runner judges it.
echo "1..3"
echo "# VFs: $VF_BDF and $VF_BDF2 (PF driver $(basename "$(readlink "/sys/bus/pci/devices/$PF_BDF/driver")")) bound to $MIG_DRIVER; peer NIC $PEER_IF on the same QEMU hub"
echo "# --- 1. DMA both ways through $VF_BDF (every payload byte checked)"
if /tests/vfio_pt_test -v cdev_iommufd -t dma_tx -t dma_rx 2>&1 | sed 's/^/#   /' | tee /tmp/demo1 |
	grep -E 'frames|PASSED|FAILED'; grep -q '# PASSED' /tmp/demo1; then
	echo "ok 1 - DMA through the VF"
else
	echo "not ok 1 - DMA through the VF"
fi
echo "# --- 2. live migration of the running VF $VF_BDF -> $VF_BDF2 under traffic"
if /tests/vfio_mig_test -t migrate_under_traffic 2>&1 | sed 's/^/#   /' | tee /tmp/demo2 |
	grep -E 'sent|carried|PASSED|FAILED'; grep -q '# PASSED' /tmp/demo2; then
	echo "ok 2 - migrated under traffic"
else
	echo "not ok 2 - migration under traffic"
fi
echo "# --- 3. figures (TCG: compare ratios, not absolute times)"
if /tests/vfio_mig_bench -n 20 2>&1 | sed 's/^/#   /' | tee /tmp/demo3 | grep -vE '^#   (ok|1\.\.)'; then :; fi
if grep -q 'not ok' /tmp/demo3; then echo "not ok 3 - benchmark"; else echo "ok 3 - benchmark"; fi
