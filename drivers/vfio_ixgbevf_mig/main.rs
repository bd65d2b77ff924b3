// SPDX-License-Identifier: GPL-2.0

//! vfio-pci variant driver for Intel SR-IOV NIC virtual functions.
//!
//! Binds (through `driver_override` only, like every VFIO variant driver) to VFs of the ixgbe
//! family (82599, X540, X550, X550EM_X/A, E610) and the igb family (82576, I350) and hands
//! them to userspace through the vfio-pci core. The core does the pass-through; this driver
//! chains its read, write and ioctl handlers in front of the core's, which is where migration
//! (`state`), software DMA dirty tracking (`dirty`) and the PF-held VF context (`pf_ops`)
//! hook in. Counterpart of `drivers/vfio/pci/pds/pci_drv.c` + `vfio_dev.c`.
//!
//! Layout: `vfio` is the only FFI layer (all `unsafe`), `pure` the `core`-only logic that the
//! host test crate also builds. The compiler holds `unsafe` to that: `unsafe_code` is denied
//! for the whole crate and allowed only in `vfio` and in the generated bindings (`sys`);
//! `pure` forbids it.

#![deny(unsafe_code)]

use kernel::{c_str, prelude::*, sync::Arc, uaccess::UserPtr};

mod dirty;
mod mig;
mod mig_file;
mod pf_ops;
// Private, so that the compiler reports what the driver leaves unused (items only the host
// tests use are `cfg(any(test, feature = "testing"))`). Its items stay `pub`: the host crate
// (hostcore/) mounts the same files as a public module for its tests and fuzz targets.
#[expect(unreachable_pub)]
mod pure;
mod state;
#[allow(unsafe_code)]
mod sys;
#[allow(unsafe_code)]
mod vfio;

use pure::dirty::access::{Access, Region};
use pure::dirty::ranges::Span;
use pure::hw::family::{Refusal, VfModel, SUPPORTED, SUPPORTED_IDS};
use pure::hw::regs::BAR0_SIZE;
use pure::mig::fsm::MigState;
use pure::stats::{Counter, Stats};
use vfio::{
    adapter::{RegionReply, Registration, VariantDriver},
    compat::cstr_bytes,
    device::{Device, Vma},
    file::FileRef,
    misc::IovaBitmap,
    pci::{IdTable, PciDev},
};

/// The `Error` for an error of the pure core: its errno, from the one mapping in
/// [`pure::errno`].
pub(crate) fn pure_error(e: impl pure::errno::Errno) -> Error {
    Error::from_errno(-e.errno())
}

vfio::compat::mig_module! {
    type: MigModule,
    name: "vfio_ixgbevf_mig",
    author: "vfio-ixgbevf-mig developers",
    description: "Live-migratable vfio-pci variant driver for Intel ixgbe/igb SR-IOV VFs",
    license: "GPL",
}

/// The PCI id table. `modpost` turns a symbol of this name into the module's `vfio_pci:`
/// aliases (what `MODULE_DEVICE_TABLE(pci, ...)` declares in C). `unsafe_code` flags
/// `no_mangle` (a clashing symbol name would be undefined behaviour); this name is unique to
/// the module, and modpost only finds the table by it.
#[allow(unsafe_code)]
#[no_mangle]
#[used]
static __mod_pci__vfio_ixgbevf_mig_ids_device_table: IdTable<{ SUPPORTED.len() + 1 }> =
    IdTable::vfio_override(&SUPPORTED_IDS);

struct MigModule {
    _driver: Registration,
}

impl kernel::Module for MigModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let driver = Registration::new::<MigDevice, _>(
            &__mod_pci__vfio_ixgbevf_mig_ids_device_table,
            module,
        )?;
        Ok(MigModule { _driver: driver })
    }
}

/// Driver state of one VF.
#[pin_data]
struct MigDevice {
    /// What the VF is (family, register map, queue count).
    model: VfModel,
    /// Index of the VF on its PF.
    vf_id: u16,
    /// Migration state, behind the state mutex.
    #[pin]
    state: state::State,
    /// Software DMA dirty tracking (RX tail trap, logging session).
    #[pin]
    dirty: dirty::Dirty,
    /// What the driver did, for debugfs; shared with the migration files, which count
    /// their bytes and may outlive the device.
    stats: Arc<Stats>,
}

impl VariantDriver for MigDevice {
    const NAME: &'static CStr = c_str!("vfio_ixgbevf_mig");

    fn probe(pdev: &PciDev) -> Result {
        identify(pdev)
    }

    fn new(pdev: &PciDev) -> impl PinInit<Self, Error> {
        // `probe` accepted (and logged) the device just before the core allocated it.
        let model = VfModel::from_ids(pdev.vendor(), pdev.device()).ok_or(ENODEV);
        let vf_id = pdev.vf_id().ok_or(ENODEV);
        try_pin_init!(MigDevice {
            model: model?,
            vf_id: vf_id?,
            state <- state::State::new(),
            dirty <- dirty::Dirty::new(model, vfio::misc::dirty_tracking_param()),
            stats: Arc::new(Stats::new(), GFP_KERNEL)?,
        }? Error)
    }

    fn open(dev: &Device<Self>) -> Result {
        let core = dev.core();
        core.enable()?;
        // BAR0 is mapped for the driver's own register accesses (quiesce, save, restore); a
        // failure leaves pass-through intact, and migration then fails with EIO.
        if let Err(e) = core.setup_bar0() {
            pr_warn!(
                "{}: cannot map BAR0 ({:?}): migration disabled\n",
                core.pci().name(),
                e
            );
        }
        core.finish_enable();
        dev.data().state.opened();
        Ok(())
    }

