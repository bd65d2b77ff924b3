// SPDX-License-Identifier: GPL-2.0

//! DMA dirty tracking in software, for a VF that has no tracker of its own.
//!
//! Counterpart of pds `dirty.c`. The device writes guest memory in RX descriptor rings, RX
//! buffers and TX write-back; RX buffer addresses are overwritten on write-back, so they
//! have to be seen when the guest posts them, i.e. on its RX tail (RDT) writes. This file owns
//! that trap: [`Trap::bar0_write`] is called by the chained write handler for every 32-bit
//! BAR0 write before it is forwarded, and recognises RX tail writes through the pure register
//! map. The logging ops and the dirty set build on it.

use crate::pure::family::VfModel;
use crate::pure::regs::{QueueReg, RegRef};
use core::sync::atomic::{AtomicU64, Ordering};

/// Per-device trap state.
pub(crate) struct Trap {
    /// RX tail writes seen by the write handler (lock-free: the hot path takes no lock).
    rx_tail_writes: AtomicU64,
}

impl Trap {
    /// A trap that has seen nothing.
    pub(crate) const fn new() -> Self {
        Trap {
            rx_tail_writes: AtomicU64::new(0),
        }
    }

    /// A 32-bit write to BAR0 `offset` is about to be forwarded to the device.
    pub(crate) fn bar0_write(&self, model: &VfModel, offset: u32) {
        if let Some(RegRef::Queue {
            reg: QueueReg::Rdt, ..
        }) = model.regs().locate(u64::from(offset))
        {
            self.rx_tail_writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// RX tail writes seen so far.
    pub(crate) fn rx_tail_writes(&self) -> u64 {
        self.rx_tail_writes.load(Ordering::Relaxed)
    }
}
