// SPDX-License-Identifier: GPL-2.0

//! Pure core of the vfio-ixgbevf-mig driver.
//!
//! Everything here decides *what* to do with the hardware (which register sits at which BAR0
//! offset, which BAR0 pages must stay trapped, how a register value decodes) without doing any
//! of it: no `kernel` crate, no `alloc`, no `unsafe`, only `core`. The same files are built
//! into the kernel module (`main.rs` declares `pub mod pure;`) and into the host crate
//! `hostcore/`, whose `cargo test` exercises them against a fake BAR.
//!
//! Modules:
//! - [`family`]: the supported VF models (PCI ids, register family, queue geometry).
//! - [`regs`]: names of the VF registers ([`Reg`], [`QueueReg`], [`RegRef`]) and [`RegOffset`].
//! - [`map`]: the BAR0 register map of each family, forward (register to offset) and reverse
//!   ([`map::locate`], used by the chained write handler to spot RX tail writes).
//! - [`pages`]: which BAR0 pages stay trapped and which may be mmapped.
//! - [`fields`]: one type per register that needs decoding, with field accessors.
//! - [`io`]: the [`io::RegIo`] trait through which later pure code (state save and restore)
//!   touches the BAR.
//!
//! C counterparts: `drivers/net/ethernet/intel/igbvf/{regs.h,defines.h,mbx.h}` and
//! `drivers/net/ethernet/intel/ixgbevf/{regs.h,defines.h,mbx.h}`.

pub mod access;
pub mod family;
pub mod fields;
pub mod io;
pub mod map;
pub mod pages;
pub mod regs;

pub use family::{Family, VfModel, SUPPORTED};
pub use io::RegIo;
pub use map::RegMap;
pub use pages::PageSet;
pub use regs::{QueueReg, Reg, RegError, RegOffset, RegRef};
