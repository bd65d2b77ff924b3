// SPDX-License-Identifier: GPL-2.0

//! The migration stream, independent of what its payloads mean.
//!
//! - [`format`](mod@format): the stream format (header, records, checksum) and its encoder.
//! - [`decode`]: its validating decoder.
//! - [`error`]: why a stream was refused ([`error::StreamError`]).
//! - [`wire`]: CRC-32, byte writer and reader, padding.
//!
//! Depends on [`super::hw`] only.

pub mod decode;
pub mod error;
pub mod format;
pub mod wire;
