// SPDX-License-Identifier: GPL-2.0

//! An exhaustive interleaving checker of the dirty-tracking protocol (host builds only).
//!
//! The guest driver posts RX descriptors and writes the RX tail, the RX tail trap runs on the
//! writing vCPU thread, the migration thread runs `DMA_LOGGING_START` and `_REPORT`, and the
//! device fetches descriptors, writes packet data and writes descriptors back, all at the
//! same time. This module models each of them as a sequence of atomic steps and explores
//! every interleaving of small configurations by depth-first search over states with a
//! visited set ([`check`]), against the invariant the design rests on (`DESIGN.md` §5): *a
//! page the device writes after the report that last cleared it is in a later report*, the
//! last one made after the device is quiesced.
//!
//! The actors run the driver's own pure code on real descriptor bytes: the ring is in
//! [`FakeMem`], the trap walks it with [`RxRing::walk_all`], START and REPORT walk
//! `RDH..RDT` with [`RxRing::walk_all`] or what the descriptors say is owned, in the two
//! steps of [`RxRing::walk_owned`] ([`RxRing::owned_from`], then the walks of
//! [`RxRing::owned_walks`]), and the dirty set is a [`DirtySet`] (kept in the state as its
//! page bitmap, rebuilt for every step, marked with `mark`/`mark_all` and emptied with
//! `report_and_clear`). The ring has 8 descriptors (the smallest `RDLEN`), one queue.
//!
//! - Guest ([`Guest`]): posts a read-format descriptor at its next slot (as ixgbevf does,
//!   writing the packet address and clearing the next descriptor's length, or as igbvf
//!   does, writing both addresses), writes RDT (entering the trap), cleans a written-back
//!   descriptor so that its slot can be posted again with the next of its buffers (or a
//!   fresh page, [`Config::fresh`]).
//! - Trap: lock; read RDH/RDT (walk from the last trapped tail, or from RDH if RDT moved
//!   without the trap); walk and mark; forward the write to RDT; unlock. [`Protocol`] says
//!   whether the forward is inside the critical section. Not logging, it only forwards.
//! - Migration: START (lock, read registers, walk what the device owns, mark it, record the
//!   tail, logging on, unlock), REPORTs (lock, read registers, walk owned descriptors and
//!   collect their buffers and the ring, mark them, report and clear, mark them again,
//!   unlock), quiesce (the device stops), a final REPORT. Judging ownership from the
//!   descriptors adds a step before each walk: the scan back from RDH.
//! - Precise tracking ([`Protocol::Precise`], `precise.rs`): the shell's slot table, a real
//!   [`Slots`] (kept per thread, loaded from and saved to the state around each step that
//!   uses it). The trap walks the newly posted descriptors into its recorder (from RDH,
//!   with a scan first, if the last trapped tail is unknown or not the device's); START
//!   marks the ring and walks the owned descriptors into it; a REPORT scans back from RDH
//!   and retires the records outside the owned window, which mark their buffers and
//!   descriptors (or, with no records for the ring, marks the ring, walks the owned
//!   descriptors into the recorder and marks them), marks every record and the ring if the
//!   device is quiesced, and reports and clears without marking anything again. A walk
//!   after a scan may find a descriptor written back in between: its record then holds no
//!   buffer (the write-back's first quadword is no logged address).
//! - Device ([`Config::prefetch`], [`Config::wthresh`]): the idealised device of QEMU's igb
//!   reads the descriptor at RDH and writes the packet, then writes the descriptor back and
//!   advances RDH; a prefetching device fetches descriptors into its cache (RDH advances at
//!   the fetch), writes packets into them in order, and writes them back in order in
//!   batches of `WTHRESH` or, on a timer, whatever is done (82599 `RXDCTL`).
//!
//! Ground truth: each device write adds its page (buffer, or ring for a write-back); a
//! report removes the pages it hands out (QEMU copies them; pretending it copies at once is
//! the strict reading), START's end removes all (the first pass copies everything after
//! it). After the final report it must be empty; a page reported that the device did not
//! write since its last copy is a false positive ([`Stats`]).
//!
//! Atomicity: a step that only touches the dirty set, the slot table or the lock holder's
//! own variables commutes with every step of the other actors (those are only ever touched
//! under the lock), so it is merged into a neighbouring step; each register read, each scan or walk
//! of the ring, each device write and each forward is a step of its own. (A walk reads the
//! 8-descriptor ring in one batch unless it wraps; descriptors only change by write-back, in
//! ring order and after their buffer, so a split read sees nothing an atomic one could not
//! make safe.) Once the device is quiesced the guest starts nothing new: its further traps
//! could only add marks.
//!
//! Files: this one (configurations, states, the search), `model.rs` (the actors' steps),
//! `precise.rs` (the steps of [`Protocol::Precise`] that use the slot table), `trace.rs`
//! (counterexamples), `tests.rs` and `tests/` (`precise.rs`).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

