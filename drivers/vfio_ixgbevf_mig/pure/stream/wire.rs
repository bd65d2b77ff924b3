// SPDX-License-Identifier: GPL-2.0

//! Byte-level helpers of the migration stream: CRC-32, bounds-checked little-endian
//! writing and reading, and record padding.
//!
//! Nothing here can panic on input: the writer fails with [`StreamError::NoSpace`] when its
//! buffer is full, the reader returns `None` past the end of its data.
//!
//! C counterparts: `crc32_le()` (`lib/crc32.c`), `put_unaligned_le32()`/`get_unaligned_le32()`.

use crate::pure::stream::error::StreamError;

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

/// Bounds-checked little-endian writer over a byte buffer.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Appends `bytes`, or fails with [`StreamError::NoSpace`] writing nothing.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(StreamError::NoSpace)?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(StreamError::NoSpace)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> Result<(), StreamError> {
        self.bytes(&[v])
    }

    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> Result<(), StreamError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<(), StreamError> {
        self.bytes(&v.to_le_bytes())
    }
}

/// Little-endian reader over a payload; every getter returns `None` past the end.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// The next `N` bytes.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.data.split_first_chunk::<N>()?;
        self.data = rest;
        Some(*head)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// The next little-endian `u16`.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// `Some(())` if every byte was consumed.
    pub fn finish(self) -> Option<()> {
        self.data.is_empty().then_some(())
    }
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
    fn writer_fails_without_writing_when_full() {
        let mut buf = [0u8; 6];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.len(), 0);
        w.u32(0x0403_0201).unwrap();
        assert_eq!(w.u32(5), Err(StreamError::NoSpace));
        assert_eq!(w.len(), 4);
        w.u16(0x0605).unwrap();
        assert_eq!(w.u8(0), Err(StreamError::NoSpace));
        assert_eq!(buf, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn reader_stops_at_the_end() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(r.u32(), Some(0x0403_0201));
        assert_eq!(r.u32(), None);
        assert_eq!(r.u16(), Some(0x0605));
        let mut copy = Reader::new(&[7]);
        assert_eq!(copy.array::<2>(), None);
        assert_eq!(copy.u8(), Some(7));
        assert_eq!(copy.finish(), Some(()));
        assert_eq!(r.finish(), None);
    }

    #[test]
    fn padding() {
        assert_eq!(padded(0), Some(0));
        assert_eq!(padded(1), Some(4));
        assert_eq!(padded(4), Some(4));
        assert_eq!(padded(usize::MAX), None);
    }
}
