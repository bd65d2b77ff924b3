// SPDX-License-Identifier: GPL-2.0

//! A VF's saved state as stream records, and the stream's sizes.
//!
//! Records after the compatibility record, in this order:
//!
//! | tag | payload (little-endian) | bytes |
//! |---|---|---|
//! | [`TAG_DEV_REGS`] | `n_eitr u8, n_ivar u8, rss u8, 0 u8, EIMS, EIAC, EIAM, EITR[n_eitr], IVAR[n_ivar], IVAR_MISC, PSRTYPE` and, if `rss`, `VFMRQC, VFRSSRK[10], VFRETA[16]` | 40 (igb), 52 (82599/X540), 160 (X550+) |
//! | [`TAG_RX_QUEUE`]` \| q` | `RDBAL, RDBAH, RDLEN, RDH, RDT, RXDCTL, SRRCTL, DCA_RXCTRL` | 32 |
//! | [`TAG_TX_QUEUE`]` \| q` | `TDBAL, TDBAH, TDLEN, TDH, TDT, TXDCTL, TDWBAL, TDWBAH, DCA_TXCTRL` | 36 |
//! | [`TAG_MAILBOX`] | `flags u32 (bit 0: ctrl valid; bits 1-3: the PF's pending REQ, ACK, PING), ctrl u32, MBMEM[16]` | 72 |
//! | [`TAG_PF_CTX`] | [`PfCtx`], field by field | 264 |
//!
//! Every record is mandatory and required. Whole stream sizes ([`stream_len`]): 82576 VF
//! 628 bytes, I350 VF 544, 82599/X540 VF 1144, X550 and later VFs 1252; the PRE_COPY
//! initial data is [`INITIAL_LEN`] (48) of those, the rest comes in STOP_COPY.

use crate::pure::bytes::{Reader, Writer};
use crate::pure::hw::family::VfModel;
use crate::pure::hw::regs::{Reg, MBX_WORDS, RETA_WORDS, RSS_KEY_WORDS};
use crate::pure::mig::check::validate;
use crate::pure::mig::pfctx::{PfCtx, PF_CTX_LEN};
use crate::pure::mig::regio::StateError;
use crate::pure::mig::vfstate::{DevRegs, MailboxRegs, RxRegs, TxRegs, VfState, PF_PENDING_ALL};
use crate::pure::stream::decode::{decode, Decoded};
use crate::pure::stream::error::StreamError;
use crate::pure::stream::format::{
    record_len, Compat, Encoder, Header, END_LEN, FLAG_MANDATORY, INITIAL_LEN, TAG_COMPAT,
    TAG_DEV_REGS, TAG_MAILBOX, TAG_PF_CTX, TAG_RX_QUEUE, TAG_TX_QUEUE,
};

/// RX queue record payload length.
pub const RX_LEN: usize = 8 * 4;
/// TX queue record payload length.
pub const TX_LEN: usize = 9 * 4;
/// Mailbox record payload length.
pub const MBX_LEN: usize = 8 + 4 * MBX_WORDS as usize;
/// Mailbox record flag: the control word is valid.
const MBX_CTRL_VALID: u32 = 1;
/// Mailbox record flags: [`MailboxRegs::pf_pending`] from this bit up. Streams without
/// pending events leave them zero, so older destinations still load them; one with events
/// is refused by a destination that could not replay them.
const MBX_PF_PENDING_SHIFT: u32 = 1;

/// Device register record payload length for `model`.
pub const fn dev_len(model: &VfModel) -> usize {
    let map = model.regs();
    let rss = if model.geometry.rss {
        4 * (1 + RSS_KEY_WORDS as usize + RETA_WORDS as usize)
    } else {
        0
    };
    4 + 4 * (3 + map.count(Reg::Eitr) as usize + map.count(Reg::Ivar) as usize + 2) + rss
}

/// Exact length of a complete stream saved from `model` (all its queues).
pub const fn stream_len(model: &VfModel) -> usize {
    let queues = model.geometry.queues as usize;
    INITIAL_LEN
        + record_len(dev_len(model))
        + queues * (record_len(RX_LEN) + record_len(TX_LEN))
        + record_len(MBX_LEN)
        + record_len(PF_CTX_LEN)
        + END_LEN
}

/// Writes the PRE_COPY initial data (header and compat record) into `buf`; returns
/// [`INITIAL_LEN`].
pub fn write_initial(buf: &mut [u8], model: &VfModel) -> Result<usize, StreamError> {
    let mut enc = Encoder::new(buf, &Header::for_model(model))?;
    let len = u32::try_from(stream_len(model)).map_err(|_| StreamError::NoSpace)?;
    enc.record_with(TAG_COMPAT, FLAG_MANDATORY, |w| {
        Compat::for_model(model, len).write(w)
    })?;
    Ok(enc.len())
}

