// SPDX-License-Identifier: GPL-2.0

//! Validation of a VF state before it is written to a device; see [`validate`].
//!
//! The guest can write every one of these registers itself, so the check is not what keeps
//! the host safe (the IOMMU is). It rejects values the source hardware cannot have held, so
//! that a corrupted or foreign stream fails at RESUMING → STOP instead of confusing the
//! device:
//! - ring bases 128-byte aligned (`RDBAL[6:0]` are ignored and read as 0), lengths a
//!   multiple of 128 within bits 19:7 (QEMU's `E1000_XDLEN_IGB_MASK`, the 82599's
//!   `RDLEN.LEN`), an enabled queue with a non-empty ring, heads and tails inside the ring;
//! - `SRRCTL.DESCTYPE` a defined encoding for the family;
//! - `EIMS`/`EIAC`/`EIAM` naming only existing vectors, `IVAR`/`IVAR_MISC` entries that are
//!   valid naming existing vectors, RSS redirection entries naming existing queues;
//! - registers the model lacks (EITR past its vectors, IVARs past its queues, RSS before
//!   X550, queues past the counts) zero, and the mailbox control within its 8 bits.
//!
//! Every value an `EITR` can hold is accepted: the interval, LLI and counter fields cover the
//! register, and QEMU's igb reads back even the bits the 82576 datasheet reserves (igbvf's
//! adaptive ITR writes values with bits 1:0 set).

use crate::pure::hw::family::{Family, VfModel};
use crate::pure::hw::fields::{
    DescType, Rxdctl, Srrctl, Txdctl, DESC_LEN, RING_ALIGN, RING_LEN_MASK,
};
use crate::pure::hw::regs::{QueueReg, Reg, RegRef};
use crate::pure::mig::regio::{dev, q, vector_mask, StateError};
use crate::pure::mig::vfstate::{DevRegs, RxRegs, TxRegs, VfState};

/// `IVAR` entry valid bit (`E1000_IVAR_VALID`, `IXGBE_IVAR_ALLOC_VAL`).
pub const IVAR_VALID: u32 = 0x80;

fn invalid(reg: RegRef, value: u32) -> StateError {
    StateError::Invalid { reg, value }
}

fn check_ring(n: u8, regs: [(QueueReg, u32); 4], on: bool) -> Result<(), StateError> {
    let [(base_r, base), (len_r, len), (head_r, head), (tail_r, tail)] = regs;
    if base & (RING_ALIGN - 1) != 0 {
        return Err(invalid(q(base_r, n), base));
    }
    if len & !RING_LEN_MASK != 0 || (on && len == 0) {
        return Err(invalid(q(len_r, n), len));
    }
    let descs = len / DESC_LEN;
    // An empty ring has head = tail = 0; otherwise both index a descriptor.
    let inside = |v: u32| v < descs || (descs == 0 && v == 0);
    if !inside(head) {
        return Err(invalid(q(head_r, n), head));
    }
    if !inside(tail) {
        return Err(invalid(q(tail_r, n), tail));
    }
    Ok(())
}

fn check_queue(model: &VfModel, n: u8, rx: &RxRegs, tx: &TxRegs) -> Result<(), StateError> {
    let rx_on = Rxdctl::from_raw(rx.rxdctl).enable();
    check_ring(
        n,
        [
            (QueueReg::Rdbal, rx.rdbal),
            (QueueReg::Rdlen, rx.rdlen),
            (QueueReg::Rdh, rx.rdh),
            (QueueReg::Rdt, rx.rdt),
        ],
        rx_on,
    )?;
    let srrctl = Srrctl::from_raw(rx.srrctl);
    match (srrctl.desctype(), model.family) {
        // Header replication (always) is reserved on ixgbe.
        (Err(_), _) | (Ok(DescType::AdvHeaderReplication), Family::Ixgbe) => {
            return Err(invalid(q(QueueReg::Srrctl, n), rx.srrctl));
        }
        _ => {}
    }
    check_ring(
        n,
        [
            (QueueReg::Tdbal, tx.tdbal),
            (QueueReg::Tdlen, tx.tdlen),
            (QueueReg::Tdh, tx.tdh),
            (QueueReg::Tdt, tx.tdt),
        ],
        Txdctl::from_raw(tx.txdctl).enable(),
    )
}

/// Whether an `IVAR`-style byte names an existing vector (or is not valid at all).
fn ivar_byte_ok(byte: u32, vectors: u32) -> bool {
    byte & IVAR_VALID == 0 || (byte & 0x7F) < vectors
}

