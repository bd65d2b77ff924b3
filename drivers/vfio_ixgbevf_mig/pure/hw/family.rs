// SPDX-License-Identifier: GPL-2.0

//! Supported VF models: PCI ids, register family and queue geometry.
//!
//! Two register families cover all supported VFs. The ixgbe family (82599, X540, X550,
//! X550EM_X, X550EM_A and E610 VFs) is driven by `ixgbevf`; the igb family (82576 and I350
//! VFs) by `igbvf`. [`SUPPORTED`] lists every model once; the kernel side builds its PCI id
//! table from it, so a model added here is bound by the driver and covered by the host tests.
//!
//! C counterparts: the id tables in `ixgbevf/ixgbevf_main.c` and `igbvf/netdev.c`, the ids in
//! `ixgbevf/defines.h` and `igbvf/vf.h`.

/// PCI vendor id of every supported VF (Intel).
pub const INTEL_VENDOR_ID: u16 = 0x8086;

/// The most queues (per direction) of any supported VF; bounds every queue index.
pub const MAX_QUEUES: u8 = 8;

/// A register family: VFs of one family share one BAR0 register map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// 10 GbE VFs driven by `ixgbevf` (82599 and later).
    Ixgbe,
    /// 1 GbE VFs driven by `igbvf` (82576, I350).
    Igb,
}

impl Family {
    /// Every family, in a fixed order.
    #[cfg(any(test, feature = "testing"))]
    pub const ALL: [Family; 2] = [Family::Ixgbe, Family::Igb];

    /// Short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Family::Ixgbe => "ixgbe",
            Family::Igb => "igb",
        }
    }

    /// The widest geometry the family's register map covers.
    ///
    /// The register map never hands out an offset beyond this geometry, whatever geometry a
    /// caller passes in, and [`super::map`] proves at compile time that all of it lies
    /// inside BAR0.
    ///
    /// - Queues: `IXGBE_VF_MAX_{TX,RX}_QUEUES` is 8 (`ixgbevf/defines.h`); the 82576 VF has
    ///   two queue pairs in its BAR (QEMU's `hw/net/igbvf.c` maps `RDBAL_A(0)` and
    ///   `RDBAL_A(1)`, the datasheet's VF register table agrees).
    /// - MSI-X vectors: 3 for both (`ixgbevf.h`: `MAX_MSIX_Q_VECTORS` 2 + `NON_Q_VECTORS` 1;
    ///   the igbvf driver and QEMU's `IGBVF_MSIX_VEC_NUM` use 3), so 3 `EITR`s.
    /// - VF RSS registers (`VFMRQC`, `VFRSSRK`, `VFRETA`) exist only in the ixgbe family.
    pub const fn max_geometry(self) -> Geometry {
        match self {
            Family::Ixgbe => Geometry {
                queues: MAX_QUEUES,
                msix_vectors: 3,
                rss: true,
            },
            Family::Igb => Geometry {
                queues: 2,
                msix_vectors: 3,
                rss: false,
            },
        }
    }
}

/// How much of its family's register map a VF model implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Queue pairs the VF can own (the same count for RX and TX). The PF may hand the VF
    /// fewer (ixgbe `IXGBE_VF_GET_QUEUE`); this is the hardware upper bound.
    pub queues: u8,
    /// MSI-X vectors of the VF, one `EITR` register each.
    pub msix_vectors: u8,
    /// Whether the VF has its own RSS registers (`VFMRQC`, `VFRSSRK`, `VFRETA`).
    pub rss: bool,
}

/// One supported VF model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VfModel {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id of the VF.
    pub device: u16,
    /// Register family.
    pub family: Family,
    /// Marketing name, for logs.
    pub name: &'static str,
    /// Queue and vector geometry.
    pub geometry: Geometry,
}

const fn model(device: u16, family: Family, name: &'static str, geometry: Geometry) -> VfModel {
    VfModel {
        vendor: INTEL_VENDOR_ID,
        device,
        family,
        name,
        geometry,
    }
}

/// Geometry of the ixgbe VFs before X550: no VF RSS registers (`ixgbevf_main.c` touches
/// `VFMRQC`/`VFRSSRK`/`VFRETA` only for `mac.type >= ixgbe_mac_X550_vf`).
const IXGBE_NO_RSS: Geometry = Geometry {
    queues: MAX_QUEUES,
    msix_vectors: 3,
    rss: false,
};

