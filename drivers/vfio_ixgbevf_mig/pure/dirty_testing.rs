// SPDX-License-Identifier: GPL-2.0

//! Host-only helpers for the dirty tracking tests and fuzz targets (`hostcore/fuzz`).
//!
//! Built only for `cargo test` and for the host crate's `testing` feature; never in the
//! kernel. [`FakeMem`] is sparse guest memory for the ring walker; [`fuzz_ring_walk`] and
//! [`fuzz_dirty_set`] are the bodies of the `ring_walk` and `dirty_set` fuzz targets, which
//! check the walker and the dirty set against independent models (no false negatives,
//! bounded work) and panic on any violation. The tests below run them on pseudo-random
//! inputs so that plain `cargo test` covers them too.

use std::collections::BTreeMap;

use super::dirty::{min_storage, DirtySet};
use super::family::Family;
use super::fields::Srrctl;
use super::ranges::{Extent, Span};
use super::ring::{GuestMem, RxRing, Unmapped, Walk, BATCH_DESCS, MAX_RING_DESCS, MAX_WALK_DESCS};

const PAGE: u64 = 4096;

/// Sparse guest memory in 4 KiB pages; reading an absent page fails like an IOMMU miss.
#[derive(Default)]
pub struct FakeMem {
    pages: BTreeMap<u64, Box<[u8; 4096]>>,
    /// [`GuestMem::read`] calls so far.
    pub reads: u64,
}

impl FakeMem {
    /// Empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `bytes` at `iova`, mapping zeroed pages as needed.
    pub fn write(&mut self, iova: u64, bytes: &[u8]) {
        for (k, b) in bytes.iter().enumerate() {
            let a = iova + k as u64;
            let page = self
                .pages
                .entry(a / PAGE)
                .or_insert_with(|| Box::new([0; 4096]));
            page[(a % PAGE) as usize] = *b;
        }
    }

    /// Writes a little-endian `u64` at `iova`.
    pub fn write_u64(&mut self, iova: u64, value: u64) {
        self.write(iova, &value.to_le_bytes());
    }

    /// Maps a zeroed page at the page holding `iova` (if absent) and returns it.
    pub fn page_mut(&mut self, iova: u64) -> &mut [u8; 4096] {
        self.pages
            .entry(iova / PAGE)
            .or_insert_with(|| Box::new([0; 4096]))
    }

    /// Removes the page holding `iova`.
    pub fn unmap(&mut self, iova: u64) {
        self.pages.remove(&(iova / PAGE));
    }

    /// Reads without counting.
    pub fn peek(&self, iova: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        let mut done = 0;
        while done < buf.len() {
            let a = iova.checked_add(done as u64).ok_or(Unmapped)?;
            let page = self.pages.get(&(a / PAGE)).ok_or(Unmapped)?;
            let off = (a % PAGE) as usize;
            let n = (buf.len() - done).min(4096 - off);
            buf[done..done + n].copy_from_slice(&page[off..off + n]);
            done += n;
        }
        Ok(())
    }
}

impl GuestMem for FakeMem {
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        self.reads += 1;
        self.peek(iova, buf)
    }
}

/// The union of a list of `(iova, len)` marks, for coverage queries.
pub struct Coverage(Vec<(u128, u128)>);

impl Coverage {
    /// Sorts and merges `marks` (each taken up to the end of the address space).
    pub fn new(marks: &[(u64, u64)]) -> Self {
        let mut iv: Vec<(u128, u128)> = marks
            .iter()
            .map(|&(a, l)| (u128::from(a), u128::from(a) + u128::from(l)))
            .collect();
        iv.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(iv.len());
        for (s, e) in iv {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        Coverage(merged)
    }

    /// Whether `[iova, iova + len)` (clipped to the address space) is covered.
    pub fn covers(&self, iova: u64, len: u64) -> bool {
        let (s, e) = (
            u128::from(iova),
            (u128::from(iova) + u128::from(len)).min(1 << 64),
        );
        let i = self.0.partition_point(|iv| iv.1 <= s);
        len == 0 || matches!(self.0.get(i), Some(&(a, b)) if a <= s && e <= b)
    }
}

/// Whether the union of the `(iova, len)` marks covers `[iova, iova + len)` (up to the end
/// of the address space).
pub fn covered(marks: &[(u64, u64)], iova: u64, len: u64) -> bool {
    Coverage::new(marks).covers(iova, len)
}

/// Little-endian reader over fuzz input that yields zeros once exhausted.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
}