fn check_dev(model: &VfModel, d: &DevRegs) -> Result<(), StateError> {
    let map = model.regs();
    let vectors = vector_mask(model);
    let nvec = u32::from(model.geometry.msix_vectors);
    for (reg, v) in [
        (Reg::Eims, d.eims),
        (Reg::Eiac, d.eiac),
        (Reg::Eiam, d.eiam),
    ] {
        if v & !vectors != 0 {
            return Err(invalid(RegRef::dev(reg), v));
        }
    }
    for (i, &v) in d.eitr.iter().enumerate() {
        let present = i < usize::from(map.count(Reg::Eitr));
        if !present && v != 0 {
            return Err(invalid(dev(Reg::Eitr, i)?, v));
        }
    }
    for (i, &v) in d.ivar.iter().enumerate() {
        let present = i < usize::from(map.count(Reg::Ivar));
        let ok = (0..4).all(|b| ivar_byte_ok((v >> (8 * b)) & 0xFF, nvec));
        if !ok || (!present && v != 0) {
            return Err(invalid(dev(Reg::Ivar, i)?, v));
        }
    }
    if d.ivar_misc & !0xFF != 0 || !ivar_byte_ok(d.ivar_misc, nvec) {
        return Err(invalid(RegRef::dev(Reg::IvarMisc), d.ivar_misc));
    }
    let queues = u32::from(model.geometry.queues);
    for (i, &v) in d.reta.iter().enumerate() {
        let ok = (0..4).all(|b| (v >> (8 * b)) & 0xFF < queues.max(1));
        if !ok || (!model.geometry.rss && v != 0) {
            return Err(invalid(dev(Reg::Reta, i)?, v));
        }
    }
    if !model.geometry.rss && (d.mrqc != 0 || d.rssrk.iter().any(|&v| v != 0)) {
        return Err(invalid(RegRef::dev(Reg::Mrqc), d.mrqc));
    }
    Ok(())
}

