// SPDX-License-Identifier: GPL-2.0

//! Migration state of one VF: the v2 FSM, quiesce, and reset handling; the data files are
//! `mig_file.rs`.
//!
//! Counterpart of pds `lm.c` and mlx5's `main.c`. One mutex ([`State::lock`]) serialises
//! set/get state, data size, close and reset; the lock order is state mutex, then a file's
//! mutex (never the reverse).
//!
//! Resets: `reset_done` runs with VFIO core locks held (the memory lock, taken for write
//! around the FLR), while our state-mutex holders take that lock for read on every BAR access,
//! so `reset_done` must not wait for the state mutex. mlx5 solves this with a spinlock, a
//! `deferred_reset` flag and `mutex_trylock`; here `reset_done` only bumps an atomic *epoch*.
//! Whoever takes the state mutex next applies the pending reset first (state back to
//! RUNNING, files disabled, quiesce forgotten), and the migration files compare the epoch
//! they were born in on every operation, so a reset invalidates them at once without any
//! lock. Same guarantees, no trylock (which 6.12's Rust `Mutex` lacks) and no unlock loop.

use crate::mig_file::{Epoch, MigFile};
use crate::pure::mig::fsm::{MigState, Step};
use crate::pure::stats::Counter;
use crate::vfio::{device::Device, file::FileRef};
use crate::MigDevice;
use kernel::{
    c_str, new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex,
    },
};

/// What the state mutex protects.
pub(crate) struct Inner {
    /// Current FSM state; only a successful step changes it.
    state: MigState,
    /// Reset epoch this state belongs to.
    epoch: u64,
    /// Saving file (PRE_COPY / STOP_COPY), with our own file reference.
    saving: Option<(Arc<MigFile>, FileRef)>,
    /// Resuming file, with our own file reference.
    resuming: Option<(Arc<MigFile>, FileRef)>,
    /// Queue enables that quiesce turned off (or that a resume loaded), to turn on again
    /// when the device runs.
    quiesced: Option<crate::mig::Enables>,
    /// Mailbox events (`POST_*`) that a STOP_COPY consumed reading the VF's mailbox control;
    /// the PF raises them again if this device runs again (an abandoned migration).
    mbx_consumed: u32,
    /// Userspace has the device open.
    open: bool,
}

impl Inner {
    /// Whether the device is stopped for migration (queues disabled or frozen).
    pub(crate) fn quiesced(&self) -> bool {
        self.state.is_quiesced()
    }

    fn disable_files(&mut self) {
        if let Some((file, _filp)) = self.saving.take() {
            file.disable();
        }
        if let Some((file, _filp)) = self.resuming.take() {
            file.disable();
        }
    }

    /// Back to the state of a freshly reset, running device.
    fn reset(&mut self) {
        self.disable_files();
        self.state = MigState::Running;
        self.quiesced = None;
        self.mbx_consumed = 0;
    }
}

/// The device's migration state.
#[pin_data]
pub(crate) struct State {
    /// Serialises every state change of the device; see the module docs.
    #[pin]
    inner: Mutex<Inner>,
    /// Bumped by `reset_done` without any lock; see the module docs.
    epoch: Arc<Epoch>,
}

/// The state mutex, held; a reset that arrived while the mutex was free is applied on lock.
pub(crate) type StateGuard<'a> = Guard<'a, Inner, MutexBackend>;

impl State {
    /// A closed, running device.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(State {
            inner <- new_mutex!(
                Inner {
                    state: MigState::Running,
                    epoch: 0,
                    saving: None,
                    resuming: None,
                    quiesced: None,
                    mbx_consumed: 0,
                    open: false,
                },
                "vfio_ixgbevf_mig::state"
            ),
            epoch: Arc::new(Epoch::new(), GFP_KERNEL)?,
        }? Error)
    }

    /// Takes the state mutex, applying any reset that happened since it was last held.
    pub(crate) fn lock(&self) -> StateGuard<'_> {
        let mut inner = self.inner.lock();
        let now = self.epoch.get();
        if inner.epoch != now {
            inner.reset();
            inner.epoch = now;
        }
        inner
    }

    /// `open_device` succeeded.
    pub(crate) fn opened(&self) {
        let mut inner = self.lock();
        inner.reset();
        inner.open = true;
    }

    /// `close_device`: files die with the device fd, and the next open starts RUNNING.
    /// Returns whether the device was left quiesced (the PF may still hold its mailbox).
    pub(crate) fn closed(&self) -> bool {
        let mut inner = self.lock();
        let quiesced = inner.state.is_quiesced();
        inner.reset();
        inner.open = false;
        quiesced
    }

    /// The PCI core reset the function. Called under VFIO core locks: see the module docs.
    pub(crate) fn reset_done(&self) {
        self.epoch.bump();
    }

    /// `migration_get_state`.
    pub(crate) fn get(&self) -> MigState {
        self.lock().state
    }
}