/// What the device writes for one descriptor according to the datasheets and QEMU's igb:
/// `(address, bytes)` per buffer, before any conservative widening.
fn device_writes(family: Family, srrctl: Srrctl, desc: &[u8; 16]) -> Vec<(u64, u64)> {
    let pkt = u64::from_le_bytes(desc[..8].try_into().unwrap());
    let hdr = u64::from_le_bytes(desc[8..].try_into().unwrap());
    let bsize = u64::from(srrctl.bsizepkt());
    let pkt_len = if bsize == 0 { 16 * 1024 } else { bsize * 1024 };
    let hdr_len = u64::from(srrctl.bsizehdr()) * 64;
    let desctype = (srrctl.raw() >> 25) & 7;
    let mut out = Vec::new();
    // Both readings of bit 0 (address bit or NSE/DD flag).
    for a in [pkt, pkt & !1] {
        if pkt != 0 {
            out.push((a, pkt_len));
        }
    }
    let split = match family {
        Family::Igb => (2..=5).contains(&desctype),
        Family::Ixgbe => matches!(desctype, 2 | 4 | 5),
    };
    let reserved = desctype >= 6 || (family == Family::Ixgbe && desctype == 3);
    if split || reserved {
        for a in [hdr, hdr & !1] {
            if hdr != 0 && hdr_len != 0 {
                out.push((a, hdr_len));
            }
        }
    }
    out
}

/// The `ring_walk` fuzz target: arbitrary registers and ring contents, some ring pages
/// unmapped. Checks that a walk is refused exactly for out-of-spec registers, that the work
/// stays within its bounds, and that every buffer the device may write for a walked, mapped
/// descriptor is marked. Returns the walk (for tests).
pub fn fuzz_ring_walk(data: &[u8]) -> Option<Walk> {
    let mut input = Input(data);
    let sel = input.u8();
    let family = if sel & 1 == 0 {
        Family::Ixgbe
    } else {
        Family::Igb
    };
    let srrctl = Srrctl::from_raw(input.u32());
    let (rdba, rdlen) = if sel & 2 != 0 {
        // Raw registers, mostly refused.
        (input.u64(), input.u32())
    } else {
        let count = if sel & 0x1C == 0x1C {
            MAX_RING_DESCS
        } else {
            8 * (1 + u32::from(input.u16()) % 512)
        };
        (input.u64() & 0x0000_FFFF_FFFF_FF80, count * 16)
    };
    let (mut from, mut to) = (input.u32(), input.u32());
    let count = rdlen / 16;
    if sel & 0x20 == 0 && count > 0 {
        from %= count;
        to %= count;
    }
    let holes = input.u32();
    let pattern = input.0;
    let ring = RxRing::new(family, rdba, rdlen, srrctl);
    let valid = rdlen != 0
        && rdlen % 128 == 0
        && rdlen <= 0xF_FF80
        && rdba % 128 == 0
        && rdba.checked_add(u64::from(rdlen)).is_some();
    assert_eq!(ring.is_ok(), valid, "{rdba:#x} {rdlen:#x}");
    let ring = ring.ok()?;

    // Fill the ring's pages from the pattern, leaving the holes unmapped.
    let mut mem = FakeMem::new();
    let span = ring.span();
    let (first, last) = (span.iova / PAGE, (span.iova + span.len - 1) / PAGE);
    for (k, page) in (first..=last).enumerate() {
        if holes & (1 << (k % 32)) != 0 && holes != u32::MAX {
            continue;
        }
        let bytes = mem.page_mut(page * PAGE);
        if !pattern.is_empty() {
            for (i, b) in bytes.iter_mut().enumerate() {
                let at = (page * PAGE + i as u64).wrapping_sub(span.iova) as usize;
                *b = pattern[at % pattern.len()] ^ (at / pattern.len()) as u8;
            }
        }
    }

    let mut marks = Vec::new();
    let walk = ring.walk(from, to, &mut mem, &mut |a: u64, l: u64| marks.push((a, l)));
    let (from, to) = (from & 0xFFFF, to & 0xFFFF);
    let in_range = from < ring.count() && to < ring.count();
    let w = match walk {
        Err(_) => {
            assert!(!in_range && from != to, "refused a valid walk");
            assert!(marks.is_empty() && mem.reads == 0);
            return None;
        }
        Ok(w) => w,
    };
    assert!(in_range || from == to);
    let posted = (to + ring.count() - from) % ring.count().max(1);
    assert_eq!(w.posted, if from == to { 0 } else { posted });
    assert_eq!(w.walked, w.posted.min(MAX_WALK_DESCS));
    let bound = w.walked.div_ceil(BATCH_DESCS) + (w.walked * 16).div_ceil(4096) + 2;
    assert!(w.reads <= bound && u64::from(w.reads) == mem.reads, "{w:?}");
    assert!(marks.len() as u64 <= 2 * u64::from(w.walked));
    assert_eq!(w.truncated(), w.walked < w.posted);
    for &(a, l) in &marks {
        assert!(l > 0 && (u128::from(a) + u128::from(l)) <= 1 << 64);
    }
    let coverage = Coverage::new(&marks);
    for t in 0..w.walked {
        let index = (from + t) % ring.count();
        let mut desc = [0u8; 16];
        if mem
            .peek(span.iova + 16 * u64::from(index), &mut desc)
            .is_err()
        {
            continue;
        }
        for (a, l) in device_writes(family, srrctl, &desc) {
            assert!(
                coverage.covers(a, l),
                "desc {index}: {a:#x}+{l:#x} not marked"
            );
        }
    }
    Some(w)
}

