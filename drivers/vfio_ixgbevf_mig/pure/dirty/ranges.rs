// SPDX-License-Identifier: GPL-2.0

//! IOVA ranges for DMA logging: byte spans, the sink the ring walker marks into, and the
//! validated logging ranges of `DMA_LOGGING_START`.
//!
//! The VFIO core already refuses 0 or more than 256 ranges, ranges not aligned to the
//! requested page size, overflowing and overlapping ones; `load` checks all of it again
//! (the driver must not rely on its caller for memory safety of its own tables) and also the
//! page size, which the core passes through unchecked: a power of two in
//! `MIN_PAGE_SIZE..=MAX_PAGE_SIZE`. Errors map to errnos in [`crate::pure::errno`].
//!
//! C counterpart: `vfio_ioctl_device_feature_logging_start()` and
//! `vfio_ioctl_device_feature_logging_report()` in `drivers/vfio/vfio_main.c`, the range
//! checks of `pds_vfio_dirty_sync()` in `drivers/vfio/pci/pds/dirty.c`.

use core::fmt;

/// Most ranges a `DMA_LOGGING_START` may carry (`LOG_MAX_RANGES` in `vfio_main.c`).
pub const MAX_RANGES: usize = 256;

/// Smallest tracking page size accepted (the x86 page).
pub const MIN_PAGE_SIZE: u64 = 4096;

/// Largest tracking page size accepted.
pub const MAX_PAGE_SIZE: u64 = 1 << 30;

/// A byte range of IO virtual addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub iova: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Span {
    /// One past the last byte, or `None` if that does not fit in 64 bits.
    pub const fn end(self) -> Option<u64> {
        self.iova.checked_add(self.len)
    }
}

/// Receives byte ranges that the device may have written.
pub trait DirtySink {
    /// Records that the device may write `[iova, iova + len)`. A range that runs past the
    /// end of the address space means "up to the end".
    fn mark(&mut self, iova: u64, len: u64);

    /// The RX walker is about to mark the buffers of ring slot `slot` (a descriptor it read);
    /// the marks until the next call are that descriptor's. Sinks that only collect pages
    /// ignore it; [`super::slots::Recorder`] keeps the buffers per slot.
    fn descriptor(&mut self, _slot: u32) {}

    /// Whether a mark of `[iova, iova + len)` would be ignored (nothing of it is logged):
    /// [`super::slots::Recorder`] then passes it on (to be counted) instead of keeping it.
    fn ignores(&self, _iova: u64, _len: u64) -> bool {
        false
    }
}

impl<F: FnMut(u64, u64)> DirtySink for F {
    fn mark(&mut self, iova: u64, len: u64) {
        self(iova, len)
    }
}

/// A storage slot of a [`super::set::DirtySet`]: a run of pages `[start, end)` in page
/// numbers (IOVA divided by the page size). Callers only create [`Extent::EMPTY`] slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub(super) start: u64,
    pub(super) end: u64,
}

impl Extent {
    /// An unused slot.
    pub const EMPTY: Extent = Extent { start: 0, end: 0 };
}

/// Why logging ranges, storage or a report window are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirtyError {
    /// No range at all.
    NoRanges,
    /// More than [`MAX_RANGES`] ranges.
    TooManyRanges,
    /// The page size is not a power of two in `MIN_PAGE_SIZE..=MAX_PAGE_SIZE`.
    BadPageSize(u64),
    /// A range or window of length 0.
    ZeroLength,
    /// A range or window not aligned to the page size.
    Unaligned,
    /// A range or window that runs past the end of the 64-bit address space.
    Overflow,
    /// Two ranges overlap.
    Overlap,
    /// The storage slice is too short (see [`super::set::min_storage`]).
    StorageTooSmall,
    /// A report window that does not lie inside one logged range.
    NotInRange,
}

impl fmt::Display for DirtyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirtyError::NoRanges => write!(f, "no logging range"),
            DirtyError::TooManyRanges => write!(f, "more than {MAX_RANGES} logging ranges"),
            DirtyError::BadPageSize(size) => write!(f, "unsupported page size {size:#x}"),
            DirtyError::ZeroLength => write!(f, "zero-length range"),
            DirtyError::Unaligned => write!(f, "range not aligned to the page size"),
            DirtyError::Overflow => write!(f, "range past the end of the address space"),
            DirtyError::Overlap => write!(f, "overlapping logging ranges"),
            DirtyError::StorageTooSmall => write!(f, "dirty set storage too small"),
            DirtyError::NotInRange => write!(f, "report window outside the logged ranges"),
        }
    }
}