#[cfg(doc)]
use crate::pure::{
    dirty::{ring::RxRing, set::DirtySet, slots::Slots},
    testing::dirty::FakeMem,
};

/// Descriptors in the ring (the smallest `RDLEN` allows).
const DESCS: u8 = 8;
/// IOVA of the ring (page 0 of the logged range); the guest's buffers follow page by page.
const RING: u64 = 0x10_0000;
const PAGE: u64 = 4096;

/// The model page (0..64) holding `iova`, or `u8::MAX` outside the model's memory; shared
/// by the model, the precise protocol and the trace printer.
fn page_of(iova: u64) -> u8 {
    iova.checked_sub(RING)
        .map(|o| o / PAGE)
        .filter(|&p| p < 64)
        .map_or(u8::MAX, |p| p as u8)
}
/// Advanced one-buffer descriptors, 2 KiB packet buffers: one page per buffer.
const SRRCTL: u32 = 0x0200_0002;
/// A written-back descriptor: packet type and RSS hash (no address in the logged range),
/// then length 64, EOP and DD.
const WRITTEN_BACK: [u64; 2] = [0xA5A5_0000_0000_0011, (64 << 32) | 0b11];
/// Most descriptors the device caches.
const MAX_PREFETCH: usize = 3;
/// [`State::tails`] after a reprogram: the last trapped tail unknown.
const TAIL_UNKNOWN: u8 = u8::MAX;
/// [`State::desc`]: the page of the packet address (0: none, a write-back's RSS hash), DD
/// set in the second quadword, its length field non-zero.
const ADDR: u8 = 0x0F;
const DD: u8 = 0x10;
const LEN: u8 = 0x20;

/// How the guest driver posts and cleans RX descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guest {
    /// ixgbevf (and igb, ixgbe): posts by writing the packet address only and clearing the
    /// length of the next descriptor to post, so a posted descriptor keeps DD set from its
    /// last write-back; a descriptor is done when its length is non-zero.
    Ixgbevf,
    /// igbvf (and DPDK), as the datasheets have it: posts both addresses, the header one 0
    /// (DD clear); a descriptor is done when DD is set.
    Igbvf,
}

