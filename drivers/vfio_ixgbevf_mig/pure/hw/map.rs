// SPDX-License-Identifier: GPL-2.0

//! BAR0 register maps of the two VF families: register name to offset and back.
//!
//! A [`RegMap`] (a family plus the geometry of one model) turns a [`Reg`] or [`QueueReg`]
//! and an index into a [`RegOffset`] and, for the chained BAR0 write handler, turns an
//! offset back into a name ([`RegMap::locate`]).
//!
//! Queue registers are not a plain stride in the igb family: queues 0-3 sit at
//! `0x2800 + n * 0x100` (RX) and `0x3800 + n * 0x100` (TX), higher ones at `0xC000 + n * 0x40`
//! and `0xE000 + n * 0x40`, so offsets come from a location function. The ixgbe family is a
//! clean `0x40` stride from `0x1000` (RX) and `0x2000` (TX).
//!
//! Bounds: VF BAR0 is 16 KiB in both families ([`BAR0_SIZE`]; QEMU's `IGBVF_MMIO_SIZE` for the
//! 82576, the datasheets for the others). The whole map of each family, at its widest
//! geometry, is checked to lie inside BAR0 at compile time; indices are checked at run time
//! and a bad one is an error, never a panic. Every igb queue at or above 4 would lie beyond
//! BAR0, which is why no igb VF has more than 2. The probe code must still check that the
//! real BAR is at least [`BAR0_SIZE`] long.
//!
//! C counterparts: `E1000_*` in `igbvf/regs.h` and `igb/e1000_regs.h`, `IXGBE_VF*` and
//! `IXGBE_VT*` in `ixgbevf/regs.h` and `ixgbevf/mbx.h`.

use crate::pure::hw::family::{Family, Geometry, VfModel};
use crate::pure::hw::pages::PageSet;
use crate::pure::hw::regs::{
    Dir, QueueReg, Reg, RegError, RegOffset, RegRef, BAR0_SIZE, MBX_WORDS, RETA_WORDS,
    RSS_KEY_WORDS,
};

/// Base of a device-wide register (array) in a family, `None` if the family lacks it.
const fn dev_base(family: Family, reg: Reg) -> Option<u32> {
    let base = match family {
        Family::Igb => match reg {
            Reg::Ctrl => 0x0000,
            Reg::Status => 0x0008,
            Reg::Eicr => 0x1580,
            Reg::Eics => 0x1520,
            Reg::Eims => 0x1524,
            Reg::Eimc => 0x1528,
            Reg::Eiac => 0x152C,
            Reg::Eiam => 0x1530,
            Reg::Eitr => 0x1680,
            Reg::Ivar => 0x1700,
            Reg::IvarMisc => 0x1740,
            Reg::Mailbox => 0x0C40,
            Reg::MbMem => 0x0800,
            Reg::Psrtype => 0x0F0C,
            Reg::Mrqc | Reg::Rssrk | Reg::Reta => return None,
        },
        Family::Ixgbe => match reg {
            Reg::Ctrl => 0x0000,
            Reg::Status => 0x0008,
            Reg::Eicr => 0x0100,
            Reg::Eics => 0x0104,
            Reg::Eims => 0x0108,
            Reg::Eimc => 0x010C,
            Reg::Eiac => 0x0110,
            Reg::Eiam => 0x0114,
            Reg::Eitr => 0x0820,
            Reg::Ivar => 0x0120,
            Reg::IvarMisc => 0x0140,
            Reg::Mailbox => 0x02FC,
            Reg::MbMem => 0x0200,
            Reg::Psrtype => 0x0300,
            Reg::Mrqc => 0x3000,
            Reg::Rssrk => 0x3100,
            Reg::Reta => 0x3200,
        },
    };
    Some(base)
}

/// Instances of `reg` a geometry wants, before the family caps it.
const fn wanted(reg: Reg, geo: Geometry) -> u8 {
    match reg {
        Reg::Eitr => geo.msix_vectors,
        // One IVAR holds the RX and TX entries of two queues (`queue >> 1` in both drivers).
        Reg::Ivar => geo.queues.div_ceil(2),
        Reg::MbMem => MBX_WORDS,
        // CAST: bool to u8 is 0 or 1.
        Reg::Mrqc => geo.rss as u8,
        Reg::Rssrk if geo.rss => RSS_KEY_WORDS,
        Reg::Reta if geo.rss => RETA_WORDS,
        Reg::Rssrk | Reg::Reta => 0,
        _ => 1,
    }
}