/// The tracking page size for the one `DMA_LOGGING_START` asks for. The uAPI lets the
/// driver pick ("if the device cannot do the hinted page size then it's the driver choice"),
/// so powers of two outside `MIN_PAGE_SIZE..=MAX_PAGE_SIZE` are clamped into it; 0 and
/// other values are refused (`None`).
pub fn tracking_page_size(requested: u64) -> Option<u64> {
    requested
        .is_power_of_two()
        .then(|| requested.clamp(MIN_PAGE_SIZE, MAX_PAGE_SIZE))
}

/// Rounds every range of `spans` outward to `page_size` (a power of two), sorts them and
/// merges those that then overlap or touch, in place. Returns how many ranges remain (at the
/// front of `spans`). The core validated the ranges against the page size the user asked
/// for; a coarser tracking page makes them unaligned, and rounding outward only adds pages
/// the device does not write (false positives), never drops one.
pub fn round_out(spans: &mut [Span], page_size: u64) -> Result<usize, DirtyError> {
    let mask = page_size.wrapping_sub(1);
    for s in spans.iter_mut() {
        let end = s.end().ok_or(DirtyError::Overflow)?;
        let start = s.iova & !mask;
        // A range reaching the last page ends at 2^64, which `Span` cannot hold.
        let end = end.checked_add(mask).ok_or(DirtyError::Overflow)? & !mask;
        *s = Span {
            iova: start,
            len: end - start,
        };
    }
    spans.sort_unstable_by_key(|s| s.iova);
    let mut n: usize = 0;
    for i in 0..spans.len() {
        let Some(&cur) = spans.get(i) else { break };
        if let Some(prev) = n.checked_sub(1).and_then(|k| spans.get_mut(k)) {
            let prev_end = prev.iova + prev.len; // checked above
            if cur.iova <= prev_end {
                prev.len = prev_end.max(cur.iova + cur.len) - prev.iova;
                continue;
            }
        }
        if let Some(slot) = spans.get_mut(n) {
            *slot = cur;
        }
        n += 1;
    }
    Ok(n)
}

/// Validates `page_size` and `ranges` (any order) and stores the ranges, sorted, as page
/// extents at the front of `table`. Returns the number of ranges and log2 of the page size.
pub(super) fn load<I>(
    table: &mut [Extent],
    page_size: u64,
    ranges: I,
) -> Result<(usize, u32), DirtyError>
where
    I: IntoIterator<Item = Span>,
{
    if !page_size.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(DirtyError::BadPageSize(page_size));
    }
    let shift = page_size.trailing_zeros();
    let mut count = 0;
    for r in ranges {
        if count == MAX_RANGES {
            return Err(DirtyError::TooManyRanges);
        }
        if r.len == 0 {
            return Err(DirtyError::ZeroLength);
        }
        if (r.iova | r.len) & (page_size - 1) != 0 {
            return Err(DirtyError::Unaligned);
        }
        let end = r.end().ok_or(DirtyError::Overflow)?;
        let slot = table.get_mut(count).ok_or(DirtyError::StorageTooSmall)?;
        *slot = Extent {
            start: r.iova >> shift,
            end: end >> shift,
        };
        count += 1;
    }
    if count == 0 {
        return Err(DirtyError::NoRanges);
    }
    let loaded = table.get_mut(..count).ok_or(DirtyError::StorageTooSmall)?;
    loaded.sort_unstable_by_key(|e| e.start);
    if loaded
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.end > b.start))
    {
        return Err(DirtyError::Overlap);
    }
    Ok((count, shift))
}

/// Index of the range (in sorted, disjoint `ranges`) holding `page`.
pub(super) fn index_of(ranges: &[Extent], page: u64) -> Option<usize> {
    let i = ranges.partition_point(|r| r.end <= page);
    match ranges.get(i) {
        Some(r) if r.start <= page => Some(i),
        _ => None,
    }
}

/// Validated logging ranges, sorted by IOVA, with their page size.
///
/// # Invariants
///
/// The ranges are non-empty, sorted and disjoint page extents (as `load` leaves them);
/// `shift` is in `12..=30`.
#[derive(Clone, Copy, Debug)]
pub struct LogRanges<'a> {
    ranges: &'a [Extent],
    shift: u32,
}

impl<'a> LogRanges<'a> {
    /// Wraps ranges that [`load`] validated with page shift `shift`.
    pub(super) fn new(ranges: &'a [Extent], shift: u32) -> Self {
        // INVARIANT: the caller passes what `load` returned.
        LogRanges { ranges, shift }
    }

