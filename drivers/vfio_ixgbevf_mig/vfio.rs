// SPDX-License-Identifier: GPL-2.0

//! Thin safe layer over the C vfio-pci core and PCI driver core.
//!
//! Linux 6.12's `kernel` crate has no PCI or VFIO abstractions, so this file provides the
//! minimum this driver needs: a borrowed [`PciDev`], the [`CoreDevice`] the VFIO core owns,
//! a [`Device`] that embeds it next to the driver's Rust state, the `vfio_device_ops` and
//! `pci_driver` tables as `extern "C"` trampolines over a [`VariantDriver`] implementation,
//! and the driver [`Registration`]. All `unsafe` code of the driver lives here; C objects are
//! borrowed for the duration of a callback and never outlive it.

use crate::pure::{
    dirty::{
        ranges::Span,
        ring::{GuestMem, Unmapped},
    },
    hw::{io::RegIo, regs::RegOffset},
    mig::fsm::MigState,
    stats::Stats,
};
use crate::state::MigFile;
use crate::sys;
use core::{
    cell::Cell,
    fmt,
    mem::{align_of, size_of},
    pin::Pin,
    ptr::{self, addr_of_mut},
};
use kernel::{
    error::{from_err_ptr, to_result},
    ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void},
    init::PinInit,
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow},
    types::{ForeignOwnable, Opaque},
    uaccess::{UserPtr, UserSlice},
    ThisModule,
};

/// `EOPNOTSUPP`, which 6.12's `error::code` lacks.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-sys::EOPNOTSUPP)
}

/// `ENOMSG`, which 6.12's `error::code` lacks.
pub(crate) fn enomsg() -> Error {
    Error::from_errno(-sys::ENOMSG)
}

/// A PCI function, borrowed from the PCI core.
///
/// # Invariants
///
/// Wraps a `struct pci_dev` that the PCI core keeps alive for at least as long as the borrow:
/// references are only created inside driver callbacks for the device being called back.
#[repr(transparent)]
pub(crate) struct PciDev(Opaque<sys::pci_dev>);

impl PciDev {
    /// Borrows a `pci_dev` for `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `pci_dev` that stays alive for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut sys::pci_dev) -> &'a PciDev {
        // SAFETY: `PciDev` is a transparent wrapper; the caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<PciDev>() }
    }

    fn as_raw(&self) -> *mut sys::pci_dev {
        self.0.get()
    }

    /// PCI vendor id.
    pub(crate) fn vendor(&self) -> u16 {
        // SAFETY: by the type invariant the device is valid; the field is set at enumeration
        // and never changes.
        unsafe { (*self.as_raw()).vendor }
    }

    /// PCI device id.
    pub(crate) fn device(&self) -> u16 {
        // SAFETY: as in `vendor`.
        unsafe { (*self.as_raw()).device }
    }

    /// Whether this function is an SR-IOV virtual function.
    pub(crate) fn is_virtfn(&self) -> bool {
        // SAFETY: the device is valid (type invariant); the helper only reads a bitfield.
        unsafe { sys::mig_pci_is_virtfn(self.as_raw()) }
    }

    /// The VF's index on its PF, if this is a VF.
    pub(crate) fn vf_id(&self) -> Option<u16> {
        // SAFETY: the device is valid (type invariant).
        let id = unsafe { sys::mig_pci_vf_id(self.as_raw()) };
        u16::try_from(id).ok()
    }

    /// Length of BAR `bar` in bytes (0 when absent).
    pub(crate) fn resource_len(&self, bar: i32) -> u64 {
        // SAFETY: the device is valid (type invariant); the helper reads its resource table.
        unsafe { sys::mig_pci_resource_len(self.as_raw(), bar) }
    }

    /// The physical function: the PF for a VF, the device itself otherwise.
    pub(crate) fn physfn(&self) -> &PciDev {
        // SAFETY: the device is valid (type invariant). A VF holds a reference on its PF for
        // as long as the VF exists, so the PF outlives this borrow.
        unsafe { PciDev::from_raw(sys::mig_pci_physfn(self.as_raw())) }
    }

    /// The device's name, its PCI address (`0000:01:10.0`).
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: the device is valid (type invariant); `pci_name` returns the NUL-terminated
        // device name, which lives as long as the device.
        unsafe { CStr::from_char_ptr(sys::mig_pci_name(self.as_raw())) }
    }

    /// Name of the driver bound to this function, if any.
    pub(crate) fn driver_name(&self) -> Option<&CStr> {
        // SAFETY: the device is valid (type invariant); `dev` is embedded in it.
        let name = unsafe { sys::mig_dev_driver_name(addr_of_mut!((*self.as_raw()).dev)) };
        if name.is_null() {
            None
        } else {
            // SAFETY: a driver's name is a static NUL-terminated string of the bound driver,
            // which cannot unbind while we borrow the device inside a PCI callback.
            Some(unsafe { CStr::from_char_ptr(name) })
        }
    }
}

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
/// initialised by `vfio_pci_core_init_dev`.
#[repr(transparent)]
pub(crate) struct CoreDevice(Opaque<sys::vfio_pci_core_device>);