    fn close(dev: &Device<Self>) {
        let data = dev.data();
        if data.state.closed() {
            // Closed mid-migration: give the VF's mailbox back to the PF (the core's reset
            // on close would end PF quiescence too, but only if the reset works).
            let _ = pf_ops::unquiesce(data.model.family, dev.core().pci());
        }
        // A logging session belongs to the user who started it (as in pds/mlx5): the core
        // does not stop it on close, so the next open would otherwise find it (EBUSY).
        let _ = dirty::stop(dev);
        pr_debug!(
            "{}: VF {} closed, {} RX tail writes seen\n",
            dev.core().pci().name(),
            data.vf_id,
            data.stats.get(Counter::TailWrites)
        );
        dev.core().close();
    }

    // `read` is the core's (the trait's default): reads have no side effect migration needs
    // to see, the saved state is read from the device under the state mutex.

    fn write(dev: &Device<Self>, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        if let Some(a) = Access::decode(*pos, count) {
            // Any byte on a trapped page, not just the first: a long write from the page
            // below must not carry an RX tail past the trap.
            if a.region == Region::Bar(0)
                && dev.data().dirty.trapped().touches(a.offset, count as u64)
            {
                return dirty::bar0_write(dev, a, buf, pos);
            }
        }
        dev.core().write(buf, count, pos)
    }

    fn ioctl(dev: &Device<Self>, cmd: u32, arg: usize) -> Result<isize> {
        // Resets reach `reset_done` through the PCI core, and migration and DMA logging come
        // in as VFIO core features; BAR0's region info differs (`region_info`), and
        // ioeventfds must stay off trapped pages.
        if cmd == sys::VFIO_DEVICE_IOEVENTFD {
            dirty::check_ioeventfd(dev, arg)?;
        }
        dev.core().ioctl(cmd, arg)
    }

    fn region_info(dev: &Device<Self>, index: u32, argsz: u32) -> Result<Option<RegionReply>> {
        // Trapped pages are not mmappable.
        dirty::region_info(dev, index, argsz)
    }

    fn reset_done(dev: &Device<Self>) {
        dev.data().state.reset_done();
        dev.data().stats.inc(Counter::ResetCount);
    }

    fn set_state(dev: &Device<Self>, new: MigState) -> Result<Option<FileRef>> {
        state::set_state(dev, new)
    }

    fn get_state(dev: &Device<Self>) -> Result<MigState> {
        Ok(dev.data().state.get())
    }

    fn data_size(dev: &Device<Self>) -> Result<usize> {
        Ok(mig::data_size(dev))
    }

    fn mmap(dev: &Device<Self>, vma: &Vma) -> Result {
        dirty::mmap(dev, vma)
    }

    fn stats(dev: &Device<Self>) -> &Stats {
        &dev.data().stats
    }

    fn offers_dma_logging(dev: &Device<Self>) -> bool {
        dev.data().dirty.offered()
    }

    fn log_start(dev: &Device<Self>, ranges: &[Span], page_size: u64) -> Result<u64> {
        dirty::start(dev, ranges, page_size)
    }

    fn log_stop(dev: &Device<Self>) -> Result {
        dirty::stop(dev)
    }

    fn log_report(dev: &Device<Self>, iova: u64, len: u64, bitmap: &mut IovaBitmap) -> Result {
        dirty::report(dev, iova, len, bitmap)
    }
}

/// Decides whether `pdev` is a VF this driver supports; refusals are logged with the reason.
pub(crate) fn identify(pdev: &PciDev) -> Result {
    let (vendor, device) = (pdev.vendor(), pdev.device());
    let model = match VfModel::probe(vendor, device, pdev.is_virtfn(), pdev.resource_len(0)) {
        Ok(model) => model,
        Err(why) => {
            match why {
                Refusal::UnsupportedId => pr_err!(
                    "{}: device {:04x}:{:04x} is not a supported Intel VF; not binding\n",
                    pdev.name(),
                    vendor,
                    device
                ),
                Refusal::NotVirtfn => pr_err!(
                    "{}: {:04x}:{:04x} is not an SR-IOV virtual function (a VF id on a PF, or \
                     a VF without its PF); not binding\n",
                    pdev.name(),
                    vendor,
                    device
                ),
                Refusal::Bar0TooSmall(len) => pr_err!(
                    "{}: BAR0 is {} bytes, the VF register map needs {}; not binding\n",
                    pdev.name(),
                    len,
                    BAR0_SIZE
                ),
            }
            return Err(ENODEV);
        }
    };
    let vf_id = pdev.vf_id().ok_or(ENODEV)?;
    let pf = pdev.physfn();
    let ops = pf_ops::pf_driver(model.family);
    match pf.driver_name() {
        Some(name) if cstr_bytes(name) == cstr_bytes(ops.name) => {}
        other => pr_warn!(
            "{}: PF {} is driven by {:?}, not {}: pass-through works, PF-held VF context \
             cannot be migrated\n",
            pdev.name(),
            pf.name(),
            other,
            ops.name
        ),
    }
    pr_info!(
        "{}: {} ({} family) VF {} of PF {}\n",
        pdev.name(),
        model.name,
        ops.family.name(),
        vf_id,
        pf.name()
    );
    Ok(())
}
