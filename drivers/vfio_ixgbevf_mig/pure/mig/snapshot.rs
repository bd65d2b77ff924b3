// SPDX-License-Identifier: GPL-2.0

//! What a VF holds in its registers ([`VfState`]), and how to save and restore it.
//!
//! All device access goes through [`RegIo`] on the VF's BAR0; registers are named through
//! the model's [`crate::pure::hw::map::RegMap`], so no offset is spelled here.
//!
//! Carried ([`VfState`]):
//! - device-wide: `EIMS` (the mask, read through the W1S register), `EIAC`, `EIAM`, every
//!   `EITR`, every `IVAR`, `IVAR_MISC`, `PSRTYPE`, and on X550+ `VFMRQC`/`VFRSSRK`/`VFRETA`;
//! - per RX queue: `RDBAL/H`, `RDLEN`, `RDH`, `RDT`, `RXDCTL`, `SRRCTL`, `DCA_RXCTRL`;
//! - per TX queue: `TDBAL/H`, `TDLEN`, `TDH`, `TDT`, `TXDCTL`, `TDWBAL/H`, `DCA_TXCTRL`;
//! - mailbox memory, and the mailbox control bits if [`save_mailbox_ctrl`] was called.
//!
//! Not carried, and why:
//! - `EICR` (read-to-clear, [`AccessMode::ReadClears`]): reading it would steal the guest's
//!   pending causes. Instead, after the destination resumes, [`super::quiesce::kick`] raises
//!   every unmasked cause once through `EICS`; both guest drivers treat a spurious interrupt
//!   as a poll.
//! - `MAILBOX` control by default (PFSTS, PFACK, RSTD clear on read): [`save`] never reads
//!   it. [`save_mailbox_ctrl`] reads it once when the guest is frozen for good and keeps the
//!   consumed bits in the state ([`MailboxRegs::pending_events`]) so that the shell can have
//!   the PF re-post them (on the destination, or on the source if the migration is
//!   abandoned). `VFU` (the VF's buffer lock) is written back, and `REQ`/`ACK` if the
//!   source PF had them latched unanswered ([`MailboxRegs::replay_ctrl`]); the
//!   destination VF's own read-to-clear bits are dropped first.
//! - `CTRL` (writing `RST` resets the VF), `STATUS` (read-only), `EICS`/`EIMC` (write-only).
//!
//! Queue enables: [`super::quiesce::quiesce`] (RUNNING → RUNNING_P2P) returns the
//! [`Enables`] it cleared; [`save`] folds them back into the saved `RXDCTL`/`TXDCTL`, so the
//! stream records the guest's view. [`restore`] validates ([`super::check::validate`]),
//! writes everything with the queues disabled (STOP must not DMA) and returns the enables,
//! which [`super::quiesce::resume`] sets at RUNNING_P2P → RUNNING.
//!
//! C counterparts: the ring setup in `igbvf_configure_rx()`/`_tx()` (`igbvf/netdev.c`) and
//! `ixgbevf_configure_rx_ring()`/`_tx_ring()` (`ixgbevf_main.c`), whose write order
//! [`restore`] follows.
//!
//! [`AccessMode::ReadClears`]: crate::pure::hw::regs::AccessMode::ReadClears

use crate::pure::hw::family::VfModel;
use crate::pure::hw::fields::{Mailbox, Register, Rxdctl, Txdctl};
use crate::pure::hw::io::RegIo;
use crate::pure::hw::regs::{QueueReg, Reg, RegRef};
use crate::pure::mig::check::validate;
use crate::pure::mig::quiesce::quiesce;
use crate::pure::mig::regio::{dev, q, rd, vector_mask, wr, Enables, StateError};
use crate::pure::mig::vfstate::{DevRegs, MailboxRegs, RxRegs, TxRegs, VfState};

/// Reads the instances of an array register into `dst` (as many as the model has).
fn read_array(
    io: &dyn RegIo,
    model: &VfModel,
    reg: Reg,
    dst: &mut [u32],
) -> Result<(), StateError> {
    let count = usize::from(model.regs().count(reg));
    for (i, v) in dst.iter_mut().enumerate().take(count) {
        *v = rd(io, model, dev(reg, i)?)?;
    }
    Ok(())
}

