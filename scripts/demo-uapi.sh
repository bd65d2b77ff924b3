#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make demo-uapi` / `make bench`: build everything (toolchain, cached kernel, module, tests), boot the test VM,
# bind both VFs of the emulated 82576 (NIC=ixgbe: the 82599 model) to vfio_ixgbevf_mig, show DMA through one and migrate it
# live onto the other (selftests/demo_in_vm.sh does the VM side).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kdir=$(bash "$here/scripts/build-all.sh" | tail -n 1) || { echo "demo: build failed" >&2; exit 1; }
install -m 0755 "$here/selftests/demo_in_vm.sh" "$here/selftests/out/demo_in_vm.sh"
exec bash "$here/rig/run-vm.sh" --kernel "$kdir" --nic "${NIC:-igb}" \
	--module "$here/drivers/vfio_ixgbevf_mig/vfio_ixgbevf_mig.ko" \
	--tests "$here/selftests/out" --drivers vfio_ixgbevf_mig --cmd "${MIG_DEMO_CMD:-demo_in_vm.sh}" \
	--timeout "${MIG_VM_TIMEOUT:-900}"
