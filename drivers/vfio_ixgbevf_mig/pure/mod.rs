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
//! - [`stream`]: the migration stream format (header, records, checksum) and its encoder;
//!   [`decode`]: its validating decoder; [`wire`]: CRC-32, byte writer and reader, errnos.
//! - [`snapshot`]: the VF's register state ([`snapshot::VfState`]), save and restore;
//!   [`check`]: its validation; [`quiesce`]: stopping and restarting queue DMA.
//! - [`pfctx`]: the PF-held VF context ([`pfctx::PfCtx`]) as carried in the stream.
//! - [`image`]: state and PF context as stream records, stream sizes, and [`image::load`].
//! - [`ring`]: the RX ring walker (which buffers newly posted RX descriptors let the device
//!   write); [`areas`]: the DMA areas fixed by queue registers (rings, TX head
//!   write-back); [`ranges`]: the logging ranges of `DMA_LOGGING_START`; [`dirty`]: the
//!   sparse dirty page set behind them; [`slots`]: the per-slot record of posted RX buffers
//!   that lets a report carry only what the device finished.
//! - [`stats`]: the per-device counters shown in debugfs, and their text form.
//! - `dirty_testing` (host tests and fuzzing only): fake guest memory, models and the
//!   `ring_walk` / `dirty_set` fuzz target bodies.
//! - `interleave` (host tests and fuzzing only): an exhaustive interleaving checker of the
//!   dirty-tracking protocol (guest, RX tail trap, START/REPORT, device) on the walker and
//!   the dirty set.
//! - `testing` (host tests and fuzzing only): sample device states and the fuzz target body.
//!
//! C counterparts: `drivers/net/ethernet/intel/igbvf/{regs.h,defines.h,mbx.h}` and
//! `drivers/net/ethernet/intel/ixgbevf/{regs.h,defines.h,mbx.h}`.

pub mod access;
pub mod areas;
pub mod check;
pub mod decode;
pub mod dirty;
#[cfg(any(test, feature = "testing"))]
pub mod dirty_testing;
pub mod family;
pub mod fields;
pub mod fsm;
pub mod image;
#[cfg(any(test, feature = "testing"))]
pub mod interleave;
pub mod io;
pub mod map;
pub mod pages;
pub mod pfctx;
pub mod quiesce;
pub mod ranges;
pub mod region;
pub mod regs;
pub mod ring;
pub mod slots;
pub mod snapshot;
pub mod stats;
pub mod stream;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wire;

pub use family::{Family, VfModel, SUPPORTED};
pub use io::RegIo;
pub use map::RegMap;
pub use pages::PageSet;
pub use regs::{QueueReg, Reg, RegError, RegOffset, RegRef};
