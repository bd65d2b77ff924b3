// SPDX-License-Identifier: GPL-2.0

//! Host tests of [`super`] (`ring.rs`), in their own file to keep that one short.

use super::*;
use crate::pure::testing::dirty::{covered, FakeMem};

const ONEBUF: u32 = 0x0200_0000;
const SPLIT_ALWAYS: u32 = 0x0A00_0000;

fn srrctl(raw: u32) -> Srrctl {
    Srrctl::from_raw(raw)
}

/// A mapped ring of `count` descriptors at `base`, descriptor `i` pointing at buffer
/// `0x1_0000_0000 + i * 0x1000 + 0x10` and header `0x2_0000_0000 + i * 0x100`.
fn ring(mem: &mut FakeMem, base: u64, count: u32) {
    for i in 0..u64::from(count) {
        mem.write_u64(base + 16 * i, 0x1_0000_0000 + i * 0x1000 + 0x10);
        mem.write_u64(base + 16 * i + 8, 0x2_0000_0000 + i * 0x100);
    }
}

fn walk(r: &RxRing, mem: &mut FakeMem, from: u32, to: u32) -> (Walk, Vec<(u64, u64)>) {
    let mut marks = Vec::new();
    let w = r
        .walk(from, to, mem, &mut |a, l| marks.push((a, l)))
        .unwrap();
    (w, marks)
}

#[test]
fn one_buffer_marks_packet_buffers_only() {
    let mut mem = FakeMem::new();
    ring(&mut mem, 0x8000, 256);
    let r = RxRing::new(Family::Igb, 0x8000, 256 * 16, srrctl(ONEBUF | 2)).unwrap();
    assert_eq!(
        (r.count(), r.layout(), r.packet_len()),
        (256, Layout::OneBuffer, 2048)
    );
    let (w, marks) = walk(&r, &mut mem, 10, 26);
    assert_eq!(
        (w.posted, w.walked, w.buffers, w.resume),
        (16, 16, 16, None)
    );
    assert_eq!(marks[0], (0x1_0000_A010, 2048));
    assert_eq!(marks[15], (0x1_0001_9010, 2048));
    // 16 descriptors from index 10: bytes 0x80a0..0x81a0, one page, one read.
    assert_eq!(w.reads, 1);
    assert_eq!(mem.reads, 1);
}

#[test]
fn header_split_marks_both_buffers() {
    let mut mem = FakeMem::new();
    ring(&mut mem, 0x8000, 64);
    // igbvf_setup_srrctl() for jumbo frames: 128-byte headers, split always.
    let raw = SPLIT_ALWAYS | (128 << 2) | 4;
    let r = RxRing::new(Family::Igb, 0x8000, 64 * 16, srrctl(raw)).unwrap();
    assert_eq!((r.layout(), r.header_len()), (Layout::HeaderSplit, 128));
    let (w, marks) = walk(&r, &mut mem, 0, 2);
    assert_eq!(w.buffers, 4);
    assert_eq!(
        marks,
        [
            (0x1_0000_0010, 4096),
            (0x2_0000_0000, 128),
            (0x1_0000_1010, 4096),
            (0x2_0000_0100, 128)
        ]
    );
}

#[test]
fn descriptor_types_per_family() {
    let t = |f, d: u32| Layout::of(f, srrctl(d << 25));
    for f in Family::ALL {
        assert_eq!(t(f, 0), Layout::OneBuffer);
        assert_eq!(t(f, 1), Layout::OneBuffer);
        assert_eq!(t(f, 2), Layout::HeaderSplit);
        assert_eq!(t(f, 4), Layout::HeaderSplit);
        assert_eq!(t(f, 5), Layout::HeaderSplit);
        assert_eq!(t(f, 6), Layout::Unknown);
        assert_eq!(t(f, 7), Layout::Unknown);
    }
    assert_eq!(t(Family::Igb, 3), Layout::HeaderSplit);
    assert_eq!(t(Family::Ixgbe, 3), Layout::Unknown);
    // Reserved types mark both quadwords with the larger size.
    let mut mem = FakeMem::new();
    ring(&mut mem, 0, 16);
    let r = RxRing::new(Family::Ixgbe, 0, 128, srrctl((7 << 25) | 1)).unwrap();
    let (_, marks) = walk(&r, &mut mem, 1, 2);
    assert_eq!(marks, [(0x1_0000_1010, 4032), (0x2_0000_0100, 4032)]);
}

