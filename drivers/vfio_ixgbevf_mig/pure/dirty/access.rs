// SPDX-License-Identifier: GPL-2.0

//! Decoding of accesses to a vfio-pci device fd.
//!
//! vfio-pci encodes the region in the file offset: bits 63..40 select the region index
//! (`VFIO_PCI_OFFSET_SHIFT`), bits 39..0 the offset inside it. The chained read/write
//! handlers decode every access with [`Access::decode`] and act on the BAR0 registers that
//! migration cares about before forwarding to the vfio-pci core.

/// vfio-pci's region index shift (`VFIO_PCI_OFFSET_SHIFT`).
pub const OFFSET_SHIFT: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_SHIFT) - 1;

/// vfio-pci region indices (`VFIO_PCI_*_REGION_INDEX`, uapi).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// A memory or I/O BAR, 0..=5.
    Bar(u8),
    /// Expansion ROM.
    Rom,
    /// PCI configuration space.
    Config,
    /// VGA (never present on a VF).
    Vga,
    /// A device-specific region (index >= 9).
    Other(u64),
}

/// One access through the device fd, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Region addressed.
    pub region: Region,
    /// Offset inside the region.
    pub offset: u64,
    /// Bytes accessed.
    pub len: usize,
}

impl Access {
    /// Decodes a file position and length. Negative positions are rejected (`None`); the
    /// vfio-pci core validates the rest (region size, alignment) when the access is chained.
    pub fn decode(pos: i64, len: usize) -> Option<Access> {
        let pos = u64::try_from(pos).ok()?;
        let region = match pos >> OFFSET_SHIFT {
            i @ 0..=5 => Region::Bar(i as u8),
            6 => Region::Rom,
            7 => Region::Config,
            8 => Region::Vga,
            i => Region::Other(i),
        };
        Some(Access {
            region,
            offset: pos & OFFSET_MASK,
            len,
        })
    }

    /// The BAR0 offset of a 32-bit register write covered exactly by this access, if any.
    /// Registers of these NICs are 32-bit; partial or straddling writes are left to the core
    /// (and, being unusual, are not worth trapping).
    pub fn bar0_dword(&self) -> Option<u32> {
        if self.region != Region::Bar(0) || self.len != 4 || self.offset & 3 != 0 {
            return None;
        }
        u32::try_from(self.offset).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn pos(index: u64, off: u64) -> i64 {
        ((index << OFFSET_SHIFT) | off) as i64
    }

    #[test]
    fn decodes_regions() {
        assert_eq!(
            Access::decode(pos(0, 0x2818), 4).unwrap().region,
            Region::Bar(0)
        );
        assert_eq!(Access::decode(pos(3, 0), 4).unwrap().region, Region::Bar(3));
        assert_eq!(Access::decode(pos(6, 0), 4).unwrap().region, Region::Rom);
        assert_eq!(Access::decode(pos(7, 2), 2).unwrap().region, Region::Config);
        assert_eq!(Access::decode(pos(8, 0), 1).unwrap().region, Region::Vga);
        assert_eq!(
            Access::decode(pos(9, 0), 1).unwrap().region,
            Region::Other(9)
        );
        assert_eq!(Access::decode(pos(7, 2), 2).unwrap().offset, 2);
        assert_eq!(Access::decode(-1, 4), None);
    }

    #[test]
    fn bar0_dword_only_for_aligned_32bit_bar0() {
        assert_eq!(
            Access::decode(pos(0, 0x2818), 4).unwrap().bar0_dword(),
            Some(0x2818)
        );
        assert_eq!(
            Access::decode(pos(0, 0x2818), 2).unwrap().bar0_dword(),
            None
        );
        assert_eq!(
            Access::decode(pos(0, 0x2819), 4).unwrap().bar0_dword(),
            None
        );
        assert_eq!(
            Access::decode(pos(3, 0x2818), 4).unwrap().bar0_dword(),
            None
        );
        assert_eq!(Access::decode(pos(7, 0x10), 4).unwrap().bar0_dword(), None);
    }
}
