// SPDX-License-Identifier: GPL-2.0

//! Per-device statistics: what the driver did for one VF, shown in debugfs as
//! `/sys/kernel/debug/vfio_ixgbevf_mig/<pci name>/stats`, one `name value` line per counter.
//!
//! Every counter is a relaxed [`AtomicU64`]: updates take no lock (the RX tail trap adds to
//! them on every trapped write) and a reader sees each counter on its own, not a snapshot
//! of all of them at one instant. Counters only grow (wrapping at 2^64) while the device is
//! bound; they start at 0 when it binds.
//!
//! C counterparts: the `debugfs` directories of `hisi_acc_vfio_pci` and the `vfio` core
//! (`drivers/vfio/debugfs.c`), which show state rather than counters.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::pure::dirty::ring::WalkTally;

/// Declares [`Counter`]: variants in file order, each with its name in the file.
macro_rules! counters {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal,)+) => {
        /// One counter of [`Stats`]. The declaration order is the order of the file.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Counter {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Counter {
            /// Every counter, in file order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)+];

            /// The counter's name in the `stats` file.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Counter::$variant => $name,)+
                }
            }
        }
    };
}

counters! {
    /// Device states saved: successful `STOP_COPY` arcs (into a new saving file or
    /// continuing a pre-copy one).
    SaveCount = "save_count",
    /// Bytes handed out by `read` on saving files.
    SaveBytes = "save_bytes",
    /// Streams loaded: successful `RESUMING -> STOP` arcs.
    ResumeCount = "resume_count",
    /// Bytes accepted by `write` on resuming files.
    ResumeBytes = "resume_bytes",
    /// Resuming streams refused: at their initial data on `write`, or by
    /// `RESUMING -> STOP` (validation, the PF or the VF refusing them). Once per stream.
    ResumeRefused = "resume_refused",
    /// Migration FSM arcs performed (one `migration_set_state` may take several).
    StateTransitions = "state_transitions",
    /// PCI resets of the function seen by `reset_done` (FLR, `VFIO_DEVICE_RESET`, AER).
    ResetCount = "reset_count",
    /// DMA logging sessions started.
    LogStarts = "log_starts",
    /// DMA logging sessions stopped (by `DMA_LOGGING_STOP` or by closing the device).
    LogStops = "log_stops",
    /// Successful `DMA_LOGGING_REPORT` calls (one per `iova_bitmap` window).
    LogReports = "log_reports",
    /// Pages set in userspace's bitmaps by those reports, summed.
    DirtyPagesReported = "dirty_pages_reported",
    /// The part of those reported while the device was quiesced (the final reports of a
    /// migration, which carry every buffer the device still owns).
    DirtyPagesQuiesced = "dirty_pages_quiesced",
    /// RX tail writes seen by the trap, logging or not.
    TailWrites = "tail_writes",
    /// RX tail writes trapped while logging (the ones that walk descriptors).
    TrapWrites = "trap_writes",
    /// RX descriptors walked, by the trap and by log start and reports (device-owned
    /// descriptors are walked again at every report).
    DescsWalked = "descs_walked",
    /// Descriptors or buffers skipped: descriptor pages unmapped, buffer addresses null or
    /// wrapping the address space, or (trap walks) buffers outside every logged range.
    DescsSkipped = "descs_skipped",
    /// Walks cut at the per-call bound and resumed.
    WalksTruncated = "walks_truncated",
    /// Walks given up: ring registers the walker refuses (nothing to walk: real hardware
    /// cannot run such a ring), or tail indices outside the ring (every logged page is
    /// marked dirty then).
    WalksRefused = "walks_refused",
    /// Longest time one trapped tail write spent while logging (reading the tail and the
    /// ring registers, walking), in nanoseconds; waiting for the log lock not included.
    TrapMaxNs = "trap_max_ns",
    /// Sum of those times, in nanoseconds.
    TrapTotalNs = "trap_total_ns",
    /// Writes touching a trapped BAR0 page refused with EINVAL (not one aligned 32-bit
    /// register), and ioeventfds refused on a trapped page.
    WritesRefused = "writes_refused",
    /// Walks that could not read guest memory safely (no paging IOMMU domain, or the
    /// container refused the read): every logged page was marked dirty instead.
    ViewUnsafe = "view_unsafe",
}

