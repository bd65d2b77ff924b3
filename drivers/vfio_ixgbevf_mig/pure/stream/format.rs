// SPDX-License-Identifier: GPL-2.0

//! The migration stream: a versioned, self-describing byte format, its encoder and its
//! validating decoder.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! header (32 bytes)  magic "IXVFMIG1" | version u16 = 1 | header_len u16 = 32 | family u8
//!                    (0 ixgbe, 1 igb) | flags u8 = 0 | vendor u16 | device u16 | rx_queues u8 |
//!                    tx_queues u8 | reserved [u8; 12] = 0
//! record*            tag u16 | flags u16 (bit 0 MANDATORY) | len u32 | payload[len] |
//!                    zero padding to a multiple of 4
//! end record         tag TAG_END, MANDATORY, len 4, payload = CRC-32 (IEEE) of every byte
//!                    before the end record; nothing may follow it
//! ```
//!
//! The first record is always [`TAG_COMPAT`]: the header plus that record are the PRE_COPY
//! "initial bytes", which the destination checks with [`check_initial`](super::decode::check_initial) as soon as it has
//! them, so an incompatible destination fails before the source stops. Payloads are capped at
//! [`MAX_RECORD_LEN`] and a whole stream at [`MAX_STREAM_LEN`].
//!
//! [`decode`](super::decode::decode) validates the whole stream (sizes, record bounds, padding, checksum, record
//! flags, duplicates, required records, trailing bytes, compatibility) before it hands out
//! any payload; what the payloads mean is checked by [`crate::pure::mig::image`] before
//! anything is written to the device. Unknown optional records are skipped and counted; an unknown
//! mandatory record fails with [`StreamError::UnknownMandatory`].
//!
//! Errors map to errnos in [`crate::pure::errno`].
//!
//! C counterparts: `struct mlx5_vf_migration_header` (`mlx5/cmd.h`: record size, flags
//! marking a tag optional, tag) and `mlx5vf_resume_read_header()` (`mlx5/main.c`);
//! `mtty_resume_write()` (`samples/vfio-mdev/mtty.c`) for the header checks.

use crate::pure::bytes::{Reader, Writer};
use crate::pure::hw::family::{Family, VfModel};
use crate::pure::hw::regs::MBX_WORDS;
use crate::pure::stream::error::{Incompat, StreamError};
use crate::pure::stream::wire::{crc32, padded, ALIGN};

/// Magic at the start of every stream.
pub const MAGIC: [u8; 8] = *b"IXVFMIG1";
/// Format version this code writes and reads.
pub const VERSION: u16 = 1;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 32;
/// Length of a record header (tag, flags, len).
pub const RECORD_HEADER_LEN: usize = 8;
/// Largest record payload accepted or written.
pub const MAX_RECORD_LEN: u32 = 4096;
/// Largest stream accepted or written, and what a resuming file buffers at most before the
/// stream announced its length: far above any real VF state, small enough that a hostile
/// writer cannot make the kernel allocate much.
pub const MAX_STREAM_LEN: usize = 64 * 1024;
/// Record flag: a reader that does not know the tag must refuse the stream.
pub const FLAG_MANDATORY: u16 = 1;

/// Compatibility record: queue/vector geometry and total stream length. Always first.
pub const TAG_COMPAT: u16 = 0x0001;
/// Device-wide registers (interrupts, PSRTYPE, RSS).
pub const TAG_DEV_REGS: u16 = 0x0002;
/// Mailbox memory and (optionally) mailbox control bits.
pub const TAG_MAILBOX: u16 = 0x0003;
/// PF-held context of the VF (filters, VLANs, mailbox API, ...).
pub const TAG_PF_CTX: u16 = 0x0004;
/// RX queue `q` is `TAG_RX_QUEUE | q`, `q < MAX_QUEUES`.
pub const TAG_RX_QUEUE: u16 = 0x0100;
/// TX queue `q` is `TAG_TX_QUEUE | q`, `q < MAX_QUEUES`.
pub const TAG_TX_QUEUE: u16 = 0x0200;
/// End record carrying the checksum.
pub const TAG_END: u16 = 0xFFFF;

