// SPDX-License-Identifier: GPL-2.0

//! Linux 6.12's side of [`super`] (see there for the list).

use crate::sys;
use core::fmt;
use kernel::{
    ffi::{c_char, c_int, c_void},
    prelude::*,
    str::CStr,
    types::ForeignOwnable,
    uaccess::UserPtr,
};

/// `module!` with 6.12's field names (`author:`, one string).
macro_rules! mig_module {
    (
        type: $t:ident,
        name: $n:tt,
        author: $a:tt,
        description: $d:tt,
        license: $l:tt $(,)?
    ) => {
        kernel::prelude::module! {
            type: $t,
            name: $n,
            author: $a,
            description: $d,
            license: $l,
        }
    };
}
pub(crate) use mig_module;

/// A user pointer from an ioctl argument or a C `__user` pointer (6.12: the address itself).
pub(crate) fn user_ptr(addr: usize) -> UserPtr {
    addr
}

/// The address a user pointer holds, to pass it back to C.
pub(crate) fn user_addr(ptr: UserPtr) -> usize {
    ptr
}

/// The bytes of a C string, without the NUL.
pub(crate) fn cstr_bytes(s: &CStr) -> &[u8] {
    s.as_bytes()
}

/// A C string's pointer, also in `const` items (ops tables).
pub(crate) const fn cstr_ptr(s: &CStr) -> *const c_char {
    s.as_char_ptr()
}

/// Borrows a C string.
///
/// # Safety
///
/// `ptr` is a valid NUL-terminated string that lives, unchanged, for `'a`.
pub(crate) unsafe fn cstr_from_ptr<'a>(ptr: *const c_char) -> &'a CStr {
    // SAFETY: the caller's guarantee.
    unsafe { CStr::from_char_ptr(ptr) }
}

/// Shows a value of the pure core (which implements `core::fmt::Display`) in `pr_*!`.
pub(crate) struct Shown<'a, D: fmt::Display>(pub(crate) &'a D);

impl<D: fmt::Display> fmt::Display for Shown<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Hands `data` over to C as the `void *` of a callback (`private_data`); 6.12's
/// `into_foreign` gives a `*const`, 7.3's a `*mut`.
pub(crate) fn foreign_ptr<F: ForeignOwnable>(data: F) -> *mut c_void {
    data.into_foreign().cast_mut()
}

/// Runs a pinned initialiser on `slot`.
///
/// # Safety
///
/// As `PinInit::__pinned_init`: `slot` is valid, uninitialised memory that stays pinned.
pub(crate) unsafe fn pinned_init<D, E>(init: impl PinInit<D, E>, slot: *mut D) -> Result<(), E> {
    // SAFETY: the caller's guarantee.
    unsafe { init.__pinned_init(slot) }
}

/// Maps BAR `bar` for the driver's own accesses (6.12 maps BARs on demand).
///
/// # Safety
///
/// `vdev` is a valid, enabled core device.
pub(crate) unsafe fn setup_barmap(vdev: *mut sys::vfio_pci_core_device, bar: c_int) -> c_int {
    // SAFETY: the caller's guarantee.
    unsafe { sys::vfio_pci_core_setup_barmap(vdev, bar) }
}
