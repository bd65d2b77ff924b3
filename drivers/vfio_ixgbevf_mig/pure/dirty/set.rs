// SPDX-License-Identifier: GPL-2.0

//! Software DMA dirty tracking: the logged IOVA ranges and a sparse set of dirty pages.
//!
//! `DMA_LOGGING_START` hands the driver up to 256 IOVA ranges and a page size, which
//! [`DirtySet::new`] validates ([`super::ranges`]; errors map to errnos with
//! [`crate::pure::errno`]). While logging, the RX tail trap and the report path
//! [`DirtySet::mark`] byte ranges the device may write; `DMA_LOGGING_REPORT` calls [`DirtySet::report_and_clear`] once per
//! `iova_bitmap` window, which hands every dirty run inside the window to a sink (the shell
//! feeds `iova_bitmap_set`) and forgets exactly what it handed out.
//!
//! The set holds dirty *extents* (runs of pages), never a bitmap over the logged ranges: a
//! report costs O(log n + runs in the window + n) whatever the size of the ranges, a mark of
//! a page already dirty costs a binary search. New extents collect in a small pending log
//! that is sorted and merged into the sorted extent list when it fills up or before a
//! report. Storage is the caller's slice ([`DirtySet::new`] takes anything that derefs to
//! `[Extent]`: a `KVec` in the kernel, a `Vec` or an array on the host), so nothing here
//! allocates. When the extents do not fit, the set *coarsens*: it merges neighbouring extents
//! of the same range across ever larger gaps, in the limit one extent per range. That only
//! ever adds clean pages to the set (false positives), never drops a dirty one.
//!
//! C counterpart: `drivers/vfio/pci/pds/dirty.c` (`pds_vfio_dirty_enable`,
//! `pds_vfio_dirty_sync`), which reads and clears a device-side bitmap instead.

use core::ops::DerefMut;

use crate::pure::dirty::ranges::{index_of, load, DirtyError, DirtySink, Extent, LogRanges, Span};

/// Most entries of the pending log; larger storage only grows the sorted list.
const MAX_PENDING: usize = 4096;

/// Storage slots [`DirtySet::new`] needs at least for `nranges` ranges (the ranges
/// themselves, the pending log and a sorted list that can always take a coarsened set).
/// More storage means coarsening later; each slot is 16 bytes.
pub const fn min_storage(nranges: usize) -> usize {
    3 * nranges + 64
}

/// Counters for the shell's statistics and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirtyStats {
    /// Calls of [`DirtySet::mark`].
    pub marks: u64,
    /// Marks entirely outside the logged ranges (ignored).
    pub outside: u64,
    /// Marks partly outside the logged ranges (clipped).
    pub clipped: u64,
    /// Merges of the pending log into the sorted list.
    pub flushes: u64,
    /// Times the set ran out of storage and coarsened (over-approximated).
    pub coarsenings: u64,
    /// Pages handed to report sinks.
    pub reported_pages: u64,
}

/// A sparse set of dirty pages over validated logging ranges, in caller-provided storage.
///
/// # Invariants
///
/// `storage` is split into `[ranges | sorted | pending]` with `nranges + cap + pcap <=
/// storage.len()`. The ranges are sorted, disjoint and non-empty. The first `n <= cap`
/// sorted slots are non-empty, ascending, disjoint extents inside the ranges; the first
/// `np <= pcap` pending slots are non-empty extents inside the ranges. `cap >= nranges +
/// pcap + 2` and `pcap >= 4`, so a coarsened list (at most one extent per range) plus a full
/// pending log plus one split always fit.
pub struct DirtySet<S> {
    storage: S,
    nranges: usize,
    shift: u32,
    cap: usize,
    n: usize,
    pcap: usize,
    np: usize,
    stats: DirtyStats,
}