fn write_array(io: &dyn RegIo, model: &VfModel, reg: Reg, src: &[u32]) -> Result<(), StateError> {
    let count = usize::from(model.regs().count(reg));
    for (i, &v) in src.iter().enumerate().take(count) {
        wr(io, model, dev(reg, i)?, v)?;
    }
    Ok(())
}

/// Reads the VF's registers. `quiesced` are the enables [`quiesce`] cleared; they are set
/// again in the saved `RXDCTL`/`TXDCTL`. Never reads a read-to-clear register.
pub fn save(io: &dyn RegIo, model: &VfModel, quiesced: Enables) -> Result<VfState, StateError> {
    let queues = model.geometry.queues;
    let mut s = VfState {
        rx_queues: queues,
        tx_queues: queues,
        ..VfState::default()
    };
    let d = &mut s.dev;
    d.eims = rd(io, model, RegRef::dev(Reg::Eims))?;
    d.eiac = rd(io, model, RegRef::dev(Reg::Eiac))?;
    d.eiam = rd(io, model, RegRef::dev(Reg::Eiam))?;
    read_array(io, model, Reg::Eitr, &mut d.eitr)?;
    read_array(io, model, Reg::Ivar, &mut d.ivar)?;
    d.ivar_misc = rd(io, model, RegRef::dev(Reg::IvarMisc))?;
    d.psrtype = rd(io, model, RegRef::dev(Reg::Psrtype))?;
    if model.geometry.rss {
        d.mrqc = rd(io, model, RegRef::dev(Reg::Mrqc))?;
        read_array(io, model, Reg::Rssrk, &mut d.rssrk)?;
        read_array(io, model, Reg::Reta, &mut d.reta)?;
    }
    read_array(io, model, Reg::MbMem, &mut s.mbx.words)?;
    for (n, (rx, tx)) in s.rx.iter_mut().zip(s.tx.iter_mut()).enumerate() {
        let Ok(n) = u8::try_from(n) else { break };
        if n >= queues {
            break;
        }
        let bit = 1u8 << n;
        let r = |reg| rd(io, model, q(reg, n));
        *rx = RxRegs {
            rdbal: r(QueueReg::Rdbal)?,
            rdbah: r(QueueReg::Rdbah)?,
            rdlen: r(QueueReg::Rdlen)?,
            rdh: r(QueueReg::Rdh)?,
            rdt: r(QueueReg::Rdt)?,
            rxdctl: fold_enable(r(QueueReg::Rxdctl)?, quiesced.rx & bit != 0),
            srrctl: r(QueueReg::Srrctl)?,
            dca_rxctrl: r(QueueReg::DcaRxctrl)?,
        };
        *tx = TxRegs {
            tdbal: r(QueueReg::Tdbal)?,
            tdbah: r(QueueReg::Tdbah)?,
            tdlen: r(QueueReg::Tdlen)?,
            tdh: r(QueueReg::Tdh)?,
            tdt: r(QueueReg::Tdt)?,
            txdctl: fold_enable(r(QueueReg::Txdctl)?, quiesced.tx & bit != 0),
            tdwbal: r(QueueReg::Tdwbal)?,
            tdwbah: r(QueueReg::Tdwbah)?,
            dca_txctrl: r(QueueReg::DcaTxctrl)?,
        };
    }
    Ok(s)
}

/// A saved `RXDCTL`/`TXDCTL` (same layout for these bits): `SWFLSH` dropped (self-clearing,
/// set by quiesce), `ENABLE` set if the queue was enabled before quiesce.
fn fold_enable(raw: u32, was_enabled: bool) -> u32 {
    let v = Rxdctl::from_raw(raw).with_swflsh(false);
    if was_enabled {
        v.with_enable(true).raw()
    } else {
        v.raw()
    }
}

/// Reads the mailbox control register into `state`, consuming its read-to-clear bits (kept
/// in [`MailboxRegs::ctrl`], see [`MailboxRegs::pending_events`]). Call only while the
/// guest is stopped, once, at the final save.
pub fn save_mailbox_ctrl(
    io: &dyn RegIo,
    model: &VfModel,
    state: &mut VfState,
) -> Result<(), StateError> {
    state.mbx.ctrl = Some(rd(io, model, RegRef::dev(Reg::Mailbox))? & 0xFF);
    Ok(())
}

