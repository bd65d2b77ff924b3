// SPDX-License-Identifier: GPL-2.0

//! The RX ring walker: which guest memory the device may write for newly posted RX
//! descriptors.
//!
//! # Where the VF writes guest memory
//!
//! 1. RX buffers: the packet (and, with header split, header) buffer addresses of every RX
//!    descriptor the guest posts. The device overwrites the descriptor with its write-back
//!    format when it is done, so the addresses are gone by report time: they are captured
//!    when posted. The RX queue registers are trapped from the start, the chained write
//!    handler sees every RX tail write and, while logging, calls [`RxRing::walk`] over the
//!    descriptors the write posts *before* forwarding it (the device cannot fetch a
//!    descriptor before the tail covers it). At `DMA_LOGGING_START` the shell walks the
//!    descriptors already owned by the device, `RDH..RDT`: a descriptor found still in read
//!    format is marked; one already written back had its buffer written before the walk,
//!    i.e. before the start ioctl returned, which the first pre-copy pass copies anyway.
//!    This relies on the guest leaving descriptors alone while the device owns them, as the
//!    datasheets require (a guest that rewrites a posted descriptor races the device's
//!    descriptor prefetch and only corrupts its own receive path).
//! 2. RX descriptor write-back into the RX ring, and 3. TX write-back: descriptor DD bits
//!    into the TX ring (QEMU `igb_txdesc_writeback`) or the 4-byte head at `TDWBAH:TDWBAL`
//!    (`E1000_TX_HEAD_WB_ENABLE`). These areas depend only on the ring registers, not on what
//!    the guest posts, so the shell marks the [`super::areas`] of every queue at each report
//!    instead of on every write. Ring registers can change between reports: the RX ones are
//!    on the trapped page, so the trap marks the old RX ring when `RDBAL`/`RDBAH`/`RDLEN`
//!    change; the TX ones are not trapped, so the shell also marks the TX areas it computed
//!    at the previous report (a TX ring used and moved again within one report interval is
//!    the one case this cannot see).
//!
//! # Hostile rings
//!
//! The ring is guest memory: every descriptor is untrusted. The walker reads through
//! [`GuestMem`] (the device's IOMMU view in the kernel) in batches of up to
//! [`BATCH_DESCS`] descriptors that never cross a 4 KiB boundary, skips and counts
//! descriptors on unmapped pages (the device cannot fetch them either), never walks more
//! than the ring or [`MAX_WALK_DESCS`] per call, and uses checked arithmetic throughout.
//! Registers outside what the hardware can hold are refused with a [`RingError`]; the shell
//! then marks everything ([`super::dirty::DirtySet::mark_all`]), the only safe answer when
//! the device's behaviour is unknown.
//!
//! C counterparts: `union e1000_adv_rx_desc` (`igbvf/vf.h`), `union ixgbe_adv_rx_desc`
//! (`ixgbevf/defines.h`), `igb_read_rx_descr()` and `igb_write_packet_to_guest()` in QEMU's
//! `hw/net/igb_core.c`.

use core::fmt;

use super::family::Family;
use super::fields::{DescType, Srrctl};
use super::ranges::{DirtySink, Span};

/// Bytes per RX or TX descriptor (legacy and advanced formats alike).
pub const DESC_LEN: u32 = 16;

/// Alignment of ring bases and lengths: `RDBAL`/`RDLEN` bits 6:0 read as zero (the register
/// self-tests of igb and ixgbevf write `0xFFFFFF80` and `0x000FFF80` patterns).
pub const RING_ALIGN: u32 = 128;

/// Largest ring length in bytes: `RDLEN`/`TDLEN` hold bits 19:7.
pub const MAX_RING_LEN: u32 = 0x000F_FF80;

/// Most descriptors in a ring.
pub const MAX_RING_DESCS: u32 = MAX_RING_LEN / DESC_LEN;

/// Bits of `RDH`/`RDT` the device keeps (ixgbevf's self-test pattern for `RDT`).
pub const INDEX_MASK: u32 = 0xFFFF;