/// Number of counters.
pub const COUNTERS: usize = Counter::ALL.len();

/// The counters of one device.
pub struct Stats {
    values: [AtomicU64; COUNTERS],
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// All counters at 0.
    pub fn new() -> Self {
        Stats {
            values: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn slot(&self, c: Counter) -> Option<&AtomicU64> {
        // CAST: a fieldless enum's discriminant, declared in `ALL`'s order from 0.
        self.values.get(c as usize)
    }

    /// Adds `n` to `c`.
    pub fn add(&self, c: Counter, n: u64) {
        if let Some(v) = self.slot(c) {
            v.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds 1 to `c`.
    pub fn inc(&self, c: Counter) {
        self.add(c, 1);
    }

    /// Raises `c` to `n` if it is below.
    pub fn raise(&self, c: Counter, n: u64) {
        if let Some(v) = self.slot(c) {
            v.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// The current value of `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.slot(c).map_or(0, |v| v.load(Ordering::Relaxed))
    }

    /// One trapped tail write while logging, which took `ns` nanoseconds.
    pub fn trap(&self, ns: u64) {
        self.inc(Counter::TrapWrites);
        self.add(Counter::TrapTotalNs, ns);
        self.raise(Counter::TrapMaxNs, ns);
    }

    /// Adds the walks of `t` (only the counters that changed: each add is an atomic).
    pub fn walks(&self, t: &WalkTally) {
        for (c, n) in [
            (Counter::DescsWalked, t.walked),
            (Counter::DescsSkipped, t.skipped),
            (Counter::WalksTruncated, t.truncated),
            (Counter::WalksRefused, t.refused),
        ] {
            if n != 0 {
                self.add(c, n);
            }
        }
    }

    /// Writes the `stats` file: one `name value` line per counter, in [`Counter::ALL`]
    /// order.
    pub fn write_text(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        for &c in Counter::ALL {
            writeln!(w, "{} {}", c.name(), self.get(c))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_plain_and_in_order() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
            let name = c.name();
            assert!(!name.is_empty());
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert_eq!(Counter::ALL.iter().filter(|d| d.name() == name).count(), 1);
        }
        assert_eq!(COUNTERS, 22);
    }

    #[test]
    fn counters_add_raise_and_print() {
        let s = Stats::default();
        s.inc(Counter::SaveCount);
        s.add(Counter::SaveBytes, 628);
        s.add(Counter::SaveBytes, 2);
        s.trap(500);
        s.trap(300);
        s.trap(900);
        s.walks(&WalkTally {
            walked: 40,
            skipped: 2,
            truncated: 0,
            refused: 1,
        });
        assert_eq!(s.get(Counter::SaveBytes), 630);
        assert_eq!(
            (
                s.get(Counter::TrapWrites),
                s.get(Counter::TrapMaxNs),
                s.get(Counter::TrapTotalNs)
            ),
            (3, 900, 1700)
        );
        let mut text = String::new();
        s.write_text(&mut text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), COUNTERS);
        assert_eq!(lines[0], "save_count 1");
        assert_eq!(lines[1], "save_bytes 630");
        for want in [
            "resume_count 0",
            "trap_writes 3",
            "descs_walked 40",
            "descs_skipped 2",
            "walks_truncated 0",
            "walks_refused 1",
            "trap_max_ns 900",
            "trap_total_ns 1700",
        ] {
            assert!(lines.contains(&want), "{want} missing from {text}");
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_failing_writer_stops_the_text() {
        struct Full(usize);
        impl fmt::Write for Full {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0 = self.0.checked_sub(s.len()).ok_or(fmt::Error)?;
                Ok(())
            }
        }
        let s = Stats::new();
        assert!(s.write_text(&mut Full(20)).is_err());
        assert!(s.write_text(&mut Full(4096)).is_ok());
    }
}
