// SPDX-License-Identifier: GPL-2.0

//! The descriptors the device still owns: where they start ([`RxRing::owned_from`]) and the
//! walk over all of them ([`RxRing::walk_owned`]); see "Descriptors the device still owns" in
//! [`super`]. A child of `ring.rs` for its length; the methods are [`RxRing`]'s like the rest.

use super::*;

impl RxRing {
    /// Where the descriptors the device may still write start, given its `head` (`RDH`) and
    /// `tail` (`RDT`): scans back from `head - 1` over descriptors not yet written back (see
    /// the module documentation), through `tail..head` (the whole ring when `head == tail`:
    /// the device may have fetched every descriptor software posted).
    ///
    /// Stops at the first written-back descriptor ([`RxRing::written_back`]), at the tail,
    /// or after
    /// [`MAX_WALK_DESCS`] descriptors ([`OwnedStop::Bound`]: fail closed). Descriptors on
    /// unmapped pages are counted as still owned and the scan goes on: the device may have
    /// fetched them before the mapping went away, and descriptors further back may still be
    /// pending behind them (the walk then skips the unmapped ones again). Reads go in batches
    /// of up to [`BATCH_DESCS`] that never cross a 4 KiB boundary.
    ///
    /// A guest that posts a descriptor looking written back (DD and a length both set,
    /// which no driver does) ends the scan there: only that guest's own buffers can then be
    /// missed.
    ///
    /// Indices are masked with [`INDEX_MASK`]; one outside the ring is refused like
    /// [`RxRing::walk`] refuses it.
    pub fn owned_from<M>(&self, head: u32, tail: u32, mem: &mut M) -> Result<OwnedStart, RingError>
    where
        M: GuestMem + ?Sized,
    {
        let (head, tail) = (head & INDEX_MASK, tail & INDEX_MASK);
        for index in [head, tail] {
            if index >= self.count {
                return Err(RingError::IndexOutOfRange {
                    index,
                    count: self.count,
                });
            }
        }
        // Both below `count`: no subtraction underflows. Software's side is `tail..head`,
        // the whole ring when they are equal; the device's is `head..tail`.
        let behind = if head > tail {
            head - tail
        } else {
            self.count - tail + head
        };
        let ahead = if tail >= head {
            tail - head
        } else {
            self.count - head + tail
        };
        let limit = behind.min(MAX_WALK_DESCS);
        let mut o = OwnedStart {
            from: head,
            pending: 0,
            owned: ahead,
            scanned: 0,
            unmapped: 0,
            reads: 0,
            stop: OwnedStop::Tail,
        };
        let mut buf = [0u8; (BATCH_DESCS * DESC_LEN) as usize];
        // `o.from` is the oldest descriptor found owned so far; the batch ends right before it.
        'scan: while o.pending < limit {
            let end = if o.from == 0 { self.count } else { o.from };
            // In bounds by the invariants: `end - 1 < count`.
            let last = self
                .base
                .saturating_add(u64::from(end - 1) * u64::from(DESC_LEN));
            let in_page = last % PAGE / u64::from(DESC_LEN) + 1;
            let batch = (limit - o.pending)
                .min(BATCH_DESCS)
                .min(end)
                .min(u32::try_from(in_page).unwrap_or(BATCH_DESCS));
            let first = end - batch;
            let addr = self
                .base
                .saturating_add(u64::from(first) * u64::from(DESC_LEN));
            let bytes = buf
                .get_mut(..(batch * DESC_LEN) as usize)
                .unwrap_or(&mut []);
            o.reads += 1;
            match mem.read(addr, bytes) {
                Ok(()) => {
                    for desc in bytes.chunks_exact(DESC_LEN as usize).rev() {
                        o.scanned += 1;
                        if self.written_back(desc) {
                            o.stop = OwnedStop::WrittenBack;
                            break 'scan;
                        }
                        o.pending += 1;
                        o.from = self.prev(o.from);
                    }
                }
                Err(Unmapped) => {
                    o.scanned += batch;
                    o.unmapped += batch;
                    o.pending += batch;
                    o.from = first;
                }
            }
        }
        if o.stop == OwnedStop::Tail && o.pending < behind {
            o.stop = OwnedStop::Bound;
        }
        o.owned = ahead + o.pending;
        Ok(o)
    }

    /// Marks into `sink` the buffers of every descriptor the device may still write:
    /// [`RxRing::owned_from`] `head`, then [`RxRing::walk_all`] from there to `tail`, with
    /// the scanned descriptors and every walk added to `tally`. What the report path and
    /// `DMA_LOGGING_START` walk instead of `head..tail`.
    ///
    /// Returns `false` when what the device owns is unknown (indices the walker refuses, a
    /// scan that hit its bound, a refused walk; counted in [`WalkTally::refused`]): the
    /// caller must mark everything.
    pub fn walk_owned<M, K>(
        &self,
        head: u32,
        tail: u32,
        mem: &mut M,
        sink: &mut K,
        tally: &mut WalkTally,
    ) -> bool
    where
        M: GuestMem + ?Sized,
        K: DirtySink + ?Sized,
    {
        let o = match self.owned_from(head, tail, mem) {
            Ok(o) => o,
            Err(_) => {
                tally.refuse();
                return false;
            }
        };
        tally.add_scan(&o);
        if o.truncated() {
            tally.refuse();
            return false;
        }
        let [(a, b), (c, d)] = self.owned_walks(&o, tail);
        self.walk_all(a, b, mem, sink, tally) && self.walk_all(c, d, mem, sink, tally)
    }

    /// The `from..to` walks ([`RxRing::walk_all`]) that cover what `o` (from
    /// [`RxRing::owned_from`] with `tail`) found owned: `o.from..tail`, and an empty second
    /// walk; or, when the whole ring is owned (`o.from == tail`, which as one walk would
    /// walk nothing), `o.from..o.from - 1` and `o.from - 1..o.from`.
    pub fn owned_walks(&self, o: &OwnedStart, tail: u32) -> [(u32, u32); 2] {
        let tail = tail & INDEX_MASK;
        if o.owned >= self.count && o.from < self.count {
            let last = self.prev(o.from);
            return [(o.from, last), (last, o.from)];
        }
        [(o.from, tail), (tail, tail)]
    }
}