/// Which trap and report protocol the shell runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// The shell before the fix: the trap forwards the tail write after unlocking, START and
    /// REPORT take `RDH..RDT` as what the device owns.
    Old,
    /// The forward inside the critical section; `RDH..RDT` ownership.
    ForwardLocked,
    /// The forward after unlocking; ownership judged from the descriptors.
    OwnedByDescriptor,
    /// Both fixes: the forward inside the critical section, ownership from the descriptors.
    Fixed,
    /// Precise tracking with the slot table ([`Slots`]), as the shell runs it: the trap
    /// records the buffers it walks per slot (marking a re-posted slot's old record), START
    /// records what the device owns, a REPORT marks and forgets the records outside the
    /// owned window ([`Slots::retire_done_with`]: buffers and descriptors; the ring is not
    /// marked otherwise), and every record and the ring while the device is quiesced
    /// ([`Slots::mark_pending`]); nothing is marked again after the clear.
    Precise,
    /// [`Protocol::Precise`] with the ring reprogrammed right after START (a trapped write
    /// to one of its registers, in the same critical section): the slots drained into the
    /// set, the last trapped tail unknown. The first tail write then walks what the device
    /// owns ([`RxRing::walk_owned`]), and a REPORT before it finds no records (records and
    /// marks what the device owns): the branches [`Protocol::Precise`] never reaches.
    PreciseReprogrammed,
    /// Broken on purpose: [`Protocol::Precise`] without [`Slots::mark_pending`] in the final
    /// report (a buffer written and not yet written back when the device stopped is lost).
    PreciseNoQuiesceMark,
    /// Broken on purpose: [`Protocol::Precise`] retiring the records outside `RDH..RDT`
    /// instead of outside the owned window (a prefetched buffer is lost).
    PreciseRetireFromHead,
    /// Broken on purpose: [`Protocol::Precise`] with the trap forgetting, unmarked, the
    /// records of the slots it is about to walk (a buffer written through a slot that is
    /// posted again before a report retires it is lost; needs the ring to wrap).
    PreciseForgetReposted,
}

impl Protocol {
    fn forward_locked(self) -> bool {
        !matches!(self, Protocol::Old | Protocol::OwnedByDescriptor)
    }
    fn by_descriptor(self) -> bool {
        !matches!(self, Protocol::Old | Protocol::ForwardLocked)
    }
    /// Whether the slot table is used ([`Protocol::Precise`] and its variants).
    fn precise(self) -> bool {
        matches!(
            self,
            Protocol::Precise
                | Protocol::PreciseReprogrammed
                | Protocol::PreciseNoQuiesceMark
                | Protocol::PreciseRetireFromHead
                | Protocol::PreciseForgetReposted
        )
    }
}

/// One configuration to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The shell's protocol.
    pub protocol: Protocol,
    /// The guest's driver.
    pub guest: Guest,
    /// Descriptors the device fetches ahead (RDH advances at the fetch), at most 3; 0 is
    /// the idealised device that advances RDH when it writes the descriptor back.
    pub prefetch: u8,
    /// Write-back batch of a prefetching device (a timer flushes smaller ones).
    pub wthresh: u8,
    /// Descriptors the guest posts in all.
    pub posts: u8,
    /// RX buffers the guest posts in turn (1 to 7; a buffer is reposted once cleaned), or
    /// with [`Config::fresh`] the most it has posted and not cleaned.
    pub buffers: u8,
    /// Whether each post takes a page never posted before (ixgbevf hands a filled page to
    /// the stack and allocates another), rather than the next of the buffers in turn. Only
    /// then is a buffer written through a slot not posted again elsewhere before the slot
    /// is: what shows whether the old buffer of a slot posted again is marked.
    pub fresh: bool,
    /// REPORTs between START and the final one.
    pub reports: u8,
    /// RDH and RDT at the start (the ring wraps after `8 - first` posts).
    pub first: u8,
    /// Whether the guest runs before START has finished; if not, races can only involve
    /// REPORTs.
    pub early_guest: bool,
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buffers = match self.fresh {
            true => format!("fresh pages, {} outstanding,", self.buffers),
            false => format!("{} buffers", self.buffers),
        };
        write!(
            f,
            "{:?}, {:?} guest, prefetch {}, wthresh {}, {} posts of {buffers} from slot {}, \
             {} reports",
            self.protocol,
            self.guest,
            self.prefetch,
            self.wthresh,
            self.posts,
            self.first,
            self.reports
        )
    }
}

/// What exploring a configuration found (it held).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Distinct states explored.
    pub states: usize,
    /// Complete interleavings (paths from the start to the end of the final report).
    pub interleavings: u128,
    /// Pages reported, summed over all interleavings.
    pub reported: u128,
    /// False positives (reported, not written since the last copy), summed likewise.
    pub false_pos: u128,
    /// Fewest and most false positives of one interleaving.
    pub false_pos_range: (u32, u32),
    /// Of [`Stats::false_pos`], those of the final report (after QUIESCE, in the downtime).
    pub false_pos_final: u128,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = |x: u128| hundredths(x, self.interleavings);
        write!(
            f,
            "{} states, {} interleavings; per interleaving {} pages reported, {} false \
             positives (min {}, max {}; {} in the final report)",
            self.states,
            self.interleavings,
            per(self.reported),
            per(self.false_pos),
            self.false_pos_range.0,
            self.false_pos_range.1,
            per(self.false_pos_final)
        )
    }
}

