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

use crate::pure::dirty::areas::rx_ring_range;
use crate::pure::dirty::ranges::{Extent, Span, MAX_RANGES};
use crate::pure::dirty::ring::{
    GuestMem, OwnedStop, RxRing, Unmapped, Walk, WalkTally, BATCH_DESCS, MAX_RING_DESCS,
    MAX_WALK_DESCS,
};
use crate::pure::dirty::set::{min_storage, DirtySet};
use crate::pure::hw::family::Family;
use crate::pure::hw::fields::Srrctl;

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
pub(super) struct Input<'a>(pub(super) &'a [u8]);

impl Input<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    pub(super) fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    pub(super) fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    pub(super) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    pub(super) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
}

/// What the device writes for one descriptor according to the datasheets and QEMU's igb:
/// `(address, bytes)` per buffer (both readings of bit 0), before any conservative widening;
/// unused entries are `(0, 0)`.
fn device_writes(family: Family, srrctl: Srrctl, desc: &[u8; 16]) -> [(u64, u64); 4] {
    let pkt = u64::from_le_bytes(desc[..8].try_into().unwrap());
    let hdr = u64::from_le_bytes(desc[8..].try_into().unwrap());
    let bsize = u64::from(srrctl.bsizepkt());
    let pkt_len = if bsize == 0 { 16 * 1024 } else { bsize * 1024 };
    let hdr_len = u64::from(srrctl.bsizehdr()) * 64;
    let desctype = (srrctl.raw() >> 25) & 7;
    let mut out = [(0, 0); 4];
    if pkt != 0 {
        out[0] = (pkt, pkt_len);
        out[1] = (pkt & !1, pkt_len);
    }
    let split = match family {
        Family::Igb => (2..=5).contains(&desctype),
        Family::Ixgbe => matches!(desctype, 2 | 4 | 5),
    };
    let reserved = desctype >= 6 || (family == Family::Ixgbe && desctype == 3);
    if (split || reserved) && hdr != 0 {
        out[2] = (hdr, hdr_len);
        out[3] = (hdr & !1, hdr_len);
    }
    out
}

/// Guest memory for the `ring_walk` fuzz target: the ring's descriptors are computed from
/// the input on demand (nothing is allocated however large or wherever the ring is), pages
/// of it picked by `holes` are unmapped, and every read is checked against what the walker
/// promises: whole descriptors inside the ring, at most one batch, never across a 4 KiB
/// boundary.
///
/// Descriptor `i` is descriptor `i % m` of the pattern (`m` whole 16-byte descriptors, at
/// least one, zero padded), both quadwords xored with `(i / m) << 12`: the first `m` are the
/// input as given, later repetitions point at other pages.
struct PatternMem<'a> {
    ring: Span,
    pattern: &'a [u8],
    /// Bit `k % 32` set: the ring's page `k` is unmapped (unless all bits are set).
    holes: u32,
    reads: u64,
}

impl PatternMem<'_> {
    fn mapped(&self, iova: u64) -> bool {
        let k = (iova / PAGE - self.ring.iova / PAGE) % 32;
        self.holes & (1 << k) == 0 || self.holes == u32::MAX
    }

    fn desc(&self, i: u64) -> [u8; 16] {
        let m = (self.pattern.len() as u64 / 16).max(1);
        let src = self.pattern.get((i % m) as usize * 16..).unwrap_or(&[]);
        let mut d = [0u8; 16];
        let n = src.len().min(16);
        d[..n].copy_from_slice(&src[..n]);
        let salt = (i / m) << 12;
        let q = |k: usize| u64::from_le_bytes(d[k..k + 8].try_into().unwrap()) ^ salt;
        let (lo, hi) = (q(0), q(8));
        d[..8].copy_from_slice(&lo.to_le_bytes());
        d[8..].copy_from_slice(&hi.to_le_bytes());
        d
    }

    /// Reads without counting or checking: whole descriptors of the ring, on at most two
    /// pages (a batch or a descriptor).
    fn peek(&self, iova: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        let last = iova + buf.len().saturating_sub(1) as u64;
        if !self.mapped(iova) || !self.mapped(last) {
            return Err(Unmapped);
        }
        let first = (iova - self.ring.iova) / 16;
        for (k, d) in buf.chunks_exact_mut(16).enumerate() {
            d.copy_from_slice(&self.desc(first + k as u64));
        }
        Ok(())
    }
}

