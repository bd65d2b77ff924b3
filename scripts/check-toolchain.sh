#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Refuses, with the reason, to build the module against a kernel whose Rust toolchain is not the
# one on this host. An out-of-tree Rust module links against the kernel's own compiled `kernel`
# crate: rustc must be the very version the kernel was built with (Rust has no stable ABI; a
# mismatch ends in "found crate `kernel` compiled by an incompatible version of rustc"), and
# bindgen and the C compiler should be too (the module runs bindgen over kernel headers with the
# kernel's C flags). The kernel records all three in its .config.
#
# usage: scripts/check-toolchain.sh <kernel build dir>   (e.g. /lib/modules/$(uname -r)/build)
# The host tools are the ones the Makefile uses (scripts/env.sh, per kernel version).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${1:?usage: check-toolchain.sh <kernel build dir>}
cfg=$KDIR/.config
[ -f "$cfg" ] || { echo "check-toolchain: $cfg missing: not a kernel build tree (install the kernel's headers)" >&2; exit 1; }
export KDIR
. "$here/scripts/env.sh"

# kconf NAME: the string value of CONFIG_NAME in the kernel's .config, quotes removed.
kconf() { sed -n "s/^CONFIG_$1=\"\\(.*\\)\"\$/\\1/p" "$cfg"; }
bad=0
refuse() { echo "check-toolchain: $*" >&2; bad=1; }

grep -qx 'CONFIG_RUST=y' "$cfg" || refuse "$KDIR was built without CONFIG_RUST=y: this module is written in Rust"
for f in Module.symvers rust/libkernel.rmeta; do
	[ -e "$KDIR/$f" ] || refuse "$KDIR/$f missing: the headers do not carry what an out-of-tree Rust module builds against"
done

want=$(kconf RUSTC_VERSION_TEXT)
have=$("$RUSTC" --version 2>/dev/null)
if [ -z "$want" ]; then
	refuse "$cfg has no CONFIG_RUSTC_VERSION_TEXT (kernel older than 6.12?)"
elif [ "$want" != "$have" ]; then
	refuse "the kernel was built with '$want', the host's $RUSTC is '${have:-missing}': install that exact rustc (Debian: rustc-web and rust-web-src of the same version) or build the module on the machine that built the kernel"
fi

want=$(kconf BINDGEN_VERSION_TEXT)
have=$("$BINDGEN" --version 2>/dev/null | head -n 1)
if [ -n "$want" ] && [ "$want" != "$have" ]; then
	refuse "the kernel was built with '$want', the host's $BINDGEN is '${have:-missing}': cargo install --locked --version ${want#bindgen } bindgen-cli (scripts/env.sh says where this kernel's bindgen is looked for)"
fi

want=$(kconf CC_VERSION_TEXT)
have=$("$CLANG" --version 2>/dev/null | head -n 1)
case "$want" in
*clang*)
	[ "$want" = "$have" ] || refuse "the kernel was built with '$want', the host's $CLANG is '${have:-missing}'" ;;
*)
	refuse "the kernel was built with '$want'; the module builds with LLVM=1 (clang), which must match the kernel's compiler" ;;
esac

if [ $bad = 0 ]; then
	echo "check-toolchain: $KDIR ($(cat "$KDIR/include/config/kernel.release" 2>/dev/null)): rustc, bindgen and clang match the kernel's" >&2
fi
exit $bad
