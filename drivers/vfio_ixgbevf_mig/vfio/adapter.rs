// SPDX-License-Identifier: GPL-2.0

//! What a variant driver implements ([`VariantDriver`]), the C callback tables [`Adapter`]
//! builds from it, and the PCI driver [`Registration`].

use super::compat::{cstr_ptr, pinned_init, user_ptr};
use super::device::{Device, Vma};
use super::file::FileRef;
use super::misc::IovaBitmap;
use super::pci::{IdTable, PciDev};
use crate::pure::{
    dirty::{ranges::Span, region::MAX_REPLY_LEN},
    mig::fsm::MigState,
    stats::Stats,
};
use crate::sys;
use core::{
    mem::{align_of, size_of},
    pin::Pin,
    ptr::{self, addr_of_mut},
};
use kernel::{
    error::from_err_ptr,
    ffi::{c_char, c_int, c_long, c_uint, c_ulong},
    prelude::*,
    str::CStr,
    types::Opaque,
    uaccess::UserPtr,
    ThisModule,
};

/// What a vfio-pci variant driver provides; [`Adapter`] turns it into the C ops tables.
pub(crate) trait VariantDriver: Sized + Send + Sync {
    /// Driver name (PCI driver and VFIO device ops).
    const NAME: &'static CStr;

    /// Decides whether to drive `pdev`; an error refuses the device (nothing is bound).
    fn probe(pdev: &PciDev) -> Result;

    /// Initialises the driver's per-device state in place.
    fn new(pdev: &PciDev) -> impl PinInit<Self, Error>;

    /// `open_device`: the first open of the device's fd.
    fn open(dev: &Device<Self>) -> Result;

    /// `close_device`: the last close.
    fn close(dev: &Device<Self>);

    /// Chained `read` on the device fd; by default the core's.
    fn read(dev: &Device<Self>, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        dev.core().read(buf, count, pos)
    }

    /// Chained `write` on the device fd; by default the core's.
    fn write(dev: &Device<Self>, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        dev.core().write(buf, count, pos)
    }

    /// Chained `ioctl` on the device fd; by default the core's. Region info does not come
    /// here (see [`Self::region_info`]).
    fn ioctl(dev: &Device<Self>, cmd: u32, arg: usize) -> Result<isize> {
        dev.core().ioctl(cmd, arg)
    }

    /// `VFIO_DEVICE_GET_REGION_INFO` of region `index` for a user buffer of `argsz` bytes,
    /// where the driver replaces the core's answer: the reply as the ioctl writes it and how
    /// many bytes of it to copy out. `None` (the default) leaves the region to the core.
    fn region_info(_dev: &Device<Self>, _index: u32, _argsz: u32) -> Result<Option<RegionReply>> {
        Ok(None)
    }

    /// The PCI core finished resetting the function (FLR, `VFIO_DEVICE_RESET`, AER).
    /// Runs under VFIO core locks: must not block on locks taken around BAR accesses.
    fn reset_done(dev: &Device<Self>);

    /// `migration_set_state`: walk to `new`; a file for userspace on the final arc.
    fn set_state(dev: &Device<Self>, new: MigState) -> Result<Option<FileRef>>;

    /// `migration_get_state`.
    fn get_state(dev: &Device<Self>) -> Result<MigState>;

    /// `migration_get_data_size`: bytes STOP_COPY will produce.
    fn data_size(dev: &Device<Self>) -> Result<usize>;

    /// `mmap` of the device fd; by default the core's.
    fn mmap(dev: &Device<Self>, vma: &Vma) -> Result {
        dev.core().mmap(vma)
    }

    /// The device's statistics, shown in debugfs while the device is bound.
    fn stats(dev: &Device<Self>) -> &Stats;

    /// Whether to offer DMA logging (decided once, at init).
    fn offers_dma_logging(dev: &Device<Self>) -> bool;

    /// `log_start`: track the given ranges; returns the page size used.
    fn log_start(dev: &Device<Self>, ranges: &[Span], page_size: u64) -> Result<u64>;

    /// `log_stop`.
    fn log_stop(dev: &Device<Self>) -> Result;