impl GuestMem for PatternMem<'_> {
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        self.reads += 1;
        let len = buf.len() as u64;
        let (start, end) = (self.ring.iova, self.ring.iova + self.ring.len);
        assert!(
            iova >= start && iova + len <= end,
            "read {iova:#x}+{len} outside the ring"
        );
        assert!(
            (iova - start) % 16 == 0 && len % 16 == 0 && len > 0,
            "partial descriptor"
        );
        assert!(len <= u64::from(BATCH_DESCS) * 16, "read of {len} bytes");
        assert!(
            iova % PAGE + len <= PAGE,
            "read {iova:#x}+{len} crosses a page"
        );
        self.peek(iova, buf)
    }
}

/// Guest memory with nothing mapped.
struct NoMem;

impl GuestMem for NoMem {
    fn read(&mut self, _: u64, _: &mut [u8]) -> Result<(), Unmapped> {
        Err(Unmapped)
    }
}

/// The `ring_walk` fuzz target: arbitrary registers and ring contents anywhere in the address
/// space, some ring pages unmapped. Checks that a walk is refused exactly for out-of-spec
/// registers, that the work stays within its bounds, that every buffer the device may write
/// for a walked, mapped descriptor is marked, that continuing from [`Walk::resume`] (as the
/// shell does) finishes the posted descriptors in a bounded number of calls, and that the
/// static ring area covers the ring. Returns the walk (for tests).
///
/// Input: `sel` (bit 0 family, bit 1 raw `RDBA`/`RDLEN`, bits 4:2 all set for a maximal
/// ring, bit 5 raw head and tail), `SRRCTL`, ring registers, the two indices, the unmapped
/// page mask, then the ring's descriptors (repeated as [`PatternMem`] says).
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
        (input.u64() & !0x7F, count * 16)
    };
    let (mut from, mut to) = (input.u32(), input.u32());
    let count = rdlen / 16;
    if sel & 0x20 == 0 && count > 0 {
        from %= count;
        to %= count;
    }
    let holes = input.u32();
    let pattern = input.0;

    // The area the report path marks for the ring covers it, whatever the registers (up to
    // the last byte of the address space, which no logging range can hold).
    if let Some(area) = rx_ring_range(rdba, rdlen) {
        let end = u128::from(area.iova) + u128::from(area.len);
        assert!(end < 1 << 64, "{area:?}");
        let want = (u128::from(rdba) + u128::from(rdlen)).min(u128::from(u64::MAX));
        assert!(
            u128::from(area.iova) <= u128::from(rdba) && want <= end,
            "{area:?}"
        );
    } else {
        assert_eq!(rdlen, 0);
    }

    let ring = RxRing::new(family, rdba, rdlen, srrctl);
    let valid = rdlen != 0
        && rdlen % 128 == 0
        && rdlen <= 0xF_FF80
        && rdba % 128 == 0
        && rdba.checked_add(u64::from(rdlen)).is_some();
    assert_eq!(ring.is_ok(), valid, "{rdba:#x} {rdlen:#x}");
    let ring = ring.ok()?;
    let span = ring.span();
    assert_eq!(rx_ring_range(rdba, rdlen), Some(span));
    check_owned(&ring, family, srrctl, (from, to), pattern, holes);

    let mut mem = PatternMem {
        ring: span,
        pattern,
        holes,
        reads: 0,
    };
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
    assert!(w.unmapped <= w.walked && w.buffers <= 2 * w.walked, "{w:?}");
    assert!(marks.len() as u64 == u64::from(w.buffers));
    assert_eq!(w.truncated(), w.walked < w.posted);
    for &(a, l) in &marks {
        assert!(l > 0 && (u128::from(a) + u128::from(l)) <= 1 << 64);
    }
    // Every buffer the device may write is inside one mark. The walker marks descriptor by
    // descriptor, so the marks of a descriptor follow those of the one before: the search
    // starts after the marks matched so far, which keeps the check linear.
    let within = |(ma, ml): (u64, u64), a: u64, l: u64| {
        let end = (u128::from(a) + u128::from(l)).min(1 << 64);
        ma <= a && end <= u128::from(ma) + u128::from(ml)
    };
    let mut next_mark = 0;
    for t in 0..w.walked {
        let index = (from + t) % ring.count();
        let mut desc = [0u8; 16];
        if mem
            .peek(span.iova + 16 * u64::from(index), &mut desc)
            .is_err()
        {
            continue;
        }
        let mut after = next_mark;
        for (a, l) in device_writes(family, srrctl, &desc) {
            if l == 0 {
                continue;
            }
            let found = marks
                .get(next_mark..)
                .and_then(|m| m.iter().position(|&m| within(m, a, l)));
            let Some(k) = found else {
                panic!("desc {index}: {a:#x}+{l:#x} not marked");
            };
            after = after.max(next_mark + k + 1);
        }
        next_mark = after;
    }

    // The shell continues from `resume` until the walk completes: every call makes progress
    // and the posted descriptors are walked exactly once, in at most a ring's worth of
    // calls. Unmapped memory keeps this cheap: the bounds do not depend on the contents.
    let (mut prev, mut next, mut total, mut calls) = (from, w.resume, w.walked, 1);
    while let Some(f) = next {
        assert_ne!(f, prev, "no progress");
        let c = ring
            .walk(f, to, &mut NoMem, &mut |_: u64, _: u64| ())
            .expect("a resumed walk");
        assert_eq!(c.walked, c.posted.min(MAX_WALK_DESCS));
        assert_eq!(c.unmapped, c.walked);
        total += c.walked;
        calls += 1;
        (prev, next) = (f, c.resume);
    }
    assert_eq!(total, w.posted);
    assert!(calls <= MAX_RING_DESCS.div_ceil(MAX_WALK_DESCS));
    Some(w)
}

