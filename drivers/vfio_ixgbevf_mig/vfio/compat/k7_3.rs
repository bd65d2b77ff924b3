// SPDX-License-Identifier: GPL-2.0

//! Linux 7.3's side of [`super`] (see there for the list).

use crate::pure::dirty::region::MAX_REPLY_LEN;
use crate::sys;
use crate::vfio::adapter::{Adapter, VariantDriver};
use crate::vfio::device::Device;
use core::fmt;
use kernel::{
    ffi::{c_char, c_int, c_void},
    prelude::*,
    str::CStr,
    types::ForeignOwnable,
    uaccess::UserPtr,
};

/// `module!` with 7.3's field names (`authors: [..]`).
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
            authors: [$a],
            description: $d,
            license: $l,
        }
    };
}
pub(crate) use mig_module;

/// A user pointer from an ioctl argument or a C `__user` pointer.
pub(crate) fn user_ptr(addr: usize) -> UserPtr {
    UserPtr::from_addr(addr)
}

/// The address a user pointer holds, to pass it back to C.
pub(crate) fn user_addr(ptr: UserPtr) -> usize {
    ptr.as_mut_ptr() as usize
}

/// The bytes of a C string, without the NUL.
pub(crate) fn cstr_bytes(s: &CStr) -> &[u8] {
    s.to_bytes()
}

/// A C string's pointer, also in `const` items (ops tables).
pub(crate) const fn cstr_ptr(s: &CStr) -> *const c_char {
    kernel::str::as_char_ptr_in_const_context(s)
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

/// Shows a value of the pure core (which implements `core::fmt::Display`) in `pr_*!`: 7.3's
/// formatting macros take `kernel::fmt::Display`, which the `core`-only pure code cannot
/// implement.
pub(crate) struct Shown<'a, D: fmt::Display>(pub(crate) &'a D);

impl<D: fmt::Display> kernel::fmt::Display for Shown<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)
    }
}

/// Hands `data` over to C as the `void *` of a callback (`private_data`); 6.12's
/// `into_foreign` gives a `*const`, 7.3's a `*mut`.
pub(crate) fn foreign_ptr<F: ForeignOwnable>(data: F) -> *mut c_void {
    data.into_foreign()
}

/// Runs a pinned initialiser on `slot` (7.3's pin-init calls it `__init`).
///
/// # Safety
///
/// As `PinInit::__init`: `slot` is valid, uninitialised memory that stays pinned.
pub(crate) unsafe fn pinned_init<D, E>(init: impl PinInit<D, E>, slot: *mut D) -> Result<(), E> {
    // SAFETY: the caller's guarantee.
    unsafe { init.__init(slot) }
}

/// Checks that BAR `bar` is mapped for the driver's own accesses: 7.3 maps every BAR when
/// the device is enabled (and has no `vfio_pci_core_setup_barmap`); a failed map is an
/// `ERR_PTR` in the table, which `mig_barmap` turns into NULL.
///
/// # Safety
///
/// `vdev` is a valid, enabled core device.
pub(crate) unsafe fn setup_barmap(vdev: *mut sys::vfio_pci_core_device, bar: c_int) -> c_int {
    // SAFETY: the caller's guarantee; reads one pointer of the core's BAR table.
    if unsafe { sys::mig_barmap(vdev, bar) }.is_null() {
        ENODEV.to_errno()
    } else {
        0
    }
}

/// A reply of `VariantDriver::region_info`, aligned for the C structs it holds.
#[repr(C, align(8))]
struct Reply([u8; MAX_REPLY_LEN]);

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        v.copy_from_slice(s);
    }
    u32::from_le_bytes(v)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

/// `VFIO_REGION_INFO_FLAG_CAPS`: the core sets it when capabilities were added.
const FLAG_CAPS: u32 = 1 << 3;

impl<T: VariantDriver> Adapter<T> {
    /// `vfio_device_ops` members 7.3 has and 6.12 lacks. Region info no longer reaches the
    /// `ioctl` op: the core calls `get_region_info_caps` (without it, the ioctl fails); the
    /// SR-IOV VF token is checked by `match_token_uuid` (without it, opening the device through
    /// its group calls a NULL pointer).
    pub(crate) const OPS_COMPAT: sys::vfio_device_ops = sys::vfio_device_ops {
        name: core::ptr::null_mut(),
        init: None,
        release: None,
        bind_iommufd: None,
        unbind_iommufd: None,
        attach_ioas: None,
        detach_ioas: None,
        pasid_attach_ioas: None,
        pasid_detach_ioas: None,
        open_device: None,
        close_device: None,
        read: None,
        write: None,
        ioctl: None,
        get_region_info_caps: Some(Self::get_region_info_caps),
        mmap: None,
        request: None,
        match_: None,
        // `vfio_pci_core_match` calls it unconditionally (the VF token check moved there).
        match_token_uuid: Some(sys::vfio_pci_core_match_token_uuid),
        dma_unmap: None,
        device_feature: None,
    };

    /// The ioctls of the device fd that reach the driver (7.3: not region info).
    pub(crate) fn dispatch_ioctl(dev: &Device<T>, cmd: u32, arg: usize) -> Result<isize> {
        T::ioctl(dev, cmd, arg)
    }

    /// `vfio_device_ops.get_region_info_caps` trampoline: the driver's reply where it has one
    /// (`VariantDriver::region_info`), the core's otherwise.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated, the core's copy of the user's `info` header and its capability chain.
    unsafe extern "C" fn get_region_info_caps(
        vdev: *mut sys::vfio_device,
        info: *mut sys::vfio_region_info,
        caps: *mut sys::vfio_info_cap,
    ) -> c_int {
        // SAFETY: the core only calls our ops on devices we allocated, while they are alive;
        // `info` is valid for the call.
        let (dev, index) = unsafe { (Device::<T>::from_vdev(vdev), (*info).index) };
        // The core checked the user's `argsz` against the header and fits the capabilities
        // to it itself: ask for the whole reply. CAST: MAX_REPLY_LEN is a few dozen bytes.
        let reply = match T::region_info(dev, index, MAX_REPLY_LEN as u32) {
            Ok(Some(reply)) => reply,
            // SAFETY: the arguments are the core's own, passed through.
            Ok(None) => return unsafe { sys::vfio_pci_ioctl_get_region_info(vdev, info, caps) },
            Err(e) => return e.to_errno(),
        };
        let (bytes, len) = reply;
        let mut buf = Reply([0; MAX_REPLY_LEN]);
        buf.0 = bytes;
        let b = buf.0.get(..len).unwrap_or(&[]);
        // struct vfio_region_info: argsz, flags, index, cap_offset, size, offset.
        let flags = u32_at(b, 4);
        let cap_offset = u32_at(b, 12) as usize;
        // SAFETY: `info` is valid for the call (see above).
        unsafe {
            (*info).flags = flags & !FLAG_CAPS;
            (*info).size = u64_at(b, 16);
            (*info).offset = u64_at(b, 24);
        }
        if cap_offset == 0 || cap_offset >= len {
            return 0;
        }
        let cap = buf.0.as_mut_ptr().wrapping_add(cap_offset);
        // SAFETY: `caps` is the core's chain for this call; `cap` points to one complete
        // capability (header with `next` 0, then its body) of `len - cap_offset` bytes inside
        // `buf`, 8-byte aligned (`cap_offset` is 32), which the core copies.
        unsafe {
            sys::vfio_info_add_capability(
                caps,
                cap.cast::<sys::vfio_info_cap_header>(),
                len - cap_offset,
            )
        }
    }
}
