// SPDX-License-Identifier: GPL-2.0

//! The part of a VF's context that its PF driver holds, as carried in the stream.
//!
//! [`PfCtx`] mirrors `struct intel_vf_mig_pf_ctx` of `include/linux/intel_vf_mig.h` (added
//! by `patches/0001-*`), which the patched igb/ixgbe PF drivers fill and program: the same
//! fields in the same order, without the C struct's explicit padding (`pad0`, `pad`). It is
//! encoded field by field, little-endian, never as a memory dump, so neither padding nor
//! host layout leaks into the stream ([`PF_CTX_LEN`] = 264 bytes; the C struct is 268), and
//! it is checked ([`PfCtx::validate`]) before the PF backend sees it. The PF's restore op
//! checks again against its own tables (`-EINVAL`, `-E2BIG`, `-ENOSPC`, `-EOPNOTSUPP`).
//!
//! C counterparts: `struct intel_vf_mig_pf_ctx`; `struct vf_data_storage` in `igb/igb.h` and
//! `ixgbe/ixgbe.h`, where the limits below come from, and `ixgbe_mbx.h`.

use crate::pure::bytes::{Reader, Writer};
use crate::pure::mig::regio::StateError;
use crate::pure::stream::error::StreamError;

/// `PfCtx::abi` this code understands.
pub const PF_CTX_ABI: u32 = 1;
/// Multicast hash slots in the struct (`INTEL_VF_MIG_MAX_MC`).
pub const MC_SLOTS: usize = 32;
/// Largest `num_mc`: igb remembers a count up to 255 (more than `IGB_MAX_VF_MC_ENTRIES`, 30,
/// means "accept all multicast"; the slots then hold the first 30), ixgbe clamps to 30.
pub const MAX_NUM_MC: u16 = 255;
/// VLAN slots in the struct (`INTEL_VF_MIG_MAX_VLANS`).
pub const VLAN_SLOTS: usize = 32;
/// MAC-VLAN filter slots in the struct (`INTEL_VF_MIG_MAX_MACVLANS`).
pub const MACVLAN_SLOTS: usize = 16;
/// Every defined flag (`INTEL_VF_MIG_F_ALL`: CTS, PF_SET_MAC, SPOOFCHK, TRUSTED,
/// UNI_PROMISC, MULTI_PROMISC).
pub const FLAGS_ALL: u32 = (1 << 6) - 1;
/// Largest frame either PF accepts for a VF (`MAX_JUMBO_FRAME_SIZE` 0x2600 in igb,
/// `IXGBE_MAX_JUMBO_FRAME_SIZE` 9728).
pub const MAX_FRAME: u32 = 9728;
/// Highest multicast-promiscuity mode (`IXGBEVF_XCAST_MODE_PROMISC`).
pub const MAX_XCAST_MODE: u32 = 3;
/// Bound on the negotiated mailbox API (`enum ixgbe_pfvf_api_rev`: 0..=5 in 6.12, later
/// kernels add revisions). Loose on purpose: the destination PF's restore op refuses a
/// revision it does not implement.
pub const MAX_MBX_API: u32 = 15;
/// Payload length of the PF context record: the C fields, padding left out.
pub const PF_CTX_LEN: usize = 4
    + 4
    + 6
    + 2
    + 2 * MC_SLOTS
    + 2
    + 2 * VLAN_SLOTS
    + 2
    + 2
    + 4
    + 4
    + 4
    + 4
    + 2
    + 6 * MACVLAN_SLOTS;

/// The PF-held context of one VF. Entries past each count are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PfCtx {
    /// Layout version ([`PF_CTX_ABI`]).
    pub abi: u32,
    /// `INTEL_VF_MIG_F_*` ([`FLAGS_ALL`]).
    pub flags: u32,
    /// The VF's MAC address, all-zero if none.
    pub mac: [u8; 6],
    /// Multicast hashes the VF asked for (up to [`MAX_NUM_MC`], see there).
    pub num_mc: u16,
    /// Multicast hashes, as the guest sent them.
    pub mc_hashes: [u16; MC_SLOTS],
    /// Used entries of `vlans`.
    pub num_vlans: u16,
    /// VLAN ids the VF is a member of.
    pub vlans: [u16; VLAN_SLOTS],
    /// Port VLAN set by the host admin (0 if none).
    pub pf_vlan: u16,
    /// Port VLAN priority.
    pub pf_qos: u16,
    /// TX rate limit in Mb/s (0 if none).
    pub tx_rate: u32,
    /// Largest frame the VF asked for (0 if never set).
    pub max_frame: u32,
    /// Multicast-promiscuity mode.
    pub xcast_mode: u32,
    /// Negotiated mailbox API.
    pub mbx_api: u32,
    /// Used entries of `macvlans`.
    pub num_macvlans: u16,
    /// Extra unicast MAC filters.
    pub macvlans: [[u8; 6]; MACVLAN_SLOTS],
}

