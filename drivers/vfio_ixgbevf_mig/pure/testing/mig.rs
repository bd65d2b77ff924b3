// SPDX-License-Identifier: GPL-2.0

//! Host-only helpers shared by the unit tests and the fuzz targets (`hostcore/fuzz`).
//!
//! Built only for `cargo test` and for the host crate's `testing` feature; never in the
//! kernel. [`sample_bar`] fills a fake BAR the way a running guest driver leaves it,
//! [`fuzz_stream_decode`] is the body of the `stream_decode` fuzz target (and of the
//! deterministic random-input test that runs it under plain `cargo test`).

use crate::pure::bytes::Writer;
use crate::pure::hw::family::{VfModel, SUPPORTED};
use crate::pure::hw::fields::{Rxdctl, Txdctl};
use crate::pure::hw::io::fake::FakeBar;
use crate::pure::hw::regs::{QueueReg, Reg, RegRef};
use crate::pure::mig::image::{load, write_stream};
use crate::pure::mig::pfctx::PfCtx;
use crate::pure::mig::quiesce::{kick, quiesce, resume};
use crate::pure::mig::regio::vector_mask;
use crate::pure::mig::snapshot::{restore, save, save_mailbox_ctrl};
use crate::pure::mig::vfstate::VfState;
use crate::pure::stream::decode::{check_initial, decode};
use crate::pure::stream::error::StreamError;
use crate::pure::stream::format::{
    record_len, Encoder, Header, COMPAT_LEN, END_LEN, FLAG_MANDATORY, HEADER_LEN, INITIAL_LEN,
    MAX_RECORD_LEN, MAX_STREAM_LEN, RECORD_HEADER_LEN, TAG_COMPAT, TAG_DEV_REGS, TAG_END,
    TAG_MAILBOX, TAG_PF_CTX, TAG_RX_QUEUE, TAG_TX_QUEUE,
};
use crate::pure::stream::wire::crc32;
use crate::pure::testing::dirty::Input;

fn set(bar: &FakeBar, model: &VfModel, r: RegRef, v: u32) {
    if let Ok(off) = model.regs().offset(r) {
        bar.poke(off, v);
    }
}

/// A fake BAR holding what igbvf/ixgbevf leave in a running VF: rings configured, some
/// queues enabled, interrupts mapped, a message in the mailbox, pending causes in `EICR`.
pub fn sample_bar(model: &VfModel) -> FakeBar {
    let bar = FakeBar::new(model.regs());
    let map = model.regs();
    let dev = |reg, i: u8, v| set(&bar, model, RegRef::Dev { reg, index: i }, v);
    let vectors = (1u32 << model.geometry.msix_vectors) - 1;
    dev(Reg::Eims, 0, vectors);
    dev(Reg::Eiac, 0, vectors & 3);
    dev(Reg::Eiam, 0, vectors & 3);
    dev(Reg::Eicr, 0, 0x5);
    for i in 0..map.count(Reg::Eitr) {
        dev(Reg::Eitr, i, 0x1E8 + 4 * u32::from(i));
    }
    for i in 0..map.count(Reg::Ivar) {
        dev(Reg::Ivar, i, 0x8180_8180);
    }
    dev(Reg::IvarMisc, 0, 0x82);
    dev(Reg::Psrtype, 0, 0x2000_1330);
    if model.geometry.rss {
        dev(Reg::Mrqc, 0, 0x0033_0001);
        for i in 0..map.count(Reg::Rssrk) {
            dev(Reg::Rssrk, i, 0x6D5A_56DA ^ (u32::from(i) * 0x0101_0101));
        }
        for i in 0..map.count(Reg::Reta) {
            dev(Reg::Reta, i, 0x0100_0100);
        }
    }
    for i in 0..map.count(Reg::MbMem) {
        dev(Reg::MbMem, i, 0xA5A5_0000 + u32::from(i));
    }
    // VFU held, PFSTS pending.
    dev(Reg::Mailbox, 0, 0x14);
    for n in 0..model.geometry.queues {
        let qr = |reg, v| set(&bar, model, RegRef::Queue { reg, queue: n }, v);
        let k = u32::from(n);
        let on = if n % 2 == 0 { 0x0200_0000 } else { 0 };
        qr(QueueReg::Rdbal, 0x1000_0000 + k * 0x1_0000);
        qr(QueueReg::Rdbah, 1);
        qr(QueueReg::Rdlen, 256 * 16);
        qr(QueueReg::Rdh, 3 + k);
        qr(QueueReg::Rdt, 200 + k);
        qr(QueueReg::Rxdctl, on | 0x0001_0808);
        qr(QueueReg::Srrctl, 0x8200_0002);
        qr(QueueReg::DcaRxctrl, 0x2200);
        qr(QueueReg::Tdbal, 0x2000_0000 + k * 0x1_0000);
        qr(QueueReg::Tdbah, 1);
        qr(QueueReg::Tdlen, 512 * 16);
        qr(QueueReg::Tdh, 10 + k);
        qr(QueueReg::Tdt, 20 + k);
        qr(QueueReg::Txdctl, on | 0x0001_0108);
        qr(QueueReg::Tdwbal, 0x3000_0001 + k * 0x40);
        qr(QueueReg::Tdwbah, 1);
        qr(QueueReg::DcaTxctrl, 0x2200);
    }
    bar
}

