// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: decode arbitrary bytes as a migration stream for each supported VF model
//! and, when the stream is accepted, restore it into a fake BAR. Must never panic.
//!
//! The body lives in the core (`pure::testing::fuzz_stream_decode`) so that a plain
//! `cargo test` runs it on pseudo-random inputs too. Run with
//! `cargo +nightly fuzz run stream_decode` from `hostcore/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_ixgbevf_mig_core::pure::testing::fuzz_stream_decode;

fuzz_target!(|data: &[u8]| {
    fuzz_stream_decode(data);
});