    /// `log_read_and_clear`.
    fn log_report(dev: &Device<Self>, iova: u64, len: u64, bitmap: &mut IovaBitmap) -> Result;
}

/// A `VFIO_DEVICE_GET_REGION_INFO` reply (`struct vfio_region_info`, then its capability
/// chain) and its length.
pub(crate) type RegionReply = ([u8; MAX_REPLY_LEN], usize);

/// Builds the C callback tables for a [`VariantDriver`].
pub(crate) struct Adapter<T>(core::marker::PhantomData<T>);

impl<T: VariantDriver> Adapter<T> {
    // The members every supported kernel has; `OPS_COMPAT` (vfio/compat) adds the others,
    // and adds nothing where there are none (6.12).
    #[allow(clippy::needless_update)]
    const OPS: sys::vfio_device_ops = sys::vfio_device_ops {
        name: cstr_ptr(T::NAME).cast_mut(),
        init: Some(Self::init),
        release: Some(Self::release),
        bind_iommufd: Some(sys::vfio_iommufd_physical_bind),
        unbind_iommufd: Some(Self::unbind_iommufd),
        attach_ioas: Some(Self::attach_ioas),
        detach_ioas: Some(Self::detach_ioas),
        open_device: Some(Self::open_device),
        close_device: Some(Self::close_device),
        read: Some(Self::read),
        write: Some(Self::write),
        ioctl: Some(Self::ioctl),
        mmap: Some(Self::mmap),
        request: Some(sys::vfio_pci_core_request),
        match_: Some(sys::vfio_pci_core_match),
        dma_unmap: None,
        device_feature: Some(sys::vfio_pci_core_ioctl_feature),
        ..Self::OPS_COMPAT
    };

    const MIG_OPS: sys::vfio_migration_ops = sys::vfio_migration_ops {
        migration_set_state: Some(Self::migration_set_state),
        migration_get_state: Some(Self::migration_get_state),
        migration_get_data_size: Some(Self::migration_get_data_size),
    };

    const LOG_OPS: sys::vfio_log_ops = sys::vfio_log_ops {
        log_start: Some(Self::log_start),
        log_stop: Some(Self::log_stop),
        log_read_and_clear: Some(Self::log_read_and_clear),
    };

    const ERR_HANDLERS: sys::pci_error_handlers = sys::pci_error_handlers {
        error_detected: Some(sys::vfio_pci_core_aer_err_detected),
        mmio_enabled: None,
        slot_reset: None,
        reset_prepare: None,
        reset_done: Some(Self::reset_done),
        resume: None,
        cor_error_detected: None,
    };

    /// `vfio_device_ops.init`: runs inside `_vfio_alloc_device` on zeroed memory of
    /// `size_of::<Device<T>>()` bytes.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe` and valid pointer arguments for the duration of the call.
    unsafe extern "C" fn init(vdev: *mut sys::vfio_device) -> c_int {
        const {
            assert!(
                align_of::<Device<T>>() <= 8,
                "kvzalloc only guarantees 8 bytes"
            )
        };
        kernel::error::from_result(|| {
            let dev = vdev.cast::<Device<T>>();
            // SAFETY: the core calls `init` with the device it is allocating; its `dev` is the
            // PCI device's `struct device` we passed in `probe`.
            let pdev = unsafe { PciDev::from_raw(sys::mig_to_pci_dev((*vdev).dev)) };
            // SAFETY: `data` lies inside the allocation (it is `size_of::<Device<T>>()` bytes)
            // and is not initialised yet; the allocation never moves, so pinning holds.
            unsafe { pinned_init(T::new(pdev), addr_of_mut!((*dev).data))? };
            // SAFETY: `vdev` is valid and not registered yet; MIG_OPS is 'static.
            unsafe {
                sys::mig_set_migration(
                    vdev,
                    &Self::MIG_OPS,
                    sys::VFIO_MIGRATION_STOP_COPY
                        | sys::VFIO_MIGRATION_P2P
                        | sys::VFIO_MIGRATION_PRE_COPY,
                )
            };
            // SAFETY: `data` was initialised above.
            if T::offers_dma_logging(unsafe { Device::<T>::from_vdev(vdev) }) {
                // SAFETY: `vdev` is valid and not registered yet; LOG_OPS is 'static.
                unsafe { sys::mig_set_log_ops(vdev, &Self::LOG_OPS) };
            }
            // SAFETY: `vdev` is valid; this is the core's own init step.
            let ret = unsafe { sys::vfio_pci_core_init_dev(vdev) };
            if ret != 0 {
                // SAFETY: `data` was initialised above and nothing else references it yet;
                // `release` will not run for a device whose `init` failed.
                unsafe { ptr::drop_in_place(addr_of_mut!((*dev).data)) };
                return Err(Error::from_errno(ret));
            }
            Ok(0)
        })
    }

