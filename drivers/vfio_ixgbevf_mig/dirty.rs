// SPDX-License-Identifier: GPL-2.0

//! DMA dirty tracking in software, for a VF that has no tracker of its own.
//!
//! Counterpart of pds `dirty.c`. The device writes guest memory in exactly three places: RX
//! descriptor rings (write-back), RX buffers, and TX write-back (descriptor DD bits or the head
//! write-back word). RX write-back overwrites buffer addresses, so buffers are captured when
//! the guest hands them over, on its RX tail (RDT) writes: the BAR0 pages holding RX tails are
//! left out of the sparse mmap (`pure::dirty::region`), every write to them reaches
//! [`bar0_write`], and while logging it walks the newly posted descriptors through the
//! device's DMA view (`pure::dirty::ring`), marks their buffers in the dirty set
//! (`pure::dirty::set`) and only then forwards the tail to the device, all under the log lock
//! (`Dirty::log`), so the device cannot fetch a descriptor whose buffer is not marked yet and
//! no report can run in between.
//!
//! A report marks, besides what the trap recorded, the rings and write-back words from the
//! current registers and the buffers of every descriptor the device may still write: those in
//! `RDH..RDT` and those before `RDH` still in read format (fetched into the descriptor cache
//! but not written back; `RxRing::owned_from`). Those buffers are collected in a second,
//! bounded set and marked again right after the report clears the set, because the device may
//! fill them after this report. The protocol and its invariant are in
//! `docs/dirty-tracking.md`; `pure::dirty::interleave` checks it against every interleaving of
//! small configurations.
//!
//! Only an aligned 32-bit write may touch a trapped page (anything else is refused with
//! EINVAL before it reaches the device), and no ioeventfd may be placed there, so no path
//! puts a value into an RX tail without passing the trap.
//!
//! Guest memory is hostile: the walker bounds its work per call, reads only through the
//! device's DMA view (`vfio::device::DmaView`: the container's locked copy for type1, the
//! driver's own access to the device's IOAS for iommufd), and skips (and counts)
//! unmapped or absurd addresses. A view that cannot be read safely marks everything. A guest
//! that rewrites a descriptor after posting it can only hide its own DMA from its own
//! migration.

use crate::pure::{
    dirty::{
        access::{Access, Region},
        areas::{tx_head_wb_range, tx_ring_range},
        ranges::{round_out, tracking_page_size, DirtySink, Extent, Span},
        region,
        ring::{dma_address, GuestMem, RxRing, WalkTally},
        set::{clip, min_storage, DirtySet},
        slots::{slots_storage, Posted, Slots},
    },
    hw::{
        family::VfModel,
        fields::{Srrctl, DESC_LEN},
        io::RegIo,
        map::RegMap,
        pages::PageSet,
        regs::QueueReg,
    },
    stats::Counter,
};
use crate::vfio::{
    adapter::RegionReply,
    compat::Shown,
    device::{Bar0, Device, DmaView, Vma},
    eopnotsupp,
    misc::{debug_race_delay, log_ratelimit, IovaBitmap},
};
use crate::{pure_error, sys, MigDevice};
mod trap;
pub(crate) use trap::{bar0_write, check_ioeventfd};

use kernel::{alloc::KVVec, new_mutex, prelude::*, sync::Mutex};

/// Extents of dirty-set storage (16 bytes each): 64 KiB per set, two sets per logging
/// session, allocated at start with the slot table (4096 entries of 24 bytes per RX queue:
/// 192 KiB for an igbvf, 768 KiB for an 8-queue ixgbevf, vmalloc). Nothing a report or a
/// trap does allocates.
const STORAGE_EXTENTS: usize = 4096;
/// Most RX queues of any supported VF.
const MAX_QUEUES: usize = crate::pure::hw::family::MAX_QUEUES as usize;
/// `Logging::tails` entry of a ring reprogrammed since its last trapped tail write.
const TAIL_UNKNOWN: u32 = u32::MAX;

/// A logging session: `log_start` to `log_stop`.
struct Logging {
    /// What the device may have written since the last report.
    set: DirtySet<KVec<Extent>>,
    /// Scratch of `report`: the buffers the device still owned on untracked queues when the
    /// report walked, marked again after the clear. Same ranges as `set`, its own bounded
    /// storage.
    owned: DirtySet<KVec<Extent>>,
    /// The buffers of every posted RX descriptor per ring slot, until the device is done
    /// with them (precise tracking, `pure::dirty::slots`).
    slots: Slots<KVVec<Posted>>,
    /// RX tail last handed to the device, per queue (what the next trap walks from).
    tails: [u32; MAX_QUEUES],
    /// TX head at the last pass, per queue ([`tx_active`]).
    tx_heads: [u32; MAX_QUEUES],
    /// The session's walks (the device's statistics sum every session's).
    walks: WalkTally,
}