/// Part of the `ring_walk` target: [`RxRing::owned_from`] with `head, tail` on the same ring
/// against a model written from the datasheets' write-back formats (advanced: DD bit 0 of
/// byte 8 and length at 12..14, legacy: DD of byte 12 and length at 8..10, reserved types:
/// never written back), then [`RxRing::walk_owned`]: every buffer the
/// device may write through an owned, mapped descriptor is marked, unless the scan hit its
/// bound and the walk failed closed. [`PatternMem`] checks the reads as for the walk.
fn check_owned(
    ring: &RxRing,
    family: Family,
    srrctl: Srrctl,
    (head, tail): (u32, u32),
    pattern: &[u8],
    holes: u32,
) {
    let span = ring.span();
    let mut mem = PatternMem {
        ring: span,
        pattern,
        holes,
        reads: 0,
    };
    let got = ring.owned_from(head, tail, &mut mem);
    let (h, t, n) = (head & 0xFFFF, tail & 0xFFFF, ring.count());
    if h >= n || t >= n {
        assert!(got.is_err() && mem.reads == 0, "{got:?}");
        return;
    }
    let o = got.expect("valid indices refused");
    let desctype = (srrctl.raw() >> 25) & 7;
    let reserved = desctype >= 6 || (family == Family::Ixgbe && desctype == 3);
    // Written back: DD and a non-zero length, at their legacy or advanced places.
    let (dd, len) = if desctype == 0 { (12, 8) } else { (8, 12) };
    let done = |d: &[u8; 16]| !reserved && d[dd] & 1 != 0 && (d[len] | d[len + 1]) != 0;
    let behind = if h == t { n } else { (h + n - t) % n };
    let (mut k, mut stop) = (0, OwnedStop::Tail);
    while k < behind {
        if k == MAX_WALK_DESCS {
            stop = OwnedStop::Bound;
            break;
        }
        let mut d = [0u8; 16];
        let i = (h + n - 1 - k) % n;
        if mem.peek(span.iova + 16 * u64::from(i), &mut d).is_ok() && done(&d) {
            stop = OwnedStop::WrittenBack;
            break;
        }
        k += 1;
    }
    assert_eq!(
        (o.pending, o.stop, o.from),
        (k, stop, (h + n - k) % n),
        "{o:?}"
    );
    assert_eq!(o.owned, k + (t + n - h) % n);
    assert!(o.unmapped <= o.pending && o.scanned == k + u32::from(stop == OwnedStop::WrittenBack));
    let bound = o.scanned.div_ceil(BATCH_DESCS) + (o.scanned * 16).div_ceil(4096) + 2;
    assert!(o.reads <= bound && u64::from(o.reads) == mem.reads, "{o:?}");

    if o.owned > 1024 && !o.truncated() {
        // Long walks are checked by the walk's part of the target; keep `cargo test` fast.
        return;
    }
    let mut marks = Vec::new();
    let mut tally = WalkTally::default();
    let ok = ring.walk_owned(
        head,
        tail,
        &mut mem,
        &mut |a, l| marks.push((a, l)),
        &mut tally,
    );
    assert_eq!(ok, !o.truncated());
    assert_eq!(tally.refused, u64::from(!ok));
    if !ok {
        return;
    }
    let cov = Coverage::new(&marks);
    for j in 0..o.owned {
        let i = (o.from + j) % n;
        let mut d = [0u8; 16];
        if mem.peek(span.iova + 16 * u64::from(i), &mut d).is_err() {
            continue;
        }
        for (a, l) in device_writes(family, srrctl, &d) {
            assert!(
                l == 0 || cov.covers(a, l),
                "owned desc {i}: {a:#x}+{l:#x} not marked"
            );
        }
    }
}

