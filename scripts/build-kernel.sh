#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the Rust-enabled 6.12 test kernel (tinyconfig + rig/kernel.config + patches/) into
# $MIG_CACHE/kernel-<hash>, where <hash> covers the source package version, the fragment,
# the patches, this script and the Rust toolchain. Prints the build directory on stdout's last line.
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

# Bump when the build steps below change what ends up in the tree (the key covers it, not this file,
# so editing comments or options like --print does not force a 10-minute rebuild).
RECIPE=1
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { echo "$srcver"; $RUSTC --version; $BINDGEN --version; clang --version | head -1
	echo "recipe $RECIPE"; cat "$here/rig/kernel.config"
	cat "$here"/patches/*.patch 2>/dev/null || true; } | sha256sum | cut -c1-16)
out="$MIG_CACHE/kernel-$key"
# --print: name the cached build without building (empty when there is none yet).
if [ "${1:-}" = --print ]; then
	[ -f "$out/.done" ] && echo "$out/linux"
	exit 0
fi
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

make "${KMAKE_FLAGS[@]}" rustavailable >&2 || die "Rust toolchain not usable by the kernel (see above)"
make "${KMAKE_FLAGS[@]}" tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$here/rig/kernel.config" >/dev/null
make "${KMAKE_FLAGS[@]}" olddefconfig >/dev/null
# Kconfig silently drops options whose dependencies are off: check each requested one landed.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	grep -qx "$line" .config || { echo "build-kernel: requested $line but .config has: $(grep "^${line%%=*}=" .config || echo 'not set')" >&2; bad=1; }
done < "$here/rig/kernel.config"
[ $bad = 0 ] || die "config fragment did not apply"

make "${KMAKE_FLAGS[@]}" -j"$(nproc)" bzImage modules >&2
make "${KMAKE_FLAGS[@]}" INSTALL_MOD_PATH="$out/mods" modules_install >/dev/null
end=$(date +%s)
echo "build-kernel: built in $((end - start)) s" | tee "$out/build-time" >&2
touch "$out/.done"
echo "$out/linux"
