// SPDX-License-Identifier: GPL-2.0

//! The steps of [`Protocol::Precise`] (and its variants) that use the slot table: a real
//! [`Slots`] with `Vec` storage, one per thread (its storage is a megabyte: made once, not
//! per step), loaded from the state before such a step and saved into the next state
//! after it.
//!
//! `Slots` has no accessor for its records, so both go through its public operations:
//! loading empties the table ([`Slots::retire_done`] with nothing owned) and announces each
//! recorded slot to a [`Slots::recorder`], marking the slot's buffer into it; saving retires
//! every record the same way and reads them from the marks (each record's buffers, then its
//! descriptor, whose address names the slot). Whether the ring is tracked at all is loaded
//! with [`Slots::drain`] (not tracked) or the recorder (tracked), and saved from
//! [`Slots::tracks`].
//!
//! What the steps do follows the shell (`dirty.rs`: `scan_rx`, `scan_queues`, `report`,
//! `trap_tail`, `trapped`) as it stood when this was written: START marks the ring and walks
//! what the device owns into the recorder; a REPORT of a ring with records marks no ring (the
//! records retired mark their descriptors) and retires with [`Slots::retire_done_with`] and
//! [`RxRing::written_len`]; a REPORT of a ring without records marks the ring, records what
//! the device owns and marks every record; a quiesced REPORT marks every record (and the
//! ring) with [`Slots::mark_pending`]; nothing is marked again after the clear.

use std::cell::RefCell;
use std::collections::HashMap;

use super::page_of;
use super::{Config, Mig, Protocol, State, DESCS, PAGE, RING, TAIL_UNKNOWN, WRITTEN_BACK};
use crate::pure::dirty::ranges::DirtySink;
use crate::pure::dirty::ring::{GuestMem, RxRing, WalkTally};
use crate::pure::dirty::slots::{Posted, Slots, SLOTS_STORAGE};
use crate::pure::hw::fields::DESC_LEN;

/// The modelled queue.
pub(super) const Q: u8 = 0;

/// The table each step loads the state's records into.
type Table = Slots<Vec<Posted>>;

/// A table's content as the state holds it: whether it tracks the ring, and the records.
type Content = (bool, [u8; DESCS as usize]);

thread_local! {
    static TABLE: RefCell<Option<Table>> = const { RefCell::new(None) };
    /// What [`Slots::mark_pending`] marked, per table content.
    static PENDING: RefCell<HashMap<Content, Vec<(u64, u64)>>> = RefCell::new(HashMap::new());
}

/// A sink that keeps nothing (what loading and draining the table marks).
fn discard(_: u64, _: u64) {}

impl Config {
    /// Runs `f` on the slot table holding `s`'s records, then saves them into `n`.
    /// `recorder_first`: `f` starts with [`Slots::recorder`].
    pub(super) fn with_slots<R>(
        &self,
        s: &State,
        n: &mut State,
        recorder_first: bool,
        f: impl FnOnce(&mut Table) -> R,
    ) -> R {
        TABLE.with(|cell| {
            let mut cell = cell.borrow_mut();
            let slots = cell.get_or_insert_with(|| {
                Slots::new(vec![Posted::default(); SLOTS_STORAGE]).expect("storage")
            });
            let ring = self.ring();
            load(slots, &ring, s, recorder_first);
            let r = f(slots);
            (n.tracked, n.slots) = save(slots, &ring);
            r
        })
    }

    /// A REPORT of a ring with records, after the registers were read: retires the records
    /// outside the owned window, their packet buffers marked as far as the descriptors say
    /// the device wrote ([`Slots::retire_done_with`], [`RxRing::written_len`]), or refuses
    /// (what the device owns is unknown). The ring is not marked: the device writes it only
    /// at write-back, and the retired records mark their descriptors.
    pub(super) fn retire(&self, s: &State, n: &mut State, head: u8, tail: u8) -> Mig {
        let ring = self.ring();
        let (h, t) = (u32::from(head), u32::from(tail));
        let mut set = self.set(0);
        let mut mem = Self::memory(s);
        let owned = match ring.owned_from(h, t, &mut mem) {
            Ok(o) if !o.truncated() => ring.owned_walks(&o, t),
            _ => {
                return Mig::Finish {
                    collected: self.bits(&mut set),
                    refused: true,
                }
            }
        };
        let window = match self.protocol {
            Protocol::PreciseRetireFromHead => [(h, t), (t, t)],
            _ => owned,
        };
        // As the shell does: the descriptor as it is now, read from guest memory.
        let written = |slot: u32| {
            let mut desc = [0u8; DESC_LEN as usize];
            let at = ring.span().iova + u64::from(slot) * u64::from(DESC_LEN);
            mem.read(at, &mut desc).ok()?;
            ring.written_len(&desc)
        };
        self.with_slots(s, n, false, |slots| {
            slots.retire_done_with(Q, window, written, &mut set)
        });
        Mig::Finish {
            collected: self.bits(&mut set),
            refused: false,
        }
    }

