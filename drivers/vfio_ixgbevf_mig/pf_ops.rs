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

// The pure core's copies of the interface's numbers.
const _: () = {
    use crate::pure::mig::{pfctx::PF_CTX_ABI, vfstate as v};
    assert!(sys::INTEL_VF_MIG_CTX_ABI == PF_CTX_ABI);
    assert!(sys::INTEL_VF_MIG_MBX_VF_REQ == v::PF_PENDING_VF_REQ as u32);
    assert!(sys::INTEL_VF_MIG_MBX_VF_ACK == v::PF_PENDING_VF_ACK as u32);
    assert!(sys::INTEL_VF_MIG_MBX_PING == v::PF_PENDING_PING as u32);
    assert!(sys::INTEL_VF_MIG_MBX_ALL == v::PF_PENDING_ALL as u32);
    assert!(sys::INTEL_VF_MIG_POST_STS == v::POST_STS);
    assert!(sys::INTEL_VF_MIG_POST_ACK == v::POST_ACK);
};

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

/// Reads the PF-held context of `vf`, and the mailbox events the PF holds latched for it
/// (`INTEL_VF_MIG_MBX_*`, carried with the mailbox, see `MailboxRegs::pf_pending`).
pub(crate) fn save(family: Family, vf: &PciDev) -> Result<(PfCtx, u16)> {
    let c = table(family)?.save(vf)?;
    let ctx = PfCtx {
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
    };
    Ok((ctx, c.mbx_pending))
}

/// Programs the PF with a (validated) context for `vf`; `pf_pending` as `save` gave it (the
/// PF takes the held ping from it; the VF's REQ/ACK are the caller's to replay).
pub(crate) fn restore(family: Family, vf: &PciDev, ctx: &PfCtx, pf_pending: u16) -> Result {
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
        mbx_pending: pf_pending,
        macvlans: ctx.macvlans,
    };
    table(family)?.restore(vf, &c)
}

/// Holds the PF's mailbox service for `vf` (pending requests stay in the VF mailbox).
pub(crate) fn quiesce(family: Family, vf: &PciDev) -> Result {
    table(family)?.quiesce(vf)
}

/// Has the PF raise `INTEL_VF_MIG_POST_*` events for `vf` (the read-to-clear bits a save
/// consumed). Nothing to post is not a call.
pub(crate) fn post(family: Family, vf: &PciDev, events: u32) -> Result {
    if events == 0 {
        return Ok(());
    }
    table(family)?.post(vf, events)
}

/// Services the mailbox of `vf` again, including what arrived while quiesced.
pub(crate) fn unquiesce(family: Family, vf: &PciDev) -> Result {
    table(family)?.unquiesce(vf)
}
