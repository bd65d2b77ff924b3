// SPDX-License-Identifier: GPL-2.0

//! Raw bindings for the C interfaces this driver uses (vfio_pci_core, PCI driver core, our C
//! helpers), generated at build time by the module's Kbuild from `sys_helper.h`.
//!
//! Only [`crate::vfio`] uses these directly; everything else goes through its safe wrappers.

#![allow(
    clippy::all,
    clippy::as_ptr_cast_mut,
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::ptr_cast_constness,
    clippy::ref_as_ptr,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    unknown_lints,
    unnecessary_transmutes,
    unsafe_op_in_unsafe_fn,
    unused_imports
)]

// Blocklisted in Kbuild so that they map to Rust's pointer-sized integers, as in `bindings`.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("sys_generated.rs.inc");