/// `x / n` with two decimals (`n` 0 taken as 1), without overflowing for any `n`.
pub(super) fn hundredths(x: u128, n: u128) -> String {
    let n = n.max(1);
    let frac = match (x % n).checked_mul(100) {
        Some(r) => r / n,
        None => ((x % n) / (n / 100)).min(99),
    };
    format!("{}.{:02}", x / n, frac)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Holder {
    Trap,
    Migration,
}

/// Where the trap is; each variant carries the tail being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Trap {
    Idle,
    Lock(u8),
    Read(u8),
    /// Find where the owned descriptors start, from this RDH ([`Protocol::precise`], the
    /// last trapped tail unknown or not the device's).
    Scan {
        head: u8,
        to: u8,
    },
    /// Walk these `from..to` stretches (the second one usually empty).
    Walk([(u8, u8); 2], u8),
    Forward(u8),
    /// Unlock, then forward this tail if the forward is outside the critical section.
    Unlock(Option<u8>),
}

/// Where the migration thread is within START or a REPORT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mig {
    Lock,
    Read,
    /// Find where the owned descriptors start ([`Protocol::by_descriptor`]).
    Scan {
        head: u8,
        tail: u8,
    },
    /// Walk these `from..to` stretches.
    Walk([(u8, u8); 2]),
    Finish {
        collected: u64,
        refused: bool,
    },
    Unlock,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Step {
    Post,
    WriteTail,
    Clean,
    Trap,
    Migration,
    Fetch,
    Data,
    WriteBack(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    /// Guest memory, the ring: per slot [`ADDR`], [`DD`] and [`LEN`] bits, rendered into
    /// descriptor bytes by [`State::descriptor`].
    desc: [u8; DESCS as usize],
    head: u8,
    rdt: u8,
    /// Buffer pages of the fetched descriptors, oldest first (the one at `head - fetched`).
    cache: [u8; MAX_PREFETCH],
    fetched: u8,
    /// Of the fetched descriptors, how many have their packet written.
    data: u8,
    quiesced: bool,
    /// Guest: next slot to post, next to clean, posts so far, last tail written.
    ntu: u8,
    ntc: u8,
    posted: u8,
    written: u8,
    trap: Trap,
    lock: Option<Holder>,
    logging: bool,
    tails: u8,
    /// The dirty set, page `p` of the logged range at bit `p`.
    dirty: u64,
    /// Migration operation: 0 START, then REPORTs, QUIESCE, the final REPORT.
    op: u8,
    mig: Mig,
    /// Pages the device wrote since their last copy.
    truth: u64,
    /// [`Protocol::precise`]: the slot table's records, per slot 0 (none) or the page of the
    /// packet buffer (or `precise::NO_BUFFER`, `precise::WRITTEN_BACK_RECORD`) besides the
    /// descriptor, and whether it tracks the ring at all ([`Slots::tracks`]).
    slots: [u8; DESCS as usize],
    tracked: bool,
}

impl Hash for State {
    /// Every field, packed into words (the derived hash goes byte slice by byte slice).
    fn hash<H: Hasher>(&self, h: &mut H) {
        let [c0, c1, c2] = self.cache;
        let flags = u8::from(self.quiesced)
            | u8::from(self.logging) << 1
            | u8::from(self.tracked) << 2
            | match self.lock {
                None => 0,
                Some(Holder::Trap) => 8,
                Some(Holder::Migration) => 16,
            };
        h.write_u64(u64::from_le_bytes(self.desc));
        h.write_u64(u64::from_le_bytes(self.slots));
        h.write_u64(u64::from_le_bytes([
            self.head,
            self.rdt,
            c0,
            c1,
            c2,
            self.fetched,
            self.data,
            self.ntu,
        ]));
        h.write_u64(u64::from_le_bytes([
            self.ntc,
            self.posted,
            self.written,
            self.tails,
            self.op,
            flags,
            0,
            0,
        ]));
        h.write_u64(self.dirty);
        h.write_u64(self.truth);
        self.trap.hash(h);
        self.mig.hash(h);
    }
}

/// A multiplicative hasher for the visited set: SipHash, built without optimisation under
/// `cargo test`, would take most of the search's time.
#[derive(Clone, Copy, Default)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517C_C1B7_2722_0A95);
    }
}

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