/// Descriptors read per [`GuestMem::read`] call (256 bytes).
pub const BATCH_DESCS: u32 = 16;

/// Most descriptors one [`RxRing::walk`] call reads (ixgbe's largest validated ring; 128 KiB
/// of reads). Drivers post at most a ring at a time, in practice up to 4096 descriptors.
pub const MAX_WALK_DESCS: u32 = 8192;

/// Packet buffer size assumed when `SRRCTL.BSIZEPKT` is 0. On the igb family the PF's
/// `RCTL.BSIZE`/`BSEX` then apply, at most 16 KiB (QEMU `e1000x_rxbufsize`); on the ixgbe
/// family 0 is not allowed and the largest frame the MAC accepts fits in 16 KiB.
pub const ZERO_BSIZEPKT_LEN: u64 = 16 * 1024;

/// Header buffer size assumed when `SRRCTL.BSIZEHDR` is 0: the largest the field encodes.
pub const MAX_HEADER_LEN: u64 = 63 * 64;

/// Granule of the IOMMU view: a batch read never crosses it.
const PAGE: u64 = 4096;

/// A guest memory read hit an IOVA without a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped;

/// Reads guest memory as the device sees it (through its IOMMU domain in the kernel).
pub trait GuestMem {
    /// Fills `buf` from `[iova, iova + buf.len())`, which never crosses a 4 KiB boundary
    /// when called by the walker. Fails if any of it is unmapped.
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), Unmapped>;
}

/// Why the walker refuses a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// `RDLEN` is 0 but descriptors are being posted.
    EmptyRing,
    /// `RDLEN` is not a multiple of 128 bytes.
    LenUnaligned(u32),
    /// `RDLEN` exceeds [`MAX_RING_LEN`].
    LenTooLarge(u32),
    /// The ring base is not 128-byte aligned.
    BaseUnaligned(u64),
    /// The ring runs past the end of the 64-bit address space.
    BaseOverflow(u64),
    /// A head or tail index (after [`INDEX_MASK`]) outside the ring.
    IndexOutOfRange {
        /// The index.
        index: u32,
        /// Descriptors in the ring.
        count: u32,
    },
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::EmptyRing => write!(f, "descriptors posted to an empty ring"),
            RingError::LenUnaligned(len) => write!(f, "ring length {len:#x} not 128-aligned"),
            RingError::LenTooLarge(len) => write!(f, "ring length {len:#x} too large"),
            RingError::BaseUnaligned(base) => write!(f, "ring base {base:#x} not 128-aligned"),
            RingError::BaseOverflow(base) => write!(f, "ring at {base:#x} wraps the address space"),
            RingError::IndexOutOfRange { index, count } => {
                write!(f, "ring index {index} outside a ring of {count}")
            }
        }
    }
}

/// Which read-format fields the device may write through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One buffer at bytes 0..8: legacy (`DESCTYPE` 0) or advanced one-buffer (1).
    OneBuffer,
    /// Packet buffer at bytes 0..8, header buffer at bytes 8..16: header split (2, 5) and
    /// header replication (igb 3, both 4).
    HeaderSplit,
    /// A reserved `DESCTYPE` (ixgbe 3, both 6 and 7): both quadwords are taken as buffers of
    /// the larger size.
    Unknown,
}

impl Layout {
    /// The layout `srrctl` selects on `family`.
    pub fn of(family: Family, srrctl: Srrctl) -> Layout {
        match srrctl.desctype() {
            Ok(DescType::Legacy | DescType::AdvOneBuf) => Layout::OneBuffer,
            // `*_HDR_REPLICATION` (3) exists on the 82576 only; `ixgbevf/defines.h` skips it.
            Ok(DescType::AdvHeaderReplication) if family == Family::Ixgbe => Layout::Unknown,
            Ok(_) => Layout::HeaderSplit,
            Err(_) => Layout::Unknown,
        }
    }
}