/// Loads a state into the VF, after [`validate`]: every queue disabled first (waiting for
/// the hardware, as in [`quiesce`]), then ring base and length, head and tail (writable only
/// while disabled), `SRRCTL`, DCA, head write-back, the queue controls with `ENABLE` still
/// clear, then interrupt configuration, RSS, and the mailbox last.
///
/// Returns the queues to enable at RUNNING_P2P → RUNNING, with
/// [`super::quiesce::resume`]. Nothing is written if validation fails.
pub fn restore(
    io: &dyn RegIo,
    model: &VfModel,
    state: &VfState,
    delay: &mut dyn FnMut(),
) -> Result<Enables, StateError> {
    validate(state, model)?;
    quiesce(io, model, delay)?;
    let mut enables = Enables::default();
    for (n, (rx, tx)) in state.rx.iter().zip(state.tx.iter()).enumerate() {
        let Ok(n) = u8::try_from(n) else { break };
        if n >= model.geometry.queues {
            break;
        }
        let bit = 1u8 << n;
        let w = |reg, v| wr(io, model, q(reg, n), v);
        let rxdctl = Rxdctl::from_raw(rx.rxdctl).with_swflsh(false);
        if rxdctl.enable() {
            enables.rx |= bit;
        }
        w(QueueReg::Rxdctl, rxdctl.with_enable(false).raw())?;
        for (reg, v) in [
            (QueueReg::Rdbal, rx.rdbal),
            (QueueReg::Rdbah, rx.rdbah),
            (QueueReg::Rdlen, rx.rdlen),
            (QueueReg::Rdh, rx.rdh),
            (QueueReg::Rdt, rx.rdt),
            (QueueReg::Srrctl, rx.srrctl),
            (QueueReg::DcaRxctrl, rx.dca_rxctrl),
        ] {
            w(reg, v)?;
        }
        let txdctl = Txdctl::from_raw(tx.txdctl).with_swflsh(false);
        if txdctl.enable() {
            enables.tx |= bit;
        }
        w(QueueReg::Txdctl, txdctl.with_enable(false).raw())?;
        for (reg, v) in [
            (QueueReg::Tdbal, tx.tdbal),
            (QueueReg::Tdbah, tx.tdbah),
            (QueueReg::Tdlen, tx.tdlen),
            (QueueReg::Tdh, tx.tdh),
            (QueueReg::Tdt, tx.tdt),
            (QueueReg::Tdwbal, tx.tdwbal),
            (QueueReg::Tdwbah, tx.tdwbah),
            (QueueReg::DcaTxctrl, tx.dca_txctrl),
        ] {
            w(reg, v)?;
        }
    }
    restore_dev(io, model, &state.dev)?;
    restore_mailbox(io, model, &state.mbx)?;
    Ok(enables)
}

fn restore_dev(io: &dyn RegIo, model: &VfModel, d: &DevRegs) -> Result<(), StateError> {
    let one = |reg, v| wr(io, model, RegRef::dev(reg), v);
    // Mask everything while the vector map changes.
    one(Reg::Eimc, vector_mask(model))?;
    write_array(io, model, Reg::Eitr, &d.eitr)?;
    write_array(io, model, Reg::Ivar, &d.ivar)?;
    one(Reg::IvarMisc, d.ivar_misc)?;
    one(Reg::Eiac, d.eiac)?;
    one(Reg::Eiam, d.eiam)?;
    one(Reg::Psrtype, d.psrtype)?;
    if model.geometry.rss {
        write_array(io, model, Reg::Rssrk, &d.rssrk)?;
        write_array(io, model, Reg::Reta, &d.reta)?;
        one(Reg::Mrqc, d.mrqc)?;
    }
    one(Reg::Eims, d.eims)
}

