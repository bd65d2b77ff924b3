// SPDX-License-Identifier: GPL-2.0

//! Precise RX dirty tracking: the buffers of every posted RX descriptor, kept per ring slot
//! until the device is done with them.
//!
//! Re-marking every buffer the device still owns after each report (what the conservative
//! protocol does) is correct but reports about a ring of untouched buffers per queue at every
//! pre-copy pass. With a slot table the trap *records* each posted descriptor's buffers under
//! its ring slot instead of marking them, and a report marks (and forgets) only the slots
//! whose descriptors the device has finished with since (their buffers and the descriptor
//! itself, which is where the device writes a tracked ring): those outside the owned window
//! found by [`super::ring::RxRing::owned_from`] (written back, DD set, which real hardware
//! does after the data is written). A slot is also marked when the guest posts it again
//! (the guest only reuses a descriptor it saw written back) and when its ring is reprogrammed
//! or reset. While the device is quiesced (the final reports of a migration), every
//! recorded slot is marked, because a write-back may still be pending behind data already
//! written; the slots stay recorded in case the device runs again.
//!
//! The invariant this keeps: a buffer the device wrote is in the dirty set at the first report
//! after its write-back was observed, or at any report while the device is quiesced; until
//! then its slot is recorded. `pure::interleave` checks it (protocol `Precise`).
//!
//! Storage is the caller's ([`MAX_TRACKED_SLOTS`] entries per queue, allocated when logging
//! starts, independent of what the guest programs); a ring longer than that is not tracked
//! here and the shell falls back to the conservative protocol for that queue.

use core::ops::DerefMut;

use crate::pure::dirty::ranges::{DirtySink, Span};
use crate::pure::dirty::ring::RxRing;
use crate::pure::hw::family::MAX_QUEUES;
use crate::pure::hw::fields::DESC_LEN;

/// Most descriptors of a ring tracked per slot (the largest ring igbvf and ixgbevf allow).
pub const MAX_TRACKED_SLOTS: u32 = 4096;

/// One posted descriptor: its buffers, and whether the slot is live (the descriptor was
/// posted and the device has not been seen finishing it; the device overwrites the
/// descriptor itself at write-back). 24 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Posted {
    /// First buffer kept (the packet buffer).
    pkt: u64,
    /// Second buffer (the header buffer with header split).
    hdr: u64,
    /// Length of `pkt` (0: none, or not logged), and [`LIVE`].
    pkt_len: u32,
    /// Length of `hdr` (0: none, or not logged).
    hdr_len: u32,
}

/// `Posted::pkt_len` bit: the slot holds a posted descriptor. Buffer lengths stay far below
/// it (at most 127 KiB, `SRRCTL.BSIZEPKT`); a longer one is marked at once instead.
const LIVE: u32 = 1 << 31;

impl Posted {
    /// Whether the slot holds a posted descriptor the device has not been seen finishing.
    pub fn pending(&self) -> bool {
        self.pkt_len & LIVE != 0
    }

    /// A live slot without buffers yet.
    fn live() -> Self {
        Posted {
            pkt_len: LIVE,
            ..Posted::default()
        }
    }

    fn pkt_len(&self) -> u32 {
        self.pkt_len & !LIVE
    }

    /// Cuts the packet buffer to the `len` bytes the device wrote.
    fn trim(&mut self, len: u64) {
        // CAST: the minimum is at most the kept length, which is below LIVE.
        let kept = u64::from(self.pkt_len()).min(len) as u32;
        self.pkt_len = (self.pkt_len & LIVE) | kept;
    }

    /// Keeps `[iova, iova + len)` as the slot's next buffer; `false` if there is no room (a
    /// third buffer, or a length the slot cannot hold).
    fn keep(&mut self, iova: u64, len: u64) -> bool {
        let len = match u32::try_from(len) {
            Ok(l) if l < LIVE => l,
            _ => return false,
        };
        if self.pkt_len() == 0 {
            self.pkt = iova;
            self.pkt_len |= len;
        } else if self.hdr_len == 0 {
            self.hdr = iova;
            self.hdr_len = len;
        } else {
            return false;
        }
        true
    }

    /// Marks the buffers, and the descriptor at `desc`, into `sink` (nothing if not live).
    fn mark_into<K: DirtySink + ?Sized>(&self, desc: u64, sink: &mut K) {
        if !self.pending() {
            return;
        }
        for (iova, len) in [(self.pkt, self.pkt_len()), (self.hdr, self.hdr_len)] {
            if len != 0 {
                sink.mark(iova, u64::from(len));
            }
        }
        sink.mark(desc, u64::from(DESC_LEN));
    }
}

