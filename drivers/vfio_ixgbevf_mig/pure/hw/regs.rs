// SPDX-License-Identifier: GPL-2.0

//! Names of the VF registers, shared by both families.
//!
//! Every register the driver saves, restores or traps is named here: [`Reg`] for device-wide
//! registers and arrays, [`QueueReg`] for per-queue ones, [`RegRef`] for one instance of
//! either. Call sites never spell an offset; [`super::map::RegMap`] turns a name into a
//! [`RegOffset`] for a given family and model, and back.
//!
//! C counterparts: `igbvf/regs.h` (`E1000_*`), `igb/e1000_regs.h` (`E1000_TDWBAL`/`TDWBAH`),
//! `ixgbevf/regs.h` (`IXGBE_VF*`, `IXGBE_VT*`) and both `mbx.h` files.

use core::fmt;

/// Size of a VF's BAR0 (register space) in both families.
pub const BAR0_SIZE: u32 = 16 * 1024;

/// Granule in which BAR0 is trapped or mapped (the x86 page size).
pub const BAR0_PAGE_SIZE: u32 = 4096;

/// Number of [`BAR0_PAGE_SIZE`] pages in BAR0.
pub const BAR0_PAGES: u32 = BAR0_SIZE / BAR0_PAGE_SIZE;

/// 32-bit words in the VF mailbox memory (`E1000_VFMAILBOX_SIZE`, `IXGBE_VFMAILBOX_SIZE`).
pub const MBX_WORDS: u8 = 16;

/// 32-bit words of the VF RSS key (`IXGBEVF_VFRSSRK_REGS`).
pub const RSS_KEY_WORDS: u8 = 10;

/// 32-bit words of the VF RSS redirection table: 64 one-byte entries, four per register
/// (`IXGBEVF_X550_VFRETA_SIZE`).
pub const RETA_WORDS: u8 = 16;

/// Bits of the mailbox register that a read clears: PFSTS, PFACK and RSTD
/// (`E1000_V2PMAILBOX_R2C_BITS`, `IXGBE_VFMAILBOX_R2C_BITS`).
#[cfg(any(test, feature = "testing"))]
pub const MAILBOX_READ_CLEARS: u32 = 0xB0;

/// BAR0 offset of a 32-bit register.
///
/// # Invariants
///
/// The offset is a multiple of 4 and `offset + 4 <= BAR0_SIZE`: a 32-bit access at it stays
/// inside BAR0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegOffset(u32);

impl RegOffset {
    /// Checks `offset` (4-byte aligned, inside BAR0) and wraps it.
    pub const fn new(offset: u64) -> Option<Self> {
        // CAST: u32 to u64 is lossless.
        if offset & 3 == 0 && offset < BAR0_SIZE as u64 {
            // CAST: `offset < BAR0_SIZE`, so it fits in u32.
            // INVARIANT: alignment and bound checked just above; BAR0_SIZE is a multiple of 4.
            Some(Self(offset as u32))
        } else {
            None
        }
    }

    /// The offset in bytes from the start of BAR0.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The offset as `usize`, for MMIO helpers.
    pub const fn as_usize(self) -> usize {
        // CAST: u32 to usize is lossless on every target Linux supports (>= 32-bit).
        self.0 as usize
    }

    /// Offset of the [`BAR0_PAGE_SIZE`] page holding the register.
    #[cfg(any(test, feature = "testing"))]
    pub const fn page(self) -> u32 {
        self.0 & !(BAR0_PAGE_SIZE - 1)
    }
}

impl fmt::Display for RegOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

/// How a register behaves on access; what save and restore must respect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg(any(test, feature = "testing"))]
pub enum AccessMode {
    /// Reads return what was written.
    ReadWrite,
    /// Writes are ignored.
    ReadOnly,
    /// Reads return nothing useful; writes act (set or clear bits elsewhere).
    WriteOnly,
    /// Reads return the current value; writing 1s sets bits, 0s are ignored.
    WriteOneToSet,
    /// Reads clear the bits in the mask. A host read steals these events from the guest
    /// driver, so save code must not read the register while the guest may still need them.
    ReadClears(u32),
}