type Visited<V> = HashMap<State, V, BuildHasherDefault<Fx>>;

/// Number of interleavings from a state to the end and their false positives.
#[derive(Clone, Copy, Default)]
struct Tally {
    paths: u128,
    reported: u128,
    false_pos: u128,
    fp_min: u32,
    fp_max: u32,
    fp_final: u128,
}

struct Search<'a> {
    cfg: &'a Config,
    memo: Visited<Tally>,
}

impl Search<'_> {
    /// Explores everything reachable from `s`; `Err` if some interleaving loses a page.
    fn explore(&mut self, s: &State) -> Result<Tally, ()> {
        if let Some(t) = self.memo.get(s) {
            return Ok(*t);
        }
        let steps = self.cfg.enabled(s);
        let mut tally = Tally::default();
        if steps.is_empty() {
            assert!(s.op >= self.cfg.done_op(), "deadlock: {s:?}");
            if s.truth != 0 {
                return Err(());
            }
            tally.paths = 1;
        }
        for (i, step) in steps.into_iter().enumerate() {
            let (n, reported) = self.cfg.apply(s, step);
            let fp = (reported & !s.truth).count_ones();
            let fp_final = if s.op + 1 == self.cfg.done_op() {
                fp
            } else {
                0
            };
            let c = self.explore(&n)?;
            // Every interleaving through this step reports its pages once more.
            let weigh = |sum: u128, pages: u32| {
                sum.saturating_add(u128::from(pages).saturating_mul(c.paths))
            };
            tally.paths = tally.paths.saturating_add(c.paths);
            let pages = reported.count_ones();
            tally.reported = weigh(tally.reported.saturating_add(c.reported), pages);
            tally.false_pos = weigh(tally.false_pos.saturating_add(c.false_pos), fp);
            tally.fp_final = weigh(tally.fp_final.saturating_add(c.fp_final), fp_final);
            let (lo, hi) = (c.fp_min + fp, c.fp_max + fp);
            tally.fp_min = if i == 0 { lo } else { tally.fp_min.min(lo) };
            tally.fp_max = tally.fp_max.max(hi);
        }
        self.memo.insert(s.clone(), tally);
        Ok(tally)
    }
}

/// Explores every interleaving of `cfg`: the statistics if no page is ever lost, else a
/// shortest interleaving that loses one.
pub fn check(cfg: &Config) -> Result<Stats, Trace> {
    assert!(usize::from(cfg.prefetch) <= MAX_PREFETCH && cfg.wthresh >= 1);
    assert!((1..DESCS).contains(&cfg.buffers) && cfg.posts > 0);
    assert!(cfg.pages() < 64, "pages of a u64 bitmap");
    // Sized for the larger configurations: growing the table is much of a small search.
    let mut search = Search {
        cfg,
        memo: Visited::with_capacity_and_hasher(1 << 16, Default::default()),
    };
    match search.explore(&cfg.initial()) {
        Ok(t) => Ok(Stats {
            states: search.memo.len(),
            interleavings: t.paths,
            reported: t.reported,
            false_pos: t.false_pos,
            false_pos_range: (t.fp_min, t.fp_max),
            false_pos_final: t.fp_final,
        }),
        Err(()) => Err(trace::counterexample(cfg)),
    }
}

mod model;
mod precise;
mod trace;
pub use trace::Trace;

#[cfg(test)]
mod tests;