#[test]
fn buffer_sizes() {
    let s = |raw| srrctl(raw);
    assert_eq!(packet_len(Family::Igb, s(0)), 16384);
    assert_eq!(packet_len(Family::Ixgbe, s(0)), 16384);
    assert_eq!(packet_len(Family::Igb, s(3)), 3072);
    assert_eq!(packet_len(Family::Igb, s(0x7F)), 127 * 1024);
    assert_eq!(packet_len(Family::Igb, s(0x20)), 32 * 1024);
    assert_eq!(packet_len(Family::Ixgbe, s(0x20)), 32 * 1024);
    assert_eq!(packet_len(Family::Ixgbe, s(0x40)), 64 * 1024);
    assert_eq!(packet_len(Family::Ixgbe, s(0x10)), 16 * 1024);
    assert_eq!(header_len(Family::Igb, s(0)), 4032);
    assert_eq!(header_len(Family::Igb, s(2 << 8)), 128);
    assert_eq!(header_len(Family::Igb, s(0x10 << 8)), 4032);
    assert_eq!(header_len(Family::Ixgbe, s(0x10 << 8)), 1024);
    assert_eq!(header_len(Family::Ixgbe, s(0x3F << 8)), 4032);
}

#[test]
fn descriptors_spread_over_pages_and_wrapping() {
    let mut mem = FakeMem::new();
    // 1024 descriptors = 4 pages, starting 128 bytes before a page boundary.
    let base = 0x10_0F80;
    ring(&mut mem, base, 1024);
    let r = RxRing::new(Family::Ixgbe, base, 1024 * 16, srrctl(ONEBUF | 2)).unwrap();
    // Tail behind the old tail: wraps through the end of the ring.
    let (w, marks) = walk(&r, &mut mem, 1000, 40);
    assert_eq!((w.posted, w.walked), (64, 64));
    let idx: Vec<u64> = marks
        .iter()
        .map(|m| (m.0 - 0x1_0000_0010) / 0x1000)
        .collect();
    let want: Vec<u64> = (1000..1024).chain(0..40).collect();
    assert_eq!(idx, want);
    // Batches split at the ring end and at page boundaries: 1000..1016, 1016..1024,
    // 0..8 (up to the first page boundary), 8..24, 24..40.
    assert_eq!(w.reads, 5);
    // Every page boundary crossing splits a batch.
    let (w, marks) = walk(&r, &mut mem, 0, 1023);
    assert_eq!((w.walked, marks.len()), (1023, 1023));
    assert!(w.reads <= 1023 / 16 + 4 + 1);
}

#[test]
fn nothing_posted_and_bad_indices() {
    let mut mem = FakeMem::new();
    ring(&mut mem, 0x4000, 128);
    let r = RxRing::new(Family::Igb, 0x4000, 128 * 16, srrctl(ONEBUF)).unwrap();
    let (w, marks) = walk(&r, &mut mem, 7, 7);
    assert_eq!((w, marks.len(), mem.reads), (Walk::default(), 0, 0));
    // Upper bits of the written tail are ignored like the hardware does.
    let (w, _) = walk(&r, &mut mem, 7, 0x1_0008);
    assert_eq!(w.posted, 1);
    let mut n = 0;
    let e = r.walk(3, 128, &mut mem, &mut |_, _| n += 1);
    assert_eq!(
        e,
        Err(RingError::IndexOutOfRange {
            index: 128,
            count: 128
        })
    );
    let e = r.walk(500, 3, &mut mem, &mut |_, _| n += 1);
    assert_eq!(
        e,
        Err(RingError::IndexOutOfRange {
            index: 500,
            count: 128
        })
    );
    assert_eq!(n, 0);
}

