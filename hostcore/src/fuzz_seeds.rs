// SPDX-License-Identifier: GPL-2.0

//! The seed corpus of the cargo-fuzz targets in `fuzz/`, built from the core's own encoder
//! and sample device state so that it can be regenerated when a format changes.
//!
//! `scripts/fuzz.sh` starts every target from `fuzz/seeds/<target>/` (kept in the repo) and
//! grows its working corpus in `fuzz/corpus/<target>/` (not kept). Regenerate the seeds with
//! `cargo run --example fuzz_seeds --features testing --manifest-path hostcore/Cargo.toml`;
//! the test below fails when the files differ from [`seeds`].
//!
//! Each seed is a valid input of its target that reaches a different part of the code: a
//! complete stream per mode of `stream_decode`, a ring per layout, wrap, unmapped page and
//! register corner of `ring_walk`, a range set per page size, placement and storage mode of
//! `dirty_set`.

use crate::pure::hw::family::SUPPORTED;
use crate::pure::stream::format::INITIAL_LEN;
use crate::pure::testing::mig::sample_stream;

/// A seed: file name and contents.
pub type Seed = (&'static str, Vec<u8>);

/// The fuzz targets, in the order [`seeds`] lists them.
pub const TARGETS: [&str; 3] = ["stream_decode", "ring_walk", "dirty_set"];

/// Little-endian byte builder.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
}

/// Index of the model with PCI device id `device` in [`SUPPORTED`].
fn model(device: u16) -> u8 {
    let i = SUPPORTED.iter().position(|m| m.device == device);
    i.and_then(|i| u8::try_from(i).ok()).unwrap_or(0)
}

fn stream_seeds() -> Vec<Seed> {
    let (igb, i350, x550, x82599) = (model(0x10CA), model(0x1520), model(0x1565), model(0x10ED));
    let sample = |m: u8| sample_stream(&SUPPORTED[usize::from(m)]);
    // Mode 3 (record edits): 82576 records are compat, dev, rx0, tx0, rx1, tx1, mbx, pf.
    let one_queue = Bytes::default()
        .u8(igb | 24 | igb << 5)
        .raw(&[0, 4, 0, 4]) // remove rx1, then tx1
        .raw(&[8, 0, 1, 9, 0, 1]); // the header carries one RX and one TX queue
    let optional = Bytes::default()
        .u8(x550 | 24 | x550 << 5)
        .raw(&[3, 4]) // insert before record 4
        .u16(0x0042)
        .raw(&[0, 3, 1, 2, 3]); // an unknown optional record of 3 bytes
    let body = sample(i350);
    vec![
        ("raw_82576", Bytes::default().u8(igb).raw(&sample(igb)).0),
        ("raw_x550", Bytes::default().u8(x550).raw(&sample(x550)).0),
        (
            "initial_only_82576",
            Bytes::default().u8(igb).raw(&sample(igb)[..INITIAL_LEN]).0,
        ),
        (
            "reended_i350",
            Bytes::default()
                .u8(i350 | 8)
                .raw(&body[..body.len() - 12])
                .0,
        ),
        ("byte_edits_82599", vec![x82599 | 16 | x82599 << 5]),
        ("records_one_queue_82576", one_queue.0),
        ("records_optional_x550", optional.0),
    ]
}

/// One RX descriptor in read format: packet and header buffer addresses.
fn desc(pkt: u64, hdr: u64) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&pkt.to_le_bytes());
    d[8..].copy_from_slice(&hdr.to_le_bytes());
    d
}

