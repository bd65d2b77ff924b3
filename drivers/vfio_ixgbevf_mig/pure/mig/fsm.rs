// SPDX-License-Identifier: GPL-2.0

//! The VFIO migration v2 state machine, as far as it is a decision.
//!
//! The VFIO core (`vfio_mig_get_next_state()`) breaks any requested transition into single
//! arcs; this module says what each single arc means for a VF that has no migration support
//! of its own. The kernel shell (`state.rs`) performs the [`Step`] and commits the new state
//! only when it succeeded.
//!
//! Arcs and their meaning (with `STOP_COPY | P2P | PRE_COPY` advertised):
//!
//! | arc | step |
//! |---|---|
//! | RUNNING → RUNNING_P2P, PRE_COPY → PRE_COPY_P2P | [`Step::Quiesce`]: the VF stops initiating DMA |
//! | RUNNING_P2P → RUNNING, PRE_COPY_P2P → PRE_COPY | [`Step::Unquiesce`]: restores exactly what quiesce stopped |
//! | RUNNING_P2P → STOP, STOP → RUNNING_P2P | [`Step::Nop`]: queues are already stopped; the guest cannot run |
//! | RUNNING → PRE_COPY, RUNNING_P2P → PRE_COPY_P2P | [`Step::StartPreCopy`]: saving file with the compatibility header |
//! | PRE_COPY → RUNNING, PRE_COPY_P2P → RUNNING_P2P | [`Step::EndSave`]: the saving file is disabled |
//! | STOP → STOP_COPY | [`Step::StopCopy`] with a new saving file |
//! | PRE_COPY_P2P → STOP_COPY | [`Step::StopCopy`] appended to the pre-copy file |
//! | STOP_COPY → STOP | [`Step::EndSave`] |
//! | STOP → RESUMING | [`Step::StartResume`]: resuming file |
//! | RESUMING → STOP | [`Step::FinishResume`]: validate the stream, then load it |
//!
//! Anything else (including every arc out of ERROR) is refused with `EINVAL`; ERROR is left
//! only through a device reset.

/// `enum vfio_device_mig_state` (uapi).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigState {
    /// Unrecoverable without a reset.
    Error = 0,
    /// Not running, not DMAing, state readable.
    Stop = 1,
    /// Normal operation.
    Running = 2,
    /// Device state is being read out.
    StopCopy = 3,
    /// Device state is being written in.
    Resuming = 4,
    /// Running, but initiating no DMA (peer-to-peer quiet).
    RunningP2p = 5,
    /// Running, with the saving file open for early data.
    PreCopy = 6,
    /// Pre-copy, and initiating no DMA.
    PreCopyP2p = 7,
}

impl MigState {
    /// Decodes a uapi state value.
    pub const fn from_raw(raw: u32) -> Option<MigState> {
        Some(match raw {
            0 => MigState::Error,
            1 => MigState::Stop,
            2 => MigState::Running,
            3 => MigState::StopCopy,
            4 => MigState::Resuming,
            5 => MigState::RunningP2p,
            6 => MigState::PreCopy,
            7 => MigState::PreCopyP2p,
            _ => return None,
        })
    }

    /// Whether the VF is quiesced (no DMA initiated) in this state.
    pub const fn is_quiesced(self) -> bool {
        !matches!(self, MigState::Running | MigState::PreCopy)
    }
}

/// What the driver does on one arc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do on the device.
    Nop,
    /// Disable the VF's queues and wait for in-flight DMA.
    Quiesce,
    /// Re-enable what [`Step::Quiesce`] disabled.
    Unquiesce,
    /// Open a saving file holding the stream header (pre-copy data).
    StartPreCopy,
    /// Read the VF and PF state into the saving file; `append` continues a pre-copy file.
    StopCopy {
        /// Continue the pre-copy file instead of opening a new one.
        append: bool,
    },
    /// Disable the saving file.
    EndSave,
    /// Open a resuming file.
    StartResume,
    /// Validate the written stream and load it into the VF and PF.
    FinishResume,
}

impl Step {
    /// The step of a single arc, or `None` if the arc is not one the driver implements.
    pub const fn of(cur: MigState, next: MigState) -> Option<Step> {
        use MigState::*;
        Some(match (cur, next) {
            (Running, RunningP2p) | (PreCopy, PreCopyP2p) => Step::Quiesce,
            (RunningP2p, Running) | (PreCopyP2p, PreCopy) => Step::Unquiesce,
            (RunningP2p, Stop) | (Stop, RunningP2p) => Step::Nop,
            (Running, PreCopy) | (RunningP2p, PreCopyP2p) => Step::StartPreCopy,
            (PreCopy, Running) | (PreCopyP2p, RunningP2p) | (StopCopy, Stop) => Step::EndSave,
            (Stop, StopCopy) => Step::StopCopy { append: false },
            (PreCopyP2p, StopCopy) => Step::StopCopy { append: true },
            (Stop, Resuming) => Step::StartResume,
            (Resuming, Stop) => Step::FinishResume,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [MigState; 8] = [
        MigState::Error,
        MigState::Stop,
        MigState::Running,
        MigState::StopCopy,
        MigState::Resuming,
        MigState::RunningP2p,
        MigState::PreCopy,
        MigState::PreCopyP2p,
    ];

    #[test]
    fn raw_round_trip() {
        for s in ALL {
            assert_eq!(MigState::from_raw(s as u32), Some(s));
        }
        assert_eq!(MigState::from_raw(8), None);
        assert_eq!(MigState::from_raw(u32::MAX), None);
    }

    /// Every arc `vfio_mig_get_next_state()` requires with STOP_COPY | P2P | PRE_COPY
    /// (its comment in drivers/vfio/vfio_main.c) is implemented.
    #[test]
    fn required_arcs_are_implemented() {
        use MigState::*;
        let required = [
            (Resuming, Stop),
            (Stop, Resuming),
            (Stop, StopCopy),
            (StopCopy, Stop),
            (Running, RunningP2p),
            (RunningP2p, Running),
            (RunningP2p, Stop),
            (Stop, RunningP2p),
            (Running, PreCopy),
            (PreCopy, Running),
            (PreCopy, PreCopyP2p),
            (PreCopyP2p, PreCopy),
            (PreCopyP2p, RunningP2p),
            (PreCopyP2p, StopCopy),
            (RunningP2p, PreCopyP2p),
        ];
        for (a, b) in required {
            assert!(Step::of(a, b).is_some(), "{a:?} -> {b:?}");
        }
        let implemented = ALL
            .iter()
            .flat_map(|&a| ALL.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| Step::of(a, b).is_some())
            .count();
        assert_eq!(implemented, required.len());
    }

    #[test]
    fn error_has_no_way_out_and_no_self_arcs() {
        for s in ALL {
            assert_eq!(Step::of(MigState::Error, s), None);
            assert_eq!(Step::of(s, s), None);
        }
    }

    #[test]
    fn quiesced_states() {
        assert!(!MigState::Running.is_quiesced());
        assert!(!MigState::PreCopy.is_quiesced());
        assert!(MigState::RunningP2p.is_quiesced());
        assert!(MigState::Stop.is_quiesced());
        assert!(MigState::PreCopyP2p.is_quiesced());
    }
}