#[test]
fn garbage_registers_are_refused() {
    let s = srrctl(ONEBUF);
    let new = |base, len| RxRing::new(Family::Igb, base, len, s).map(|_| ());
    assert_eq!(new(0x1000, 0), Err(RingError::EmptyRing));
    assert_eq!(new(0x1000, 100), Err(RingError::LenUnaligned(100)));
    assert_eq!(new(0x1000, 0x1010), Err(RingError::LenUnaligned(0x1010)));
    assert_eq!(
        new(0x1000, 0x10_0000),
        Err(RingError::LenTooLarge(0x10_0000))
    );
    assert_eq!(new(0x1040, 0x80), Err(RingError::BaseUnaligned(0x1040)));
    assert_eq!(
        new(u64::MAX - 0x7F, 0x100),
        Err(RingError::BaseOverflow(u64::MAX - 0x7F))
    );
    // A ring ending exactly at 2^64 is refused too; one ending below it is fine.
    assert_eq!(
        new(u64::MAX - 0x7F, 0x80),
        Err(RingError::BaseOverflow(u64::MAX - 0x7F))
    );
    assert_eq!(new(u64::MAX - 0xFF, 0x80), Ok(()));
    assert_eq!(new(0, 0x80), Ok(()));
    assert!(RingError::LenUnaligned(100).to_string().contains("0x64"));
}

#[test]
fn unmapped_descriptor_pages_are_skipped_and_counted() {
    let mut mem = FakeMem::new();
    let base = 0x20_0000;
    ring(&mut mem, base, 1024);
    mem.unmap(base + 0x1000);
    let r = RxRing::new(Family::Igb, base, 1024 * 16, srrctl(ONEBUF | 2)).unwrap();
    let (w, marks) = walk(&r, &mut mem, 200, 600);
    assert_eq!((w.walked, w.unmapped), (400, 256));
    assert_eq!(marks.len(), 144);
    assert!(marks
        .iter()
        .all(|m| !(256..512).contains(&((m.0 - 0x1_0000_0010) / 0x1000))));
}

#[test]
fn walk_all_resumes_and_tallies() {
    let mut mem = FakeMem::new();
    let count = MAX_RING_DESCS - 8;
    let base = 0x100_0000;
    ring(&mut mem, base, count);
    mem.unmap(base + 0x2000);
    let r = RxRing::new(Family::Igb, base, count * 16, srrctl(ONEBUF | 2)).unwrap();
    let mut t = WalkTally::default();
    let mut marks = 0u64;
    // Two full cuts and a rest: 20000 descriptors from 100.
    assert!(r.walk_all(100, 20_100, &mut mem, &mut |_, _| marks += 1, &mut t));
    assert_eq!(
        t,
        WalkTally {
            walked: 20_000,
            skipped: 256,
            truncated: 2,
            refused: 0
        }
    );
    assert_eq!(marks, 20_000 - 256);
    // Wrapping past the end, nothing posted, and indices outside the ring.
    let mut t2 = WalkTally::default();
    assert!(r.walk_all(count - 10, 10, &mut mem, &mut |_, _| {}, &mut t2));
    assert_eq!((t2.walked, t2.truncated), (20, 0));
    assert!(r.walk_all(7, 7, &mut mem, &mut |_, _| {}, &mut t2));
    assert!(!r.walk_all(7, count, &mut mem, &mut |_, _| {}, &mut t2));
    assert_eq!(t2.refused, 1);
    t.merge(&t2);
    assert_eq!((t.walked, t.truncated, t.refused), (20_020, 2, 1));
    // The longest walk there is (a full ring but one) fits the call bound.
    let mut t3 = WalkTally::default();
    assert!(r.walk_all(5, 4, &mut mem, &mut |_, _| {}, &mut t3));
    assert_eq!((t3.walked, t3.truncated), (u64::from(count) - 1, 7));
    t3.refuse();
    assert_eq!(t3.refused, 1);
}

#[test]
fn null_and_wrapping_addresses() {
    let mut mem = FakeMem::new();
    mem.write_u64(0x1000, 0);
    mem.write_u64(0x1008, 0);
    mem.write_u64(0x1010, u64::MAX - 0x100);
    mem.write_u64(0x1018, 0x3001); // DD / NSE bit set
    let s = srrctl(SPLIT_ALWAYS | (2 << 8) | 1);
    let r = RxRing::new(Family::Ixgbe, 0x1000, 128, s).unwrap();
    let (w, marks) = walk(&r, &mut mem, 0, 2);
    assert_eq!((w.null_addrs, w.clipped_addrs, w.buffers), (2, 1, 2));
    assert_eq!(w.skipped(), 3);
    assert_eq!(marks, [(u64::MAX - 0x101, 0x102), (0x3000, 129)]);
    assert!(covered(&marks, 0x3000, 128) && covered(&marks, 0x3001, 128));
}

