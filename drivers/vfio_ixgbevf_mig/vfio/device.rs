// SPDX-License-Identifier: GPL-2.0

//! The vfio-pci core device and what the driver reaches through it: BAR0 registers, guest
//! memory as the device sees it, the VMA of an mmap, and the per-device allocation that puts
//! the driver's state next to the core's.

use super::compat::{setup_barmap, user_addr};
use super::pci::PciDev;
use crate::pure::{
    dirty::ring::{GuestMem, Unmapped},
    hw::{io::RegIo, regs::RegOffset},
    mig::fsm::MigState,
};
use crate::sys;
use core::{cell::Cell, ptr::addr_of_mut};
use kernel::{
    error::to_result,
    ffi::{c_char, c_void},
    prelude::*,
    types::Opaque,
    uaccess::UserPtr,
};

/// Converts a C return value (negative errno or a non-negative count) into a `Result`.
fn to_count(ret: isize) -> Result<isize> {
    if ret < 0 {
        // CAST: errnos are small negative numbers; anything else becomes EINVAL in
        // `from_errno`.
        Err(Error::from_errno(
            ret.try_into().unwrap_or(EINVAL.to_errno()),
        ))
    } else {
        Ok(ret)
    }
}

/// A `vfio_pci_core_device`, the vfio-pci core's per-device state.
///
/// # Invariants
///
/// The wrapped struct lives inside a [`Device`] allocated by `_vfio_alloc_device` and has been
/// initialised by `vfio_pci_core_init_dev`; `dma` was zeroed by the allocation (no access)
/// and is only touched under the device set lock (`helpers.c`).
#[repr(C)]
pub(crate) struct CoreDevice {
    dev: Opaque<sys::vfio_pci_core_device>,
    /// The driver's own access to the device's IOAS (iommufd), for [`DmaView`].
    dma: Opaque<sys::mig_dma_slot>,
}

impl CoreDevice {
    fn as_raw(&self) -> *mut sys::vfio_pci_core_device {
        self.dev.get()
    }

    /// The IOAS access slot, for the C helpers that keep it under the device set lock.
    pub(super) fn dma_slot(&self) -> *mut sys::mig_dma_slot {
        self.dma.get()
    }

    fn vdev(&self) -> *mut sys::vfio_device {
        // SAFETY: projecting to a field of a valid struct (type invariant).
        unsafe { addr_of_mut!((*self.as_raw()).vdev) }
    }

    /// The PCI function this device wraps.
    pub(crate) fn pci(&self) -> &PciDev {
        // SAFETY: `pdev` is set by `vfio_pci_core_init_dev` (type invariant) and the PCI
        // device outlives the VFIO device bound to it.
        unsafe { PciDev::from_raw((*self.as_raw()).pdev) }
    }

    /// Enables the device for userspace (`open_device`, first half).
    pub(crate) fn enable(&self) -> Result {
        // SAFETY: valid device (type invariant); called from `open_device` as the core expects.
        to_result(unsafe { sys::vfio_pci_core_enable(self.as_raw()) })
    }

    /// Finishes enabling (`open_device`, second half): publishes the device to userspace.
    pub(crate) fn finish_enable(&self) {
        // SAFETY: valid device (type invariant), after a successful `enable`.
        unsafe { sys::vfio_pci_core_finish_enable(self.as_raw()) }
    }

    /// The core's `close_device`: disables the device and releases what `enable` took.
    pub(crate) fn close(&self) {
        // SAFETY: valid device (type invariant), from `close_device`.
        unsafe { sys::vfio_pci_core_close_device(self.vdev()) }
    }

    /// Maps BAR0 for the driver's own register accesses (released by the core on close).
    pub(crate) fn setup_bar0(&self) -> Result {
        // SAFETY: valid device (type invariant), enabled by `enable`.
        to_result(unsafe { setup_barmap(self.as_raw(), 0) })
    }

