// SPDX-License-Identifier: GPL-2.0

//! Migration state of one VF: the v2 FSM, its data files, quiesce, and reset handling.
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

use crate::pure::mig::fsm::{MigState, Step};
use crate::pure::stats::{Counter, Stats};
use crate::pure::stream::format::MAX_STREAM_LEN;
use crate::vfio::{device::Device, file::FileRef};
use crate::{sys, MigDevice};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    c_str,
    ffi::{c_uint, c_ulong},
    new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex,
    },
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
};

/// Counts resets of the device; shared with the migration files it created.
pub(crate) struct Epoch(AtomicU64);

impl Epoch {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

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
                    open: false,
                },
                "vfio_ixgbevf_mig::state"
            ),
            epoch: Arc::new(Epoch(AtomicU64::new(0)), GFP_KERNEL)?,
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
        self.epoch.0.fetch_add(1, Ordering::AcqRel);
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
                crate::mig::unquiesce(dev, enables)?;
                inner.quiesced = None;
            }
            Ok(None)
        }
        Step::StartPreCopy => {
            let (buf, n) = crate::mig::initial(dev)?;
            let file = MigFile::new_save(data, inner.epoch, buf, n, true)?;
            open_file(&mut inner.saving, file, false).map(Some)
        }
        Step::StopCopy { append } => {
            let quiesced = inner.quiesced.unwrap_or_default();
            let file = if append {
                let (file, _) = inner.saving.as_ref().ok_or(EINVAL)?;
                let mut d = file.data.lock();
                let used = d.produced;
                d.produced = crate::mig::stop_copy(dev, quiesced, &mut d.buf, used)?;
                d.precopy = false;
                None
            } else {
                let (mut buf, n) = crate::mig::initial(dev)?;
                let len = crate::mig::stop_copy(dev, quiesced, &mut buf, n)?;
                let file = MigFile::new_save(data, inner.epoch, buf, len, false)?;
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
            let file = MigFile::new(FileKind::Resume, data, inner.epoch)?;
            file.data.lock().model = Some(data.model);
            open_file(&mut inner.resuming, file, true).map(Some)
        }
        Step::FinishResume => {
            let (file, _) = inner.resuming.take().ok_or(EINVAL)?;
            let (stream, counted) = {
                let mut d = file.data.lock();
                d.disabled = true;
                (core::mem::take(&mut d.buf), d.refused.is_some())
            };
            match crate::mig::load(dev, &stream) {
                Ok(enables) => {
                    inner.quiesced = Some(enables);
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Save,
    Resume,
}

/// What a file's mutex protects.
struct FileData {
    /// Torn down: every operation fails with ENODEV.
    disabled: bool,
    /// Saving: the stream buffer (sized for the whole stream). Resuming: bytes written.
    buf: KVec<u8>,
    /// Saving: valid bytes at the start of `buf`.
    produced: usize,
    /// Resuming: most bytes accepted (MAX_STREAM_LEN until the header announced the length).
    limit: usize,
    /// Saving: bytes userspace has read.
    read_pos: usize,
    /// Saving: still in PRE_COPY, more data will come (a drained read gets ENOMSG).
    precopy: bool,
    /// Saving: length of the pre-copy (initial) data.
    initial_len: usize,
    /// Resuming: why the stream was refused at its header, repeated on later writes.
    refused: Option<Error>,
    /// Resuming: the destination VF, to reject an incompatible header as soon as it is in.
    model: Option<crate::pure::hw::family::VfModel>,
}

/// A migration data file (saving or resuming), shared by the fd and the device.
#[pin_data]
pub(crate) struct MigFile {
    kind: FileKind,
    /// The device's reset epoch, and the epoch this file was made in.
    epoch: Arc<Epoch>,
    born: u64,
    /// The device's statistics (bytes moved, refused streams).
    stats: Arc<Stats>,
    /// Serialises file operations; taken after the state mutex, never before.
    #[pin]
    data: Mutex<FileData>,
}

impl MigFile {
    fn new(kind: FileKind, dev: &MigDevice, born: u64) -> Result<Arc<MigFile>> {
        Arc::pin_init(
            pin_init!(MigFile {
                kind,
                epoch: dev.state.epoch.clone(),
                born,
                stats: dev.stats.clone(),
                data <- new_mutex!(
                    FileData {
                        disabled: false,
                        buf: KVec::new(),
                        produced: 0,
                        limit: MAX_STREAM_LEN,
                        read_pos: 0,
                        precopy: false,
                        initial_len: 0,
                        model: None,
                        refused: None,
                    },
                    "vfio_ixgbevf_mig::file"
                ),
            }),
            GFP_KERNEL,
        )
    }

    /// A saving file holding `buf[..produced]`; `precopy` while more data is to come.
    fn new_save(
        dev: &MigDevice,
        born: u64,
        buf: KVec<u8>,
        produced: usize,
        precopy: bool,
    ) -> Result<Arc<MigFile>> {
        let file = MigFile::new(FileKind::Save, dev, born)?;
        {
            let mut d = file.data.lock();
            d.buf = buf;
            d.produced = produced;
            d.initial_len = if precopy { produced } else { 0 };
            d.precopy = precopy;
        }
        Ok(file)
    }

    /// Locks the file, failing with ENODEV once it was torn down or the device was reset.
    fn lock_live(&self) -> Result<Guard<'_, FileData, MutexBackend>> {
        let d = self.data.lock();
        if d.disabled || self.epoch.get() != self.born {
            return Err(ENODEV);
        }
        Ok(d)
    }

    /// Tears the file down: later operations fail with ENODEV and the data is freed.
    fn disable(&self) {
        let mut d = self.data.lock();
        d.disabled = true;
        d.buf = KVec::new();
    }

    /// `read()` on a saving file.
    pub(crate) fn read(&self, mut out: UserSliceWriter) -> Result<isize> {
        let mut d = self.lock_live()?;
        if self.kind != FileKind::Save {
            return Err(EINVAL);
        }
        let start = d.read_pos;
        let avail = d.produced.saturating_sub(start);
        if avail == 0 {
            // PRE_COPY: the end for now, more comes with STOP_COPY.
            return if d.precopy {
                Err(crate::vfio::enomsg())
            } else {
                Ok(0)
            };
        }
        let n = avail.min(out.len());
        out.write_slice(d.buf.get(start..start + n).ok_or(EINVAL)?)?;
        d.read_pos = start + n;
        self.stats.add(Counter::SaveBytes, n as u64);
        // CAST: n <= MAX_STREAM_LEN-sized buffers, far below isize::MAX.
        Ok(n as isize)
    }

    /// `write()` on a resuming file: appends, checking the header as soon as it is complete.
    pub(crate) fn write(&self, input: UserSliceReader) -> Result<isize> {
        let mut d = self.lock_live()?;
        if self.kind != FileKind::Resume {
            return Err(EINVAL);
        }
        // A stream refused at its header stays refused: nothing after it can make it valid.
        if let Some(e) = d.refused {
            return Err(e);
        }
        let len = input.len();
        let total = d.buf.len().checked_add(len).ok_or(ENOMEM)?;
        if total > d.limit {
            return Err(ENOMEM);
        }
        input.read_all(&mut d.buf, GFP_KERNEL)?;
        // The initial data is checked the moment it is complete, so an incompatible stream
        // fails on the write that completes it, before the source stops the guest.
        if d.limit == MAX_STREAM_LEN {
            if let Some(model) = d.model {
                match crate::mig::check_initial(&model, &d.buf) {
                    Ok(Some(announced)) if announced >= d.buf.len() => d.limit = announced,
                    Ok(Some(_)) => d.refused = Some(ENOMEM),
                    Ok(None) => {}
                    Err(e) => d.refused = Some(e),
                }
                if let Some(e) = d.refused {
                    // The first refusal of this stream: later writes return early above.
                    self.stats.inc(Counter::ResumeRefused);
                    return Err(e);
                }
            }
        }
        self.stats.add(Counter::ResumeBytes, len as u64);
        // CAST: len <= MAX_STREAM_LEN.
        Ok(len as isize)
    }

    /// `VFIO_MIG_GET_PRECOPY_INFO` on a saving file in PRE_COPY.
    ///
    /// The uAPI answers EINVAL when the device is not in PRE_COPY or PRE_COPY_P2P, which
    /// includes a file torn down because the device left those states (not ENODEV here).
    pub(crate) fn ioctl(&self, cmd: c_uint, arg: c_ulong) -> Result<isize> {
        if cmd != sys::VFIO_MIG_GET_PRECOPY_INFO {
            return Err(ENOTTY);
        }
        let d = self.lock_live().map_err(|_| EINVAL)?;
        if self.kind != FileKind::Save || !d.precopy {
            return Err(EINVAL);
        }
        const MINSZ: usize = core::mem::size_of::<sys::vfio_precopy_info>();
        let (mut reader, mut writer) = UserSlice::new(arg as UserPtr, MINSZ).reader_writer();
        let argsz: u32 = reader.read()?;
        if (argsz as usize) < MINSZ {
            return Err(EINVAL);
        }
        let initial = d.initial_len.saturating_sub(d.read_pos) as u64;
        // All device state beyond the header is produced at STOP_COPY (it is small and only
        // consistent once the VF is stopped), so nothing is ever "dirty" during pre-copy.
        // Field by field in native byte order: argsz and flags are two u32s.
        writer.write(&argsz)?;
        writer.write(&0u32)?;
        writer.write(&initial)?;
        writer.write(&0u64)?;
        Ok(0)
    }
}
