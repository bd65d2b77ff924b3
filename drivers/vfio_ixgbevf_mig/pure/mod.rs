// SPDX-License-Identifier: GPL-2.0

//! Pure core of the vfio-ixgbevf-mig driver.
//!
//! Everything here decides *what* to do with the hardware (which register sits at which BAR0
//! offset, which BAR0 pages must stay trapped, how a register value decodes) without doing any
//! of it: no `kernel` crate, no `alloc`, no `unsafe`, only `core`. The same files are built
//! into the kernel module (`main.rs` declares `mod pure;`, private, so that the kernel build
//! reports dead code) and into the host crate `hostcore/`, whose `cargo test` exercises them
//! against a fake BAR. Both mount it as `crate::pure`, which is how its files name each other
//! across sub-folders.
//!
//! Sub-folders, by subsystem; each uses only the ones listed before it:
//! - [`bytes`]: the bounds-checked little-endian byte writer and reader.
//! - [`hw`]: the hardware model: supported VF models, register names, the BAR0 register map
//!   of each family, BAR0 page sets, register field decoders, and the [`RegIo`](hw::io::RegIo) trait
//!   through which pure code touches the BAR.
//! - [`stream`]: the migration stream: format and encoder, validating decoder, CRC-32 and
//!   padding.
//! - [`mig`]: the migration steps: the FSM table, quiesce and resume, the VF's register
//!   snapshot (save, restore, validation), the PF-held context, and the device state as
//!   stream records (the image).
//! - [`dirty`]: software DMA dirty tracking: device-fd access decoding and the BAR0 region
//!   info that keeps RX tails trapped, the logging ranges, the dirty page set, the RX ring
//!   walker, the DMA areas fixed by queue registers, the per-slot record of posted RX
//!   buffers, and (host tests only) the interleaving checker of the protocol.
//! - [`errno`]: the errno values and the one mapping from the error enums above to them.
//! - [`stats`]: the per-device counters shown in debugfs (migration and dirty tracking).
//! - `testing` (host tests and fuzzing only): fake BAR contents, sample states and streams,
//!   fake guest memory, models, and the fuzz target bodies.
//!
//! C counterparts: `drivers/net/ethernet/intel/igbvf/{regs.h,defines.h,mbx.h}` and
//! `drivers/net/ethernet/intel/ixgbevf/{regs.h,defines.h,mbx.h}`.

#![forbid(unsafe_code)]

pub mod bytes;
pub mod dirty;
pub mod errno;
pub mod hw;
pub mod mig;
pub mod stats;
pub mod stream;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