    /// Register access to BAR0, if `setup_bar0` mapped it.
    pub(crate) fn bar0(&self) -> Option<Bar0<'_>> {
        // SAFETY: valid device (type invariant); reads one pointer of the core's BAR table.
        let base = unsafe { sys::mig_barmap(self.as_raw(), 0) };
        (!base.is_null()).then(|| Bar0 {
            core: self,
            base,
            failed: Cell::new(false),
        })
    }

    /// Whether the core allows mmap of BAR `bar`.
    pub(crate) fn bar_mmap_supported(&self, bar: i32) -> bool {
        // SAFETY: valid device (type invariant); reads one flag.
        unsafe { sys::mig_bar_mmap_supported(self.as_raw(), bar) }
    }

    /// The BAR holding the MSI-X table.
    pub(crate) fn msix_bar(&self) -> i32 {
        // SAFETY: valid device (type invariant); reads one field.
        unsafe { sys::mig_msix_bar(self.as_raw()) }
    }

    /// The core's mmap handler.
    pub(crate) fn mmap(&self, vma: &Vma) -> Result {
        // SAFETY: valid device (type invariant); `vma` is the one being set up by this call.
        to_result(unsafe { sys::vfio_pci_core_mmap(self.vdev(), vma.0) })
    }

    /// Computes the next arc from `cur` towards `new` (`vfio_mig_get_next_state`).
    pub(crate) fn next_state(&self, cur: MigState, new: MigState) -> Result<MigState> {
        let mut next = 0;
        // SAFETY: valid device (type invariant); `next` is a valid out pointer.
        to_result(unsafe {
            sys::vfio_mig_get_next_state(self.vdev(), cur as u32, new as u32, &mut next)
        })?;
        MigState::from_raw(next).ok_or(EINVAL)
    }

    /// The core's `read` handler for every region (config space, BARs, ...).
    pub(crate) fn read(&self, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        // SAFETY: valid device (type invariant); `buf` is a user pointer, which the core only
        // accesses through checked user copies; `pos` is a valid `loff_t`.
        to_count(unsafe {
            sys::vfio_pci_core_read(self.vdev(), user_addr(buf) as *mut c_char, count, pos)
        })
    }

    /// The core's `write` handler for every region.
    pub(crate) fn write(&self, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        // SAFETY: as in `read`.
        to_count(unsafe {
            sys::vfio_pci_core_write(self.vdev(), user_addr(buf) as *const c_char, count, pos)
        })
    }

    /// The core's ioctl handler (device info, regions, irqs, reset, ...).
    pub(crate) fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: valid device (type invariant); `arg` is an opaque user value the core
        // decodes per command with checked user copies.
        let ret = unsafe { sys::vfio_pci_core_ioctl(self.vdev(), cmd, arg) };
        to_count(ret)
    }
}

/// BAR0 of an open device, accessed through the vfio-pci core so that accesses respect the
/// core's memory lock and fail (instead of faulting) while memory decoding is off.
///
/// # Invariants
///
/// `base` is the core's mapping of BAR0, which is at least [`crate::pure::hw::regs::BAR0_SIZE`]
/// bytes long (checked at probe) and stays mapped until the device is closed; a `Bar0` only
/// lives inside callbacks of an open device.
pub(crate) struct Bar0<'a> {
    core: &'a CoreDevice,
    base: *mut c_void,
    failed: Cell<bool>,
}

impl Bar0<'_> {
    /// Whether any access failed (memory decoding disabled): then reads returned all-ones
    /// and writes were dropped, and the caller must not trust the result.
    pub(crate) fn failed(&self) -> bool {
        self.failed.get()
    }
}

impl RegIo for Bar0<'_> {
    fn read32(&self, offset: RegOffset) -> u32 {
        let mut val = 0;
        // SAFETY: `offset + 4 <= BAR0_SIZE` (`RegOffset` invariant) stays inside the mapping
        // (type invariant); the core checks memory decoding under its memory lock.
        let ret = unsafe {
            sys::vfio_pci_core_ioread32(
                self.core.as_raw(),
                true,
                &mut val,
                self.base.add(offset.as_usize()),
            )
        };
        if ret != 0 {
            self.failed.set(true);
            return u32::MAX;
        }
        val
    }

    fn write32(&self, offset: RegOffset, value: u32) {
        // SAFETY: as in `read32`.
        let ret = unsafe {
            sys::vfio_pci_core_iowrite32(
                self.core.as_raw(),
                true,
                value,
                self.base.add(offset.as_usize()),
            )
        };
        if ret != 0 {
            self.failed.set(true);
        }
    }
}

/// The VMA of an `mmap` call on the device fd, borrowed for that call.
pub(crate) struct Vma(pub(super) *mut sys::vm_area_struct);

impl Vma {
    /// Offset into the device fd (region index and offset, as for read/write).
    pub(crate) fn file_offset(&self) -> u64 {
        // SAFETY: the VMA is valid during the mmap call (where `Vma` values are made).
        let pgoff = unsafe { sys::mig_vma_pgoff(self.0) } as u64;
        pgoff.checked_shl(sys::PAGE_SHIFT).unwrap_or(u64::MAX)
    }