/// Geometry of X550 and later ixgbe VFs (X550, X550EM_X, X550EM_A, E610).
const IXGBE_RSS: Geometry = Family::Ixgbe.max_geometry();

/// Every supported VF, one entry per PCI device id.
///
/// Hyper-V variants (`*_VF_HV` ids, and E610 VF with subsystem device `0x00FF`) are guest
/// devices that never appear on a host, so they are not listed.
pub const SUPPORTED: [VfModel; 8] = [
    model(0x10ED, Family::Ixgbe, "82599 VF", IXGBE_NO_RSS),
    model(0x1515, Family::Ixgbe, "X540 VF", IXGBE_NO_RSS),
    model(0x1565, Family::Ixgbe, "X550 VF", IXGBE_RSS),
    model(0x15A8, Family::Ixgbe, "X550EM_X VF", IXGBE_RSS),
    model(0x15C5, Family::Ixgbe, "X550EM_A VF", IXGBE_RSS),
    model(0x57AD, Family::Ixgbe, "E610 VF", IXGBE_RSS),
    // 82576: each VF owns PF queues n and n + 8 (`Q_IDX_82576` in igb_main.c).
    model(0x10CA, Family::Igb, "82576 VF", Family::Igb.max_geometry()),
    // I350: VF n owns PF queue n only (igb_main.c `igb_cache_ring_register`, default case).
    model(
        0x1520,
        Family::Igb,
        "I350 VF",
        Geometry {
            queues: 1,
            msix_vectors: 3,
            rss: false,
        },
    ),
];

/// The (vendor, device) pairs of [`SUPPORTED`], in order: what the PCI id table lists.
pub const SUPPORTED_IDS: [(u16, u16); SUPPORTED.len()] = {
    let mut ids = [(0, 0); SUPPORTED.len()];
    let mut i = 0;
    while i < SUPPORTED.len() {
        ids[i] = (SUPPORTED[i].vendor, SUPPORTED[i].device);
        i += 1;
    }
    ids
};

impl VfModel {
    /// Looks a PCI vendor/device pair up in [`SUPPORTED`].
    pub const fn from_ids(vendor: u16, device: u16) -> Option<VfModel> {
        if vendor != INTEL_VENDOR_ID {
            return None;
        }
        let mut i = 0;
        while i < SUPPORTED.len() {
            // `i < SUPPORTED.len()` is the loop condition, so the index is in bounds.
            if SUPPORTED[i].device == device {
                return Some(SUPPORTED[i]);
            }
            i += 1;
        }
        None
    }
}

/// Why probe refuses a PCI function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The vendor/device pair is not in [`SUPPORTED`].
    UnsupportedId,
    /// A supported id on a function that is not an SR-IOV VF (say, a VF handed to a nested
    /// guest without its PF): the PF-side work of this driver would have no PF to talk to.
    NotVirtfn,
    /// BAR0 is smaller than the register map this driver accesses; holds the BAR length.
    Bar0TooSmall(u64),
}

impl VfModel {
    /// Probe's decision for a function with these ids, SR-IOV role and BAR0 length.
    pub const fn probe(
        vendor: u16,
        device: u16,
        is_virtfn: bool,
        bar0_len: u64,
    ) -> Result<VfModel, Refusal> {
        let Some(model) = VfModel::from_ids(vendor, device) else {
            return Err(Refusal::UnsupportedId);
        };
        if !is_virtfn {
            return Err(Refusal::NotVirtfn);
        }
        if bar0_len < crate::pure::hw::regs::BAR0_SIZE as u64 {
            return Err(Refusal::Bar0TooSmall(bar0_len));
        }
        Ok(model)
    }
}