/// A plausible PF context.
pub fn sample_pf() -> PfCtx {
    let mut pf = PfCtx {
        mac: [0x52, 0x54, 0x00, 0xAB, 0xCD, 0x01],
        num_mc: 2,
        num_vlans: 2,
        max_frame: 1522,
        xcast_mode: 1,
        mbx_api: 4,
        num_macvlans: 1,
        ..PfCtx::default()
    };
    pf.mc_hashes[0] = 0x0123;
    pf.mc_hashes[1] = 0x0ABC;
    pf.vlans[0] = 1;
    pf.vlans[1] = 100;
    pf.macvlans[0] = [0x02, 0, 0, 0, 0, 0x10];
    pf
}

/// The state saved from [`sample_bar`] the way the source does it: quiesce, save, mailbox
/// control.
pub fn sample_state(model: &VfModel) -> VfState {
    let bar = sample_bar(model);
    let stopped = quiesce(&bar, model, &mut || {}).expect("fake queues stop at once");
    let mut state = save(&bar, model, stopped).expect("save");
    save_mailbox_ctrl(&bar, model, &mut state).expect("mailbox");
    state
}

/// A complete stream of [`sample_state`] and [`sample_pf`].
pub fn sample_stream(model: &VfModel) -> Vec<u8> {
    let state = sample_state(model);
    let mut buf = vec![0u8; 4096];
    let n = write_stream(&mut buf, model, &state, &sample_pf()).expect("encode");
    buf.truncate(n);
    buf
}

/// `body` (a stream without its end record) with an end record whose checksum fits.
pub fn with_end(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    let mut end = [0u8; 12];
    let mut w = Writer::new(&mut end);
    let crc = crc32(body);
    w.u16(TAG_END)
        .and_then(|()| w.u16(FLAG_MANDATORY))
        .and_then(|()| w.u32(4))
        .and_then(|()| w.u32(crc))
        .expect("12 bytes");
    out.extend_from_slice(&end);
    out
}

