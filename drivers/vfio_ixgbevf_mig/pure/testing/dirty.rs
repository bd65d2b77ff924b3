// SPDX-License-Identifier: GPL-2.0

//! Host-only helpers for the dirty tracking tests and fuzz targets (`hostcore/fuzz`).
//!
//! Built only for `cargo test` and for the host crate's `testing` feature; never in the
//! kernel. [`FakeMem`] is sparse guest memory for the ring walker; [`fuzz_ring_walk`] and
//! [`set::fuzz_dirty_set`] are the bodies of the `ring_walk` and `dirty_set` fuzz targets, which
//! check the walker and the dirty set against independent models (no false negatives,
//! bounded work) and panic on any violation. The tests below run them on pseudo-random
//! inputs so that plain `cargo test` covers them too.

use std::collections::BTreeMap;

use crate::pure::dirty::areas::rx_ring_range;
use crate::pure::dirty::ranges::Span;
use crate::pure::dirty::ring::{
    GuestMem, OwnedStop, RxRing, Unmapped, Walk, WalkTally, BATCH_DESCS, MAX_RING_DESCS,
    MAX_WALK_DESCS,
};
use crate::pure::hw::family::Family;
use crate::pure::hw::fields::Srrctl;

pub mod set;

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

/// A xorshift generator for the tests of this module and [`set`].
#[cfg(test)]
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::hw::fields::RING_LEN_MASK;

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
