// SPDX-License-Identifier: GPL-2.0

//! Host build of the driver's pure core (`drivers/vfio_ixgbevf_mig/pure/`).
//!
//! The kernel module compiles the same files as its `pure` module; this crate compiles them
//! on the host, `no_std` outside tests, with the lints the kernel build applies
//! (`rust_common_flags` in the top-level Makefile) turned into errors, so that
//! `cargo test` and `cargo clippy` catch what the kernel build would.
//!
//! The `testing` feature builds the crate with `std` and exposes the fake BAR
//! (`pure::hw::io::fake`) and the fuzz target bodies to the fuzz targets in `fuzz/`, and the
//! generator of their seed corpus (`fuzz_seeds`) to the `fuzz_seeds` example.

#![cfg_attr(not(any(test, feature = "testing")), no_std)]
#![forbid(unsafe_code)]
#![deny(
    missing_docs,
    non_ascii_idents,
    rust_2018_idioms,
    unreachable_pub,
    rustdoc::missing_crate_level_docs,
    rustdoc::unescaped_backticks,
    clippy::all,
    clippy::ignored_unit_patterns,
    clippy::mut_mut,
    clippy::needless_bitwise_bool,
    clippy::no_mangle_with_rust_abi,
    clippy::undocumented_unsafe_blocks,
    clippy::unnecessary_safety_comment,
    clippy::unnecessary_safety_doc,
    clippy::float_arithmetic
)]
// `len_without_is_empty`: the kernel build (where `pure` is private) reports dead code, and
// an `is_empty` that no caller uses would be dead there.
#![allow(
    clippy::collapsible_if,
    clippy::collapsible_match,
    clippy::len_without_is_empty,
    clippy::needless_lifetimes,
    clippy::uninlined_format_args,
    clippy::unwrap_or_default
)]

#[path = "../../drivers/vfio_ixgbevf_mig/pure/mod.rs"]
pub mod pure;

#[cfg(any(test, feature = "testing"))]
pub mod fuzz_seeds;
