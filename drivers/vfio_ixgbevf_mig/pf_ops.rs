// SPDX-License-Identifier: GPL-2.0

//! Everything this driver asks of a VF's physical function.
//!
//! Counterpart of pds `cmds.c`: the PF driver (igb, ixgbe), not the VF, holds part of a VF's
//! context (MAC filters, VLANs, mailbox API, ...). This file is the one interface to it; a
//! constant [`PfDriver`] per family names the PF driver and the `intel_vf_mig_ops` table that
//! driver exports when built with `patches/` (see `intel_vf_mig.h`). The table is looked up
//! with `__symbol_get` for the duration of one operation, so this module has no load-order
//! dependency on igb/ixgbe and does not pin them; a PF driver without the exports leaves
//! pass-through working and makes migration fail with `EOPNOTSUPP`, early (at PRE_COPY).

use crate::pure::hw::family::Family;
use crate::pure::mig::pfctx::PfCtx;
use crate::sys;
use crate::vfio::{eopnotsupp, pci::PciDev, pf::PfTable};
use kernel::{c_str, prelude::*, str::CStr};

/// A family's PF driver, as this driver needs to know it.
pub(crate) struct PfDriver {
    /// Family the PF driver serves.
    pub(crate) family: Family,
    /// Name of the PF driver that holds the VF context.
    pub(crate) name: &'static CStr,
    /// Symbol of the driver's `struct intel_vf_mig_ops`.
    pub(crate) ops_symbol: &'static CStr,
}

static IGB: PfDriver = PfDriver {
    family: Family::Igb,
    name: c_str!("igb"),
    ops_symbol: c_str!("igb_vf_mig_ops"),
};

static IXGBE: PfDriver = PfDriver {
    family: Family::Ixgbe,
    name: c_str!("ixgbe"),
    ops_symbol: c_str!("ixgbe_vf_mig_ops"),
};

/// The PF driver of a family.
pub(crate) fn pf_driver(family: Family) -> &'static PfDriver {
    match family {
        Family::Igb => &IGB,
        Family::Ixgbe => &IXGBE,
    }
}

/// The PF driver's migration table, looked up for one operation.
fn table(family: Family) -> Result<PfTable> {
    let ops = pf_driver(family);
    PfTable::get(ops.ops_symbol).ok_or_else(|| {
        pr_err!(
            "PF driver {} does not export {} (built without patches/?): the VF's PF-held \
             context cannot be migrated\n",
            ops.name,
            ops.ops_symbol
        );
        eopnotsupp()
    })
}

/// Fails early (at PRE_COPY) when the PF cannot take part in a migration.
pub(crate) fn check_available(family: Family) -> Result {
    table(family).map(drop)
}

/// Reads the PF-held context of `vf`.
pub(crate) fn save(family: Family, vf: &PciDev) -> Result<PfCtx> {
    let c = table(family)?.save(vf)?;
    Ok(PfCtx {
        abi: c.abi,
        flags: c.flags,
        mac: c.mac,
        num_mc: c.num_mc,
        mc_hashes: c.mc_hashes,
        num_vlans: c.num_vlans,
        vlans: c.vlans,
        pf_vlan: c.pf_vlan,
        pf_qos: c.pf_qos,
        tx_rate: c.tx_rate,
        max_frame: c.max_frame,
        xcast_mode: c.xcast_mode,
        mbx_api: c.mbx_api,
        num_macvlans: c.num_macvlans,
        macvlans: c.macvlans,
    })
}

/// Programs the PF with a (validated) context for `vf`.
pub(crate) fn restore(family: Family, vf: &PciDev, ctx: &PfCtx) -> Result {
    let c = sys::intel_vf_mig_pf_ctx {
        abi: ctx.abi,
        flags: ctx.flags,
        mac: ctx.mac,
        num_mc: ctx.num_mc,
        mc_hashes: ctx.mc_hashes,
        num_vlans: ctx.num_vlans,
        vlans: ctx.vlans,
        pf_vlan: ctx.pf_vlan,
        pf_qos: ctx.pf_qos,
        pad0: 0,
        tx_rate: ctx.tx_rate,
        max_frame: ctx.max_frame,
        xcast_mode: ctx.xcast_mode,
        mbx_api: ctx.mbx_api,
        num_macvlans: ctx.num_macvlans,
        pad: 0,
        macvlans: ctx.macvlans,
    };
    table(family)?.restore(vf, &c)
}

/// Holds the PF's mailbox service for `vf` (pending requests stay in the VF mailbox).
pub(crate) fn quiesce(family: Family, vf: &PciDev) -> Result {
    table(family)?.quiesce(vf)
}

/// Services the mailbox of `vf` again, including what arrived while quiesced.
pub(crate) fn unquiesce(family: Family, vf: &PciDev) -> Result {
    table(family)?.unquiesce(vf)
}
