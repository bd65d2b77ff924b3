#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the rig's QEMU: Debian's qemu source package (fetched from sid's deb-src, which serves
# the whole source; no binary comes from sid, see scripts/install-deps.sh) plus our patch series
# rig/qemu/patches/*.patch (the 82599 model), x86_64 system target only, into
# $MIG_CACHE/qemu-<hash>, where <hash> covers the source version, the patches, the configure
# flags and the build recipe. Prints the build time on stderr and the binary on stdout's last line.
#
# usage: rig/qemu/build-qemu.sh [--print]
#   --print  name the cached binary without building (empty when there is none yet)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/scripts/env.sh"
die() { echo "build-qemu: $*" >&2; exit 1; }

# The source package. The sha256 pins the exact .dsc: the version alone could be re-uploaded.
SRC_VERSION=1:10.2.2+ds-1
DSC_SHA256=f1684b3aa5ec500c3389d346c6501dee45041ea91656c6556d4da9023b7987dd
# The Python packages configure needs and the +ds tarball leaves out (python/wheels).
PY_PKGS=(meson==1.7.2 pycotap==1.3.1)
# Only what the rig uses: q35 + intel-iommu, pcie root ports, igb / ixgbe82599, virtio-net,
# hubports, vfio-pci (the nested QEMU), TCG. Everything optional off. --prefix=/usr: the
# binary finds Debian's firmware (seabios, linuxboot_dma.bin) where Debian's QEMU looks (its
# debian/rules sets the first two of these); the +ds tarball has none of its own.
CONFIGURE_FLAGS=(--prefix=/usr --target-list=x86_64-softmmu --without-default-features --disable-docs
	--disable-tools --disable-user --enable-tcg --enable-kvm --disable-werror
	--disable-download --disable-install-blobs
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu)
# Bump when the steps below change what ends up in the binary.
RECIPE=1

print=0
while [ $# -gt 0 ]; do
	case "$1" in
	--print) print=1; shift ;;
	*) die "unknown argument $1" ;;
	esac
done

patches=()
for p in "$here"/rig/qemu/patches/*.patch; do [ -f "$p" ] && patches+=("$p"); done
key=$( { echo "$SRC_VERSION $DSC_SHA256"; echo "recipe $RECIPE"; echo "${CONFIGURE_FLAGS[*]}"
	echo "${PY_PKGS[*]}"; gcc --version | head -1
	for p in ${patches[@]+"${patches[@]}"}; do basename "$p"; cat "$p"; done; } |
	sha256sum | cut -c1-16)
out="$MIG_CACHE/qemu-$key"
bin="$out/build/qemu-system-x86_64"
# Run from its build tree, QEMU relocates its firmware path into build/qemu-bundle: point
# the bundle's firmware directories at Debian's (seabios, ipxe, /usr/share/qemu's files),
# so the binary boots as Debian's does. Cheap and idempotent: done on every call.
link_firmware() {
	local b=$out/build/qemu-bundle d f
	for d in /usr/share/seabios /usr/lib/ipxe/qemu; do
		[ -d "$d" ] && [ ! -e "$b$d" ] && mkdir -p "$(dirname "$b$d")" && ln -s "$d" "$b$d"
	done
	mkdir -p "$b/usr/share/qemu"
	for f in /usr/share/qemu/*; do
		[ -e "$b$f" ] || [ -L "$b$f" ] || ln -s "$f" "$b$f"
	done
}
if [ $print = 1 ]; then
	[ -f "$out/.done" ] && link_firmware && echo "$bin"
	exit 0
fi
mkdir -p "$MIG_CACHE"
exec 9>"$MIG_CACHE/.lock-qemu-$key"
flock 9
if [ -f "$out/.done" ]; then
	echo "build-qemu: cached $out" >&2
	link_firmware
	echo "$bin"
	exit 0
fi
for t in ninja gcc pkg-config dpkg-source; do
	command -v "$t" >/dev/null || die "$t missing (run scripts/install-deps.sh)"
done

start=$(date +%s)
# The source: downloaded once per version into the cache, reused by every patch set.
srcdir="$MIG_CACHE/qemu-src-${SRC_VERSION#*:}"
if [ ! -f "$srcdir/.done" ]; then
	rm -rf "$srcdir"; mkdir -p "$srcdir"
	echo "build-qemu: fetching qemu $SRC_VERSION source" >&2
	( cd "$srcdir" && apt-get source --download-only -q "qemu=$SRC_VERSION" >&2 ) ||
		die "apt-get source failed (is sid's deb-src line in /etc/apt/sources.list.d? run scripts/install-deps.sh)"
	dsc=$(ls "$srcdir"/qemu_*.dsc)
	echo "$DSC_SHA256  $dsc" | sha256sum -c --quiet - || die "$dsc: unexpected checksum"
	# dpkg-source checks the tarballs against the .dsc.
	touch "$srcdir/.done"
fi
dsc=$(ls "$srcdir"/qemu_*.dsc)

rm -rf "$out"
mkdir -p "$out"
echo "build-qemu: unpacking into $out" >&2
# Debian's own patches (debian/patches, quilt) are applied by dpkg-source; ours go on top.
dpkg-source -x "$dsc" "$out/src" >&2 || die "dpkg-source -x failed"
cd "$out/src"
for p in ${patches[@]+"${patches[@]}"}; do
	echo "build-qemu: applying $(basename "$p")" >&2
	patch -p1 --forward --quiet < "$p" || die "$(basename "$p") does not apply"
done

# The Python that configure runs meson with: a venv with the wheels the +ds tarball dropped.
python3=/usr/bin/python3
[ -x $python3 ] || python3=$(command -v python3)
"$python3" -m venv "$out/venv" >&2
"$out/venv/bin/pip" install -q --disable-pip-version-check "${PY_PKGS[@]}" >&2 ||
	die "pip install ${PY_PKGS[*]} failed"

mkdir -p "$out/build"
cd "$out/build"
../src/configure --python="$out/venv/bin/python3" "${CONFIGURE_FLAGS[@]}" > "$out/configure.log" 2>&1 ||
	{ tail -n 30 "$out/configure.log" >&2; die "configure failed (log: $out/configure.log)"; }
nice -n 10 ninja -j"$(nproc)" qemu-system-x86_64 >&2 || die "build failed"
[ -x "$bin" ] || die "$bin missing after the build"
end=$(date +%s)
echo "build-qemu: built in $((end - start)) s" | tee "$out/build-time" >&2
link_firmware
touch "$out/.done"
echo "$bin"