/// Packet buffer bytes the device may write per descriptor under `srrctl`.
///
/// `BSIZEPKT` is 7 bits (1..127 KiB) on the igb family; on the ixgbe family only 1..16 KiB
/// are documented, so a value whose low 5 bits are 0 is treated like 0 as well. Taking the
/// larger of both readings can only over-approximate.
pub fn packet_len(family: Family, srrctl: Srrctl) -> u64 {
    let field = u64::from(srrctl.bsizepkt());
    let hw = match family {
        Family::Igb => field,
        Family::Ixgbe => field & 0x1F,
    };
    let len = field * 1024;
    if hw == 0 {
        len.max(ZERO_BSIZEPKT_LEN)
    } else {
        len
    }
}

/// Header buffer bytes the device may write per descriptor under `srrctl`.
///
/// `BSIZEHDR` is 6 bits (13:8) on the ixgbe family; the 82576 defines bits 11:8 only, so a
/// value whose low 4 bits are 0 is treated like 0 there.
pub fn header_len(family: Family, srrctl: Srrctl) -> u64 {
    let field = u64::from(srrctl.bsizehdr());
    let hw = match family {
        Family::Igb => field & 0xF,
        Family::Ixgbe => field,
    };
    if hw == 0 {
        MAX_HEADER_LEN
    } else {
        field * 64
    }
}

/// The 64-bit DMA address in a `*BAL`/`*BAH` register pair.
pub const fn dma_address(lo: u32, hi: u32) -> u64 {
    // CAST: u32 to u64 is lossless.
    ((hi as u64) << 32) | lo as u64
}

/// What one [`RxRing::walk`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Descriptors the tail move posted.
    pub posted: u32,
    /// Descriptors examined (read or found unmapped).
    pub walked: u32,
    /// Where to continue if the walk stopped at [`MAX_WALK_DESCS`]: the remaining
    /// descriptors are `resume..to`. `None` when every posted descriptor was walked.
    pub resume: Option<u32>,
    /// [`GuestMem::read`] calls.
    pub reads: u32,
    /// Descriptors on unmapped pages (skipped).
    pub unmapped: u32,
    /// Buffers marked.
    pub buffers: u32,
    /// Buffer addresses that were 0 (skipped: the device does not DMA to a null buffer).
    pub null_addrs: u32,
    /// Buffers running past the end of the address space (marked up to the end).
    pub clipped_addrs: u32,
}

impl Walk {
    /// Whether the walk stopped early (see [`Walk::resume`]).
    pub fn truncated(&self) -> bool {
        self.resume.is_some()
    }

    /// Descriptors and buffers skipped as garbage: descriptors on unmapped pages, null
    /// buffer addresses, buffers wrapping the address space.
    pub fn skipped(&self) -> u32 {
        self.unmapped
            .saturating_add(self.null_addrs)
            .saturating_add(self.clipped_addrs)
    }
}

/// Sums of [`Walk`]s, for a logging session's debug line and the device's statistics
/// (`super::stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkTally {
    /// Descriptors examined ([`Walk::walked`]).
    pub walked: u64,
    /// Descriptors and buffers skipped as garbage ([`Walk::skipped`]), plus whatever the
    /// shell adds (buffers outside every logged range).
    pub skipped: u64,
    /// Walks cut at [`MAX_WALK_DESCS`] and resumed.
    pub truncated: u64,
    /// Walks refused: ring registers or indices the walker rejects ([`RingError`]), or a
    /// walk that made no progress. The shell then cannot tell what the device may write.
    pub refused: u64,
}

impl WalkTally {
    /// Adds one [`RxRing::walk`] call.
    pub fn add(&mut self, w: &Walk) {
        self.walked = self.walked.saturating_add(u64::from(w.walked));
        self.skipped = self.skipped.saturating_add(u64::from(w.skipped()));
        if w.truncated() {
            self.truncated = self.truncated.saturating_add(1);
        }
    }

    /// Counts a refused walk.
    pub fn refuse(&mut self) {
        self.refused = self.refused.saturating_add(1);
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &WalkTally) {
        self.walked = self.walked.saturating_add(other.walked);
        self.skipped = self.skipped.saturating_add(other.skipped);
        self.truncated = self.truncated.saturating_add(other.truncated);
        self.refused = self.refused.saturating_add(other.refused);
    }
}