impl CoreDevice {
    fn as_raw(&self) -> *mut sys::vfio_pci_core_device {
        self.0.get()
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
        to_result(unsafe { sys::vfio_pci_core_setup_barmap(self.as_raw(), 0) })
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
        to_count(unsafe { sys::vfio_pci_core_read(self.vdev(), buf as *mut c_char, count, pos) })
    }

    /// The core's `write` handler for every region.
    pub(crate) fn write(&self, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        // SAFETY: as in `read`.
        to_count(unsafe { sys::vfio_pci_core_write(self.vdev(), buf as *const c_char, count, pos) })
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

/// A PF driver's `struct intel_vf_mig_ops`, held through `__symbol_get` until dropped.
///
/// # Invariants
///
/// `ops` points to the exported table named `sym`, whose module is pinned by the
/// `__symbol_get` reference this value owns; its `abi` is `INTEL_VF_MIG_ABI`.
pub(crate) struct PfTable {
    ops: *const sys::intel_vf_mig_ops,
    sym: &'static CStr,
}

impl PfTable {
    /// Looks `sym` up; `None` if no loaded module exports it (or with another ABI).
    pub(crate) fn get(sym: &'static CStr) -> Option<PfTable> {
        // SAFETY: `sym` is NUL-terminated; the lookup takes a module reference on success.
        let ops = unsafe { sys::__symbol_get(sym.as_char_ptr()) }.cast::<sys::intel_vf_mig_ops>();
        if ops.is_null() {
            return None;
        }
        // INVARIANT: found and pinned; the ABI is checked right here.
        let table = PfTable { ops, sym };
        // SAFETY: `ops` points to the exported table, kept alive by our reference.
        (unsafe { (*ops).abi } == sys::INTEL_VF_MIG_ABI).then_some(table)
    }

    fn ops(&self) -> &sys::intel_vf_mig_ops {
        // SAFETY: valid and pinned for as long as `self` (type invariant).
        unsafe { &*self.ops }
    }

    /// `save`: the PF-held context of `vf`.
    pub(crate) fn save(&self, vf: &PciDev) -> Result<sys::intel_vf_mig_pf_ctx> {
        let save = self.ops().save.ok_or_else(eopnotsupp)?;
        let mut ctx = sys::intel_vf_mig_pf_ctx::default();
        // SAFETY: `vf` is a VF bound to us, `ctx` a valid out pointer for the call.
        to_result(unsafe { save(vf.as_raw(), &mut ctx) })?;
        Ok(ctx)
    }

    /// `restore`: program the PF for `vf` (the PF validates again).
    pub(crate) fn restore(&self, vf: &PciDev, ctx: &sys::intel_vf_mig_pf_ctx) -> Result {
        let restore = self.ops().restore.ok_or_else(eopnotsupp)?;
        // SAFETY: as in `save`; `ctx` is only read.
        to_result(unsafe { restore(vf.as_raw(), ctx) })
    }

    /// `quiesce`: hold the PF's mailbox service for `vf`.
    pub(crate) fn quiesce(&self, vf: &PciDev) -> Result {
        let quiesce = self.ops().quiesce.ok_or_else(eopnotsupp)?;
        // SAFETY: `vf` is a VF bound to us.
        to_result(unsafe { quiesce(vf.as_raw()) })
    }

    /// `unquiesce`: service `vf`'s mailbox again.
    pub(crate) fn unquiesce(&self, vf: &PciDev) -> Result {
        let unquiesce = self.ops().unquiesce.ok_or_else(eopnotsupp)?;
        // SAFETY: `vf` is a VF bound to us.
        to_result(unsafe { unquiesce(vf.as_raw()) })
    }
}

impl Drop for PfTable {
    fn drop(&mut self) {
        // SAFETY: drops the module reference `get` took (type invariant).
        unsafe { sys::__symbol_put(self.sym.as_char_ptr()) }
    }
}

/// The VMA of an `mmap` call on the device fd, borrowed for that call.
pub(crate) struct Vma(*mut sys::vm_area_struct);

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
    /// Whether the device's DMA goes through a paging IOMMU domain (the only kind whose
    /// mappings can be read back).
    pub(crate) fn paging(&self) -> bool {
        // SAFETY: valid device; the device set lock keeps its domain attached.
        unsafe { sys::mig_dma_view_paging(self.core.as_raw()) }
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
                sys::mig_read_iova(self.core.as_raw(), at, dst.as_mut_ptr().cast(), chunk)
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

/// The `iova_bitmap` of one `log_read_and_clear` call.
pub(crate) struct IovaBitmap(*mut sys::iova_bitmap);

impl IovaBitmap {
    /// Marks `[iova, iova + len)` dirty in userspace's bitmap.
    pub(crate) fn set(&mut self, iova: u64, len: u64) {
        // SAFETY: valid for the duration of the report call (where values are made); the core
        // clips to the bitmap's range.
        unsafe { sys::iova_bitmap_set(self.0, iova as _, len as _) }
    }
}

/// The `dirty_tracking` module parameter (helpers.c).
pub(crate) fn dirty_tracking_param() -> bool {
    // SAFETY: reads a module parameter, read-only after load.
    unsafe { sys::mig_param_dirty_tracking() }
}

/// The `debug_race_delay_us` knob (helpers.c, off by default): sleeps inside the trap and
/// between report steps to widen race windows in tests.
pub(crate) fn debug_race_delay() {
    // SAFETY: reads a module parameter and may sleep; callers hold only mutexes.
    unsafe { sys::mig_debug_race_delay() }
}

/// The monotonic clock in nanoseconds (`ktime_get_ns`).
pub(crate) fn now_ns() -> u64 {
    // SAFETY: reads the clock; callable in any context.
    unsafe { sys::mig_ktime_get_ns() }
}

/// Whether a message about refused user input may be logged now (shared rate limit).
pub(crate) fn log_ratelimit() -> bool {
    // SAFETY: takes the helper's own spinlock-protected state; callable in any context.
    unsafe { sys::mig_log_ratelimit() }
}

/// Sleeps for about `us` microseconds (may sleep up to twice as long).
pub(crate) fn usleep(us: usize) {
    // SAFETY: plain sleep; the callers run in process context without spinlocks held.
    unsafe { sys::mig_usleep(us) }
}

/// A reference to an anonymous migration data file whose `private_data` is an
/// `Arc<MigFile>`.
///
/// # Invariants
///
/// `filp` is a valid `struct file` on which this value owns one reference.
pub(crate) struct FileRef {
    filp: *mut sys::file,
}

// SAFETY: a file reference may be dropped (fput) from any task.
unsafe impl Send for FileRef {}
// SAFETY: `&FileRef` gives access to nothing but the pointer value.
unsafe impl Sync for FileRef {}

impl FileRef {
    /// Creates a stream file (`anon_inode_getfile` + `stream_open`) owning one reference to
    /// `data`, released when the file's last reference goes.
    pub(crate) fn create(name: &CStr, data: Arc<MigFile>, writable: bool) -> Result<FileRef> {
        let flags = if writable {
            sys::O_WRONLY
        } else {
            sys::O_RDONLY
        };
        let priv_ = data.into_foreign() as *mut c_void;
        // SAFETY: `name` is NUL-terminated and static enough (copied into the dentry); the
        // C side installs our file_operations, whose `release` takes `priv_` back.
        let filp = from_err_ptr(unsafe {
            sys::mig_file_create(name.as_char_ptr(), priv_, flags as c_int)
        });
        match filp {
            // INVARIANT: a new file starts with one reference, now ours.
            Ok(filp) => Ok(FileRef { filp }),
            Err(e) => {
                // SAFETY: the file was not created, so `priv_` was not consumed.
                drop(unsafe { <Arc<MigFile> as ForeignOwnable>::from_foreign(priv_) });
                Err(e)
            }
        }
    }

    /// Takes another reference to the same file.
    pub(crate) fn clone_ref(&self) -> FileRef {
        // SAFETY: `filp` is valid (type invariant); `get_file` adds a reference.
        let filp = unsafe { sys::mig_get_file(self.filp) };
        // INVARIANT: the new value owns the reference just taken.
        FileRef { filp }
    }

    /// Gives the reference to the VFIO core, which installs it as a new fd.
    pub(crate) fn into_raw(self) -> *mut sys::file {
        let filp = self.filp;
        core::mem::forget(self);
        filp
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { sys::fput(self.filp) }
    }
}

/// Borrows the `MigFile` behind a migration file.
///
/// # Safety
///
/// `filp` must be a migration file created by [`FileRef::create`] that is still open.
unsafe fn mig_file<'a>(filp: *mut sys::file) -> ArcBorrow<'a, MigFile> {
    // SAFETY: `private_data` was set from `Arc::into_foreign` in `FileRef::create` and is
    // only given back in `release`, after which no file operation can run.
    unsafe { <Arc<MigFile> as ForeignOwnable>::borrow(sys::mig_file_private(filp)) }
}

/// Shared body of the read/write trampolines: stream files have no position, so `pread`
/// and friends get ESPIPE; errors become negative errnos.
///
/// # Safety
///
/// `filp` must be an open migration file (see [`mig_file`]).
unsafe fn stream_op(
    filp: *mut sys::file,
    pos: *mut i64,
    op: impl FnOnce(&MigFile) -> Result<isize>,
) -> isize {
    if !pos.is_null() {
        return ESPIPE.to_errno() as isize;
    }
    // SAFETY: guaranteed by the caller.
    let file = unsafe { mig_file(filp) };
    op(&file).unwrap_or_else(|e| e.to_errno() as isize)
}

/// `file_operations.read` of migration files (installed in helpers.c).
///
/// # Safety
///
/// Called by the VFS on a migration file, with a user buffer and `pos` as passed to `read`.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_read(
    filp: *mut sys::file,
    buf: *mut c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    let out = UserSlice::new(buf as UserPtr, len).writer();
    // SAFETY: the VFS calls this on an open migration file.
    unsafe { stream_op(filp, pos, |file| file.read(out)) }
}

/// `file_operations.write` of migration files.
///
/// # Safety
///
/// As for [`rust_mig_file_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_write(
    filp: *mut sys::file,
    buf: *const c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    let input = UserSlice::new(buf as UserPtr, len).reader();
    // SAFETY: the VFS calls this on an open migration file.
    unsafe { stream_op(filp, pos, |file| file.write(input)) }
}

/// `file_operations.unlocked_ioctl` of migration files.
///
/// # Safety
///
/// As for [`rust_mig_file_read`]; `arg` is the user's ioctl argument.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_ioctl(
    filp: *mut sys::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: the VFS calls this on an open migration file.
    let file = unsafe { mig_file(filp) };
    file.ioctl(cmd, arg)
        .unwrap_or_else(|e| e.to_errno() as isize)
}

