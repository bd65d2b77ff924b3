#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs the toolchain, builds (or reuses) the test kernel and the rig's QEMU, then builds the
# module and the selftests against the kernel. Prints the kernel build dir on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"
bash "$here/scripts/install-deps.sh" >&2
# Again: on a fresh machine the toolchain (and so RUST_LIB_SRC) only exists from here on.
. "$here/scripts/env.sh"
kdir=$(bash "$here/scripts/build-kernel.sh" | tail -n 1)
# The rig's QEMU (Debian's 10.2.2 source + the 82599 model), the VM runner's default for
# both NICs: ~5 min cold, cached by content hash like the kernel.
bash "$here/rig/qemu/build-qemu.sh" >&2
[ -f "$kdir/arch/x86/boot/bzImage" ] || { echo "build-all: no kernel at $kdir" >&2; exit 1; }
cat "$kdir/../build-time" >&2 2>/dev/null || true
# uapi headers for the selftests; cheap, and kept inside the cached tree.
[ -f "$kdir/../headers/include/linux/vfio.h" ] ||
	make -C "$kdir" "${KMAKE_FLAGS[@]}" INSTALL_HDR_PATH="$kdir/../headers" headers_install >/dev/null
# The module carries its own copy of the PF interface header (so it builds against kernels
# without patches/); it must be the one the patched PF drivers were built with.
cmp -s "$kdir/include/linux/intel_vf_mig.h" "$here/drivers/vfio_ixgbevf_mig/intel_vf_mig.h" || {
	echo "build-all: drivers/vfio_ixgbevf_mig/intel_vf_mig.h differs from patches/0001's header" >&2
	exit 1
}
make -C "$here" KDIR="$kdir" modules >&2
make -C "$here/selftests" KHDR="$kdir/../headers/include" OUT="$here/selftests/out" >&2
echo "$kdir"
