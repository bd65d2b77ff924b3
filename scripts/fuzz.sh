#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make fuzz`: runs every cargo-fuzz target of hostcore/fuzz for FUZZ_RUNS executions each
# (default 200000) and prints libFuzzer's execution and coverage counts. Uses the machine's
# stable toolchain with RUSTC_BOOTSTRAP=1 (the sanitizer flags are unstable), so no nightly
# is needed; cargo-fuzz is installed from crates.io if missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${FUZZ_RUNS:-200000}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cd "$here/hostcore/fuzz"
export RUSTC_BOOTSTRAP=1
for t in $(cargo fuzz list); do
	mkdir -p "corpus/$t"
	log=$(mktemp)
	cargo fuzz run "$t" "corpus/$t" -- -runs="$runs" >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
	echo "fuzz $t: $(grep -E '^#[0-9]+' "$log" | tail -n 1)"
	rm -f "$log"
done
