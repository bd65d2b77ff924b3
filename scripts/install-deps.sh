#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs every tool the rig needs from Debian (bookworm, -security, -backports) and crates.io.
# Idempotent: a warm machine skips what it already has.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

bp=/etc/apt/sources.list.d/bookworm-backports.list
if [ ! -f "$bp" ]; then
	echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee "$bp" >/dev/null
fi
# The second rig kernel's tools only when 7.3 is wanted (KERNEL=7.3, CHECK_73=1, or
# MIG_DEPS_73=1 as scripts/module-for-kernel.sh sets it): a cold `make check` does not build 7.3.
want73=0
case "${KERNEL:-}:${CHECK_73:-}:${MIG_DEPS_73:-}" in 7.3:*:* | *:1:* | *:*:1) want73=1 ;; esac
# linux-source-7.3 comes from trixie-backports: architecture-independent, depends only on
# binutils and xz-utils. The pin keeps apt from taking anything else from there.
tbp=/etc/apt/sources.list.d/trixie-backports.list
tpin=/etc/apt/preferences.d/vfio-ixgbevf-mig-trixie-backports
pin='Package: *
Pin: release n=trixie-backports
Pin-Priority: -1

Package: linux-source-7.3
Pin: release n=trixie-backports
Pin-Priority: 500'
if [ $want73 = 1 ] && [ "$(cat "$tpin" 2>/dev/null)" != "$pin" ]; then
	echo "$pin" | $SUDO tee "$tpin" >/dev/null
fi
if [ $want73 = 1 ] && [ ! -f "$tbp" ]; then
	echo "deb http://deb.debian.org/debian trixie-backports main" | $SUDO tee "$tbp" >/dev/null
fi

# The rig's own QEMU (rig/qemu/build-qemu.sh) is built from Debian's qemu *source* package in
# sid, the only suite that serves a whole 10.2 source. Sources only: the pin keeps any binary
# package from sid out even if someone adds a deb line for it later.
sid_src=/etc/apt/sources.list.d/vfio-ixgbevf-mig-sid-src.sources
sid_pin=/etc/apt/preferences.d/vfio-ixgbevf-mig-sid
sid_new=0
if [ ! -f "$sid_src" ]; then
	printf '%s\n' "# Source packages only (rig/qemu/build-qemu.sh); no binaries from sid." \
		"Types: deb-src" "URIs: http://deb.debian.org/debian" "Suites: sid" "Components: main" \
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" | $SUDO tee "$sid_src" >/dev/null
	sid_new=1
fi
if [ ! -f "$sid_pin" ]; then
	printf '%s\n' "Package: *" "Pin: release n=sid" "Pin-Priority: -1" | $SUDO tee "$sid_pin" >/dev/null
fi

pkgs=(linux-source-6.12 rustc-web rust-web-src rust-web-clippy clang lld llvm libclang-dev busybox-static
      bc bison flex libelf-dev libssl-dev cpio xz-utils zstd kmod iproute2 pahole python3 gcc make rsync
      dpkg-dev ninja-build pkg-config libglib2.0-dev zlib1g-dev python3-venv)
# clang-19 & co. for 7.3 (needs LLVM >= 17.0.1; bookworm's default clang is 14, kept for 6.12).
[ $want73 = 0 ] || pkgs+=(linux-source-7.3 clang-19 lld-19 llvm-19 libclang-19-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
qemu_ok=0
if dpkg -s qemu-system-x86 >/dev/null 2>&1 && qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
	qemu_ok=1
fi
if [ ${#missing[@]} -gt 0 ] || [ $qemu_ok = 0 ] || [ $sid_new = 1 ]; then
	$SUDO apt-get update -q
	[ ${#missing[@]} -gt 0 ] && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	if [ $qemu_ok = 0 ]; then
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			-t bookworm-backports qemu-system-x86 qemu-system-data ipxe-qemu seabios
	fi
fi
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"' || { echo "install-deps: qemu-system-x86_64 lacks the igb device (need QEMU >= 8 from bookworm-backports)" >&2; exit 1; }

# bindgen-cli 0.69.5 for 6.12 (~/.cargo/bin) and 0.71.1, the minimum of 7.3, beside it
# (scripts/env.sh picks one per kernel).
BINDGEN_VERSION=0.69.5
if ! { [ -x "$HOME/.cargo/bin/bindgen" ] && "$HOME/.cargo/bin/bindgen" --version | grep -q " $BINDGEN_VERSION"; }; then
	cargo install --locked --version "$BINDGEN_VERSION" bindgen-cli
fi
BINDGEN73_VERSION=0.71.1
b73=$HOME/.cargo/bindgen-$BINDGEN73_VERSION
if [ $want73 = 1 ] && ! { [ -x "$b73/bin/bindgen" ] && "$b73/bin/bindgen" --version | grep -q " $BINDGEN73_VERSION"; }; then
	cargo install --locked --version "$BINDGEN73_VERSION" --root "$b73" bindgen-cli
fi
echo "install-deps: ok"
