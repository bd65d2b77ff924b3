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
//! # Descriptors the device still owns
//!
//! `RDH..RDT` is not all the device may still write. Real silicon fetches descriptors into
//! an on-chip cache ahead of use and advances `RDH` at the *fetch*; it writes the packet data
//! later and writes the descriptors back (DD set, buffer addresses overwritten) later still,
//! in ring order and batched by `RXDCTL.WTHRESH` or a timer (82599 datasheet, `RXDCTL`
//! `PTHRESH`/`HTHRESH`/`WTHRESH` and "Receive Descriptor Fetching" / "Receive Descriptor
//! Write-Back"; the 82575/82576 datasheets note that `RDH` may point past descriptors not yet
//! written back to host memory, and the 82598 one tells software to judge by DD, not by
//! `RDH`). So the buffers the device may still write are those of `RDH..RDT` *plus* the
//! descriptors right before `RDH` that are not written back yet: fetched, still in read
//! format. [`RxRing::owned_from`] finds where that run starts by scanning back from `RDH`;
//! [`RxRing::walk_owned`] marks the buffers of the whole owned stretch. Write-back happens
//! after the data and in ring order, so the first written-back descriptor met going back
//! ends the run: it and everything before it are done with.
//!
//! "Written back" is DD set *and* a non-zero length ([`RxRing::written_back`]); DD alone
//! would misjudge the rings drivers really post. The datasheets have software post the
//! advanced read format with bit 0 of the header address (the DD position) clear, and igbvf
//! and DPDK write the whole header address; but ixgbevf, igb, ixgbe and igc post by writing
//! `read.pkt_addr` only and clearing `wb.upper.length` of the next descriptor to post (they
//! judge completion by a non-zero length), so a posted descriptor keeps DD set from its
//! previous write-back. Legacy drivers clear `status`. Either way a posted descriptor has DD
//! clear or a zero length, and a written-back one has both set; a write-back with length 0
//! (a packet all in the header buffer) only makes a scan go further (false positives).
//!
//! # Hostile rings
//!
//! The ring is guest memory: every descriptor is untrusted. The walker reads through
//! [`GuestMem`] (the device's IOMMU view in the kernel) in batches of up to
//! [`BATCH_DESCS`] descriptors that never cross a 4 KiB boundary, skips and counts
//! descriptors on unmapped pages (the device cannot fetch them either), never walks more
//! than the ring or [`MAX_WALK_DESCS`] per call, and uses checked arithmetic throughout.
//! Registers outside what the hardware can hold are refused with a [`RingError`]; the shell
//! then marks everything ([`super::set::DirtySet::mark_all`]), the only safe answer when
//! the device's behaviour is unknown.
//!
//! C counterparts: `union e1000_adv_rx_desc` (`igbvf/vf.h`), `union ixgbe_adv_rx_desc`
//! (`ixgbevf/defines.h`), `igb_read_rx_descr()` and `igb_write_packet_to_guest()` in QEMU's
//! `hw/net/igb_core.c`.

use core::fmt;

use crate::pure::dirty::ranges::{DirtySink, Span};
use crate::pure::hw::family::Family;
use crate::pure::hw::fields::{DescType, Srrctl, DESC_LEN, RING_ALIGN, RING_LEN_MASK};

mod owned;

/// Most descriptors in a ring.
pub const MAX_RING_DESCS: u32 = RING_LEN_MASK / DESC_LEN;

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

/// Where a written-back RX descriptor says it is done: the byte whose bit 0 is DD and the
/// 16-bit packet length the device writes with it (see the module documentation).
///
/// Advanced descriptors (82599 and 82576 datasheets, "Advanced Receive Descriptors", write-back
/// format):
/// `status_error` at bytes 8..12 (DD is bit 0), `length` at bytes 12..14. Legacy ones (the
/// legacy receive descriptor format, the section before): `length` at bytes 8..10, `status`
/// at byte 12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Done {
    Advanced,
    Legacy,
}

impl Done {
    /// `(DD byte, length byte)`.
    const fn at(self) -> (usize, usize) {
        match self {
            Done::Advanced => (8, 12),
            Done::Legacy => (12, 8),
        }
    }
}

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
    /// `RDLEN` exceeds the largest ring length, [`RING_LEN_MASK`].
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
/// (`crate::pure::stats`).
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

    /// Adds one [`RxRing::owned_from`] scan: its descriptors count as walked, those on
    /// unmapped pages as skipped.
    pub fn add_scan(&mut self, o: &OwnedStart) {
        self.walked = self.walked.saturating_add(u64::from(o.scanned));
        self.skipped = self.skipped.saturating_add(u64::from(o.unmapped));
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

/// Why [`RxRing::owned_from`] stopped scanning back from the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnedStop {
    /// The descriptor before [`OwnedStart::from`] is written back: the device is done with
    /// it and, write-back being in ring order, with everything before it.
    WrittenBack,
    /// Every descriptor from the tail up to the head is still in read format (or on an
    /// unmapped page): the device may still write through all of them, and
    /// [`OwnedStart::owned`] is the whole ring.
    Tail,
    /// [`MAX_WALK_DESCS`] descriptors scanned without reaching either: what the device still
    /// owns is unknown, the caller must mark everything.
    Bound,
}