/// Model of the dirty set: one flag per page number below the end of the last range.
struct Model {
    ranges: Vec<(u64, u64)>,
    dirty: Vec<bool>,
}

impl Model {
    fn mark(&mut self, shift: u32, iova: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = iova >> shift;
        let last = iova.saturating_add(len - 1) >> shift;
        for (s, e) in self.ranges.clone() {
            self.set(s.max(first), e.min(last + 1), true);
        }
    }

    fn set(&mut self, from: u64, to: u64, value: bool) {
        for p in from..to {
            self.dirty[p as usize] = value;
        }
    }

    fn is_dirty(&self, page: u64) -> bool {
        self.dirty[page as usize]
    }
}

/// The `dirty_set` fuzz target: a random sequence of marks, reports (valid and invalid) and
/// `mark_all`s against a brute-force model, with storage small enough to force coarsening
/// half of the time. Checks that no report misses a model page, that reports stay inside
/// their window, ascending and without repeats, and that the set is exact while it never
/// coarsened. Returns `(reported pages, false positive pages)`.
pub fn fuzz_dirty_set(data: &[u8]) -> (u64, u64) {
    let mut input = Input(data);
    let sel = input.u8();
    let shift = [12u32, 16, 21][usize::from(sel % 3)];
    let nranges = 1 + usize::from(sel >> 2) % 4;
    let mut ranges = Vec::new();
    let mut cursor = u64::from(input.u16());
    for _ in 0..nranges {
        cursor += u64::from(input.u8() % 4);
        let len = 1 + u64::from(input.u16()) % 2048;
        ranges.push((cursor, cursor + len));
        cursor += len;
    }
    let storage = if sel & 0x40 != 0 {
        min_storage(nranges)
    } else {
        8192
    };
    // Hand the ranges over in reverse: the set sorts them.
    let spans = ranges.iter().rev().map(|&(s, e)| Span {
        iova: s << shift,
        len: (e - s) << shift,
    });
    let mut set = DirtySet::new(vec![Extent::EMPTY; storage], 1 << shift, spans).unwrap();
    let mut model = Model {
        ranges: ranges.clone(),
        dirty: vec![false; cursor as usize],
    };
    let (mut reported, mut false_pos) = (0, 0);
    let mut check = |set: &mut DirtySet<Vec<Extent>>, model: &mut Model, ws: u64, we: u64| {
        let mut pages = Vec::new();
        let n = set
            .report_and_clear(ws << shift, (we - ws) << shift, |a, n| {
                assert!(n > 0 && a % (1 << shift) == 0);
                pages.extend((a >> shift)..(a >> shift) + n);
            })
            .unwrap();
        assert_eq!(n, pages.len() as u64);
        assert!(pages.windows(2).all(|w| w[0] < w[1]), "unsorted report");
        assert!(
            pages.iter().all(|p| (ws..we).contains(p)),
            "report outside window"
        );
        for p in ws..we {
            assert!(
                !model.is_dirty(p) || pages.binary_search(&p).is_ok(),
                "page {p:#x} lost"
            );
        }
        let fp = pages.iter().filter(|&&p| !model.is_dirty(p)).count() as u64;
        if set.stats().coarsenings == 0 {
            assert_eq!(fp, 0, "false positives without coarsening");
        }
        model.set(ws, we, false);
        reported += n;
        false_pos += fp;
    };
    while !input.0.is_empty() {
        let op = input.u8();
        let (s, e) = ranges[usize::from(op >> 4) % nranges];
        match op % 8 {
            0..=4 => {
                let page = (s + u64::from(input.u16()) % (e - s + 2)).wrapping_sub(1);
                let iova = (page << shift).wrapping_add(u64::from(input.u16()));
                // Mostly buffer-sized marks, sometimes up to a whole range and beyond.
                let len = match input.u8() {
                    0..=15 => u64::from(input.u16()) << 24,
                    k => u64::from(input.u16() % 0x3000) << (k % 4),
                };
                set.mark(iova, len);
                model.mark(shift, iova, len);
            }
            5 => {
                let ws = s + u64::from(input.u16()) % (e - s);
                let we = ws + 1 + u64::from(input.u16()) % (e - ws);
                check(&mut set, &mut model, ws, we);
            }
            6 => {
                // Invalid windows are refused and change nothing the model can see.
                for (iova, len) in [
                    (s << shift, (e - s + 1) << shift),
                    ((s << shift) + 1, 1 << shift),
                    (e << shift, 1 << shift),
                    (s << shift, 0),
                ] {
                    if model.ranges.iter().any(|&(a, b)| {
                        iova >> shift >= a
                            && (iova + len) >> shift <= b
                            && len > 0
                            && iova % (1 << shift) == 0
                    }) {
                        continue;
                    }
                    assert!(set
                        .report_and_clear(iova, len, |_, _| panic!("reported"))
                        .is_err());
                }
            }
            _ => {
                set.mark_all();
                for &(a, b) in &ranges {
                    model.set(a, b, true);
                }
            }
        }
    }
    for &(s, e) in &ranges {
        check(&mut set, &mut model, s, e);
    }
    assert!(!model.dirty.contains(&true));
    assert_eq!(set.dirty_pages(), 0);
    (reported, false_pos)
}