/// Writes descriptors `from..to` of the ring at `base` back: DD (bit 0 of byte `dd`)
/// set, length (at byte `len`) 64, the rest left alone.
fn write_back(mem: &mut FakeMem, base: u64, (dd, len): (u64, u64), from: u64, to: u64) {
    for i in from..to {
        let a = base + 16 * i;
        let mut b = [0u8];
        mem.peek(a + dd, &mut b).unwrap();
        mem.write(a + dd, &[b[0] | 1]);
        mem.write(a + len, &[64, 0]);
    }
}

const ADV: (u64, u64) = (8, 12);
const LEGACY: (u64, u64) = (12, 8);

fn owned(r: &RxRing, mem: &mut FakeMem, head: u32, tail: u32) -> OwnedStart {
    r.owned_from(head, tail, mem).unwrap()
}

/// Descriptor indices whose packet buffers [`RxRing::walk_owned`] marks (the `ring`
/// helper's buffers), and whether it succeeded.
fn owned_walk(r: &RxRing, mem: &mut FakeMem, head: u32, tail: u32) -> (bool, Vec<u64>, WalkTally) {
    let mut marks = Vec::new();
    let mut t = WalkTally::default();
    let ok = r.walk_owned(head, tail, mem, &mut |a: u64, _| marks.push(a), &mut t);
    let idx = marks
        .iter()
        .filter(|&&a| a & 0xFFF == 0x10)
        .map(|a| (a - 0x1_0000_0010) / 0x1000)
        .collect();
    (ok, idx, t)
}

#[test]
fn owned_from_finds_prefetched_descriptors() {
    let mut mem = FakeMem::new();
    ring(&mut mem, 0x8000, 64);
    let r = RxRing::new(Family::Ixgbe, 0x8000, 64 * 16, srrctl(ONEBUF | 2)).unwrap();
    // 0..10 written back, 10..14 fetched (RDH = 14) but not written back yet.
    write_back(&mut mem, 0x8000, ADV, 0, 10);
    let o = owned(&r, &mut mem, 14, 40);
    assert_eq!(
        o,
        OwnedStart {
            from: 10,
            pending: 4,
            owned: 30,
            scanned: 5,
            unmapped: 0,
            reads: 1,
            stop: OwnedStop::WrittenBack
        }
    );
    let (ok, idx, t) = owned_walk(&r, &mut mem, 14, 40);
    assert!(ok);
    assert_eq!(idx, (10..40).collect::<Vec<_>>());
    assert_eq!((t.walked, t.refused), (5 + 30, 0));
    assert_eq!(r.owned_walks(&o, 40), [(10, 40), (40, 40)]);
    // Everything fetched was written back: nothing before the head.
    write_back(&mut mem, 0x8000, ADV, 10, 14);
    let o = owned(&r, &mut mem, 14, 40);
    assert_eq!((o.from, o.pending, o.owned, o.scanned), (14, 0, 26, 1));
    assert_eq!(o.stop, OwnedStop::WrittenBack);
    // Idle device, nothing posted, last descriptor written back: nothing owned.
    let (ok, idx, _) = owned_walk(&r, &mut mem, 14, 14);
    assert!(ok && idx.is_empty());
}

