// SPDX-License-Identifier: GPL-2.0

//! Host tests of [`super`] (`set.rs`), in their own file to keep that one short.

use super::*;
use crate::pure::dirty::ranges::MAX_RANGES;

const GIB: u64 = 1 << 30;

fn set(storage: usize, page: u64, ranges: &[(u64, u64)]) -> DirtySet<Vec<Extent>> {
    let spans = ranges.iter().map(|&(iova, len)| Span { iova, len });
    DirtySet::new(vec![Extent::EMPTY; storage], page, spans).unwrap()
}

fn report(s: &mut DirtySet<Vec<Extent>>, iova: u64, len: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    s.report_and_clear(iova, len, |a, n| out.push((a, n)))
        .unwrap();
    out
}

#[test]
fn min_storage_is_enough_for_every_range_count() {
    for nr in 1..=MAX_RANGES {
        let spans = (0..nr as u64).map(|i| Span {
            iova: i * 0x2000,
            len: 0x1000,
        });
        let need = min_storage(nr);
        assert!(DirtySet::new(vec![Extent::EMPTY; need], 4096, spans.clone()).is_ok());
        let r = DirtySet::new(vec![Extent::EMPTY; need - 1], 4096, spans);
        assert_eq!(r.err(), Some(DirtyError::StorageTooSmall), "{nr}");
    }
}

#[test]
fn marks_merge_and_clip() {
    let mut s = set(1024, 4096, &[(0x10000, 0x10000), (0x40000, 0x4000)]);
    s.mark(0x10010, 8); // page 0x10
    s.mark(0x10010, 8); // repeated
    s.mark(0x11FFF, 2); // pages 0x11 and 0x12: adjacent, merges
    s.mark(0x8000, 0x9000); // clipped: only page 0x10 inside
    s.mark(0, 0x1000); // outside
    s.mark(0x3F000, 0x2000); // clipped to page 0x40
    s.mark(0x43FFF, u64::MAX); // runs off the end of the address space: page 0x43
    s.mark(0x50000, 0); // empty
    assert_eq!(s.dirty_pages(), 5);
    let st = s.stats();
    assert_eq!((st.marks, st.outside, st.clipped), (8, 1, 3));
    assert_eq!(report(&mut s, 0x10000, 0x10000), [(0x10000, 3)]);
    assert_eq!(
        report(&mut s, 0x40000, 0x4000),
        [(0x40000, 1), (0x43000, 1)]
    );
    assert_eq!(s.dirty_pages(), 0);
    assert_eq!(s.stats().reported_pages, 5);
}

#[test]
fn report_clears_exactly_the_window() {
    let mut s = set(1024, 4096, &[(0, 0x100_0000)]);
    s.mark(0x1000, 0x9000); // pages 1..10
                            // A window in the middle splits the extent.
    assert_eq!(report(&mut s, 0x4000, 0x2000), [(0x4000, 2)]);
    assert_eq!(report(&mut s, 0x4000, 0x2000), []);
    assert_eq!(s.dirty_pages(), 7);
    assert_eq!(report(&mut s, 0, 0x5000), [(0x1000, 3)]);
    assert_eq!(report(&mut s, 0x6000, 0x10000), [(0x6000, 4)]);
    assert_eq!(s.dirty_pages(), 0);
    // Invalid windows change nothing.
    s.mark(0x2000, 1);
    let mut called = false;
    let e = s.report_and_clear(0xFF_F000, 0x2000, |_, _| called = true);
    assert_eq!(e, Err(DirtyError::NotInRange));
    assert!(!called);
    // An unaligned window reports the pages it touches (QEMU's MSI-X area case).
    assert_eq!(report(&mut s, 0x2000, 0x800), [(0x2000, 1)]);
    s.mark(0x3000, 0x2000);
    assert_eq!(report(&mut s, 0x3800, 0x10), [(0x3000, 1)]);
    assert_eq!(
        s.report_and_clear(0x3800, 0, |_, _| ()),
        Err(DirtyError::ZeroLength)
    );
    assert_eq!(report(&mut s, 0, 0x100_0000), [(0x4000, 1)]);
    assert_eq!(
        s.report_and_clear(!0xFFF, 0x1001, |_, _| ()),
        Err(DirtyError::Overflow)
    );
}

#[test]
fn clip_keeps_a_run_inside_the_window() {
    assert_eq!(clip(0x1000, 4, 12, 0x1000, 0x3fd0), (0x1000, 0x3fd0));
    assert_eq!(clip(0x1000, 1, 12, 0x1800, 0x100), (0x1800, 0x100));
    assert_eq!(clip(0x1000, 2, 12, 0, 0x10_0000), (0x1000, 0x2000));
    assert_eq!(clip(!0xFFF, 1, 12, 0, u64::MAX), (!0xFFF, 0xFFF));
}