impl Logging {
    /// Adds `t` to the session's walks and the device's statistics.
    fn walked(&mut self, dev: &Device<MigDevice>, t: &WalkTally) {
        self.walks.merge(t);
        dev.data().stats.walks(t);
    }
}

/// Per-device dirty-tracking state.
#[pin_data]
pub(crate) struct Dirty {
    /// BAR0 pages kept out of the mmap; empty when the `dirty_tracking` parameter is off.
    trapped: PageSet,
    /// The logging session, if any. Every write to a trapped page is forwarded to the device
    /// while holding this lock, and the log ops hold it for their whole work, so a tail
    /// write is walked, marked and forwarded as one step with respect to start, report and
    /// stop. Lock order: device set lock (`DmaView`), state mutex, this.
    #[pin]
    log: Mutex<Option<Logging>>,
}

impl Dirty {
    /// Dirty tracking for `model`, trapping its RX tail pages if `trap` (module parameter).
    pub(crate) fn new(model: &VfModel, trap: bool) -> impl PinInit<Self> {
        let trapped = if trap {
            model.regs().rx_tail_pages()
        } else {
            PageSet::new()
        };
        pin_init!(Dirty {
            trapped,
            log <- new_mutex!(None, "vfio_ixgbevf_mig::dirty"),
        })
    }

    /// Whether this device offers DMA logging (RX tails trapped since bind).
    pub(crate) fn offered(&self) -> bool {
        !self.trapped.is_empty()
    }

    /// The BAR0 pages that are not mmapped.
    pub(crate) fn trapped(&self) -> &PageSet {
        &self.trapped
    }
}

// The reply `pure::dirty::region` lays out is the uAPI's (include/uapi/linux/vfio.h).
const _: () = {
    use core::mem::size_of;
    assert!(region::REGION_INFO_LEN == size_of::<sys::vfio_region_info>());
    assert!(region::CAP_HEADER_LEN == size_of::<sys::vfio_region_info_cap_sparse_mmap>());
    assert!(region::AREA_LEN == size_of::<sys::vfio_region_sparse_mmap_area>());
};

/// `VFIO_DEVICE_GET_REGION_INFO` for BAR0 while RX tails are trapped, for a user buffer of
/// `argsz` bytes: the reply and how much of it to copy out (vfio/compat delivers it, from
/// the ioctl on 6.12, from the core's `get_region_info_caps` on 7.3); `None`: the core's.
pub(crate) fn region_info(
    dev: &Device<MigDevice>,
    index: u32,
    argsz: u32,
) -> Result<Option<RegionReply>> {
    let dirty = &dev.data().dirty;
    let core = dev.core();
    // The MSI-X table of these VFs is in BAR3; if it ever were in BAR0 the core's own
    // sparse areas would have to be merged, so leave such a device to the core.
    if !dirty.offered() || core.msix_bar() == 0 {
        return Ok(None);
    }
    if index != 0 {
        return Ok(None);
    }
    if (argsz as usize) < region::REGION_INFO_LEN {
        return Err(EINVAL);
    }
    Ok(Some(region::bar0_info(
        argsz,
        core.pci().resource_len(0),
        core.bar_mmap_supported(0),
        dirty.trapped(),
    )))
}

/// `mmap`: refuses mappings that would cover a trapped BAR0 page.
pub(crate) fn mmap(dev: &Device<MigDevice>, vma: &Vma) -> Result {
    let dirty = &dev.data().dirty;
    let Ok(pos) = i64::try_from(vma.file_offset()) else {
        return Err(EINVAL);
    };
    if let Some(a) = Access::decode(pos, 0) {
        if a.region == Region::Bar(0) && !region::mmap_allowed(a.offset, vma.len(), dirty.trapped())
        {
            return Err(EINVAL);
        }
    }
    dev.core().mmap(vma)
}

fn read(bar: &Bar0<'_>, map: &RegMap, reg: QueueReg, q: u8) -> Result<u32> {
    let off = map.queue(reg, q).map_err(|_| EINVAL)?;
    Ok(bar.read32(off))
}