#[test]
fn owned_from_covers_a_fully_fetched_ring() {
    let mut mem = FakeMem::new();
    ring(&mut mem, 0x8000, 16);
    let r = RxRing::new(Family::Igb, 0x8000, 16 * 16, srrctl(ONEBUF | 2)).unwrap();
    // The device fetched everything posted: head caught up with the tail.
    let o = owned(&r, &mut mem, 5, 5);
    assert_eq!(
        (o.from, o.pending, o.owned, o.stop),
        (5, 16, 16, OwnedStop::Tail)
    );
    assert_eq!((o.scanned, o.reads), (16, 2));
    // As one walk, 5..5 would walk nothing: two walks.
    assert_eq!(r.owned_walks(&o, 5), [(5, 4), (4, 5)]);
    let o = owned(&r, &mut mem, 0, 0);
    assert_eq!(r.owned_walks(&o, 0x1_0000), [(0, 15), (15, 0)]);
    let (ok, mut idx, _) = owned_walk(&r, &mut mem, 5, 5);
    idx.sort_unstable();
    assert!(ok);
    assert_eq!(idx, (0..16).collect::<Vec<_>>());
    // Scanning back reaches the tail: tail..head and head..tail, the whole ring.
    let o = owned(&r, &mut mem, 9, 4);
    assert_eq!(
        (o.from, o.pending, o.owned, o.stop),
        (4, 5, 16, OwnedStop::Tail)
    );
    let (ok, idx, _) = owned_walk(&r, &mut mem, 9, 4);
    assert!(ok && idx.len() == 16);
    // The same at index 0 (the split walk wraps).
    let (ok, idx, _) = owned_walk(&r, &mut mem, 0, 0);
    assert!(ok && idx.len() == 16);
}

#[test]
fn owned_from_wraps_and_batches_by_page() {
    let mut mem = FakeMem::new();
    // 1024 descriptors from 128 bytes before a page boundary.
    let base = 0x10_0F80;
    ring(&mut mem, base, 1024);
    let r = RxRing::new(Family::Ixgbe, base, 1024 * 16, srrctl(ONEBUF | 2)).unwrap();
    // Tail 500, written back up to 990; 990..1024 and 0..3 pending; head 3.
    write_back(&mut mem, base, ADV, 500, 990);
    let o = owned(&r, &mut mem, 3, 500);
    assert_eq!((o.from, o.pending, o.owned), (990, 37, 37 + 497));
    // Batches end at the ring's start and never cross a page: 0..3, 1008..1024,
    // 992..1008, 976..992 (stopping at 989).
    assert_eq!(o.reads, 4);
    let (ok, idx, _) = owned_walk(&r, &mut mem, 3, 500);
    assert!(ok);
    let want: Vec<u64> = (990..1024).chain(0..500).collect();
    assert_eq!(idx, want);
    // Descriptors 0..8 sit on the ring's first page: 8..20, 0..8, 1008..1024.
    write_back(&mut mem, base, ADV, 990, 1024);
    let o = owned(&r, &mut mem, 20, 500);
    assert_eq!((o.from, o.pending, o.reads), (0, 20, 3));
}

#[test]
fn owned_from_goes_on_past_unmapped_pages() {
    let mut mem = FakeMem::new();
    let base = 0x20_0000;
    ring(&mut mem, base, 1024);
    let r = RxRing::new(Family::Igb, base, 1024 * 16, srrctl(ONEBUF | 2)).unwrap();
    write_back(&mut mem, base, ADV, 0, 200);
    mem.unmap(base + 0x1000); // descriptors 256..512
    let o = owned(&r, &mut mem, 600, 700);
    assert_eq!((o.from, o.pending, o.unmapped), (200, 400, 256));
    assert_eq!((o.owned, o.stop), (500, OwnedStop::WrittenBack));
    let (ok, idx, t) = owned_walk(&r, &mut mem, 600, 700);
    assert!(ok);
    assert_eq!(idx.len(), 500 - 256);
    // Skipped by the scan and again by the walk, as both count them walked.
    assert_eq!(t.skipped, 2 * 256);
    // Nothing mapped at all: owned up to the tail, every read failing.
    let mut none = FakeMem::new();
    let o = owned(&r, &mut none, 600, 700);
    assert_eq!(
        (o.from, o.owned, o.unmapped, o.stop),
        (700, 1024, 924, OwnedStop::Tail)
    );
}

