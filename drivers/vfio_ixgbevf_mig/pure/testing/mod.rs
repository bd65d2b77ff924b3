// SPDX-License-Identifier: GPL-2.0

//! Host-only helpers shared by the unit tests and the fuzz targets (`hostcore/fuzz`).
//!
//! Built only for `cargo test` and for the host crate's `testing` feature; never in the
//! kernel.
//!
//! - [`mig`]: BAR contents and device states as a running guest leaves them, sample and
//!   crafted streams, and the `stream_decode` fuzz target body.
//! - [`dirty`]: fake guest memory, independent models of the ring walker and the dirty set,
//!   and the `ring_walk` / `dirty_set` fuzz target bodies.

pub mod dirty;
pub mod mig;