#[cfg(test)]
mod tests {
    use super::super::ring::MAX_RING_LEN;
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn ring_walk_fuzz_body_on_random_inputs() {
        let mut next = rng(0x2545_F491_4F6C_DD1D);
        let (mut ok, mut truncated, mut refused) = (0, 0, 0);
        for i in 0..2000u32 {
            let len = 40 + (next() % 300) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Mostly valid registers and in-range indices, every family and desc type.
            // Maximal rings (bits 2..=4 all set) are slow to fill: one input in 64.
            let sel = (i % 256) as u8 & if i % 8 == 0 { 0xFF } else { !0x22 };
            input[0] = if i % 64 == 1 { sel | 0x1C } else { sel & !0x10 };
            match fuzz_ring_walk(&input) {
                Some(w) => {
                    ok += 1;
                    truncated += usize::from(w.truncated());
                }
                None => refused += 1,
            }
        }
        assert!(
            ok > 1000 && truncated > 0 && refused > 0,
            "{ok} {truncated} {refused}"
        );
    }

    /// `count` operations for [`fuzz_dirty_set`]: mostly buffer-sized marks, some reports,
    /// few invalid reports and `mark_all`s.
    fn ops(next: &mut impl FnMut() -> u64, count: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for _ in 0..count {
            let range = next() as u8 & 0xF0;
            match next() % 100 {
                0..=87 => {
                    // Mark: page, byte offset, size kind (>= 16: small), size.
                    data.push(range | (next() % 5) as u8);
                    data.extend((next() as u32).to_le_bytes());
                    data.push(16 + (next() % 240) as u8);
                    data.extend((next() as u16).to_le_bytes());
                }
                88..=96 => {
                    // Report: window start and length.
                    data.push(range | 5);
                    data.extend((next() as u32).to_le_bytes());
                }
                97..=98 => data.push(range | 6),
                _ => data.push(range | 7),
            }
        }
        data
    }

