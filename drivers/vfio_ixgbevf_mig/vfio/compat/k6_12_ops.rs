// SPDX-License-Identifier: GPL-2.0

//! Linux 6.12's side of [`super`]: the `impl Adapter<T>` part (ops members and ioctl routing).
//! A file of its own so that `adapter.rs`, which uses the helpers of `k6_12.rs`, is not imported
//! back by them.

use super::imp::user_ptr;
use crate::sys;
use crate::vfio::adapter::{Adapter, VariantDriver};
use crate::vfio::device::Device;
use kernel::{prelude::*, uaccess::UserSlice};

impl<T: VariantDriver> Adapter<T> {
    /// `vfio_device_ops` members only some kernels have: 6.12 has none beyond the common ones
    /// (all set in `Adapter::OPS`, so this base adds nothing there).
    pub(crate) const OPS_COMPAT: sys::vfio_device_ops = sys::vfio_device_ops {
        name: core::ptr::null_mut(),
        init: None,
        release: None,
        bind_iommufd: None,
        unbind_iommufd: None,
        attach_ioas: None,
        detach_ioas: None,
        open_device: None,
        close_device: None,
        read: None,
        write: None,
        ioctl: None,
        mmap: None,
        request: None,
        match_: None,
        dma_unmap: None,
        device_feature: None,
    };

    /// The ioctls of the device fd: on 6.12 they all come here, region info included.
    pub(crate) fn dispatch_ioctl(dev: &Device<T>, cmd: u32, arg: usize) -> Result<isize> {
        if cmd == sys::VFIO_DEVICE_GET_REGION_INFO {
            if let Some(ret) = Self::region_info_user(dev, arg)? {
                return Ok(ret);
            }
        }
        T::ioctl(dev, cmd, arg)
    }

    /// `VFIO_DEVICE_GET_REGION_INFO` for a region whose info the driver replaces: copies the
    /// reply out to the user's buffer. `None` leaves the region to the core.
    fn region_info_user(dev: &Device<T>, arg: usize) -> Result<Option<isize>> {
        // argsz, flags, index: the part of struct vfio_region_info before `cap_offset`.
        let head_len = core::mem::offset_of!(sys::vfio_region_info, cap_offset);
        let mut head = UserSlice::new(user_ptr(arg), head_len).reader();
        let argsz: u32 = head.read()?;
        let _flags: u32 = head.read()?;
        let index: u32 = head.read()?;
        let Some((reply, copy)) = T::region_info(dev, index, argsz)? else {
            return Ok(None);
        };
        let mut out = UserSlice::new(user_ptr(arg), copy).writer();
        out.write_slice(reply.get(..copy).ok_or(EINVAL)?)?;
        Ok(Some(0))
    }
}