    /// `vfio_device_ops.release`: the last reference to the device is gone.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe` and valid pointer arguments for the duration of the call.
    unsafe extern "C" fn release(vdev: *mut sys::vfio_device) {
        let dev = vdev.cast::<Device<T>>();
        // SAFETY: `init` succeeded for this device, so `data` is initialised; the core calls
        // `release` once, when nobody can reach the device any more.
        unsafe { ptr::drop_in_place(addr_of_mut!((*dev).data)) };
        // SAFETY: undoes `vfio_pci_core_init_dev`; the core frees the memory afterwards.
        unsafe { sys::vfio_pci_core_release_dev(vdev) };
    }

    /// `vfio_device_ops.attach_ioas`: the core's, plus the device's own IOAS access for
    /// [`DmaView`](super::device::DmaView) reads.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe`, under its device set lock, and a valid `pt_id`.
    unsafe extern "C" fn attach_ioas(vdev: *mut sys::vfio_device, pt_id: *mut u32) -> c_int {
        // SAFETY: as in `open_device`; the caller holds the device set lock, which the slot
        // needs, and `pt_id` is valid for the call.
        unsafe { sys::mig_attach_ioas(vdev, pt_id, Device::<T>::from_vdev(vdev).core.dma_slot()) }
    }

    /// `vfio_device_ops.detach_ioas`.
    ///
    /// # Safety
    ///
    /// As for [`Self::attach_ioas`].
    unsafe extern "C" fn detach_ioas(vdev: *mut sys::vfio_device) {
        // SAFETY: as in `attach_ioas`.
        unsafe { sys::mig_detach_ioas(vdev, Device::<T>::from_vdev(vdev).core.dma_slot()) }
    }

    /// `vfio_device_ops.unbind_iommufd` (the core detaches without calling `detach_ioas`).
    ///
    /// # Safety
    ///
    /// As for [`Self::attach_ioas`].
    unsafe extern "C" fn unbind_iommufd(vdev: *mut sys::vfio_device) {
        // SAFETY: as in `attach_ioas`.
        unsafe { sys::mig_unbind_iommufd(vdev, Device::<T>::from_vdev(vdev).core.dma_slot()) }
    }

    /// `vfio_device_ops.open_device` trampoline.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe` and valid pointer arguments for the duration of the call.
    unsafe extern "C" fn open_device(vdev: *mut sys::vfio_device) -> c_int {
        // SAFETY: the core only calls our ops on devices we allocated, while they are alive.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        kernel::error::from_result(|| T::open(dev).map(|()| 0))
    }

    /// `vfio_device_ops.close_device` trampoline.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe` and valid pointer arguments for the duration of the call.
    unsafe extern "C" fn close_device(vdev: *mut sys::vfio_device) {
        // SAFETY: as in `open_device`.
        T::close(unsafe { Device::<T>::from_vdev(vdev) })
    }

    /// `vfio_device_ops.read` trampoline.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe` and valid pointer arguments for the duration of the call.
    unsafe extern "C" fn read(
        vdev: *mut sys::vfio_device,
        buf: *mut c_char,
        count: usize,
        ppos: *mut i64,
    ) -> isize {
        // SAFETY: as in `open_device`; `ppos` points to the file position for this call.
        let (dev, pos) = unsafe { (Device::<T>::from_vdev(vdev), &mut *ppos) };
        T::read(dev, user_ptr(buf as usize), count, pos).unwrap_or_else(|e| e.to_errno() as isize)
    }

