// SPDX-License-Identifier: GPL-2.0

//! DMA dirty tracking in software, for a VF that has no tracker of its own.
//!
//! Counterpart of pds `dirty.c`. The device writes guest memory in exactly three places: RX
//! descriptor rings (write-back), RX buffers, and TX write-back (descriptor DD bits or the head
//! write-back word). RX write-back overwrites buffer addresses, so buffers are captured when
//! the guest hands them over, on its RX tail (RDT) writes: the BAR0 pages holding RX tails are
//! left out of the sparse mmap (`pure::region`), every write to them reaches
//! [`Dirty::bar0_write`], and while logging it walks the newly posted descriptors through the
//! device's IOMMU view (`pure::ring`) and marks their buffers in the dirty set (`pure::dirty`)
//! *before* forwarding the write, so the device cannot use a buffer that is not marked yet.
//!
//! A report marks, besides what the trap recorded, the rings and write-back words from the
//! current registers and the buffers of every descriptor the device still owns (head..tail);
//! those are marked again right after the report clears the set, because the device may fill
//! them after this report. Nothing the device can write is ever missing from a report (zero
//! false negatives); the price is re-reporting rings and owned buffers (false positives).
//!
//! Guest memory is hostile: the walker bounds its work per call, reads only through the
//! device's IOMMU domain, and skips (and counts) unmapped or absurd addresses. A guest that
//! rewrites a descriptor after posting it can only hide its own DMA from its own migration.

use crate::pure::{
    access::{Access, Region},
    areas::{tx_head_wb_range, tx_ring_range},
    dirty::{clip, min_storage, DirtySet},
    family::VfModel,
    fields::Srrctl,
    io::RegIo,
    map::RegMap,
    pages::PageSet,
    ranges::{DirtySink, Extent, Span, MIN_PAGE_SIZE},
    region,
    regs::{QueueReg, RegRef},
    ring::{dma_address, RxRing, WalkTally},
    stats::Counter,
};
use crate::vfio::{log_ratelimit, now_ns, Bar0, Device, IommuMem, IovaBitmap, Vma};
use crate::MigDevice;
use kernel::{
    new_mutex,
    prelude::*,
    sync::Mutex,
    uaccess::{UserPtr, UserSlice},
};

/// Extents of dirty-set storage (16 bytes each): 64 KiB per logging session.
const STORAGE_EXTENTS: usize = 4096;
/// Most RX queues of any supported VF.
const MAX_QUEUES: usize = crate::pure::family::MAX_QUEUES as usize;
/// `Logging::tails` entry of a ring reprogrammed since its last trapped tail write.
const TAIL_UNKNOWN: u32 = u32::MAX;