    #[test]
    fn dirty_set_fuzz_body_on_random_inputs() {
        let mut next = rng(0x9E37_79B9_7F4A_7C15);
        let (mut reported, mut fp) = (0, 0);
        for i in 0..2000u32 {
            // Ranges from random bytes, then either random or structured operations.
            let mut input: Vec<u8> = (0..15).map(|_| next() as u8).collect();
            input[0] = (i % 256) as u8;
            if i % 2 == 0 {
                input.extend((0..next() % 1000).map(|_| next() as u8));
            } else {
                input.extend(ops(&mut next, 150));
            }
            let (r, f) = fuzz_dirty_set(&input);
            reported += r;
            fp += f;
        }
        assert!(reported > 0 && fp > 0, "small storage must have coarsened");
    }

    #[test]
    fn random_marks_against_a_brute_force_model() {
        // Long sequences over one range of 2048 pages, large and tiny storage.
        for (seed, small) in [(1u64, false), (2, true), (3, true)] {
            let mut next = rng(seed * 0x1234_5678_9ABC_DEF1);
            let mut data = vec![if small { 0x40 } else { 0 }, 0, 0, 0, 0xFF, 0x07];
            data.extend(ops(&mut next, 5000));
            let (reported, fp) = fuzz_dirty_set(&data);
            assert!(reported > 0);
            if !small {
                assert_eq!(fp, 0);
            } else {
                assert!(fp > 0);
            }
        }
    }

    #[test]
    fn maximal_ring_walk_is_bounded_per_call() {
        let mut mem = FakeMem::new();
        let base = 0x40_0000;
        for i in 0..u64::from(MAX_RING_DESCS) {
            mem.write_u64(base + 16 * i, 0x1_0000_0000 + i * 0x1000);
        }
        let r = RxRing::new(
            Family::Ixgbe,
            base,
            MAX_RING_LEN,
            Srrctl::from_raw(0x0200_0002),
        )
        .unwrap();
        assert_eq!(r.count(), 65528);
        let mut marks = 0;
        let w = r.walk(5, 4, &mut mem, &mut |_, _| marks += 1).unwrap();
        assert_eq!((w.posted, w.walked, marks), (65527, MAX_WALK_DESCS, 8192));
        assert_eq!(w.resume, Some(5 + MAX_WALK_DESCS));
        assert!(w.truncated());
        // Batches split at page boundaries: one extra read per page crossed.
        assert!(w.reads <= MAX_WALK_DESCS / BATCH_DESCS + MAX_WALK_DESCS * 16 / 4096 + 1);
        // Continuing from `resume` finishes the job, one bounded call at a time.
        let mut total = w.walked;
        let mut from = w.resume;
        while let Some(f) = from {
            let w = r.walk(f, 4, &mut mem, &mut |_, _| ()).unwrap();
            total += w.walked;
            from = w.resume;
        }
        assert_eq!(total, 65527);
    }

    #[test]
    fn fake_mem_and_coverage_helpers() {
        let mut mem = FakeMem::new();
        mem.write_u64(0xFFC, 0x1122_3344_5566_7788);
        let mut buf = [0u8; 8];
        mem.read(0xFFC, &mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), 0x1122_3344_5566_7788);
        mem.unmap(0x1000);
        assert_eq!(mem.read(0xFFC, &mut buf), Err(Unmapped));
        assert_eq!(mem.reads, 2);
        assert!(covered(&[(0, 10), (10, 5), (3, 2)], 1, 14));
        assert!(!covered(&[(0, 10), (11, 5)], 1, 14));
        assert!(covered(&[(u64::MAX - 1, 2)], u64::MAX - 1, 100));
    }
}