/// Offset inside the queue's block. Only SRRCTL and the DCA registers differ between
/// the families (igb `SRRCTL` 0x280C / `DCA_RXCTRL` 0x2814; ixgbe `VFSRRCTL` 0x1014 /
/// `VFDCA_RXCTRL` 0x100C; TX DCA 0x3814 / 0x200C).
const fn in_block(reg: QueueReg, family: Family) -> u32 {
    match (reg, family) {
        (QueueReg::Rdbal | QueueReg::Tdbal, _) => 0x00,
        (QueueReg::Rdbah | QueueReg::Tdbah, _) => 0x04,
        (QueueReg::Rdlen | QueueReg::Tdlen, _) => 0x08,
        (QueueReg::Srrctl, Family::Igb) => 0x0C,
        (QueueReg::Srrctl, Family::Ixgbe) => 0x14,
        (QueueReg::DcaRxctrl | QueueReg::DcaTxctrl, Family::Igb) => 0x14,
        (QueueReg::DcaRxctrl | QueueReg::DcaTxctrl, Family::Ixgbe) => 0x0C,
        (QueueReg::Rdh | QueueReg::Tdh, _) => 0x10,
        (QueueReg::Rdt | QueueReg::Tdt, _) => 0x18,
        (QueueReg::Rxdctl | QueueReg::Txdctl, _) => 0x28,
        (QueueReg::Tdwbal, _) => 0x38,
        (QueueReg::Tdwbah, _) => 0x3C,
    }
}

/// One run of equally spaced queue blocks.
#[derive(Clone, Copy)]
struct Bank {
    rx: u32,
    tx: u32,
    stride: u32,
}

/// Where the queue blocks of a family sit: queues below `split` in `low`, the rest in `high`.
/// Both banks index by the absolute queue number, as the C macros do.
#[derive(Clone, Copy)]
struct QueueLayout {
    low: Bank,
    split: u8,
    high: Bank,
}

const fn queue_layout(family: Family) -> QueueLayout {
    match family {
        // `E1000_RDBAL(_n)`: `(_n) < 4 ? 0x02800 + (_n) * 0x100 : 0x0C000 + (_n) * 0x40`,
        // `E1000_TDBAL(_n)`: `(_n) < 4 ? 0x03800 + (_n) * 0x100 : 0x0E000 + (_n) * 0x40`.
        Family::Igb => QueueLayout {
            low: Bank {
                rx: 0x2800,
                tx: 0x3800,
                stride: 0x100,
            },
            split: 4,
            high: Bank {
                rx: 0xC000,
                tx: 0xE000,
                stride: 0x40,
            },
        },
        // `IXGBE_VFRDBAL(x)`: `0x01000 + 0x40 * x`, `IXGBE_VFTDBAL(x)`: `0x02000 + 0x40 * x`.
        Family::Ixgbe => {
            let bank = Bank {
                rx: 0x1000,
                tx: 0x2000,
                stride: 0x40,
            };
            QueueLayout {
                low: bank,
                split: u8::MAX,
                high: bank,
            }
        }
    }
}

/// Unchecked location function: offset of `reg` of `queue` by the family's formula. Does not
/// overflow for any `u8` queue (at most 0xE000 + 255 * 0x40 + 0x3C).
const fn raw_queue_offset(family: Family, reg: QueueReg, queue: u8) -> u32 {
    let layout = queue_layout(family);
    let bank = if queue < layout.split {
        layout.low
    } else {
        layout.high
    };
    let base = match reg.dir() {
        Dir::Rx => bank.rx,
        Dir::Tx => bank.tx,
    };
    // CAST: u8 to u32 is lossless.
    base + queue as u32 * bank.stride + in_block(reg, family)
}

/// The register map of one family at one geometry.
///
/// # Invariants
///
/// `geometry` lies within `family.max_geometry()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegMap {
    family: Family,
    geometry: Geometry,
}

