// SPDX-License-Identifier: GPL-2.0

//! The PCI function a driver callback is about, and the PCI id table.

use super::compat::cstr_from_ptr;
use crate::sys;
use core::ptr::addr_of_mut;
use kernel::{str::CStr, types::Opaque};

/// A PCI function, borrowed from the PCI core.
///
/// # Invariants
///
/// Wraps a `struct pci_dev` that the PCI core keeps alive for at least as long as the borrow:
/// references are only created inside driver callbacks for the device being called back.
#[repr(transparent)]
pub(crate) struct PciDev(Opaque<sys::pci_dev>);

impl PciDev {
    /// Borrows a `pci_dev` for `'a`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `pci_dev` that stays alive for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut sys::pci_dev) -> &'a PciDev {
        // SAFETY: `PciDev` is a transparent wrapper; the caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<PciDev>() }
    }

    pub(super) fn as_raw(&self) -> *mut sys::pci_dev {
        self.0.get()
    }

    /// PCI vendor id.
    pub(crate) fn vendor(&self) -> u16 {
        // SAFETY: by the type invariant the device is valid; the field is set at enumeration
        // and never changes.
        unsafe { (*self.as_raw()).vendor }
    }

    /// PCI device id.
    pub(crate) fn device(&self) -> u16 {
        // SAFETY: as in `vendor`.
        unsafe { (*self.as_raw()).device }
    }

    /// Whether this function is an SR-IOV virtual function.
    pub(crate) fn is_virtfn(&self) -> bool {
        // SAFETY: the device is valid (type invariant); the helper only reads a bitfield.
        unsafe { sys::mig_pci_is_virtfn(self.as_raw()) }
    }

    /// The VF's index on its PF, if this is a VF.
    pub(crate) fn vf_id(&self) -> Option<u16> {
        // SAFETY: the device is valid (type invariant).
        let id = unsafe { sys::mig_pci_vf_id(self.as_raw()) };
        u16::try_from(id).ok()
    }

    /// Length of BAR `bar` in bytes (0 when absent).
    pub(crate) fn resource_len(&self, bar: i32) -> u64 {
        // SAFETY: the device is valid (type invariant); the helper reads its resource table.
        unsafe { sys::mig_pci_resource_len(self.as_raw(), bar) }
    }

    /// The physical function: the PF for a VF, the device itself otherwise.
    pub(crate) fn physfn(&self) -> &PciDev {
        // SAFETY: the device is valid (type invariant). A VF holds a reference on its PF for
        // as long as the VF exists, so the PF outlives this borrow.
        unsafe { PciDev::from_raw(sys::mig_pci_physfn(self.as_raw())) }
    }

    /// The device's name, its PCI address (`0000:01:10.0`).
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: the device is valid (type invariant); `pci_name` returns the NUL-terminated
        // device name, which lives as long as the device.
        unsafe { cstr_from_ptr(sys::mig_pci_name(self.as_raw())) }
    }

    /// Name of the driver bound to this function, if any.
    pub(crate) fn driver_name(&self) -> Option<&CStr> {
        // SAFETY: the device is valid (type invariant); `dev` is embedded in it.
        let name = unsafe { sys::mig_dev_driver_name(addr_of_mut!((*self.as_raw()).dev)) };
        if name.is_null() {
            None
        } else {
            // SAFETY: a driver's name is a static NUL-terminated string of the bound driver,
            // which cannot unbind while we borrow the device inside a PCI callback.
            Some(unsafe { cstr_from_ptr(name) })
        }
    }
}

/// PCI id table in the layout `modpost` and the PCI core read, terminated by a zero entry.
#[repr(transparent)]
pub(crate) struct IdTable<const N: usize>(pub(crate) [sys::pci_device_id; N]);

impl<const N: usize> IdTable<N> {
    /// Builds a table whose entries match only through `driver_override`, as VFIO variant
    /// drivers must (`modinfo` shows them as `vfio_pci:` aliases), from (vendor, device) pairs
    /// in the first `N - 1` slots of `ids`.
    pub(crate) const fn vfio_override(ids: &[(u16, u16)]) -> Self {
        const ZERO: sys::pci_device_id = sys::pci_device_id {
            vendor: 0,
            device: 0,
            subvendor: 0,
            subdevice: 0,
            class: 0,
            class_mask: 0,
            driver_data: 0,
            override_only: 0,
        };
        assert!(
            ids.len() + 1 == N,
            "table needs exactly one terminator slot"
        );
        let mut table = [ZERO; N];
        let mut i = 0;
        while i < ids.len() {
            table[i] = sys::pci_device_id {
                vendor: ids[i].0 as u32,
                device: ids[i].1 as u32,
                subvendor: !0,
                subdevice: !0,
                override_only: sys::PCI_ID_F_VFIO_DRIVER_OVERRIDE,
                ..ZERO
            };
            i += 1;
        }
        IdTable(table)
    }
}