    /// `vfio_device_ops.write` trampoline.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe` and valid pointer arguments for the duration of the call.
    unsafe extern "C" fn write(
        vdev: *mut sys::vfio_device,
        buf: *const c_char,
        count: usize,
        ppos: *mut i64,
    ) -> isize {
        // SAFETY: as in `read`.
        let (dev, pos) = unsafe { (Device::<T>::from_vdev(vdev), &mut *ppos) };
        T::write(dev, user_ptr(buf as usize), count, pos).unwrap_or_else(|e| e.to_errno() as isize)
    }

    /// `vfio_device_ops.ioctl` trampoline.
    ///
    /// # Safety
    ///
    /// Only the VFIO core calls this, through [`Self::OPS`], with a `vfio_device` this adapter
    /// allocated in `probe` and valid pointer arguments for the duration of the call.
    unsafe extern "C" fn ioctl(vdev: *mut sys::vfio_device, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        Self::dispatch_ioctl(dev, cmd, arg).unwrap_or_else(|e| e.to_errno() as isize)
    }

    /// `vfio_device_ops.mmap` trampoline.
    ///
    /// # Safety
    ///
    /// As for [`Self::open_device`]; `vma` is the VMA being set up.
    unsafe extern "C" fn mmap(vdev: *mut sys::vfio_device, vma: *mut sys::vm_area_struct) -> c_int {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        kernel::error::from_result(|| T::mmap(dev, &Vma(vma)).map(|()| 0))
    }

    /// `vfio_log_ops.log_start` trampoline.
    ///
    /// # Safety
    ///
    /// As for [`Self::open_device`]; `ranges` is the core's validated interval tree of
    /// `nnodes` nodes and `page_size` a valid in/out pointer.
    unsafe extern "C" fn log_start(
        vdev: *mut sys::vfio_device,
        ranges: *mut sys::rb_root_cached,
        nnodes: u32,
        page_size: *mut u64,
    ) -> c_int {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        kernel::error::from_result(|| {
            let mut spans = KVec::with_capacity(nnodes as usize, GFP_KERNEL)?;
            // SAFETY: walking the core's tree, which it keeps alive and unchanged for the call.
            let mut node = unsafe { sys::interval_tree_iter_first(ranges, 0, c_ulong::MAX) };
            while !node.is_null() {
                // SAFETY: `node` is a valid node of the tree.
                let (start, last) = unsafe { ((*node).start as u64, (*node).last as u64) };
                let len = last
                    .checked_sub(start)
                    .and_then(|l| l.checked_add(1))
                    .ok_or(EINVAL)?;
                spans.push(Span { iova: start, len }, GFP_KERNEL)?;
                // SAFETY: as above.
                node = unsafe { sys::interval_tree_iter_next(node, 0, c_ulong::MAX) };
            }
            // SAFETY: valid in/out pointer for the call.
            let requested = unsafe { *page_size };
            let used = T::log_start(dev, &spans, requested)?;
            // SAFETY: as above.
            unsafe { *page_size = used };
            Ok(0)
        })
    }

    /// `vfio_log_ops.log_stop` trampoline.
    ///
    /// # Safety
    ///
    /// As for [`Self::open_device`].
    unsafe extern "C" fn log_stop(vdev: *mut sys::vfio_device) -> c_int {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        kernel::error::from_result(|| T::log_stop(dev).map(|()| 0))
    }

    /// `vfio_log_ops.log_read_and_clear` trampoline.
    ///
    /// # Safety
    ///
    /// As for [`Self::open_device`]; `dirty` is the core's bitmap for this call.
    unsafe extern "C" fn log_read_and_clear(
        vdev: *mut sys::vfio_device,
        iova: c_ulong,
        length: c_ulong,
        dirty: *mut sys::iova_bitmap,
    ) -> c_int {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        let mut bitmap = IovaBitmap(dirty);
        kernel::error::from_result(|| {
            T::log_report(dev, iova as u64, length as u64, &mut bitmap).map(|()| 0)
        })
    }