/// `migration_set_state`: one arc at a time, committing each only when its step succeeded.
/// A failed step that may have touched the device or consumed the stream leaves the device
/// in ERROR (see [`step`]); only a reset leaves ERROR.
pub(crate) fn set_state(dev: &Device<MigDevice>, new: MigState) -> Result<Option<FileRef>> {
    let data = dev.data();
    let mut inner = data.state.lock();
    // ERROR is sticky: the device's state is unknown (a step failed half way), so only a
    // reset may leave it; and userspace may never ask for ERROR. The core's table would
    // refuse both too, but warns when asked to walk from ERROR.
    if inner.state == MigState::Error || new == MigState::Error {
        return Err(EINVAL);
    }
    let mut file = None;
    while inner.state != new {
        let cur = inner.state;
        let next = dev.core().next_state(cur, new)?;
        if file.is_some() {
            // Only the final arc may produce a file (the core's table guarantees it).
            pr_warn!("migration: file produced before the final arc {:?}\n", next);
            return Err(EINVAL);
        }
        match step(dev, &mut inner, cur, next) {
            Ok(f) => file = f,
            Err(e) => {
                if matches!(
                    Step::of(cur, next),
                    Some(Step::StopCopy { .. } | Step::FinishResume | Step::Quiesce)
                ) {
                    inner.disable_files();
                    inner.state = MigState::Error;
                }
                return Err(e);
            }
        }
        inner.state = next;
        data.stats.inc(Counter::StateTransitions);
    }
    Ok(file)
}

/// Performs one arc.
fn step(
    dev: &Device<MigDevice>,
    inner: &mut Inner,
    cur: MigState,
    next: MigState,
) -> Result<Option<FileRef>> {
    let Some(step) = Step::of(cur, next) else {
        pr_warn!("migration: unsupported arc {:?} -> {:?}\n", cur, next);
        return Err(EINVAL);
    };
    let data = dev.data();
    match step {
        Step::Nop => Ok(None),
        Step::Quiesce => {
            inner.quiesced = Some(crate::mig::quiesce(dev)?);
            Ok(None)
        }
        Step::Unquiesce => {
            if let Some(enables) = inner.quiesced {
                // Forget the saved enables only once the queues run again: a failed attempt
                // stays in RUNNING_P2P and a retry must restart exactly these queues.
                crate::mig::unquiesce(dev, enables, inner.mbx_consumed)?;
                inner.quiesced = None;
                inner.mbx_consumed = 0;
            }
            Ok(None)
        }
        Step::StartPreCopy => {
            let (buf, n) = crate::mig::initial(dev)?;
            let file = MigFile::new_save(data, &dev.data().state.epoch, inner.epoch, buf, n, true)?;
            open_file(&mut inner.saving, file, false).map(Some)
        }
        Step::StopCopy { append } => {
            let quiesced = inner.quiesced.unwrap_or_default();
            let file = if append {
                let (file, _) = inner.saving.as_ref().ok_or(EINVAL)?;
                let mut consumed = 0;
                file.append(|buf, used| {
                    let saved = crate::mig::stop_copy(dev, quiesced, buf, used)?;
                    consumed = saved.consumed;
                    Ok(saved.len)
                })?;
                inner.mbx_consumed |= consumed;
                None
            } else {
                let (mut buf, n) = crate::mig::initial(dev)?;
                let saved = crate::mig::stop_copy(dev, quiesced, &mut buf, n)?;
                inner.mbx_consumed |= saved.consumed;
                let len = saved.len;
                let file =
                    MigFile::new_save(data, &dev.data().state.epoch, inner.epoch, buf, len, false)?;
                Some(open_file(&mut inner.saving, file, false)?)
            };
            data.stats.inc(Counter::SaveCount);
            Ok(file)
        }
        Step::EndSave => {
            inner.disable_files();
            Ok(None)
        }
        Step::StartResume => {
            let file = MigFile::new_resume(data, &dev.data().state.epoch, inner.epoch)?;
            open_file(&mut inner.resuming, file, true).map(Some)
        }
        Step::FinishResume => {
            let (file, _) = inner.resuming.take().ok_or(EINVAL)?;
            let (stream, counted) = file.take_stream();
            match crate::mig::load(dev, &stream) {
                Ok(enables) => {
                    inner.quiesced = Some(enables);
                    // The loaded mailbox replaced whatever an earlier save of this VF read.
                    inner.mbx_consumed = 0;
                    data.stats.inc(Counter::ResumeCount);
                    Ok(None)
                }
                Err(e) => {
                    // A stream refused at its header was counted by `write` already.
                    if !counted {
                        data.stats.inc(Counter::ResumeRefused);
                    }
                    Err(e)
                }
            }
        }
    }
}

/// Creates the anon file for `file`, keeps a reference in `slot` and returns the other.
fn open_file(
    slot: &mut Option<(Arc<MigFile>, FileRef)>,
    file: Arc<MigFile>,
    writable: bool,
) -> Result<FileRef> {
    let name = if writable {
        c_str!("vfio_ixgbevf_mig_resume")
    } else {
        c_str!("vfio_ixgbevf_mig_save")
    };
    let filp = FileRef::create(name, file.clone(), writable)?;
    if let Some((old, _)) = slot.replace((file, filp.clone_ref())) {
        old.disable();
    }
    Ok(filp)
}
