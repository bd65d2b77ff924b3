// SPDX-License-Identifier: GPL-2.0

//! Tests of [`Protocol::Precise`] beyond the exhaustive check and the false positives
//! (`super`): the branches it never takes (after a reprogram), the broken variants the
//! checker must catch, and its steps one by one.

use super::super::model::bit;
use super::super::*;
use super::{explore_all, holds, lost, small, DEVICES};

/// Whether a state reachable in `cfg` satisfies `pred`.
fn reaches(cfg: &Config, pred: impl Fn(&State) -> bool) -> bool {
    let mut seen: Visited<()> = Visited::default();
    let mut stack = vec![cfg.initial()];
    while let Some(s) = stack.pop() {
        if pred(&s) {
            return true;
        }
        for step in cfg.enabled(&s) {
            let (n, _) = cfg.apply(&s, step);
            if seen.insert(n.clone(), ()).is_none() {
                stack.push(n);
            }
        }
    }
    false
}

/// A tail write that walks what the device owns, from RDH (the last trapped tail unknown).
fn trap_walks_owned(s: &State) -> bool {
    matches!(s.trap, Trap::Scan { .. })
}

/// A REPORT that finds no records for the ring and walks what the device owns.
fn report_records(s: &State) -> bool {
    s.op > 0 && matches!(s.mig, Mig::Walk(_))
}

#[test]
fn precise_after_a_reprogram_has_no_false_negative() {
    let cfg = small(Protocol::PreciseReprogrammed, 2, 2);
    assert!(reaches(&cfg, trap_walks_owned) && reaches(&cfg, report_records));
    let precise = small(Protocol::Precise, 2, 2);
    assert!(!reaches(&precise, |s| trap_walks_owned(s) || report_records(s)));
    // Both guests, every device (prefetch 3 is prefetch 2 here), 3 posts of 2 buffers, 1 and
    // 2 REPORTs.
    let mut configs = Vec::new();
    for guest in [Guest::Ixgbevf, Guest::Igbvf] {
        for (prefetch, wthresh) in DEVICES.into_iter().filter(|d| d.0 <= 2) {
            configs.extend((1..=2).map(|reports| Config {
                guest,
                reports,
                ..small(Protocol::PreciseReprogrammed, prefetch, wthresh)
            }));
        }
    }
    let states: usize = explore_all(&configs).iter().map(|s| s.states).sum();
    println!("{} configurations, {states} states", configs.len());
}

#[test]
fn the_checker_catches_broken_precise_variants() {
    for (prefetch, wthresh) in DEVICES {
        // Buffers written, not written back, when the device stopped: only the final
        // report's marking of every record covers them.
        let t = lost(&small(Protocol::PreciseNoQuiesceMark, prefetch, wthresh));
        assert!(t.data_pending_at_quiesce());
        if (prefetch, wthresh) == (2, 2) {
            println!("{t}");
        }
        // Retiring what lies behind RDH: a prefetched descriptor's buffer written after the
        // report is lost; the idealised device advances RDH only at the write-back.
        let cfg = small(Protocol::PreciseRetireFromHead, prefetch, wthresh);
        if prefetch == 0 {
            holds(&cfg);
            continue;
        }
        let t = lost(&cfg);
        assert!(t.prefetched_buffer_written_after_report());
        if (prefetch, wthresh) == (2, 2) {
            println!("{t}");
        }
    }
    // A re-posted slot's old record forgotten: caught once the ring wraps (9 posts on 8
    // slots) with buffers not posted again elsewhere first, not otherwise.
    let cfg = Config {
        posts: 9,
        ..small(Protocol::PreciseForgetReposted, 2, 2)
    };
    holds(&cfg);
    holds(&Config {
        posts: 5,
        fresh: true,
        ..cfg
    });
    let t = lost(&Config { fresh: true, ..cfg });
    assert!(t.slot_reposted_before_report());
    println!("{t}");
}

/// Runs the trap until it is idle again.
fn trap(cfg: &Config, mut s: State) -> State {
    while s.trap != Trap::Idle {
        s = cfg.apply(&s, Step::Trap).0;
    }
    s
}

/// Runs the migration thread to the end of its operation; the pages it reported.
fn migrate(cfg: &Config, mut s: State) -> (State, u64) {
    let (op, mut reported) = (s.op, 0);
    while s.op == op {
        let (n, r) = cfg.apply(&s, Step::Migration);
        (s, reported) = (n, reported | r);
    }
    (s, reported)
}

/// START; b0 in slot 6, b1 in slot 7, one tail write; the device fetches both, writes b0
/// and (the timer) writes slot 6 back; REPORT 1; the device writes b1; QUIESCE; the final
/// report. The states after the trap, REPORT 1 and the final report, and what those two
/// reported.
fn scenario(cfg: &Config) -> [(State, u64); 3] {
    let (mut s, _) = migrate(cfg, cfg.initial());
    for step in [Step::Post, Step::Post, Step::WriteTail] {
        s = cfg.apply(&s, step).0;
    }
    let trapped = trap(cfg, s);
    let mut s = trapped.clone();
    for step in [Step::Fetch, Step::Fetch, Step::Data, Step::WriteBack(1)] {
        s = cfg.apply(&s, step).0;
    }
    let first = migrate(cfg, s);
    let s = cfg.apply(&first.0, Step::Data).0;
    let (s, _) = migrate(cfg, s);
    assert!(s.quiesced);
    [(trapped, 0), first, migrate(cfg, s)]
}

#[test]
fn precise_model_steps() {
    let cfg = Config {
        early_guest: false,
        ..small(Protocol::Precise, 2, 2)
    };
    assert!(!cfg.initial().tracked);
    // START: nothing owned, nothing recorded, the ring tracked; the ring page marked.
    let (s, _) = migrate(&cfg, cfg.initial());
    assert_eq!((s.tracked, s.slots, s.dirty), (true, [0; 8], bit(0)));
    let [(trapped, _), (first, reported), (last, final_reported)] = scenario(&cfg);
    // The tail write recorded b0 and b1, marked nothing.
    assert_eq!((trapped.rdt, trapped.dirty), (0, bit(0)));
    assert_eq!(trapped.slots, [0, 0, 0, 0, 0, 0, 1, 2]);
    // REPORT 1 retired slot 6 (written back): b0 and the descriptor (the ring page, also
    // marked since START); kept slot 7 (fetched, not written back); marked nothing again
    // after the clear.
    assert_eq!(reported, bit(0) | bit(1));
    assert_eq!(
        (first.slots, first.dirty, first.truth),
        ([0, 0, 0, 0, 0, 0, 0, 2], 0, 0)
    );
    // Quiesced with b1 written and slot 7 not written back: the final report marks every
    // record, and keeps them.
    assert_eq!(
        (final_reported, last.truth, last.slots[7]),
        (bit(0) | bit(2), 0, 2)
    );
    // Without that, b1 is lost (and nothing is reported: a tracked ring is marked only by
    // the slots that retire, or by that marking).
    let [_, _, (last, final_reported)] = scenario(&Config {
        protocol: Protocol::PreciseNoQuiesceMark,
        ..cfg
    });
    assert_eq!((final_reported, last.truth), (0, bit(2)));
}
