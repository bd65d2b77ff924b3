// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: walk an RX ring built from arbitrary registers (`RDBA` anywhere in the
//! address space, `RDLEN`, `SRRCTL`), head and tail values and guest-controlled descriptors,
//! some ring pages unmapped. Must never panic; the body checks that bad registers are
//! refused exactly, that reads stay inside the ring in page-bounded batches, that one call
//! walks at most `MAX_WALK_DESCS` descriptors and resuming finishes the rest in a bounded
//! number of calls, that every buffer the device may write is marked, and that the ring
//! area the report path marks covers the ring.
//!
//! The body lives in the core (`pure::testing::dirty::fuzz_ring_walk`) so that a plain
//! `cargo test` runs it on pseudo-random inputs too. Run with `scripts/fuzz.sh ring_walk`
//! (`make fuzz` runs every target; seeds in `fuzz/seeds/ring_walk/`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_ixgbevf_mig_core::pure::testing::dirty::fuzz_ring_walk;

fuzz_target!(|data: &[u8]| {
    fuzz_ring_walk(data);
});