impl<S: DerefMut<Target = [Extent]>> DirtySet<S> {
    /// Validates `ranges` (any order) and `page_size` and builds an empty set in `storage`.
    ///
    /// Rejects what [`super::ranges`] rejects, and storage shorter than [`min_storage`] of
    /// the range count.
    pub fn new<I>(mut storage: S, page_size: u64, ranges: I) -> Result<Self, DirtyError>
    where
        I: IntoIterator<Item = Span>,
    {
        let (nranges, shift) = load(&mut storage, page_size, ranges)?;
        let free = storage.len().saturating_sub(nranges);
        let pcap = (free / 8).clamp(4, MAX_PENDING);
        let cap = free.saturating_sub(pcap);
        if storage.len() < min_storage(nranges) || cap < nranges + pcap + 2 {
            return Err(DirtyError::StorageTooSmall);
        }
        // INVARIANT: ranges validated and sorted above; `nranges + cap + pcap == len`;
        // `cap >= nranges + pcap + 2`, `pcap >= 4`; both lists empty.
        Ok(DirtySet {
            storage,
            nranges,
            shift,
            cap,
            n: 0,
            pcap,
            np: 0,
            stats: DirtyStats::default(),
        })
    }

    /// The logging ranges.
    pub fn ranges(&self) -> LogRanges<'_> {
        // INVARIANT: the first `nranges` slots hold what `load` validated.
        LogRanges::new(self.storage.get(..self.nranges).unwrap_or(&[]), self.shift)
    }

    /// Tracking page size in bytes.
    pub fn page_size(&self) -> u64 {
        1 << self.shift
    }

    /// Counters.
    pub fn stats(&self) -> DirtyStats {
        self.stats
    }

    /// The storage, split into ranges, sorted list (full capacity) and pending log (full
    /// capacity).
    fn parts(&mut self) -> (&mut [Extent], &mut [Extent], &mut [Extent]) {
        let all: &mut [Extent] = &mut self.storage;
        let (ranges, rest) = all.split_at_mut(self.nranges.min(all.len()));
        let (sorted, rest) = rest.split_at_mut(self.cap.min(rest.len()));
        let pending = rest.get_mut(..self.pcap).unwrap_or(&mut []);
        (ranges, sorted, pending)
    }

    /// Records that the device may write `[iova, iova + len)`: every page of it inside the
    /// logged ranges becomes dirty; the rest is ignored (and counted).
    pub fn mark(&mut self, iova: u64, len: u64) {
        self.stats.marks = self.stats.marks.saturating_add(1);
        if len == 0 {
            return;
        }
        let first = iova >> self.shift;
        // Inclusive last byte, clipped to the address space; shift >= 12, so `+ 1` fits.
        let end = (iova.saturating_add(len - 1) >> self.shift) + 1;
        let mut i = self.ranges().extents().partition_point(|r| r.end <= first);
        let mut covered = 0;
        while let Some(&r) = self.storage.get(..self.nranges).and_then(|t| t.get(i)) {
            if r.start >= end {
                break;
            }
            let x = Extent {
                start: r.start.max(first),
                end: r.end.min(end),
            };
            covered += x.end - x.start;
            self.insert(x);
            i += 1;
        }
        if covered == 0 {
            self.stats.outside = self.stats.outside.saturating_add(1);
        } else if covered < end - first {
            self.stats.clipped = self.stats.clipped.saturating_add(1);
        }
    }

    /// Whether no page of `[iova, iova + len)` is logged (a mark of it would be ignored).
    pub fn outside(&self, iova: u64, len: u64) -> bool {
        if len == 0 {
            return true;
        }
        let first = iova >> self.shift;
        let end = (iova.saturating_add(len - 1) >> self.shift) + 1;
        let ranges = self.ranges();
        let i = ranges.extents().partition_point(|r| r.end <= first);
        !matches!(ranges.extents().get(i), Some(r) if r.start < end)
    }

    /// Adds a non-empty extent inside the ranges.
    fn insert(&mut self, x: Extent) {
        let (n, np) = (self.n, self.np);
        let (_, sorted, pending) = self.parts();
        if let Some(p) = np.checked_sub(1).and_then(|i| pending.get_mut(i)) {
            if x.start <= p.end && p.start <= x.end {
                // Overlaps or touches the newest pending extent (consecutive RX buffers).
                p.start = p.start.min(x.start);
                p.end = p.end.max(x.end);
                return;
            }
        }
        let sorted = sorted.get(..n).unwrap_or(&[]);
        let i = sorted.partition_point(|e| e.start <= x.start);
        if matches!(i.checked_sub(1).and_then(|i| sorted.get(i)), Some(e) if e.end >= x.end) {
            // Already dirty: the steady state of recycled RX buffers.
            return;
        }
        if self.np >= self.pcap {
            self.flush();
        }
        let np = self.np;
        let (_, _, pending) = self.parts();
        if let Some(slot) = pending.get_mut(np) {
            *slot = x;
            self.np += 1;
        } else {
            // Unreachable by the invariants (`flush` empties the log); stay safe.
            self.mark_all();
        }
    }

    /// Merges the pending log into the sorted list, coarsening the list first if the result
    /// might not fit.
    fn flush(&mut self) {
        if self.np == 0 {
            return;
        }
        self.stats.flushes = self.stats.flushes.saturating_add(1);
        let np = self.np;
        let (_, _, pending) = self.parts();
        let added = coalesce(pending.get_mut(..np).unwrap_or(&mut []));
        let room = self.cap.saturating_sub(added);
        if self.n > room {
            self.coarsen((self.cap / 2).max(self.nranges).min(room));
        }
        let n = self.n;
        let (_, sorted, pending) = self.parts();
        let added = pending.get(..added).unwrap_or(&[]);
        match merge_back(sorted, n, added) {
            Some(merged) => {
                self.n = merged;
                self.np = 0;
            }
            // Unreachable by the invariants (coarsening leaves room); never lose a mark.
            None => self.mark_all(),
        }
    }

    /// Merges neighbouring extents of the same range across growing gaps until at most
    /// `target` remain (at least one extent per range can always be reached).
    fn coarsen(&mut self, target: usize) {
        self.stats.coarsenings = self.stats.coarsenings.saturating_add(1);
        let mut gap: u64 = 1;
        while self.n > target {
            let n = self.n;
            let (ranges, sorted, _) = self.parts();
            let list = sorted.get_mut(..n).unwrap_or(&mut []);
            let mut kept: usize = 0;
            for read in 0..list.len() {
                let Some(&e) = list.get(read) else { break };
                if let Some(prev) = kept.checked_sub(1).and_then(|k| list.get_mut(k)) {
                    let same_range = index_of(ranges, prev.end - 1) == index_of(ranges, e.start);
                    if same_range && e.start.saturating_sub(prev.end) <= gap {
                        prev.end = prev.end.max(e.end);
                        continue;
                    }
                }
                // `kept <= read < len`: the slot exists.
                if let Some(slot) = list.get_mut(kept) {
                    *slot = e;
                }
                kept += 1;
            }
            self.n = kept;
            if gap == u64::MAX {
                break;
            }
            gap = gap.saturating_mul(2);
        }
    }

    /// Marks every page of every range dirty: the safe answer when the shell cannot tell
    /// what the device may write (refused ring registers, truncated walk).
    pub fn mark_all(&mut self) {
        let (ranges, sorted, _) = self.parts();
        let mut n: usize = 0;
        for &r in ranges.iter() {
            if let Some(prev) = n.checked_sub(1).and_then(|k| sorted.get_mut(k)) {
                if prev.end == r.start {
                    prev.end = r.end;
                    continue;
                }
            }
            // `cap >= nranges`: the slot exists.
            if let Some(slot) = sorted.get_mut(n) {
                *slot = r;
                n += 1;
            }
        }
        self.n = n;
        self.np = 0;
    }

    /// Number of dirty pages (merges the pending log first).
    #[cfg(any(test, feature = "testing"))]
    pub fn dirty_pages(&mut self) -> u64 {
        self.flush();
        let n = self.n;
        let (_, sorted, _) = self.parts();
        sorted
            .get(..n)
            .unwrap_or(&[])
            .iter()
            .fold(0u64, |acc, e| acc.saturating_add(e.end - e.start))
    }

    /// Hands every dirty run to `sink(iova, bytes)` in ascending order, leaving the set as it
    /// is (the report path copies the buffers the device still owns back in after a clear).
    pub fn for_each_run<K: DirtySink + ?Sized>(&mut self, sink: &mut K) {
        self.flush();
        let (n, shift) = (self.n, self.shift);
        let (_, sorted, _) = self.parts();
        for e in sorted.get(..n).unwrap_or(&[]) {
            // Extents lie inside validated ranges: `end << shift` does not overflow.
            sink.mark(e.start << shift, (e.end - e.start) << shift);
        }
    }

    /// Empties the set (the ranges stay).
    pub fn clear(&mut self) {
        self.n = 0;
        self.np = 0;
    }

    /// Hands every dirty run of pages overlapping `[iova, iova + length)` to
    /// `sink(run_iova, npages)` in ascending order (runs are whole pages; see [`clip`] for
    /// the bytes of a run inside the window), then makes exactly those pages clean. Returns
    /// the number of pages reported.
    ///
    /// The window need not be page aligned: QEMU asks for the exact size of each memory
    /// section, and a device's MSI-X BAR area can end mid-page (0x3fd0 bytes seen). The pages
    /// it touches must be inside one logged range and the window non-empty; otherwise nothing
    /// changes and the error maps to `EINVAL`.
    pub fn report_and_clear<F>(
        &mut self,
        iova: u64,
        length: u64,
        mut sink: F,
    ) -> Result<u64, DirtyError>
    where
        F: FnMut(u64, u64),
    {
        if length == 0 {
            // Rounding out below would turn an empty unaligned window into a page.
            return Err(DirtyError::ZeroLength);
        }
        let mask = self.page_size() - 1;
        let end = iova.checked_add(length).ok_or(DirtyError::Overflow)?;
        let iova = iova & !mask;
        let length = end
            .checked_add(mask)
            .ok_or(DirtyError::Overflow)?
            .checked_sub(iova)
            .ok_or(DirtyError::Overflow)?
            & !mask;
        self.ranges().containing(iova, length)?;
        self.flush();
        if self.n >= self.cap {
            // Keep one slot for splitting an extent around the window.
            self.coarsen((self.cap / 2).max(self.nranges));
        }
        let shift = self.shift;
        let qs = iova >> shift;
        // `containing` checked that `iova + length` does not overflow.
        let qe = iova.saturating_add(length) >> shift;
        let n = self.n;
        let (_, sorted, _) = self.parts();
        let list = sorted.get(..n).unwrap_or(&[]);
        let first = list.partition_point(|e| e.end <= qs);
        let mut last = first;
        let mut pages: u64 = 0;
        while let Some(e) = list.get(last) {
            if e.start >= qe {
                break;
            }
            let (s, t) = (e.start.max(qs), e.end.min(qe));
            sink(s << shift, t - s);
            pages = pages.saturating_add(t - s);
            last += 1;
        }
        let (Some(&head), Some(&tail)) = (
            list.get(first),
            last.checked_sub(1).and_then(|l| list.get(l)),
        ) else {
            return Ok(0);
        };
        // What survives of the reported extents: the parts outside the window.
        let mut keep = [Extent::EMPTY; 2];
        let mut nk = 0;
        for (cond, e) in [
            (
                head.start < qs,
                Extent {
                    start: head.start,
                    end: qs,
                },
            ),
            (
                tail.end > qe,
                Extent {
                    start: qe,
                    end: tail.end,
                },
            ),
        ] {
            if let (true, Some(slot)) = (cond, keep.get_mut(nk)) {
                *slot = e;
                nk += 1;
            }
        }
        self.n = splice(sorted, n, first..last, keep.get(..nk).unwrap_or(&[]));
        self.stats.reported_pages = self.stats.reported_pages.saturating_add(pages);
        Ok(pages)
    }
}

