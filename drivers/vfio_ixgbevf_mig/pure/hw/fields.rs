// SPDX-License-Identifier: GPL-2.0

//! One type per register whose fields the driver looks at, with accessors generated from a
//! `hi:lo` table: 1-bit fields are `bool`, enumerated fields decode through `TryFrom`.
//!
//! The layouts below are common to both families unless a comment says otherwise; the
//! driver saves and restores whole raw values and only decodes the fields it decides on
//! (queue enable, buffer sizes, descriptor type, head write-back, mailbox state).
//!
//! C counterparts: `igbvf/defines.h`, `igbvf/mbx.h`, `ixgbevf/defines.h`, `ixgbevf/mbx.h`,
//! `igb/e1000_82575.h` and `ixgbe/ixgbe_type.h` (`*_SWFLSH`, `*_TDWBAL_*`).

use core::fmt;

#[cfg(any(test, feature = "testing"))]
use crate::pure::hw::regs::{QueueReg, Reg};

/// A register value type: a `u32` with typed field accessors.
pub trait Register: Copy {
    /// Wraps a raw value read from the device.
    #[cfg(any(test, feature = "testing"))]
    fn from_raw(raw: u32) -> Self;
    /// The raw value to write to the device.
    fn into_raw(self) -> u32;
}

/// A [`Register`] that is a per-queue register.
#[cfg(any(test, feature = "testing"))]
pub trait QueueRegister: Register {
    /// Which per-queue register the type describes.
    const REG: QueueReg;
}

/// A [`Register`] that is a single device-wide register.
#[cfg(any(test, feature = "testing"))]
pub trait DevRegister: Register {
    /// Which device-wide register the type describes.
    const REG: Reg;
}

/// A field value that has no meaning (reserved encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidValue(pub u32);

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reserved field value {:#x}", self.0)
    }
}

/// Bytes per RX or TX descriptor (legacy and advanced formats alike).
pub const DESC_LEN: u32 = 16;

/// Alignment of ring bases and lengths: `RDBAL`/`TDBAL` and `RDLEN`/`TDLEN` bits 6:0 are
/// ignored and read as zero (the register self-tests of igb and ixgbevf write `0xFFFFFF80`
/// and `0x000FFF80` patterns).
pub const RING_ALIGN: u32 = 128;

/// The length field of `RDLEN`/`TDLEN`, bits 19:7 (QEMU's `E1000_XDLEN_IGB_MASK`, the
/// 82599's `RDLEN.LEN`): a ring length is a multiple of [`RING_ALIGN`] inside this mask, so
/// the mask is also the largest ring length in bytes, just under 1 MiB.
pub const RING_LEN_MASK: u32 = 0x000F_FF80;
const _: () = assert!(RING_LEN_MASK & (RING_ALIGN - 1) == 0 && RING_LEN_MASK % DESC_LEN == 0);

