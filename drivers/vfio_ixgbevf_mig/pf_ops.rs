// SPDX-License-Identifier: GPL-2.0

//! Everything this driver asks of a VF's physical function.
//!
//! Counterpart of pds `cmds.c`: the PF driver (igb, ixgbe), not the VF, holds part of a VF's
//! context (MAC filters, VLANs, mailbox API, ...). [`PfOps`] is the one interface to it, with
//! one backend per family. Today a backend identifies the PF and checks it is driven by the
//! driver whose exports the migration code will call.

use crate::pure::family::{Family, Refusal, VfModel};
use crate::pure::regs::BAR0_SIZE;
use crate::vfio::PciDev;
use kernel::{c_str, prelude::*, str::CStr};

/// Operations on the PF that owns a VF.
pub(crate) trait PfOps: Sync {
    /// Family this backend serves.
    fn family(&self) -> Family;
    /// Name of the PF driver that holds the VF context.
    fn pf_driver(&self) -> &'static CStr;
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
}

impl PfOps for IxgbePf {
    fn family(&self) -> Family {
        Family::Ixgbe
    }
    fn pf_driver(&self) -> &'static CStr {
        c_str!("ixgbe")
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
