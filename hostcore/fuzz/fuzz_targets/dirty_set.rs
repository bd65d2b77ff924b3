// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: arbitrary sequences of marks, reports and `mark_all` on a dirty set, checked
//! against a brute-force model (ranges near 0 or at the top of the address space, page sizes
//! from 4 KiB to 1 GiB), or, with raw logging ranges and page sizes, against the uAPI's
//! validation rules and an interval model: `DMA_LOGGING_START` accepts exactly the valid
//! ranges, no report misses a dirty page or leaves its window, invalid windows are refused
//! without effect, and the set is exact until it runs out of storage.
//!
//! The body lives in the core (`pure::testing::dirty::set::fuzz_dirty_set`) so that a plain
//! `cargo test` runs it on pseudo-random inputs too. Run with `scripts/fuzz.sh dirty_set`
//! (`make fuzz` runs every target; seeds in `fuzz/seeds/dirty_set/`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_ixgbevf_mig_core::pure::testing::dirty::set::fuzz_dirty_set;

fuzz_target!(|data: &[u8]| {
    fuzz_dirty_set(data);
});
