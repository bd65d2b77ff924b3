#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Probe must refuse what is not a supported Intel VF, with a message, leaving it unbound.
# The VM has a QEMU pci-testdev (1b36:0005) for this: no other driver wants it.
echo "1..3"
if [ "$MIG_DRIVER" != vfio_ixgbevf_mig ]; then
	for i in 1 2 3; do echo "ok $i # SKIP probe policy is vfio_ixgbevf_mig's"; done
	exit 0
fi
dev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0005 ] && dev=$d
done
if [ -z "$dev" ]; then
	echo "not ok 1 - no pci-testdev in the VM"; echo "not ok 2"; echo "not ok 3"; exit 1
fi
bdf=$(basename "$dev")
echo "$MIG_DRIVER" > "$dev/driver_override"
echo "$bdf" > /sys/bus/pci/drivers_probe 2>/dev/null
if [ -e "$dev/driver" ]; then
	echo "not ok 1 - $bdf got bound to $(basename "$(readlink "$dev/driver")")"
else
	echo "ok 1 - $bdf (1b36:0005) left unbound"
fi
if dmesg | grep -q "$bdf: device 1b36:0005 is not a supported Intel VF; not binding"; then
	echo "ok 2 - refusal logged with the reason"
else
	echo "not ok 2 - no refusal message for $bdf"
fi
echo > "$dev/driver_override"
# The VFs bound to the driver are still there and usable by the next tests.
n=0
for v in /sys/bus/pci/drivers/$MIG_DRIVER/0000:*; do [ -e "$v" ] && n=$((n + 1)); done
if [ "$n" -ge 2 ]; then echo "ok 3 - $n VFs still bound"; else echo "not ok 3 - $n VFs bound"; fi
