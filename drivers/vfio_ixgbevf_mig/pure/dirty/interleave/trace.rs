// SPDX-License-Identifier: GPL-2.0

//! The interleaving checker's counterexamples: a shortest interleaving that loses a page,
//! replayed and described step by step with the registers, the dirty set and the pages
//! written since their last copy after each step.

use std::fmt;

use super::model::bit;
use super::page_of;
use super::precise::{NO_BUFFER, WRITTEN_BACK_RECORD};
use super::{Config, Holder, Mig, Protocol, State, Step, Trap, Visited, DESCS};

/// A shortest interleaving that loses a page: one line per step, with the state after it.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The configuration.
    pub config: Config,
    /// The steps, described.
    pub lines: Vec<String>,
    /// Each step with the state it was taken in.
    path: Vec<(State, Step)>,
}

impl Trace {
    /// Whether a REPORT read the registers after a trap walked and before it forwarded the
    /// tail write (the race of a forward outside the critical section).
    pub fn report_between_walk_and_forward(&self) -> bool {
        let mut walked = false;
        self.path.iter().any(|(s, step)| {
            match (step, s.trap) {
                (Step::Trap, Trap::Walk(..)) => walked = true,
                (Step::Trap, Trap::Forward(_)) => walked = false,
                _ => {}
            }
            walked && *step == Step::Migration && s.mig == Mig::Read && s.op > 0
        })
    }

    /// Whether the device was quiesced with a packet written and its descriptor not yet
    /// written back.
    pub fn data_pending_at_quiesce(&self) -> bool {
        self.path.iter().any(|(s, step)| {
            *step == Step::Migration && s.op == self.config.quiesce_op() && s.data > 0
        })
    }

    /// Whether a ring slot was posted again after the device wrote its packet, with no
    /// REPORT read the registers in between.
    pub fn slot_reposted_before_report(&self) -> bool {
        let mut written = [false; DESCS as usize];
        self.path.iter().any(|(s, step)| {
            match step {
                Step::Data => {
                    let slot = (self.config.oldest_cached(s) + s.data) % DESCS;
                    written[usize::from(slot)] = true;
                }
                Step::Migration if s.mig == Mig::Read => written = [false; DESCS as usize],
                Step::Post => return written[usize::from(s.ntu)],
                _ => {}
            }
            false
        })
    }