/// Defines a register type and its field accessors from a `hi:lo` table.
///
/// Field lines: `hi:lo getter / setter: bool;`, `hi:lo getter / setter: enum Type;` (decoded
/// with `Type: TryFrom<u32, Error = InvalidValue>`, encoded with `u32: From<Type>`), or
/// `hi:lo getter / setter: uN;`. Setters return a modified copy; bits of a value wider than
/// its field are dropped. Field bounds are checked at compile time.
///
/// The table lists a register's fields as the datasheet does (like C's `#define`s); which of
/// the generated getters and setters the driver calls is incidental, so the accessors (and
/// `raw`) are exempt from `dead_code`.
macro_rules! register {
    (
        $(#[$meta:meta])*
        $name:ident { $($fields:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name(u32);

        impl $name {
            /// Wraps a raw register value.
            pub const fn from_raw(raw: u32) -> Self {
                Self(raw)
            }

            /// The raw register value.
            #[allow(dead_code)]
            pub const fn raw(self) -> u32 {
                self.0
            }
        }

        impl Register for $name {
            #[cfg(any(test, feature = "testing"))]
            fn from_raw(raw: u32) -> Self {
                Self(raw)
            }

            fn into_raw(self) -> u32 {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:#010x})"), self.0)
            }
        }

        register!(@fields $name { $($fields)* });
    };

    (@fields $name:ident {}) => {};

    (@fields $name:ident {
        $(#[$doc:meta])* $hi:literal:$lo:literal $get:ident / $set:ident: bool;
        $($rest:tt)*
    }) => {
        const _: () = assert!($hi == $lo && $hi < 32);

        #[allow(dead_code)]
        impl $name {
            $(#[$doc])*
            pub const fn $get(self) -> bool {
                self.0 & (1 << $lo) != 0
            }

            #[doc = concat!("A copy with `", stringify!($get), "` set to `value`.")]
            #[must_use]
            pub const fn $set(self, value: bool) -> Self {
                if value {
                    Self(self.0 | (1 << $lo))
                } else {
                    Self(self.0 & !(1 << $lo))
                }
            }
        }

        register!(@fields $name { $($rest)* });
    };

    (@fields $name:ident {
        $(#[$doc:meta])* $hi:literal:$lo:literal $get:ident / $set:ident: enum $ty:ty;
        $($rest:tt)*
    }) => {
        const _: () = assert!($hi >= $lo && $hi < 32);

        #[allow(dead_code)]
        impl $name {
            $(#[$doc])*
            pub fn $get(self) -> Result<$ty, InvalidValue> {
                const MASK: u32 = (u32::MAX >> (31 - ($hi - $lo))) << $lo;
                <$ty>::try_from((self.0 & MASK) >> $lo)
            }

            #[doc = concat!("A copy with `", stringify!($get), "` set to `value`.")]
            #[must_use]
            pub fn $set(self, value: $ty) -> Self {
                const MASK: u32 = (u32::MAX >> (31 - ($hi - $lo))) << $lo;
                Self((self.0 & !MASK) | ((u32::from(value) << $lo) & MASK))
            }
        }

        register!(@fields $name { $($rest)* });
    };

    (@fields $name:ident {
        $(#[$doc:meta])* $hi:literal:$lo:literal $get:ident / $set:ident: $ty:ty;
        $($rest:tt)*
    }) => {
        const _: () = assert!($hi >= $lo && $hi < 32 && $hi - $lo < <$ty>::BITS);

        #[allow(dead_code)]
        impl $name {
            $(#[$doc])*
            pub const fn $get(self) -> $ty {
                const MASK: u32 = (u32::MAX >> (31 - ($hi - $lo))) << $lo;
                // CAST: the field is no wider than the type (checked at compile time above).
                ((self.0 & MASK) >> $lo) as $ty
            }

            #[doc = concat!("A copy with `", stringify!($get), "` set to `value`.")]
            #[must_use]
            pub const fn $set(self, value: $ty) -> Self {
                const MASK: u32 = (u32::MAX >> (31 - ($hi - $lo))) << $lo;
                // CAST: the field types are unsigned and at most 32 bits wide: lossless.
                Self((self.0 & !MASK) | (((value as u32) << $lo) & MASK))
            }
        }

        register!(@fields $name { $($rest)* });
    };
}

register! {
    /// RX descriptor control (`RXDCTL`). Layout shared by both families for these bits.
    Rxdctl {
        /// Queue enabled (`E1000_RXDCTL_QUEUE_ENABLE`, `IXGBE_RXDCTL_ENABLE`). Reads back 1
        /// only once the device has actually started or stopped the queue.
        25:25 enable / with_enable: bool;
        /// Flush the RX descriptor write-back (`IXGBE_RXDCTL_SWFLSH`; same bit on 82576).
        26:26 swflsh / with_swflsh: bool;
    }
}

#[cfg(any(test, feature = "testing"))]
impl QueueRegister for Rxdctl {
    const REG: QueueReg = QueueReg::Rxdctl;
}

register! {
    /// TX descriptor control (`TXDCTL`). Layout shared by both families for these bits.
    Txdctl {
        /// Queue enabled (`E1000_TXDCTL_QUEUE_ENABLE`, `IXGBE_TXDCTL_ENABLE`).
        25:25 enable / with_enable: bool;
        /// Flush the TX descriptor write-back (`IXGBE_TXDCTL_SWFLSH`; same bit on 82576).
        26:26 swflsh / with_swflsh: bool;
    }
}

#[cfg(any(test, feature = "testing"))]
impl QueueRegister for Txdctl {
    const REG: QueueReg = QueueReg::Txdctl;
}

/// RX descriptor format selected by `SRRCTL.DESCTYPE` (bits 27:25).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DescType {
    /// Legacy descriptors: one buffer address.
    Legacy,
    /// Advanced, one buffer (`*_SRRCTL_DESCTYPE_ADV_ONEBUF`).
    AdvOneBuf,
    /// Advanced, header split (`*_SRRCTL_DESCTYPE_HDR_SPLIT`).
    AdvHeaderSplit,
    /// Advanced, header replication always (`E1000_SRRCTL_DESCTYPE_HDR_REPLICATION`; igb
    /// family only, reserved on ixgbe).
    AdvHeaderReplication,
    /// Advanced, header replication for large packets
    /// (`*_SRRCTL_DESCTYPE_HDR_REPLICATION_LARGE_PKT`).
    AdvHeaderReplicationLargePkt,
    /// Advanced, header split, always use the header buffer
    /// (`*_SRRCTL_DESCTYPE_HDR_SPLIT_ALWAYS`).
    AdvHeaderSplitAlways,
}

impl DescType {
    /// Whether read-format descriptors are the advanced (packet + header address) layout.
    pub const fn is_advanced(self) -> bool {
        !matches!(self, DescType::Legacy)
    }

    /// Whether the device may write to the header buffer address of a descriptor.
    pub const fn uses_header_buffer(self) -> bool {
        !matches!(self, DescType::Legacy | DescType::AdvOneBuf)
    }
}

impl TryFrom<u32> for DescType {
    type Error = InvalidValue;

    fn try_from(value: u32) -> Result<Self, InvalidValue> {
        Ok(match value {
            0 => DescType::Legacy,
            1 => DescType::AdvOneBuf,
            2 => DescType::AdvHeaderSplit,
            3 => DescType::AdvHeaderReplication,
            4 => DescType::AdvHeaderReplicationLargePkt,
            5 => DescType::AdvHeaderSplitAlways,
            _ => return Err(InvalidValue(value)),
        })
    }
}

impl From<DescType> for u32 {
    fn from(value: DescType) -> u32 {
        match value {
            DescType::Legacy => 0,
            DescType::AdvOneBuf => 1,
            DescType::AdvHeaderSplit => 2,
            DescType::AdvHeaderReplication => 3,
            DescType::AdvHeaderReplicationLargePkt => 4,
            DescType::AdvHeaderSplitAlways => 5,
        }
    }
}

register! {
    /// Split and replication receive control (`SRRCTL`).
    ///
    /// The drop-enable bit differs (igb bit 31, ixgbe bit 28) and is not decoded here.
    Srrctl {
        /// Packet buffer size in 1 KiB units (`*_SRRCTL_BSIZEPKT_MASK` 0x7F). Zero means
        /// "not set here": igb then uses the PF's `RCTL.BSIZE`; ixgbe forbids it.
        6:0 bsizepkt / with_bsizepkt: u8;
        /// Header buffer size in 64-byte units (`*_SRRCTL_BSIZEHDR_MASK` 0x3F00). The 82576
        /// defines only bits 11:8 (`E1000_SRRCTL_BSIZEHDRSIZE_MASK`); counting the reserved
        /// bits too can only over-estimate, which errs on the safe side for dirty tracking.
        13:8 bsizehdr / with_bsizehdr: u8;
        /// Descriptor type (`*_SRRCTL_DESCTYPE_MASK` 0x0E000000).
        27:25 desctype / with_desctype: enum DescType;
    }
}

impl Srrctl {
    /// Packet buffer size in bytes (0 if unset, see [`Srrctl::bsizepkt`]).
    #[cfg(any(test, feature = "testing"))]
    pub const fn packet_buffer_bytes(self) -> u32 {
        // CAST: u8 to u32 is lossless; at most 127 * 1024, no overflow.
        self.bsizepkt() as u32 * 1024
    }

    /// Header buffer size in bytes.
    #[cfg(any(test, feature = "testing"))]
    pub const fn header_buffer_bytes(self) -> u32 {
        // CAST: u8 to u32 is lossless; at most 63 * 64, no overflow.
        self.bsizehdr() as u32 * 64
    }
}

#[cfg(any(test, feature = "testing"))]
impl QueueRegister for Srrctl {
    const REG: QueueReg = QueueReg::Srrctl;
}

register! {
    /// TX head write-back address, low half (`TDWBAL`). With the enable bit set the device
    /// writes the TX head index to guest memory at `TDWBAH:TDWBAL[31:2]`.
    Tdwbal {
        /// Head write-back enabled (`E1000_TX_HEAD_WB_ENABLE`, `IXGBE_TDWBAL_HEAD_WB_ENABLE`).
        0:0 head_wb_enable / with_head_wb_enable: bool;
        /// Sequence number write-back enabled (`IXGBE_TDWBAL_SEQNUM_WB_ENABLE`).
        1:1 seqnum_wb_enable / with_seqnum_wb_enable: bool;
    }
}

impl Tdwbal {
    /// The 64-bit guest (IO virtual) address of the head write-back, given `TDWBAH`.
    pub const fn address(self, tdwbah: u32) -> u64 {
        // CAST: u32 to u64 is lossless.
        ((tdwbah as u64) << 32) | (self.0 & !3) as u64
    }
}

#[cfg(any(test, feature = "testing"))]
impl QueueRegister for Tdwbal {
    const REG: QueueReg = QueueReg::Tdwbal;
}

register! {
    /// VF-to-PF mailbox control (`V2PMAILBOX` / `VFMAILBOX`), same bits in both families.
    ///
    /// A read clears PFSTS, PFACK and RSTD (`MAILBOX_READ_CLEARS`); writing
    /// REQ sends the message in mailbox memory to the PF.
    Mailbox {
        /// VF requests the PF's attention: a message is ready (`*_REQ`).
        0:0 req / with_req: bool;
        /// VF acknowledges a PF message (`*_ACK`).
        1:1 ack / with_ack: bool;
        /// VF owns the mailbox buffer (`*_VFU`).
        2:2 vfu / with_vfu: bool;
        /// PF owns the mailbox buffer (`*_PFU`).
        3:3 pfu / with_pfu: bool;
        /// PF wrote a message (`*_PFSTS`); cleared on read.
        4:4 pfsts / with_pfsts: bool;
        /// PF acknowledged the VF's message (`*_PFACK`); cleared on read.
        5:5 pfack / with_pfack: bool;
        /// PF reset in progress (`*_RSTI`).
        6:6 rsti / with_rsti: bool;
        /// PF reset done (`*_RSTD`); cleared on read.
        7:7 rstd / with_rstd: bool;
    }
}

#[cfg(any(test, feature = "testing"))]
impl DevRegister for Mailbox {
    const REG: Reg = Reg::Mailbox;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::hw::regs::MAILBOX_READ_CLEARS;

    #[test]
    fn queue_enable_bits_match_c() {
        // E1000_RXDCTL_QUEUE_ENABLE / IXGBE_RXDCTL_ENABLE, *_TXDCTL_* likewise.
        assert_eq!(Rxdctl::default().with_enable(true).raw(), 0x0200_0000);
        assert_eq!(Txdctl::default().with_enable(true).raw(), 0x0200_0000);
        // IXGBE_RXDCTL_SWFLSH / IXGBE_TXDCTL_SWFLSH.
        assert_eq!(Rxdctl::default().with_swflsh(true).raw(), 0x0400_0000);
        assert_eq!(Txdctl::default().with_swflsh(true).raw(), 0x0400_0000);
        let r = Rxdctl::from_raw(0xFFFF_FFFF);
        assert!(r.enable() && r.swflsh());
        assert_eq!(r.with_enable(false).raw(), 0xFDFF_FFFF);
        assert!(!r.with_enable(false).enable());
        assert!(!Txdctl::from_raw(0x0400_0000).enable());
    }

    #[test]
    fn srrctl_decodes_igbvf_setup() {
        // igbvf_setup_srrctl(): 128-byte header << BSIZEHDRSIZE_SHIFT (2), 2 KiB buffer
        // >> BSIZEPKT_SHIFT (10), advanced one-buffer descriptors.
        let raw = (128 << 2) | (2048 >> 10) | 0x0200_0000;
        let s = Srrctl::from_raw(raw);
        assert_eq!(s.bsizepkt(), 2);
        assert_eq!(s.packet_buffer_bytes(), 2048);
        assert_eq!(s.bsizehdr(), 2);
        assert_eq!(s.header_buffer_bytes(), 128);
        assert_eq!(s.desctype(), Ok(DescType::AdvOneBuf));
        assert!(s.desctype().unwrap().is_advanced());
        assert!(!s.desctype().unwrap().uses_header_buffer());
    }

    #[test]
    fn srrctl_desctype_values_match_c() {
        // *_SRRCTL_DESCTYPE_*: LEGACY 0, ADV_ONEBUF 0x02000000, HDR_SPLIT 0x04000000,
        // HDR_REPLICATION 0x06000000, ..._LARGE_PKT 0x08000000, HDR_SPLIT_ALWAYS 0x0A000000.
        let table = [
            (0x0000_0000, DescType::Legacy),
            (0x0200_0000, DescType::AdvOneBuf),
            (0x0400_0000, DescType::AdvHeaderSplit),
            (0x0600_0000, DescType::AdvHeaderReplication),
            (0x0800_0000, DescType::AdvHeaderReplicationLargePkt),
            (0x0A00_0000, DescType::AdvHeaderSplitAlways),
        ];
        for (raw, ty) in table {
            assert_eq!(Srrctl::from_raw(raw).desctype(), Ok(ty));
            assert_eq!(Srrctl::default().with_desctype(ty).raw(), raw);
            assert_eq!(DescType::try_from(u32::from(ty)), Ok(ty));
        }
        assert_eq!(
            Srrctl::from_raw(0x0C00_0000).desctype(),
            Err(InvalidValue(6))
        );
        assert_eq!(
            Srrctl::from_raw(0x0E00_0000).desctype(),
            Err(InvalidValue(7))
        );
        assert!(!DescType::Legacy.is_advanced());
        assert!(DescType::AdvHeaderSplitAlways.uses_header_buffer());
    }

    #[test]
    fn setters_keep_other_bits_and_mask_wide_values() {
        let s = Srrctl::from_raw(0xFFFF_FFFF).with_bsizepkt(0);
        assert_eq!(s.raw(), 0xFFFF_FF80);
        // 0xFF does not fit 7 bits: only the field changes.
        let s = Srrctl::default().with_bsizepkt(0xFF);
        assert_eq!(s.raw(), 0x7F);
        let s = Srrctl::from_raw(0x0E00_0000).with_desctype(DescType::Legacy);
        assert_eq!(s.raw(), 0);
        assert_eq!(Srrctl::default().with_bsizehdr(0x3F).raw(), 0x3F00);
    }

    #[test]
    fn mailbox_bits_match_c() {
        // E1000_V2PMAILBOX_* / IXGBE_VFMAILBOX_*.
        let m = Mailbox::default;
        assert_eq!(m().with_req(true).raw(), 0x01);
        assert_eq!(m().with_ack(true).raw(), 0x02);
        assert_eq!(m().with_vfu(true).raw(), 0x04);
        assert_eq!(m().with_pfu(true).raw(), 0x08);
        assert_eq!(m().with_pfsts(true).raw(), 0x10);
        assert_eq!(m().with_pfack(true).raw(), 0x20);
        assert_eq!(m().with_rsti(true).raw(), 0x40);
        assert_eq!(m().with_rstd(true).raw(), 0x80);
        let r2c = m().with_pfsts(true).with_pfack(true).with_rstd(true);
        assert_eq!(r2c.raw(), MAILBOX_READ_CLEARS);
        let all = Mailbox::from_raw(0xFF);
        assert!(all.req() && all.ack() && all.vfu() && all.pfu());
        assert!(all.pfsts() && all.pfack() && all.rsti() && all.rstd());
        assert_eq!(Mailbox::REG, Reg::Mailbox);
    }

    #[test]
    fn head_write_back_address() {
        let lo = Tdwbal::from_raw(0x1234_5679);
        assert!(lo.head_wb_enable());
        assert!(!lo.seqnum_wb_enable());
        assert_eq!(lo.address(0xAB), 0xAB_1234_5678);
        assert_eq!(Tdwbal::from_raw(0x2).address(0), 0);
        assert!(Tdwbal::from_raw(0x2).seqnum_wb_enable());
    }

    #[test]
    fn trait_access_and_debug() {
        fn roundtrip<R: Register>(raw: u32) -> u32 {
            R::from_raw(raw).into_raw()
        }
        assert_eq!(roundtrip::<Rxdctl>(0xDEAD_BEEF), 0xDEAD_BEEF);
        assert_eq!(roundtrip::<Mailbox>(7), 7);
        assert_eq!(Rxdctl::REG, QueueReg::Rxdctl);
        assert_eq!(Txdctl::REG, QueueReg::Txdctl);
        assert_eq!(Srrctl::REG, QueueReg::Srrctl);
        assert_eq!(Tdwbal::REG, QueueReg::Tdwbal);
        assert_eq!(
            format!("{:?}", Rxdctl::from_raw(0x0200_0000)),
            "Rxdctl(0x02000000)"
        );
        assert_eq!(InvalidValue(6).to_string(), "reserved field value 0x6");
    }
}
