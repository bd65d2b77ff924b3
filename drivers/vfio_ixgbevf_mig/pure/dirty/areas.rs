// SPDX-License-Identifier: GPL-2.0

//! The DMA areas fixed by a queue's registers: the RX ring (descriptor write-back), the TX
//! ring (DD bits of descriptors with RS set) and the TX head write-back word.
//!
//! Unlike RX buffers these do not depend on what the guest posts, so the shell marks them
//! for every queue at each `DMA_LOGGING_REPORT` (see [`super::ring`] for why that is enough
//! and for what happens when the guest moves a ring between reports). Values are taken as
//! the hardware might read them: an unaligned base is rounded down and a length rounded up,
//! so garbage in a register can only widen an area, never narrow it.
//!
//! C counterparts: `igb_txdesc_writeback()` and `igb_pci_dma_write_rx_desc()` in QEMU's
//! `hw/net/igb_core.c`; `E1000_TX_HEAD_WB_ENABLE`, `IXGBE_TDWBAL_HEAD_WB_ENABLE`.

use crate::pure::dirty::ranges::Span;
use crate::pure::hw::fields::{Tdwbal, RING_ALIGN};

/// The area a ring of `len` bytes at `base` occupies, widened for any masking the hardware
/// may apply to unaligned values (base rounded down, length rounded up to 128 bytes); `None`
/// for an empty ring.
fn ring_range(base: u64, len: u32) -> Option<Span> {
    if len == 0 {
        return None;
    }
    let start = base & !u64::from(RING_ALIGN - 1);
    let rounded = u64::from(len).next_multiple_of(u64::from(RING_ALIGN));
    // A ring running past the address space is taken up to its end.
    let end = base.saturating_add(rounded);
    Some(Span {
        iova: start,
        len: end - start,
    })
}

/// RX descriptor write-back area of a queue: its whole ring.
#[cfg(any(test, feature = "testing"))]
pub fn rx_ring_range(rdba: u64, rdlen: u32) -> Option<Span> {
    ring_range(rdba, rdlen)
}

/// TX descriptor write-back area of a queue: its whole ring.
pub fn tx_ring_range(tdba: u64, tdlen: u32) -> Option<Span> {
    ring_range(tdba, tdlen)
}

/// The TX head write-back area: 4 bytes at `TDWBAH:TDWBAL[31:2]` when
/// `TDWBAL.HEAD_WB_ENABLE` is set. The ixgbe sequence-number write-back
/// (`IXGBE_TDWBAL_SEQNUM_WB_ENABLE`) has no public layout; 16 bytes are marked for it.
pub fn tx_head_wb_range(tdwbal: u32, tdwbah: u32) -> Option<Span> {
    let lo = Tdwbal::from_raw(tdwbal);
    let len: u64 = if lo.seqnum_wb_enable() {
        16
    } else if lo.head_wb_enable() {
        4
    } else {
        return None;
    };
    let iova = lo.address(tdwbah);
    Some(Span {
        iova,
        len: len.min(u64::MAX - iova),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::dirty::ring::{dma_address, RxRing};
    use crate::pure::hw::family::Family;
    use crate::pure::hw::fields::Srrctl;

    fn span(iova: u64, len: u64) -> Option<Span> {
        Some(Span { iova, len })
    }

    #[test]
    fn rings() {
        assert_eq!(rx_ring_range(0x1000, 0), None);
        assert_eq!(rx_ring_range(0x1000, 0x1000), span(0x1000, 0x1000));
        // Garbage is widened, never narrowed.
        assert_eq!(rx_ring_range(0x1010, 0x100), span(0x1000, 0x110));
        assert_eq!(tx_ring_range(0x2000, 0x81), span(0x2000, 0x100));
        assert_eq!(tx_ring_range(!0x7F_u64, 0x100), span(!0x7F_u64, 0x7F));
        // The walker's ring is the same area.
        let r = RxRing::new(Family::Igb, 0x4000, 0x800, Srrctl::from_raw(0x0200_0000));
        assert_eq!(r.map(|r| r.span()).ok(), rx_ring_range(0x4000, 0x800));
    }

    #[test]
    fn head_write_back() {
        assert_eq!(tx_head_wb_range(0x3000_0000, 1), None);
        assert_eq!(tx_head_wb_range(0x3000_0041, 1), span(0x1_3000_0040, 4));
        assert_eq!(tx_head_wb_range(0x3000_0042, 0), span(0x3000_0040, 16));
        assert_eq!(
            tx_head_wb_range(0xFFFF_FFFD, u32::MAX),
            span(u64::MAX - 3, 3)
        );
    }

    #[test]
    fn areas_of_queue_registers() {
        // As the shell reads them at report time: RDBAL/RDBAH, RDLEN, TDBAL/TDBAH, TDLEN,
        // TDWBAL/TDWBAH.
        assert_eq!(
            rx_ring_range(dma_address(0x1000_0000, 1), 256 * 16),
            span(0x1_1000_0000, 0x1000)
        );
        assert_eq!(
            tx_ring_range(dma_address(0x2000_0000, 1), 512 * 16),
            span(0x1_2000_0000, 0x2000)
        );
        assert_eq!(tx_head_wb_range(0x3000_0001, 1), span(0x1_3000_0000, 4));
        assert_eq!(rx_ring_range(dma_address(0, 0), 0), None);
        assert_eq!(tx_ring_range(dma_address(0, 0), 0), None);
        assert_eq!(tx_head_wb_range(0, 0), None);
    }
}
