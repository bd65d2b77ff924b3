// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: any bytes as a resume stream for each supported VF model: the PRE_COPY
//! initial data check, the whole-stream decode, payload parsing and validation
//! (`image::load`), then restore, resume and kick into a fake BAR. Besides never panicking:
//! an accepted stream passes the initial data check at every chunking, re-encodes to the
//! same image and record payloads, and restores to a device that saves back the same state.
//! Modes: raw bytes, a body given a valid end record, byte edits and record edits of a valid
//! stream (the last two get past checksum and length checks).
//!
//! The body lives in the core (`pure::testing::mig::fuzz_stream_decode`) so that a plain
//! `cargo test` runs it on pseudo-random inputs too. Run with `scripts/fuzz.sh stream_decode`
//! (`make fuzz` runs every target; seeds in `fuzz/seeds/stream_decode/`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_ixgbevf_mig_core::pure::testing::mig::fuzz_stream_decode;

fuzz_target!(|data: &[u8]| {
    fuzz_stream_decode(data);
});