impl RegMap {
    /// The map of `family` limited to `geometry`, itself capped at the family's widest.
    pub const fn new(family: Family, geometry: Geometry) -> Self {
        let max = family.max_geometry();
        // INVARIANT: every field is capped at `max`.
        RegMap {
            family,
            geometry: Geometry {
                queues: min_u8(geometry.queues, max.queues),
                msix_vectors: min_u8(geometry.msix_vectors, max.msix_vectors),
                rss: geometry.rss && max.rss,
            },
        }
    }

    /// The widest map of a family: every register any of its models has.
    pub const fn for_family(family: Family) -> Self {
        RegMap::new(family, family.max_geometry())
    }

    /// The map of one model.
    pub const fn for_model(model: &VfModel) -> Self {
        RegMap::new(model.family, model.geometry)
    }

    /// The register family.
    #[cfg(any(test, feature = "testing"))]
    pub const fn family(self) -> Family {
        self.family
    }

    /// The (capped) geometry.
    #[cfg(any(test, feature = "testing"))]
    pub const fn geometry(self) -> Geometry {
        self.geometry
    }

    /// Number of queue pairs with registers in this map.
    pub const fn queues(self) -> u8 {
        self.geometry.queues
    }

    /// Number of instances of a device-wide register: 1 for a single register, the array
    /// length for an array, 0 if absent.
    pub const fn count(self, reg: Reg) -> u8 {
        match dev_base(self.family, reg) {
            Some(_) => wanted(reg, self.geometry),
            None => 0,
        }
    }

    /// Offset of element `index` of a device-wide register (0 for single registers).
    pub fn reg(self, reg: Reg, index: u8) -> Result<RegOffset, RegError> {
        let base = dev_base(self.family, reg).ok_or(RegError::NotPresent(reg))?;
        let count = self.count(reg);
        if count == 0 {
            return Err(RegError::NotPresent(reg));
        }
        if index >= count {
            return Err(RegError::IndexOutOfRange { index, count });
        }
        to_offset(base + 4 * u32::from(index))
    }

    /// Offset of a per-queue register of `queue`.
    pub fn queue(self, reg: QueueReg, queue: u8) -> Result<RegOffset, RegError> {
        let count = self.queues();
        if queue >= count {
            return Err(RegError::IndexOutOfRange {
                index: queue,
                count,
            });
        }
        to_offset(raw_queue_offset(self.family, reg, queue))
    }

    /// Offset of a register instance.
    pub fn offset(self, r: RegRef) -> Result<RegOffset, RegError> {
        match r {
            RegRef::Dev { reg, index } => self.reg(reg, index),
            RegRef::Queue { reg, queue } => self.queue(reg, queue),
        }
    }

    /// Which register instance holds the byte at BAR0 `offset`, if any.
    ///
    /// Unaligned offsets resolve to the register containing that byte. An access wider than
    /// 4 bytes touches several registers: callers look up every dword it covers.
    pub fn locate(self, offset: u64) -> Option<RegRef> {
        let off = RegOffset::new(offset & !3)?.get();
        for reg in Reg::ALL {
            let Some(base) = dev_base(self.family, reg) else {
                continue;
            };
            let end = base + 4 * u32::from(self.count(reg));
            if (base..end).contains(&off) {
                let index = u8::try_from((off - base) / 4).ok()?;
                return Some(RegRef::Dev { reg, index });
            }
        }
        for queue in 0..self.queues() {
            for reg in QueueReg::ALL {
                if raw_queue_offset(self.family, reg, queue) == off {
                    return Some(RegRef::Queue { reg, queue });
                }
            }
        }
        None
    }

    /// Every register instance of the map with its offset: device-wide registers first,
    /// then queue by queue.
    #[cfg(any(test, feature = "testing"))]
    pub fn registers(self) -> Registers {
        Registers {
            map: self,
            dev: 0,
            index: 0,
            queue: 0,
            qreg: 0,
        }
    }

    /// The BAR0 pages holding an RX tail register. These stay out of the sparse mmap so that
    /// every RDT write reaches the chained write handler.
    pub fn rx_tail_pages(self) -> PageSet {
        let mut pages = PageSet::new();
        for queue in 0..self.queues() {
            if let Ok(off) = self.queue(QueueReg::Rdt, queue) {
                pages.insert(off);
            }
        }
        pages
    }
}

const fn min_u8(a: u8, b: u8) -> u8 {
    if a < b {
        a
    } else {
        b
    }
}

