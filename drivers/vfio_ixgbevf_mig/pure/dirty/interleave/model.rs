// SPDX-License-Identifier: GPL-2.0

//! The interleaving checker's model: the actors' steps ([`Config::enabled`],
//! [`Config::apply`]) over a [`State`], running the driver's ring walker and dirty set.

use super::precise::{forget, Q};
use super::{
    page_of, Config, Guest, Holder, Mig, Protocol, State, Step, Trap, ADDR, DD, DESCS, LEN,
    MAX_PREFETCH, PAGE, RING, SRRCTL, WRITTEN_BACK,
};
use crate::pure::dirty::ranges::{DirtySink, Extent, Span};
use crate::pure::dirty::ring::{RxRing, WalkTally};
use crate::pure::dirty::set::{min_storage, DirtySet};
use crate::pure::hw::family::Family;
use crate::pure::hw::fields::Srrctl;
use crate::pure::testing::dirty::FakeMem;

impl State {
    /// The quadwords of descriptor `i`.
    pub(super) fn descriptor(&self, i: u8) -> [u64; 2] {
        let d = self.desc[usize::from(i % DESCS)];
        let lo = match d & ADDR {
            0 => WRITTEN_BACK[0],
            page => RING + PAGE * u64::from(page),
        };
        let dd = if d & DD != 0 { 0b11 } else { 0 };
        let len = if d & LEN != 0 { 64 << 32 } else { 0 };
        [lo, dd | len]
    }
    /// Page of the buffer in the descriptor at RDH.
    pub(super) fn head_buffer(&self) -> u8 {
        page_of(self.descriptor(self.head)[0])
    }
    /// Page of the buffer of cached descriptor `i` (0: the oldest).
    pub(super) fn cache_page(&self, i: u8) -> u8 {
        self.cache.get(usize::from(i)).copied().unwrap_or(u8::MAX)
    }
}

fn next(i: u8) -> u8 {
    (i + 1) % DESCS
}

pub(super) fn bit(page: u8) -> u64 {
    1u64.checked_shl(u32::from(page)).unwrap_or(0)
}

impl Config {
    pub(super) fn ring(&self) -> RxRing {
        let rdlen = u32::from(DESCS) * 16;
        RxRing::new(Family::Ixgbe, RING, rdlen, Srrctl::from_raw(SRRCTL)).expect("ring")
    }

    pub(super) fn set(&self, bits: u64) -> DirtySet<Vec<Extent>> {
        let span = Span {
            iova: RING,
            len: (1 + u64::from(self.pages())) * PAGE,
        };
        let storage = vec![Extent::EMPTY; min_storage(1)];
        let mut set = DirtySet::new(storage, PAGE, [span]).expect("range");
        let mut rest = bits;
        while rest != 0 {
            set.mark(RING + u64::from(rest.trailing_zeros()) * PAGE, PAGE);
            rest &= rest - 1;
        }
        set
    }

    /// Empties `set` into a page bitmap (`report_and_clear` over the whole range).
    pub(super) fn bits(&self, set: &mut DirtySet<Vec<Extent>>) -> u64 {
        let mut bits = 0;
        let len = (1 + u64::from(self.pages())) * PAGE;
        set.report_and_clear(RING, len, |a, n| {
            (0..n).for_each(|k| bits |= bit(page_of(a + k * PAGE)))
        })
        .expect("window");
        bits
    }

    /// Buffer pages the guest posts (pages 1 to this of the logged range).
    pub(super) const fn pages(&self) -> u8 {
        match self.fresh {
            true => self.posts,
            false => self.buffers,
        }
    }

    pub(super) const fn quiesce_op(&self) -> u8 {
        self.reports + 1
    }
    pub(super) const fn done_op(&self) -> u8 {
        self.reports + 3
    }

    pub(super) fn initial(&self) -> State {
        let f = self.first % DESCS;
        // A ring in use: every descriptor written back and cleaned, ixgbevf having cleared
        // the length of the next one to post.
        let mut desc = [DD | LEN; DESCS as usize];
        if self.guest == Guest::Ixgbevf {
            desc[usize::from(f)] = DD;
        }
        State {
            desc,
            head: f,
            rdt: f,
            cache: [0; MAX_PREFETCH],
            fetched: 0,
            data: 0,
            quiesced: false,
            ntu: f,
            ntc: f,
            posted: 0,
            written: f,
            trap: Trap::Idle,
            lock: None,
            logging: false,
            tails: f,
            dirty: 0,
            op: 0,
            mig: Mig::Lock,
            truth: 0,
            slots: [0; DESCS as usize],
            tracked: false,
        }
    }

