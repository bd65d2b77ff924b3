// SPDX-License-Identifier: GPL-2.0

//! The validating decoder of the migration stream (format: [`super::format`]).
//!
//! [`decode`] checks, in this order, before it hands out any payload: the stream size cap;
//! the header and its compatibility with the destination VF; the record chain up to the end
//! record (every record inside the input, payload within [`MAX_RECORD_LEN`], zero padding),
//! that nothing follows the end record and its checksum; then record by record: flags, known
//! or unknown tag (unknown mandatory: refused; unknown optional: skipped and counted), the
//! compatibility record first, queue records only for queues the header declares, no
//! duplicates; then that every required record is there and that the compatibility record
//! matches the VF and the stream's length.
//!
//! C counterpart: `mlx5vf_resume_read_header()` and its callers in `mlx5/main.c`.

use crate::pure::bytes::Reader;
use crate::pure::hw::family::{VfModel, MAX_QUEUES};
use crate::pure::stream::error::StreamError;
use crate::pure::stream::format::{
    parse_header, Compat, Header, COMPAT_LEN, FLAG_MANDATORY, HEADER_LEN, INITIAL_LEN,
    MAX_RECORD_LEN, MAX_STREAM_LEN, RECORD_HEADER_LEN, TAG_COMPAT, TAG_DEV_REGS, TAG_END,
    TAG_MAILBOX, TAG_PF_CTX, TAG_RX_QUEUE, TAG_TX_QUEUE,
};
use crate::pure::stream::wire::{crc32, padded};

/// Checks the PRE_COPY initial data (header and compat record) at the start of `prefix`
/// against the destination `model` and returns the announced total stream length.
///
/// Returns [`StreamError::Truncated`] while fewer than [`INITIAL_LEN`] bytes are there. The
/// resuming file calls this as soon as it has them and refuses writes beyond the returned
/// length (`ENOMEM`), so an incompatible or oversize stream fails before the source stops.
pub fn check_initial(prefix: &[u8], model: &VfModel) -> Result<usize, StreamError> {
    let header = parse_header(prefix)?;
    header.check_compatible(model)?;
    let rec = prefix
        .get(HEADER_LEN..INITIAL_LEN)
        .ok_or(StreamError::Truncated)?;
    let mut r = Reader::new(rec);
    let (tag, flags, len) = (r.u16(), r.u16(), r.u32());
    if tag != Some(TAG_COMPAT) {
        return Err(StreamError::Unexpected(tag.unwrap_or(0)));
    }
    // CAST: COMPAT_LEN is 8.
    if flags != Some(FLAG_MANDATORY) || len != Some(COMPAT_LEN as u32) {
        return Err(StreamError::Malformed);
    }
    let payload = rec.get(RECORD_HEADER_LEN..).ok_or(StreamError::Truncated)?;
    let compat = Compat::parse(payload).ok_or(StreamError::Malformed)?;
    compat.check(model)?;
    // CAST: lossless, see `Compat::check`.
    Ok(compat.stream_len as usize)
}

/// One record as found in the input, bounds-checked only.
struct RawRecord<'a> {
    tag: u16,
    flags: u16,
    payload: &'a [u8],
    /// Offset just past the record's padding.
    end: usize,
}

fn raw_record(input: &[u8], pos: usize) -> Result<RawRecord<'_>, StreamError> {
    let rest = input.get(pos..).ok_or(StreamError::Truncated)?;
    let mut r = Reader::new(rest);
    let (tag, flags, len) = match (r.u16(), r.u16(), r.u32()) {
        (Some(t), Some(f), Some(l)) => (t, f, l),
        _ => return Err(StreamError::Truncated),
    };
    if len > MAX_RECORD_LEN {
        return Err(StreamError::RecordTooLarge(len));
    }
    // CAST: len <= MAX_RECORD_LEN fits usize.
    let len = len as usize;
    let body = rest
        .get(RECORD_HEADER_LEN..)
        .ok_or(StreamError::Truncated)?;
    let total = padded(len).ok_or(StreamError::Malformed)?;
    let record = body.get(..total).ok_or(StreamError::Truncated)?;
    // `padded(len) >= len`, so both halves exist (`split_at_checked` is newer than the
    // kernel's minimum Rust).
    let payload = record.get(..len).ok_or(StreamError::Malformed)?;
    let pad = record.get(len..).ok_or(StreamError::Malformed)?;
    if pad.iter().any(|&b| b != 0) {
        return Err(StreamError::Malformed);
    }
    let end = pos
        .checked_add(RECORD_HEADER_LEN + total)
        .ok_or(StreamError::Malformed)?;
    Ok(RawRecord {
        tag,
        flags,
        payload,
        end,
    })
}