    /// The ranges as page extents.
    pub(super) fn extents(&self) -> &'a [Extent] {
        self.ranges
    }

    /// Number of ranges.
    #[cfg(any(test, feature = "testing"))]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are no ranges (never, for a started set).
    #[cfg(any(test, feature = "testing"))]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Tracking page size in bytes.
    pub fn page_size(&self) -> u64 {
        1 << self.shift
    }

    /// log2 of the page size.
    #[cfg(any(test, feature = "testing"))]
    pub fn page_shift(&self) -> u32 {
        self.shift
    }

    /// Range `index` as bytes.
    #[cfg(any(test, feature = "testing"))]
    pub fn get(&self, index: usize) -> Option<Span> {
        let shift = self.shift;
        self.ranges.get(index).map(|e| to_span(*e, shift))
    }

    /// All ranges, ascending.
    #[cfg(any(test, feature = "testing"))]
    pub fn iter(&self) -> impl Iterator<Item = Span> + 'a {
        let shift = self.shift;
        self.ranges.iter().map(move |e| to_span(*e, shift))
    }

    /// `(range index, page index inside the range)` of the page holding `iova`.
    #[cfg(any(test, feature = "testing"))]
    pub fn locate(&self, iova: u64) -> Option<(usize, u64)> {
        let page = iova >> self.shift;
        let i = index_of(self.ranges, page)?;
        let start = self.ranges.get(i)?.start;
        Some((i, page - start))
    }

    /// The index of the range holding all of `[iova, iova + len)`, which must be non-empty
    /// and page aligned.
    pub fn containing(&self, iova: u64, len: u64) -> Result<usize, DirtyError> {
        if len == 0 {
            return Err(DirtyError::ZeroLength);
        }
        if (iova | len) & (self.page_size() - 1) != 0 {
            return Err(DirtyError::Unaligned);
        }
        let end = iova.checked_add(len).ok_or(DirtyError::Overflow)?;
        let i = index_of(self.ranges, iova >> self.shift).ok_or(DirtyError::NotInRange)?;
        match self.ranges.get(i) {
            Some(r) if end >> self.shift <= r.end => Ok(i),
            _ => Err(DirtyError::NotInRange),
        }
    }
}