/// Checks a state against what a `model` VF can hold; see the module docs.
pub fn validate(state: &VfState, model: &VfModel) -> Result<(), StateError> {
    let queues = model.geometry.queues;
    if state.rx_queues > queues || state.tx_queues > queues {
        return Err(StateError::Queues);
    }
    check_dev(model, &state.dev)?;
    for (n, (rx, tx)) in state.rx.iter().zip(state.tx.iter()).enumerate() {
        let n = u8::try_from(n).map_err(|_| StateError::Queues)?;
        let carried_rx = n < state.rx_queues;
        let carried_tx = n < state.tx_queues;
        if (!carried_rx && *rx != RxRegs::default()) || (!carried_tx && *tx != TxRegs::default()) {
            return Err(StateError::Queues);
        }
        check_queue(model, n, rx, tx)?;
    }
    if let Some(ctrl) = state.mbx.ctrl {
        if ctrl & !0xFF != 0 {
            return Err(invalid(RegRef::dev(Reg::Mailbox), ctrl));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::errno::Errno;
    use crate::pure::hw::family::SUPPORTED;
    use crate::pure::testing::mig::sample_state;

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    fn check(m: &VfModel, f: impl FnOnce(&mut VfState)) -> Result<(), StateError> {
        let mut s = sample_state(m);
        f(&mut s);
        validate(&s, m)
    }

    fn bad(reg: RegRef, value: u32) -> Result<(), StateError> {
        Err(StateError::Invalid { reg, value })
    }

    fn qr(reg: QueueReg, queue: u8) -> RegRef {
        RegRef::Queue { reg, queue }
    }

    #[test]
    fn saved_states_are_valid() {
        for m in SUPPORTED {
            validate(&sample_state(&m), &m).unwrap();
            validate(&VfState::default(), &m).unwrap();
        }
    }

    #[test]
    fn rings() {
        let m = model(0x10CA);
        assert_eq!(
            check(&m, |s| s.rx[1].rdbal |= 0x40),
            bad(qr(QueueReg::Rdbal, 1), 0x1001_0040)
        );
        assert_eq!(
            check(&m, |s| s.tx[0].tdbal = 8),
            bad(qr(QueueReg::Tdbal, 0), 8)
        );
        assert_eq!(
            check(&m, |s| s.rx[0].rdlen = 4000),
            bad(qr(QueueReg::Rdlen, 0), 4000)
        );
        assert_eq!(
            check(&m, |s| s.rx[0].rdlen = 0x10_0000),
            bad(qr(QueueReg::Rdlen, 0), 0x10_0000)
        );
        // The largest length the field holds: 65528 descriptors.
        check(&m, |s| s.rx[0].rdlen = 0xF_FF80).unwrap();
        // Queue 0 is enabled: it needs a ring.
        let empty = |s: &mut VfState| {
            s.rx[0].rdlen = 0;
            s.rx[0].rdh = 0;
            s.rx[0].rdt = 0;
        };
        assert_eq!(check(&m, empty), bad(qr(QueueReg::Rdlen, 0), 0));
        // Queue 1 is disabled: an empty ring is fine, with head and tail at 0.
        let empty1 = |s: &mut VfState| {
            s.tx[1].tdlen = 0;
            s.tx[1].tdh = 0;
            s.tx[1].tdt = 0;
        };
        check(&m, empty1).unwrap();
        assert_eq!(
            check(&m, |s| s.rx[1].rdh = 256),
            bad(qr(QueueReg::Rdh, 1), 256)
        );
        check(&m, |s| s.rx[1].rdh = 255).unwrap();
        assert_eq!(
            check(&m, |s| s.rx[0].rdt = 0x1_0000),
            bad(qr(QueueReg::Rdt, 0), 0x1_0000)
        );
        assert_eq!(
            check(&m, |s| s.tx[1].tdh = 512),
            bad(qr(QueueReg::Tdh, 1), 512)
        );
        assert_eq!(
            check(&m, |s| s.tx[0].tdt = 600),
            bad(qr(QueueReg::Tdt, 0), 600)
        );
    }

    #[test]
    fn srrctl_descriptor_type() {
        let igb = model(0x1520);
        let x540 = model(0x1515);
        let set = |v: u32| move |s: &mut VfState| s.rx[0].srrctl = v;
        assert_eq!(
            check(&igb, set(0x0C00_0000)),
            bad(qr(QueueReg::Srrctl, 0), 0x0C00_0000)
        );
        assert_eq!(
            check(&x540, set(0x0E00_0002)),
            bad(qr(QueueReg::Srrctl, 0), 0x0E00_0002)
        );
        // Header replication: igb only.
        check(&igb, set(0x0600_0002)).unwrap();
        assert_eq!(
            check(&x540, set(0x0600_0002)),
            bad(qr(QueueReg::Srrctl, 0), 0x0600_0002)
        );
        check(&x540, set(0x0A00_0402)).unwrap();
    }

    #[test]
    fn interrupts() {
        let m = model(0x10ED);
        let dev = |reg| RegRef::dev(reg);
        let at = |reg, index| RegRef::Dev { reg, index };
        assert_eq!(check(&m, |s| s.dev.eims = 0xF), bad(dev(Reg::Eims), 0xF));
        assert_eq!(check(&m, |s| s.dev.eiac = 0x8), bad(dev(Reg::Eiac), 8));
        assert_eq!(
            check(&m, |s| s.dev.eiam = 1 << 31),
            bad(dev(Reg::Eiam), 1 << 31)
        );
        // IVAR entries: valid ones must name vectors 0..=2; invalid ones are ignored.
        assert_eq!(
            check(&m, |s| s.dev.ivar[1] = 0x83),
            bad(at(Reg::Ivar, 1), 0x83)
        );
        assert_eq!(
            check(&m, |s| s.dev.ivar[3] = 0x8200_0000 | 0x00FF_0000),
            bad(at(Reg::Ivar, 3), 0x82FF_0000)
        );
        check(&m, |s| s.dev.ivar[0] = 0x7F02_8280).unwrap();
        assert_eq!(
            check(&m, |s| s.dev.ivar_misc = 0x83),
            bad(dev(Reg::IvarMisc), 0x83)
        );
        assert_eq!(
            check(&m, |s| s.dev.ivar_misc = 0x180),
            bad(dev(Reg::IvarMisc), 0x180)
        );
        check(&m, |s| s.dev.ivar_misc = 0x7F).unwrap();
        // The 82576 VF has one IVAR: a second one must be zero.
        let igb = model(0x10CA);
        assert_eq!(
            check(&igb, |s| s.dev.ivar[1] = 0x80),
            bad(at(Reg::Ivar, 1), 0x80)
        );
        // EITR: any value for an existing vector.
        check(&m, |s| s.dev.eitr[2] = u32::MAX).unwrap();
        check(&igb, |s| s.dev.eitr[0] = 105).unwrap();
    }

    #[test]
    fn rss_only_where_present() {
        let x550 = model(0x1565);
        let x540 = model(0x1515);
        let reta = |i| RegRef::Dev {
            reg: Reg::Reta,
            index: i,
        };
        assert_eq!(
            check(&x550, |s| s.dev.reta[2] = 0x0800_0000),
            bad(reta(2), 0x0800_0000)
        );
        check(&x550, |s| s.dev.reta[2] = 0x0706_0504).unwrap();
        assert_eq!(check(&x540, |s| s.dev.reta[0] = 1), bad(reta(0), 1));
        assert_eq!(
            check(&x540, |s| s.dev.mrqc = 1),
            bad(RegRef::dev(Reg::Mrqc), 1)
        );
        assert_eq!(
            check(&x540, |s| s.dev.rssrk[9] = 1),
            bad(RegRef::dev(Reg::Mrqc), 0)
        );
    }

    #[test]
    fn queue_counts_and_leftovers() {
        let i350 = model(0x1520);
        assert_eq!(check(&i350, |s| s.rx_queues = 2), Err(StateError::Queues));
        assert_eq!(check(&i350, |s| s.tx[1].tdt = 1), Err(StateError::Queues));
        let fewer = |s: &mut VfState| {
            s.tx_queues = 0;
            s.tx[0] = TxRegs::default();
        };
        check(&i350, fewer).unwrap();
        let left = |s: &mut VfState| s.tx_queues = 0;
        assert_eq!(check(&i350, left), Err(StateError::Queues));
        let m = model(0x10CA);
        assert_eq!(
            check(&m, |s| s.mbx.ctrl = Some(0x100)),
            bad(RegRef::dev(Reg::Mailbox), 0x100)
        );
        assert_eq!(
            check(&m, |s| s.dev.eitr[2] = 0).map(|()| 0),
            Ok(0),
            "3 EITRs on the 82576 VF"
        );
        assert_eq!(StateError::Queues.errno(), 22);
    }
}
