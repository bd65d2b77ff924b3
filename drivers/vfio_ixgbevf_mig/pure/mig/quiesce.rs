// SPDX-License-Identifier: GPL-2.0

//! Stopping and restarting a VF's DMA: the RUNNING_P2P arcs.
//!
//! [`quiesce`] (RUNNING → RUNNING_P2P, and the first step of a restore) clears `ENABLE` of
//! every enabled queue, with `SWFLSH` so that descriptors the device already finished are
//! written back, then polls the enable bits until the hardware reports the queues stopped
//! (bounded: [`MAX_POLLS`] polls with the caller's delay between them). It returns the
//! [`Enables`] it cleared; [`resume`] sets exactly those again. [`kick`] makes up for the
//! interrupt causes a migration cannot carry.
//!
//! The VF still answers MMIO while quiesced, and the guest may keep writing tails: with the
//! queue disabled the device does not act on them, and the values are saved and restored.
//!
//! C counterparts: `ixgbevf_disable_rx_queue()` and `ixgbevf_rx_desc_queue_enable()` in
//! `ixgbevf_main.c` (poll count and delay), `igbvf_configure_rx()`/`_tx()` in `netdev.c`.

use crate::pure::hw::family::{VfModel, MAX_QUEUES};
use crate::pure::hw::fields::{Rxdctl, Txdctl};
use crate::pure::hw::io::RegIo;
use crate::pure::hw::regs::{QueueReg, Reg, RegRef};
use crate::pure::mig::regio::{q, rd, vector_mask, wr, Enables, StateError};

/// How often [`quiesce`] re-reads the enable bits, with a delay before each re-read
/// (`IXGBEVF_MAX_RX_DESC_POLL`; the shell's delay should be about 1 ms, as ixgbevf's).
pub const MAX_POLLS: u32 = 10;

/// Enables currently set in hardware, for the queues in `which` (all model queues if
/// `None`).
fn enabled(io: &dyn RegIo, model: &VfModel, which: Option<Enables>) -> Result<Enables, StateError> {
    let mut e = Enables::default();
    for n in 0..model.geometry.queues.min(MAX_QUEUES) {
        let bit = 1u8 << n;
        if !matches!(which, Some(w) if w.rx & bit == 0)
            && Rxdctl::from_raw(rd(io, model, q(QueueReg::Rxdctl, n))?).enable()
        {
            e.rx |= bit;
        }
        if !matches!(which, Some(w) if w.tx & bit == 0)
            && Txdctl::from_raw(rd(io, model, q(QueueReg::Txdctl, n))?).enable()
        {
            e.tx |= bit;
        }
    }
    Ok(e)
}

/// Clears `ENABLE` (setting `SWFLSH`) of every enabled queue and waits, calling `delay`
/// between polls at most [`MAX_POLLS`] times, until the hardware reports them stopped.
///
/// Returns the queues that were enabled. On timeout the queues stay disabled and the error
/// names them, so the shell can [`resume`] them or go to ERROR.
pub fn quiesce(
    io: &dyn RegIo,
    model: &VfModel,
    delay: &mut dyn FnMut(),
) -> Result<Enables, StateError> {
    let stopped = enabled(io, model, None)?;
    for n in 0..model.geometry.queues.min(MAX_QUEUES) {
        let bit = 1u8 << n;
        if stopped.rx & bit != 0 {
            let r = q(QueueReg::Rxdctl, n);
            let v = Rxdctl::from_raw(rd(io, model, r)?);
            wr(io, model, r, v.with_enable(false).with_swflsh(true).raw())?;
        }
        if stopped.tx & bit != 0 {
            let r = q(QueueReg::Txdctl, n);
            let v = Txdctl::from_raw(rd(io, model, r)?);
            wr(io, model, r, v.with_enable(false).with_swflsh(true).raw())?;
        }
    }
    wait_stopped(io, model, stopped, delay)?;
    Ok(stopped)
}

fn wait_stopped(
    io: &dyn RegIo,
    model: &VfModel,
    stopped: Enables,
    delay: &mut dyn FnMut(),
) -> Result<(), StateError> {
    let mut polls = 0;
    loop {
        let busy = enabled(io, model, Some(stopped))?;
        if busy.is_empty() {
            return Ok(());
        }
        if polls == MAX_POLLS {
            return Err(StateError::Timeout { stopped, busy });
        }
        polls += 1;
        delay();
    }
}