#[cfg(any(test, feature = "testing"))]
fn to_span(e: Extent, shift: u32) -> Span {
    // No bits are lost: both ends came from IOVAs that fit in 64 bits.
    Span {
        iova: e.start << shift,
        len: e.end.saturating_sub(e.start) << shift,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::errno::Errno;

    const GIB: u64 = 1 << 30;

    fn spans(r: &[(u64, u64)]) -> Vec<Span> {
        r.iter().map(|&(iova, len)| Span { iova, len }).collect()
    }

    fn check(page: u64, r: &[(u64, u64)]) -> Result<(), DirtyError> {
        load(&mut [Extent::EMPTY; 300], page, spans(r)).map(|_| ())
    }

    #[test]
    fn validation_errors_and_errnos() {
        assert_eq!(check(4096, &[]), Err(DirtyError::NoRanges));
        assert_eq!(
            check(4095, &[(0, 4096)]),
            Err(DirtyError::BadPageSize(4095))
        );
        assert_eq!(
            check(2048, &[(0, 4096)]),
            Err(DirtyError::BadPageSize(2048))
        );
        assert_eq!(check(0, &[(0, 4096)]), Err(DirtyError::BadPageSize(0)));
        assert_eq!(
            check(2 * GIB, &[(0, 2 * GIB)]),
            Err(DirtyError::BadPageSize(2 * GIB))
        );
        assert_eq!(check(4096, &[(0, 0)]), Err(DirtyError::ZeroLength));
        assert_eq!(check(4096, &[(0x800, 4096)]), Err(DirtyError::Unaligned));
        assert_eq!(check(65536, &[(0, 4096)]), Err(DirtyError::Unaligned));
        assert_eq!(
            check(4096, &[(0xFFFF_FFFF_FFFF_F000, 0x1000)]),
            Err(DirtyError::Overflow)
        );
        assert_eq!(
            check(4096, &[(0x3000, 0x2000), (0, 0x4000)]),
            Err(DirtyError::Overlap)
        );
        assert_eq!(check(4096, &[(0x3000, 0x2000), (0, 0x3000)]), Ok(()));
        assert_eq!(check(GIB, &[(GIB, GIB), (0, GIB)]), Ok(()));
        let many: Vec<(u64, u64)> = (0..257).map(|i| (i * 0x2000, 0x1000)).collect();
        assert_eq!(check(4096, &many), Err(DirtyError::TooManyRanges));
        assert_eq!(check(4096, &many[..256]), Ok(()));
        let short = load(&mut [Extent::EMPTY; 2], 4096, spans(&many[..3]));
        assert_eq!(short, Err(DirtyError::StorageTooSmall));
        assert_eq!(DirtyError::TooManyRanges.errno(), 7);
        assert_eq!(DirtyError::Overlap.errno(), 22);
        assert_eq!(DirtyError::StorageTooSmall.errno(), 12);
        let msg = DirtyError::NotInRange.to_string();
        assert_eq!(msg, "report window outside the logged ranges");
    }

    #[test]
    fn ranges_are_sorted_and_located() {
        let mut table = [Extent::EMPTY; 8];
        let r = [(0x10_0000, 0x10_0000), (0, 0x1000), (4 * GIB, GIB)];
        let (n, shift) = load(&mut table, 4096, spans(&r)).unwrap();
        let r = LogRanges::new(&table[..n], shift);
        assert_eq!(
            (r.len(), r.is_empty(), r.page_size(), r.page_shift()),
            (3, false, 4096, 12)
        );
        assert_eq!(
            r.iter().next(),
            Some(Span {
                iova: 0,
                len: 0x1000
            })
        );
        assert_eq!(
            r.get(1),
            Some(Span {
                iova: 0x10_0000,
                len: 0x10_0000
            })
        );
        assert_eq!(r.get(3), None);
        assert_eq!(r.extents().len(), 3);
        assert_eq!(r.locate(0xFFF), Some((0, 0)));
        assert_eq!(r.locate(0x1000), None);
        assert_eq!(r.locate(0x10_3456), Some((1, 3)));
        assert_eq!(r.locate(4 * GIB + GIB - 1), Some((2, (GIB >> 12) - 1)));
        assert_eq!(r.locate(5 * GIB), None);
        assert_eq!(r.containing(0x10_0000, 0x10_0000), Ok(1));
        assert_eq!(
            r.containing(0x10_0000, 0x10_1000),
            Err(DirtyError::NotInRange)
        );
        assert_eq!(r.containing(0, 0x2000), Err(DirtyError::NotInRange));
        assert_eq!(r.containing(0x1000, 0x1000), Err(DirtyError::NotInRange));
        assert_eq!(r.containing(0x800, 0x1000), Err(DirtyError::Unaligned));
        assert_eq!(r.containing(0, 0), Err(DirtyError::ZeroLength));
        let top = !0xFFF_u64;
        assert_eq!(r.containing(top, 0x1000), Err(DirtyError::Overflow));
        assert_eq!(
            Span {
                iova: top,
                len: 0x1000
            }
            .end(),
            None
        );
    }

    #[test]
    fn large_pages_locate() {
        for page in [4096u64, 65536, 2 << 20, GIB] {
            let mut table = [Extent::EMPTY; 4];
            let (n, shift) = load(&mut table, page, spans(&[(8 * page, 4 * page)])).unwrap();
            let r = LogRanges::new(&table[..n], shift);
            assert_eq!(r.locate(10 * page + page / 2), Some((0, 2)));
            assert_eq!(r.locate(12 * page), None);
            assert_eq!(r.containing(9 * page, 3 * page), Ok(0));
            assert_eq!(
                r.containing(9 * page, 4 * page),
                Err(DirtyError::NotInRange)
            );
        }
    }

    #[test]
    fn closures_are_sinks() {
        fn feed(sink: &mut impl DirtySink) {
            sink.mark(0x2000, 0x10);
        }
        let mut seen = Vec::new();
        feed(&mut |a, l| seen.push((a, l)));
        assert_eq!(seen, [(0x2000, 0x10)]);
    }

    #[test]
    fn page_size_is_clamped_not_refused() {
        assert_eq!(tracking_page_size(512), Some(MIN_PAGE_SIZE));
        assert_eq!(tracking_page_size(4096), Some(4096));
        assert_eq!(tracking_page_size(1 << 21), Some(1 << 21));
        assert_eq!(tracking_page_size(1 << 40), Some(MAX_PAGE_SIZE));
        assert_eq!(tracking_page_size(0), None);
        assert_eq!(tracking_page_size(3000), None);
    }

    #[test]
    fn ranges_round_outward_and_merge() {
        let sp = |iova, len| Span { iova, len };
        // Validated at 512 bytes, tracked at 4 KiB: [0x200, 0x400) and [0x600, 0x1200) share
        // page 0; [0x3000, 0x3200) stays alone.
        let mut v = [sp(0x3000, 0x200), sp(0x600, 0xc00), sp(0x200, 0x200)];
        let n = round_out(&mut v, 4096).unwrap();
        assert_eq!(&v[..n], &[sp(0, 0x2000), sp(0x3000, 0x1000)]);
        assert!(check(4096, &[(0, 0x2000), (0x3000, 0x1000)]).is_ok());
        // Touching after rounding merges too.
        let mut v = [sp(0x1000, 0x10), sp(0x1ff0, 0x10)];
        assert_eq!(round_out(&mut v, 4096), Ok(1));
        assert_eq!(v[0], sp(0x1000, 0x1000));
        // The last page of the address space cannot be rounded up to 2^64.
        let mut v = [sp(u64::MAX - 0x1ff, 0x100)];
        assert_eq!(round_out(&mut v, 4096), Err(DirtyError::Overflow));
        let mut v: [Span; 0] = [];
        assert_eq!(round_out(&mut v, 4096), Ok(0));
    }
}