/// Number of known (non-end) record kinds: compat, dev, mailbox, PF context, and one per
/// queue and direction.
pub const KNOWN_RECORDS: usize = 4 + 2 * MAX_QUEUES as usize;

/// Slot of a known tag, with the queue it belongs to (for queue records).
fn slot(tag: u16) -> Option<(usize, Option<(bool, u8)>)> {
    // CAST: MAX_QUEUES is 8.
    let q = (tag & 0xFF) as u8;
    let queue = usize::from(q);
    Some(match tag & 0xFF00 {
        0 => match tag {
            TAG_COMPAT => (0, None),
            TAG_DEV_REGS => (1, None),
            TAG_MAILBOX => (2, None),
            TAG_PF_CTX => (3, None),
            _ => return None,
        },
        TAG_RX_QUEUE if q < MAX_QUEUES => (4 + queue, Some((true, q))),
        TAG_TX_QUEUE if q < MAX_QUEUES => (4 + usize::from(MAX_QUEUES) + queue, Some((false, q))),
        _ => return None,
    })
}

/// A fully validated stream: the payloads of the known records, ready for
/// [`crate::pure::mig::image::from_records`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    header: Header,
    compat: Compat,
    slots: [Option<&'a [u8]>; KNOWN_RECORDS],
    skipped: u16,
}

impl<'a> Decoded<'a> {
    /// The stream header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The compatibility record.
    #[cfg(any(test, feature = "testing"))]
    pub fn compat(&self) -> &Compat {
        &self.compat
    }

    /// Payload of a known record, if present.
    pub fn payload(&self, tag: u16) -> Option<&'a [u8]> {
        let (i, _) = slot(tag)?;
        self.slots.get(i).copied().flatten()
    }

    /// Unknown optional records skipped.
    #[cfg(any(test, feature = "testing"))]
    pub fn skipped(&self) -> u16 {
        self.skipped
    }
}