/// `file_operations.release` of migration files: the last reference is gone.
///
/// # Safety
///
/// Called once by the VFS for a migration file; no other file operation runs afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_release(
    _inode: *mut sys::inode,
    filp: *mut sys::file,
) -> c_int {
    // SAFETY: gives back the reference stored by `FileRef::create`; nothing uses it after.
    drop(unsafe { <Arc<MigFile> as ForeignOwnable>::from_foreign(sys::mig_file_private(filp)) });
    0
}

/// The `seq_file` of one `show` call, as a text sink.
struct SeqWriter(*mut sys::seq_file);

impl fmt::Write for SeqWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: `self.0` is the seq_file of the running `show` call (where values are
        // made); `s` is valid for `s.len()` bytes, which `seq_write` copies.
        let ret = unsafe { sys::seq_write(self.0, s.as_ptr().cast(), s.len()) };
        // Nonzero: the buffer is full; seq_file calls `show` again with a larger one.
        if ret == 0 {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// `show` of a device's debugfs `stats` file (helpers.c): one `name value` line per counter.
///
/// # Safety
///
/// Called by seq_file, inside debugfs's proxy protection of the file, with `m` the
/// seq_file being filled and `stats` the pointer [`Adapter::probe`] gave `mig_debugfs_add`.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_stats_show(
    m: *mut sys::seq_file,
    stats: *mut c_void,
) -> c_int {
    // SAFETY: `stats` points to the device's `Stats`, alive until `remove` has deleted the
    // file; debugfs removal waits for running `show` calls and refuses later ones.
    let stats = unsafe { &*stats.cast_const().cast::<Stats>() };
    // An error only means the buffer is full: seq_file retries with a larger one.
    let _ = stats.write_text(&mut SeqWriter(m));
    0
}

/// The per-device allocation: the core's device first, as `vfio_alloc_device()` requires,
/// then the driver's own state.
#[repr(C)]
pub(crate) struct Device<T> {
    core: CoreDevice,
    data: T,
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
    unsafe fn from_vdev<'a>(vdev: *mut sys::vfio_device) -> &'a Device<T> {
        // SAFETY: `vdev` is the first field of `vfio_pci_core_device`, which is the first field
        // of the `repr(C)` `Device<T>`, so the pointers coincide; the caller guarantees the
        // rest.
        unsafe { &*vdev.cast::<Device<T>>() }
    }
}

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

    /// Chained `read` on the device fd.
    fn read(dev: &Device<Self>, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize>;

    /// Chained `write` on the device fd.
    fn write(dev: &Device<Self>, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize>;

    /// Chained `ioctl` on the device fd.
    fn ioctl(dev: &Device<Self>, cmd: u32, arg: usize) -> Result<isize>;

    /// The PCI core finished resetting the function (FLR, `VFIO_DEVICE_RESET`, AER).
    /// Runs under VFIO core locks: must not block on locks taken around BAR accesses.
    fn reset_done(dev: &Device<Self>);

    /// `migration_set_state`: walk to `new`; a file for userspace on the final arc.
    fn set_state(dev: &Device<Self>, new: MigState) -> Result<Option<FileRef>>;

    /// `migration_get_state`.
    fn get_state(dev: &Device<Self>) -> Result<MigState>;

    /// `migration_get_data_size`: bytes STOP_COPY will produce.
    fn data_size(dev: &Device<Self>) -> Result<usize>;

    /// `mmap` of the device fd.
    fn mmap(dev: &Device<Self>, vma: &Vma) -> Result;

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

/// Builds the C callback tables for a [`VariantDriver`].
pub(crate) struct Adapter<T>(core::marker::PhantomData<T>);

impl<T: VariantDriver> Adapter<T> {
    const OPS: sys::vfio_device_ops = sys::vfio_device_ops {
        name: T::NAME.as_char_ptr().cast_mut(),
        init: Some(Self::init),
        release: Some(Self::release),
        bind_iommufd: Some(sys::vfio_iommufd_physical_bind),
        unbind_iommufd: Some(sys::vfio_iommufd_physical_unbind),
        attach_ioas: Some(sys::vfio_iommufd_physical_attach_ioas),
        detach_ioas: Some(sys::vfio_iommufd_physical_detach_ioas),
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
            unsafe { T::new(pdev).__pinned_init(addr_of_mut!((*dev).data))? };
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
        T::read(dev, buf as UserPtr, count, pos).unwrap_or_else(|e| e.to_errno() as isize)
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
        T::write(dev, buf as UserPtr, count, pos).unwrap_or_else(|e| e.to_errno() as isize)
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
        T::ioctl(dev, cmd, arg).unwrap_or_else(|e| e.to_errno() as isize)
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

/// PCI id table in the layout `modpost` and the PCI core read, terminated by a zero entry.
#[repr(transparent)]
pub(crate) struct IdTable<const N: usize>(pub(crate) [sys::pci_device_id; N]);

impl<const N: usize> IdTable<N> {
    /// Builds a table whose entries match only through `driver_override`, as VFIO variant
    /// drivers must (`modinfo` shows them as `vfio_pci:` aliases), from (vendor, device) pairs
    /// in the first `N - 1` slots of `ids`.
    pub(crate) const fn vfio_override(ids: &[(u16, u16)]) -> Self {
        const ZERO: sys::pci_device_id = sys::pci_device_id {
            vendor: 0,
            device: 0,
            subvendor: 0,
            subdevice: 0,
            class: 0,
            class_mask: 0,
            driver_data: 0,
            override_only: 0,
        };
        assert!(
            ids.len() + 1 == N,
            "table needs exactly one terminator slot"
        );
        let mut table = [ZERO; N];
        let mut i = 0;
        while i < ids.len() {
            table[i] = sys::pci_device_id {
                vendor: ids[i].0 as u32,
                device: ids[i].1 as u32,
                subvendor: !0,
                subdevice: !0,
                override_only: sys::PCI_ID_F_VFIO_DRIVER_OVERRIDE,
                ..ZERO
            };
            i += 1;
        }
        IdTable(table)
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
                name: T::NAME.as_char_ptr(),
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
            sys::__pci_register_driver(drv.get(), module.as_ptr().cast(), T::NAME.as_char_ptr())
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
