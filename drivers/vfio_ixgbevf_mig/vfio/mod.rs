// SPDX-License-Identifier: GPL-2.0

//! Thin safe layer over the C vfio-pci core and PCI driver core.
//!
//! Linux 6.12's `kernel` crate has no PCI or VFIO abstractions, so this module provides the
//! minimum this driver needs: a borrowed [`PciDev`](pci::PciDev), the
//! [`CoreDevice`](device::CoreDevice) the VFIO core owns, a [`Device`](device::Device) that
//! embeds it next to the driver's Rust state, the `vfio_device_ops` and `pci_driver` tables as
//! `extern "C"` trampolines over a [`VariantDriver`](adapter::VariantDriver) implementation,
//! and the driver [`Registration`](adapter::Registration). All `unsafe` code of the driver
//! lives here; C objects are borrowed for the duration of a callback and never outlive it.
//!
//! One concern per file, as the kernel crate splits its abstractions:
//! - [`pci`]: the PCI function ([`pci::PciDev`]) and the PCI id table.
//! - [`device`]: the vfio-pci core device, register access to BAR0, the locked DMA view of
//!   guest memory, the mmap VMA, and the per-device allocation [`device::Device`].
//! - [`adapter`]: the [`adapter::VariantDriver`] trait, the C ops tables and trampolines built
//!   from it, and the PCI driver [`adapter::Registration`].
//! - [`file`]: the anonymous migration data files and their `file_operations` trampolines.
//! - [`pf`]: a PF driver's exported `intel_vf_mig_ops`, held through `__symbol_get`.
//! - [`misc`]: the dirty bitmap of one report, module parameters, clock, sleep, rate limit,
//!   and the debugfs `stats` show callback.

pub(crate) mod adapter;
pub(crate) mod compat;
pub(crate) mod device;
pub(crate) mod file;
pub(crate) mod misc;
pub(crate) mod pci;
pub(crate) mod pf;

use crate::sys;
use kernel::prelude::*;

/// `EOPNOTSUPP`, which 6.12's `error::code` lacks.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-sys::EOPNOTSUPP)
}

/// `ENOMSG`, which 6.12's `error::code` lacks.
pub(crate) fn enomsg() -> Error {
    Error::from_errno(-sys::ENOMSG)
}