/// Appends the stop-copy records and the end record to a stream whose initial data
/// ([`write_initial`]) fills `buf[..used]`; returns the total stream length.
pub fn write_stop_copy(
    buf: &mut [u8],
    used: usize,
    model: &VfModel,
    state: &VfState,
    pf: &PfCtx,
) -> Result<usize, StreamError> {
    let mut enc = Encoder::resume(buf, used)?;
    encode(state, pf, model, &mut enc)?;
    let total = enc.finish()?;
    if total != stream_len(model) {
        return Err(StreamError::Malformed);
    }
    Ok(total)
}

/// Writes a whole stream (initial data, records, end) into `buf`; returns its length.
#[cfg(any(test, feature = "testing"))]
pub fn write_stream(
    buf: &mut [u8],
    model: &VfModel,
    state: &VfState,
    pf: &PfCtx,
) -> Result<usize, StreamError> {
    let used = write_initial(buf, model)?;
    write_stop_copy(buf, used, model, state, pf)
}

fn put_all(w: &mut Writer<'_>, values: &[u32]) -> Result<(), StreamError> {
    values.iter().try_for_each(|&v| w.u32(v))?;
    Ok(())
}

/// Appends the state's records (everything between the compat and the end record). The
/// state must carry all of the model's queues, as [`super::snapshot::save`] produces.
pub fn encode(
    state: &VfState,
    pf: &PfCtx,
    model: &VfModel,
    enc: &mut Encoder<'_>,
) -> Result<(), StreamError> {
    let queues = model.geometry.queues;
    if state.rx_queues != queues || state.tx_queues != queues {
        return Err(StreamError::Malformed);
    }
    let map = model.regs();
    let d = &state.dev;
    let (n_eitr, n_ivar) = (map.count(Reg::Eitr), map.count(Reg::Ivar));
    let eitr = d
        .eitr
        .get(..usize::from(n_eitr))
        .ok_or(StreamError::Malformed)?;
    let ivar = d
        .ivar
        .get(..usize::from(n_ivar))
        .ok_or(StreamError::Malformed)?;
    enc.record_with(TAG_DEV_REGS, FLAG_MANDATORY, |w| {
        w.bytes(&[n_eitr, n_ivar, u8::from(model.geometry.rss), 0])?;
        put_all(w, &[d.eims, d.eiac, d.eiam])?;
        put_all(w, eitr)?;
        put_all(w, ivar)?;
        put_all(w, &[d.ivar_misc, d.psrtype])?;
        if model.geometry.rss {
            w.u32(d.mrqc)?;
            put_all(w, &d.rssrk)?;
            put_all(w, &d.reta)?;
        }
        Ok(())
    })?;
    for (n, (rx, tx)) in (0..queues).zip(state.rx.iter().zip(state.tx.iter())) {
        let n = u16::from(n);
        enc.record_with(TAG_RX_QUEUE | n, FLAG_MANDATORY, |w| {
            put_all(
                w,
                &[
                    rx.rdbal,
                    rx.rdbah,
                    rx.rdlen,
                    rx.rdh,
                    rx.rdt,
                    rx.rxdctl,
                    rx.srrctl,
                    rx.dca_rxctrl,
                ],
            )
        })?;
        enc.record_with(TAG_TX_QUEUE | n, FLAG_MANDATORY, |w| {
            put_all(
                w,
                &[
                    tx.tdbal,
                    tx.tdbah,
                    tx.tdlen,
                    tx.tdh,
                    tx.tdt,
                    tx.txdctl,
                    tx.tdwbal,
                    tx.tdwbah,
                    tx.dca_txctrl,
                ],
            )
        })?;
    }
    enc.record_with(TAG_MAILBOX, FLAG_MANDATORY, |w| {
        let (flags, ctrl) = match state.mbx.ctrl {
            Some(c) => (MBX_CTRL_VALID, c),
            None => (0, 0),
        };
        let pending = u32::from(state.mbx.pf_pending & PF_PENDING_ALL) << MBX_PF_PENDING_SHIFT;
        put_all(w, &[flags | pending, ctrl])?;
        put_all(w, &state.mbx.words)
    })?;
    enc.record_with(TAG_PF_CTX, FLAG_MANDATORY, |w| pf.write(w))
}

