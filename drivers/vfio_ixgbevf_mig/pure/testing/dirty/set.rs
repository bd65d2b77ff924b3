// SPDX-License-Identifier: GPL-2.0

//! The `dirty_set` fuzz target's body, [`fuzz_dirty_set`]: the dirty set against a
//! brute-force model (see [`super`] for the ring walker's). Host tests and fuzzing only.

use crate::pure::dirty::ranges::{Extent, Span, MAX_RANGES};
use crate::pure::dirty::set::{min_storage, DirtySet};

use super::Input;

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
    use crate::pure::testing::dirty::rng;

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
}