/// Payload length of [`TAG_COMPAT`].
pub const COMPAT_LEN: usize = 8;
/// Length of the PRE_COPY initial data: header and compatibility record.
pub const INITIAL_LEN: usize = HEADER_LEN + RECORD_HEADER_LEN + COMPAT_LEN;
/// Length of the end record.
pub const END_LEN: usize = RECORD_HEADER_LEN + 4;

/// The stream header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Register family of the source VF.
    pub family: Family,
    /// PCI vendor id of the source VF.
    pub vendor: u16,
    /// PCI device id of the source VF.
    pub device: u16,
    /// RX queues carried.
    pub rx_queues: u8,
    /// TX queues carried.
    pub tx_queues: u8,
}

impl Header {
    /// The header for a stream saved from `model` (all its queues).
    pub const fn for_model(model: &VfModel) -> Header {
        Header {
            family: model.family,
            vendor: model.vendor,
            device: model.device,
            rx_queues: model.geometry.queues,
            tx_queues: model.geometry.queues,
        }
    }

    /// The 32 header bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        // Constant ranges inside a 32-byte array: in bounds by construction.
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        // CAST: HEADER_LEN is 32.
        b[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        b[12] = family_code(self.family);
        b[14..16].copy_from_slice(&self.vendor.to_le_bytes());
        b[16..18].copy_from_slice(&self.device.to_le_bytes());
        b[18] = self.rx_queues;
        b[19] = self.tx_queues;
        b
    }

    /// Checks that a stream with this header can be loaded into a `model` VF: same family,
    /// vendor and device, and no more queues than the VF has.
    pub fn check_compatible(&self, model: &VfModel) -> Result<(), StreamError> {
        if self.family != model.family {
            return Err(StreamError::Incompatible(Incompat::Family));
        }
        if self.vendor != model.vendor || self.device != model.device {
            return Err(StreamError::Incompatible(Incompat::Device));
        }
        let q = model.geometry.queues;
        if self.rx_queues > q || self.tx_queues > q {
            return Err(StreamError::Incompatible(Incompat::Queues));
        }
        Ok(())
    }
}

const fn family_code(family: Family) -> u8 {
    match family {
        Family::Ixgbe => 0,
        Family::Igb => 1,
    }
}

/// Parses and checks the fixed header; `bytes` may be just its first [`HEADER_LEN`] bytes.
pub fn parse_header(bytes: &[u8]) -> Result<Header, StreamError> {
    let head = bytes.get(..HEADER_LEN).ok_or(StreamError::Truncated)?;
    let mut r = Reader::new(head);
    let bad = StreamError::BadHeader;
    if r.array::<8>() != Some(MAGIC) {
        return Err(StreamError::BadMagic);
    }
    let version = r.u16().ok_or(bad)?;
    if version != VERSION {
        return Err(StreamError::BadVersion(version));
    }
    // CAST: HEADER_LEN is 32.
    if r.u16() != Some(HEADER_LEN as u16) {
        return Err(bad);
    }
    let family = match r.u8().ok_or(bad)? {
        0 => Family::Ixgbe,
        1 => Family::Igb,
        _ => return Err(bad),
    };
    if r.u8() != Some(0) {
        return Err(bad);
    }
    let header = Header {
        family,
        vendor: r.u16().ok_or(bad)?,
        device: r.u16().ok_or(bad)?,
        rx_queues: r.u8().ok_or(bad)?,
        tx_queues: r.u8().ok_or(bad)?,
    };
    if r.array::<12>() != Some([0; 12]) {
        return Err(bad);
    }
    Ok(header)
}

/// Contents of the [`TAG_COMPAT`] record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compat {
    /// MSI-X vectors (EITR registers) of the source VF.
    pub msix_vectors: u8,
    /// Whether the source VF has VF RSS registers.
    pub rss: bool,
    /// Mailbox memory words.
    pub mbx_words: u8,
    /// Total length of the stream, end record included.
    pub stream_len: u32,
}

impl Compat {
    /// The compat record of a `model` stream that will be `stream_len` bytes long.
    pub const fn for_model(model: &VfModel, stream_len: u32) -> Compat {
        Compat {
            msix_vectors: model.geometry.msix_vectors,
            rss: model.geometry.rss,
            mbx_words: MBX_WORDS,
            stream_len,
        }
    }