/// Which ring a queue's records belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RingId {
    span: Span,
    count: u32,
}

impl RingId {
    fn of(ring: &RxRing) -> Self {
        RingId {
            span: ring.span(),
            count: ring.count(),
        }
    }
}

/// Per-slot records of every queue, in caller storage.
///
/// # Invariants
///
/// `nqueues <= MAX_QUEUES` and `storage.len() >= nqueues * MAX_TRACKED_SLOTS`; queue `q`'s
/// slots are `storage[q * MAX_TRACKED_SLOTS..][..MAX_TRACKED_SLOTS]`. A queue with
/// `rings[q] == None` has no pending slot; with `Some(r)`, only slots below `r.count` may
/// be pending.
pub struct Slots<S> {
    storage: S,
    nqueues: usize,
    rings: [Option<RingId>; MAX_QUEUES as usize],
}

/// Entries [`Slots::new`] needs for `queues` queues (24 bytes each).
pub const fn slots_storage(queues: u8) -> usize {
    queues as usize * MAX_TRACKED_SLOTS as usize
}

/// Entries for every queue of any supported VF.
#[cfg(any(test, feature = "testing"))]
pub const SLOTS_STORAGE: usize = slots_storage(MAX_QUEUES);

impl<S: DerefMut<Target = [Posted]>> Slots<S> {
    /// An empty table in `storage`, for as many queues as it holds (see [`slots_storage`]);
    /// `None` if it holds none.
    pub fn new(mut storage: S) -> Option<Self> {
        let nqueues = (storage.len() / MAX_TRACKED_SLOTS as usize).min(MAX_QUEUES as usize);
        if nqueues == 0 {
            return None;
        }
        storage.fill(Posted::default());
        // INVARIANT: `nqueues` computed from the length and capped; nothing pending.
        Some(Slots {
            storage,
            nqueues,
            rings: [None; MAX_QUEUES as usize],
        })
    }

    /// Whether `ring` is short enough to be tracked per slot.
    pub fn trackable(ring: &RxRing) -> bool {
        ring.count() <= MAX_TRACKED_SLOTS
    }

    /// Whether queue `q`'s records belong to `ring` (what [`Slots::recorder`] last used).
    pub fn tracks(&self, q: u8, ring: &RxRing) -> bool {
        self.rings.get(usize::from(q)) == Some(&Some(RingId::of(ring)))
    }

    fn queue(&mut self, q: u8) -> &mut [Posted] {
        if usize::from(q) >= self.nqueues {
            return &mut [];
        }
        let start = usize::from(q) * MAX_TRACKED_SLOTS as usize;
        self.storage
            .get_mut(start..start + MAX_TRACKED_SLOTS as usize)
            .unwrap_or(&mut [])
    }

    /// Marks the ring and every recorded buffer of queue `q` into `sink` and forgets them and
    /// the ring: the ring was reprogrammed, reset, turned off or is no longer trackable.
    pub fn drain<K: DirtySink + ?Sized>(&mut self, q: u8, sink: &mut K) {
        let Some(ring) = self.rings.get(usize::from(q)).copied().flatten() else {
            return;
        };
        sink.mark(ring.span.iova, ring.span.len);
        // CAST: a ring count (at most MAX_TRACKED_SLOTS here) fits in usize.
        let live = descs(ring.span.iova).take(ring.count as usize);
        for (desc, p) in live.zip(self.queue(q).iter_mut()) {
            p.mark_into(desc, sink);
            *p = Posted::default();
        }
        if let Some(r) = self.rings.get_mut(usize::from(q)) {
            *r = None;
        }
    }

    /// Marks the ring and every recorded buffer of queue `q` into `sink`, keeping the records:
    /// a report while the device is quiesced, when a write-back may still be pending.
    pub fn mark_pending<K: DirtySink + ?Sized>(&mut self, q: u8, sink: &mut K) {
        let Some(ring) = self.rings.get(usize::from(q)).copied().flatten() else {
            return;
        };
        sink.mark(ring.span.iova, ring.span.len);
        // CAST: a ring count (at most MAX_TRACKED_SLOTS here) fits in usize.
        let live = descs(ring.span.iova).take(ring.count as usize);
        for (desc, p) in live.zip(self.queue(q).iter()) {
            p.mark_into(desc, sink);
        }
    }

