// SPDX-License-Identifier: GPL-2.0

//! The one place that knows which kernel the module is built against.
//!
//! The driver body is the same on 6.12 and 7.3; what differs between the two kernels' `kernel`
//! crate and VFIO core is answered here, by `compat/k6_12.rs` + `compat/k6_12_ops.rs` or
//! `compat/k7_3.rs` + `compat/k7_3_ops.rs` (same items, same signatures). Kbuild picks the
//! files from the kernel's version (`--cfg mig_k7_3` for 7.x), so no other file carries a
//! kernel `cfg`. docs/kernels.md lists the differences.
//!
//! Both sides provide:
//! - `mig_module!`: `module!` with this crate's fields (6.12 `author:`, 7.3 `authors: [..]`).
//! - `user_ptr`/`user_addr`: `UserPtr` from and to an address (6.12: `usize` itself; 7.3: a
//!   newtype).
//! - `cstr_bytes`, `cstr_ptr` (usable in `const`), `cstr_from_ptr`: `kernel::str::CStr`
//!   (6.12: the kernel's own type, inherent methods) vs `core::ffi::CStr` with `CStrExt` (7.3).
//! - `Shown`: a pure-core value in `pr_*!` (7.3 formats `kernel::fmt::Display`, not `core`'s).
//! - `foreign_ptr`: `ForeignOwnable::into_foreign` as `*mut c_void` (6.12 gives `*const`).
//! - `pinned_init`: run a `PinInit` on a slot (6.12 `__pinned_init`, 7.3 `__init`).
//! - `setup_barmap`: BAR0 mapped for the driver (6.12 maps on demand with
//!   `vfio_pci_core_setup_barmap`; 7.3 maps all BARs at enable and dropped that function).
//! - `Adapter::<T>::OPS_COMPAT`: the `vfio_device_ops` members one kernel has and the other
//!   lacks (7.3: `get_region_info_caps`, PASID and token-match ops).
//! - `Adapter::<T>::dispatch_ioctl`: the device fd's ioctls that reach the driver. On 6.12
//!   `VFIO_DEVICE_GET_REGION_INFO` arrives here, with the user's buffer; on 7.3 the VFIO core
//!   decodes it and calls `get_region_info_caps` with a kernel copy. Both end in
//!   `VariantDriver::region_info`.

#[cfg(not(mig_k7_3))]
#[path = "compat/k6_12.rs"]
mod imp;
#[cfg(mig_k7_3)]
#[path = "compat/k7_3.rs"]
mod imp;
// The `impl Adapter<T>` half (no items to re-export): apart, so that nothing `adapter.rs`
// imports from here imports `adapter.rs` back.
#[cfg(not(mig_k7_3))]
#[path = "compat/k6_12_ops.rs"]
mod ops;
#[cfg(mig_k7_3)]
#[path = "compat/k7_3_ops.rs"]
mod ops;

pub(crate) use imp::*;