    /// START, or a REPORT of a ring without records, after the scan: marks the ring, walks
    /// `walks` (what the device owns) into the recorder and, in a REPORT, marks what it
    /// recorded (the shell's "record and mark").
    pub(super) fn record(&self, s: &State, n: &mut State, walks: [(u8, u8); 2]) -> Mig {
        let ring = self.ring();
        let mut set = self.set(0);
        set.mark(ring.span().iova, ring.span().len);
        let (mut mem, mut tally) = (Self::memory(s), WalkTally::default());
        let known = self.with_slots(s, n, true, |slots| {
            let mut rec = slots.recorder(Q, &ring, &mut set).expect("tracked");
            let known = walks.iter().all(|&(f, t)| {
                let (f, t) = (u32::from(f), u32::from(t));
                ring.walk_all(f, t, &mut mem, &mut rec, &mut tally)
            });
            if s.op > 0 {
                slots.mark_pending(Q, &mut set);
            }
            known
        });
        Mig::Finish {
            collected: self.bits(&mut set),
            refused: !known,
        }
    }

    /// The end of START or a REPORT: START records the tail (and, reprogrammed, drains the
    /// table and forgets it), a REPORT marks every record if the device is quiesced, then
    /// reports and clears. Returns the pages reported.
    pub(super) fn finish_precise(
        &self,
        s: &State,
        n: &mut State,
        collected: u64,
        refused: bool,
    ) -> u64 {
        let mut set = self.set(s.dirty | collected);
        if refused {
            set.mark_all();
        }
        let mut reported = 0;
        if s.op == 0 {
            (n.tails, n.logging) = (s.rdt, true);
            if self.protocol == Protocol::PreciseReprogrammed {
                self.with_slots(s, n, false, |slots| slots.drain(Q, &mut set));
                n.tails = TAIL_UNKNOWN;
            }
        } else {
            if s.quiesced && self.protocol != Protocol::PreciseNoQuiesceMark {
                self.mark_pending(s, n, &mut set);
            }
            reported = self.bits(&mut set);
            n.truth &= !reported;
            // The shell marks everything in the scratch set too when the walk was refused,
            // and copies it back after the clear.
            if refused {
                set.mark_all();
            }
        }
        n.dirty = self.bits(&mut set);
        reported
    }

    /// [`Slots::mark_pending`] of `s`'s table into `sink`, which keeps the records. Its marks
    /// are kept per table content: the call goes over every entry of the queue (4096), most
    /// of a debug build's search if made for every state of a final report.
    fn mark_pending<K: DirtySink>(&self, s: &State, n: &mut State, sink: &mut K) {
        let content = (s.tracked, s.slots);
        let marks = PENDING.with(|p| p.borrow().get(&content).cloned());
        let marks = marks.unwrap_or_else(|| {
            let mut marks = Vec::new();
            self.with_slots(s, n, false, |slots| {
                slots.mark_pending(Q, &mut |a, l| marks.push((a, l)));
            });
            assert_eq!(
                (n.tracked, n.slots),
                content,
                "mark_pending keeps the records"
            );
            PENDING.with(|p| p.borrow_mut().insert(content, marks.clone()));
            marks
        });
        marks.iter().for_each(|&(a, l)| sink.mark(a, l));
    }
}

/// [`Protocol::PreciseForgetReposted`]: forgets the records of the slots in `walks` without
/// marking them (a recorder into a sink that keeps nothing, told of each slot).
pub(super) fn forget(slots: &mut Table, ring: &RxRing, walks: [(u8, u8); 2]) {
    let mut sink = discard;
    let mut rec = slots.recorder(Q, ring, &mut sink).expect("tracked");
    for (f, t) in walks {
        let mut i = f;
        while i != t {
            rec.descriptor(u32::from(i));
            i = (i + 1) % DESCS;
        }
    }
}