fn check_enables(model: &VfModel, e: Enables) -> Result<(), StateError> {
    let queues = u32::from(model.geometry.queues);
    let all = 1u32.checked_shl(queues).map_or(u32::MAX, |b| b - 1);
    let all = u8::try_from(all).map_err(|_| StateError::Queues)?;
    if (e.rx | e.tx) & !all != 0 {
        return Err(StateError::Queues);
    }
    Ok(())
}

/// Sets `ENABLE` again on exactly the queues in `enables` (from [`quiesce`] or
/// [`super::snapshot::restore`]). Checks them against the model before writing anything.
pub fn resume(io: &dyn RegIo, model: &VfModel, enables: Enables) -> Result<(), StateError> {
    check_enables(model, enables)?;
    for n in 0..model.geometry.queues.min(MAX_QUEUES) {
        let bit = 1u8 << n;
        if enables.rx & bit != 0 {
            let r = q(QueueReg::Rxdctl, n);
            let v = Rxdctl::from_raw(rd(io, model, r)?);
            wr(io, model, r, v.with_swflsh(false).with_enable(true).raw())?;
        }
        if enables.tx & bit != 0 {
            let r = q(QueueReg::Txdctl, n);
            let v = Txdctl::from_raw(rd(io, model, r)?);
            wr(io, model, r, v.with_swflsh(false).with_enable(true).raw())?;
        }
    }
    Ok(())
}

