// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the software dirty tracking core (not a test).
//!
//! Prints the cost of `DMA_LOGGING_REPORT` over a 64 GiB and a 16 GiB tracked range holding
//! the same number of dirty pages (the cost must follow the dirty pages, not the range size),
//! and the cost of the RX tail trap per posted descriptor, walking a ring 16 descriptors at
//! a time like `ixgbevf` posts them, marking into a dirty set.
//!
//! Run: `cargo run --release --example dirty_bench --manifest-path hostcore/Cargo.toml`
//! (the `testing` feature is not needed).

use std::hint::black_box;
use std::time::{Duration, Instant};

use vfio_ixgbevf_mig_core::pure::dirty::ranges::{Extent, Span};
use vfio_ixgbevf_mig_core::pure::dirty::ring::{GuestMem, RxRing, Unmapped};
use vfio_ixgbevf_mig_core::pure::dirty::set::DirtySet;
use vfio_ixgbevf_mig_core::pure::hw::family::Family;
use vfio_ixgbevf_mig_core::pure::hw::fields::Srrctl;

const GIB: u64 = 1 << 30;
const PAGE: u64 = 4096;
/// Storage slots given to the dirty set (1 MiB).
const SLOTS: usize = 1 << 16;

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Mean time of one `report_and_clear` over `[0, range)` with `dirty` random dirty pages.
fn report_time(range: u64, dirty: usize, rounds: u32) -> Duration {
    let spans = [Span {
        iova: 0,
        len: range,
    }];
    let mut set = DirtySet::new(vec![Extent::EMPTY; SLOTS], PAGE, spans).unwrap();
    let mut next = rng(0x5EED ^ range);
    let mut total = Duration::ZERO;
    for _ in 0..rounds {
        for _ in 0..dirty {
            set.mark((next() % (range / PAGE)) * PAGE, PAGE);
        }
        let start = Instant::now();
        let mut pages = 0;
        set.report_and_clear(0, range, |_, n| pages += n).unwrap();
        total += start.elapsed();
        assert!(pages as usize <= dirty && pages as usize > dirty * 9 / 10);
    }
    total / rounds
}

/// What a bitmap-based tracker would at least do per report: read one bit per page.
fn bitmap_scan_time(range: u64) -> Duration {
    let words = vec![0u64; (range / PAGE / 64) as usize];
    let start = Instant::now();
    let ones: u32 = black_box(&words).iter().map(|w| w.count_ones()).sum();
    black_box(ones);
    start.elapsed()
}

/// A contiguous ring in guest memory.
struct RingMem {
    base: u64,
    bytes: Vec<u8>,
}

impl GuestMem for RingMem {
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        let off = iova.checked_sub(self.base).ok_or(Unmapped)? as usize;
        let src = self.bytes.get(off..off + buf.len()).ok_or(Unmapped)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl RingMem {
    /// Points every descriptor at a random 2 KiB buffer inside `[0, range)`.
    fn post(&mut self, next: &mut impl FnMut() -> u64, range: u64) {
        for desc in self.bytes.chunks_exact_mut(16) {
            let buf = (next() % (range / 2048)) * 2048;
            desc[..8].copy_from_slice(&buf.to_le_bytes());
            desc[8..].copy_from_slice(&0u64.to_le_bytes());
        }
    }
}

/// Mean walk time per descriptor: `laps` laps around a 4096-descriptor ring, 16
/// descriptors per tail write. With `fresh`, every lap posts new buffer addresses (a report
/// between laps, not timed); otherwise the guest recycles the same buffers.
fn walk_time(fresh: bool, laps: u32) -> Duration {
    const COUNT: u32 = 4096;
    let range = 16 * GIB;
    let spans = [Span {
        iova: 0,
        len: range,
    }];
    let mut set = DirtySet::new(vec![Extent::EMPTY; SLOTS], PAGE, spans).unwrap();
    let base = 0x1_0000_0000;
    let mut mem = RingMem {
        base,
        bytes: vec![0; (COUNT * 16) as usize],
    };
    let mut next = rng(0xD1E7);
    mem.post(&mut next, range);
    // ixgbevf_setup_srrctl(): 2 KiB buffers, advanced one-buffer descriptors.
    let srrctl = Srrctl::from_raw(0x0200_0002);
    let ring = RxRing::new(Family::Ixgbe, base, COUNT * 16, srrctl).unwrap();
    let mut total = Duration::ZERO;
    for _ in 0..laps {
        if fresh {
            mem.post(&mut next, range);
            set.report_and_clear(0, range, |_, _| ()).unwrap();
        }
        let start = Instant::now();
        for step in 0..COUNT / 16 {
            let from = step * 16;
            let w = ring
                .walk(from, (from + 16) % COUNT, &mut mem, &mut set)
                .unwrap();
            debug_assert_eq!(w.walked, 16);
        }
        total += start.elapsed();
    }
    total / (laps * COUNT)
}

fn main() {
    let dirty = 1000;
    let rounds = 200;
    let big = report_time(64 * GIB, dirty, rounds);
    let small = report_time(16 * GIB, dirty, rounds);
    println!("report {dirty} dirty 4 KiB pages over 64 GiB: {big:>10.2?} per report");
    println!("report {dirty} dirty 4 KiB pages over 16 GiB: {small:>10.2?} per report");
    println!(
        "ratio 64 GiB / 16 GiB: {:.2} (range 4x larger; a bitmap scan would be 4x slower)",
        big.as_secs_f64() / small.as_secs_f64()
    );
    println!(
        "for scale, only reading a 64 GiB dirty bitmap: {:>10.2?}",
        bitmap_scan_time(64 * GIB)
    );
    let recycled = walk_time(false, 200);
    let fresh = walk_time(true, 20);
    println!("RX tail trap walk, recycled buffers: {recycled:>8.2?} per posted descriptor");
    println!("RX tail trap walk, fresh buffers:    {fresh:>8.2?} per posted descriptor");
}
