#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds a kernel from Debian's linux-source-<version> (tinyconfig + fragments + patches/) into
# $MIG_CACHE/kernel-[<version>-][<variant>-]<hash>, where <hash> covers the source package
# version, the fragments, the patches, the build recipe and the toolchain. Prints the build
# directory on stdout's last line.
#
# usage: build-kernel.sh [--kernel 6.12|7.3] [--variant rig|debug|guest] [--print]
#   --kernel  6.12 (default, or $KERNEL): linux-source-6.12, patches/*.patch, cache kernel-<hash>
#             7.3: linux-source-7.3 (trixie-backports), clang-19 + bindgen 0.71.1 (scripts/env.sh),
#             patches/*.patch with patches/7.3/<same name> in place of a patch rebased for 7.3,
#             cache kernel-7.3-[<variant>-]<hash>
#   rig    the test VM's kernel: Rust, VFIO, patched igb/ixgbe, lockdep (rig/kernel.config)
#   debug  the same plus KASAN, UBSAN, kmemleak, DEBUG_OBJECTS, failslab (+ rig/debug.config)
#   guest  the nested guest of the end-to-end test: no Rust, igbvf built in (rig/guest.config)
#   --print  name the cached build without building (empty when there is none yet)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "build-kernel: $*" >&2; exit 1; }
variant=rig print=0
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=${2-}; shift 2 || die "--kernel needs a value" ;;
	--variant) variant=${2-}; shift 2 || die "--variant needs a value" ;;
	--print) print=1; shift ;;
	*) die "unknown argument $1" ;;
	esac
done
case "${KERNEL:=6.12}" in
6.12 | 7.3) ;;
*) die "unknown kernel $KERNEL (6.12, 7.3)" ;;
esac
export KERNEL
. "$here/scripts/env.sh"

src=/usr/src/linux-source-$KERNEL.tar.xz
[ -f "$src" ] || die "linux-source-$KERNEL missing (run scripts/install-deps.sh)"
[ -x "$RUSTC" ] || die "$RUSTC missing (Debian rustc-web)"
[ -d "$RUST_LIB_SRC" ] || die "$RUST_LIB_SRC missing (Debian rust-web-src matching $RUSTC)"
[ -x "$BINDGEN" ] || die "$BINDGEN missing (run scripts/install-deps.sh)"
command -v "$CLANG" >/dev/null || die "$CLANG missing"
command -v "ld.lld${KLLVM#1}" >/dev/null || die "ld.lld${KLLVM#1} missing"
case "$variant" in
rig) frags=("$here/rig/kernel.config") prefix= ;;
debug) frags=("$here/rig/kernel.config" "$here/rig/debug.config") prefix=debug- ;;
guest) frags=("$here/rig/guest.config") prefix=guest- ;;
*) die "unknown variant $variant (rig, debug, guest)" ;;
esac
# The PF patches: patches/*.patch, each replaced by patches/<kernel>/<same name> where a kernel
# needs it rebased. 6.12 takes patches/*.patch as they are (and hashes them exactly as before the
# kernel selector existed, so its cache key did not move).
patches=()
for p in "$here"/patches/*.patch; do
	[ -f "$p" ] || continue
	[ "$KERNEL" != 6.12 ] && [ -f "$here/patches/$KERNEL/${p##*/}" ] && p=$here/patches/$KERNEL/${p##*/}
	patches+=("$p")
done
[ "$KERNEL" = 6.12 ] || prefix=$KERNEL-$prefix

# Bump when the build steps below change what ends up in the tree (the key covers it, not this file,
# so editing comments or options like --print does not force a 10-minute rebuild).
RECIPE=1
srcver=$(dpkg-query -W -f='${Version}' "linux-source-$KERNEL")
key=$( { echo "$srcver"; $RUSTC --version; $BINDGEN --version; $CLANG --version | head -1
	echo "recipe $RECIPE"; cat "${frags[@]}"
	[ ${#patches[@]} = 0 ] || cat "${patches[@]}"; } | sha256sum | cut -c1-16)
out="$MIG_CACHE/kernel-$prefix$key"
if [ $print = 1 ]; then
	[ -f "$out/.done" ] && echo "$out/linux"
	exit 0
fi
# One build per key at a time (e2e.sh and check.sh may both want the same kernel): a second
# caller waits for the first and then finds it cached.
mkdir -p "$MIG_CACHE"
exec 9>"$MIG_CACHE/.lock-kernel-$prefix$key"
flock 9
if [ -f "$out/.done" ]; then
	echo "build-kernel: cached $out" >&2
	echo "$out/linux"
	exit 0
fi

start=$(date +%s)
rm -rf "$out"
mkdir -p "$out"
echo "build-kernel: unpacking linux-source $srcver into $out" >&2
tar -C "$out" -xf "$src"
mv "$out/linux-source-$KERNEL" "$out/linux"
cd "$out/linux"
for p in ${patches[@]+"${patches[@]}"}; do
	echo "build-kernel: applying ${p#"$here"/}" >&2
	patch -p1 --forward --quiet < "$p" || die "${p#"$here"/} does not apply to linux-source-$KERNEL $srcver (rebase it into patches/$KERNEL/)"
done

if grep -qx 'CONFIG_RUST=y' "${frags[@]}"; then
	make "${KMAKE_FLAGS[@]}" rustavailable >&2 || die "Rust toolchain not usable by the kernel (see above)"
fi
make "${KMAKE_FLAGS[@]}" tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "${frags[@]}" >/dev/null
make "${KMAKE_FLAGS[@]}" olddefconfig >/dev/null
# Kconfig silently drops options whose dependencies are off: check each requested one landed.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	grep -qx "$line" .config || { echo "build-kernel: requested $line but .config has: $(grep "^${line%%=*}=" .config || echo 'not set')" >&2; bad=1; }
done < <(cat "${frags[@]}")
[ $bad = 0 ] || die "config fragment did not apply"

if grep -qx 'CONFIG_MODULES=y' .config; then
	make "${KMAKE_FLAGS[@]}" -j"$(nproc)" bzImage modules >&2
	make "${KMAKE_FLAGS[@]}" INSTALL_MOD_PATH="$out/mods" modules_install >/dev/null
else
	make "${KMAKE_FLAGS[@]}" -j"$(nproc)" bzImage >&2
fi
end=$(date +%s)
echo "build-kernel: linux $KERNEL ($srcver) built in $((end - start)) s" | tee "$out/build-time" >&2
touch "$out/.done"
echo "$out/linux"