    /// Writes the payload.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), StreamError> {
        w.u8(self.msix_vectors)?;
        w.u8(u8::from(self.rss))?;
        w.u8(self.mbx_words)?;
        w.u8(0)?;
        w.u32(self.stream_len)?;
        Ok(())
    }

    pub(super) fn parse(payload: &[u8]) -> Option<Compat> {
        let mut r = Reader::new(payload);
        let c = Compat {
            msix_vectors: r.u8()?,
            rss: match r.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            },
            mbx_words: r.u8()?,
            stream_len: {
                if r.u8()? != 0 {
                    return None;
                }
                r.u32()?
            },
        };
        r.finish()?;
        Some(c)
    }

    pub(super) fn check(&self, model: &VfModel) -> Result<(), StreamError> {
        if *self != Compat::for_model(model, self.stream_len) {
            return Err(StreamError::Incompatible(Incompat::Geometry));
        }
        // CAST: u32 to usize is lossless on every target Linux supports.
        let len = self.stream_len as usize;
        if len > MAX_STREAM_LEN {
            return Err(StreamError::TooLarge(len));
        }
        if len < INITIAL_LEN + END_LEN {
            return Err(StreamError::Malformed);
        }
        Ok(())
    }
}

/// Length of a whole record (header, payload, padding) with a `payload`-byte payload.
pub const fn record_len(payload: usize) -> usize {
    // Saturates for a payload too long to pad (no record can be that long).
    let padded = match padded(payload) {
        Some(n) => n,
        None => usize::MAX & !(ALIGN - 1),
    };
    RECORD_HEADER_LEN + padded
}