/// Puts `s`'s records (and whether the ring is tracked) into `slots`. With
/// `recorder_first`, an untracked table may be left tracking the ring with no records: the
/// first thing the step does, [`Slots::recorder`], would drain an untracked queue (of
/// nothing: an untracked queue has no records) and track the ring, and does nothing more to
/// a table that tracks it already. That spares [`Slots::drain`], which goes over all 4096
/// entries of the queue (most of a debug build's search if made for every state of START).
fn load(slots: &mut Table, ring: &RxRing, s: &State, recorder_first: bool) {
    let tracked = s.tracked || recorder_first && slots.tracks(Q, ring);
    if !tracked {
        slots.drain(Q, &mut discard);
        return;
    }
    // Forget every record (nothing owned), then record the state's.
    slots.retire_done(Q, [(0, 0), (0, 0)], &mut discard);
    let mut sink = discard;
    let mut rec = slots.recorder(Q, ring, &mut sink).expect("tracked");
    for (slot, &page) in (0..).zip(s.slots.iter()) {
        let buffer = match page {
            0 => continue,
            NO_BUFFER => None,
            WRITTEN_BACK_RECORD => Some(written_back(ring)),
            page => Some((RING + u64::from(page) * PAGE, ring.packet_len())),
        };
        rec.descriptor(slot);
        if let Some((iova, len)) = buffer {
            rec.mark(iova, len);
        }
    }
}

/// Takes the records out of `slots`: whether the ring is tracked, and what each slot holds
/// (see [`State::slots`]). One [`Slots::retire_done`] with nothing owned marks every record
/// in slot order, each as its buffers then its descriptor (`Posted::mark_into`), whose
/// address names the slot.
fn save(slots: &mut Table, ring: &RxRing) -> (bool, [u8; DESCS as usize]) {
    let mut pages = [0; DESCS as usize];
    if !slots.tracks(Q, ring) {
        return (false, pages);
    }
    let mut marks = Vec::new();
    slots.retire_done(Q, [(0, 0), (0, 0)], &mut |a, l| marks.push((a, l)));
    let desc = u64::from(DESC_LEN);
    let mut buffers = Vec::new();
    for (a, l) in marks {
        // A descriptor of the ring ends a record; anything else is one of its buffers.
        let at = a.wrapping_sub(ring.span().iova);
        let slot = match (at % desc, at / desc) {
            (0, i) if l == desc && i < u64::from(DESCS) => pages.get_mut(i as usize),
            _ => None,
        };
        let Some(page) = slot else {
            buffers.push((a, l));
            continue;
        };
        *page = match buffers[..] {
            [] => NO_BUFFER,
            [(a, l)] if l == ring.packet_len() && in_model(a) => page_of(a),
            [r] if r == written_back(ring) => WRITTEN_BACK_RECORD,
            _ => panic!("slot at {a:#x}: a record the model cannot hold: {buffers:x?}"),
        };
        buffers.clear();
    }
    assert!(
        buffers.is_empty(),
        "buffers without a descriptor: {buffers:x?}"
    );
    (true, pages)
}

/// [`State::slots`]: the slot's record is what the walker makes of a written-back
/// descriptor (read after the scan that found it owned), kept as a buffer (by a sink that
/// does not ignore it; the dirty set does).
pub(super) const WRITTEN_BACK_RECORD: u8 = u8::MAX;
/// [`State::slots`]: the slot's record holds the descriptor and no buffer (its address was
/// outside the logged range: a written-back descriptor's, see [`WRITTEN_BACK_RECORD`]).
pub(super) const NO_BUFFER: u8 = u8::MAX - 1;

/// The buffer the walker records for a written-back descriptor: its first quadword (packet
/// type and RSS hash) read as a packet address with bit 0 a flag (outside the logged range).
fn written_back(ring: &RxRing) -> (u64, u64) {
    let start = WRITTEN_BACK[0] & !1;
    (start, WRITTEN_BACK[0] + ring.packet_len() - start)
}

/// Whether `iova` is the start of a buffer page (a record [`State::slots`] can hold).
fn in_model(iova: u64) -> bool {
    let page = page_of(iova);
    (1..64).contains(&page) && RING + u64::from(page) * PAGE == iova
}
