// SPDX-License-Identifier: GPL-2.0

//! Byte-level helpers of the migration stream: CRC-32 and record padding. The byte writer
//! and reader are [`crate::pure::bytes`].
//!
//! C counterpart: `crc32_le()` (`lib/crc32.c`).

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        // CAST: i < 256.
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as `crc32_le(~0, ..) ^ ~0`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in data {
        // In bounds: the index is masked to 0..=255 and the table has 256 entries.
        crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Alignment of records: each payload is zero-padded to a multiple of it.
pub const ALIGN: usize = 4;

/// Payload length rounded up to [`ALIGN`], overflow-checked.
pub(super) const fn padded(len: usize) -> Option<usize> {
    match len.checked_add(ALIGN - 1) {
        Some(n) => Some(n & !(ALIGN - 1)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        // The standard check value of CRC-32/ISO-HDLC (zlib's crc32, the kernel's
        // `crc32_le(~0, ..) ^ ~0`).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(&[0]), 0xD202_EF8D);
    }

    #[test]
    fn padding() {
        assert_eq!(padded(0), Some(0));
        assert_eq!(padded(1), Some(4));
        assert_eq!(padded(4), Some(4));
        assert_eq!(padded(usize::MAX), None);
    }
}