/// Validates a complete stream for a `model` destination. Nothing is returned unless every
/// structural check passed; payload contents are checked by the caller's parser.
pub fn decode<'a>(input: &'a [u8], model: &VfModel) -> Result<Decoded<'a>, StreamError> {
    if input.len() > MAX_STREAM_LEN {
        return Err(StreamError::TooLarge(input.len()));
    }
    let header = parse_header(input)?;
    header.check_compatible(model)?;
    // Pass 1: bounds only, to find the end record and check the checksum first.
    let mut pos = HEADER_LEN;
    loop {
        let rec = raw_record(input, pos)?;
        if rec.tag == TAG_END {
            if rec.flags != FLAG_MANDATORY || rec.payload.len() != 4 {
                return Err(StreamError::Malformed);
            }
            if rec.end != input.len() {
                return Err(StreamError::TrailingBytes);
            }
            let want = Reader::new(rec.payload)
                .u32()
                .ok_or(StreamError::Malformed)?;
            if crc32(input.get(..pos).ok_or(StreamError::Truncated)?) != want {
                return Err(StreamError::BadChecksum);
            }
            break;
        }
        pos = rec.end;
    }
    // Pass 2: classify. Pass 1 proved every record up to `pos` is in bounds.
    let body = input.get(..pos).ok_or(StreamError::Truncated)?;
    let mut slots = [None; KNOWN_RECORDS];
    let mut skipped: u16 = 0;
    let mut at = HEADER_LEN;
    while at < body.len() {
        let rec = raw_record(body, at)?;
        if rec.flags & !FLAG_MANDATORY != 0 {
            return Err(StreamError::Malformed);
        }
        match slot(rec.tag) {
            None if rec.flags & FLAG_MANDATORY != 0 => {
                return Err(StreamError::UnknownMandatory(rec.tag))
            }
            None => skipped = skipped.saturating_add(1),
            Some((i, queue)) => {
                if rec.flags != FLAG_MANDATORY {
                    return Err(StreamError::Malformed);
                }
                if (rec.tag == TAG_COMPAT) != (at == HEADER_LEN) {
                    return Err(StreamError::Unexpected(rec.tag));
                }
                let carried = match queue {
                    Some((true, q)) => q < header.rx_queues,
                    Some((false, q)) => q < header.tx_queues,
                    None => true,
                };
                if !carried {
                    return Err(StreamError::Unexpected(rec.tag));
                }
                let s = slots.get_mut(i).ok_or(StreamError::Malformed)?;
                if s.is_some() {
                    return Err(StreamError::Duplicate(rec.tag));
                }
                *s = Some(rec.payload);
            }
        }
        at = rec.end;
    }
    let need = |tag: u16| match slot(tag) {
        Some((i, _)) if matches!(slots.get(i), Some(Some(_))) => Ok(()),
        _ => Err(StreamError::Missing(tag)),
    };
    for tag in [TAG_COMPAT, TAG_DEV_REGS, TAG_MAILBOX, TAG_PF_CTX] {
        need(tag)?;
    }
    for q in 0..header.rx_queues {
        need(TAG_RX_QUEUE | u16::from(q))?;
    }
    for q in 0..header.tx_queues {
        need(TAG_TX_QUEUE | u16::from(q))?;
    }
    let compat_payload = slots
        .first()
        .copied()
        .flatten()
        .ok_or(StreamError::Missing(TAG_COMPAT))?;
    let compat = Compat::parse(compat_payload).ok_or(StreamError::Malformed)?;
    compat.check(model)?;
    // CAST: lossless, see `Compat::check`.
    if compat.stream_len as usize != input.len() {
        return Err(StreamError::Malformed);
    }
    Ok(Decoded {
        header,
        compat,
        slots,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::errno::{Errno, ENOMEM};
    use crate::pure::hw::family::SUPPORTED;
    use crate::pure::mig::image::{stream_len, write_initial};
    use crate::pure::stream::error::Incompat;
    use crate::pure::stream::format::{record_len, END_LEN, TAG_END};
    use crate::pure::testing::mig::{craft, sample_stream, with_end};

    type Rec = (u16, u16, Vec<u8>);

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    /// The records of a valid stream, end record excluded.
    fn records(stream: &[u8]) -> Vec<Rec> {
        let mut out = Vec::new();
        let mut pos = HEADER_LEN;
        loop {
            let r = raw_record(stream, pos).unwrap();
            if r.tag == TAG_END {
                return out;
            }
            out.push((r.tag, r.flags, r.payload.to_vec()));
            pos = r.end;
        }
    }

    /// A stream of `recs` whose compat record (if first) announces the right length.
    fn rebuild(m: &VfModel, mut recs: Vec<Rec>) -> Vec<u8> {
        let total =
            HEADER_LEN + recs.iter().map(|r| record_len(r.2.len())).sum::<usize>() + END_LEN;
        if let Some((TAG_COMPAT, _, p)) = recs.first_mut() {
            p[4..8].copy_from_slice(&(total as u32).to_le_bytes());
        }
        let refs: Vec<(u16, u16, &[u8])> = recs.iter().map(|(t, f, p)| (*t, *f, &p[..])).collect();
        craft(m, &refs)
    }

    fn edited(m: &VfModel, f: impl FnOnce(&mut Vec<Rec>)) -> Result<u16, StreamError> {
        let mut recs = records(&sample_stream(m));
        f(&mut recs);
        decode(&rebuild(m, recs), m).map(|d| d.skipped())
    }

    #[test]
    fn initial_data_is_checked_before_downtime() {
        for m in SUPPORTED {
            let mut buf = [0u8; INITIAL_LEN];
            assert_eq!(write_initial(&mut buf, &m), Ok(INITIAL_LEN));
            assert_eq!(check_initial(&buf, &m), Ok(stream_len(&m)));
            for n in 0..INITIAL_LEN {
                assert_eq!(check_initial(&buf[..n], &m), Err(StreamError::Truncated));
            }
        }
        let m = model(0x10CA);
        let mut buf = [0u8; INITIAL_LEN];
        write_initial(&mut buf, &m).unwrap();
        assert_eq!(
            check_initial(&buf, &model(0x10ED)),
            Err(StreamError::Incompatible(Incompat::Family))
        );
        let edit = |at: usize, v: u8| {
            let mut b = buf;
            b[at] = v;
            check_initial(&b, &m)
        };
        // Compat record: tag, flags, length, vectors, rss, mailbox words, reserved, length.
        assert_eq!(edit(32, 2), Err(StreamError::Unexpected(2)));
        assert_eq!(edit(34, 0), Err(StreamError::Malformed));
        assert_eq!(edit(36, 9), Err(StreamError::Malformed));
        let geo = Err(StreamError::Incompatible(Incompat::Geometry));
        assert_eq!(edit(40, 4), geo);
        assert_eq!(edit(41, 1), geo);
        assert_eq!(edit(41, 2), Err(StreamError::Malformed));
        assert_eq!(edit(42, 8), geo);
        assert_eq!(edit(43, 1), Err(StreamError::Malformed));
        assert_eq!(edit(46, 1), Err(StreamError::TooLarge(0x1_0000 + 628)));
        let mut tiny = buf;
        tiny[44..48].copy_from_slice(&59u32.to_le_bytes());
        assert_eq!(check_initial(&tiny, &m), Err(StreamError::Malformed));
    }

    #[test]
    fn valid_streams_decode() {
        for m in SUPPORTED {
            let s = sample_stream(&m);
            let d = decode(&s, &m).unwrap();
            assert_eq!(d.skipped(), 0);
            assert_eq!(*d.header(), Header::for_model(&m));
            assert_eq!(d.compat().stream_len as usize, s.len());
            for q in 0..m.geometry.queues {
                assert!(d.payload(TAG_RX_QUEUE | u16::from(q)).is_some());
                assert!(d.payload(TAG_TX_QUEUE | u16::from(q)).is_some());
            }
            assert_eq!(d.payload(TAG_RX_QUEUE | u16::from(m.geometry.queues)), None);
            assert_eq!(d.payload(0x7777), None);
            // Rebuilding from the records gives the same bytes.
            assert_eq!(rebuild(&m, records(&s)), s);
        }
    }

    #[test]
    fn unknown_records_mandatory_refused_optional_skipped() {
        let m = model(0x10CA);
        let opt = |recs: &mut Vec<Rec>| recs.insert(3, (0x0042, 0, vec![1, 2, 3]));
        assert_eq!(edited(&m, opt), Ok(1));
        let two = |recs: &mut Vec<Rec>| {
            recs.push((0x0300, 0, vec![]));
            recs.push((0x4242, 0, vec![9; 100]));
        };
        assert_eq!(edited(&m, two), Ok(2));
        let mand = |recs: &mut Vec<Rec>| recs.insert(2, (0x0042, FLAG_MANDATORY, vec![]));
        let err = edited(&m, mand).unwrap_err();
        assert_eq!(err, StreamError::UnknownMandatory(0x0042));
        assert_eq!(err.errno(), 95);
        // A queue record beyond MAX_QUEUES is not a known tag either.
        let q9 = |recs: &mut Vec<Rec>| recs.push((TAG_RX_QUEUE | 9, FLAG_MANDATORY, vec![]));
        assert_eq!(edited(&m, q9), Err(StreamError::UnknownMandatory(0x0109)));
    }

    #[test]
    fn record_set_errors() {
        let m = model(0x10CA);
        let dup = |recs: &mut Vec<Rec>| {
            let r = recs[1].clone();
            recs.push(r);
        };
        assert_eq!(edited(&m, dup), Err(StreamError::Duplicate(TAG_DEV_REGS)));
        let miss = |recs: &mut Vec<Rec>| recs.retain(|r| r.0 != TAG_MAILBOX);
        assert_eq!(edited(&m, miss), Err(StreamError::Missing(TAG_MAILBOX)));
        let miss_q = |recs: &mut Vec<Rec>| recs.retain(|r| r.0 != TAG_TX_QUEUE | 1);
        assert_eq!(edited(&m, miss_q), Err(StreamError::Missing(0x0201)));
        let miss_pf = |recs: &mut Vec<Rec>| recs.retain(|r| r.0 != TAG_PF_CTX);
        assert_eq!(edited(&m, miss_pf), Err(StreamError::Missing(TAG_PF_CTX)));
        let late = |recs: &mut Vec<Rec>| recs.swap(0, 1);
        assert_eq!(edited(&m, late), Err(StreamError::Unexpected(TAG_DEV_REGS)));
        let flags = |recs: &mut Vec<Rec>| recs[2].1 = 0;
        assert_eq!(edited(&m, flags), Err(StreamError::Malformed));
        let bits = |recs: &mut Vec<Rec>| recs[2].1 = 3;
        assert_eq!(edited(&m, bits), Err(StreamError::Malformed));
        let opt_bits = |recs: &mut Vec<Rec>| recs.push((0x55, 2, vec![]));
        assert_eq!(edited(&m, opt_bits), Err(StreamError::Malformed));
        // The I350 VF has one queue: a record for queue 1 is not carried by its header.
        let i350 = model(0x1520);
        let q1 = |recs: &mut Vec<Rec>| recs.push((TAG_RX_QUEUE | 1, FLAG_MANDATORY, vec![0; 32]));
        assert_eq!(edited(&i350, q1), Err(StreamError::Unexpected(0x0101)));
        // Compat announcing another length.
        let mut recs = records(&sample_stream(&m));
        recs.push((0x50, 0, vec![]));
        let mut s = rebuild(&m, recs);
        s[44] ^= 4;
        let body = s.len() - END_LEN;
        assert_eq!(
            decode(&with_end(&s[..body]), &m),
            Err(StreamError::Malformed)
        );
    }

    #[test]
    fn byte_level_errors() {
        let m = model(0x1520);
        let s = sample_stream(&m);
        let mut trailing = s.clone();
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(decode(&trailing, &m), Err(StreamError::TrailingBytes));
        let mut garbage = s.clone();
        garbage.push(0xAA);
        assert_eq!(decode(&garbage, &m), Err(StreamError::TrailingBytes));
        let mut crc = s.clone();
        *crc.last_mut().unwrap() ^= 1;
        assert_eq!(decode(&crc, &m), Err(StreamError::BadChecksum));
        let mut body = s.clone();
        body[60] ^= 0x10;
        assert_eq!(decode(&body, &m), Err(StreamError::BadChecksum));
        let end_flags = {
            let mut e = s.clone();
            let n = e.len();
            e[n - 10] = 0;
            e
        };
        assert_eq!(decode(&end_flags, &m), Err(StreamError::Malformed));
        // Non-zero padding (the RX record's payload is 32 bytes: use the compat-free
        // optional record with a 1-byte payload).
        let mut recs = records(&s);
        recs.push((0x51, 0, vec![7]));
        let mut padded = rebuild(&m, recs);
        let at = padded.len() - END_LEN - 2;
        padded[at] = 1;
        let body = padded.len() - END_LEN;
        assert_eq!(
            decode(&with_end(&padded[..body]), &m),
            Err(StreamError::Malformed)
        );
        // Another family.
        assert_eq!(
            decode(&s, &model(0x1565)),
            Err(StreamError::Incompatible(Incompat::Family))
        );
        // No end record at all.
        assert_eq!(
            decode(&s[..s.len() - END_LEN], &m),
            Err(StreamError::Truncated)
        );
    }

    #[test]
    fn oversize_is_enomem() {
        let m = model(0x10CA);
        let big = vec![0u8; MAX_STREAM_LEN + 1];
        let err = decode(&big, &m).unwrap_err();
        assert_eq!(err, StreamError::TooLarge(MAX_STREAM_LEN + 1));
        assert_eq!(err.errno(), ENOMEM);
        // A record header announcing more than MAX_RECORD_LEN.
        let mut s = sample_stream(&m);
        let mut rec = vec![0x42, 0, 0, 0];
        rec.extend_from_slice(&(MAX_RECORD_LEN + 1).to_le_bytes());
        s.splice(HEADER_LEN..HEADER_LEN, rec);
        let err = decode(&s, &m).unwrap_err();
        assert_eq!(err, StreamError::RecordTooLarge(MAX_RECORD_LEN + 1));
        assert_eq!(err.errno(), ENOMEM);
        let mut s = sample_stream(&m);
        s[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&s, &m), Err(StreamError::RecordTooLarge(u32::MAX)));
    }

    #[test]
    fn truncation_at_every_length_is_refused() {
        for m in SUPPORTED {
            let s = sample_stream(&m);
            for n in 0..s.len() {
                let err = decode(&s[..n], &m).unwrap_err();
                assert_eq!(err.errno(), 22, "{} cut at {n}: {err}", m.name);
            }
        }
    }
}