fn restore_mailbox(io: &dyn RegIo, model: &VfModel, m: &MailboxRegs) -> Result<(), StateError> {
    let ctrl = RegRef::dev(Reg::Mailbox);
    // Drop this VF's own read-to-clear events (RSTD of the reset that opened it, a PF
    // message sent before the PF was quiesced): they are not the guest's. The guest's
    // come back through the PF's `post` op ([`MailboxRegs::post_events`]).
    rd(io, model, ctrl)?;
    // Re-take the buffer lock the guest held before touching the memory ...
    let replay = m.replay_ctrl();
    if replay.vfu() {
        wr(
            io,
            model,
            ctrl,
            Mailbox::default().with_vfu(true).into_raw(),
        )?;
    }
    write_array(io, model, Reg::MbMem, &m.words)?;
    // ... then raise what the source PF had latched, as the guest once did: the quiesced
    // PF latches it in turn and answers at unquiesce.
    if replay.req() || replay.ack() {
        wr(io, model, ctrl, replay.into_raw())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::hw::family::SUPPORTED;
    use crate::pure::hw::io::fake::FakeBar;
    use crate::pure::testing::mig::{sample_bar, sample_state};

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    fn off(m: &VfModel, r: RegRef) -> u32 {
        m.regs().offset(r).unwrap().get()
    }

    #[test]
    fn save_never_reads_read_to_clear_registers() {
        for m in SUPPORTED {
            let bar = sample_bar(&m);
            let s = save(&bar, &m, Enables::default()).unwrap();
            let eicr = off(&m, RegRef::dev(Reg::Eicr));
            let mbx = off(&m, RegRef::dev(Reg::Mailbox));
            for &(o, _, write) in bar.log.borrow().iter() {
                assert!(!write, "save writes nothing");
                assert!(o != eicr && o != mbx, "{}: read {o:#x}", m.name);
            }
            assert_eq!(s.mbx.ctrl, None);
            assert_eq!(s.mbx.words[15], 0xA5A5_000F);
            assert_eq!(
                (s.rx_queues, s.tx_queues),
                (m.geometry.queues, m.geometry.queues)
            );
        }
    }

    #[test]
    fn save_records_the_enables_quiesce_cleared() {
        let m = model(0x10CA);
        let bar = sample_bar(&m);
        // Queue 1 was disabled by the guest; quiesce cleared queue 0's RX enable only.
        let rx0 = m.regs().queue(QueueReg::Rxdctl, 0).unwrap();
        bar.poke(rx0, 0x0401_0808);
        let s = save(&bar, &m, Enables { rx: 1, tx: 0 }).unwrap();
        assert_eq!(
            s.rx[0].rxdctl, 0x0201_0808,
            "ENABLE folded in, SWFLSH dropped"
        );
        assert_eq!(s.rx[1].rxdctl, 0x0001_0808);
        assert_eq!(s.tx[0].txdctl, 0x0201_0108);
    }

    #[test]
    fn mailbox_control_is_read_once_and_its_events_kept() {
        let m = model(0x1520);
        let bar = sample_bar(&m);
        let mut s = save(&bar, &m, Enables::default()).unwrap();
        save_mailbox_ctrl(&bar, &m, &mut s).unwrap();
        assert_eq!(s.mbx.ctrl, Some(0x14));
        assert_eq!(s.mbx.pending_events(), Mailbox::default().with_pfsts(true));
        // The read consumed PFSTS on the device, as on hardware.
        assert_eq!(bar.peek(m.regs().reg(Reg::Mailbox, 0).unwrap()), 0x04);
        assert_eq!(MailboxRegs::default().pending_events(), Mailbox::default());
    }

    #[test]
    fn restore_writes_in_order_with_queues_disabled() {
        let m = model(0x10CA);
        let state = sample_state(&m);
        let bar = FakeBar::new(m.regs());
        let e = restore(&bar, &m, &state, &mut || {}).unwrap();
        assert_eq!(e, Enables { rx: 1, tx: 1 });
        let log = bar.log.borrow();
        let writes: Vec<u32> = log.iter().filter(|a| a.2).map(|a| a.0).collect();
        let pos = |r: RegRef| {
            let o = off(&m, r);
            writes
                .iter()
                .position(|&w| w == o)
                .unwrap_or_else(|| panic!("{r} not written"))
        };
        for n in 0..2 {
            let qp = |reg| pos(q(reg, n));
            assert!(qp(QueueReg::Rxdctl) < qp(QueueReg::Rdbal));
            assert!(qp(QueueReg::Rdlen) < qp(QueueReg::Rdh));
            assert!(qp(QueueReg::Rdh) < qp(QueueReg::Srrctl));
            assert!(qp(QueueReg::Txdctl) < qp(QueueReg::Tdh));
            assert!(qp(QueueReg::Tdt) < qp(QueueReg::Tdwbal));
            assert!(qp(QueueReg::Tdwbah) < pos(RegRef::dev(Reg::Eimc)));
        }
        assert!(pos(RegRef::dev(Reg::Eimc)) < pos(RegRef::dev(Reg::Ivar)));
        assert!(pos(RegRef::dev(Reg::IvarMisc)) < pos(RegRef::dev(Reg::Eims)));
        let mb = RegRef::Dev {
            reg: Reg::MbMem,
            index: 0,
        };
        assert!(pos(RegRef::dev(Reg::Eims)) < pos(RegRef::dev(Reg::Mailbox)));
        assert!(pos(RegRef::dev(Reg::Mailbox)) < pos(mb));
        // Queues stay disabled; VFU is re-taken, nothing else in the mailbox control.
        for n in 0..2 {
            assert_eq!(
                bar.peek(m.regs().queue(QueueReg::Rxdctl, n).unwrap()) & 0x0200_0000,
                0
            );
        }
        assert_eq!(bar.peek(m.regs().reg(Reg::Mailbox, 0).unwrap()), 0x04);
        // Never written: the reset bit's register, the read-to-clear cause register.
        for r in [Reg::Ctrl, Reg::Eicr, Reg::Status] {
            assert!(!writes.contains(&off(&m, RegRef::dev(r))), "{}", r.name());
        }
    }

    #[test]
    fn restore_replays_the_mailbox_events_of_the_source() {
        use crate::pure::mig::vfstate::{PF_PENDING_PING, PF_PENDING_VF_REQ, POST_ACK, POST_STS};
        let m = model(0x10CA);
        let mbx = m.regs().reg(Reg::Mailbox, 0).unwrap();
        let mb0 = m.regs().reg(Reg::MbMem, 0).unwrap();
        let mut state = sample_state(&m);
        // The guest held the buffer, its request sat latched in the source PF, and the
        // save consumed a PF message and an ack.
        state.mbx.ctrl = Some(0x34);
        state.mbx.pf_pending = PF_PENDING_VF_REQ | PF_PENDING_PING;
        assert_eq!(state.mbx.post_events(), POST_STS | POST_ACK);
        let bar = FakeBar::new(m.regs());
        // The destination's own reset left RSTD behind: not the guest's.
        bar.poke(mbx, 0x80);
        restore(&bar, &m, &state, &mut || {}).unwrap();
        assert_eq!(bar.peek(mbx), 0x05, "VFU kept, REQ raised, RSTD dropped");
        let log = bar.log.borrow();
        let writes: Vec<(u32, u32)> = log.iter().filter(|a| a.2).map(|a| (a.0, a.1)).collect();
        let (mbx_o, mb0_o) = (mbx.get(), mb0.get());
        let first = writes.iter().position(|w| *w == (mbx_o, 0x04)).unwrap();
        let memory = writes.iter().position(|w| w.0 == mb0_o).unwrap();
        let raise = writes.iter().position(|w| *w == (mbx_o, 0x05)).unwrap();
        assert!(first < memory && memory < raise, "lock, memory, then REQ");
        // Nothing latched, no buffer held: the control register is only read.
        drop(log);
        let mut quiet = sample_state(&m);
        quiet.mbx.ctrl = Some(0);
        let bar = FakeBar::new(m.regs());
        restore(&bar, &m, &quiet, &mut || {}).unwrap();
        assert!(!bar.log.borrow().iter().any(|a| a.2 && a.0 == mbx.get()));
        assert_eq!(quiet.mbx.post_events(), 0);
    }

    #[test]
    fn restore_refuses_invalid_state_without_writing() {
        let m = model(0x15C5);
        let mut state = sample_state(&m);
        state.rx[3].rdt = 9999;
        let bar = sample_bar(&m);
        bar.log.borrow_mut().clear();
        let err = restore(&bar, &m, &state, &mut || {}).unwrap_err();
        assert!(matches!(err, StateError::Invalid { .. }));
        assert!(bar.log.borrow().is_empty());
    }

    #[test]
    fn restore_stops_running_queues_first() {
        let m = model(0x10ED);
        let state = sample_state(&m);
        // The destination VF has queues running (not freshly reset).
        let bar = sample_bar(&m);
        let e = restore(&bar, &m, &state, &mut || {}).unwrap();
        assert_eq!(e, Enables { rx: 0x55, tx: 0x55 });
        for n in 0..8 {
            let rx = bar.peek(m.regs().queue(QueueReg::Rxdctl, n).unwrap());
            assert_eq!(rx & 0x0600_0000, 0, "disabled, no SWFLSH left");
        }
    }
}
