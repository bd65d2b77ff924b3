// SPDX-License-Identifier: GPL-2.0

//! BAR0 region info and mmap policy while RX tail registers are trapped.
//!
//! Software dirty tracking must see every RX tail (RDT) write, so the BAR0 pages holding RX
//! tails are left out of the region's sparse-mmap capability: userspace (QEMU) mmaps the rest
//! and reaches the trapped pages through `read`/`write` on the device fd, where the chained
//! write handler sees them. QEMU reads region info once, so this is decided at bind time (the
//! `dirty_tracking` module parameter), never switched on later. `mmap` of a range that covers
//! a trapped page is refused, or the trap could be bypassed.

use crate::pure::bytes::{NoSpace, Writer};
use crate::pure::hw::pages::PageSet;
use crate::pure::hw::regs::BAR0_PAGE_SIZE;

/// `sizeof(struct vfio_region_info)`.
pub const REGION_INFO_LEN: usize = 32;
/// `VFIO_REGION_INFO_CAP_SPARSE_MMAP`.
pub const CAP_SPARSE_MMAP: u16 = 1;
/// Most mmappable areas a 16 KiB BAR0 can split into (every other page trapped).
pub const MAX_AREAS: usize = 3;
/// `sizeof(struct vfio_region_info_cap_sparse_mmap)` with no areas.
pub const CAP_HEADER_LEN: usize = 16;
/// `sizeof(struct vfio_region_sparse_mmap_area)`.
pub const AREA_LEN: usize = 16;
/// Largest reply: info, cap header, areas.
pub const MAX_REPLY_LEN: usize = REGION_INFO_LEN + CAP_HEADER_LEN + MAX_AREAS * AREA_LEN;

/// `VFIO_REGION_INFO_FLAG_READ | WRITE | MMAP | CAPS`.
const FLAG_READ: u32 = 1 << 0;
const FLAG_WRITE: u32 = 1 << 1;
const FLAG_MMAP: u32 = 1 << 2;
const FLAG_CAPS: u32 = 1 << 3;

/// vfio-pci's offset of region `index` in the device fd.
const fn region_offset(index: u32) -> u64 {
    (index as u64) << crate::pure::dirty::access::OFFSET_SHIFT
}

/// Writes a reply into `out`: `struct vfio_region_info` (`argsz`, `flags`, `index` 0,
/// `cap_offset`, `size`, `offset`), then, given `areas`, the sparse-mmap capability right
/// after it.
fn write_reply(
    out: &mut [u8],
    argsz: u32,
    flags: u32,
    cap_offset: u32,
    bar_len: u64,
    areas: Option<&[(u64, u64)]>,
) -> Result<(), NoSpace> {
    let mut w = Writer::new(out);
    w.u32(argsz)?;
    w.u32(flags)?;
    w.u32(0)?;
    w.u32(cap_offset)?;
    w.u64(bar_len)?;
    w.u64(region_offset(0))?;
    if let Some(areas) = areas {
        // Header {id, version 1, next 0}, nr_areas, reserved, then {offset, size} per area.
        w.u16(CAP_SPARSE_MMAP)?;
        w.u16(1)?;
        w.u32(0)?;
        // CAST: at most MAX_AREAS areas.
        w.u32(areas.len() as u32)?;
        w.u32(0)?;
        for &(off, len) in areas {
            w.u64(off)?;
            w.u64(len)?;
        }
    }
    Ok(())
}

