// SPDX-License-Identifier: GPL-2.0

//! Sets of BAR0 pages: which pages stay trapped, which may be mapped into userspace.
//!
//! The RX tail registers must be trapped from the first region-info query on (QEMU reads the
//! sparse mmap layout once; a page zapped later would SIGBUS it), so the driver leaves the
//! pages of [`super::map::RegMap::rx_tail_pages`] out of the sparse mmap and maps the
//! [`PageSet::complement_runs`]. Pages are [`BAR0_PAGE_SIZE`] (4 KiB); a host with a larger
//! `PAGE_SIZE` must round the trapped set outward.

use crate::pure::hw::regs::{RegOffset, BAR0_PAGES, BAR0_PAGE_SIZE};

/// A set of [`BAR0_PAGE_SIZE`] pages of BAR0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageSet {
    /// Bit `n` set: page `n` (offset `n * BAR0_PAGE_SIZE`) is in the set.
    bits: u8,
}

const _: () = assert!(BAR0_PAGES <= u8::BITS);

impl PageSet {
    /// The empty set.
    pub const fn new() -> Self {
        PageSet { bits: 0 }
    }

    /// Adds the page holding `off`.
    pub fn insert(&mut self, off: RegOffset) {
        // No overflow: `off < BAR0_SIZE`, so the page number is below BAR0_PAGES <= 8.
        self.bits |= 1 << (off.get() / BAR0_PAGE_SIZE);
    }

    /// Whether the page holding BAR0 byte `offset` is in the set.
    pub fn contains(&self, offset: u64) -> bool {
        match u32::try_from(offset / u64::from(BAR0_PAGE_SIZE)) {
            Ok(page) if page < BAR0_PAGES => self.bits & (1 << page) != 0,
            _ => false,
        }
    }

    /// Whether any byte of `[offset, offset + len)` lies on a page of the set (a length of
    /// 0 touches nothing; a range past the end of the address space is cut there).
    pub fn touches(&self, offset: u64, len: u64) -> bool {
        let Some(last) = len.checked_sub(1) else {
            return false;
        };
        let page = u64::from(BAR0_PAGE_SIZE);
        let first = offset / page;
        let last = offset.saturating_add(last) / page;
        (first..=last.min(u64::from(BAR0_PAGES)))
            .any(|p| p < u64::from(BAR0_PAGES) && self.bits & (1 << p) != 0)
    }

    /// Number of pages in the set.
    #[cfg(any(test, feature = "testing"))]
    pub fn len(&self) -> usize {
        // CAST: at most 8, lossless.
        self.bits.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Offsets of the pages in the set, ascending.
    #[cfg(any(test, feature = "testing"))]
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..BAR0_PAGES)
            .filter(move |p| self.bits & (1 << p) != 0)
            .map(|p| p * BAR0_PAGE_SIZE)
    }

    /// Maximal `(offset, length)` runs of BAR0 *outside* the set, ascending: the areas of a
    /// sparse mmap that leaves the set's pages trapped.
    pub fn complement_runs(&self) -> ComplementRuns {
        ComplementRuns {
            bits: self.bits,
            page: 0,
        }
    }
}

/// Iterator over the runs of BAR0 outside a [`PageSet`], see [`PageSet::complement_runs`].
#[derive(Clone, Debug)]
pub struct ComplementRuns {
    bits: u8,
    page: u32,
}

impl Iterator for ComplementRuns {
    type Item = (u32, u32);

    fn next(&mut self) -> Option<(u32, u32)> {
        let in_set = |p: u32| self.bits & (1 << p) != 0;
        while self.page < BAR0_PAGES && in_set(self.page) {
            self.page += 1;
        }
        if self.page >= BAR0_PAGES {
            return None;
        }
        let start = self.page;
        while self.page < BAR0_PAGES && !in_set(self.page) {
            self.page += 1;
        }
        Some((start * BAR0_PAGE_SIZE, (self.page - start) * BAR0_PAGE_SIZE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pages: &[u32]) -> PageSet {
        let mut s = PageSet::new();
        for &p in pages {
            s.insert(RegOffset::new(u64::from(p)).unwrap());
        }
        s
    }

    fn runs(s: PageSet) -> Vec<(u32, u32)> {
        s.complement_runs().collect()
    }

    #[test]
    fn empty_set_maps_everything() {
        let s = PageSet::new();
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
        assert_eq!(s.iter().count(), 0);
        assert_eq!(runs(s), [(0, 0x4000)]);
        assert_eq!(s, PageSet::default());
    }

    #[test]
    fn touches_any_page_of_a_range() {
        let s = set(&[2 * BAR0_PAGE_SIZE]);
        let p = u64::from(BAR0_PAGE_SIZE);
        assert!(!s.touches(2 * p, 0));
        assert!(s.touches(2 * p, 1));
        assert!(s.touches(2 * p - 1, 2), "straddles into the page");
        assert!(!s.touches(2 * p - 4, 4), "ends just below");
        assert!(s.touches(0, 64 * p), "a long write from page 0");
        assert!(!s.touches(3 * p, u64::MAX), "starts above, runs to the end");
        assert!(s.touches(2 * p + 8, u64::MAX));
        assert!(!s.touches(u64::MAX - 3, 4));
        assert!(!PageSet::new().touches(0, u64::MAX));
    }

    #[test]
    fn insert_and_contains() {
        let s = set(&[0x2818, 0x2918, 0x2ffc]);
        assert_eq!(s.len(), 1);
        assert!(s.contains(0x2000) && s.contains(0x2fff));
        assert!(!s.contains(0x1fff) && !s.contains(0x3000));
        assert!(!s.contains(0x4000) && !s.contains(u64::MAX));
        assert_eq!(s.iter().collect::<Vec<_>>(), [0x2000]);
    }

    #[test]
    fn complement_runs_cover_the_rest() {
        assert_eq!(runs(set(&[0x2818])), [(0, 0x2000), (0x3000, 0x1000)]);
        assert_eq!(runs(set(&[0x1018])), [(0, 0x1000), (0x2000, 0x2000)]);
        assert_eq!(runs(set(&[0, 0x3000])), [(0x1000, 0x2000)]);
        assert_eq!(
            runs(set(&[0x1000, 0x3000])),
            [(0, 0x1000), (0x2000, 0x1000)]
        );
        assert_eq!(runs(set(&[0, 0x1000, 0x2000, 0x3000])), []);
    }

    #[test]
    fn runs_and_pages_partition_bar0() {
        for bits in 0..16u32 {
            let pages: Vec<u32> = (0..4)
                .filter(|p| bits & (1 << p) != 0)
                .map(|p| p * 0x1000)
                .collect();
            let s = set(&pages);
            assert_eq!(s.iter().collect::<Vec<_>>(), pages);
            let mut covered = [false; 4];
            for (off, len) in s.complement_runs() {
                assert!(len > 0 && off % 0x1000 == 0 && len % 0x1000 == 0);
                for p in off / 0x1000..(off + len) / 0x1000 {
                    assert!(!covered[p as usize]);
                    covered[p as usize] = true;
                }
            }
            for p in 0..4u32 {
                assert_eq!(covered[p as usize], !s.contains(u64::from(p) * 0x1000));
            }
        }
    }
}
