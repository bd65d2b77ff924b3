# SPDX-License-Identifier: GPL-2.0
# Sourced by the rig scripts: toolchain paths and the build cache location.
# The cache lives outside the checkout so clean clones (CI) reuse a kernel built earlier.
#
# KERNEL=6.12|7.3 picks the kernel (default 6.12) and with it the C/bindgen toolchain:
#   6.12  Debian's default clang (14) and bindgen-cli 0.69.5 (what the 6.12 rig kernel is built with)
#   7.3   clang-19/lld-19 (7.3 needs LLVM >= 17.0.1) and bindgen-cli 0.71.1 (7.3's minimum),
#         the latter installed under ~/.cargo/bindgen-0.71.1 so both can live side by side
# rustc is the same for both (Debian's rustc-web; 7.3 needs >= 1.85). With KDIR set and KERNEL
# not, the kernel is taken from that build tree's kernel release.
: "${MIG_CACHE:=/var/cache/vfio-ixgbevf-mig}"
if [ -z "${KERNEL:-}" ] && [ -n "${KDIR:-}" ] && [ -f "$KDIR/include/config/kernel.release" ]; then
	KERNEL=$(cut -d. -f1,2 "$KDIR/include/config/kernel.release")
fi
: "${KERNEL:=6.12}"
RUSTC=/usr/bin/rustc
rust_ver=$( { $RUSTC --version 2>/dev/null || true; } | awk '{print $2}')
RUST_LIB_SRC=/usr/src/rustc-${rust_ver}/library
case "$KERNEL" in
7.3)
	BINDGEN="$HOME/.cargo/bindgen-0.71.1/bin/bindgen"
	CLANG=clang-19 KLLVM=-19
	;;
*)
	BINDGEN="$HOME/.cargo/bin/bindgen"
	CLANG=clang KLLVM=1
	;;
esac
# bindgen loads the newest libclang it finds unless told: pin the one matching $CLANG (with
# clang-19 installed next to clang-14, 0.69.5 would otherwise pick libclang 19 for 6.12).
clang_major=$( { $CLANG -dumpversion 2>/dev/null || true; } | cut -d. -f1)
[ -z "$clang_major" ] || LIBCLANG_PATH=/usr/lib/llvm-$clang_major/lib
export MIG_CACHE KERNEL RUSTC RUST_LIB_SRC BINDGEN CLANG KLLVM
[ -z "${LIBCLANG_PATH:-}" ] || export LIBCLANG_PATH
# Everything make needs to build Rust kernel code the same way for the kernel and our module.
KMAKE_FLAGS=("LLVM=$KLLVM" "RUSTC=$RUSTC" "BINDGEN=$BINDGEN")