    /// Marks and forgets the records of queue `q` outside `owned` (the walks
    /// [`RxRing::owned_walks`] returns: the descriptors the device may still write). Those
    /// descriptors were written back since they were recorded, so their buffers were written,
    /// and so were the descriptors (the only ring writes of a tracked ring).
    #[cfg(any(test, feature = "testing"))]
    pub fn retire_done<K: DirtySink + ?Sized>(
        &mut self,
        q: u8,
        owned: [(u32, u32); 2],
        sink: &mut K,
    ) {
        self.retire_done_with(q, owned, |_| None, sink);
    }

    /// [`Slots::retire_done`], where `written(slot)` may tell how many bytes the device put into the packet buffer
    /// ([`RxRing::written_len`] of the descriptor as it is now): the packet buffer is then
    /// marked only that far. A descriptor still showing a write-back shows the one of the
    /// recorded post (posting it again would have gone through the trap, which retires the
    /// record); a guest that shortens the length afterwards only hides its own DMA.
    pub fn retire_done_with<K, W>(
        &mut self,
        q: u8,
        owned: [(u32, u32); 2],
        mut written: W,
        sink: &mut K,
    ) where
        K: DirtySink + ?Sized,
        W: FnMut(u32) -> Option<u64>,
    {
        let Some(ring) = self.rings.get(usize::from(q)).copied().flatten() else {
            return;
        };
        let slots = (0..ring.count).zip(descs(ring.span.iova));
        for ((slot, desc), p) in slots.zip(self.queue(q).iter_mut()) {
            if p.pending() && !owned.iter().any(|&(a, b)| in_walk(slot, a, b)) {
                if let Some(len) = written(slot) {
                    p.trim(len);
                }
                p.mark_into(desc, sink);
                *p = Posted::default();
            }
        }
    }

    /// A sink for walks of queue `q`'s `ring` that records each descriptor's buffers under
    /// its slot, marking into `sink` what a slot held before (re-posted). Records of another
    /// ring are drained into `sink` first. `None` when the ring is not trackable (the caller
    /// then marks into `sink` directly, and [`Slots::drain`]s the queue).
    pub fn recorder<'a, K: DirtySink + ?Sized>(
        &'a mut self,
        q: u8,
        ring: &RxRing,
        sink: &'a mut K,
    ) -> Option<Recorder<'a, K>> {
        if !Self::trackable(ring) || usize::from(q) >= self.nqueues {
            return None;
        }
        if !self.tracks(q, ring) {
            self.drain(q, sink);
            if let Some(r) = self.rings.get_mut(usize::from(q)) {
                *r = Some(RingId::of(ring));
            }
        }
        Some(Recorder {
            ring: ring.span().iova,
            slots: self.queue(q),
            sink,
            current: None,
        })
    }
}

/// The IOVAs of a ring's descriptors, from `base` on.
fn descs(base: u64) -> impl Iterator<Item = u64> {
    (0u64..).map(move |i| base.saturating_add(i * u64::from(DESC_LEN)))
}

/// Whether `slot` lies in the cyclic walk `a..b` (`a == b`: empty).
fn in_walk(slot: u32, a: u32, b: u32) -> bool {
    match a.cmp(&b) {
        core::cmp::Ordering::Less => (a..b).contains(&slot),
        core::cmp::Ordering::Greater => slot >= a || slot < b,
        core::cmp::Ordering::Equal => false,
    }
}

/// A [`DirtySink`] that records a walk's buffers per slot (see [`Slots::recorder`]).
pub struct Recorder<'a, K: ?Sized> {
    /// Base of the ring walked.
    ring: u64,
    slots: &'a mut [Posted],
    sink: &'a mut K,
    /// Slot the walker is marking, once it said so.
    current: Option<usize>,
}