/// Model of the dirty set: one flag per page from `base` to the end of the last range.
struct Model {
    base: u64,
    /// Ranges in pages, relative to `base`.
    ranges: Vec<(u64, u64)>,
    dirty: Vec<bool>,
}

impl Model {
    fn mark(&mut self, shift: u32, iova: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = (iova >> shift).saturating_sub(self.base);
        let end = ((iova.saturating_add(len - 1) >> shift) + 1).saturating_sub(self.base);
        for (s, e) in self.ranges.clone() {
            self.set(s.max(first), e.min(end), true);
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

/// Page sizes (log2) the `dirty_set` target picks from: 4 KiB to 1 GiB.
const SHIFTS: [u32; 8] = [12, 13, 16, 20, 21, 24, 29, 30];

/// The `dirty_set` fuzz target: a random sequence of marks, reports (valid and invalid) and
/// `mark_all`s against a brute-force model, with storage small enough to force coarsening
/// half of the time. Checks that no report misses a model page, that reports stay inside
/// their window, ascending and without repeats, that invalid windows are refused exactly
/// and change nothing, and that the set is exact while it never coarsened. Returns
/// `(reported pages, false positive pages)`.
///
/// `sel`: bits 1:0 range count - 1, bit 2 minimal storage, bit 3 ranges placed anywhere up
/// to the top of the address space (else near 0), bits 6:4 the page size ([`SHIFTS`]), bit
/// 7 raw logging ranges instead ([`fuzz_dirty_raw`]). Then the ranges (base, gaps and
/// lengths), then operations.
pub fn fuzz_dirty_set(data: &[u8]) -> (u64, u64) {
    let mut input = Input(data);
    let sel = input.u8();
    if sel & 0x80 != 0 {
        return fuzz_dirty_raw(&mut input);
    }
    let shift = SHIFTS[usize::from(sel >> 4) % SHIFTS.len()];
    let nranges = 1 + usize::from(sel & 3);
    let mut base = if sel & 8 != 0 {
        input.u64() >> shift
    } else {
        u64::from(input.u16())
    };
    let mut ranges = Vec::new();
    let mut cursor = 0;
    for _ in 0..nranges {
        cursor += u64::from(input.u8() % 4);
        let len = 1 + u64::from(input.u16()) % 2048;
        ranges.push((cursor, cursor + len));
        cursor += len;
    }
    // The last range ends at most at the last page boundary of the address space.
    base = base.min((u64::MAX >> shift) - cursor);
    let storage = if sel & 4 != 0 {
        min_storage(nranges)
    } else {
        2048
    };
    let page = 1u64 << shift;
    let bytes = |p: u64| (base + p) << shift;
    // Hand the ranges over in reverse: the set sorts them.
    let spans = ranges.iter().rev().map(|&(s, e)| Span {
        iova: bytes(s),
        len: (e - s) << shift,
    });
    let mut set = DirtySet::new(vec![Extent::EMPTY; storage], page, spans).unwrap();
    let mut model = Model {
        base,
        ranges: ranges.clone(),
        dirty: vec![false; cursor as usize],
    };
    // The pages a report window touches (it need not be aligned), if it is valid:
    // non-empty and those pages inside one range.
    let inside = |iova: u64, len: u64| {
        let end = iova.checked_add(len)?.checked_add(page - 1)? & !(page - 1);
        let start = iova & !(page - 1);
        (len > 0
            && ranges
                .iter()
                .any(|&(s, e)| bytes(s) <= start && end <= bytes(e)))
        .then(|| ((start >> shift) - base, (end >> shift) - base))
    };
    let (mut reported, mut false_pos) = (0, 0);
    // Reports the window of relative pages `ws..we` and checks it against the model.
    let mut check = |set: &mut DirtySet<Vec<Extent>>, model: &mut Model, ws: u64, we: u64| {
        let mut pages = Vec::new();
        let n = set
            .report_and_clear(bytes(ws), (we - ws) << shift, |a, n| {
                assert!(n > 0 && a % page == 0 && a >> shift >= base);
                let p = (a >> shift) - base;
                pages.extend(p..p + n);
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
                let iova = if op % 8 == 4 {
                    // Anywhere at all.
                    input.u64()
                } else {
                    let page = (s + u64::from(input.u16()) % (e - s + 2)).wrapping_sub(1);
                    (base.wrapping_add(page) << shift).wrapping_add(u64::from(input.u16()))
                };
                // Mostly buffer-sized marks, sometimes up to a whole range and beyond, or
                // anything at all.
                let len = match input.u8() {
                    0..=11 => u64::from(input.u16()) << 24,
                    12..=15 => input.u64(),
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
                // Windows around a range, and one from the input: refused exactly when
                // invalid, and then nothing changes.
                let raw = if op & 8 != 0 {
                    (input.u64(), input.u64())
                } else {
                    let ws = (s + u64::from(input.u16()) % (e - s + 1)).wrapping_sub(1);
                    let len = u64::from(input.u16()) % (e - s + 2);
                    (base.wrapping_add(ws) << shift, len << shift)
                };
                for (iova, len) in [
                    (bytes(s), (e - s + 1) << shift),
                    (bytes(s) + 1, page),
                    (bytes(e), page),
                    (bytes(s), 0),
                    raw,
                ] {
                    if let Some((ws, we)) = inside(iova, len) {
                        check(&mut set, &mut model, ws, we);
                        continue;
                    }
                    let before = set.dirty_pages();
                    assert!(set
                        .report_and_clear(iova, len, |_, _| panic!("reported"))
                        .is_err());
                    assert_eq!(set.dirty_pages(), before);
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

/// Disjoint, sorted, non-touching page intervals `[start, end)`: the model of
/// [`fuzz_dirty_raw`], where ranges are too large for a flag per page.
#[derive(Default)]
struct Intervals(Vec<(u64, u64)>);

impl Intervals {
    fn add(&mut self, start: u64, end: u64) {
        if start < end {
            self.0.push((start, end));
            self.0.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.0.len());
            for &(s, e) in &self.0 {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            self.0 = merged;
        }
    }

    fn remove(&mut self, start: u64, end: u64) {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(s, e) in &self.0 {
            if e <= start || s >= end {
                out.push((s, e));
                continue;
            }
            if s < start {
                out.push((s, start));
            }
            if e > end {
                out.push((end, e));
            }
        }
        self.0 = out;
    }

    fn clipped(&self, start: u64, end: u64) -> Intervals {
        let mut out = Intervals::default();
        for &(s, e) in &self.0 {
            out.add(s.max(start), e.min(end));
        }
        out
    }

    fn covers(&self, other: &Intervals) -> bool {
        other.0.iter().all(|&(s, e)| {
            let i = self.0.partition_point(|iv| iv.1 <= s);
            matches!(self.0.get(i), Some(&(a, b)) if a <= s && e <= b)
        })
    }

    fn pages(&self) -> u64 {
        self.0.iter().map(|&(s, e)| e - s).sum()
    }
}

/// Whether `DMA_LOGGING_START` must accept `ranges` with `page`, written from the uAPI's
/// rules independently of [`crate::pure::dirty::ranges`].
fn valid_start(page: u64, ranges: &[Span]) -> bool {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable_by_key(|s| s.iova);
    page.is_power_of_two()
        && (4096..=1 << 30).contains(&page)
        && (1..=256).contains(&ranges.len())
        && ranges.iter().all(|r| {
            r.len > 0 && (r.iova | r.len) % page == 0 && r.iova.checked_add(r.len).is_some()
        })
        && sorted.windows(2).all(|w| w[0].iova + w[0].len <= w[1].iova)
}

/// Body of `fuzz_dirty_set` with raw logging ranges (anywhere, of any size, possibly invalid)
/// and any page size: [`DirtySet::new`] must accept exactly what [`valid_start`] accepts and
/// hand the ranges back sorted; then marks and report windows with arbitrary IOVAs are
/// checked against an interval model (no dirty page lost, exact until coarsening, invalid
/// windows refused exactly and without effect).
///
/// Input: page size (`1 << k` for `k < 0xE0`, else a raw `u64`), range count (`0xFF`: 257
/// ranges), per range a flag byte (bit 0: aligned and at most 64 pages, bit 1: placed at
/// the end of the previous one minus `bits 3:2` pages) and two `u64`s; then operations.
fn fuzz_dirty_raw(input: &mut Input<'_>) -> (u64, u64) {
    let k = input.u8();
    let page = if k < 0xE0 {
        1u64 << (k % 64)
    } else {
        input.u64()
    };
    let mask = page.wrapping_sub(1);
    let n = match input.u8() {
        0xFF => MAX_RANGES + 1,
        b => usize::from(b % 9),
    };
    let mut spans: Vec<Span> = Vec::new();
    for i in 0..n as u64 {
        if n > MAX_RANGES {
            spans.push(Span {
                iova: (2 * i).wrapping_mul(page),
                len: page,
            });
            continue;
        }
        let f = input.u8();
        let (mut iova, mut len) = (input.u64(), input.u64());
        if f & 1 != 0 {
            iova &= !mask;
            len = (1 + len % 64).wrapping_mul(page);
        }
        if let (true, Some(prev)) = (f & 2 != 0, spans.last()) {
            let back = u64::from((f >> 2) % 4).wrapping_mul(page);
            iova = prev.iova.wrapping_add(prev.len).wrapping_sub(back);
        }
        spans.push(Span { iova, len });
    }
    let storage = vec![Extent::EMPTY; min_storage(MAX_RANGES)];
    let set = DirtySet::new(storage, page, spans.iter().copied());
    assert_eq!(
        set.is_ok(),
        valid_start(page, &spans),
        "{page:#x} {spans:?}"
    );
    let Ok(mut set) = set else {
        return (0, 0);
    };
    spans.sort_unstable_by_key(|s| s.iova);
    assert!(set.ranges().iter().eq(spans.iter().copied()));
    assert_eq!(set.page_size(), page);
    let shift = page.trailing_zeros();
    // The ranges in pages; valid ranges end below 2^64, so no end overflows.
    let ranges: Vec<(u64, u64)> = spans
        .iter()
        .map(|s| (s.iova >> shift, (s.iova + s.len) >> shift))
        .collect();
    // The page-aligned window a (possibly unaligned) report covers, if it is valid.
    let inside = |iova: u64, len: u64| {
        let end = iova.checked_add(len)?.checked_add(mask)? & !mask;
        let start = iova & !mask;
        (len > 0
            && spans
                .iter()
                .any(|s| s.iova <= start && end <= s.iova + s.len))
        .then_some((start, end - start))
    };
    let mut model = Intervals::default();
    let (mut reported, mut false_pos) = (0, 0);
    let mut report = |set: &mut DirtySet<Vec<Extent>>, model: &mut Intervals, iova, len| {
        let window = inside(iova, len);
        let valid = window.is_some();
        let (wi, wl) = window.unwrap_or((iova, len));
        let before = set.dirty_pages();
        let mut runs = Intervals::default();
        let mut last_end = None;
        let result = set.report_and_clear(iova, len, |a, n| {
            assert!(valid, "reported from a refused window");
            assert!(n > 0 && a & mask == 0 && a >= wi && (a - wi) >> shift < wl >> shift);
            let (s, e) = (a >> shift, (a >> shift) + n);
            assert!(e <= (wi >> shift) + (wl >> shift), "run past the window");
            assert!(
                last_end.map_or(true, |l| l < s),
                "runs not ascending and apart"
            );
            last_end = Some(e);
            runs.add(s, e);
        });
        assert_eq!(result.is_ok(), valid, "{iova:#x}+{len:#x}");
        if !valid {
            assert_eq!(set.dirty_pages(), before);
            return;
        }
        let (ws, we) = (wi >> shift, (wi >> shift) + (wl >> shift));
        let want = model.clipped(ws, we);
        assert_eq!(result, Ok(runs.pages()));
        assert!(runs.covers(&want), "dirty page lost");
        if set.stats().coarsenings == 0 {
            assert_eq!(runs.0, want.0, "false positives without coarsening");
        }
        model.remove(ws, we);
        reported += runs.pages();
        false_pos += runs.pages() - want.pages();
    };
    let pick = |op: u8| spans[usize::from(op >> 4) % spans.len()];
    while !input.0.is_empty() {
        let op = input.u8();
        let r = pick(op);
        match op % 4 {
            0 | 1 => {
                let iova = if op & 8 != 0 {
                    input.u64()
                } else {
                    let off = u64::from(input.u16()) << shift.saturating_sub(4);
                    r.iova.wrapping_add(off).wrapping_sub(page)
                };
                let len = match input.u8() {
                    0..=15 => input.u64(),
                    _ => u64::from(input.u16()) << shift.saturating_sub(8),
                };
                set.mark(iova, len);
                if len > 0 {
                    let (first, end) = (iova >> shift, (iova.saturating_add(len - 1) >> shift) + 1);
                    for &(s, e) in &ranges {
                        model.add(s.max(first), e.min(end));
                    }
                }
            }
            2 => {
                let (iova, len) = if op & 8 != 0 {
                    (input.u64(), input.u64())
                } else {
                    let pages = r.len >> shift;
                    let at = u64::from(input.u16()) % (pages + 2);
                    let n = u64::from(input.u16()) % (pages + 2);
                    (
                        (r.iova >> shift).wrapping_add(at).wrapping_sub(1) << shift,
                        n << shift,
                    )
                };
                report(&mut set, &mut model, iova, len);
            }
            _ => {
                set.mark_all();
                for &(s, e) in &ranges {
                    model.add(s, e);
                }
            }
        }
    }
    for r in spans.clone() {
        report(&mut set, &mut model, r.iova, r.len);
    }
    assert!(model.0.is_empty());
    assert_eq!(set.dirty_pages(), 0);
    (reported, false_pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::hw::fields::RING_LEN_MASK;

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
                    data.push(range | (next() % 4) as u8);
                    data.extend((next() as u32).to_le_bytes());
                    data.push(16 + (next() % 240) as u8);
                    data.extend((next() as u16).to_le_bytes());
                }
                88..=96 => {
                    // Report: window start and length.
                    data.push(range | 5);
                    data.extend((next() as u32).to_le_bytes());
                }
                97..=98 => {
                    // Invalid windows and one derived from a range: start and length.
                    data.push(range | 6);
                    data.extend((next() as u32).to_le_bytes());
                }
                _ => data.push(range | 7),
            }
        }
        data
    }

    #[test]
    fn fuzz_found_empty_unaligned_report_window() {
        // cargo fuzz dirty_set: an empty report window at an unaligned IOVA was rounded out to
        // a whole page and accepted; it must be refused like any empty window.
        let input = [
            0x44, 0x00, 0x00, 0x00, 0x07, 0xff, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7e, 0x00, 0x00, 0x00, 0x00,
            0x00, 0xff, 0x01, 0xfd, 0xff, 0x00, 0xef, 0xfe, 0xff, 0xc2, 0x00, 0x00, 0x00, 0x00,
            0x00,
        ];
        fuzz_dirty_set(&input);
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
            let mut data = vec![if small { 0x04 } else { 0 }, 0, 0, 0, 0xFF, 0x07];
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
            RING_LEN_MASK,
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
