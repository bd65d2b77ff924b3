// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: walk an RX ring built from arbitrary registers and guest memory (some pages
//! unmapped). Must never panic; the body checks that bad registers are refused, that the
//! work stays bounded and that every buffer the device may write is marked.
//!
//! The body lives in the core (`pure::dirty_testing::fuzz_ring_walk`) so that a plain
//! `cargo test` runs it on pseudo-random inputs too. Run with
//! `cargo +nightly fuzz run ring_walk` from `hostcore/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_ixgbevf_mig_core::pure::dirty_testing::fuzz_ring_walk;

fuzz_target!(|data: &[u8]| {
    fuzz_ring_walk(data);
});