/// A device-wide (not per-queue) VF register or register array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reg {
    /// Device control (`E1000_CTRL`, `IXGBE_VFCTRL`), 0x0000 in both. Writing bit 26 (RST)
    /// resets the VF.
    Ctrl,
    /// Device status (`E1000_STATUS`, `IXGBE_VFSTATUS`), 0x0008 in both.
    Status,
    /// Extended interrupt cause (`E1000_EICR` 0x1580, `IXGBE_VTEICR` 0x0100).
    Eicr,
    /// Extended interrupt cause set (`E1000_EICS` 0x1520, `IXGBE_VTEICS` 0x0104).
    Eics,
    /// Extended interrupt mask set/read (`E1000_EIMS` 0x1524, `IXGBE_VTEIMS` 0x0108).
    Eims,
    /// Extended interrupt mask clear (`E1000_EIMC` 0x1528, `IXGBE_VTEIMC` 0x010C).
    Eimc,
    /// Extended interrupt auto clear (`E1000_EIAC` 0x152C, `IXGBE_VTEIAC` 0x0110).
    Eiac,
    /// Extended interrupt auto mask (`E1000_EIAM` 0x1530, `IXGBE_VTEIAM` 0x0114).
    Eiam,
    /// Interrupt throttle, one per MSI-X vector (`E1000_EITR(n)` 0x1680 + 4n,
    /// `IXGBE_VTEITR(n)` 0x0820 + 4n).
    Eitr,
    /// Queue-to-vector map, one register per two queues (`E1000_IVAR0` 0x1700 + 4n,
    /// `IXGBE_VTIVAR(n)` 0x0120 + 4n).
    Ivar,
    /// Vector of the mailbox/other cause (`E1000_IVAR_MISC` 0x1740, `IXGBE_VTIVAR_MISC`
    /// 0x0140).
    IvarMisc,
    /// VF-to-PF mailbox control (`E1000_V2PMAILBOX(0)` 0x0C40, `IXGBE_VFMAILBOX` 0x02FC).
    Mailbox,
    /// Mailbox memory, [`MBX_WORDS`] words (`E1000_VMBMEM(0)` 0x0800, `IXGBE_VFMBMEM` 0x0200).
    MbMem,
    /// Packet split receive type (`IXGBE_VFPSRTYPE` 0x0300; igb VF 0x0F0C: not used by igbvf,
    /// listed in the 82576 VF register table and mapped by QEMU's `hw/net/igbvf.c`).
    Psrtype,
    /// VF multiple receive queue command, RSS enable (`IXGBE_VFMRQC` 0x3000; ixgbe X550+).
    Mrqc,
    /// VF RSS key, [`RSS_KEY_WORDS`] words (`IXGBE_VFRSSRK(n)` 0x3100 + 4n; ixgbe X550+).
    Rssrk,
    /// VF RSS redirection table, [`RETA_WORDS`] words (`IXGBE_VFRETA(n)` 0x3200 + 4n;
    /// ixgbe X550+).
    Reta,
}

impl Reg {
    /// Every device-wide register, in save order.
    pub const ALL: [Reg; 17] = [
        Reg::Ctrl,
        Reg::Status,
        Reg::Eicr,
        Reg::Eics,
        Reg::Eims,
        Reg::Eimc,
        Reg::Eiac,
        Reg::Eiam,
        Reg::Eitr,
        Reg::Ivar,
        Reg::IvarMisc,
        Reg::Mailbox,
        Reg::MbMem,
        Reg::Psrtype,
        Reg::Mrqc,
        Reg::Rssrk,
        Reg::Reta,
    ];

    /// Datasheet-style name, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Reg::Ctrl => "CTRL",
            Reg::Status => "STATUS",
            Reg::Eicr => "EICR",
            Reg::Eics => "EICS",
            Reg::Eims => "EIMS",
            Reg::Eimc => "EIMC",
            Reg::Eiac => "EIAC",
            Reg::Eiam => "EIAM",
            Reg::Eitr => "EITR",
            Reg::Ivar => "IVAR",
            Reg::IvarMisc => "IVAR_MISC",
            Reg::Mailbox => "MAILBOX",
            Reg::MbMem => "MBMEM",
            Reg::Psrtype => "PSRTYPE",
            Reg::Mrqc => "MRQC",
            Reg::Rssrk => "RSSRK",
            Reg::Reta => "RETA",
        }
    }

    /// Whether the register is an array (indexed) rather than a single register.
    pub const fn is_array(self) -> bool {
        matches!(
            self,
            Reg::Eitr | Reg::Ivar | Reg::MbMem | Reg::Rssrk | Reg::Reta
        )
    }

    /// Access behaviour (igbvf `regs.h` comments, both `mbx.h` files).
    #[cfg(any(test, feature = "testing"))]
    pub const fn access(self) -> AccessMode {
        match self {
            Reg::Status => AccessMode::ReadOnly,
            // "Ext. Interrupt Cause Read - R/clr".
            Reg::Eicr => AccessMode::ReadClears(u32::MAX),
            Reg::Eics | Reg::Eimc => AccessMode::WriteOnly,
            Reg::Eims => AccessMode::WriteOneToSet,
            Reg::Mailbox => AccessMode::ReadClears(MAILBOX_READ_CLEARS),
            _ => AccessMode::ReadWrite,
        }
    }
}

/// Direction of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Receive.
    Rx,
    /// Transmit.
    Tx,
}