impl Default for PfCtx {
    fn default() -> Self {
        PfCtx {
            abi: PF_CTX_ABI,
            flags: 0,
            mac: [0; 6],
            num_mc: 0,
            mc_hashes: [0; MC_SLOTS],
            num_vlans: 0,
            vlans: [0; VLAN_SLOTS],
            pf_vlan: 0,
            pf_qos: 0,
            tx_rate: 0,
            max_frame: 0,
            xcast_mode: 0,
            mbx_api: 0,
            num_macvlans: 0,
            macvlans: [[0; 6]; MACVLAN_SLOTS],
        }
    }
}

const fn is_multicast(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

/// Checks `count <= max`, that the slots below `count` satisfy `ok` and that the rest are
/// zero (the PF's save zeroes them).
fn slots_ok<T: Copy + PartialEq + Default>(
    slots: &[T],
    count: u16,
    max: u16,
    ok: impl Fn(&T) -> bool,
) -> bool {
    count <= max
        && slots.iter().enumerate().all(|(i, v)| {
            if i < usize::from(count) {
                ok(v)
            } else {
                *v == T::default()
            }
        })
}

impl PfCtx {
    /// Checks every field against what a PF can hold; names the first bad field.
    pub fn validate(&self) -> Result<(), StateError> {
        let bad = |f| Err(StateError::PfCtx(f));
        // CAST: the slot counts are small constants.
        let (vl_max, mv_max) = (VLAN_SLOTS as u16, MACVLAN_SLOTS as u16);
        if self.abi != PF_CTX_ABI {
            return bad("abi");
        }
        if self.flags & !FLAGS_ALL != 0 {
            return bad("flags");
        }
        if is_multicast(&self.mac) {
            return bad("mac");
        }
        // Hashes are whatever the guest sent (the PF masks them when it programs the MTA).
        if self.num_mc > MAX_NUM_MC || !slots_ok(&self.mc_hashes, self.num_mc, u16::MAX, |_| true) {
            return bad("mc_hashes");
        }
        if !slots_ok(&self.vlans, self.num_vlans, vl_max, |&v| v < 4096) {
            return bad("vlans");
        }
        if self.pf_vlan >= 4096 {
            return bad("pf_vlan");
        }
        if self.pf_qos > 7 {
            return bad("pf_qos");
        }
        if self.max_frame > MAX_FRAME {
            return bad("max_frame");
        }
        if self.xcast_mode > MAX_XCAST_MODE {
            return bad("xcast_mode");
        }
        if self.mbx_api > MAX_MBX_API {
            return bad("mbx_api");
        }
        let unicast = |m: &[u8; 6]| !is_multicast(m) && *m != [0; 6];
        if !slots_ok(&self.macvlans, self.num_macvlans, mv_max, unicast) {
            return bad("macvlans");
        }
        Ok(())
    }

    /// Writes the record payload ([`PF_CTX_LEN`] bytes), field by field.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), StreamError> {
        w.u32(self.abi)?;
        w.u32(self.flags)?;
        w.bytes(&self.mac)?;
        w.u16(self.num_mc)?;
        for &h in &self.mc_hashes {
            w.u16(h)?;
        }
        w.u16(self.num_vlans)?;
        for &v in &self.vlans {
            w.u16(v)?;
        }
        w.u16(self.pf_vlan)?;
        w.u16(self.pf_qos)?;
        w.u32(self.tx_rate)?;
        w.u32(self.max_frame)?;
        w.u32(self.xcast_mode)?;
        w.u32(self.mbx_api)?;
        w.u16(self.num_macvlans)?;
        for m in &self.macvlans {
            w.bytes(m)?;
        }
        Ok(())
    }

    /// Parses a record payload; `None` if its length is not [`PF_CTX_LEN`]. Does not
    /// validate: see [`PfCtx::validate`].
    pub fn parse(payload: &[u8]) -> Option<PfCtx> {
        let mut r = Reader::new(payload);
        let mut c = PfCtx {
            abi: r.u32()?,
            flags: r.u32()?,
            mac: r.array()?,
            num_mc: r.u16()?,
            ..PfCtx::default()
        };
        for h in &mut c.mc_hashes {
            *h = r.u16()?;
        }
        c.num_vlans = r.u16()?;
        for v in &mut c.vlans {
            *v = r.u16()?;
        }
        c.pf_vlan = r.u16()?;
        c.pf_qos = r.u16()?;
        c.tx_rate = r.u32()?;
        c.max_frame = r.u32()?;
        c.xcast_mode = r.u32()?;
        c.mbx_api = r.u32()?;
        c.num_macvlans = r.u16()?;
        for m in &mut c.macvlans {
            *m = r.array()?;
        }
        r.finish()?;
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PfCtx {
        let mut c = PfCtx {
            flags: 0x5,
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            num_mc: 2,
            num_vlans: 3,
            pf_vlan: 100,
            pf_qos: 3,
            tx_rate: 1000,
            max_frame: 1518,
            xcast_mode: 1,
            mbx_api: 5,
            num_macvlans: 1,
            ..PfCtx::default()
        };
        c.mc_hashes[..2].copy_from_slice(&[0x123, 0xFFF]);
        c.vlans[..3].copy_from_slice(&[1, 10, 4095]);
        c.macvlans[0] = [0x02, 0, 0, 0, 0, 1];
        c
    }

    fn encode(c: &PfCtx) -> Vec<u8> {
        let mut buf = vec![0u8; PF_CTX_LEN + 8];
        let mut w = Writer::new(&mut buf);
        c.write(&mut w).unwrap();
        let n = w.len();
        buf.truncate(n);
        buf
    }

    #[test]
    fn round_trip_field_by_field() {
        let c = sample();
        c.validate().unwrap();
        // igb's "accept all multicast": a count past the slots, the first 30 kept.
        let mut all = c;
        all.num_mc = 100;
        all.mc_hashes = [0xFFFF; MC_SLOTS];
        all.validate().unwrap();
        all.flags = FLAGS_ALL;
        all.validate().unwrap();
        let bytes = encode(&c);
        assert_eq!(bytes.len(), PF_CTX_LEN);
        assert_eq!(PF_CTX_LEN, 264);
        // Little-endian, in C field order: abi, flags, mac, num_mc, ...
        assert_eq!(
            &bytes[..14],
            &[1, 0, 0, 0, 5, 0, 0, 0, 0x52, 0x54, 0, 0x12, 0x34, 0x56]
        );
        assert_eq!(&bytes[14..18], &[2, 0, 0x23, 0x01]);
        assert_eq!(PfCtx::parse(&bytes), Some(c));
        assert_eq!(PfCtx::parse(&bytes[..PF_CTX_LEN - 1]), None);
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(PfCtx::parse(&long), None);
        PfCtx::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let check = |f: fn(&mut PfCtx), name: &'static str| {
            let mut c = sample();
            f(&mut c);
            assert_eq!(c.validate(), Err(StateError::PfCtx(name)), "{name}");
        };
        check(|c| c.abi = 2, "abi");
        check(|c| c.mac[0] = 0x01, "mac");
        check(|c| c.num_mc = 256, "mc_hashes");
        check(|c| c.mc_hashes[5] = 1, "mc_hashes");
        check(|c| c.flags = 0x40, "flags");
        check(|c| c.num_vlans = 33, "vlans");
        check(|c| c.vlans[0] = 4096, "vlans");
        check(|c| c.vlans[31] = 7, "vlans");
        check(|c| c.pf_vlan = 4096, "pf_vlan");
        check(|c| c.pf_qos = 8, "pf_qos");
        check(|c| c.max_frame = 9729, "max_frame");
        check(|c| c.xcast_mode = 4, "xcast_mode");
        check(|c| c.mbx_api = 16, "mbx_api");
        check(|c| c.num_macvlans = 17, "macvlans");
        check(|c| c.macvlans[0] = [0; 6], "macvlans");
        check(|c| c.macvlans[0] = [0x33, 0x33, 0, 0, 0, 1], "macvlans");
        check(|c| c.macvlans[3] = [2, 0, 0, 0, 0, 3], "macvlans");
    }
}