/// The records of a stream the encoder wrote (trusted input), end record excluded.
fn records_of(stream: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while let Some(head) = stream.get(at..at + RECORD_HEADER_LEN) {
        let tag = u16::from_le_bytes([head[0], head[1]]);
        let flags = u16::from_le_bytes([head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if tag == TAG_END {
            break;
        }
        let start = at + RECORD_HEADER_LEN;
        out.push((tag, flags, stream[start..start + len].to_vec()));
        at = start + record_len(len) - RECORD_HEADER_LEN;
    }
    out
}

/// `header` and `records`, framed and padded, with every 8-byte [`TAG_COMPAT`] payload
/// announcing the stream's real length and a valid end record: the record set, order and
/// payload checks see the records as given, nothing stops them earlier.
pub fn assemble(header: &Header, records: &[(u16, u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = header.to_bytes().to_vec();
    let mut compat_at = Vec::new();
    for (tag, flags, payload) in records {
        if *tag == TAG_COMPAT && payload.len() == COMPAT_LEN {
            compat_at.push(body.len() + RECORD_HEADER_LEN + 4);
        }
        body.extend_from_slice(&tag.to_le_bytes());
        body.extend_from_slice(&flags.to_le_bytes());
        body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        body.extend_from_slice(payload);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let total = (body.len() + END_LEN) as u32;
    for at in compat_at {
        body[at..at + 4].copy_from_slice(&total.to_le_bytes());
    }
    with_end(&body)
}

/// Record-level edits of the sample stream of `SUPPORTED[src]` (mode 3 of
/// [`fuzz_stream_decode`]): each op byte removes, duplicates, moves, inserts, retags,
/// re-flags, resizes or rewrites a record, or changes the queue counts of the header; the
/// result is [`assemble`]d.
pub fn edit_records(src: usize, ops: &[u8]) -> Vec<u8> {
    let sample = SAMPLES.with(|s| s.get(src).cloned()).unwrap_or_default();
    let mut recs = records_of(&sample);
    let mut header = SUPPORTED
        .get(src)
        .map_or(Header::for_model(&SUPPORTED[0]), Header::for_model);
    let mut input = Input(ops);
    while !input.0.is_empty() {
        let op = input.u8();
        let n = recs.len();
        let i = usize::from(input.u8()) % n.max(1);
        match op % 10 {
            0 if n > 0 => {
                recs.remove(i);
            }
            1 if n > 0 => {
                let r = recs[i].clone();
                recs.insert(usize::from(input.u8()) % (n + 1), r);
            }
            2 if n > 0 => recs.swap(i, usize::from(input.u8()) % n),
            3 => {
                let (tag, flags) = (input.u16(), u16::from(input.u8() & 3));
                let len = usize::from(input.u8());
                let payload = (0..len).map(|_| input.u8()).collect();
                recs.insert(i.min(n), (tag, flags, payload));
            }
            4 if n > 0 => recs[i].1 = input.u16(),
            5 if n > 0 => {
                let at = usize::from(input.u8()) * 4;
                let v = input.u32().to_le_bytes();
                if let Some(w) = recs[i].2.get_mut(at..at + 4) {
                    w.copy_from_slice(&v);
                }
            }
            6 if n > 0 => {
                // Grow or shrink by up to 128 bytes, within the record cap.
                let delta = isize::from(input.u8() as i8);
                let len = (recs[i].2.len() as isize + delta).clamp(0, MAX_RECORD_LEN as isize);
                recs[i].2.resize(len as usize, 0);
            }
            7 if n > 0 => recs[i].0 = input.u16(),
            8 => header.rx_queues = input.u8() % 10,
            9 => header.tx_queues = input.u8() % 10,
            _ => {}
        }
    }
    assemble(&header, &recs)
}

/// Loads `stream` for `model` the way the resuming file does (initial data first, then the
/// whole stream) and, if it is accepted, restores it into a fresh fake BAR, resumes and
/// kicks; returns whether it was accepted. Checks on the way:
/// - the initial data check never accepts an announced length outside the stream limits;
/// - an accepted stream passes the initial data check whatever chunks it arrives in
///   (`Truncated` for every prefix shorter than [`INITIAL_LEN`], its own length after);
/// - an accepted image with all the model's queues re-encodes, the re-encoded stream loads
///   to the same image, and every record payload is the same bytes as in `stream`;
/// - the image restores without error, and saving the device back gives the image again
///   (less what a restore does not write back: `SWFLSH`, mailbox control).
fn load_and_restore(stream: &[u8], model: &VfModel) -> bool {
    let initial = check_initial(stream, model);
    if let Ok(len) = initial {
        assert!(
            (INITIAL_LEN + END_LEN..=MAX_STREAM_LEN).contains(&len),
            "{len}"
        );
    }
    let Ok(image) = load(stream, model) else {
        return false;
    };
    assert_eq!(
        initial,
        Ok(stream.len()),
        "initial data of an accepted stream"
    );
    for n in 0..INITIAL_LEN {
        assert_eq!(
            check_initial(&stream[..n], model),
            Err(StreamError::Truncated),
            "prefix {n}"
        );
    }
    assert_eq!(
        check_initial(&stream[..INITIAL_LEN], model),
        Ok(stream.len())
    );

    let queues = model.geometry.queues;
    let (rxq, txq) = (image.vf.rx_queues, image.vf.tx_queues);
    if rxq == queues && txq == queues {
        let mut buf = vec![0u8; MAX_STREAM_LEN];
        let n = write_stream(&mut buf, model, &image.vf, &image.pf).expect("re-encode");
        let again = &buf[..n];
        assert_eq!(load(again, model), Ok(image), "re-encoded image");
        let (a, b) = (
            decode(stream, model).expect("decoded once"),
            decode(again, model).expect("re-encoded"),
        );
        let queue_tags = (0..u16::from(queues)).flat_map(|q| [TAG_RX_QUEUE | q, TAG_TX_QUEUE | q]);
        for tag in [TAG_DEV_REGS, TAG_MAILBOX, TAG_PF_CTX]
            .into_iter()
            .chain(queue_tags)
        {
            assert_eq!(a.payload(tag), b.payload(tag), "payload {tag:#06x}");
        }
    }

    let bar = FakeBar::new(model.regs());
    let enables = restore(&bar, model, &image.vf, &mut || {}).expect("validated restore");
    resume(&bar, model, enables).expect("validated resume");
    kick(&bar, model).expect("kick");
    let stopped = quiesce(&bar, model, &mut || {}).expect("fake queues stop at once");
    assert_eq!(stopped, enables);
    let saved = save(&bar, model, stopped).expect("save");
    let mut want = image.vf;
    want.mbx.ctrl = None;
    // What the source PF had latched is the PF's, not in the VF's registers.
    want.mbx.pf_pending = 0;
    // `kick` unmasks the auto-masked vectors (their interrupt may have been lost).
    want.dev.eims |= want.dev.eiam & vector_mask(model);
    for rx in want.rx.iter_mut() {
        rx.rxdctl = Rxdctl::from_raw(rx.rxdctl).with_swflsh(false).raw();
    }
    for tx in want.tx.iter_mut() {
        tx.txdctl = Txdctl::from_raw(tx.txdctl).with_swflsh(false).raw();
    }
    for q in 0..queues {
        let i = usize::from(q);
        if q < rxq {
            assert_eq!(saved.rx[i], want.rx[i], "rx {q}");
        }
        if q < txq {
            assert_eq!(saved.tx[i], want.tx[i], "tx {q}");
        }
    }
    assert_eq!((saved.dev, saved.mbx), (want.dev, want.mbx));
    true
}

std::thread_local! {
    /// [`sample_stream`] of each model, built once per thread.
    static SAMPLES: Vec<Vec<u8>> = SUPPORTED.iter().map(sample_stream).collect();
}

/// The `stream_decode` fuzz target: must never panic. Returns whether the stream was
/// accepted (for tests; the fuzz target ignores it).
///
/// `data[0]` picks the destination model (bits 2:0), the mode (bits 4:3) and for modes 2
/// and 3 the source model (bits 7:5); the rest is, by mode: 0, a raw stream; 1, a stream
/// body given a valid end record; 2, byte edits `(offset u16 LE, xor u8)` applied to the
/// source model's sample stream body, then a valid end record; 3, record edits of the
/// source model's sample stream ([`edit_records`]). Modes 1 to 3 get past the checksum, and
/// mode 3 past the length check of the compatibility record, so the record walker, payload
/// parsers, validation and restore all see hostile input.
pub fn fuzz_stream_decode(data: &[u8]) -> bool {
    let Some((&sel, rest)) = data.split_first() else {
        return false;
    };
    let Some(model) = SUPPORTED.get(usize::from(sel) % SUPPORTED.len()) else {
        return false;
    };
    // Any model's stream may be handed to any destination.
    let src = usize::from(sel >> 5) % SUPPORTED.len();
    match (sel >> 3) & 3 {
        0 => load_and_restore(rest, model),
        1 => load_and_restore(&with_end(rest), model),
        2 => {
            let mut body = SAMPLES.with(|s| s.get(src).cloned()).unwrap_or_default();
            body.truncate(body.len().saturating_sub(END_LEN));
            for edit in rest.chunks_exact(3) {
                let at = usize::from(u16::from_le_bytes([edit[0], edit[1]]));
                if let Some(b) = body.get_mut(at) {
                    *b ^= edit[2];
                } else if body.len() < MAX_STREAM_LEN + 16 {
                    body.push(edit[2]);
                }
            }
            load_and_restore(&with_end(&body), model)
        }
        _ => load_and_restore(&edit_records(src, rest), model),
    }
}

/// A stream built record by record, for tests that need streams the encoder of
/// [`crate::pure::mig::image`] would never write.
pub fn craft(model: &VfModel, records: &[(u16, u16, &[u8])]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_STREAM_LEN];
    let mut enc = Encoder::new(
        &mut buf,
        &crate::pure::stream::format::Header::for_model(model),
    )
    .expect("hdr");
    for &(tag, flags, payload) in records {
        enc.record(tag, flags, payload).expect("record");
    }
    let n = enc.finish().expect("end");
    buf.truncate(n);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cargo fuzz stream_decode: a valid sample stream restored, kicked and saved again
    /// must come back equal, except the vectors `kick` unmasks on purpose.
    #[test]
    fn fuzz_found_kick_unmasks_auto_masked_vectors() {
        assert!(fuzz_stream_decode(&[0xde, 0x41, 0x01, 0x01]));
    }

    /// cargo fuzz stream_decode: a byte edit that sets the PF's pending mailbox events in the
    /// MAILBOX record's flags; they are the PF's, so a restore and save of the VF alone
    /// does not give them back.
    #[test]
    fn fuzz_found_pf_pending_is_not_in_the_vf() {
        assert!(fuzz_stream_decode(&[
            0x5a, 0x02, 0xfc, 0x42, 0x23, 0x26, 0x00, 0x03
        ]));
    }

    /// The fuzz target's body on deterministic pseudo-random inputs, so that plain
    /// `cargo test` (no nightly, no cargo-fuzz) runs it too.
    #[test]
    fn fuzz_body_on_random_inputs() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut input = Vec::new();
        let mut accepted = 0;
        for i in 0..6000u32 {
            input.clear();
            // Mostly short inputs: a few edits of a valid stream (mode 2) often survive.
            let len = (next() % if i % 2 == 0 { 700 } else { 7 }) as usize;
            input.extend((0..len).map(|_| next() as u8));
            if let Some(first) = input.first_mut() {
                // Cycle through every model and mode.
                *first = (i % 256) as u8;
            }
            accepted += usize::from(fuzz_stream_decode(&input));
        }
        assert!(accepted > 0, "some edited streams still pass validation");
        // Valid streams through every mode: raw, re-ended, unedited bytes, unedited records.
        for (i, m) in SUPPORTED.iter().enumerate() {
            let s = sample_stream(m);
            let sel = i as u8;
            let mut raw = vec![sel];
            raw.extend_from_slice(&s);
            assert!(fuzz_stream_decode(&raw));
            let mut body = vec![sel | 8];
            body.extend_from_slice(&s[..s.len() - 12]);
            assert!(fuzz_stream_decode(&body));
            assert!(fuzz_stream_decode(&[sel | 16 | sel << 5]));
            assert!(fuzz_stream_decode(&[sel | 24 | sel << 5]));
            assert_eq!(edit_records(i, &[]), s);
        }
    }
}