fn to_offset(off: u32) -> Result<RegOffset, RegError> {
    RegOffset::new(u64::from(off)).ok_or(RegError::OutsideBar(off))
}

impl VfModel {
    /// The model's register map.
    pub const fn regs(&self) -> RegMap {
        RegMap::for_model(self)
    }
}

/// Iterator over the register instances of a [`RegMap`], see [`RegMap::registers`].
#[derive(Clone, Debug)]
#[cfg(any(test, feature = "testing"))]
pub struct Registers {
    map: RegMap,
    dev: usize,
    index: u8,
    queue: u8,
    qreg: usize,
}

#[cfg(any(test, feature = "testing"))]
impl Iterator for Registers {
    type Item = (RegRef, RegOffset);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(&reg) = Reg::ALL.get(self.dev) {
            if self.index < self.map.count(reg) {
                let r = RegRef::Dev {
                    reg,
                    index: self.index,
                };
                // No overflow: `index < count <= u8::MAX`.
                self.index += 1;
                if let Ok(off) = self.map.offset(r) {
                    return Some((r, off));
                }
            } else {
                self.dev += 1;
                self.index = 0;
            }
        }
        while self.queue < self.map.queues() {
            if let Some(&reg) = QueueReg::ALL.get(self.qreg) {
                self.qreg += 1;
                let r = RegRef::Queue {
                    reg,
                    queue: self.queue,
                };
                if let Ok(off) = self.map.offset(r) {
                    return Some((r, off));
                }
            } else {
                // No overflow: `queue < queues() <= u8::MAX`.
                self.queue += 1;
                self.qreg = 0;
            }
        }
        None
    }
}

/// Compile-time proof that the widest map of a family lies inside BAR0 and that every
/// register offset is 4-byte aligned.
const fn map_fits_bar(map: RegMap) -> bool {
    let mut i = 0;
    while i < Reg::ALL.len() {
        let reg = Reg::ALL[i];
        if let Some(base) = dev_base(map.family, reg) {
            // CAST: u8 to u32 is lossless.
            let end = base + 4 * map.count(reg) as u32;
            if base & 3 != 0 || end > BAR0_SIZE {
                return false;
            }
        }
        i += 1;
    }
    let mut queue = 0;
    while queue < map.queues() {
        let mut j = 0;
        while j < QueueReg::ALL.len() {
            let off = raw_queue_offset(map.family, QueueReg::ALL[j], queue);
            if off & 3 != 0 || off + 4 > BAR0_SIZE {
                return false;
            }
            j += 1;
        }
        queue += 1;
    }
    true
}

