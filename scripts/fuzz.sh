#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make fuzz`: runs the cargo-fuzz targets of hostcore/fuzz (all of them, or the ones named as
# arguments), each starting from its seed corpus hostcore/fuzz/seeds/<target>/ (in the repo,
# written by `cargo run --example fuzz_seeds --features testing` in hostcore/) and its working
# corpus hostcore/fuzz/corpus/<target>/ (not in the repo; it grows from run to run).
#
#   FUZZ_RUNS=N   executions per target; by default about a minute's worth of each on a
#                 2-core machine: stream_decode 1000000, ring_walk and dirty_set 200000
#   FUZZ_TIME=S   seconds per target instead (libFuzzer's -max_total_time); wins over FUZZ_RUNS
#   FUZZ_SANITIZER=address|none   default address. The core forbids `unsafe`, so AddressSanitizer
#                 can only add leak and stack-overflow checks to Rust's own bounds and overflow
#                 checks (debug assertions stay on either way); `make fuzz-long` runs without
#                 it, several times faster, for its 10 M executions per target.
#
# Prints per target one line: executions, executions per second, libFuzzer's coverage (`cov`:
# edges, `ft`: features), corpus entries and bytes, seconds; then a final line. On a crash
# (panic, sanitizer report, leak, timeout, out of memory) prints the error, the artifact's
# path and the input in hex, and exits 1.
#
# Uses the machine's stable toolchain with RUSTC_BOOTSTRAP=1 (the sanitizer flags are
# unstable), so no nightly is needed; installs cargo-fuzz from crates.io if it is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export RUSTC_BOOTSTRAP=1
# The machine's rustup toolchain, which ships the sanitizer runtimes: not Debian's rustc-web
# that scripts/env.sh points the kernel build at (cargo would obey an exported RUSTC).
unset RUSTC RUST_LIB_SRC
command -v cargo >/dev/null || { echo "fuzz: cargo not found" >&2; exit 1; }
if ! command -v cargo-fuzz >/dev/null; then
	echo "fuzz: installing cargo-fuzz"
	start=$SECONDS
	cargo install --locked cargo-fuzz
	echo "fuzz: cargo-fuzz installed in $((SECONDS - start)) s"
fi
cd "$here/hostcore/fuzz"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
san=${FUZZ_SANITIZER:-address}
start=$SECONDS
cargo fuzz build -s "$san" >"$log" 2>&1 || { tail -n 40 "$log"; echo "fuzz: build failed" >&2; exit 1; }
echo "fuzz: targets built in $((SECONDS - start)) s (sanitizer: $san)"
if [ $# -gt 0 ]; then
	targets=("$@")
else
	mapfile -t targets < <(cargo fuzz list)
fi
# About a minute of each target on a 2-core machine (exec/s: ~15000, ~3000, ~3000).
default_runs() {
	case $1 in
	stream_decode) echo 1000000 ;;
	*) echo 200000 ;;
	esac
}
# The value after `key: ` on libFuzzer's last status line.
field() { grep -oE "$1: [0-9/a-zA-Z]+" <<<"$2" | tail -n 1 | cut -d' ' -f2; }
total=0
fuzz_start=$SECONDS
for t in "${targets[@]}"; do
	mkdir -p "corpus/$t"
	dirs=("corpus/$t")
	[ -d "seeds/$t" ] && dirs+=("seeds/$t")
	if [ -n "${FUZZ_TIME:-}" ]; then
		limit=-max_total_time="$FUZZ_TIME"
	else
		limit=-runs="${FUZZ_RUNS:-$(default_runs "$t")}"
	fi
	t0=$(date +%s%N)
	if ! cargo fuzz run -s "$san" "$t" "${dirs[@]}" -- "$limit" -print_final_stats=1 >"$log" 2>&1; then
		echo "fuzz $t: FAILED"
		grep -E -A 3 "panicked at|==[0-9]+==ERROR|ERROR: libFuzzer|^SUMMARY" "$log" | head -n 30 || tail -n 40 "$log"
		art=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | cut -d' ' -f5)
		if [ -n "$art" ] && [ -f "$art" ]; then
			case $art in /*) ;; *) art=$PWD/$art ;; esac
			echo "fuzz $t: artifact $art ($(stat -c %s "$art") bytes)"
			echo "fuzz $t: input (hex) $(od -An -v -tx1 "$art" | tr -d ' \n')"
			echo "fuzz $t: reproduce: cd hostcore/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s $san $t $art"
		else
			tail -n 40 "$log"
		fi
		exit 1
	fi
	t1=$(date +%s%N)
	status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | awk '{ print $2 }')
	corp=$(field corp "$status")
	total=$((total + execs))
	# Rate over the whole run, start-up and corpus loading included.
	read -r secs rate < <(awk -v ns=$((t1 - t0)) -v n="$execs" \
		'BEGIN { printf "%.1f %d\n", ns / 1e9, n / (ns / 1e9) }')
	printf 'fuzz %s: %s execs, %s exec/s, cov %s, ft %s, corpus %s entries (%s), %s s\n' \
		"$t" "$execs" "$rate" "$(field cov "$status")" "$(field ft "$status")" \
		"${corp%%/*}" "${corp#*/}" "$secs"
done
echo "fuzz: ${#targets[@]} target(s), $total execs, no crash, $((SECONDS - fuzz_start)) s"