/// A logging session: `log_start` to `log_stop`.
struct Logging {
    set: DirtySet<KVec<Extent>>,
    /// RX tail last handed to the device, per queue (what the next trap walks from).
    tails: [u32; MAX_QUEUES],
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
    /// The logging session, if any. Taken after the state mutex by the log ops, and alone by
    /// the RX tail trap.
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

/// `VFIO_DEVICE_GET_REGION_INFO` for BAR0 while RX tails are trapped; `None`: the core's.
pub(crate) fn region_info(dev: &Device<MigDevice>, arg: usize) -> Result<Option<isize>> {
    let dirty = &dev.data().dirty;
    let core = dev.core();
    // The MSI-X table of these VFs is in BAR3; if it ever were in BAR0 the core's own
    // sparse areas would have to be merged, so leave such a device to the core.
    if !dirty.offered() || core.msix_bar() == 0 {
        return Ok(None);
    }
    let mut head = UserSlice::new(arg as UserPtr, 12).reader();
    let argsz: u32 = head.read()?;
    let _flags: u32 = head.read()?;
    let index: u32 = head.read()?;
    if index != 0 {
        return Ok(None);
    }
    if (argsz as usize) < region::REGION_INFO_LEN {
        return Err(EINVAL);
    }
    let (reply, copy) = region::bar0_info(
        argsz,
        core.pci().resource_len(0),
        core.bar_mmap_supported(0),
        dirty.trapped(),
    );
    let mut out = UserSlice::new(arg as UserPtr, copy).writer();
    out.write_slice(reply.get(..copy).ok_or(EINVAL)?)?;
    Ok(Some(0))
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

/// Walks every descriptor in `from..to` through the device's IOMMU view
/// ([`RxRing::walk_all`], bounded), adding to `tally`. A walk the walker refuses (indices
/// outside the ring) leaves the device's behaviour unknown: `false`, and the caller marks
/// everything logged.
fn walk_all(
    dev: &Device<MigDevice>,
    ring: &RxRing,
    from: u32,
    to: u32,
    tally: &mut WalkTally,
    sink: &mut dyn DirtySink,
) -> bool {
    let mut mem = IommuMem::new(dev.core().pci());
    ring.walk_all(from, to, &mut mem, sink, tally)
}

/// Marks everything the device may write on its own account (rings, write-back words) and
/// the buffers of descriptors it owns (head..tail), from the current registers.
fn mark_owned(
    dev: &Device<MigDevice>,
    bar: &Bar0<'_>,
    log: &mut Logging,
    sink: &mut dyn DirtySink,
) -> Result {
    let model = &dev.data().model;
    let map = model.regs();
    for q in 0..model.geometry.queues {
        let mut tally = WalkTally::default();
        match rx_ring(bar, model, q)? {
            Rx::Ring(ring, head, tail) => {
                let span = ring.span();
                sink.mark(span.iova, span.len);
                if !walk_all(dev, &ring, head, tail, &mut tally, sink) {
                    log.set.mark_all();
                }
            }
            Rx::Refused => {
                tally.refuse();
                log.set.mark_all();
            }
            Rx::Off => {}
        }
        log.walked(dev, &tally);
        let tdba = dma_address(
            read(bar, &map, QueueReg::Tdbal, q)?,
            read(bar, &map, QueueReg::Tdbah, q)?,
        );
        if let Some(s) = tx_ring_range(tdba, read(bar, &map, QueueReg::Tdlen, q)?) {
            sink.mark(s.iova, s.len);
        }
        let wb = tx_head_wb_range(
            read(bar, &map, QueueReg::Tdwbal, q)?,
            read(bar, &map, QueueReg::Tdwbah, q)?,
        );
        if let Some(s) = wb {
            sink.mark(s.iova, s.len);
        }
    }
    Ok(())
}

/// A sink collecting spans into a vector (for marking again after a report).
struct Collect(KVec<Span>, bool);

impl DirtySink for Collect {
    fn mark(&mut self, iova: u64, len: u64) {
        // On allocation failure remember it: the caller then marks everything instead.
        if self.0.push(Span { iova, len }, GFP_KERNEL).is_err() {
            self.1 = true;
        }
    }
}

/// `log_start`: refuses a second start (`EBUSY`); returns the page size used.
pub(crate) fn start(dev: &Device<MigDevice>, ranges: &[Span], page_size: u64) -> Result<u64> {
    let data = dev.data();
    let _state = data.state.lock();
    let mut log = data.dirty.log.lock();
    if log.is_some() {
        return Err(EBUSY);
    }
    let page = page_size.max(MIN_PAGE_SIZE);
    let cap = STORAGE_EXTENTS.max(min_storage(ranges.len()));
    let storage = KVec::from_elem(Extent::EMPTY, cap, GFP_KERNEL)?;
    let set = DirtySet::new(storage, page, ranges.iter().copied()).map_err(|e| {
        if log_ratelimit() {
            pr_err!("dma logging: ranges refused: {}\n", e);
        }
        Error::from_errno(-e.errno())
    })?;
    let mut session = Logging {
        set,
        tails: [0; MAX_QUEUES],
        walks: WalkTally::default(),
    };
    let bar = dev.core().bar0().ok_or(EIO)?;
    // Buffers posted before logging started are owned by the device right now.
    let mut owned = Collect(KVec::new(), false);
    mark_owned(dev, &bar, &mut session, &mut owned)?;
    for s in owned.0.iter() {
        session.set.mark(s.iova, s.len);
    }
    if owned.1 {
        session.set.mark_all();
    }
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

/// `log_read_and_clear`: everything dirty in `[iova, iova + len)` into `bitmap`, then clean.
pub(crate) fn report(
    dev: &Device<MigDevice>,
    iova: u64,
    len: u64,
    bitmap: &mut IovaBitmap,
) -> Result {
    let data = dev.data();
    let _state = data.state.lock();
    let mut guard = data.dirty.log.lock();
    let log = guard.as_mut().ok_or(EINVAL)?;
    let bar = dev.core().bar0().ok_or(EIO)?;
    let mut owned = Collect(KVec::new(), false);
    mark_owned(dev, &bar, log, &mut owned)?;
    if bar.failed() || owned.1 {
        // Registers unreadable (memory decoding off) or no memory for the list: assume the
        // worst rather than miss a page.
        log.set.mark_all();
    }
    for s in owned.0.iter() {
        log.set.mark(s.iova, s.len);
    }
    let shift = log.set.page_size().trailing_zeros();
    let pages = log
        .set
        .report_and_clear(iova, len, |run, npages| {
            let (start, bytes) = clip(run, npages, shift, iova, len);
            bitmap.set(start, bytes)
        })
        .map_err(|e| Error::from_errno(-e.errno()))?;
    data.stats.inc(Counter::LogReports);
    data.stats.add(Counter::DirtyPagesReported, pages);
    // What the device owns now may be written after this report: keep it dirty.
    for s in owned.0.iter() {
        log.set.mark(s.iova, s.len);
    }
    if bar.failed() || owned.1 {
        log.set.mark_all();
    }
    Ok(())
}

/// The chained write handler saw a write of `len` bytes at BAR0 `offset` from user `buf`,
/// about to be forwarded. While logging, an RX tail write first has its newly posted
/// descriptors walked and their buffers marked.
pub(crate) fn bar0_write(dev: &Device<MigDevice>, offset: u64, buf: UserPtr, len: usize) -> Result {
    let data = dev.data();
    // A write of up to 8 bytes touches at most two registers; look at the first and last byte.
    let last = offset.saturating_add(len.saturating_sub(1) as u64);
    let map = data.model.regs();
    let rdt = |at| match map.locate(at) {
        Some(RegRef::Queue {
            reg: QueueReg::Rdt,
            queue,
        }) => Some(queue),
        _ => None,
    };
    // A write that reprograms an RX ring (its head, base, length, buffer layout or enable)
    // makes the tail seen last meaningless: DPDK, for one, writes RDH = 0 and then RDT =
    // n - 1 without RDT = 0 first. The next RDT write then walks from the device's head.
    let reprogram = |at| match map.locate(at) {
        Some(RegRef::Queue {
            reg:
                QueueReg::Rdh
                | QueueReg::Rdbal
                | QueueReg::Rdbah
                | QueueReg::Rdlen
                | QueueReg::Srrctl
                | QueueReg::Rxdctl,
            queue,
        }) => Some(queue),
        _ => None,
    };
    if let Some(queue) = reprogram(offset).or_else(|| reprogram(last)) {
        if let Some(log) = data.dirty.log.lock().as_mut() {
            if let Some(t) = log.tails.get_mut(usize::from(queue)) {
                *t = TAIL_UNKNOWN;
            }
            // The ring may move: what the device wrote at the old place since the last
            // report must still be reported.
            match dev
                .core()
                .bar0()
                .map(|bar| rx_ring(&bar, &data.model, queue))
            {
                Some(Ok(Rx::Ring(ring, _, _))) => {
                    let span = ring.span();
                    log.set.mark(span.iova, span.len);
                }
                Some(Ok(Rx::Off)) => {}
                _ => log.set.mark_all(),
            }
        }
    }
    let Some(queue) = rdt(offset).or_else(|| rdt(last)) else {
        return Ok(());
    };
    data.stats.inc(Counter::TailWrites);
    let mut guard = data.dirty.log.lock();
    let Some(log) = guard.as_mut() else {
        return Ok(());
    };
    let start = now_ns();
    let res = trap_tail(dev, log, queue, offset, buf, len);
    data.stats.trap(now_ns().saturating_sub(start));
    res
}

/// A write of `len` bytes at BAR0 `offset` touching the RX tail of `queue`, while logging:
/// walks the descriptors it posts and marks their buffers (or everything, when the new tail
/// cannot be known).
fn trap_tail(
    dev: &Device<MigDevice>,
    log: &mut Logging,
    queue: u8,
    offset: u64,
    buf: UserPtr,
    len: usize,
) -> Result {
    let data = dev.data();
    if len != 4 || offset & 3 != 0 {
        // A partial or wider write touching a tail: unusual enough not to decode; the new
        // tail is unknown, so everything logged counts as dirty.
        log.set.mark_all();
        return Ok(());
    }
    let new_tail: u32 = UserSlice::new(buf, 4).reader().read()?;
    let Some(bar) = dev.core().bar0() else {
        log.set.mark_all();
        return Ok(());
    };
    let Some(from) = log.tails.get(usize::from(queue)).copied() else {
        return Ok(());
    };
    match rx_ring(&bar, &data.model, queue) {
        Ok(Rx::Ring(ring, head, tail)) => {
            // The tail the device has differs from the last one trapped, or the ring was
            // reprogrammed since: a reset (FLR or the VF's own CTRL.RST) or a reprogram
            // without a trapped tail write. Everything from the head on is new then.
            let from = if from == TAIL_UNKNOWN || from != tail {
                head
            } else {
                from
            };
            let mut tally = WalkTally::default();
            let outside = log.set.stats().outside;
            if !walk_all(dev, &ring, from, new_tail, &mut tally, &mut log.set) {
                log.set.mark_all();
            }
            // Buffers entirely outside the logged ranges (ignored by the set): garbage
            // addresses as far as this device's migration goes.
            tally.skipped = tally
                .skipped
                .saturating_add(log.set.stats().outside.saturating_sub(outside));
            log.walked(dev, &tally);
        }
        Ok(Rx::Refused) => {
            log.set.mark_all();
            log.walked(
                dev,
                &WalkTally {
                    refused: 1,
                    ..WalkTally::default()
                },
            );
        }
        Ok(Rx::Off) => {}
        Err(_) => log.set.mark_all(),
    }
    if bar.failed() {
        log.set.mark_all();
    }
    if let Some(t) = log.tails.get_mut(usize::from(queue)) {
        *t = new_tail;
    }
    Ok(())
}