    pub(super) fn enabled(&self, s: &State) -> Vec<Step> {
        let mut v = Vec::new();
        if s.op >= self.done_op() {
            return v;
        }
        if s.trap == Trap::Idle && !s.quiesced && (self.early_guest || s.op > 0) {
            let out = (s.ntu + DESCS - s.ntc) % DESCS;
            if s.posted < self.posts && out < self.buffers && out + 1 < DESCS {
                v.push(Step::Post);
            }
            if s.ntu != s.written {
                v.push(Step::WriteTail);
            }
            let done = match self.guest {
                Guest::Ixgbevf => s.descriptor(s.ntc)[1] >> 32 != 0,
                Guest::Igbvf => s.descriptor(s.ntc)[1] & 1 != 0,
            };
            if out > 0 && done {
                v.push(Step::Clean);
            }
        }
        let free = s.lock.is_none();
        if !matches!(s.trap, Trap::Idle) && (free || !matches!(s.trap, Trap::Lock(_))) {
            v.push(Step::Trap);
        }
        if free || s.mig != Mig::Lock || s.op == self.quiesce_op() {
            v.push(Step::Migration);
        }
        if s.quiesced {
            return v;
        }
        let more = s.head != s.rdt;
        if self.prefetch == 0 {
            if s.fetched == 0 && more {
                v.push(Step::Data);
            }
            if s.fetched == 1 {
                v.push(Step::WriteBack(1));
            }
            return v;
        }
        if s.fetched < self.prefetch && more {
            v.push(Step::Fetch);
        }
        if s.data < s.fetched {
            v.push(Step::Data);
        }
        if s.data >= self.wthresh {
            v.push(Step::WriteBack(self.wthresh));
        }
        if s.data > 0 && s.data != self.wthresh {
            v.push(Step::WriteBack(s.data));
        }
        v
    }

    /// The state after `step`, and the pages a report step handed out.
    pub(super) fn apply(&self, s: &State, step: Step) -> (State, u64) {
        let mut n = s.clone();
        let mut reported = 0;
        match step {
            Step::Post => {
                let buffer = match self.fresh {
                    true => 1 + s.posted,
                    false => 1 + s.posted % self.buffers,
                };
                let slot = &mut n.desc[usize::from(s.ntu)];
                match self.guest {
                    Guest::Ixgbevf => *slot = *slot & !ADDR | buffer,
                    Guest::Igbvf => *slot = buffer,
                }
                n.ntu = next(s.ntu);
                if self.guest == Guest::Ixgbevf {
                    n.desc[usize::from(n.ntu)] &= !LEN;
                }
                n.posted += 1;
            }
            Step::WriteTail => {
                n.written = s.ntu;
                n.trap = Trap::Lock(s.ntu);
            }
            Step::Clean => n.ntc = next(s.ntc),
            Step::Trap => self.trap(s, &mut n),
            Step::Migration => reported = self.migrate(s, &mut n),
            Step::Fetch => {
                n.cache[usize::from(s.fetched)] = s.head_buffer();
                n.fetched += 1;
                n.head = next(s.head);
            }
            Step::Data if self.prefetch == 0 => {
                n.cache[0] = s.head_buffer();
                n.truth |= bit(n.cache[0]);
                (n.fetched, n.data) = (1, 1);
            }
            Step::Data => {
                n.truth |= bit(s.cache_page(s.data));
                n.data += 1;
            }
            Step::WriteBack(k) => {
                let oldest = self.oldest_cached(s);
                for i in 0..k {
                    n.desc[usize::from((oldest + i) % DESCS)] = DD | LEN;
                }
                n.truth |= bit(0);
                n.cache.rotate_left(usize::from(k));
                n.fetched -= k;
                n.data -= k;
                if self.prefetch == 0 {
                    n.head = next(s.head);
                }
            }
        }
        (n, reported)
    }

    /// Slot of the oldest cached descriptor: `head - fetched`, or `head` for the idealised
    /// device, which advances RDH at the write-back.
    pub(super) fn oldest_cached(&self, s: &State) -> u8 {
        match self.prefetch {
            0 => s.head,
            _ => (s.head + DESCS - s.fetched) % DESCS,
        }
    }

    /// Guest memory holding the ring's descriptors (little-endian, as the device sees them).
    pub(super) fn memory(s: &State) -> FakeMem {
        let mut mem = FakeMem::new();
        let page = mem.page_mut(RING);
        let at = (RING % PAGE) as usize;
        for (chunk, i) in page[at..].chunks_exact_mut(16).zip(0..DESCS) {
            let d = s.descriptor(i);
            chunk[..8].copy_from_slice(&d[0].to_le_bytes());
            chunk[8..].copy_from_slice(&d[1].to_le_bytes());
        }
        mem
    }