/// A per-queue register. All are read/write; comments give the in-block offset
/// (igb / ixgbe) from the queue's block base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueueReg {
    /// RX ring base, low 32 bits (+0x00).
    Rdbal,
    /// RX ring base, high 32 bits (+0x04).
    Rdbah,
    /// RX ring length in bytes (+0x08).
    Rdlen,
    /// Split and replication receive control (+0x0C / +0x14).
    Srrctl,
    /// RX head (+0x10); writable only while the queue is disabled.
    Rdh,
    /// RX tail (+0x18); a write hands descriptors to the device and is trapped while logging.
    Rdt,
    /// RX descriptor control, queue enable (+0x28).
    Rxdctl,
    /// RX DCA control, descriptor write-back ordering (+0x14 / +0x0C).
    DcaRxctrl,
    /// TX ring base, low 32 bits (+0x00).
    Tdbal,
    /// TX ring base, high 32 bits (+0x04).
    Tdbah,
    /// TX ring length in bytes (+0x08).
    Tdlen,
    /// TX head (+0x10); writable only while the queue is disabled.
    Tdh,
    /// TX tail (+0x18).
    Tdt,
    /// TX descriptor control, queue enable (+0x28).
    Txdctl,
    /// TX head write-back address low, bit 0 enables (+0x38).
    Tdwbal,
    /// TX head write-back address high (+0x3C).
    Tdwbah,
    /// TX DCA control (+0x14 / +0x0C).
    DcaTxctrl,
}

impl QueueReg {
    /// Every per-queue register, in save order.
    pub const ALL: [QueueReg; 17] = [
        QueueReg::Rdbal,
        QueueReg::Rdbah,
        QueueReg::Rdlen,
        QueueReg::Srrctl,
        QueueReg::Rdh,
        QueueReg::Rdt,
        QueueReg::Rxdctl,
        QueueReg::DcaRxctrl,
        QueueReg::Tdbal,
        QueueReg::Tdbah,
        QueueReg::Tdlen,
        QueueReg::Tdh,
        QueueReg::Tdt,
        QueueReg::Txdctl,
        QueueReg::Tdwbal,
        QueueReg::Tdwbah,
        QueueReg::DcaTxctrl,
    ];

    /// Datasheet-style name, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            QueueReg::Rdbal => "RDBAL",
            QueueReg::Rdbah => "RDBAH",
            QueueReg::Rdlen => "RDLEN",
            QueueReg::Srrctl => "SRRCTL",
            QueueReg::Rdh => "RDH",
            QueueReg::Rdt => "RDT",
            QueueReg::Rxdctl => "RXDCTL",
            QueueReg::DcaRxctrl => "DCA_RXCTRL",
            QueueReg::Tdbal => "TDBAL",
            QueueReg::Tdbah => "TDBAH",
            QueueReg::Tdlen => "TDLEN",
            QueueReg::Tdh => "TDH",
            QueueReg::Tdt => "TDT",
            QueueReg::Txdctl => "TXDCTL",
            QueueReg::Tdwbal => "TDWBAL",
            QueueReg::Tdwbah => "TDWBAH",
            QueueReg::DcaTxctrl => "DCA_TXCTRL",
        }
    }

    /// The queue direction the register belongs to.
    pub const fn dir(self) -> Dir {
        match self {
            QueueReg::Rdbal
            | QueueReg::Rdbah
            | QueueReg::Rdlen
            | QueueReg::Srrctl
            | QueueReg::Rdh
            | QueueReg::Rdt
            | QueueReg::Rxdctl
            | QueueReg::DcaRxctrl => Dir::Rx,
            _ => Dir::Tx,
        }
    }
}

/// One register instance: a device-wide register (with its array index, 0 for single
/// registers) or a per-queue register of one queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegRef {
    /// A device-wide register.
    Dev {
        /// Which register.
        reg: Reg,
        /// Index into the array; 0 for single registers.
        index: u8,
    },
    /// A per-queue register.
    Queue {
        /// Which register.
        reg: QueueReg,
        /// Queue number, counted from 0 within the VF.
        queue: u8,
    },
}

impl RegRef {
    /// Shorthand for a single (non-array) device-wide register.
    pub const fn dev(reg: Reg) -> Self {
        RegRef::Dev { reg, index: 0 }
    }
}

impl fmt::Display for RegRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegRef::Dev { reg, index } if reg.is_array() => write!(f, "{}[{}]", reg.name(), index),
            RegRef::Dev { reg, .. } => f.write_str(reg.name()),
            RegRef::Queue { reg, queue } => write!(f, "{}[{}]", reg.name(), queue),
        }
    }
}

/// Why a register could not be located.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegError {
    /// The family or model has no such register (VF RSS on an 82599 VF, for instance).
    NotPresent(Reg),
    /// An array index or queue number at or beyond the number present.
    IndexOutOfRange {
        /// The rejected index.
        index: u8,
        /// How many there are.
        count: u8,
    },
    /// The computed offset would lie outside BAR0 (a map bug; ruled out at compile time).
    OutsideBar(u32),
}