/// The bytes of a reported run (`run_iova`, `npages` pages of `1 << shift` bytes) inside the
/// report window `[iova, iova + length)`, as `(start, len)`: what the caller's bitmap gets,
/// so that an unaligned window never sets bits outside itself.
pub fn clip(run_iova: u64, npages: u64, shift: u32, iova: u64, length: u64) -> (u64, u64) {
    let run_end = run_iova.saturating_add(npages.checked_shl(shift).unwrap_or(u64::MAX));
    let start = run_iova.max(iova);
    let end = run_end.min(iova.saturating_add(length));
    (start, end.saturating_sub(start))
}

impl<S: DerefMut<Target = [Extent]>> DirtySink for DirtySet<S> {
    fn mark(&mut self, iova: u64, len: u64) {
        DirtySet::mark(self, iova, len);
    }

    fn ignores(&self, iova: u64, len: u64) -> bool {
        self.outside(iova, len)
    }
}

/// Sorts `list` and merges overlapping or touching extents in place; returns the new length.
fn coalesce(list: &mut [Extent]) -> usize {
    list.sort_unstable_by_key(|e| e.start);
    let mut kept: usize = 0;
    for read in 0..list.len() {
        let Some(&e) = list.get(read) else { break };
        if let Some(prev) = kept.checked_sub(1).and_then(|k| list.get_mut(k)) {
            if e.start <= prev.end {
                prev.end = prev.end.max(e.end);
                continue;
            }
        }
        if let Some(slot) = list.get_mut(kept) {
            *slot = e;
        }
        kept += 1;
    }
    kept
}