    /// Length of the mapping.
    pub(crate) fn len(&self) -> u64 {
        // SAFETY: as in `file_offset`.
        unsafe { sys::mig_vma_len(self.0) as u64 }
    }
}

/// Guest memory as one device sees it, read while its IOMMU attachment cannot change.
///
/// # Invariants
///
/// Holds the device set lock of `core` (`mig_dev_set_lock`) from [`CoreDevice::dma_view`]
/// until dropped.
pub(crate) struct DmaView<'a> {
    core: &'a CoreDevice,
    /// A read found the view unsafe (see `mig_read_iova`): what the walk saw is incomplete.
    unsafe_seen: bool,
}

impl CoreDevice {
    /// Locks the device's DMA view for reading guest memory (the device set lock: take it
    /// before the driver's state mutex and log lock).
    pub(crate) fn dma_view(&self) -> DmaView<'_> {
        // SAFETY: valid device (type invariant); every user of the lock pairs it with the
        // unlock in `DmaView::drop`.
        unsafe { sys::mig_dev_set_lock(self.as_raw()) };
        // INVARIANT: locked just above.
        DmaView {
            core: self,
            unsafe_seen: false,
        }
    }
}

impl DmaView<'_> {
    /// Whether the device's DMA view can be read back safely: a paging IOMMU domain, and
    /// with iommufd the driver's access to the device's IOAS (none when the device was
    /// attached to a HWPT id).
    pub(crate) fn readable(&self) -> bool {
        // SAFETY: valid device; the device set lock (held) keeps its domain attached and
        // protects the slot.
        unsafe { sys::mig_dma_view_readable(self.core.as_raw(), self.core.dma_slot()) }
    }

    /// Whether a read since the view was taken could not be done safely.
    pub(crate) fn unsafe_seen(&self) -> bool {
        self.unsafe_seen
    }
}

impl Drop for DmaView<'_> {
    fn drop(&mut self) {
        // SAFETY: locked since `dma_view` (type invariant).
        unsafe { sys::mig_dev_set_unlock(self.core.as_raw()) };
    }
}

impl GuestMem for DmaView<'_> {
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> core::result::Result<(), Unmapped> {
        let page = sys::PAGE_SIZE as u64;
        let mut done = 0;
        while done < buf.len() {
            let at = iova.checked_add(done as u64).ok_or(Unmapped)?;
            // CAST: the remainder of a page is at most PAGE_SIZE.
            let chunk = ((page - at % page) as usize).min(buf.len() - done);
            let dst = buf.get_mut(done..done + chunk).ok_or(Unmapped)?;
            // SAFETY: the device is open and the device set lock is held (type invariant);
            // `dst` is valid for `chunk` bytes, within a page.
            let ret = unsafe {
                sys::mig_read_iova(
                    self.core.as_raw(),
                    self.core.dma_slot(),
                    at,
                    dst.as_mut_ptr().cast(),
                    chunk,
                )
            };
            match ret {
                0 => {}
                r if r == -sys::EFAULT => return Err(Unmapped),
                _ => {
                    self.unsafe_seen = true;
                    return Err(Unmapped);
                }
            }
            done += chunk;
        }
        Ok(())
    }
}

/// The per-device allocation: the core's device first, as `vfio_alloc_device()` requires,
/// then the driver's own state.
#[repr(C)]
pub(crate) struct Device<T> {
    pub(super) core: CoreDevice,
    pub(super) data: T,
}

impl<T> Device<T> {
    /// The vfio-pci core part.
    pub(crate) fn core(&self) -> &CoreDevice {
        &self.core
    }

    /// The driver's state.
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// Recovers the device from the `vfio_device` the VFIO core passes to callbacks.
    ///
    /// # Safety
    ///
    /// `vdev` must belong to a `Device<T>` created by [`Adapter::<T>::probe`] whose `data` is
    /// initialised, and must stay valid for `'a`.
    ///
    /// [`Adapter::<T>::probe`]: super::adapter::Adapter::probe
    pub(super) unsafe fn from_vdev<'a>(vdev: *mut sys::vfio_device) -> &'a Device<T> {
        // SAFETY: `vdev` is the first field of `vfio_pci_core_device`, which is the first field
        // of the `repr(C)` `Device<T>`, so the pointers coincide; the caller guarantees the
        // rest.
        unsafe { &*vdev.cast::<Device<T>>() }
    }
}