#[test]
fn owned_from_is_bounded() {
    let count = MAX_RING_DESCS - 8;
    let r = RxRing::new(Family::Igb, 0x100_0000, count * 16, srrctl(ONEBUF | 2)).unwrap();
    // Nothing mapped, head == tail: the whole ring would be a candidate.
    let mut mem = FakeMem::new();
    let o = owned(&r, &mut mem, 100, 100);
    assert_eq!((o.scanned, o.stop), (MAX_WALK_DESCS, OwnedStop::Bound));
    assert!(o.truncated());
    assert!(o.reads <= MAX_WALK_DESCS / BATCH_DESCS + MAX_WALK_DESCS * 16 / 4096 + 1);
    let mut t = WalkTally::default();
    assert!(!r.walk_owned(100, 100, &mut mem, &mut |_, _| {}, &mut t));
    assert_eq!(t.refused, 1);
    // A run just within the bound is fine.
    let o = owned(&r, &mut mem, MAX_WALK_DESCS + 5, 5);
    assert_eq!((o.from, o.stop), (5, OwnedStop::Tail));
    // A single call never reads more than the ring either.
    let small = RxRing::new(Family::Igb, 0x8000, 128, srrctl(ONEBUF)).unwrap();
    let o = owned(&small, &mut mem, 3, 3);
    assert_eq!((o.scanned, o.pending, o.stop), (8, 8, OwnedStop::Tail));
}

#[test]
fn owned_from_hostile_values_and_formats() {
    let mut mem = FakeMem::new();
    ring(&mut mem, 0x4000, 128);
    let r = RxRing::new(Family::Igb, 0x4000, 128 * 16, srrctl(ONEBUF)).unwrap();
    for (head, tail, bad) in [(128, 3, 128), (3, 128, 128), (0xFFFF, 0, 0xFFFF)] {
        assert_eq!(
            r.owned_from(head, tail, &mut mem),
            Err(RingError::IndexOutOfRange {
                index: bad,
                count: 128
            })
        );
        let mut t = WalkTally::default();
        assert!(!r.walk_owned(head, tail, &mut mem, &mut |_, _| {}, &mut t));
        assert_eq!(t.refused, 1);
    }
    // Upper bits are ignored like the hardware does.
    write_back(&mut mem, 0x4000, ADV, 0, 2);
    assert_eq!(owned(&r, &mut mem, 0x1_0004, 0xF_0010).from, 2);
    // Legacy descriptors keep DD in the status byte (12); the header address byte (8) is
    // a length there.
    let legacy = RxRing::new(Family::Ixgbe, 0x4000, 128 * 16, srrctl(2)).unwrap();
    let o = owned(&legacy, &mut mem, 4, 10);
    assert_eq!((o.from, o.owned, o.stop), (10, 128, OwnedStop::Tail));
    write_back(&mut mem, 0x4000, LEGACY, 0, 1);
    let o = owned(&legacy, &mut mem, 4, 10);
    assert_eq!((o.from, o.stop), (1, OwnedStop::WrittenBack));
    // Reserved descriptor types: DD is never trusted, the scan runs to the tail.
    let reserved = RxRing::new(Family::Ixgbe, 0x4000, 128 * 16, srrctl(7 << 25)).unwrap();
    assert!(!reserved.written_back(&[0xFF; 16]));
    let o = owned(&reserved, &mut mem, 4, 10);
    assert_eq!((o.from, o.owned, o.stop), (10, 128, OwnedStop::Tail));
    // The written-back test itself: DD and a length.
    let mut d = [0u8; 16];
    assert!(!r.written_back(&d) && !legacy.written_back(&d));
    d[8] = 1;
    assert!(!r.written_back(&d), "no length");
    d[13] = 2;
    assert!(r.written_back(&d) && !legacy.written_back(&d));
    let mut d = [0u8; 16];
    d[12] = 1;
    d[9] = 1;
    assert!(!r.written_back(&d) && legacy.written_back(&d));
    assert!(!legacy.written_back(&d[..12]));
    // ixgbevf posts by writing the packet address and clearing the length of the next
    // descriptor: DD stays set from the last write-back, and the descriptor is owned.
    write_back(&mut mem, 0x4000, ADV, 20, 30);
    for i in 25..30u64 {
        mem.write_u64(0x4000 + 16 * i, 0x3_0000_0000 + i * 0x1000);
        mem.write(0x4000 + 16 * i + 12, &[0, 0]);
    }
    let o = owned(&r, &mut mem, 30, 40);
    assert_eq!((o.from, o.pending, o.stop), (25, 5, OwnedStop::WrittenBack));
}