/// A validated RX ring configuration: base, length and buffer layout.
///
/// # Invariants
///
/// `count` is in `1..=MAX_RING_DESCS`, `base` is 128-byte aligned and `base + count * 16`
/// does not overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxRing {
    base: u64,
    count: u32,
    layout: Layout,
    pkt_len: u64,
    hdr_len: u64,
}

impl RxRing {
    /// Checks the queue's registers: `rdba` from `RDBAL`/`RDBAH` (see [`dma_address`]),
    /// `RDLEN` and `SRRCTL` as read from the device.
    pub fn new(family: Family, rdba: u64, rdlen: u32, srrctl: Srrctl) -> Result<Self, RingError> {
        if rdlen == 0 {
            return Err(RingError::EmptyRing);
        }
        if rdlen % RING_ALIGN != 0 {
            return Err(RingError::LenUnaligned(rdlen));
        }
        if rdlen > MAX_RING_LEN {
            return Err(RingError::LenTooLarge(rdlen));
        }
        if rdba % u64::from(RING_ALIGN) != 0 {
            return Err(RingError::BaseUnaligned(rdba));
        }
        if rdba.checked_add(u64::from(rdlen)).is_none() {
            return Err(RingError::BaseOverflow(rdba));
        }
        // INVARIANT: all three checked just above.
        Ok(RxRing {
            base: rdba,
            count: rdlen / DESC_LEN,
            layout: Layout::of(family, srrctl),
            pkt_len: packet_len(family, srrctl),
            hdr_len: header_len(family, srrctl),
        })
    }

    /// Descriptors in the ring.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The buffer layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Packet buffer bytes marked per descriptor.
    pub fn packet_len(&self) -> u64 {
        self.pkt_len
    }

    /// Header buffer bytes marked per descriptor (header-split layouts).
    pub fn header_len(&self) -> u64 {
        self.hdr_len
    }

    /// The ring's own memory.
    pub fn span(&self) -> Span {
        Span {
            iova: self.base,
            len: u64::from(self.count) * u64::from(DESC_LEN),
        }
    }

    /// Marks into `sink` the buffers of the descriptors `from..to` (indices modulo the ring
    /// size, masked with [`INDEX_MASK`] like the hardware does): `from` is the previous tail
    /// (or the head at log start), `to` the tail being written. `from == to` posts nothing.
    ///
    /// Reads at most [`MAX_WALK_DESCS`] descriptors; see [`Walk::resume`]. An index outside
    /// the ring is refused (the hardware's behaviour is undefined) and nothing is marked.
    pub fn walk<M, K>(
        &self,
        from: u32,
        to: u32,
        mem: &mut M,
        sink: &mut K,
    ) -> Result<Walk, RingError>
    where
        M: GuestMem + ?Sized,
        K: DirtySink + ?Sized,
    {
        let (from, to) = (from & INDEX_MASK, to & INDEX_MASK);
        let mut w = Walk::default();
        if from == to {
            return Ok(w);
        }
        for index in [from, to] {
            if index >= self.count {
                return Err(RingError::IndexOutOfRange {
                    index,
                    count: self.count,
                });
            }
        }
        // Both below `count`, so neither subtraction underflows.
        w.posted = if to > from {
            to - from
        } else {
            self.count - from + to
        };
        let mut left = w.posted.min(MAX_WALK_DESCS);
        let mut buf = [0u8; (BATCH_DESCS * DESC_LEN) as usize];
        let mut i = from;
        while left > 0 {
            // In bounds by the invariants: `i < count`, so `addr + 16 <= base + rdlen`.
            let addr = self.base.saturating_add(u64::from(i) * u64::from(DESC_LEN));
            let to_page = (PAGE - addr % PAGE) / u64::from(DESC_LEN);
            let batch = left
                .min(BATCH_DESCS)
                .min(self.count - i)
                .min(u32::try_from(to_page).unwrap_or(BATCH_DESCS));
            let bytes = buf
                .get_mut(..(batch * DESC_LEN) as usize)
                .unwrap_or(&mut []);
            w.reads += 1;
            match mem.read(addr, bytes) {
                Ok(()) => {
                    for desc in bytes.chunks_exact(DESC_LEN as usize) {
                        self.mark_descriptor(desc, sink, &mut w);
                    }
                }
                Err(Unmapped) => w.unmapped += batch,
            }
            w.walked += batch;
            left -= batch;
            i += batch;
            if i == self.count {
                i = 0;
            }
        }
        if w.walked < w.posted {
            w.resume = Some(i);
        }
        Ok(w)
    }

