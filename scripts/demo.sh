#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: on a fresh machine, install the toolchain, build the kernels, the module and the
# tests, boot the test VM and live-migrate a guest with a VF passed through by stock QEMU
# (scripts/e2e.sh), then print what moved. NIC=ixgbe: on the 82599 model (the rig's QEMU build,
# ixgbevf in the guest) instead of the emulated 82576.
exec bash "$(cd "$(dirname "$0")" && pwd)/e2e.sh" "$@"
