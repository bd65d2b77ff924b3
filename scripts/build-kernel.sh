#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds a 6.12 kernel from Debian's linux-source (tinyconfig + fragments + patches/) into
# $MIG_CACHE/kernel-[<variant>-]<hash>, where <hash> covers the source package version, the
# fragments, the patches, the build recipe and the toolchain. Prints the build directory on
# stdout's last line.
#
# usage: build-kernel.sh [--variant rig|debug|guest] [--print]
#   rig    the test VM's kernel: Rust, VFIO, patched igb/ixgbe, lockdep (rig/kernel.config)
#   debug  the same plus KASAN, UBSAN, kmemleak, DEBUG_OBJECTS, failslab (+ rig/debug.config)
#   guest  the nested guest of the end-to-end test: no Rust, igbvf built in (rig/guest.config)
#   --print  name the cached build without building (empty when there is none yet)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/env.sh"

die() { echo "build-kernel: $*" >&2; exit 1; }
[ -f /usr/src/linux-source-6.12.tar.xz ] || die "linux-source-6.12 missing (run scripts/install-deps.sh)"
[ -x "$RUSTC" ] || die "$RUSTC missing (Debian rustc-web)"
[ -d "$RUST_LIB_SRC" ] || die "$RUST_LIB_SRC missing (Debian rust-web-src matching $RUSTC)"
[ -x "$BINDGEN" ] || die "bindgen missing (cargo install --locked bindgen-cli@0.69.5)"
command -v clang >/dev/null || die "clang missing"
command -v ld.lld >/dev/null || die "ld.lld missing"

variant=rig print=0
while [ $# -gt 0 ]; do
	case "$1" in
	--variant) variant=${2-}; shift 2 || die "--variant needs a value" ;;
	--print) print=1; shift ;;
	*) die "unknown argument $1" ;;
	esac
done
case "$variant" in
rig) frags=("$here/rig/kernel.config") prefix= ;;
debug) frags=("$here/rig/kernel.config" "$here/rig/debug.config") prefix=debug- ;;
guest) frags=("$here/rig/guest.config") prefix=guest- ;;
*) die "unknown variant $variant (rig, debug, guest)" ;;
esac

# Bump when the build steps below change what ends up in the tree (the key covers it, not this file,
# so editing comments or options like --print does not force a 10-minute rebuild).
RECIPE=1
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { echo "$srcver"; $RUSTC --version; $BINDGEN --version; clang --version | head -1
	echo "recipe $RECIPE"; cat "${frags[@]}"
	cat "$here"/patches/*.patch 2>/dev/null || true; } | sha256sum | cut -c1-16)
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
tar -C "$out" -xf /usr/src/linux-source-6.12.tar.xz
mv "$out"/linux-source-6.12 "$out/linux"
cd "$out/linux"
for p in "$here"/patches/*.patch; do
	[ -f "$p" ] || continue
	echo "build-kernel: applying $(basename "$p")" >&2
	patch -p1 --forward --quiet < "$p"
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
echo "build-kernel: built in $((end - start)) s" | tee "$out/build-time" >&2
touch "$out/.done"
echo "$out/linux"
