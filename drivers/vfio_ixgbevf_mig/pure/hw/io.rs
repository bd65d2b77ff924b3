// SPDX-License-Identifier: GPL-2.0

//! BAR0 access for the pure core.
//!
//! Pure code that must touch the device (state save and restore, queue quiesce) does so
//! through [`RegIo`]. The kernel implements it over the VF's `ioremap`ped BAR0; host tests
//! implement it with a fake BAR. Offsets are [`RegOffset`]s, so an access is inside BAR0 by
//! construction: the implementation only has to make sure its mapping is [`BAR0_SIZE`] long.
//!
//! C counterpart: `readl`/`writel` on `hw->hw_addr` in igbvf and ixgbevf.
//!
//! [`BAR0_SIZE`]: super::regs::BAR0_SIZE

#[cfg(any(test, feature = "testing"))]
use crate::pure::hw::family::VfModel;
#[cfg(any(test, feature = "testing"))]
use crate::pure::hw::fields::{DevRegister, QueueRegister, Register};
#[cfg(any(test, feature = "testing"))]
use crate::pure::hw::regs::RegError;
use crate::pure::hw::regs::RegOffset;

/// 32-bit register access to a VF's BAR0.
pub trait RegIo {
    /// Reads the register at `offset`.
    fn read32(&self, offset: RegOffset) -> u32;

    /// Writes `value` to the register at `offset`.
    fn write32(&self, offset: RegOffset, value: u32);

    /// Reads a typed register.
    #[cfg(any(test, feature = "testing"))]
    fn read<R: Register>(&self, offset: RegOffset) -> R
    where
        Self: Sized,
    {
        R::from_raw(self.read32(offset))
    }

    /// Writes a typed register.
    #[cfg(any(test, feature = "testing"))]
    fn write<R: Register>(&self, offset: RegOffset, value: R)
    where
        Self: Sized,
    {
        self.write32(offset, value.into_raw());
    }

    /// Reads a typed per-queue register of `queue`, checked against the model's queues.
    #[cfg(any(test, feature = "testing"))]
    fn read_queue<R: QueueRegister>(&self, model: &VfModel, queue: u8) -> Result<R, RegError>
    where
        Self: Sized,
    {
        Ok(self.read(model.regs().queue(R::REG, queue)?))
    }

    /// Writes a typed per-queue register of `queue`, checked against the model's queues.
    #[cfg(any(test, feature = "testing"))]
    fn write_queue<R: QueueRegister>(
        &self,
        model: &VfModel,
        queue: u8,
        value: R,
    ) -> Result<(), RegError>
    where
        Self: Sized,
    {
        self.write(model.regs().queue(R::REG, queue)?, value);
        Ok(())
    }

    /// Reads a typed device-wide register.
    #[cfg(any(test, feature = "testing"))]
    fn read_dev<R: DevRegister>(&self, model: &VfModel) -> Result<R, RegError>
    where
        Self: Sized,
    {
        Ok(self.read(model.regs().reg(R::REG, 0)?))
    }
}

/// A fake BAR0 for host tests and the fuzz targets: plain memory, with the read-to-clear bits
/// of the model's registers modelled so that save code that steals events shows up in tests.
///
/// Built only for `cargo test` and for the host crate's `testing` feature (used by
/// `hostcore/fuzz`); never in the kernel.
#[cfg(any(test, feature = "testing"))]
pub mod fake {
    use core::cell::Cell;

    use super::{RegIo, RegOffset};
    use crate::pure::hw::map::RegMap;
    use crate::pure::hw::regs::{AccessMode, RegRef, BAR0_SIZE};

    /// Fake BAR0 memory.
    pub struct FakeBar {
        map: RegMap,
        words: Vec<Cell<u32>>,
        /// Every access, in order: `(offset, value, is_write)`.
        pub log: core::cell::RefCell<Vec<(u32, u32, bool)>>,
    }

    impl FakeBar {
        /// A zeroed BAR whose register semantics follow `map`.
        pub fn new(map: RegMap) -> Self {
            FakeBar {
                map,
                words: (0..BAR0_SIZE / 4).map(|_| Cell::new(0)).collect(),
                log: Default::default(),
            }
        }