/// An RX queue's ring as its registers describe it now.
enum Rx {
    /// `RDLEN` is 0: no ring.
    Off,
    /// Registers the walker refuses (misaligned, oversize; counted in `walks_refused`).
    /// The datasheets leave such a ring undefined, and QEMU's igb runs one (it keeps RDLEN
    /// 16-byte granular), so the device may write anywhere: everything logged is dirty.
    Refused,
    /// The ring, with the device's head and tail.
    Ring(RxRing, u32, u32),
}

/// The RX ring of queue `q` as the device sees it now.
fn rx_ring(bar: &Bar0<'_>, model: &VfModel, q: u8) -> Result<Rx> {
    let map = model.regs();
    let rdlen = read(bar, &map, QueueReg::Rdlen, q)?;
    if rdlen == 0 {
        return Ok(Rx::Off);
    }
    let rdba = dma_address(
        read(bar, &map, QueueReg::Rdbal, q)?,
        read(bar, &map, QueueReg::Rdbah, q)?,
    );
    let srrctl = Srrctl::from_raw(read(bar, &map, QueueReg::Srrctl, q)?);
    let head = read(bar, &map, QueueReg::Rdh, q)?;
    let tail = read(bar, &map, QueueReg::Rdt, q)?;
    Ok(match RxRing::new(model.family, rdba, rdlen, srrctl) {
        Ok(r) => Rx::Ring(r, head, tail),
        Err(_) => Rx::Refused,
    })
}

/// Both sets of a report at once: what the device owns on an untracked queue goes into the
/// set being reported and into the scratch set that is marked again after the clear.
struct Both<'a, A, B>(&'a mut A, &'a mut B);

impl<A: DirtySink, B: DirtySink> DirtySink for Both<'_, A, B> {
    fn mark(&mut self, iova: u64, len: u64) {
        self.0.mark(iova, len);
        self.1.mark(iova, len);
    }
}

/// What a pass over the queues is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// `DMA_LOGGING_START`: record what the device owns (the first pre-copy pass copies
    /// everything anyway).
    Start,
    /// A report; `quiesced`: the device is stopped, so every recorded buffer is marked.
    Report { quiesced: bool },
}

/// One RX queue of [`scan_queues`]: marks the ring, then either retires the slots the device
/// finished with (precise, ring tracked per slot), or records what it owns (no records for
/// this ring yet; marked too in a report), or, for a ring too long to track, marks the owned
/// buffers into both sets (conservative). Returns `false` when what the device owns is
/// unknown.
fn scan_rx(
    log: &mut Logging,
    q: u8,
    (ring, head, tail): (&RxRing, u32, u32),
    view: &mut DmaView<'_>,
    pass: Pass,
    tally: &mut WalkTally,
) -> bool {
    let Logging {
        set, owned, slots, ..
    } = log;
    let span = ring.span();
    // A report of a ring whose posted descriptors are recorded per slot: the precise path.
    let retire = pass != Pass::Start && slots.tracks(q, ring);
    if !retire {
        // A tracked ring's writes (descriptor write-backs) are marked per slot as the slots
        // retire; any other ring may have been written anywhere.
        set.mark(span.iova, span.len);
    }
    if !Slots::<KVVec<Posted>>::trackable(ring) {
        slots.drain(q, set);
        return match pass {
            Pass::Start => ring.walk_owned(head, tail, view, set, tally),
            Pass::Report { .. } => ring.walk_owned(head, tail, view, &mut Both(set, owned), tally),
        };
    }
    if retire {
        // From the oldest descriptor not written back (`RxRing::owned_from`), not from RDH:
        // the device may have fetched descriptors it has not filled yet.
        return match ring.owned_from(head, tail, view) {
            Ok(o) if !o.truncated() => {
                tally.add_scan(&o);
                let written = |slot: u32| {
                    let mut desc = [0u8; DESC_LEN as usize];
                    let at = ring.span().iova + u64::from(slot) * u64::from(DESC_LEN);
                    view.read(at, &mut desc).ok()?;
                    ring.written_len(&desc)
                };
                slots.retire_done_with(q, ring.owned_walks(&o, tail), written, set);
                true
            }
            _ => {
                tally.refuse();
                false
            }
        };
    }
    let known = match slots.recorder(q, ring, set) {
        Some(mut rec) => ring.walk_owned(head, tail, view, &mut rec, tally),
        None => false,
    };
    if pass != Pass::Start {
        slots.mark_pending(q, set);
    }
    known
}

