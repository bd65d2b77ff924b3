# SPDX-License-Identifier: GPL-2.0
# Sourced by the rig scripts: toolchain paths and the build cache location.
# The cache lives outside the checkout so clean clones (CI) reuse a kernel built earlier.
: "${MIG_CACHE:=/var/cache/vfio-ixgbevf-mig}"
RUSTC=/usr/bin/rustc
rust_ver=$( { $RUSTC --version 2>/dev/null || true; } | awk '{print $2}')
RUST_LIB_SRC=/usr/src/rustc-${rust_ver}/library
BINDGEN="$HOME/.cargo/bin/bindgen"
export MIG_CACHE RUSTC RUST_LIB_SRC BINDGEN
# Everything make needs to build Rust kernel code the same way for the kernel and our module.
KMAKE_FLAGS=(LLVM=1 "RUSTC=$RUSTC" "BINDGEN=$BINDGEN")
