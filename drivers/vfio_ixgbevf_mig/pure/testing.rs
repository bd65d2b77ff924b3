// SPDX-License-Identifier: GPL-2.0

//! Host-only helpers shared by the unit tests and the fuzz targets (`hostcore/fuzz`).
//!
//! Built only for `cargo test` and for the host crate's `testing` feature; never in the
//! kernel. [`sample_bar`] fills a fake BAR the way a running guest driver leaves it,
//! [`fuzz_stream_decode`] is the body of the `stream_decode` fuzz target (and of the
//! deterministic random-input test that runs it under plain `cargo test`).

use super::family::{VfModel, SUPPORTED};
use super::image::{load, write_stream};
use super::io::fake::FakeBar;
use super::pfctx::PfCtx;
use super::quiesce::{kick, quiesce, resume};
use super::regs::{QueueReg, Reg, RegRef};
use super::snapshot::{restore, save, save_mailbox_ctrl, VfState};
use super::stream::{Encoder, FLAG_MANDATORY, MAX_STREAM_LEN, TAG_END};
use super::wire::{crc32, Writer};

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

/// Loads `stream` for `model` and, if it is accepted, restores it into a fresh fake BAR,
/// resumes and kicks; returns whether it was accepted. A stream that [`load`] accepted must
/// restore without error.
fn load_and_restore(stream: &[u8], model: &VfModel) -> bool {
    let Ok(image) = load(stream, model) else {
        return false;
    };
    let bar = FakeBar::new(model.regs());
    let enables = restore(&bar, model, &image.vf, &mut || {}).expect("validated restore");
    resume(&bar, model, enables).expect("validated resume");
    kick(&bar, model).expect("kick");
    true
}

std::thread_local! {
    /// [`sample_stream`] of each model, built once per thread.
    static SAMPLES: Vec<Vec<u8>> = SUPPORTED.iter().map(sample_stream).collect();
}

/// The `stream_decode` fuzz target: must never panic. Returns whether the stream was
/// accepted (for tests; the fuzz target ignores it).
///
/// `data[0]` picks the destination model and the mode, the rest is: 0, a raw stream; 1, a
/// stream body given a valid end record; 2, byte edits `(offset u16 LE, xor u8)` applied to
/// a valid stream's body (of the model `data[0] / 24` picks), then a valid end record.
/// Modes 1 and 2 get past the checksum, so the record walker, payload parsers, validation
/// and restore all see hostile input.
pub fn fuzz_stream_decode(data: &[u8]) -> bool {
    let Some((&sel, rest)) = data.split_first() else {
        return false;
    };
    let Some(model) = SUPPORTED.get(usize::from(sel) % SUPPORTED.len()) else {
        return false;
    };
    match sel / 8 % 3 {
        0 => load_and_restore(rest, model),
        1 => load_and_restore(&with_end(rest), model),
        _ => {
            // Any model's stream may be handed to any destination.
            let src = usize::from(sel / 24) % SUPPORTED.len();
            let mut body = SAMPLES.with(|s| s.get(src).cloned()).unwrap_or_default();
            body.truncate(body.len().saturating_sub(12));
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
    }
}

/// A stream built record by record, for tests that need streams the encoder of
/// [`super::image`] would never write.
pub fn craft(model: &VfModel, records: &[(u16, u16, &[u8])]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_STREAM_LEN];
    let mut enc = Encoder::new(&mut buf, &super::stream::Header::for_model(model)).expect("hdr");
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
        // Valid streams through every mode: raw, re-ended, unedited.
        for (i, m) in SUPPORTED.iter().enumerate() {
            let s = sample_stream(m);
            let sel = i as u8;
            let mut raw = vec![sel];
            raw.extend_from_slice(&s);
            assert!(fuzz_stream_decode(&raw));
            let mut body = vec![sel + 8];
            body.extend_from_slice(&s[..s.len() - 12]);
            assert!(fuzz_stream_decode(&body));
            assert!(fuzz_stream_decode(&[sel + 16 + 24 * sel]));
        }
    }
}