    /// [`RxRing::walk`] over all of `from..to`, resuming after every [`MAX_WALK_DESCS`] cut,
    /// with every call added to `tally`. Returns `false` when the walk was refused (a
    /// [`RingError`], or a resume that made no progress, counted in [`WalkTally::refused`]):
    /// what the device may write is unknown then, and the caller must mark everything.
    ///
    /// Bounded: a ring holds at most [`MAX_RING_DESCS`] descriptors, so the walk ends
    /// after at most `MAX_RING_DESCS / MAX_WALK_DESCS + 1` calls.
    pub fn walk_all<M, K>(
        &self,
        mut from: u32,
        to: u32,
        mem: &mut M,
        sink: &mut K,
        tally: &mut WalkTally,
    ) -> bool
    where
        M: GuestMem + ?Sized,
        K: DirtySink + ?Sized,
    {
        for _ in 0..=MAX_RING_DESCS / MAX_WALK_DESCS {
            match self.walk(from, to, mem, sink) {
                Ok(w) => {
                    tally.add(&w);
                    match w.resume {
                        Some(next) if next != from => from = next,
                        Some(_) => break,
                        None => return true,
                    }
                }
                Err(_) => break,
            }
        }
        tally.refuse();
        false
    }

    fn mark_descriptor<K: DirtySink + ?Sized>(&self, desc: &[u8], sink: &mut K, w: &mut Walk) {
        let qword = |at: usize| {
            desc.get(at..)
                .and_then(|d| d.first_chunk::<8>())
                .map_or(0, |b| u64::from_le_bytes(*b))
        };
        let (pkt, hdr) = (qword(0), qword(8));
        match self.layout {
            Layout::OneBuffer => mark_buffer(pkt, self.pkt_len, sink, w),
            Layout::HeaderSplit => {
                mark_buffer(pkt, self.pkt_len, sink, w);
                mark_buffer(hdr, self.hdr_len, sink, w);
            }
            Layout::Unknown => {
                let len = self.pkt_len.max(self.hdr_len);
                mark_buffer(pkt, len, sink, w);
                mark_buffer(hdr, len, sink, w);
            }
        }
    }
}

/// Marks a buffer at `addr` of `len` bytes.
///
/// Bit 0 of an advanced descriptor address may be a flag (`NSE` on the packet address, `DD`
/// on the header address), in which case the device writes from `addr & !1`: the marked
/// range covers both readings. A null address means "no buffer" (QEMU skips such
/// descriptors "as per intel docs").
fn mark_buffer<K: DirtySink + ?Sized>(addr: u64, len: u64, sink: &mut K, w: &mut Walk) {
    if addr == 0 {
        w.null_addrs = w.null_addrs.saturating_add(1);
        return;
    }
    let start = addr & !1;
    let len = match addr.checked_add(len) {
        Some(end) => end - start,
        None => {
            // Up to and including the last byte of the address space. `addr >= 2` here (a
            // buffer of at most 127 KiB only wraps from near the top), so this fits.
            w.clipped_addrs = w.clipped_addrs.saturating_add(1);
            (u64::MAX - start).saturating_add(1)
        }
    };
    sink.mark(start, len);
    w.buffers = w.buffers.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::super::dirty_testing::{covered, FakeMem};
    use super::*;

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
}
