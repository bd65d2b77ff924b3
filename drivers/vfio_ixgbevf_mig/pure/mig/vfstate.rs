// SPDX-License-Identifier: GPL-2.0

//! The VF's register state as carried in a migration: [`VfState`] and its parts.
//!
//! What is carried and what is not, and why: [`super::snapshot`], which saves and restores
//! it; [`super::check`] validates it, [`super::image`] turns it into stream records.
//! Depends only on [`crate::pure::hw`].

use crate::pure::hw::family::{Family, MAX_QUEUES};
use crate::pure::hw::fields::Mailbox;
use crate::pure::hw::regs::{MBX_WORDS, RETA_WORDS, RSS_KEY_WORDS};

/// Most MSI-X vectors (`EITR`s) of any family.
pub const MAX_VECTORS: usize = 3;
/// Most `IVAR` registers of any family (one per two queues).
pub const MAX_IVARS: usize = (MAX_QUEUES as usize).div_ceil(2);
const _: () = {
    let (a, b) = (Family::Igb.max_geometry(), Family::Ixgbe.max_geometry());
    assert!(a.msix_vectors as usize <= MAX_VECTORS && b.msix_vectors as usize <= MAX_VECTORS);
    assert!(a.queues <= MAX_QUEUES && b.queues <= MAX_QUEUES);
};

/// Device-wide registers. Array entries past the model's count are zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevRegs {
    /// Interrupt mask (`EIMS` read).
    pub eims: u32,
    /// Auto clear.
    pub eiac: u32,
    /// Auto mask.
    pub eiam: u32,
    /// Throttle per vector.
    pub eitr: [u32; MAX_VECTORS],
    /// Queue-to-vector map.
    pub ivar: [u32; MAX_IVARS],
    /// Mailbox/other-cause vector.
    pub ivar_misc: u32,
    /// Packet split receive type.
    pub psrtype: u32,
    /// VF RSS enable/fields (X550+ only).
    pub mrqc: u32,
    /// VF RSS key (X550+ only).
    pub rssrk: [u32; RSS_KEY_WORDS as usize],
    /// VF RSS redirection table (X550+ only).
    pub reta: [u32; RETA_WORDS as usize],
}

/// One RX queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxRegs {
    /// Ring base, low.
    pub rdbal: u32,
    /// Ring base, high.
    pub rdbah: u32,
    /// Ring length in bytes.
    pub rdlen: u32,
    /// Head.
    pub rdh: u32,
    /// Tail.
    pub rdt: u32,
    /// Descriptor control; `ENABLE` is the guest's view (see the module docs).
    pub rxdctl: u32,
    /// Split/replication control.
    pub srrctl: u32,
    /// DCA control.
    pub dca_rxctrl: u32,
}

/// One TX queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxRegs {
    /// Ring base, low.
    pub tdbal: u32,
    /// Ring base, high.
    pub tdbah: u32,
    /// Ring length in bytes.
    pub tdlen: u32,
    /// Head.
    pub tdh: u32,
    /// Tail.
    pub tdt: u32,
    /// Descriptor control; `ENABLE` is the guest's view.
    pub txdctl: u32,
    /// Head write-back address low and enable.
    pub tdwbal: u32,
    /// Head write-back address high.
    pub tdwbah: u32,
    /// DCA control.
    pub dca_txctrl: u32,
}

/// [`MailboxRegs::pf_pending`]: the VF raised a request the quiesced PF left latched
/// (`INTEL_VF_MIG_MBX_VF_REQ`).
pub const PF_PENDING_VF_REQ: u16 = 1 << 0;
/// [`MailboxRegs::pf_pending`]: the VF acked a PF message, latched (`INTEL_VF_MIG_MBX_VF_ACK`).
pub const PF_PENDING_VF_ACK: u16 = 1 << 1;
/// [`MailboxRegs::pf_pending`]: the PF held a ping back (`INTEL_VF_MIG_MBX_PING`).
pub const PF_PENDING_PING: u16 = 1 << 2;
/// Every [`MailboxRegs::pf_pending`] bit (`INTEL_VF_MIG_MBX_ALL`).
pub const PF_PENDING_ALL: u16 = (1 << 3) - 1;

/// Events the PF's `post` op raises for the VF: PFSTS (`INTEL_VF_MIG_POST_STS`) ...
pub const POST_STS: u32 = 1 << 0;
/// ... and PFACK (`INTEL_VF_MIG_POST_ACK`).
pub const POST_ACK: u32 = 1 << 1;

/// The mailbox at the switch-over: what the VF holds (memory, control) and what its PF had
/// latched for it. Each side's events are replayed on the side that owns them: the VF's
/// read-to-clear bits by the PF's `post` op, the VF's own REQ/ACK through the destination
/// VF's control register, a held ping by the destination PF ([`Self::post_events`],
/// [`Self::replay_ctrl`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailboxRegs {
    /// Mailbox memory words.
    pub words: [u32; MBX_WORDS as usize],
    /// The control register as read by [`super::snapshot::save_mailbox_ctrl`], if it was.
    pub ctrl: Option<u32>,
    /// `INTEL_VF_MIG_MBX_*` as the PF's save reported them ([`PF_PENDING_ALL`]).
    pub pf_pending: u16,
}

impl MailboxRegs {
    /// Read-to-clear events (PFSTS, PFACK, RSTD) that the save consumed, lost to the guest
    /// unless re-posted.
    pub fn pending_events(&self) -> Mailbox {
        let ctrl = Mailbox::from_raw(self.ctrl.unwrap_or(0));
        Mailbox::default()
            .with_pfsts(ctrl.pfsts())
            .with_pfack(ctrl.pfack())
            .with_rstd(ctrl.rstd())
    }

    /// The consumed events the PF's `post` op can raise again ([`POST_STS`], [`POST_ACK`]).
    /// RSTD cannot be: only a reset sets it (see `docs/migration.md`).
    pub fn post_events(&self) -> u32 {
        let ev = self.pending_events();
        (if ev.pfsts() { POST_STS } else { 0 }) | (if ev.pfack() { POST_ACK } else { 0 })
    }

    /// What the destination writes to the VF's mailbox control after loading the memory:
    /// `VFU` if the guest held the buffer, `REQ`/`ACK` if the source PF had them latched
    /// (a write of either without `VFU` would release the buffer, hence one write).
    pub fn replay_ctrl(&self) -> Mailbox {
        let vfu = self.ctrl.is_some_and(|c| Mailbox::from_raw(c).vfu());
        Mailbox::default()
            .with_vfu(vfu)
            .with_req(self.pf_pending & PF_PENDING_VF_REQ != 0)
            .with_ack(self.pf_pending & PF_PENDING_VF_ACK != 0)
    }
}

/// Everything the VF itself holds. Fixed size; queues past the counts are zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VfState {
    /// RX queues carried.
    pub rx_queues: u8,
    /// TX queues carried.
    pub tx_queues: u8,
    /// Device-wide registers.
    pub dev: DevRegs,
    /// RX queues.
    pub rx: [RxRegs; MAX_QUEUES as usize],
    /// TX queues.
    pub tx: [TxRegs; MAX_QUEUES as usize],
    /// Mailbox.
    pub mbx: MailboxRegs,
}
