// SPDX-License-Identifier: GPL-2.0

//! A PF driver's exported `struct intel_vf_mig_ops` (patches/), held through `__symbol_get`.

use super::compat::cstr_ptr;
use super::eopnotsupp;
use super::pci::PciDev;
use crate::sys;
use kernel::{error::to_result, prelude::*, str::CStr};

/// A PF driver's `struct intel_vf_mig_ops`, held through `__symbol_get` until dropped.
///
/// # Invariants
///
/// `ops` points to the exported table named `sym`, whose module is pinned by the
/// `__symbol_get` reference this value owns; its `abi` is `INTEL_VF_MIG_ABI`.
pub(crate) struct PfTable {
    ops: *const sys::intel_vf_mig_ops,
    sym: &'static CStr,
}

impl PfTable {
    /// Looks `sym` up; `None` if no loaded module exports it (or with another ABI).
    pub(crate) fn get(sym: &'static CStr) -> Option<PfTable> {
        // SAFETY: `sym` is NUL-terminated; the lookup takes a module reference on success.
        let ops = unsafe { sys::__symbol_get(cstr_ptr(sym)) }.cast::<sys::intel_vf_mig_ops>();
        if ops.is_null() {
            return None;
        }
        // INVARIANT: found and pinned; the ABI is checked right here.
        let table = PfTable { ops, sym };
        // SAFETY: `ops` points to the exported table, kept alive by our reference.
        (unsafe { (*ops).abi } == sys::INTEL_VF_MIG_ABI).then_some(table)
    }

    fn ops(&self) -> &sys::intel_vf_mig_ops {
        // SAFETY: valid and pinned for as long as `self` (type invariant).
        unsafe { &*self.ops }
    }

    /// `save`: the PF-held context of `vf`.
    pub(crate) fn save(&self, vf: &PciDev) -> Result<sys::intel_vf_mig_pf_ctx> {
        let save = self.ops().save.ok_or_else(eopnotsupp)?;
        let mut ctx = sys::intel_vf_mig_pf_ctx::default();
        // SAFETY: `vf` is a VF bound to us, `ctx` a valid out pointer for the call.
        to_result(unsafe { save(vf.as_raw(), &mut ctx) })?;
        Ok(ctx)
    }

    /// `restore`: program the PF for `vf` (the PF validates again).
    pub(crate) fn restore(&self, vf: &PciDev, ctx: &sys::intel_vf_mig_pf_ctx) -> Result {
        let restore = self.ops().restore.ok_or_else(eopnotsupp)?;
        // SAFETY: as in `save`; `ctx` is only read.
        to_result(unsafe { restore(vf.as_raw(), ctx) })
    }

    /// `quiesce`: hold the PF's mailbox service for `vf`.
    pub(crate) fn quiesce(&self, vf: &PciDev) -> Result {
        let quiesce = self.ops().quiesce.ok_or_else(eopnotsupp)?;
        // SAFETY: `vf` is a VF bound to us.
        to_result(unsafe { quiesce(vf.as_raw()) })
    }

    /// `post`: raise `INTEL_VF_MIG_POST_*` events in `vf`'s mailbox control.
    pub(crate) fn post(&self, vf: &PciDev, events: u32) -> Result {
        let post = self.ops().post.ok_or_else(eopnotsupp)?;
        // SAFETY: `vf` is a VF bound to us; `events` is plain data the PF checks.
        to_result(unsafe { post(vf.as_raw(), events) })
    }

    /// `unquiesce`: service `vf`'s mailbox again.
    pub(crate) fn unquiesce(&self, vf: &PciDev) -> Result {
        let unquiesce = self.ops().unquiesce.ok_or_else(eopnotsupp)?;
        // SAFETY: `vf` is a VF bound to us.
        to_result(unsafe { unquiesce(vf.as_raw()) })
    }
}

impl Drop for PfTable {
    fn drop(&mut self) {
        // SAFETY: drops the module reference `get` took (type invariant).
        unsafe { sys::__symbol_put(cstr_ptr(self.sym)) }
    }
}