    fn trap(&self, s: &State, n: &mut State) {
        let after_walk = |t| match self.protocol.forward_locked() {
            true => Trap::Forward(t),
            false => Trap::Unlock(Some(t)),
        };
        n.trap = match s.trap {
            Trap::Idle => Trap::Idle,
            Trap::Lock(t) => {
                n.lock = Some(Holder::Trap);
                Trap::Read(t)
            }
            // The shell walks from RDH, or what the device owns from RDH (precise), when the
            // device's tail is not the last one trapped.
            Trap::Read(t) if s.logging => match (s.tails == s.rdt, self.protocol.precise()) {
                (true, _) => Trap::Walk([(s.tails, t), (t, t)], t),
                (false, false) => Trap::Walk([(s.head, t), (t, t)], t),
                (false, true) => Trap::Scan {
                    head: s.head,
                    to: t,
                },
            },
            Trap::Read(t) => after_walk(t),
            Trap::Scan { head, to } => match self.owned_walks(s, head, to) {
                Some(walks) => Trap::Walk(walks, to),
                None => {
                    let mut set = self.set(s.dirty);
                    set.mark_all();
                    n.dirty = self.bits(&mut set);
                    n.tails = to;
                    after_walk(to)
                }
            },
            Trap::Walk(walks, to) => {
                let mut set = self.set(s.dirty);
                let mut tally = WalkTally::default();
                let mut mem = Self::memory(s);
                let ring = self.ring();
                let mut walk = |sink: &mut dyn DirtySink| {
                    walks.iter().all(|&(f, t)| {
                        let (f, t) = (u32::from(f), u32::from(t));
                        ring.walk_all(f, t, &mut mem, sink, &mut tally)
                    })
                };
                let known = match self.protocol.precise() {
                    true => self.with_slots(s, n, true, |slots| {
                        if self.protocol == Protocol::PreciseForgetReposted {
                            forget(slots, &ring, walks);
                        }
                        walk(&mut slots.recorder(Q, &ring, &mut set).expect("tracked"))
                    }),
                    false => walk(&mut set),
                };
                if !known {
                    set.mark_all();
                }
                n.dirty = self.bits(&mut set);
                n.tails = to;
                after_walk(to)
            }
            Trap::Forward(t) => {
                n.rdt = t;
                match s.lock {
                    Some(Holder::Trap) => Trap::Unlock(None),
                    _ => Trap::Idle,
                }
            }
            Trap::Unlock(then) => {
                n.lock = None;
                then.map_or(Trap::Idle, Trap::Forward)
            }
        };
    }

    /// The walks covering what the device owns ([`RxRing::owned_from`] `head` and `tail`,
    /// then [`RxRing::owned_walks`]) in `s`'s ring; `None` when that is unknown.
    pub(super) fn owned_walks(&self, s: &State, head: u8, tail: u8) -> Option<[(u8, u8); 2]> {
        let ring = self.ring();
        let (h, t) = (u32::from(head), u32::from(tail));
        match ring.owned_from(h, t, &mut Self::memory(s)) {
            Ok(o) if !o.truncated() => {
                let b = |i: u32| u8::try_from(i).unwrap_or(u8::MAX);
                Some(ring.owned_walks(&o, t).map(|(f, t)| (b(f), b(t))))
            }
            _ => None,
        }
    }

    fn migrate(&self, s: &State, n: &mut State) -> u64 {
        let mut reported = 0;
        if s.op == self.quiesce_op() {
            n.quiesced = true;
            n.op += 1;
            return 0;
        }
        n.mig = match s.mig {
            Mig::Lock => {
                n.lock = Some(Holder::Migration);
                Mig::Read
            }
            Mig::Read if self.protocol.by_descriptor() => Mig::Scan {
                head: s.head,
                tail: s.rdt,
            },
            Mig::Read => Mig::Walk([(s.head, s.rdt), (s.rdt, s.rdt)]),
            // A REPORT with records for the ring retires them instead of walking.
            Mig::Scan { head, tail } if self.protocol.precise() && s.op > 0 && s.tracked => {
                self.retire(s, n, head, tail)
            }
            Mig::Scan { head, tail } => match self.owned_walks(s, head, tail) {
                Some(walks) => Mig::Walk(walks),
                None => Mig::Finish {
                    collected: bit(0),
                    refused: true,
                },
            },
            Mig::Walk(walks) if self.protocol.precise() => self.record(s, n, walks),
            Mig::Finish { collected, refused } if self.protocol.precise() => {
                reported = self.finish_precise(s, n, collected, refused);
                Mig::Unlock
            }
            Mig::Walk(walks) => {
                let ring = self.ring();
                let mut spans = vec![(ring.span().iova, ring.span().len)];
                let mut sink = |a, l| spans.push((a, l));
                let (mut mem, mut tally) = (Self::memory(s), WalkTally::default());
                let ok = walks.iter().all(|&(f, t)| {
                    let (f, t) = (u32::from(f), u32::from(t));
                    ring.walk_all(f, t, &mut mem, &mut sink, &mut tally)
                });
                let mut set = self.set(0);
                spans.iter().for_each(|&(a, l)| set.mark(a, l));
                Mig::Finish {
                    collected: self.bits(&mut set),
                    refused: !ok,
                }
            }
            Mig::Finish { collected, refused } => {
                let mut set = self.set(s.dirty | collected);
                if refused {
                    set.mark_all();
                }
                if s.op == 0 {
                    (n.tails, n.logging) = (s.rdt, true);
                } else {
                    reported = self.bits(&mut set);
                    n.truth &= !reported;
                    set = self.set(collected);
                    if refused {
                        set.mark_all();
                    }
                }
                n.dirty = self.bits(&mut set);
                Mig::Unlock
            }
            Mig::Unlock => {
                n.lock = None;
                if s.op == 0 {
                    n.truth = 0;
                }
                n.op += 1;
                Mig::Lock
            }
        };
        reported
    }
}
