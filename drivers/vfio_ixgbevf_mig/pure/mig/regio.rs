// SPDX-License-Identifier: GPL-2.0

//! What the migration steps share to reach the VF's registers: the error of every step
//! ([`StateError`]), queue enable bits ([`Enables`]), and the helpers that name a register
//! through the model's [`crate::pure::hw::map::RegMap`] and read or write it through
//! [`RegIo`].
//!
//! Used by [`super::quiesce`], [`super::check`], [`super::snapshot`], [`super::pfctx`] and
//! [`super::image`]; depends only on [`crate::pure::hw`].

use crate::pure::hw::family::{VfModel, MAX_QUEUES};
use crate::pure::hw::io::RegIo;
use crate::pure::hw::regs::{QueueReg, Reg, RegError, RegRef};

const _: () = assert!(MAX_QUEUES as u32 <= u8::BITS);

/// Queue enable bits: bit `q` set means queue `q` was enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enables {
    /// RX queues.
    pub rx: u8,
    /// TX queues.
    pub tx: u8,
}

impl Enables {
    /// Whether no queue is set.
    pub const fn is_empty(self) -> bool {
        self.rx == 0 && self.tx == 0
    }
}

/// Why a state cannot be saved, loaded or applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// A register the model lacks (a bug in the caller or the map).
    Reg(RegError),
    /// A value the source device cannot have held.
    Invalid {
        /// The register instance.
        reg: RegRef,
        /// The rejected value.
        value: u32,
    },
    /// More queues than the model has.
    Queues,
    /// A record payload of the wrong length or shape.
    Record(u16),
    /// A PF context field out of range (field name).
    PfCtx(&'static str),
    /// Queues still enabled after [`super::quiesce::MAX_POLLS`] polls.
    Timeout {
        /// Queues whose enable was cleared (all were enabled before).
        stopped: Enables,
        /// Of those, the ones still reporting enabled.
        busy: Enables,
    },
}

impl From<RegError> for StateError {
    fn from(e: RegError) -> Self {
        StateError::Reg(e)
    }
}

/// The `index`th instance of an array register.
pub(super) fn dev(reg: Reg, index: usize) -> Result<RegRef, StateError> {
    let index = u8::try_from(index).map_err(|_| RegError::IndexOutOfRange {
        index: u8::MAX,
        count: 0,
    })?;
    Ok(RegRef::Dev { reg, index })
}

/// Reads register `r` of a `model` VF.
pub(super) fn rd(io: &dyn RegIo, model: &VfModel, r: RegRef) -> Result<u32, StateError> {
    Ok(io.read32(model.regs().offset(r)?))
}

/// Writes `value` to register `r` of a `model` VF.
pub(super) fn wr(io: &dyn RegIo, model: &VfModel, r: RegRef, value: u32) -> Result<(), StateError> {
    io.write32(model.regs().offset(r)?, value);
    Ok(())
}

/// Register `reg` of queue `queue`.
pub(super) fn q(reg: QueueReg, queue: u8) -> RegRef {
    RegRef::Queue { reg, queue }
}

/// The model's MSI-X vectors as a mask of interrupt cause bits (`EIMS`, `EIAC`, `EIAM`).
pub(in crate::pure) fn vector_mask(model: &VfModel) -> u32 {
    let n = u32::from(model.geometry.msix_vectors).min(31);
    (1u32 << n) - 1
}