impl fmt::Display for RegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegError::NotPresent(reg) => write!(f, "{} not present", reg.name()),
            RegError::IndexOutOfRange { index, count } => {
                write!(f, "index {index} out of range (count {count})")
            }
            RegError::OutsideBar(off) => write!(f, "offset {off:#x} outside BAR0"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when a variant is added but not listed in `ALL`.
    const fn reg_listed(reg: Reg) -> bool {
        match reg {
            Reg::Ctrl
            | Reg::Status
            | Reg::Eicr
            | Reg::Eics
            | Reg::Eims
            | Reg::Eimc
            | Reg::Eiac
            | Reg::Eiam
            | Reg::Eitr
            | Reg::Ivar
            | Reg::IvarMisc
            | Reg::Mailbox
            | Reg::MbMem
            | Reg::Psrtype
            | Reg::Mrqc
            | Reg::Rssrk
            | Reg::Reta => true,
        }
    }

    #[test]
    fn all_lists_are_complete_and_unique() {
        for (i, a) in Reg::ALL.iter().enumerate() {
            assert!(reg_listed(*a));
            for b in &Reg::ALL[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(a.name(), b.name());
            }
        }
        for (i, a) in QueueReg::ALL.iter().enumerate() {
            for b in &QueueReg::ALL[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(a.name(), b.name());
            }
        }
        let rx = QueueReg::ALL.iter().filter(|r| r.dir() == Dir::Rx).count();
        assert_eq!(rx, 8);
        assert_eq!(QueueReg::ALL.len() - rx, 9);
    }

    #[test]
    fn queue_directions() {
        assert_eq!(QueueReg::Rdt.dir(), Dir::Rx);
        assert_eq!(QueueReg::Srrctl.dir(), Dir::Rx);
        assert_eq!(QueueReg::DcaRxctrl.dir(), Dir::Rx);
        assert_eq!(QueueReg::Tdt.dir(), Dir::Tx);
        assert_eq!(QueueReg::Tdwbah.dir(), Dir::Tx);
        assert_eq!(QueueReg::DcaTxctrl.dir(), Dir::Tx);
    }

    #[test]
    fn access_modes() {
        assert_eq!(Reg::Status.access(), AccessMode::ReadOnly);
        assert_eq!(Reg::Eicr.access(), AccessMode::ReadClears(u32::MAX));
        assert_eq!(Reg::Eics.access(), AccessMode::WriteOnly);
        assert_eq!(Reg::Eimc.access(), AccessMode::WriteOnly);
        assert_eq!(Reg::Eims.access(), AccessMode::WriteOneToSet);
        // E1000_V2PMAILBOX_R2C_BITS / IXGBE_VFMAILBOX_R2C_BITS.
        assert_eq!(Reg::Mailbox.access(), AccessMode::ReadClears(0xB0));
        assert_eq!(Reg::Eitr.access(), AccessMode::ReadWrite);
        assert_eq!(Reg::Ctrl.access(), AccessMode::ReadWrite);
    }

    #[test]
    fn offsets_are_checked() {
        assert_eq!(RegOffset::new(0).map(RegOffset::get), Some(0));
        assert_eq!(RegOffset::new(0x3FFC).map(RegOffset::get), Some(0x3FFC));
        assert_eq!(RegOffset::new(0x4000), None);
        assert_eq!(RegOffset::new(0x2819), None);
        assert_eq!(RegOffset::new(0x2_0000_2818), None);
        assert_eq!(RegOffset::new(u64::MAX), None);
        let off = RegOffset::new(0x2818).unwrap();
        assert_eq!(off.page(), 0x2000);
        assert_eq!(off.as_usize(), 0x2818);
        assert_eq!(off.to_string(), "0x2818");
        assert_eq!(BAR0_PAGES, 4);
    }

    #[test]
    fn display() {
        assert_eq!(RegRef::dev(Reg::Ctrl).to_string(), "CTRL");
        assert_eq!(
            RegRef::Dev {
                reg: Reg::Eitr,
                index: 2
            }
            .to_string(),
            "EITR[2]"
        );
        let rdt = RegRef::Queue {
            reg: QueueReg::Rdt,
            queue: 1,
        };
        assert_eq!(rdt.to_string(), "RDT[1]");
        let e = RegError::IndexOutOfRange { index: 4, count: 2 };
        assert_eq!(e.to_string(), "index 4 out of range (count 2)");
        assert_eq!(
            RegError::NotPresent(Reg::Reta).to_string(),
            "RETA not present"
        );
        assert_eq!(
            RegError::OutsideBar(0xC118).to_string(),
            "offset 0xc118 outside BAR0"
        );
    }
}