    /// `vfio_migration_ops.migration_set_state` trampoline.
    ///
    /// # Safety
    ///
    /// As for [`Self::open_device`].
    unsafe extern "C" fn migration_set_state(
        vdev: *mut sys::vfio_device,
        new: sys::vfio_device_mig_state,
    ) -> *mut sys::file {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        let res = MigState::from_raw(new)
            .ok_or(EINVAL)
            .and_then(|new| T::set_state(dev, new));
        match res {
            Ok(Some(file)) => file.into_raw(),
            Ok(None) => ptr::null_mut(),
            // CAST: errnos are small negative numbers, the kernel's ERR_PTR encoding.
            Err(e) => e.to_errno() as isize as *mut sys::file,
        }
    }

    /// `vfio_migration_ops.migration_get_state` trampoline.
    ///
    /// # Safety
    ///
    /// As for [`Self::open_device`]; `state` is a valid out pointer.
    unsafe extern "C" fn migration_get_state(
        vdev: *mut sys::vfio_device,
        state: *mut sys::vfio_device_mig_state,
    ) -> c_int {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        kernel::error::from_result(|| {
            let cur = T::get_state(dev)?;
            // SAFETY: the core passes a valid out pointer.
            unsafe { state.write(cur as u32) };
            Ok(0)
        })
    }

    /// `vfio_migration_ops.migration_get_data_size` trampoline.
    ///
    /// # Safety
    ///
    /// As for [`Self::open_device`]; `len` is a valid out pointer.
    unsafe extern "C" fn migration_get_data_size(
        vdev: *mut sys::vfio_device,
        len: *mut c_ulong,
    ) -> c_int {
        // SAFETY: as in `open_device`.
        let dev = unsafe { Device::<T>::from_vdev(vdev) };
        kernel::error::from_result(|| {
            let size = T::data_size(dev)?;
            // SAFETY: the core passes a valid out pointer.
            unsafe { len.write(size) };
            Ok(0)
        })
    }

    /// `pci_driver.probe` trampoline.
    ///
    /// # Safety
    ///
    /// Only the PCI core calls this, through the `pci_driver` or `pci_error_handlers` this
    /// adapter registered, with a valid `pci_dev` for the duration of the call.
    unsafe extern "C" fn probe(pdev: *mut sys::pci_dev, _id: *const sys::pci_device_id) -> c_int {
        kernel::error::from_result(|| {
            // SAFETY: the PCI core passes a valid device, alive for the whole callback.
            T::probe(unsafe { PciDev::from_raw(pdev) })?;
            // SAFETY: `pdev` is valid and its `dev` outlives the VFIO device; OPS is 'static.
            let vdev = from_err_ptr(unsafe {
                sys::_vfio_alloc_device(
                    size_of::<Device<T>>(),
                    addr_of_mut!((*pdev).dev),
                    &Self::OPS,
                )
            })?;
            let core = vdev.cast::<sys::vfio_pci_core_device>();
            // SAFETY: the core's AER handler and our `remove`/`reset_done` find the device
            // through drvdata, which stays set until `remove`.
            unsafe { sys::mig_pci_set_drvdata(pdev, core.cast()) };
            // SAFETY: `core` was fully initialised by `_vfio_alloc_device`.
            let ret = unsafe { sys::vfio_pci_core_register_device(core) };
            if ret != 0 {
                // SAFETY: drops the only reference, which runs `release`.
                unsafe { sys::mig_vfio_put_device(vdev) };
                return Err(Error::from_errno(ret));
            }
            // SAFETY: `init` succeeded, so `data` is initialised; our reference keeps the
            // device allocated until `remove`.
            let stats: *const Stats = T::stats(unsafe { Device::<T>::from_vdev(vdev) });
            // SAFETY: `pdev` is valid. `remove` deletes the directory (waiting for running
            // readers) before it drops our reference, so `stats` outlives the file. Errors
            // are ignored: statistics are not worth failing the bind.
            unsafe { sys::mig_debugfs_add(pdev, stats.cast_mut().cast()) };
            Ok(0)
        })
    }

