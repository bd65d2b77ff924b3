// SPDX-License-Identifier: GPL-2.0

//! Why a migration stream was refused or could not be written: [`StreamError`].
//!
//! The encoder and the decoder fail with it (a full [`crate::pure::bytes::Writer`] becomes
//! [`StreamError::NoSpace`]); its errnos are in [`crate::pure::errno`]. Depends only on
//! [`crate::pure::bytes`].

use core::fmt;

use crate::pure::bytes::NoSpace;

/// Why a header does not fit the destination VF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incompat {
    /// Another register family.
    Family,
    /// Another PCI vendor or device id.
    Device,
    /// More queues than the destination VF has.
    Queues,
    /// Different MSI-X vector count, RSS support or mailbox size.
    Geometry,
}

/// Why a stream was refused (or could not be written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The data ends before the structure it started does.
    Truncated,
    /// The first 8 bytes are not [`MAGIC`](super::format::MAGIC).
    BadMagic,
    /// A version this code does not read.
    BadVersion(u16),
    /// Header length, flags, family or reserved bytes invalid.
    BadHeader,
    /// Valid stream for another VF.
    Incompatible(Incompat),
    /// Record structure invalid: flags, padding, payload of a known record.
    Malformed,
    /// The end record's CRC does not match.
    BadChecksum,
    /// A mandatory record this code does not know.
    UnknownMandatory(u16),
    /// A record present twice.
    Duplicate(u16),
    /// A required record absent.
    Missing(u16),
    /// A known record where it may not be (compat not first, a queue the header lacks).
    Unexpected(u16),
    /// Bytes after the end record.
    TrailingBytes,
    /// A record payload over [`MAX_RECORD_LEN`](super::format::MAX_RECORD_LEN).
    RecordTooLarge(u32),
    /// A stream over [`MAX_STREAM_LEN`](super::format::MAX_STREAM_LEN) (or over what the compat record announced).
    TooLarge(usize),
    /// The encoder's buffer is full.
    NoSpace,
}

impl From<NoSpace> for StreamError {
    fn from(_: NoSpace) -> Self {
        StreamError::NoSpace
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StreamError::Truncated => f.write_str("stream truncated"),
            StreamError::BadMagic => f.write_str("bad magic"),
            StreamError::BadVersion(v) => write!(f, "unsupported stream version {v}"),
            StreamError::BadHeader => f.write_str("invalid stream header"),
            StreamError::Incompatible(why) => write!(f, "stream for another VF ({why:?})"),
            StreamError::Malformed => f.write_str("malformed record"),
            StreamError::BadChecksum => f.write_str("checksum mismatch"),
            StreamError::UnknownMandatory(t) => write!(f, "unknown mandatory record {t:#06x}"),
            StreamError::Duplicate(t) => write!(f, "duplicate record {t:#06x}"),
            StreamError::Missing(t) => write!(f, "missing record {t:#06x}"),
            StreamError::Unexpected(t) => write!(f, "unexpected record {t:#06x}"),
            StreamError::TrailingBytes => f.write_str("bytes after the end record"),
            StreamError::RecordTooLarge(n) => write!(f, "record of {n} bytes too large"),
            StreamError::TooLarge(n) => write!(f, "stream of {n} bytes too large"),
            StreamError::NoSpace => f.write_str("stream buffer full"),
        }
    }
}
