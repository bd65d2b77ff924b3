// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: arbitrary sequences of marks, reports and `mark_all` on a dirty set, checked
//! against a brute-force model: no report may miss a dirty page, reports stay inside their
//! window, and the set is exact until it runs out of storage.
//!
//! The body lives in the core (`pure::dirty_testing::fuzz_dirty_set`) so that a plain
//! `cargo test` runs it on pseudo-random inputs too. Run with
//! `cargo +nightly fuzz run dirty_set` from `hostcore/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_ixgbevf_mig_core::pure::dirty_testing::fuzz_dirty_set;

fuzz_target!(|data: &[u8]| {
    fuzz_dirty_set(data);
});
