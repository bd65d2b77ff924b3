// SPDX-License-Identifier: GPL-2.0

//! The hardware model: what a supported VF is and where its registers sit.
//!
//! - [`family`]: the supported VF models (PCI ids, register family, queue geometry).
//! - [`regs`]: names of the VF registers ([`regs::Reg`], [`regs::QueueReg`],
//!   [`regs::RegRef`]) and [`regs::RegOffset`].
//! - [`map`]: the BAR0 register map of each family, forward (register to offset) and reverse
//!   ([`map::RegMap::locate`], used by the chained write handler to spot RX tail writes).
//! - [`pages`]: sets of BAR0 pages (which stay trapped and which may be mmapped).
//! - [`fields`]: one type per register that needs decoding, with field accessors.
//! - [`io`]: the [`io::RegIo`] trait through which the rest of the core (state save and
//!   restore, quiesce) touches the BAR; `io::fake` is the host tests' fake BAR.
//!
//! Depends on nothing else in the core.

pub mod family;
pub mod fields;
pub mod io;
pub mod map;
pub mod pages;
pub mod regs;