/// Whether a pass must mark queue `q`'s TX ring and head write-back word: the device writes
/// them (descriptor DD bits, the head) only while it processes descriptors, which moves
/// TDH. A queue whose TDH did not move since the last report and holds no unprocessed
/// descriptor (TDH == TDT) is skipped. A write-back the device still owes for such a queue
/// (batched by WTHRESH) is caught by the next report after TDH moves, and at the latest by a
/// report while the device is quiesced, which marks every TX area.
fn tx_active(bar: &Bar0<'_>, map: &RegMap, log: &mut Logging, q: u8, pass: Pass) -> Result<bool> {
    let head = read(bar, map, QueueReg::Tdh, q)?;
    let tail = read(bar, map, QueueReg::Tdt, q)?;
    let last = log.tx_heads.get_mut(usize::from(q)).ok_or(EINVAL)?;
    let moved = core::mem::replace(last, head) != head;
    Ok(match pass {
        Pass::Start | Pass::Report { quiesced: true } => true,
        Pass::Report { quiesced: false } => moved || head != tail,
    })
}

/// Marks everything the device may write on its own account (rings, write-back words) and
/// the buffers of descriptors it may have filled, from the current registers (see
/// [`scan_rx`]). Returns `false` when that cannot be known (a refused ring or walk, an
/// unsafe view, unreadable registers): the caller marks everything.
fn scan_queues(
    dev: &Device<MigDevice>,
    bar: &Bar0<'_>,
    view: &mut DmaView<'_>,
    log: &mut Logging,
    pass: Pass,
    tally: &mut WalkTally,
) -> Result<bool> {
    let model = &dev.data().model;
    let map = model.regs();
    let mut known = true;
    for q in 0..model.geometry.queues {
        match rx_ring(bar, model, q)? {
            Rx::Ring(ring, head, tail) => {
                known &= scan_rx(log, q, (&ring, head, tail), view, pass, tally);
            }
            Rx::Refused => {
                log.slots.drain(q, &mut log.set);
                tally.refuse();
                known = false;
            }
            Rx::Off => log.slots.drain(q, &mut log.set),
        }
        if pass == (Pass::Report { quiesced: true }) {
            log.slots.mark_pending(q, &mut log.set);
        }
        if tx_active(bar, &map, log, q, pass)? {
            let tdba = dma_address(
                read(bar, &map, QueueReg::Tdbal, q)?,
                read(bar, &map, QueueReg::Tdbah, q)?,
            );
            if let Some(s) = tx_ring_range(tdba, read(bar, &map, QueueReg::Tdlen, q)?) {
                log.set.mark(s.iova, s.len);
            }
            let wb = tx_head_wb_range(
                read(bar, &map, QueueReg::Tdwbal, q)?,
                read(bar, &map, QueueReg::Tdwbah, q)?,
            );
            if let Some(s) = wb {
                log.set.mark(s.iova, s.len);
            }
        }
    }
    Ok(known && !bar.failed() && !view.unsafe_seen())
}

/// Counts a walk that could not trust what it read (see [`scan_queues`]).
fn count_unknown(dev: &Device<MigDevice>, view: &DmaView<'_>) {
    if view.unsafe_seen() {
        dev.data().stats.inc(Counter::ViewUnsafe);
    }
}

/// A dirty set over `ranges` (rounded out to `page`) in freshly allocated bounded storage.
fn new_set(ranges: &[Span], page: u64) -> Result<DirtySet<KVec<Extent>>> {
    let cap = STORAGE_EXTENTS.max(min_storage(ranges.len()));
    let storage = KVec::from_elem(Extent::EMPTY, cap, GFP_KERNEL)?;
    DirtySet::new(storage, page, ranges.iter().copied()).map_err(|e| {
        if log_ratelimit() {
            pr_err!("dma logging: ranges refused: {}\n", Shown(&e));
        }
        pure_error(e)
    })
}