/// Merges the sorted, disjoint `add` into the first `n` entries of `list` (sorted,
/// disjoint), coalescing overlapping and touching extents; returns the new length, or `None`
/// (changing nothing) if `n + add.len()` exceeds the capacity.
///
/// Works from the top down, so `list` needs no scratch space: after `c` items are consumed
/// at most `c` outputs have been written, so the next output slot `w - 1 >= i + j` lies above
/// every unread entry `list[..i]`.
fn merge_back(list: &mut [Extent], n: usize, add: &[Extent]) -> Option<usize> {
    let top = n.checked_add(add.len()).filter(|&t| t <= list.len())?;
    let (mut i, mut j, mut w) = (n, add.len(), top);
    loop {
        let a = i.checked_sub(1).and_then(|k| list.get(k)).copied();
        let b = j.checked_sub(1).and_then(|k| add.get(k)).copied();
        let item = match (a, b) {
            (Some(a), Some(b)) if a.end >= b.end => {
                i -= 1;
                a
            }
            (_, Some(b)) => {
                j -= 1;
                b
            }
            (Some(a), None) => {
                i -= 1;
                a
            }
            (None, None) => break,
        };
        // Items arrive by descending end (for disjoint lists the same order as by start),
        // so `item.end` is at most the end of the lowest output so far, at `w`: the item can
        // only touch that one.
        if let Some(out) = list.get_mut(w).filter(|_| w < top) {
            if item.end >= out.start {
                out.start = out.start.min(item.start);
                continue;
            }
        }
        w -= 1;
        if let Some(slot) = list.get_mut(w) {
            *slot = item;
        }
    }
    list.copy_within(w..top, 0);
    Some(top - w)
}

/// Replaces `list[cut]` (within the first `n` entries) with `with` (at most one entry more
/// than `cut` when `n < list.len()`); returns the new length.
fn splice(list: &mut [Extent], n: usize, cut: core::ops::Range<usize>, with: &[Extent]) -> usize {
    if cut.end > n || cut.start > cut.end {
        // Unreachable: callers pass a cut inside the list.
        return n;
    }
    let new_n = (n - cut.len()).saturating_add(with.len());
    let tail_to = cut.start + with.len();
    if new_n > list.len() {
        // Unreachable: callers keep a free slot for a split.
        return n;
    }
    list.copy_within(cut.end..n, tail_to);
    for (k, e) in with.iter().enumerate() {
        if let Some(slot) = list.get_mut(cut.start + k) {
            *slot = *e;
        }
    }
    new_n
}

#[cfg(test)]
mod tests;