    /// Whether the device fetched a descriptor before a REPORT read RDH and wrote its
    /// buffer only after that (a buffer `RDH..RDT` misses).
    pub fn prefetched_buffer_written_after_report(&self) -> bool {
        let (mut pending, mut missed) = (0u64, 0u64);
        self.path.iter().any(|(s, step)| {
            let report = s.op > 0 && s.op != self.config.quiesce_op();
            match step {
                Step::Fetch => pending |= bit(s.head_buffer()),
                Step::Migration if report && s.mig == Mig::Read => missed |= pending,
                Step::Data if self.config.prefetch > 0 => {
                    let b = bit(s.cache_page(s.data));
                    pending &= !b;
                    return missed & b != 0;
                }
                _ => {}
            }
            false
        })
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "page lost with {}:", self.config)?;
        for l in &self.lines {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

fn names(bits: u64) -> String {
    let v: Vec<String> = (0..64)
        .filter(|&p| bits & bit(p) != 0)
        .map(|p| match p {
            0 => "ring".to_string(),
            p => format!("b{}", p - 1),
        })
        .collect();
    format!("{{{}}}", v.join(","))
}

/// Walks `w` (the second one usually empty) of a tail `to`.
fn walks(w: [(u8, u8); 2], to: u8) -> String {
    match w[1].0 != w[1].1 {
        true => format!("the whole ring from {}", w[0].0),
        false => format!("{}..{to}", w[0].0),
    }
}

/// The slot table's records, as `slot:buffer`.
fn records(s: &State) -> String {
    if !s.tracked {
        return "untracked".into();
    }
    let v: Vec<String> = (0u8..)
        .zip(s.slots)
        .filter(|&(_, p)| p != 0)
        .map(|(i, p)| match p {
            WRITTEN_BACK_RECORD => format!("{i}:wb"),
            NO_BUFFER => format!("{i}:-"),
            p => format!("{i}:b{}", p - 1),
        })
        .collect();
    format!("[{}]", v.join(","))
}

impl Config {
    fn op_name(&self, op: u8) -> String {
        match op {
            0 => "START".into(),
            o if o == self.done_op() - 1 => "FINAL REPORT".into(),
            o => format!("REPORT {o}"),
        }
    }

    fn describe(&self, b: &State, step: Step, a: &State, reported: u64) -> String {
        let what = match step {
            Step::Post => {
                let buffer = bit(page_of(a.descriptor(b.ntu)[0]));
                format!("guest   post slot {} -> {}", b.ntu, names(buffer))
            }
            Step::WriteTail => format!("guest   write RDT = {} (trapped)", b.ntu),
            Step::Clean => format!("guest   clean slot {} (DD set)", b.ntc),
            Step::Trap => match (b.trap, a.trap) {
                (Trap::Lock(t), _) => format!("trap    lock (RDT write {t})"),
                (Trap::Read(_), Trap::Walk(w, _)) => {
                    format!(
                        "trap    read RDH={} RDT={}: walk from {}",
                        b.head, b.rdt, w[0].0
                    )
                }
                (Trap::Read(_), Trap::Scan { .. }) => format!(
                    "trap    read RDH={} RDT={}: tail not the last trapped",
                    b.head, b.rdt
                ),
                (Trap::Read(_), _) => "trap    read: not logging".into(),
                (Trap::Scan { .. }, Trap::Walk(w, _)) => {
                    format!("trap    scan back from RDH: owned from {}", w[0].0)
                }
                (Trap::Scan { .. }, _) => "trap    scan refused: mark all".into(),
                (Trap::Walk(w, to), _) => {
                    let what = walks(w, to);
                    let marked = names(a.dirty & !b.dirty);
                    match self.protocol.precise() {
                        true => format!("trap    walk {what} into the slots, mark {marked}"),
                        false => format!("trap    walk {what}, mark {marked}"),
                    }
                }
                (Trap::Forward(t), _) if b.lock == Some(Holder::Trap) => {
                    format!("trap    forward RDT = {t} (locked)")
                }
                (Trap::Forward(t), _) => format!("trap    forward RDT = {t} (after unlock)"),
                _ => "trap    unlock".into(),
            },
            Step::Migration if b.op == self.quiesce_op() => "mig     QUIESCE the device".into(),
            Step::Migration => {
                let op = self.op_name(b.op);
                match (b.mig, a.mig) {
                    (Mig::Lock, _) => format!("mig     {op}: lock"),
                    (Mig::Read, _) => format!("mig     {op}: read RDH={} RDT={}", b.head, b.rdt),
                    (Mig::Scan { .. }, Mig::Walk(w)) => {
                        format!("mig     {op}: scan back from RDH: owned from {}", w[0].0)
                    }
                    (Mig::Scan { .. }, Mig::Finish { refused: true, .. }) => {
                        format!("mig     {op}: scan back from RDH refused")
                    }
                    (Mig::Scan { .. }, Mig::Finish { collected, .. }) => {
                        let what = names(collected);
                        format!("mig     {op}: scan back from RDH, retire: collect {what}")
                    }
                    (Mig::Walk(w), Mig::Finish { collected, .. }) => {
                        let what = walks(w, w[0].1);
                        let into = match self.protocol.precise() {
                            true => " into the slots",
                            false => "",
                        };
                        format!(
                            "mig     {op}: walk {what}{into}, collect {}",
                            names(collected)
                        )
                    }
                    (Mig::Finish { collected, .. }, _) if b.op == 0 => {
                        format!("mig     {op}: mark {}, tail {}", names(collected), b.rdt)
                    }
                    (Mig::Finish { collected, .. }, _) if self.protocol.precise() => format!(
                        "mig     {op}: mark {}, {}report {} (copied)",
                        names(collected),
                        match b.quiesced && self.protocol != Protocol::PreciseNoQuiesceMark {
                            true => "mark every record, ",
                            false => "",
                        },
                        names(reported)
                    ),
                    (Mig::Finish { collected, .. }, _) => format!(
                        "mig     {op}: report {} (copied), re-mark {}",
                        names(reported),
                        names(collected)
                    ),
                    _ => format!("mig     {op}: unlock"),
                }
            }
            Step::Fetch => {
                let buffer = names(bit(b.head_buffer()));
                format!(
                    "device  fetch slot {} ({buffer}), RDH -> {}",
                    b.head, a.head
                )
            }
            Step::Data if self.prefetch == 0 => format!(
                "device  read slot {}, write packet into {}",
                b.head,
                names(bit(a.cache_page(0)))
            ),
            Step::Data => format!(
                "device  write packet into {}",
                names(bit(b.cache_page(b.data)))
            ),
            Step::WriteBack(k) => format!(
                "device  write back {k} descriptor(s) from slot {} (DD)",
                self.oldest_cached(b)
            ),
        };
        let slots = match self.protocol.precise() {
            true => format!(" slots={}", records(a)),
            false => String::new(),
        };
        format!(
            "{what:<60} RDH={} RDT={} set={} written={}{slots}",
            a.head,
            a.rdt,
            names(a.dirty),
            names(a.truth)
        )
    }
}

/// A shortest interleaving that loses a page (breadth first), described step by step.
pub(super) fn counterexample(cfg: &Config) -> Trace {
    let mut nodes: Vec<(State, usize, Option<Step>)> = vec![(cfg.initial(), 0, None)];
    let mut seen: Visited<()> = Visited::default();
    seen.insert(cfg.initial(), ());
    let mut i = 0;
    while let Some((s, _, _)) = nodes.get(i) {
        let s = s.clone();
        let steps = cfg.enabled(&s);
        if steps.is_empty() && s.truth != 0 {
            break;
        }
        for step in steps {
            let (n, _) = cfg.apply(&s, step);
            if seen.insert(n.clone(), ()).is_none() {
                nodes.push((n, i, Some(step)));
            }
        }
        i += 1;
    }
    let mut path = Vec::new();
    while let Some(&(_, parent, Some(step))) = nodes.get(i) {
        path.push((nodes[parent].0.clone(), step));
        i = parent;
    }
    path.reverse();
    let lines = path
        .iter()
        .enumerate()
        .map(|(k, (s, step))| {
            let (a, reported) = cfg.apply(s, *step);
            format!("{:>3}. {}", k + 1, cfg.describe(s, *step, &a, reported))
        })
        .collect();
    Trace {
        config: *cfg,
        lines,
        path,
    }
}