/// A loaded stream: the VF's registers and its PF context, both validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    /// Registers, for [`super::snapshot::restore`].
    pub vf: VfState,
    /// PF context, for the PF backend.
    pub pf: PfCtx,
}

fn take_all(r: &mut Reader<'_>, dst: &mut [u32]) -> Option<()> {
    dst.iter_mut().try_for_each(|v| {
        *v = r.u32()?;
        Some(())
    })
}

fn parse_dev(p: &[u8], model: &VfModel) -> Option<DevRegs> {
    let map = model.regs();
    let mut r = Reader::new(p);
    let want = [
        map.count(Reg::Eitr),
        map.count(Reg::Ivar),
        u8::from(model.geometry.rss),
        0,
    ];
    if r.array::<4>()? != want {
        return None;
    }
    let mut d = DevRegs {
        eims: r.u32()?,
        eiac: r.u32()?,
        eiam: r.u32()?,
        ..DevRegs::default()
    };
    take_all(&mut r, d.eitr.get_mut(..usize::from(want[0]))?)?;
    take_all(&mut r, d.ivar.get_mut(..usize::from(want[1]))?)?;
    d.ivar_misc = r.u32()?;
    d.psrtype = r.u32()?;
    if model.geometry.rss {
        d.mrqc = r.u32()?;
        take_all(&mut r, &mut d.rssrk)?;
        take_all(&mut r, &mut d.reta)?;
    }
    r.finish()?;
    Some(d)
}

fn parse_words<const N: usize>(p: &[u8]) -> Option<[u32; N]> {
    let mut r = Reader::new(p);
    let mut v = [0u32; N];
    take_all(&mut r, &mut v)?;
    r.finish()?;
    Some(v)
}

fn parse_mailbox(p: &[u8]) -> Option<MailboxRegs> {
    let mut r = Reader::new(p);
    let (flags, ctrl) = (r.u32()?, r.u32()?);
    let pf_pending = u16::try_from(flags >> MBX_PF_PENDING_SHIFT).ok()?;
    if pf_pending & !PF_PENDING_ALL != 0 {
        return None;
    }
    let ctrl = match flags & MBX_CTRL_VALID {
        MBX_CTRL_VALID => Some(ctrl),
        _ if ctrl == 0 => None,
        _ => return None,
    };
    let mut m = MailboxRegs {
        ctrl,
        pf_pending,
        ..MailboxRegs::default()
    };
    take_all(&mut r, &mut m.words)?;
    r.finish()?;
    Some(m)
}

/// Turns a decoded stream's records into a validated [`Image`].
pub fn from_records(dec: &Decoded<'_>, model: &VfModel) -> Result<Image, StateError> {
    let h = dec.header();
    let need = |tag| dec.payload(tag).ok_or(StateError::Record(tag));
    let mut vf = VfState {
        rx_queues: h.rx_queues,
        tx_queues: h.tx_queues,
        dev: parse_dev(need(TAG_DEV_REGS)?, model).ok_or(StateError::Record(TAG_DEV_REGS))?,
        mbx: parse_mailbox(need(TAG_MAILBOX)?).ok_or(StateError::Record(TAG_MAILBOX))?,
        ..VfState::default()
    };
    for (n, rx) in (0..h.rx_queues).zip(vf.rx.iter_mut()) {
        let tag = TAG_RX_QUEUE | u16::from(n);
        let [rdbal, rdbah, rdlen, rdh, rdt, rxdctl, srrctl, dca_rxctrl] =
            parse_words(need(tag)?).ok_or(StateError::Record(tag))?;
        *rx = RxRegs {
            rdbal,
            rdbah,
            rdlen,
            rdh,
            rdt,
            rxdctl,
            srrctl,
            dca_rxctrl,
        };
    }
    for (n, tx) in (0..h.tx_queues).zip(vf.tx.iter_mut()) {
        let tag = TAG_TX_QUEUE | u16::from(n);
        let [tdbal, tdbah, tdlen, tdh, tdt, txdctl, tdwbal, tdwbah, dca_txctrl] =
            parse_words(need(tag)?).ok_or(StateError::Record(tag))?;
        *tx = TxRegs {
            tdbal,
            tdbah,
            tdlen,
            tdh,
            tdt,
            txdctl,
            tdwbal,
            tdwbah,
            dca_txctrl,
        };
    }
    let pf = PfCtx::parse(need(TAG_PF_CTX)?).ok_or(StateError::Record(TAG_PF_CTX))?;
    validate(&vf, model)?;
    pf.validate()?;
    Ok(Image { vf, pf })
}

