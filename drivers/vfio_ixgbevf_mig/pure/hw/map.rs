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
mod tests;