        fn cell(&self, offset: RegOffset) -> &Cell<u32> {
            &self.words[offset.as_usize() / 4]
        }

        /// Sets a register's value without side effects (what the device would do).
        pub fn poke(&self, offset: RegOffset, value: u32) {
            self.cell(offset).set(value);
        }

        /// Reads a register's value without side effects.
        pub fn peek(&self, offset: RegOffset) -> u32 {
            self.cell(offset).get()
        }
    }

    impl RegIo for FakeBar {
        fn read32(&self, offset: RegOffset) -> u32 {
            let value = self.cell(offset).get();
            if let Some(RegRef::Dev { reg, .. }) = self.map.locate(offset.get().into()) {
                if let AccessMode::ReadClears(mask) = reg.access() {
                    self.cell(offset).set(value & !mask);
                }
            }
            self.log.borrow_mut().push((offset.get(), value, false));
            value
        }

        fn write32(&self, offset: RegOffset, value: u32) {
            self.cell(offset).set(value);
            self.log.borrow_mut().push((offset.get(), value, true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeBar;
    use super::*;
    use crate::pure::hw::fields::{Mailbox, Rxdctl, Srrctl, Txdctl};
    use crate::pure::hw::regs::{QueueReg, Reg};

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    #[test]
    fn typed_queue_access_hits_the_right_offset() {
        let m = model(0x10CA);
        let bar = FakeBar::new(m.regs());
        bar.write_queue(&m, 1, Rxdctl::default().with_enable(true))
            .unwrap();
        // E1000_RXDCTL(1) = 0x02828 + 1 * 0x100.
        assert_eq!(bar.peek(RegOffset::new(0x2928).unwrap()), 0x0200_0000);
        let r: Rxdctl = bar.read_queue(&m, 1).unwrap();
        assert!(r.enable());
        let t: Txdctl = bar.read_queue(&m, 0).unwrap();
        assert!(!t.enable());
    }

    #[test]
    fn typed_access_rejects_missing_queues() {
        let i350 = model(0x1520);
        let bar = FakeBar::new(i350.regs());
        let err = bar.read_queue::<Srrctl>(&i350, 1).unwrap_err();
        assert_eq!(err, RegError::IndexOutOfRange { index: 1, count: 1 });
        let err = bar.write_queue(&i350, 7, Txdctl::default()).unwrap_err();
        assert_eq!(err, RegError::IndexOutOfRange { index: 7, count: 1 });
        assert!(bar.log.borrow().is_empty(), "nothing touched the BAR");
    }

    #[test]
    fn mailbox_read_clears_r2c_bits() {
        for device in [0x10CA, 0x10ED] {
            let m = model(device);
            let bar = FakeBar::new(m.regs());
            let off = m.regs().reg(Reg::Mailbox, 0).unwrap();
            bar.poke(off, 0xFF);
            let mbx: Mailbox = bar.read_dev(&m).unwrap();
            assert!(mbx.pfsts() && mbx.pfack() && mbx.rstd() && mbx.rsti());
            // PFSTS, PFACK and RSTD are gone; the rest stays.
            assert_eq!(bar.peek(off), 0x4F);
        }
    }

    #[test]
    fn plain_registers_keep_their_value() {
        let m = model(0x1565);
        let bar = FakeBar::new(m.regs());
        let off = m.regs().queue(QueueReg::Rdt, 7).unwrap();
        bar.write32(off, 0x1FF);
        assert_eq!(bar.read32(off), 0x1FF);
        assert_eq!(bar.read32(off), 0x1FF);
        assert_eq!(
            bar.log.borrow().as_slice(),
            &[
                (0x11D8, 0x1FF, true),
                (0x11D8, 0x1FF, false),
                (0x11D8, 0x1FF, false)
            ]
        );
    }

    #[test]
    fn works_through_dyn() {
        let m = model(0x10ED);
        let bar = FakeBar::new(m.regs());
        let io: &dyn RegIo = &bar;
        let off = m.regs().reg(Reg::Eitr, 2).unwrap();
        io.write32(off, 0x1F0);
        assert_eq!(io.read32(off), 0x1F0);
        assert_eq!(off.get(), 0x0828);
    }
}
