// SPDX-License-Identifier: GPL-2.0

//! Everything this driver asks of a VF's physical function.
//!
//! Counterpart of pds `cmds.c`: the PF driver (igb, ixgbe), not the VF, holds part of a VF's
//! context (MAC filters, VLANs, mailbox API, ...). [`PfOps`] is the one interface to it, with
//! one backend per family; each names the PF driver and the `intel_vf_mig_ops` table that
//! driver exports when built with `patches/` (see `intel_vf_mig.h`). The table is looked up
//! with `__symbol_get` for the duration of one operation, so this module has no load-order
//! dependency on igb/ixgbe and does not pin them; a PF driver without the exports leaves
//! pass-through working and makes migration fail with `EOPNOTSUPP`, early (at PRE_COPY).

use crate::pure::hw::family::{Family, Refusal, VfModel};
use crate::pure::hw::regs::BAR0_SIZE;
use crate::pure::mig::pfctx::PfCtx;
use crate::sys;
use crate::vfio::{eopnotsupp, pci::PciDev, pf::PfTable};
use kernel::{c_str, prelude::*, str::CStr};

/// Operations on the PF that owns a VF.
pub(crate) trait PfOps: Sync {
    /// Family this backend serves.
    fn family(&self) -> Family;
    /// Name of the PF driver that holds the VF context.
    fn pf_driver(&self) -> &'static CStr;
    /// Symbol of the driver's `struct intel_vf_mig_ops`.
    fn ops_symbol(&self) -> &'static CStr;
}

struct IgbPf;
struct IxgbePf;

impl PfOps for IgbPf {
    fn family(&self) -> Family {
        Family::Igb
    }
    fn pf_driver(&self) -> &'static CStr {
        c_str!("igb")
    }
    fn ops_symbol(&self) -> &'static CStr {
        c_str!("igb_vf_mig_ops")
    }
}

impl PfOps for IxgbePf {
    fn family(&self) -> Family {
        Family::Ixgbe
    }
    fn pf_driver(&self) -> &'static CStr {
        c_str!("ixgbe")
    }
    fn ops_symbol(&self) -> &'static CStr {
        c_str!("ixgbe_vf_mig_ops")
    }
}

/// The backend for a family.
pub(crate) fn backend(family: Family) -> &'static dyn PfOps {
    match family {
        Family::Igb => &IgbPf,
        Family::Ixgbe => &IxgbePf,
    }
}

/// Decides whether `pdev` is a VF this driver supports; refusals are logged with the reason.
pub(crate) fn identify(pdev: &PciDev) -> Result {
    let (vendor, device) = (pdev.vendor(), pdev.device());
    let model = match VfModel::probe(vendor, device, pdev.is_virtfn(), pdev.resource_len(0)) {
        Ok(model) => model,
        Err(why) => {
            match why {
                Refusal::UnsupportedId => pr_err!(
                    "{}: device {:04x}:{:04x} is not a supported Intel VF; not binding\n",
                    pdev.name(),
                    vendor,
                    device
                ),
                Refusal::NotVirtfn => pr_err!(
                    "{}: {:04x}:{:04x} is not an SR-IOV virtual function (a VF id on a PF, or \
                     a VF without its PF); not binding\n",
                    pdev.name(),
                    vendor,
                    device
                ),
                Refusal::Bar0TooSmall(len) => pr_err!(
                    "{}: BAR0 is {} bytes, the VF register map needs {}; not binding\n",
                    pdev.name(),
                    len,
                    BAR0_SIZE
                ),
            }
            return Err(ENODEV);
        }
    };
    let vf_id = pdev.vf_id().ok_or(ENODEV)?;
    let pf = pdev.physfn();
    let ops = backend(model.family);
    match pf.driver_name() {
        Some(name) if name.as_bytes() == ops.pf_driver().as_bytes() => {}
        other => pr_warn!(
            "{}: PF {} is driven by {:?}, not {}: pass-through works, PF-held VF context \
             cannot be migrated\n",
            pdev.name(),
            pf.name(),
            other,
            ops.pf_driver()
        ),
    }
    pr_info!(
        "{}: {} ({} family) VF {} of PF {}\n",
        pdev.name(),
        model.name,
        ops.family().name(),
        vf_id,
        pf.name()
    );
    Ok(())
}

/// The PF driver's migration table, looked up for one operation.
fn table(family: Family) -> Result<PfTable> {
    let ops = backend(family);
    PfTable::get(ops.ops_symbol()).ok_or_else(|| {
        pr_err!(
            "PF driver {} does not export {} (built without patches/?): the VF's PF-held \
             context cannot be migrated\n",
            ops.pf_driver(),
            ops.ops_symbol()
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