/// Checks the table's invariants: unique device ids, at least one queue, and every geometry
/// within its family's register map.
const fn supported_table_is_sane() -> bool {
    let mut i = 0;
    while i < SUPPORTED.len() {
        let m = SUPPORTED[i];
        let max = m.family.max_geometry();
        if m.vendor != INTEL_VENDOR_ID
            || m.geometry.queues == 0
            || m.geometry.queues > max.queues
            || m.geometry.msix_vectors > max.msix_vectors
            || (m.geometry.rss && !max.rss)
        {
            return false;
        }
        let mut j = i + 1;
        while j < SUPPORTED.len() {
            if SUPPORTED[j].device == m.device {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const _: () = assert!(supported_table_is_sane());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_accepts_supported_vfs_and_refuses_the_rest() {
        let m = VfModel::probe(0x8086, 0x10CA, true, 0x4000).unwrap();
        assert_eq!(m.family, Family::Igb);
        assert_eq!(
            VfModel::probe(0x8086, 0x10C9, false, 0x20000),
            Err(Refusal::UnsupportedId)
        );
        assert_eq!(
            VfModel::probe(0x8087, 0x10CA, true, 0x4000),
            Err(Refusal::UnsupportedId)
        );
        assert_eq!(
            VfModel::probe(0x1b36, 0x0005, false, 0x1000),
            Err(Refusal::UnsupportedId)
        );
        assert_eq!(
            VfModel::probe(0x8086, 0x10ED, false, 0x4000),
            Err(Refusal::NotVirtfn)
        );
        assert_eq!(
            VfModel::probe(0x8086, 0x1520, true, 0x1000),
            Err(Refusal::Bar0TooSmall(0x1000))
        );
        for m in SUPPORTED {
            assert_eq!(VfModel::probe(m.vendor, m.device, true, 0x4000), Ok(m));
        }
    }

    #[test]
    fn every_listed_id_is_found() {
        let ids = [
            (0x10ED, Family::Ixgbe),
            (0x1515, Family::Ixgbe),
            (0x1565, Family::Ixgbe),
            (0x15A8, Family::Ixgbe),
            (0x15C5, Family::Ixgbe),
            (0x57AD, Family::Ixgbe),
            (0x10CA, Family::Igb),
            (0x1520, Family::Igb),
        ];
        assert_eq!(ids.len(), SUPPORTED.len());
        for (device, family) in ids {
            let m = VfModel::from_ids(0x8086, device).expect("listed id");
            assert_eq!(m.device, device);
            assert_eq!(m.family, family);
            assert_eq!(m.vendor, INTEL_VENDOR_ID);
        }
    }

    #[test]
    fn unknown_ids_are_rejected() {
        // PFs, Hyper-V VF ids and other vendors.
        for device in [
            0x10FB, 0x10C9, 0x1521, 0x152E, 0x1530, 0x1564, 0x15A9, 0x0000,
        ] {
            assert_eq!(VfModel::from_ids(0x8086, device), None, "{device:#x}");
        }
        assert_eq!(VfModel::from_ids(0x15B3, 0x10ED), None);
        assert_eq!(VfModel::from_ids(0x0000, 0x10CA), None);
    }

    #[test]
    fn geometry_matches_driver_sources() {
        let g = |d| VfModel::from_ids(0x8086, d).unwrap().geometry;
        assert_eq!(g(0x10CA).queues, 2);
        assert_eq!(g(0x1520).queues, 1);
        for d in [0x10ED, 0x1515, 0x1565, 0x15A8, 0x15C5, 0x57AD] {
            assert_eq!(g(d).queues, 8);
        }
        // VF RSS registers from X550 on.
        assert!(!g(0x10ED).rss && !g(0x1515).rss);
        assert!(g(0x1565).rss && g(0x15A8).rss && g(0x15C5).rss && g(0x57AD).rss);
        assert!(!g(0x10CA).rss && !g(0x1520).rss);
        for m in SUPPORTED {
            assert_eq!(m.geometry.msix_vectors, 3);
        }
    }

    #[test]
    fn table_is_usable_in_a_static() {
        // The kernel builds its `pci_device_id` table the same way.
        static IDS: [(u16, u16); SUPPORTED.len()] = SUPPORTED_IDS;
        const FOUND: Option<VfModel> = VfModel::from_ids(0x8086, 0x10CA);
        assert_eq!(IDS[6], (0x8086, 0x10CA));
        assert_eq!(FOUND.map(|m| m.family), Some(Family::Igb));
        assert!(supported_table_is_sane());
    }

    #[test]
    fn family_names() {
        assert_eq!(Family::Ixgbe.name(), "ixgbe");
        assert_eq!(Family::Igb.name(), "igb");
        assert_eq!(Family::ALL.len(), 2);
    }
}