/// Where the descriptors the device may still write start, as found by
/// [`RxRing::owned_from`]: `from..head` (fetched, not yet written back) and `head..tail`
/// (not yet fetched).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnedStart {
    /// First descriptor the device may still write through.
    pub from: u32,
    /// Descriptors before the head still in read format or unmapped: `from` is `head -
    /// pending` (modulo the ring size).
    pub pending: u32,
    /// Descriptors the device may still write through: `pending` plus `head..tail`. When it
    /// is the whole ring, `from` equals the tail and `walk(from, tail)` would walk nothing;
    /// [`RxRing::walk_owned`] handles that.
    pub owned: u32,
    /// Descriptors examined (read or found unmapped), the written-back one included.
    pub scanned: u32,
    /// Descriptors on unmapped pages among them (counted in `pending`).
    pub unmapped: u32,
    /// [`GuestMem::read`] calls.
    pub reads: u32,
    /// Why the scan stopped.
    pub stop: OwnedStop,
}

impl OwnedStart {
    /// Whether the scan hit its bound ([`OwnedStop::Bound`]): the caller must fail closed.
    pub fn truncated(&self) -> bool {
        self.stop == OwnedStop::Bound
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
    /// Where write-back marks a descriptor done; `None` for reserved descriptor types
    /// (never trusted).
    done: Option<Done>,
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
        if rdlen > RING_LEN_MASK {
            return Err(RingError::LenTooLarge(rdlen));
        }
        if rdba % u64::from(RING_ALIGN) != 0 {
            return Err(RingError::BaseUnaligned(rdba));
        }
        if rdba.checked_add(u64::from(rdlen)).is_none() {
            return Err(RingError::BaseOverflow(rdba));
        }
        let layout = Layout::of(family, srrctl);
        let done = match (layout, srrctl.desctype()) {
            (Layout::Unknown, _) => None,
            (_, Ok(DescType::Legacy)) => Some(Done::Legacy),
            _ => Some(Done::Advanced),
        };
        // INVARIANT: all three checked just above.
        Ok(RxRing {
            base: rdba,
            count: rdlen / DESC_LEN,
            layout,
            pkt_len: packet_len(family, srrctl),
            hdr_len: header_len(family, srrctl),
            done,
        })
    }

    /// Descriptors in the ring.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The buffer layout.
    #[cfg(any(test, feature = "testing"))]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Packet buffer bytes marked per descriptor.
    #[cfg(any(test, feature = "testing"))]
    pub fn packet_len(&self) -> u64 {
        self.pkt_len
    }

    /// Header buffer bytes marked per descriptor (header-split layouts).
    #[cfg(any(test, feature = "testing"))]
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
                    // `i + batch <= count`: the slots stay inside the ring.
                    for (slot, desc) in (i..).zip(bytes.chunks_exact(DESC_LEN as usize)) {
                        sink.descriptor(slot);
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

    /// Whether `desc` (one 16-byte descriptor) has been written back: DD set *and* a
    /// non-zero length (see the module documentation for why DD alone would misjudge
    /// ixgbevf's rings).
    ///
    /// Reserved descriptor types ([`Layout::Unknown`]) have no known format: never written
    /// back, so that an owned scan runs to the tail. A short slice is not written back
    /// either.
    pub fn written_back(&self, desc: &[u8]) -> bool {
        let Some((dd, len)) = self.done.map(Done::at) else {
            return false;
        };
        let dd = desc.get(dd).is_some_and(|b| b & 1 != 0);
        let len = desc
            .get(len..len + 2)
            .is_some_and(|l| l.iter().any(|&b| b != 0));
        dd && len
    }

    /// The bytes the device wrote into the packet buffer of `desc`, if `desc` is written back
    /// and the ring uses one buffer per descriptor (with header split the header buffer's
    /// length is elsewhere: `None`, the caller keeps the whole buffers). The write-back's
    /// length field is what the device put there (82599/82576 datasheets, advanced receive
    /// descriptor write-back format, `PKT_LEN`; legacy: `Length`).
    pub fn written_len(&self, desc: &[u8]) -> Option<u64> {
        if self.layout != Layout::OneBuffer || !self.written_back(desc) {
            return None;
        }
        let (_, at) = self.done.map(Done::at)?;
        let len = desc.get(at..at + 2)?;
        Some(u64::from(u16::from_le_bytes([*len.first()?, *len.get(1)?])))
    }

    /// The index before `i` (`i < count`), wrapping at the ring's start.
    fn prev(&self, i: u32) -> u32 {
        i.checked_sub(1).unwrap_or(self.count - 1)
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
mod tests;
