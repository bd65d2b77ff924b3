# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of vfio_ixgbevf_mig.ko and the rig around it.
#   make KDIR=<rust-enabled kernel build>      build the module (KDIR defaults to the rig's kernel)
#   KERNEL=7.3 make ...                         the same against the 7.3 rig kernel (default 6.12)
#   make demo                                   build everything, live-migrate a guest with a VF in QEMU
#   make check                                  host unit tests + the VM selftest suite
.PHONY: all modules clean check check-debug check-kernel xkernel host-test demo demo-uapi e2e kernel deps clippy fuzz fuzz-long bench bench-nics bench-dirty

# KERNEL=6.12|7.3 picks the rig kernel (default 6.12); KDIR names any other build tree.
KDIR ?= $(shell bash scripts/build-kernel.sh --print 2>/dev/null)
# The toolchain that kernel was built with (scripts/env.sh: LLVM suffix, bindgen, libclang).
KENV := $(shell KDIR='$(KDIR)' bash -c '. scripts/env.sh; echo "$$KLLVM $$BINDGEN $${LIBCLANG_PATH:-}"' 2>/dev/null)
ifeq ($(KENV),)
$(error scripts/env.sh missing next to the Makefile: it names the toolchain per kernel)
endif
export LIBCLANG_PATH := $(word 3,$(KENV))
KLLVM := $(word 1,$(KENV))
# With a versioned LLVM (LLVM=-19) also name CC and LD: DKMS puts CC=clang LD=ld.lld on our
# command line (from the kernel's .config), which would otherwise reach Kbuild and pick clang 14.
KMAKE := $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(KLLVM) RUSTC=/usr/bin/rustc \
	BINDGEN=$(word 2,$(KENV)) CLIPPY_DRIVER=/usr/bin/clippy-driver \
	$(if $(filter-out 1,$(KLLVM)),CC=clang$(KLLVM) LD=ld.lld$(KLLVM))

all: modules

modules:
	@test -n "$(KDIR)" -a -f "$(KDIR)/Module.symvers" || { echo "KDIR=$(KDIR) is not a built kernel tree: run 'make kernel' or pass KDIR=<kernel build>" >&2; exit 1; }
	@grep -q '^CONFIG_RUST=y' $(KDIR)/.config || { echo "$(KDIR) was built without CONFIG_RUST=y: this module is written in Rust" >&2; exit 1; }
	@bash scripts/check-toolchain.sh $(KDIR)
	$(KMAKE) modules

clippy:
	$(KMAKE) CLIPPY=1 modules

clean:
	-test -n "$(KDIR)" && $(KMAKE) clean
	rm -rf selftests/out hostcore/target

deps:
	bash scripts/install-deps.sh

kernel: deps
	bash scripts/build-kernel.sh

host-test:
	cargo test --manifest-path hostcore/Cargo.toml

check:
	bash scripts/check.sh

# The VM suite on the KASAN/UBSAN/kmemleak/DEBUG_OBJECTS/failslab kernel (rig/debug.config).
check-debug:
	bash scripts/check-debug.sh

# The VM suite on the second rig kernel (KERNEL=7.3 by default here; `make check` runs it when
# that kernel is cached or with CHECK_73=1).
check-kernel:
	bash scripts/check-kernel.sh $${KERNEL:-7.3}

# Device streams across kernels: saved on 6.12 and loaded on 7.3, and the reverse.
xkernel:
	bash scripts/xkernel.sh

demo:
	bash scripts/demo.sh

# The end-to-end migration with stock QEMU alone (what `make demo` runs).
e2e:
	bash scripts/e2e.sh

# DMA through a VF and a VF-to-VF migration driven through the uAPI directly, no QEMU.
demo-uapi:
	bash scripts/demo-uapi.sh

# cargo-fuzz targets of the pure core (defaults and FUZZ_RUNS/FUZZ_TIME: scripts/fuzz.sh).
fuzz:
	bash scripts/fuzz.sh

# The long run: 10 million executions of each target, without AddressSanitizer (see fuzz.sh).
fuzz-long:
	FUZZ_RUNS=$${FUZZ_RUNS:-10000000} FUZZ_SANITIZER=$${FUZZ_SANITIZER:-none} bash scripts/fuzz.sh

# Migration figures (state size, stop-copy and resume times, frames lost) in the VM.
bench:
	MIG_DEMO_CMD=vfio_mig_bench bash scripts/demo-uapi.sh

# The same figures on both NICs (82576, 82599 model) with the ixgbe/igb ratios.
bench-nics:
	bash scripts/bench-nics.sh

# Dirty-tracking figures in the VM: RX rate and trap cost with logging off/on, REPORT time
# over 32 MiB vs 64 GiB.
bench-dirty:
	MIG_DEMO_CMD=vfio_dirty_bench bash scripts/demo-uapi.sh