    /// `pci_driver.remove` trampoline.
    ///
    /// # Safety
    ///
    /// Only the PCI core calls this, through the `pci_driver` or `pci_error_handlers` this
    /// adapter registered, with a valid `pci_dev` for the duration of the call.
    unsafe extern "C" fn remove(pdev: *mut sys::pci_dev) {
        // SAFETY: `probe` succeeded for a bound device, so drvdata is our core device.
        let core = unsafe { sys::mig_pci_get_drvdata(pdev) }.cast::<sys::vfio_pci_core_device>();
        // Unregistering waits for users to close the device; the debugfs directory goes
        // next (debugfs waits for its running readers), so no stats reader can reach the
        // device any more; then our reference is dropped, which frees it once the core drops
        // its own.
        // SAFETY: `core` is the registered core device of `pdev`, torn down in that order.
        unsafe {
            sys::vfio_pci_core_unregister_device(core);
            sys::mig_debugfs_remove(pdev);
            sys::mig_vfio_put_device(addr_of_mut!((*core).vdev));
        }
    }

    /// `pci_error_handlers.reset_done` trampoline.
    ///
    /// # Safety
    ///
    /// Only the PCI core calls this, through the `pci_driver` or `pci_error_handlers` this
    /// adapter registered, with a valid `pci_dev` for the duration of the call.
    unsafe extern "C" fn reset_done(pdev: *mut sys::pci_dev) {
        // SAFETY: the PCI core only calls error handlers of a bound driver, i.e. between our
        // `probe` and `remove`, where drvdata is our device.
        let dev = unsafe {
            Device::<T>::from_vdev(sys::mig_pci_get_drvdata(pdev).cast::<sys::vfio_device>())
        };
        T::reset_done(dev)
    }
}

/// A registered PCI driver and the module's debugfs directory; unregisters (which unbinds
/// every device) and then removes the directory on drop. One per module: the directory
/// lives in a C static (helpers.c).
pub(crate) struct Registration {
    drv: Pin<KBox<Opaque<sys::pci_driver>>>,
}

// SAFETY: the C driver struct is only touched by the PCI core under its own locking once
// registered; we keep it only to unregister it.
unsafe impl Send for Registration {}
// SAFETY: `&Registration` exposes nothing.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `T` as a PCI driver matching `ids`.
    pub(crate) fn new<T: VariantDriver, const N: usize>(
        ids: &'static IdTable<N>,
        module: &'static ThisModule,
    ) -> Result<Self> {
        let drv = KBox::pin(Opaque::<sys::pci_driver>::uninit(), GFP_KERNEL)?;
        // SAFETY: module init, before any device can bind: the directory exists before
        // `probe` adds to it. Errors are ignored (no statistics then).
        unsafe { sys::mig_debugfs_init() };
        // SAFETY: writing a fully initialised value into our own, not yet shared allocation.
        unsafe {
            drv.get().write(sys::pci_driver {
                name: cstr_ptr(T::NAME),
                id_table: ids.0.as_ptr(),
                probe: Some(Adapter::<T>::probe),
                remove: Some(Adapter::<T>::remove),
                err_handler: &Adapter::<T>::ERR_HANDLERS,
                // VFIO owns DMA for the device: the driver core must not set up a DMA domain.
                driver_managed_dma: true,
                ..Default::default()
            })
        };
        // SAFETY: `drv` is initialised and pinned for as long as it stays registered (until
        // `drop`); `module` and the name are 'static.
        let ret = unsafe {
            sys::__pci_register_driver(drv.get(), module.as_ptr().cast(), cstr_ptr(T::NAME))
        };
        if ret != 0 {
            // SAFETY: no device is bound (registration failed), so nothing is below it.
            unsafe { sys::mig_debugfs_exit() };
            return Err(Error::from_errno(ret));
        }
        Ok(Registration { drv })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; unregistering unbinds every device first, and each
        // `remove` deletes its debugfs directory, so the module's goes last.
        unsafe {
            sys::pci_unregister_driver(self.drv.get());
            sys::mig_debugfs_exit();
        }
    }
}