/// Why a stream could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The stream's structure, checksum or compatibility.
    Stream(StreamError),
    /// A record's contents.
    State(StateError),
}

/// Decodes and validates a complete stream for a `model` destination: the one call the
/// RESUMING → STOP arc makes before it writes anything to the device.
pub fn load(input: &[u8], model: &VfModel) -> Result<Image, LoadError> {
    let dec = decode(input, model).map_err(LoadError::Stream)?;
    from_records(&dec, model).map_err(LoadError::State)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::errno::Errno;
    use crate::pure::hw::family::SUPPORTED;
    use crate::pure::hw::io::fake::FakeBar;
    use crate::pure::mig::quiesce::{quiesce, resume};
    use crate::pure::mig::snapshot::{restore, save, save_mailbox_ctrl};
    use crate::pure::stream::error::Incompat;
    use crate::pure::stream::format::TAG_END;
    use crate::pure::testing::mig::{sample_bar, sample_pf, sample_state, sample_stream};

    fn model(device: u16) -> VfModel {
        VfModel::from_ids(0x8086, device).unwrap()
    }

    /// Registers that a restore neither reads back nor may set: reset, status, causes,
    /// write-only registers, mailbox control.
    fn compared(reg: &crate::pure::hw::regs::RegRef) -> bool {
        use crate::pure::hw::regs::RegRef;
        !matches!(
            reg,
            RegRef::Dev {
                reg: Reg::Ctrl | Reg::Status | Reg::Eicr | Reg::Eics | Reg::Eimc | Reg::Mailbox,
                ..
            }
        )
    }

    #[test]
    fn round_trip_through_the_stream_gives_identical_registers() {
        for m in SUPPORTED {
            // Source: quiesce (RUNNING_P2P), save (STOP_COPY), PRE_COPY initial data first.
            let src = sample_bar(&m);
            let stopped = quiesce(&src, &m, &mut || {}).unwrap();
            let mut state = save(&src, &m, stopped).unwrap();
            save_mailbox_ctrl(&src, &m, &mut state).unwrap();
            // What the source PF had latched travels in the mailbox record.
            state.mbx.pf_pending = PF_PENDING_ALL;
            let mut buf = vec![0u8; 4096];
            let used = write_initial(&mut buf, &m).unwrap();
            let n = write_stop_copy(&mut buf, used, &m, &state, &sample_pf()).unwrap();
            assert_eq!(n, stream_len(&m));
            // The source resumes too (aborted migration): back to where it was.
            resume(&src, &m, stopped).unwrap();

            // Destination: load (RESUMING -> STOP), restore, resume (-> RUNNING).
            let image = load(&buf[..n], &m).unwrap();
            assert_eq!(image.vf, state);
            assert_eq!(image.pf, sample_pf());
            let dst = FakeBar::new(m.regs());
            let enables = restore(&dst, &m, &image.vf, &mut || {}).unwrap();
            assert_eq!(enables, stopped);
            resume(&dst, &m, enables).unwrap();

            let orig = sample_bar(&m);
            let mut count = 0;
            for (r, off) in m.regs().registers().filter(|(r, _)| compared(r)) {
                assert_eq!(dst.peek(off), src.peek(off), "{}: {r}", m.name);
                assert_eq!(dst.peek(off), orig.peek(off), "{}: {r}", m.name);
                count += 1;
            }
            assert!(count >= 42, "{}: {count}", m.name);
        }
    }

    #[test]
    fn stream_sizes_per_model() {
        let sizes: Vec<(u16, usize, usize)> = SUPPORTED
            .iter()
            .map(|m| (m.device, stream_len(m), stream_len(m) - INITIAL_LEN))
            .collect();
        assert_eq!(
            sizes,
            [
                (0x10ED, 1144, 1096),
                (0x1515, 1144, 1096),
                (0x1565, 1252, 1204),
                (0x15A8, 1252, 1204),
                (0x15C5, 1252, 1204),
                (0x57AD, 1252, 1204),
                (0x10CA, 628, 580),
                (0x1520, 544, 496),
            ]
        );
        for m in SUPPORTED {
            assert_eq!(sample_stream(&m).len(), stream_len(&m));
            if m.family == crate::pure::hw::family::Family::Igb {
                assert!(stream_len(&m) <= 2048);
            }
        }
        assert_eq!((dev_len(&model(0x10CA)), dev_len(&model(0x10ED))), (40, 52));
        assert_eq!(dev_len(&model(0x1565)), 160);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        for m in [model(0x10CA), model(0x1565)] {
            let s = sample_stream(&m);
            for at in 0..s.len() {
                for bit in [0x01, 0x80] {
                    let mut bad = s.clone();
                    bad[at] ^= bit;
                    // EINVAL mostly; ENOMEM where the flip makes a length oversize.
                    let err = load(&bad, &m).unwrap_err();
                    assert!(
                        matches!(err.errno(), 22 | 12),
                        "{} byte {at}: {err:?}",
                        m.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_truncation_is_caught() {
        for m in SUPPORTED {
            let s = sample_stream(&m);
            for n in 0..s.len() {
                assert!(load(&s[..n], &m).is_err(), "{} cut at {n}", m.name);
            }
        }
    }

    #[test]
    fn foreign_streams_are_refused() {
        let igb = sample_stream(&model(0x10CA));
        let inc = |w| Err(LoadError::Stream(StreamError::Incompatible(w)));
        assert_eq!(load(&igb, &model(0x10ED)), inc(Incompat::Family));
        assert_eq!(load(&igb, &model(0x1520)), inc(Incompat::Device));
        let x550 = sample_stream(&model(0x1565));
        assert_eq!(load(&x550, &model(0x10ED)), inc(Incompat::Device));
        assert_eq!(load(&x550, &model(0x10CA)), inc(Incompat::Family));
    }

    #[test]
    fn payloads_are_checked_before_anything_is_returned() {
        let m = model(0x10CA);
        // Encode a state the device cannot have held; the destination refuses it.
        let mut state = sample_state(&m);
        state.tx[1].tdlen = 100;
        let mut buf = vec![0u8; 4096];
        let n = write_stream(&mut buf, &m, &state, &sample_pf()).unwrap();
        let err = load(&buf[..n], &m).unwrap_err();
        assert!(matches!(err, LoadError::State(StateError::Invalid { .. })));
        assert_eq!(err.errno(), 22);
        let mut pf = sample_pf();
        pf.vlans[0] = 5000;
        let n = write_stream(&mut buf, &m, &sample_state(&m), &pf).unwrap();
        assert_eq!(
            load(&buf[..n], &m),
            Err(LoadError::State(StateError::PfCtx("vlans")))
        );
        // The mailbox flags word: bit 0 (ctrl valid; a zero ctrl without it) and the PF's
        // three pending events above it, nothing else.
        assert_eq!(parse_mailbox(&[0; MBX_LEN]), Some(MailboxRegs::default()));
        let mut mb = [0u8; MBX_LEN];
        mb[4] = 1;
        assert_eq!(parse_mailbox(&mb), None);
        mb[0] = 2;
        assert_eq!(parse_mailbox(&mb), None);
        assert_eq!(parse_mailbox(&mb[..MBX_LEN - 1]), None);
        mb[4] = 0;
        mb[0] = 0b1110;
        let pending = parse_mailbox(&mb).unwrap();
        assert_eq!(pending.pf_pending, PF_PENDING_ALL);
        assert_eq!(pending.ctrl, None);
        mb[0] = 0b1_0000;
        assert_eq!(parse_mailbox(&mb), None);
        mb[0] = 0;
        mb[3] = 0x80;
        assert_eq!(parse_mailbox(&mb), None);
        // Device registers: counts must match the model.
        let mut d = vec![0u8; dev_len(&m)];
        d[0] = 3;
        d[1] = 1;
        assert!(parse_dev(&d, &m).is_some());
        d[1] = 2;
        assert_eq!(parse_dev(&d, &m), None);
        d[1] = 1;
        d[2] = 1;
        assert_eq!(parse_dev(&d, &m), None);
    }

    #[test]
    fn encoder_side_errors() {
        let m = model(0x10CA);
        let mut state = sample_state(&m);
        let mut small = vec![0u8; stream_len(&m) - 1];
        assert_eq!(
            write_stream(&mut small, &m, &state, &sample_pf()),
            Err(StreamError::NoSpace)
        );
        state.rx_queues = 1;
        let mut buf = vec![0u8; 4096];
        assert_eq!(
            write_stream(&mut buf, &m, &state, &sample_pf()),
            Err(StreamError::Malformed)
        );
        // The state of another model does not fit this model's header.
        let other = sample_state(&model(0x1520));
        assert_eq!(
            write_stream(&mut buf, &m, &other, &sample_pf()),
            Err(StreamError::Malformed)
        );
        let s = sample_stream(&m);
        assert_eq!(
            u16::from_le_bytes([s[s.len() - 12], s[s.len() - 11]]),
            TAG_END
        );
        assert_eq!(
            LoadError::Stream(StreamError::UnknownMandatory(9)).errno(),
            95
        );
    }
}