fn ring_seeds() -> Vec<Seed> {
    let one_buffer = 0x0200_0002; // advanced one-buffer, 2 KiB
    let split = 0x0A00_0000 | (2 << 8) | 4; // header split always, 128-byte headers, 4 KiB
    let descs = |n: u64, f: &dyn Fn(u64) -> [u8; 16]| -> Vec<u8> { (0..n).flat_map(f).collect() };
    vec![
        (
            // 256 descriptors, 16 posted in the middle, every page mapped.
            "one_buffer_igb",
            Bytes::default()
                .u8(1)
                .u32(one_buffer)
                .u16(31)
                .u64(0x1_0000_8000)
                .u32(10)
                .u32(26)
                .u32(0)
                .raw(&descs(16, &|i| desc(0x2_0000_0000 + i * 0x1000, 0)))
                .0,
        ),
        (
            // 512 descriptors from 128 bytes before a page boundary, the tail wrapping, the
            // second page unmapped; null, odd and top-of-space buffer addresses.
            "split_wrap_hole_ixgbe",
            Bytes::default()
                .u8(0)
                .u32(split)
                .u16(63)
                .u64(0x10_0F80)
                .u32(500)
                .u32(20)
                .u32(0b10)
                .raw(&desc(0x3_0000_0000, 0x4_0000_0000))
                .raw(&desc(0, 0x4_0000_0101))
                .raw(&desc(u64::MAX - 0x100, 0))
                .0,
        ),
        (
            // The largest ring, all but one descriptor posted: truncated and resumed.
            "maximal_truncated",
            Bytes::default()
                .u8(0x1C)
                .u32(one_buffer)
                .u64(0x40_0000)
                .u32(5)
                .u32(4)
                .u32(u32::MAX)
                .raw(&desc(0x1_0000_0000, 0))
                .0,
        ),
        (
            // Raw registers: a ring ending just below 2^64, a reserved descriptor type,
            // a tail with bits above the index mask.
            "raw_top_of_space",
            Bytes::default()
                .u8(0x22)
                .u32(7 << 25)
                .u64(0xFFFF_FFFF_FFFF_FF00)
                .u32(0x80)
                .u32(7)
                .u32(0x1_0003)
                .u32(0)
                .raw(&desc(u64::MAX - 0x10, 0x1000))
                .0,
        ),
        (
            // Raw registers the walker refuses: unaligned base and length.
            "raw_refused",
            Bytes::default()
                .u8(0x03)
                .u32(one_buffer)
                .u64(0x1040)
                .u32(100)
                .u32(1)
                .u32(2)
                .0,
        ),
    ]
}

/// A `dirty_set` mark operation on range `r` (model mode): page in the range, byte offset,
/// a small length.
fn mark(r: u8, page: u16, offset: u16, len: u16) -> Bytes {
    Bytes::default()
        .u8(r << 4)
        .u16(page)
        .u16(offset)
        .u8(16)
        .u16(len)
}

fn dirty_seeds() -> Vec<Seed> {
    // Two ranges of 64 and 128 4 KiB pages at page 0x100, one page apart.
    let mut ops = Bytes::default()
        .u8(1)
        .u16(0x100)
        .u8(0)
        .u16(63)
        .u8(1)
        .u16(127);
    for (r, page, off, len) in [(0, 1, 0x10, 2048), (0, 3, 0xFF0, 0x20), (1, 1, 0, 9000)] {
        ops = ops.raw(&mark(r, page, off, len).0);
    }
    let marks_reports_4k = ops
        .u8(0x15) // report range 1, window from page 1, 10 pages
        .u16(1)
        .u16(9)
        .u8(0x06) // invalid windows around range 0, and one derived
        .u16(70)
        .u16(3)
        .u8(0x04) // a mark at a raw IOVA, raw length
        .u64(0x10_1000)
        .u8(12)
        .u64(0x2000)
        .u8(0x07); // mark everything

    // One range of 2048 2 MiB pages in minimal storage: every other page marked, so the
    // set runs out of extents and coarsens.
    let mut small = Bytes::default().u8(0x44).u16(0).u8(0).u16(2047);
    for i in 0..60 {
        small = small.raw(&mark(0, 2 * i + 1, 0, 1).0);
    }
    // Four ranges of 1 GiB pages, the last ending at the top of the address space; a mark
    // running off the end, a raw window.
    let top = Bytes::default()
        .u8(0x7B)
        .u64(u64::MAX)
        .raw(&[0, 3, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0])
        .u8(0x34)
        .u64(0xFFFF_FFFF_9000_0000)
        .u8(12)
        .u64(u64::MAX)
        .u8(0x0E)
        .u64(0xFFFF_FFFF_C000_0000 - 0x4000_0000)
        .u64(0x4000_0000);
    // Raw ranges, 4 KiB pages: one aligned, one adjacent to it, one overlapping nothing;
    // then raw marks, reports and mark_all.
    let raw = Bytes::default()
        .u8(0x80)
        .u8(12)
        .u8(3)
        .u8(1)
        .u64(0x1000_0000)
        .u64(15)
        .u8(3)
        .u64(0)
        .u64(3)
        .u8(1)
        .u64(0xFFFF_FFFF_FFF0_0000)
        .u64(7)
        .u8(0x08) // mark anywhere
        .u64(0x1000_F800)
        .u8(16)
        .u16(0x20)
        .u8(0x12) // report inside range 1
        .u16(1)
        .u16(2)
        .u8(0x13) // mark everything
        .u8(0x0A) // raw window
        .u64(0x1001_0000)
        .u64(0x1000);
    let overlap = Bytes::default()
        .u8(0x80)
        .u8(16)
        .u8(2)
        .u8(1)
        .u64(0x10_0000)
        .u64(3)
        .u8(3 | 1 << 2)
        .u64(0)
        .u64(0);
    vec![
        ("marks_reports_4k", marks_reports_4k.0),
        ("small_storage_2m", small.0),
        ("top_of_space_1g", top.0),
        ("raw_ranges", raw.0),
        ("raw_overlap_refused", overlap.0),
        ("raw_too_many", vec![0x80, 12, 0xFF]),
    ]
}