const _: () = assert!(map_fits_bar(RegMap::for_family(Family::Igb)));
const _: () = assert!(map_fits_bar(RegMap::for_family(Family::Ixgbe)));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::hw::family::SUPPORTED;

    /// Which register, if any, holds the byte at BAR0 `offset` in the widest map of `family`.
    fn locate(family: Family, offset: u64) -> Option<RegRef> {
        RegMap::for_family(family).locate(offset)
    }

    /// The BAR0 pages of `model` that hold RX tail registers.
    fn rx_tail_pages(model: &VfModel) -> PageSet {
        RegMap::for_model(model).rx_tail_pages()
    }

    // Transcriptions of the C macros (igbvf/regs.h, igb/e1000_regs.h, ixgbevf/regs.h),
    // kept literal so that the table-driven map is checked against them.
    fn e1000_q(n: u32, low: u32, high: u32) -> u32 {
        if n < 4 {
            low + n * 0x100
        } else {
            high + n * 0x40
        }
    }
    fn e1000(reg: QueueReg, n: u32) -> u32 {
        match reg {
            QueueReg::Rdbal => e1000_q(n, 0x02800, 0x0C000),
            QueueReg::Rdbah => e1000_q(n, 0x02804, 0x0C004),
            QueueReg::Rdlen => e1000_q(n, 0x02808, 0x0C008),
            QueueReg::Srrctl => e1000_q(n, 0x0280C, 0x0C00C),
            QueueReg::Rdh => e1000_q(n, 0x02810, 0x0C010),
            QueueReg::Rdt => e1000_q(n, 0x02818, 0x0C018),
            QueueReg::Rxdctl => e1000_q(n, 0x02828, 0x0C028),
            QueueReg::Tdbal => e1000_q(n, 0x03800, 0x0E000),
            QueueReg::Tdbah => e1000_q(n, 0x03804, 0x0E004),
            QueueReg::Tdlen => e1000_q(n, 0x03808, 0x0E008),
            QueueReg::Tdh => e1000_q(n, 0x03810, 0x0E010),
            QueueReg::Tdt => e1000_q(n, 0x03818, 0x0E018),
            QueueReg::Txdctl => e1000_q(n, 0x03828, 0x0E028),
            QueueReg::Tdwbal => e1000_q(n, 0x03838, 0x0E038),
            QueueReg::Tdwbah => e1000_q(n, 0x0383C, 0x0E03C),
            // E1000_DCA_RXCTRL(_n) (0x02814 + (_n << 8)), E1000_DCA_TXCTRL likewise; the C
            // macros have no high bank, the registers follow their neighbours.
            QueueReg::DcaRxctrl => e1000_q(n, 0x02814, 0x0C014),
            QueueReg::DcaTxctrl => e1000_q(n, 0x03814, 0x0E014),
        }
    }
    fn ixgbe(reg: QueueReg, x: u32) -> u32 {
        let base = match reg {
            QueueReg::Rdbal => 0x01000,
            QueueReg::Rdbah => 0x01004,
            QueueReg::Rdlen => 0x01008,
            QueueReg::Rdh => 0x01010,
            QueueReg::Rdt => 0x01018,
            QueueReg::Rxdctl => 0x01028,
            QueueReg::Srrctl => 0x01014,
            QueueReg::DcaRxctrl => 0x0100C,
            QueueReg::Tdbal => 0x02000,
            QueueReg::Tdbah => 0x02004,
            QueueReg::Tdlen => 0x02008,
            QueueReg::Tdh => 0x02010,
            QueueReg::Tdt => 0x02018,
            QueueReg::Txdctl => 0x02028,
            QueueReg::Tdwbal => 0x02038,
            QueueReg::Tdwbah => 0x0203C,
            QueueReg::DcaTxctrl => 0x0200C,
        };
        base + 0x40 * x
    }

    fn c_queue(family: Family, reg: QueueReg, n: u8) -> u32 {
        match family {
            Family::Igb => e1000(reg, n.into()),
            Family::Ixgbe => ixgbe(reg, n.into()),
        }
    }

    /// Device-wide registers: (reg, igb offset, ixgbe offset) for index 0, from the headers.
    const DEV_TABLE: [(Reg, Option<u32>, u32); 17] = [
        (Reg::Ctrl, Some(0x00000), 0x00000),
        (Reg::Status, Some(0x00008), 0x00008),
        (Reg::Eicr, Some(0x01580), 0x00100),
        (Reg::Eics, Some(0x01520), 0x00104),
        (Reg::Eims, Some(0x01524), 0x00108),
        (Reg::Eimc, Some(0x01528), 0x0010C),
        (Reg::Eiac, Some(0x0152C), 0x00110),
        (Reg::Eiam, Some(0x01530), 0x00114),
        (Reg::Eitr, Some(0x01680), 0x00820),
        (Reg::Ivar, Some(0x01700), 0x00120),
        (Reg::IvarMisc, Some(0x01740), 0x00140),
        (Reg::Mailbox, Some(0x00C40), 0x002FC),
        (Reg::MbMem, Some(0x00800), 0x00200),
        (Reg::Psrtype, Some(0x00F0C), 0x00300),
        (Reg::Mrqc, None, 0x3000),
        (Reg::Rssrk, None, 0x3100),
        (Reg::Reta, None, 0x3200),
    ];

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    fn all_maps() -> Vec<RegMap> {
        let mut maps: Vec<RegMap> = SUPPORTED.iter().map(VfModel::regs).collect();
        maps.extend(Family::ALL.map(RegMap::for_family));
        maps
    }

    #[test]
    fn device_registers_match_c_headers() {
        let igb = RegMap::for_family(Family::Igb);
        let ixgbe = RegMap::for_family(Family::Ixgbe);
        for (reg, igb_off, ixgbe_off) in DEV_TABLE {
            let got = igb.reg(reg, 0).ok().map(RegOffset::get);
            assert_eq!(got, igb_off, "igb {}", reg.name());
            assert_eq!(
                ixgbe.reg(reg, 0).map(RegOffset::get),
                Ok(ixgbe_off),
                "{}",
                reg.name()
            );
        }
        // Arrays: E1000_EITR(_n) / IXGBE_VTEITR(x) = base + 4n, same for IVAR, VMBMEM words
        // (array_ew32), VFRSSRK, VFRETA.
        assert_eq!(igb.reg(Reg::Eitr, 2).map(RegOffset::get), Ok(0x1688));
        assert_eq!(ixgbe.reg(Reg::Eitr, 2).map(RegOffset::get), Ok(0x0828));
        assert_eq!(ixgbe.reg(Reg::Ivar, 3).map(RegOffset::get), Ok(0x012C));
        assert_eq!(igb.reg(Reg::MbMem, 15).map(RegOffset::get), Ok(0x083C));
        assert_eq!(ixgbe.reg(Reg::MbMem, 15).map(RegOffset::get), Ok(0x023C));
        assert_eq!(ixgbe.reg(Reg::Rssrk, 9).map(RegOffset::get), Ok(0x3124));
        assert_eq!(ixgbe.reg(Reg::Reta, 15).map(RegOffset::get), Ok(0x323C));
    }

    #[test]
    fn array_lengths() {
        let igb = RegMap::for_family(Family::Igb);
        let x550 = model(0x1565).regs();
        let x82599 = model(0x10ED).regs();
        let i350 = model(0x1520).regs();
        assert_eq!((igb.count(Reg::Eitr), igb.count(Reg::Ivar)), (3, 1));
        assert_eq!((x550.count(Reg::Eitr), x550.count(Reg::Ivar)), (3, 4));
        assert_eq!((i350.count(Reg::Ivar), i350.count(Reg::MbMem)), (1, 16));
        assert_eq!(x550.count(Reg::Rssrk), 10);
        assert_eq!(x550.count(Reg::Reta), 16);
        assert_eq!(x550.count(Reg::Mrqc), 1);
        for reg in [Reg::Mrqc, Reg::Rssrk, Reg::Reta] {
            assert_eq!(x82599.count(reg), 0);
            assert_eq!(igb.count(reg), 0);
        }
        assert_eq!(x550.count(Reg::Ctrl), 1);
    }

    #[test]
    fn queue_registers_match_c_macros() {
        for family in Family::ALL {
            let map = RegMap::for_family(family);
            for queue in 0..map.queues() {
                for reg in QueueReg::ALL {
                    let want = c_queue(family, reg, queue);
                    assert_eq!(map.queue(reg, queue).map(RegOffset::get), Ok(want));
                }
            }
        }
        // Spot values worked out by hand from the headers.
        let igb = RegMap::for_family(Family::Igb);
        let ixgbe = RegMap::for_family(Family::Ixgbe);
        let at = |m: RegMap, r, q| m.queue(r, q).map(RegOffset::get);
        assert_eq!(at(igb, QueueReg::Rdt, 0), Ok(0x2818));
        assert_eq!(at(igb, QueueReg::Rdt, 1), Ok(0x2918));
        assert_eq!(at(igb, QueueReg::Srrctl, 1), Ok(0x290C));
        assert_eq!(at(igb, QueueReg::Tdt, 1), Ok(0x3918));
        assert_eq!(at(igb, QueueReg::Tdwbah, 1), Ok(0x393C));
        assert_eq!(at(ixgbe, QueueReg::Rdt, 7), Ok(0x11D8));
        assert_eq!(at(ixgbe, QueueReg::Srrctl, 3), Ok(0x10D4));
        assert_eq!(at(ixgbe, QueueReg::DcaRxctrl, 1), Ok(0x104C));
        assert_eq!(at(ixgbe, QueueReg::Tdwbah, 7), Ok(0x21FC));
    }

    #[test]
    fn igb_location_function_switches_base_at_queue_4() {
        for queue in 0..=u8::MAX {
            for reg in QueueReg::ALL {
                assert_eq!(
                    raw_queue_offset(Family::Igb, reg, queue),
                    e1000(reg, queue.into())
                );
                assert_eq!(
                    raw_queue_offset(Family::Ixgbe, reg, queue),
                    ixgbe(reg, queue.into())
                );
            }
        }
        assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rdbal, 3), 0x2B00);
        assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rdbal, 4), 0xC100);
        assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rdt, 4), 0xC118);
        assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Rxdctl, 5), 0xC168);
        assert_eq!(raw_queue_offset(Family::Igb, QueueReg::Tdbal, 4), 0xE100);
        // The high bank lies beyond the 16 KiB VF BAR: never handed out.
        let high = raw_queue_offset(Family::Igb, QueueReg::Rdt, 4);
        assert_eq!(to_offset(high), Err(RegError::OutsideBar(0xC118)));
    }

    #[test]
    fn out_of_range_queues_and_indices_are_errors() {
        let m82576 = model(0x10CA).regs();
        let i350 = model(0x1520).regs();
        let x540 = model(0x1515).regs();
        let oor = |index, count| Err(RegError::IndexOutOfRange { index, count });
        assert_eq!(m82576.queue(QueueReg::Rdt, 2), oor(2, 2));
        assert_eq!(m82576.queue(QueueReg::Rdt, 4), oor(4, 2));
        assert_eq!(m82576.queue(QueueReg::Tdt, u8::MAX), oor(255, 2));
        assert_eq!(i350.queue(QueueReg::Rdt, 1), oor(1, 1));
        assert_eq!(x540.queue(QueueReg::Rxdctl, 8), oor(8, 8));
        assert_eq!(x540.reg(Reg::Eitr, 3), oor(3, 3));
        assert_eq!(x540.reg(Reg::Ctrl, 1), oor(1, 1));
        assert_eq!(x540.reg(Reg::MbMem, 16), oor(16, 16));
        assert_eq!(i350.reg(Reg::Ivar, 1), oor(1, 1));
        assert_eq!(x540.reg(Reg::Reta, 0), Err(RegError::NotPresent(Reg::Reta)));
        assert_eq!(
            m82576.reg(Reg::Mrqc, 0),
            Err(RegError::NotPresent(Reg::Mrqc))
        );
        let rdt = RegRef::Queue {
            reg: QueueReg::Rdt,
            queue: 9,
        };
        assert_eq!(x540.offset(rdt), oor(9, 8));
    }

    #[test]
    fn geometry_is_capped_by_family() {
        let wide = Geometry {
            queues: u8::MAX,
            msix_vectors: u8::MAX,
            rss: true,
        };
        let igb = RegMap::new(Family::Igb, wide);
        assert_eq!(igb.geometry(), Family::Igb.max_geometry());
        assert_eq!(igb.family(), Family::Igb);
        let ixgbe = RegMap::new(Family::Ixgbe, wide);
        assert_eq!(ixgbe.geometry(), Family::Ixgbe.max_geometry());
        assert_eq!(
            ixgbe.registers().count(),
            RegMap::for_family(Family::Ixgbe).registers().count()
        );
        let none = RegMap::new(
            Family::Ixgbe,
            Geometry {
                queues: 0,
                msix_vectors: 0,
                rss: false,
            },
        );
        assert_eq!(none.count(Reg::Ivar), 0);
        assert_eq!(none.count(Reg::Eitr), 0);
        assert_eq!(none.reg(Reg::Eitr, 0), Err(RegError::NotPresent(Reg::Eitr)));
        assert_eq!(none.rx_tail_pages(), PageSet::new());
    }

    #[test]
    fn every_register_of_every_map_is_inside_bar0() {
        assert!(map_fits_bar(RegMap::for_family(Family::Igb)));
        assert!(map_fits_bar(RegMap::for_family(Family::Ixgbe)));
        for map in all_maps() {
            let mut n = 0;
            for (r, off) in map.registers() {
                assert!(
                    off.get() % 4 == 0 && off.get() + 4 <= BAR0_SIZE,
                    "{r} at {off}"
                );
                assert_eq!(map.offset(r), Ok(off));
                n += 1;
            }
            assert!(n > 0);
        }
    }

    #[test]
    fn register_counts_per_model() {
        let count = |d| model(d).regs().registers().count();
        // 8 single + 3 EITR + 1 IVAR + IVAR_MISC + MAILBOX + 16 MBMEM + PSRTYPE = 31,
        // plus 17 per queue.
        assert_eq!(count(0x10CA), 31 + 2 * 17);
        assert_eq!(count(0x1520), 31 + 17);
        // 8 + 3 EITR + 4 IVAR + 1 + 1 + 16 + 1 = 34 (+ 27 RSS from X550 on), 8 queues.
        assert_eq!(count(0x10ED), 34 + 8 * 17);
        assert_eq!(count(0x1515), 34 + 8 * 17);
        for d in [0x1565, 0x15A8, 0x15C5, 0x57AD] {
            assert_eq!(count(d), 34 + 27 + 8 * 17);
        }
    }

    #[test]
    fn iteration_order_is_device_then_queue_major() {
        let regs: Vec<RegRef> = model(0x10CA).regs().registers().map(|(r, _)| r).collect();
        assert_eq!(regs[0], RegRef::dev(Reg::Ctrl));
        assert_eq!(
            regs[31],
            RegRef::Queue {
                reg: QueueReg::Rdbal,
                queue: 0
            }
        );
        assert_eq!(
            regs[31 + 17],
            RegRef::Queue {
                reg: QueueReg::Rdbal,
                queue: 1
            }
        );
        assert_eq!(
            *regs.last().unwrap(),
            RegRef::Queue {
                reg: QueueReg::DcaTxctrl,
                queue: 1
            }
        );
    }

    #[test]
    fn locate_round_trips_every_register() {
        for map in all_maps() {
            let mut offsets = Vec::new();
            for (r, off) in map.registers() {
                let o = u64::from(off.get());
                for byte in 0..4 {
                    assert_eq!(map.locate(o + byte), Some(r), "{r} at {off} + {byte}");
                }
                if map == RegMap::for_family(map.family()) {
                    assert_eq!(locate(map.family(), o), Some(r));
                }
                offsets.push(off);
            }
            // No two registers share an offset.
            let n = offsets.len();
            offsets.sort();
            offsets.dedup();
            assert_eq!(offsets.len(), n);
        }
    }

    #[test]
    fn locate_rejects_everything_else() {
        for map in all_maps() {
            let known: Vec<u32> = map.registers().map(|(_, off)| off.get()).collect();
            for off in (0..BAR0_SIZE).step_by(4) {
                let found = map.locate(off.into());
                assert_eq!(found.is_some(), known.contains(&off), "{off:#x}");
            }
            for off in [0x4000, 0x4001, 0xC118, 0x1_0000_2818, u64::MAX] {
                assert_eq!(map.locate(off), None);
            }
        }
    }

    #[test]
    fn locate_recognises_rx_tail_writes() {
        let rdt = |queue| {
            Some(RegRef::Queue {
                reg: QueueReg::Rdt,
                queue,
            })
        };
        assert_eq!(locate(Family::Igb, 0x2818), rdt(0));
        assert_eq!(locate(Family::Igb, 0x2918), rdt(1));
        assert_eq!(locate(Family::Igb, 0x2A18), None);
        assert_eq!(locate(Family::Ixgbe, 0x1018), rdt(0));
        assert_eq!(locate(Family::Ixgbe, 0x11D8), rdt(7));
        assert_eq!(locate(Family::Ixgbe, 0x1218), None);
        // A model map only knows the model's queues and registers.
        assert_eq!(model(0x1520).regs().locate(0x2918), None);
        assert_eq!(model(0x10CA).regs().locate(0x2918), rdt(1));
        assert_eq!(model(0x10ED).regs().locate(0x3000), None);
        assert_eq!(locate(Family::Ixgbe, 0x3000), Some(RegRef::dev(Reg::Mrqc)));
        assert_eq!(
            locate(Family::Igb, 0x0808),
            Some(RegRef::Dev {
                reg: Reg::MbMem,
                index: 2
            })
        );
    }

    #[test]
    fn rx_tail_pages_per_model() {
        for m in SUPPORTED {
            let pages: Vec<u32> = rx_tail_pages(&m).iter().collect();
            let want = match m.family {
                Family::Igb => 0x2000,
                Family::Ixgbe => 0x1000,
            };
            assert_eq!(pages, [want], "{}", m.name);
            // Every RDT of the model is on a trapped page.
            for queue in 0..m.geometry.queues {
                let off = m.regs().queue(QueueReg::Rdt, queue).unwrap();
                assert!(rx_tail_pages(&m).contains(off.get().into()));
            }
        }
        let runs: Vec<_> = rx_tail_pages(&model(0x10CA)).complement_runs().collect();
        assert_eq!(runs, [(0, 0x2000), (0x3000, 0x1000)]);
    }
}
