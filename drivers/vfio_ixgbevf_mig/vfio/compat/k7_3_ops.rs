// SPDX-License-Identifier: GPL-2.0

//! Linux 7.3's side of [`super`]: the `impl Adapter<T>` part (ops members and ioctl routing).
//! A file of its own so that `adapter.rs`, which uses the helpers of `k7_3.rs`, is not imported
//! back by them.

use crate::pure::dirty::region::MAX_REPLY_LEN;
use crate::sys;
use crate::vfio::adapter::{Adapter, VariantDriver};
use crate::vfio::device::Device;
use kernel::{ffi::c_int, prelude::*};

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
