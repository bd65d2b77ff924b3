// SPDX-License-Identifier: GPL-2.0

//! Bounds-checked little-endian byte writing and reading: the one home of both, for the
//! migration stream (records and their payloads) and the uAPI replies built in the core
//! (the BAR0 region info).
//!
//! Nothing here can panic on input: the writer fails with [`NoSpace`] when its buffer is
//! full, writing nothing of the value that did not fit; the reader returns `None` past the
//! end of its data. Depends on nothing else in the core.
//!
//! C counterparts: `put_unaligned_le32()`/`get_unaligned_le32()`.

/// The writer's buffer is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSpace;

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

    /// Appends `bytes`, or fails writing nothing.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), NoSpace> {
        let end = self.pos.checked_add(bytes.len()).ok_or(NoSpace)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(NoSpace)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> Result<(), NoSpace> {
        self.bytes(&[v])
    }

    /// Appends a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> Result<(), NoSpace> {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<(), NoSpace> {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian `u64`.
    pub fn u64(&mut self, v: u64) -> Result<(), NoSpace> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_fails_without_writing_when_full() {
        let mut buf = [0u8; 6];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.len(), 0);
        w.u32(0x0403_0201).unwrap();
        assert_eq!(w.u32(5), Err(NoSpace));
        assert_eq!(w.len(), 4);
        w.u16(0x0605).unwrap();
        assert_eq!(w.u8(0), Err(NoSpace));
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
}
