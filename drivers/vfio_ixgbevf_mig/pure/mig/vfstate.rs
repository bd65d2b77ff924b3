// SPDX-License-Identifier: GPL-2.0

//! The VF's register state as carried in a migration: [`VfState`] and its parts.
//!
//! What is carried and what is not, and why: [`super::snapshot`], which saves and restores
//! it; [`super::check`] validates it, [`super::image`] turns it into stream records.
//! Depends only on [`crate::pure::hw`].

use crate::pure::hw::family::{Family, MAX_QUEUES};
#[cfg(any(test, feature = "testing"))]
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

/// Mailbox memory and, if read, the control register.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailboxRegs {
    /// Mailbox memory words.
    pub words: [u32; MBX_WORDS as usize],
    /// The control register as read by [`super::snapshot::save_mailbox_ctrl`], if it was.
    pub ctrl: Option<u32>,
}

impl MailboxRegs {
    /// Read-to-clear events (PFSTS, PFACK, RSTD) that the save consumed and the PF must
    /// re-post for the guest.
    #[cfg(any(test, feature = "testing"))]
    pub fn pending_events(&self) -> Mailbox {
        let ctrl = Mailbox::from_raw(self.ctrl.unwrap_or(0));
        Mailbox::default()
            .with_pfsts(ctrl.pfsts())
            .with_pfack(ctrl.pfack())
            .with_rstd(ctrl.rstd())
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