/// Raises every interrupt vector the guest may be waiting on once, standing in for the
/// `EICR` bits and in-flight MSI-X messages a migration cannot carry. Call after [`resume`].
///
/// That is every unmasked vector, and every vector masked only by auto-mask (`EIAM`): such a
/// vector fired on the source, and if QEMU stopped the guest before injecting the message,
/// the guest waits forever for an interrupt whose handler would unmask it again (seen: an RX
/// stall after switch-over). Those are unmasked (`EIMS` sets) and raised; a guest driver that
/// finds nothing to do re-arms, as after any spurious interrupt.
pub fn kick(io: &dyn RegIo, model: &VfModel) -> Result<(), StateError> {
    let vectors = vector_mask(model);
    let eims = rd(io, model, RegRef::dev(Reg::Eims))?;
    let eiam = rd(io, model, RegRef::dev(Reg::Eiam))?;
    let raise = (eims | eiam) & vectors;
    let unmask = raise & !eims;
    if unmask != 0 {
        // Write-1-to-set on hardware; the whole mask keeps a plain register model exact too.
        wr(io, model, RegRef::dev(Reg::Eims), eims | unmask)?;
    }
    wr(io, model, RegRef::dev(Reg::Eics), raise)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::pure::errno::Errno;
    use crate::pure::hw::family::SUPPORTED;
    use crate::pure::hw::io::fake::FakeBar;
    use crate::pure::hw::regs::RegOffset;
    use crate::pure::testing::mig::sample_bar;

    /// A BAR whose queues keep reporting `ENABLE` for `lag` reads after it was cleared,
    /// like hardware finishing a descriptor.
    struct SlowBar {
        bar: FakeBar,
        lag: u32,
        pending: RefCell<HashMap<u32, u32>>,
    }

    impl RegIo for SlowBar {
        fn read32(&self, off: RegOffset) -> u32 {
            let v = self.bar.read32(off);
            let mut p = self.pending.borrow_mut();
            match p.get_mut(&off.get()) {
                Some(0) | None => v,
                Some(n) => {
                    *n -= 1;
                    v | 0x0200_0000
                }
            }
        }

        fn write32(&self, off: RegOffset, v: u32) {
            let was_on = self.bar.peek(off) & 0x0200_0000 != 0;
            if was_on && v & 0x0200_0000 == 0 {
                self.pending.borrow_mut().insert(off.get(), self.lag);
            }
            self.bar.write32(off, v);
        }
    }

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    fn slow(m: &VfModel, lag: u32) -> SlowBar {
        SlowBar {
            bar: sample_bar(m),
            lag,
            pending: RefCell::default(),
        }
    }

    fn ctl(bar: &FakeBar, m: &VfModel, reg: QueueReg, n: u8) -> u32 {
        bar.peek(m.regs().queue(reg, n).unwrap())
    }

    #[test]
    fn quiesce_waits_for_the_enable_bits_and_resume_restores_exactly() {
        for m in SUPPORTED {
            let io = slow(&m, 3);
            let before: Vec<u32> = (0..m.geometry.queues)
                .flat_map(|n| [QueueReg::Rxdctl, QueueReg::Txdctl].map(|r| ctl(&io.bar, &m, r, n)))
                .collect();
            let mut delays = 0;
            let stopped = quiesce(&io, &m, &mut || delays += 1).unwrap();
            // Even queues were enabled (sample_bar).
            let even = (0..m.geometry.queues)
                .step_by(2)
                .fold(0u8, |a, n| a | 1 << n);
            assert_eq!(stopped, Enables { rx: even, tx: even }, "{}", m.name);
            assert_eq!(delays, 3, "{}", m.name);
            for n in 0..m.geometry.queues {
                for reg in [QueueReg::Rxdctl, QueueReg::Txdctl] {
                    let v = ctl(&io.bar, &m, reg, n);
                    assert_eq!(v & 0x0200_0000, 0);
                    // SWFLSH set only where ENABLE was cleared.
                    assert_eq!(v & 0x0400_0000 != 0, n % 2 == 0);
                }
            }
            resume(&io, &m, stopped).unwrap();
            let after: Vec<u32> = (0..m.geometry.queues)
                .flat_map(|n| [QueueReg::Rxdctl, QueueReg::Txdctl].map(|r| ctl(&io.bar, &m, r, n)))
                .collect();
            assert_eq!(before, after, "{}", m.name);
        }
    }

    #[test]
    fn quiesce_gives_up_after_max_polls() {
        let m = model(0x10CA);
        let io = slow(&m, MAX_POLLS + 1);
        let mut delays = 0;
        let err = quiesce(&io, &m, &mut || delays += 1).unwrap_err();
        let e = Enables { rx: 1, tx: 1 };
        assert_eq!(
            err,
            StateError::Timeout {
                stopped: e,
                busy: e
            }
        );
        assert_eq!(err.errno(), 110);
        assert_eq!(delays, MAX_POLLS);
        // Exactly MAX_POLLS lagging reads still succeed.
        let io = slow(&m, MAX_POLLS);
        assert_eq!(quiesce(&io, &m, &mut || {}), Ok(e));
    }

    #[test]
    fn quiesce_of_an_idle_vf_touches_nothing() {
        let m = model(0x1565);
        let bar = FakeBar::new(m.regs());
        assert_eq!(
            quiesce(&bar, &m, &mut || panic!("no wait")),
            Ok(Enables::default())
        );
        assert!(bar.log.borrow().iter().all(|&(_, _, write)| !write));
    }

    #[test]
    fn resume_checks_the_queues_first() {
        let m = model(0x1520);
        let bar = FakeBar::new(m.regs());
        for e in [Enables { rx: 2, tx: 0 }, Enables { rx: 0, tx: 0x80 }] {
            assert_eq!(resume(&bar, &m, e), Err(StateError::Queues));
        }
        assert!(bar.log.borrow().is_empty());
        resume(&bar, &m, Enables { rx: 1, tx: 0 }).unwrap();
        assert_eq!(ctl(&bar, &m, QueueReg::Rxdctl, 0), 0x0200_0000);
        assert_eq!(ctl(&bar, &m, QueueReg::Txdctl, 0), 0);
    }

    #[test]
    fn kick_raises_the_unmasked_and_auto_masked_vectors() {
        let m = model(0x10ED);
        let bar = FakeBar::new(m.regs());
        let eims = m.regs().reg(Reg::Eims, 0).unwrap();
        let eics = m.regs().reg(Reg::Eics, 0).unwrap();
        let eiam = m.regs().reg(Reg::Eiam, 0).unwrap();
        bar.poke(eims, 0x5);
        kick(&bar, &m).unwrap();
        assert_eq!(bar.peek(eics), 0x5);
        assert_eq!(bar.peek(eims), 0x5, "nothing to unmask");
        bar.poke(eims, 0xFFFF_FFFF);
        kick(&bar, &m).unwrap();
        assert_eq!(bar.peek(eics), 0x7);
        // Vector 1 auto-masked after it fired: unmasked (EIMS write sets) and raised.
        bar.poke(eims, 0x4);
        bar.poke(eiam, 0x3);
        kick(&bar, &m).unwrap();
        assert_eq!(bar.peek(eims), 0x7);
        assert_eq!(bar.peek(eics), 0x7);
    }
}