#[test]
fn report_cost_does_not_depend_on_range_size() {
    // 64 GiB of 4 KiB pages, a few dirty pages: the report touches the extents only.
    let mut s = set(1024, 4096, &[(0, 64 * GIB)]);
    for i in 0..100u64 {
        s.mark(i * 640 * 1024 * 1024 + 5, 1);
    }
    let mut runs = 0;
    let pages = s.report_and_clear(0, 64 * GIB, |_, n| runs += n).unwrap();
    assert_eq!((pages, runs), (100, 100));
}

#[test]
fn page_sizes() {
    for page in [4096u64, 65536, 2 << 20] {
        let mut s = set(1024, page, &[(0, 1024 * page), (2048 * page, 16 * page)]);
        s.mark(page + 1, 1);
        s.mark(3 * page - 1, 2); // straddles pages 2 and 3
        s.mark(2048 * page + 15 * page, 4 * page); // clipped at the range end
        assert_eq!(report(&mut s, 0, 1024 * page), [(page, 3)]);
        assert_eq!(report(&mut s, 2048 * page, 16 * page), [(2063 * page, 1)]);
        assert_eq!(s.ranges().locate(2049 * page + 7), Some((1, 1)));
    }
}

#[test]
fn overflow_coarsens_without_losing_pages() {
    let nr = 1;
    let storage = min_storage(nr);
    let mut s = set(storage, 4096, &[(0, GIB)]);
    // Every other page: no two marks merge, far more extents than slots.
    let pages: Vec<u64> = (0..2000u64).map(|i| 2 * i * 7 + 1).collect();
    for &p in &pages {
        s.mark(p << 12, 4096);
    }
    assert!(s.stats().coarsenings > 0);
    let mut got = Vec::new();
    s.report_and_clear(0, GIB, |a, n| got.extend((a >> 12)..(a >> 12) + n))
        .unwrap();
    for p in &pages {
        assert!(got.binary_search(p).is_ok(), "page {p} lost");
    }
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.dirty_pages(), 0);
}

#[test]
fn mark_all_covers_every_range() {
    let mut s = set(
        1024,
        4096,
        &[(0, 0x4000), (0x4000, 0x2000), (0x10000, 0x1000)],
    );
    s.mark(0x1000, 1);
    s.mark_all();
    assert_eq!(s.dirty_pages(), 7);
    assert_eq!(report(&mut s, 0x4000, 0x1000), [(0x4000, 1)]);
    assert_eq!(report(&mut s, 0, 0x4000), [(0, 4)]);
    assert_eq!(report(&mut s, 0x4000, 0x2000), [(0x5000, 1)]);
    assert_eq!(report(&mut s, 0x10000, 0x1000), [(0x10000, 1)]);
}

#[test]
fn sets_are_sinks_over_any_storage() {
    fn feed(sink: &mut impl DirtySink) {
        sink.mark(0x2000, 0x10);
    }
    let mut s = set(1024, 4096, &[(0, 0x10000)]);
    feed(&mut s);
    assert_eq!(s.dirty_pages(), 1);
    // Borrowed storage works too.
    let mut store = [Extent::EMPTY; 128];
    let mut b = DirtySet::new(
        &mut store[..],
        4096,
        [Span {
            iova: 0,
            len: 0x1000,
        }],
    )
    .unwrap();
    b.mark(0, 1);
    assert_eq!(b.dirty_pages(), 1);
}

#[test]
fn merge_back_and_splice_helpers() {
    let e = |s, t| Extent { start: s, end: t };
    let mut list = [
        e(1, 2),
        e(5, 6),
        e(9, 10),
        Extent::EMPTY,
        Extent::EMPTY,
        Extent::EMPTY,
    ];
    let n = merge_back(&mut list, 3, &[e(0, 1), e(6, 9), e(20, 21)]).unwrap();
    assert_eq!(&list[..n], &[e(0, 2), e(5, 10), e(20, 21)]);
    // An extent of one list bridging two of the other.
    let mut l2 = [e(4, 9), Extent::EMPTY, Extent::EMPTY];
    assert_eq!(merge_back(&mut l2, 1, &[e(5, 6), e(8, 10)]), Some(1));
    assert_eq!(l2[0], e(4, 10));
    let mut l3 = [e(5, 6), e(8, 10), Extent::EMPTY];
    assert_eq!(merge_back(&mut l3, 2, &[e(4, 9)]), Some(1));
    assert_eq!(l3[0], e(4, 10));
    assert_eq!(merge_back(&mut list, 5, &[e(30, 31), e(40, 41)]), None);
    let n = splice(&mut list, 3, 1..2, &[e(5, 6), e(8, 10)]);
    assert_eq!(&list[..n], &[e(0, 2), e(5, 6), e(8, 10), e(20, 21)]);
    let n = splice(&mut list, n, 0..3, &[]);
    assert_eq!(&list[..n], &[e(20, 21)]);
    let mut p = [e(7, 8), e(1, 3), e(3, 4), e(2, 5), e(9, 9 + 1)];
    let k = coalesce(&mut p);
    assert_eq!(&p[..k], &[e(1, 5), e(7, 8), e(9, 10)]);
}