/// The seeds of every target: `(target, [(file name, bytes)])`, in [`TARGETS`] order.
pub fn seeds() -> Vec<(&'static str, Vec<Seed>)> {
    let all = [stream_seeds(), ring_seeds(), dirty_seeds()];
    TARGETS.into_iter().zip(all).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::testing::dirty::fuzz_ring_walk;
    use crate::pure::testing::dirty::set::fuzz_dirty_set;
    use crate::pure::testing::mig::fuzz_stream_decode;

    #[test]
    fn seeds_reach_what_they_are_named_for() {
        let all = seeds();
        let stream = &all[0].1;
        let accepted: Vec<bool> = stream.iter().map(|s| fuzz_stream_decode(&s.1)).collect();
        // Every seed but the lone initial data is a stream the destination accepts.
        assert_eq!(accepted, [true, true, false, true, true, true, true]);
        let walks: Vec<_> = all[1].1.iter().map(|s| fuzz_ring_walk(&s.1)).collect();
        let w = |i: usize| walks[i].unwrap();
        assert_eq!((w(0).posted, w(0).buffers), (16, 16));
        assert!(w(1).unmapped > 0 && w(1).null_addrs > 0 && w(1).clipped_addrs > 0);
        assert!(w(2).truncated());
        assert_eq!(w(3).posted, 4);
        assert!(walks[4].is_none());
        let sets: Vec<(u64, u64)> = all[2].1.iter().map(|s| fuzz_dirty_set(&s.1)).collect();
        assert!(sets[0].0 > 0 && sets[0].1 == 0, "{:?}", sets[0]);
        assert!(sets[1].1 > 0, "coarsened: {:?}", sets[1]);
        assert!(sets[2].0 > 0 && sets[3].0 > 0, "{sets:?}");
        assert_eq!((sets[4], sets[5]), ((0, 0), (0, 0)));
    }

    /// The committed files are what [`seeds`] generates.
    #[test]
    fn committed_seeds_are_up_to_date() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        for (target, files) in seeds() {
            let mut names: Vec<String> = std::fs::read_dir(dir.join(target))
                .unwrap_or_else(|e| panic!("{target}: {e}"))
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            let mut want: Vec<&str> = files.iter().map(|f| f.0).collect();
            want.sort();
            assert_eq!(
                names, want,
                "{target}: regenerate with the fuzz_seeds example"
            );
            for (name, bytes) in files {
                let on_disk = std::fs::read(dir.join(target).join(name)).unwrap();
                assert!(on_disk == bytes, "{target}/{name}: regenerate the seeds");
            }
        }
    }
}
