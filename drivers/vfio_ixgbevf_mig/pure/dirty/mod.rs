// SPDX-License-Identifier: GPL-2.0

//! Software DMA dirty tracking (protocol and invariant: `docs/dirty-tracking.md`).
//!
//! - [`access`]: decoding of accesses to the vfio-pci device fd (region index, offset), by
//!   which the chained handlers find writes to trapped BAR0 pages; [`region`]: the BAR0
//!   region info whose sparse mmap leaves the RX tail pages trapped, and the mmap policy.
//! - [`ranges`]: the logging ranges of `DMA_LOGGING_START`; [`set`]: the sparse dirty page
//!   set ([`set::DirtySet`]) behind them.
//! - [`ring`]: the RX ring walker (which buffers newly posted RX descriptors let the device
//!   write); [`areas`]: the DMA areas fixed by queue registers (rings, TX head write-back);
//!   [`slots`]: the per-slot record of posted RX buffers that lets a report carry only what
//!   the device finished.
//! - `interleave` (host tests and fuzzing only): an exhaustive interleaving checker of the
//!   protocol (guest, RX tail trap, START/REPORT, device) on the walker and the dirty set.
//!
//! Depends on [`super::hw`] only.

pub mod access;
pub mod areas;
#[cfg(any(test, feature = "testing"))]
pub mod interleave;
pub mod ranges;
pub mod region;
pub mod ring;
pub mod set;
pub mod slots;
