#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the rig VM's initramfs (gzip'd newc cpio): static busybox, iproute2's ip with its
# libraries (busybox ip cannot set VF MACs), the kernel modules the rig loads plus their
# dependencies, our module (optional), the test programs and rig/init.sh as /init.
#
# Usage: rig/mkinitramfs.sh --kernel <builddir> --out <file> [--module <ko>] [--tests <dir>]
#                           [--conf <file>] [--add <src>:<dst>]... [--qemu [--qemu-bin <qemu>]]
# --qemu adds Debian's qemu-system-x86_64 (or the --qemu-bin one, e.g. rig/qemu's build) with
# its libraries and the firmware a -kernel boot of a pc machine needs (the end-to-end test
# runs a nested guest inside the VM).
set -eEuo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "mkinitramfs: $*" >&2; exit 1; }
trap 'echo "mkinitramfs: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

kdir= out= module= tests= conf= qemu=0 qbin=
adds=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kdir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--module) module=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--conf) conf=$2; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	--qemu) qemu=1; shift ;;
	--qemu-bin) qbin=$2; shift 2 ;;
	*) die "unknown argument $1" ;;
	esac
done
[ -n "$kdir" ] && [ -n "$out" ] || die "need --kernel and --out"
ver=$(cat "$kdir/include/config/kernel.release" 2>/dev/null) || die "$kdir is not a built kernel tree"
mods=$(cd "$kdir/.." && pwd)/mods/lib/modules/$ver
[ -f "$mods/modules.dep" ] || die "$mods/modules.dep missing (modules_install not run?)"
[ -z "$module" ] || [ -f "$module" ] || die "module $module not found"
[ -z "$tests" ] || [ -d "$tests" ] || die "tests dir $tests not found"

stage=$(mktemp -d "${TMPDIR:-/tmp}/rig-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root,tests}

# Busybox must be static: nothing else provides a libc for it in the VM.
bb=$(command -v busybox) || die "busybox missing (busybox-static)"
ldd "$bb" >/dev/null 2>&1 && die "$bb is dynamically linked; install busybox-static"
cp "$bb" "$stage/bin/busybox"
"$bb" --list-full | while read -r applet; do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done

# Copy a dynamically linked ELF's libraries (and the loader) to the same paths.
copy_libs() {
	{ ldd "$1" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}

ipbin=$(command -v ip) || die "iproute2 ip missing"
rm -f "$stage/sbin/ip" "$stage/bin/ip"
cp -L "$ipbin" "$stage/sbin/ip"
copy_libs "$ipbin"

# Modules: what init loads, with their dependency closure from modules.dep, in the installed
# layout so busybox modprobe works inside. mdev/mtty/igbvf are there for tests that want them.
declare -A deppath deps want
while IFS=: read -r path rest; do
	n=$(basename "$path"); n=${n%%.ko*}; n=${n//-/_}
	deppath[$n]=$path
	deps[$n]=$rest
done < "$mods/modules.dep"

add_mod() {
	local n=${1//-/_} d
	[ -n "${want[$n]:-}" ] && return 0
	[ -n "${deppath[$n]:-}" ] || return 1
	want[$n]=1
	for d in ${deps[$n]}; do
		d=$(basename "$d"); add_mod "${d%%.ko*}"
	done
}
for m in igb vfio_pci; do
	add_mod "$m" || die "module $m not built (check rig/kernel.config)"
done
for m in mdev mtty igbvf ixgbe ixgbevf; do
	add_mod "$m" || true
done
if [ -n "$module" ]; then
	for m in $(modinfo -F depends "$module" | tr ',' ' '); do
		add_mod "$m" || die "$(basename "$module") needs $m, which the kernel did not build"
	done
fi
kmods=$stage/lib/modules/$ver
mkdir -p "$kmods"
for n in "${!want[@]}"; do
	mkdir -p "$kmods/$(dirname "${deppath[$n]}")"
	cp "$mods/${deppath[$n]}" "$kmods/${deppath[$n]}"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -f "$mods/$f" ] && cp "$mods/$f" "$kmods/"
done
if [ -n "$module" ]; then
	mkdir -p "$kmods/extra"
	cp "$module" "$kmods/extra/"
fi
# Regenerate modules.dep for the subset (and our module) so modprobe resolves everything.
depmod -b "$stage" "$ver"

if [ $qemu = 1 ]; then
	[ -n "$qbin" ] || qbin=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing"
	cp -L "$qbin" "$stage/usr/bin/qemu-system-x86_64"
	copy_libs "$qbin"
	mkdir -p "$stage/usr/share/qemu" "$stage/usr/share/seabios"
	cp -L /usr/share/seabios/bios-256k.bin "$stage/usr/share/seabios/"
	for f in linuxboot_dma.bin kvmvapic.bin; do
		cp -L "/usr/share/qemu/$f" "$stage/usr/share/qemu/"
	done
fi
if [ -n "$tests" ]; then
	cp -a "$tests/." "$stage/tests/"
	# Tests are meant to be static, but a dynamic one should still run rather than fail oddly.
	find "$stage/tests" -type f -perm -u+x | while read -r f; do copy_libs "$f"; done
fi
for a in ${adds[@]+"${adds[@]}"}; do
	src=${a%%:*} dst=${a#*:}
	mkdir -p "$stage$(dirname "$dst")"
	cp -L "$src" "$stage$dst"
done
[ -z "$conf" ] || cp "$conf" "$stage/etc/rig.conf"
cp "$here/rig/init.sh" "$stage/init"
chmod 755 "$stage/init"

# The loader has no ld.so.cache otherwise, and the multiarch dirs are not on its default path.
printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu > "$stage/etc/ld.so.conf"
ldconfig -r "$stage" 2>/dev/null || true

# The kernel opens /dev/console for init before devtmpfs is mounted; init copes without it.
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$stage/dev/console" c 5 1
	mknod -m 666 "$stage/dev/null" c 1 3
fi

(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 > "$out"