/// `log_start`: refuses a second start (`EBUSY`) and a device whose DMA cannot be read back
/// safely (`EOPNOTSUPP`: no paging IOMMU domain, or an iommufd attachment to a HWPT id);
/// returns the page size used.
pub(crate) fn start(dev: &Device<MigDevice>, ranges: &[Span], page_size: u64) -> Result<u64> {
    let data = dev.data();
    let mut view = dev.core().dma_view();
    let _state = data.state.lock();
    let mut log = data.dirty.log.lock();
    if log.is_some() {
        return Err(EBUSY);
    }
    if !view.readable() {
        if log_ratelimit() {
            pr_err!(
                "{}: dma logging needs a paging IOMMU domain, attached through an IOAS id with \
                 iommufd (identity, nested, none or a HWPT id found)\n",
                dev.core().pci().name()
            );
        }
        return Err(eopnotsupp());
    }
    // The core validated the ranges against the page size asked for; a clamped page size
    // needs them rounded outward.
    let page = tracking_page_size(page_size).ok_or(EINVAL)?;
    let mut spans = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
    for r in ranges {
        spans.push(*r, GFP_KERNEL)?;
    }
    let n = round_out(&mut spans, page).map_err(pure_error)?;
    let spans = spans.get(..n).ok_or(EINVAL)?;
    let queues = slots_storage(data.model.geometry.queues);
    let slots = KVVec::from_elem(Posted::default(), queues, GFP_KERNEL)?;
    let mut session = Logging {
        set: new_set(spans, page)?,
        owned: new_set(spans, page)?,
        slots: Slots::new(slots).ok_or(ENOMEM)?,
        tails: [0; MAX_QUEUES],
        tx_heads: [0; MAX_QUEUES],
        walks: WalkTally::default(),
    };
    let bar = dev.core().bar0().ok_or(EIO)?;
    // Buffers posted before logging started are the device's right now: recorded.
    let mut tally = WalkTally::default();
    if !scan_queues(dev, &bar, &mut view, &mut session, Pass::Start, &mut tally)? {
        count_unknown(dev, &view);
        session.set.mark_all();
    }
    session.walked(dev, &tally);
    let map = data.model.regs();
    for q in 0..data.model.geometry.queues {
        if let Some(t) = session.tails.get_mut(usize::from(q)) {
            *t = read(&bar, &map, QueueReg::Rdt, q)?;
        }
    }
    *log = Some(session);
    data.stats.inc(Counter::LogStarts);
    Ok(page)
}

/// `log_stop`: a stop without a start is a no-op, as in mlx5 and pds (QEMU may stop twice).
pub(crate) fn stop(dev: &Device<MigDevice>) -> Result {
    let data = dev.data();
    let _state = data.state.lock();
    if let Some(s) = data.dirty.log.lock().take() {
        data.stats.inc(Counter::LogStops);
        pr_debug!(
            "dma logging stopped: {} descriptors walked, {} skipped, {} walks truncated, {} refused\n",
            s.walks.walked,
            s.walks.skipped,
            s.walks.truncated,
            s.walks.refused
        );
    }
    Ok(())
}

/// `log_read_and_clear`: everything dirty in `[iova, iova + len)` into `bitmap`, then clean
/// except what the device may still write.
pub(crate) fn report(
    dev: &Device<MigDevice>,
    iova: u64,
    len: u64,
    bitmap: &mut IovaBitmap,
) -> Result {
    let data = dev.data();
    let mut view = dev.core().dma_view();
    let state = data.state.lock();
    let mut guard = data.dirty.log.lock();
    // `Option::as_mut` by name: 7.3's lock guard has an `as_mut` of its own (a pinned borrow).
    let log = Option::as_mut(&mut *guard).ok_or(EINVAL)?;
    let bar = dev.core().bar0().ok_or(EIO)?;
    log.owned.clear();
    let pass = Pass::Report {
        quiesced: state.quiesced(),
    };
    let mut tally = WalkTally::default();
    if !scan_queues(dev, &bar, &mut view, log, pass, &mut tally)? {
        // Registers unreadable (memory decoding off), an unsafe view or a refused walk:
        // assume the worst rather than miss a page.
        count_unknown(dev, &view);
        log.set.mark_all();
        log.owned.mark_all();
    }
    log.walked(dev, &tally);
    debug_race_delay();
    let shift = log.set.page_size().trailing_zeros();
    let pages = log
        .set
        .report_and_clear(iova, len, |run, npages| {
            let (start, bytes) = clip(run, npages, shift, iova, len);
            bitmap.set(start, bytes)
        })
        .map_err(pure_error)?;
    debug_race_delay();
    // What the device owned on untracked queues may be written after this report: keep it
    // dirty. (Tracked queues keep theirs in the slot table.)
    let Logging { set, owned, .. } = log;
    owned.for_each_run(set);
    data.stats.inc(Counter::LogReports);
    data.stats.add(Counter::DirtyPagesReported, pages);
    if pass == (Pass::Report { quiesced: true }) {
        data.stats.add(Counter::DirtyPagesQuiesced, pages);
    }
    Ok(())
}