/// Writes a stream into a caller-provided buffer.
pub struct Encoder<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Encoder<'a> {
    /// Starts a stream with `header` in `buf`.
    pub fn new(buf: &'a mut [u8], header: &Header) -> Result<Self, StreamError> {
        let mut enc = Encoder { buf, pos: 0 };
        enc.put(&header.to_bytes())?;
        Ok(enc)
    }

    /// Continues a stream whose first `used` bytes are already in `buf` (the PRE_COPY
    /// initial data, written earlier).
    pub fn resume(buf: &'a mut [u8], used: usize) -> Result<Self, StreamError> {
        let written = buf.get(..used).ok_or(StreamError::NoSpace)?;
        parse_header(written)?;
        if used % ALIGN != 0 || used > MAX_STREAM_LEN {
            return Err(StreamError::Malformed);
        }
        Ok(Encoder { buf, pos: used })
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        let limit = self.buf.len().min(MAX_STREAM_LEN);
        let room = self
            .buf
            .get_mut(self.pos..limit)
            .ok_or(StreamError::NoSpace)?;
        let mut w = Writer::new(room);
        w.bytes(bytes)?;
        // No overflow: `pos + w.len() <= limit`, the room's end.
        self.pos += w.len();
        Ok(())
    }

    /// Appends a record whose payload `f` writes. On error nothing is appended.
    pub fn record_with(
        &mut self,
        tag: u16,
        flags: u16,
        f: impl FnOnce(&mut Writer<'_>) -> Result<(), StreamError>,
    ) -> Result<(), StreamError> {
        if tag == TAG_END {
            return Err(StreamError::Malformed);
        }
        let limit = self.buf.len().min(MAX_STREAM_LEN);
        let start = self
            .pos
            .checked_add(RECORD_HEADER_LEN)
            .ok_or(StreamError::NoSpace)?;
        let room = self.buf.get_mut(start..limit).ok_or(StreamError::NoSpace)?;
        let mut w = Writer::new(room);
        f(&mut w)?;
        let len = w.len();
        let len32 = u32::try_from(len).map_err(|_| StreamError::RecordTooLarge(u32::MAX))?;
        if len32 > MAX_RECORD_LEN {
            return Err(StreamError::RecordTooLarge(len32));
        }
        let pad = padded(len).ok_or(StreamError::NoSpace)? - len;
        for _ in 0..pad {
            w.u8(0)?;
        }
        let head = self
            .buf
            .get_mut(self.pos..start)
            .ok_or(StreamError::NoSpace)?;
        let mut head = Writer::new(head);
        head.u16(tag)?;
        head.u16(flags)?;
        head.u32(len32)?;
        // No overflow: the payload and padding were written inside `buf[start..limit]`.
        self.pos = start + len + pad;
        Ok(())
    }

    /// Appends a record with `payload`.
    #[cfg(any(test, feature = "testing"))]
    pub fn record(&mut self, tag: u16, flags: u16, payload: &[u8]) -> Result<(), StreamError> {
        self.record_with(tag, flags, |w| Ok(w.bytes(payload)?))
    }

    /// Appends the end record (checksum of everything before it); returns the stream length.
    pub fn finish(mut self) -> Result<usize, StreamError> {
        let crc = crc32(self.buf.get(..self.pos).ok_or(StreamError::NoSpace)?);
        let mut end = [0u8; END_LEN];
        let mut w = Writer::new(&mut end);
        w.u16(TAG_END)?;
        w.u16(FLAG_MANDATORY)?;
        w.u32(4)?;
        w.u32(crc)?;
        self.put(&end)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::mig::image::write_initial;

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    #[test]
    fn header_layout_and_round_trip() {
        let m = model(0x10CA);
        let h = Header::for_model(&m);
        let b = h.to_bytes();
        assert_eq!(&b[..8], b"IXVFMIG1");
        assert_eq!(
            &b[8..20],
            &[1, 0, 32, 0, 1, 0, 0x86, 0x80, 0xCA, 0x10, 2, 2]
        );
        assert_eq!(&b[20..], &[0; 12]);
        assert_eq!(parse_header(&b), Ok(h));
        assert_eq!(Header::for_model(&model(0x10ED)).to_bytes()[12], 0);
        h.check_compatible(&m).unwrap();
    }

    #[test]
    fn bad_headers_are_refused() {
        let good = Header::for_model(&model(0x10CA)).to_bytes();
        let with = |at: usize, v: u8| {
            let mut b = good;
            b[at] = v;
            parse_header(&b)
        };
        assert_eq!(parse_header(&good[..31]), Err(StreamError::Truncated));
        assert_eq!(parse_header(&[]), Err(StreamError::Truncated));
        assert_eq!(with(0, b'X'), Err(StreamError::BadMagic));
        assert_eq!(with(7, b'2'), Err(StreamError::BadMagic));
        assert_eq!(with(8, 2), Err(StreamError::BadVersion(2)));
        assert_eq!(with(9, 1), Err(StreamError::BadVersion(0x101)));
        assert_eq!(with(10, 33), Err(StreamError::BadHeader));
        assert_eq!(with(12, 2), Err(StreamError::BadHeader));
        assert_eq!(with(13, 1), Err(StreamError::BadHeader));
        for at in 20..32 {
            assert_eq!(
                with(at, 1),
                Err(StreamError::BadHeader),
                "reserved byte {at}"
            );
        }
    }

    #[test]
    fn compatibility_needs_same_family_device_and_no_more_queues() {
        let m82576 = model(0x10CA);
        let i350 = model(0x1520);
        let x550 = model(0x1565);
        let inc = |w| Err(StreamError::Incompatible(w));
        let h = Header::for_model(&m82576);
        assert_eq!(h.check_compatible(&x550), inc(Incompat::Family));
        assert_eq!(h.check_compatible(&i350), inc(Incompat::Device));
        assert_eq!(
            Header::for_model(&model(0x10ED)).check_compatible(&model(0x1515)),
            inc(Incompat::Device)
        );
        // An I350 VF stream claiming the two queues of an 82576 VF.
        let mut more = Header::for_model(&i350);
        more.rx_queues = 2;
        assert_eq!(more.check_compatible(&i350), inc(Incompat::Queues));
        more.rx_queues = 1;
        more.tx_queues = 9;
        assert_eq!(more.check_compatible(&i350), inc(Incompat::Queues));
        // Fewer queues than the VF has is fine: the rest stay disabled.
        let mut fewer = Header::for_model(&m82576);
        fewer.tx_queues = 1;
        fewer.check_compatible(&m82576).unwrap();
        let mut vendor = h;
        vendor.vendor = 0x8087;
        assert_eq!(vendor.check_compatible(&m82576), inc(Incompat::Device));
    }

    #[test]
    fn encoder_checks_space_and_sizes() {
        let h = Header::for_model(&model(0x10ED));
        let mut small = [0u8; 16];
        assert!(matches!(
            Encoder::new(&mut small, &h),
            Err(StreamError::NoSpace)
        ));
        let mut buf = [0u8; 56];
        let mut enc = Encoder::new(&mut buf, &h).unwrap();
        assert_eq!(enc.len(), HEADER_LEN);
        assert_eq!(enc.record(TAG_END, 1, &[0; 4]), Err(StreamError::Malformed));
        enc.record(7, 0, &[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(enc.len(), HEADER_LEN + 16);
        // 8 bytes left: a record header fits, a payload does not; nothing is appended.
        assert_eq!(enc.record(8, 0, &[1]), Err(StreamError::NoSpace));
        assert_eq!(enc.len(), HEADER_LEN + 16);
        assert_eq!(enc.finish(), Err(StreamError::NoSpace));
        assert_eq!(
            &buf[32..48],
            &[7, 0, 0, 0, 5, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0]
        );

        let mut big = vec![0u8; 8192];
        let mut enc = Encoder::new(&mut big, &h).unwrap();
        let payload = [0u8; MAX_RECORD_LEN as usize + 1];
        assert_eq!(
            enc.record(7, 0, &payload),
            Err(StreamError::RecordTooLarge(MAX_RECORD_LEN + 1))
        );
        enc.record(7, 0, &payload[1..]).unwrap();
        let n = enc.finish().unwrap();
        assert_eq!(n, HEADER_LEN + RECORD_HEADER_LEN + 4096 + END_LEN);
        // The end record checksums everything before it.
        let crc = crc32(&big[..n - END_LEN]);
        assert_eq!(&big[n - 4..n], &crc.to_le_bytes());
        assert_eq!(&big[n - 12..n - 4], &[0xFF, 0xFF, 1, 0, 4, 0, 0, 0]);

        // A buffer beyond MAX_STREAM_LEN is used only up to it.
        let mut huge = vec![0u8; MAX_STREAM_LEN + 4096];
        let mut enc = Encoder::new(&mut huge, &h).unwrap();
        while enc.record(7, 0, &payload[1..]).is_ok() {}
        assert!(enc.len() <= MAX_STREAM_LEN);
    }

    #[test]
    fn encoder_resumes_after_the_initial_data() {
        let m = model(0x1520);
        let mut buf = [0u8; 128];
        let used = write_initial(&mut buf, &m).unwrap();
        let enc = Encoder::resume(&mut buf, used).unwrap();
        assert_eq!(enc.len(), used);
        assert!(matches!(
            Encoder::resume(&mut buf, 200),
            Err(StreamError::NoSpace)
        ));
        assert!(matches!(
            Encoder::resume(&mut buf, 47),
            Err(StreamError::Malformed)
        ));
        assert!(matches!(
            Encoder::resume(&mut buf, 8),
            Err(StreamError::Truncated)
        ));
        buf[0] = 0;
        assert!(matches!(
            Encoder::resume(&mut buf, used),
            Err(StreamError::BadMagic)
        ));
    }

    #[test]
    fn errno_table() {
        use crate::pure::errno::Errno;
        use StreamError::*;
        let einval = [
            Truncated,
            BadMagic,
            BadVersion(2),
            BadHeader,
            Incompatible(Incompat::Queues),
            Malformed,
            BadChecksum,
            Duplicate(2),
            Missing(2),
            Unexpected(2),
            TrailingBytes,
        ];
        for e in einval {
            assert_eq!(e.errno(), 22, "{e}");
        }
        assert_eq!(UnknownMandatory(0x77).errno(), 95);
        for e in [RecordTooLarge(5000), TooLarge(70000), NoSpace] {
            assert_eq!(e.errno(), 12, "{e}");
        }
        assert_eq!(
            UnknownMandatory(0x77).to_string(),
            "unknown mandatory record 0x0077"
        );
        assert_eq!(
            Incompatible(Incompat::Family).to_string(),
            "stream for another VF (Family)"
        );
    }
}