/// Builds the `VFIO_DEVICE_GET_REGION_INFO` reply for BAR0 (`index` 0) of `bar_len` bytes
/// whose pages in `trapped` must not be mmapped. `argsz` is what userspace provided; as the
/// uAPI prescribes, a buffer too small for the capability gets `argsz` = the size needed and
/// no capability (userspace asks again). Returns the reply and how many bytes to copy out.
pub fn bar0_info(
    argsz: u32,
    bar_len: u64,
    mmap: bool,
    trapped: &PageSet,
) -> ([u8; MAX_REPLY_LEN], usize) {
    let mut out = [0u8; MAX_REPLY_LEN];
    let mut flags = FLAG_READ | FLAG_WRITE;
    let mut areas = [(0u64, 0u64); MAX_AREAS];
    let mut n = 0;
    if mmap {
        flags |= FLAG_MMAP;
        for (off, len) in trapped.complement_runs() {
            // Areas beyond BAR0's register map (a larger BAR) stay mappable.
            if let Some(slot) = areas.get_mut(n) {
                *slot = (u64::from(off), u64::from(len));
                n += 1;
            }
        }
        let covered = areas.iter().take(n).map(|a| a.0 + a.1).max().unwrap_or(0);
        if bar_len > covered {
            // The map covers the first BAR0_SIZE bytes; anything after is plain registers.
            if let Some(last) = areas.get_mut(n.saturating_sub(1)) {
                if n > 0 && last.0 + last.1 == covered {
                    last.1 = bar_len - last.0;
                }
            }
        }
    }
    let caps_len = if mmap && !trapped.is_empty() {
        CAP_HEADER_LEN + n * AREA_LEN
    } else {
        0
    };
    let needed = REGION_INFO_LEN + caps_len;
    let mut copy = REGION_INFO_LEN;
    let mut cap_offset = 0;
    let mut reply_argsz = argsz;
    let mut cap = None;
    if caps_len > 0 {
        flags |= FLAG_CAPS;
        if (argsz as usize) < needed {
            // CAST: `needed` <= MAX_REPLY_LEN.
            reply_argsz = needed as u32;
        } else {
            // CAST: REGION_INFO_LEN is 32.
            cap_offset = REGION_INFO_LEN as u32;
            copy = needed;
            cap = areas.get(..n);
        }
    }
    // Cannot fail: the reply is at most MAX_REPLY_LEN bytes, the size of `out`.
    let _ = write_reply(&mut out, reply_argsz, flags, cap_offset, bar_len, cap);
    (out, copy)
}

/// Whether an mmap of `len` bytes at `offset` into BAR0 stays clear of the trapped pages.
pub fn mmap_allowed(offset: u64, len: u64, trapped: &PageSet) -> bool {
    let Some(end) = offset.checked_add(len) else {
        return false;
    };
    let page = u64::from(BAR0_PAGE_SIZE);
    let mut p = offset - offset % page;
    while p < end {
        if trapped.contains(p) {
            return false;
        }
        p += page;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::hw::family::VfModel;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    fn igb_trapped() -> PageSet {
        VfModel::from_ids(0x8086, 0x10CA)
            .unwrap()
            .regs()
            .rx_tail_pages()
    }

    #[test]
    fn small_argsz_asks_for_more() {
        let (b, n) = bar0_info(32, 0x4000, true, &igb_trapped());
        assert_eq!(n, REGION_INFO_LEN);
        assert_eq!(u32_at(&b, 0) as usize, REGION_INFO_LEN + 16 + 2 * 16);
        assert_eq!(
            u32_at(&b, 4),
            FLAG_READ | FLAG_WRITE | FLAG_MMAP | FLAG_CAPS
        );
        assert_eq!(u32_at(&b, 12), 0, "no cap offset without room for the cap");
        assert_eq!(u64_at(&b, 16), 0x4000);
        assert_eq!(u64_at(&b, 24), 0);
    }

    #[test]
    fn sparse_areas_skip_the_rx_tail_page() {
        let (b, n) = bar0_info(256, 0x4000, true, &igb_trapped());
        assert_eq!(n, 32 + 16 + 32);
        assert_eq!(u32_at(&b, 0), 256);
        assert_eq!(u32_at(&b, 12), 32);
        assert_eq!(u32_at(&b, 32) & 0xFFFF, u32::from(CAP_SPARSE_MMAP));
        assert_eq!(u32_at(&b, 40), 2);
        // igb: RDT of queue 0 and 1 live in the 0x2000 page.
        assert_eq!((u64_at(&b, 48), u64_at(&b, 56)), (0, 0x2000));
        assert_eq!((u64_at(&b, 64), u64_at(&b, 72)), (0x3000, 0x1000));
    }

    #[test]
    fn nothing_trapped_or_no_mmap_means_no_caps() {
        let (b, n) = bar0_info(256, 0x4000, true, &PageSet::new());
        assert_eq!(n, 32);
        assert_eq!(u32_at(&b, 4), FLAG_READ | FLAG_WRITE | FLAG_MMAP);
        let (b, n) = bar0_info(256, 0x4000, false, &igb_trapped());
        assert_eq!(n, 32);
        assert_eq!(u32_at(&b, 4), FLAG_READ | FLAG_WRITE);
    }

    #[test]
    fn mmap_policy() {
        let t = igb_trapped();
        assert!(mmap_allowed(0, 0x2000, &t));
        assert!(mmap_allowed(0x3000, 0x1000, &t));
        assert!(!mmap_allowed(0, 0x4000, &t));
        assert!(!mmap_allowed(0x2000, 0x1000, &t));
        assert!(!mmap_allowed(0x1000, 0x1001, &t));
        assert!(!mmap_allowed(u64::MAX, 2, &t));
        assert!(mmap_allowed(0, 0x4000, &PageSet::new()));
    }
}