impl<K: DirtySink + ?Sized> DirtySink for Recorder<'_, K> {
    fn descriptor(&mut self, slot: u32) {
        // CAST: u32 to usize is lossless on the targets the kernel supports.
        let i = slot as usize;
        self.current = None;
        let desc = self
            .ring
            .saturating_add(u64::from(slot) * u64::from(DESC_LEN));
        if let Some(p) = self.slots.get_mut(i) {
            // Posted again: the guest saw the old buffers written back (or rewrote a posted
            // descriptor, hiding only its own DMA); either way they are dirty now.
            p.mark_into(desc, self.sink);
            *p = Posted::live();
            self.current = Some(i);
        }
    }

    fn mark(&mut self, iova: u64, len: u64) {
        if self.sink.ignores(iova, len) {
            // Not logged: nothing to keep; the sink counts it.
            self.sink.mark(iova, len);
            return;
        }
        let kept = self
            .current
            .and_then(|i| self.slots.get_mut(i))
            .is_some_and(|p| p.keep(iova, len));
        if !kept {
            // Not announced by `descriptor`, or no room in the slot: marked now instead.
            self.sink.mark(iova, len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::dirty::ring::GuestMem;
    use crate::pure::hw::family::Family;
    use crate::pure::hw::fields::Srrctl;
    use crate::pure::testing::dirty::FakeMem;

    const BASE: u64 = 0x10_0000;

    fn ring(count: u32) -> RxRing {
        // SRRCTL: advanced one-buffer descriptors, 2 KiB packet buffers.
        RxRing::new(
            Family::Ixgbe,
            BASE,
            count * 16,
            Srrctl::from_raw(0x0200_0002),
        )
        .unwrap()
    }

    fn post(mem: &mut FakeMem, slot: u32, buf: u64) {
        mem.write_u64(BASE + u64::from(slot) * 16, buf);
        mem.write_u64(BASE + u64::from(slot) * 16 + 8, 0);
    }

    fn write_back(mem: &mut FakeMem, slot: u32) {
        // DD and a length of 64 in the second qword.
        mem.write_u64(BASE + u64::from(slot) * 16, 0);
        mem.write_u64(BASE + u64::from(slot) * 16 + 8, 1 | (64 << 32));
    }

    fn table() -> Slots<Vec<Posted>> {
        Slots::new(vec![Posted::default(); SLOTS_STORAGE]).unwrap()
    }

    #[test]
    fn records_then_retires_only_written_back_slots() {
        let r = ring(8);
        let mut mem = FakeMem::new();
        let mut t = table();
        let mut marks = Vec::new();
        for s in 0..4 {
            post(&mut mem, s, 0x40_0000 + u64::from(s) * 0x1000);
        }
        {
            let mut sink = |i, l| marks.push((i, l));
            let mut rec = t.recorder(0, &r, &mut sink).unwrap();
            let mut tally = Default::default();
            assert!(r.walk_all(0, 4, &mut mem, &mut rec, &mut tally));
        }
        assert!(marks.is_empty(), "recorded, not marked");
        // The device fetched 0..3 (RDH = 3) and wrote back 0 and 1.
        write_back(&mut mem, 0);
        write_back(&mut mem, 1);
        let o = r.owned_from(3, 4, &mut mem).unwrap();
        t.retire_done(0, r.owned_walks(&o, 4), &mut |i, l| marks.push((i, l)));
        // Their buffers and their descriptors (the device's write-back).
        assert_eq!(
            marks,
            [
                (0x40_0000, 2048),
                (BASE, 16),
                (0x40_1000, 2048),
                (BASE + 16, 16)
            ]
        );
        // Retired once only.
        let o = r.owned_from(3, 4, &mut mem).unwrap();
        t.retire_done(0, r.owned_walks(&o, 4), &mut |i, l| marks.push((i, l)));
        assert_eq!(marks.len(), 4);
        // Quiesced: the ring and the rest are marked, and kept.
        t.mark_pending(0, &mut |i, l| marks.push((i, l)));
        assert_eq!(marks.len(), 4 + 1 + 2 * 2);
        assert_eq!(marks[4], (BASE, 8 * 16));
        t.mark_pending(0, &mut |i, l| marks.push((i, l)));
        assert_eq!(marks.len(), 14);
        // Reprogrammed: drained.
        t.drain(0, &mut |i, l| marks.push((i, l)));
        assert_eq!(marks.len(), 19);
        t.mark_pending(0, &mut |i, l| marks.push((i, l)));
        assert_eq!(marks.len(), 19);
    }

    #[test]
    fn reposting_a_slot_marks_its_old_buffer() {
        let r = ring(8);
        let mut mem = FakeMem::new();
        let mut t = table();
        let mut marks = Vec::new();
        let mut tally = Default::default();
        post(&mut mem, 5, 0x50_0000);
        {
            let mut sink = |i, l| marks.push((i, l));
            let mut rec = t.recorder(1, &r, &mut sink).unwrap();
            assert!(r.walk_all(5, 6, &mut mem, &mut rec, &mut tally));
        }
        post(&mut mem, 5, 0x60_0000);
        {
            let mut sink = |i, l| marks.push((i, l));
            let mut rec = t.recorder(1, &r, &mut sink).unwrap();
            assert!(r.walk_all(5, 6, &mut mem, &mut rec, &mut tally));
        }
        assert_eq!(marks, [(0x50_0000, 2048), (BASE + 5 * 16, 16)]);
        // Another ring for the queue drains the old records.
        let other = RxRing::new(
            Family::Ixgbe,
            BASE + 0x1000,
            128,
            Srrctl::from_raw(0x0200_0002),
        )
        .unwrap();
        let mut sink = |i, l| marks.push((i, l));
        assert!(t.recorder(1, &other, &mut sink).is_some());
        assert_eq!(
            marks[2..],
            [(BASE, 8 * 16), (0x60_0000, 2048), (BASE + 5 * 16, 16)]
        );
    }

    #[test]
    fn the_whole_ring_owned_retires_nothing_and_large_rings_are_not_tracked() {
        let r = ring(8);
        let mut mem = FakeMem::new();
        let mut t = table();
        for s in 0..8 {
            post(&mut mem, s, 0x70_0000 + u64::from(s) * 0x1000);
        }
        let mut n = 0;
        {
            let mut sink = |_, _| n += 1;
            let mut rec = t.recorder(2, &r, &mut sink).unwrap();
            let mut tally = Default::default();
            assert!(r.walk_all(3, 2, &mut mem, &mut rec, &mut tally));
        }
        // head == tail == 3, every descriptor in read format: all owned.
        let o = r.owned_from(3, 3, &mut mem).unwrap();
        t.retire_done(2, r.owned_walks(&o, 3), &mut |_, _| n += 1);
        assert_eq!(n, 0);
        assert!(!Slots::<Vec<Posted>>::trackable(&ring(
            MAX_TRACKED_SLOTS * 2
        )));
        assert!(t
            .recorder(2, &ring(MAX_TRACKED_SLOTS * 2), &mut |_, _| ())
            .is_none());
        assert!(Slots::new(vec![Posted::default(); 3]).is_none());
    }

    #[test]
    fn a_written_length_trims_the_packet_buffer() {
        let r = ring(8);
        let mut mem = FakeMem::new();
        let mut t = table();
        let mut marks = Vec::new();
        post(&mut mem, 0, 0x40_0c00);
        {
            let mut sink = |i, l| marks.push((i, l));
            let mut rec = t.recorder(0, &r, &mut sink).unwrap();
            let mut tally = Default::default();
            assert!(r.walk_all(0, 1, &mut mem, &mut rec, &mut tally));
        }
        write_back(&mut mem, 0);
        let mut desc = [0u8; 16];
        GuestMem::read(&mut mem, BASE, &mut desc).unwrap();
        assert_eq!(r.written_len(&desc), Some(64));
        let o = r.owned_from(1, 1, &mut mem).unwrap();
        t.retire_done_with(
            0,
            r.owned_walks(&o, 1),
            |s| (s == 0).then_some(64),
            &mut |i, l| marks.push((i, l)),
        );
        // 64 bytes at 0x40_0c00: the page after it was not written.
        assert_eq!(marks, [(0x40_0c00, 64), (BASE, 16)]);
    }

    #[test]
    fn a_slot_is_24_bytes_and_keeps_two_buffers() {
        assert_eq!(core::mem::size_of::<Posted>(), 24);
        let mut p = Posted::live();
        assert!(p.keep(0x1000, 2048) && p.keep(0x9000, 256));
        assert!(!p.keep(0x5000, 64), "a third buffer is marked at once");
        assert!(!Posted::live().keep(0, u64::from(LIVE)));
        let mut marks = Vec::new();
        p.trim(100);
        p.mark_into(0x40, &mut |i, l| marks.push((i, l)));
        assert_eq!(marks, [(0x1000, 100), (0x9000, 256), (0x40, 16)]);
        Posted::default().mark_into(0x40, &mut |_, _| panic!("not live"));
    }

    #[test]
    fn cyclic_walks() {
        assert!(in_walk(6, 6, 2) && in_walk(1, 6, 2) && !in_walk(2, 6, 2));
        assert!(in_walk(3, 3, 4) && !in_walk(4, 3, 4) && !in_walk(3, 3, 3));
    }
}
