// SPDX-License-Identifier: GPL-2.0

//! The migration data files: the saving file (PRE_COPY / STOP_COPY) userspace reads the
//! device state from, and the resuming file (RESUMING) it writes the state into.
//!
//! Counterpart of mlx5's `mlx5_vf_migration_file` and mtty's `mtty_migration_file`. Each
//! file is an `Arc<MigFile>` shared by its fd and, while the FSM needs it, by the device
//! (`state.rs`). What its mutex protects is one variant per file kind ([`FileData`]); a torn
//! down file is [`FileData::Disabled`] and later I/O fails with ENODEV. A reset invalidates
//! every file at once through the reset [`Epoch`] the file was born in.

use crate::pure::hw::family::VfModel;
use crate::pure::stats::{Counter, Stats};
use crate::pure::stream::format::MAX_STREAM_LEN;
use crate::vfio::compat::user_ptr;
use crate::vfio::file::{export_stream_file, StreamFile};
use crate::{sys, MigDevice};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    ffi::{c_uint, c_ulong},
    new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex,
    },
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

/// Counts resets of the device; shared by the device's state and the files it created.
pub(crate) struct Epoch(AtomicU64);

impl Epoch {
    /// A device not reset yet.
    pub(crate) fn new() -> Self {
        Epoch(AtomicU64::new(0))
    }

    /// The current epoch.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// A reset happened (called without any lock, see `state.rs`).
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// A saving file's stream.
struct SaveData {
    /// The stream buffer, sized for the whole stream.
    buf: KVec<u8>,
    /// Valid bytes at the start of `buf`.
    produced: usize,
    /// Bytes userspace has read.
    read_pos: usize,
    /// Still in PRE_COPY, more data will come (a drained read gets ENOMSG).
    precopy: bool,
    /// Length of the pre-copy (initial) data.
    initial_len: usize,
}

/// A resuming file's stream.
struct ResumeData {
    /// Bytes written so far.
    buf: KVec<u8>,
    /// Most bytes accepted (MAX_STREAM_LEN until the header announced the length).
    limit: usize,
    /// Why the stream was refused at its header, repeated on later writes.
    refused: Option<Error>,
    /// The destination VF, to reject an incompatible header as soon as it is in.
    model: VfModel,
}

/// What a file's mutex protects.
enum FileData {
    Save(SaveData),
    Resume(ResumeData),
    /// Torn down: every operation fails with ENODEV (PRECOPY_INFO: EINVAL).
    Disabled,
}

/// A migration data file (saving or resuming), shared by the fd and the device.
#[pin_data]
pub(crate) struct MigFile {
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
    fn new(dev: &MigDevice, epoch: &Arc<Epoch>, born: u64, data: FileData) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(MigFile {
                epoch: epoch.clone(),
                born,
                stats: dev.stats.clone(),
                data <- new_mutex!(data, "vfio_ixgbevf_mig::file"),
            }),
            GFP_KERNEL,
        )
    }

    /// A saving file holding `buf[..produced]`; `precopy` while more data is to come.
    pub(crate) fn new_save(
        dev: &MigDevice,
        epoch: &Arc<Epoch>,
        born: u64,
        buf: KVec<u8>,
        produced: usize,
        precopy: bool,
    ) -> Result<Arc<Self>> {
        let data = FileData::Save(SaveData {
            buf,
            produced,
            read_pos: 0,
            precopy,
            initial_len: if precopy { produced } else { 0 },
        });
        Self::new(dev, epoch, born, data)
    }

    /// An empty resuming file for `dev`.
    pub(crate) fn new_resume(dev: &MigDevice, epoch: &Arc<Epoch>, born: u64) -> Result<Arc<Self>> {
        let data = FileData::Resume(ResumeData {
            buf: KVec::new(),
            limit: MAX_STREAM_LEN,
            refused: None,
            model: dev.model,
        });
        Self::new(dev, epoch, born, data)
    }

    /// Locks the file, failing with ENODEV once it was torn down or the device was reset.
    fn lock_live(&self) -> Result<Guard<'_, FileData, MutexBackend>> {
        let d = self.data.lock();
        if matches!(*d, FileData::Disabled) || self.epoch.get() != self.born {
            return Err(ENODEV);
        }
        Ok(d)
    }

    /// Tears the file down: later operations fail with ENODEV and the data is freed.
    pub(crate) fn disable(&self) {
        *self.data.lock() = FileData::Disabled;
    }

    /// STOP_COPY after PRE_COPY: `complete(buf, used)` writes the rest of the stream after
    /// the `used` bytes already produced and returns the stream length; the file then ends
    /// with it (no more ENOMSG).
    pub(crate) fn append(
        &self,
        complete: impl FnOnce(&mut [u8], usize) -> Result<usize>,
    ) -> Result {
        let mut d = self.data.lock();
        let FileData::Save(s) = &mut *d else {
            return Err(EINVAL);
        };
        s.produced = complete(&mut s.buf, s.produced)?;
        s.precopy = false;
        Ok(())
    }

    /// RESUMING → STOP: tears the file down and hands over the stream written, with whether
    /// it was refused (and counted) at its header already.
    pub(crate) fn take_stream(&self) -> (KVec<u8>, bool) {
        let mut d = self.data.lock();
        match core::mem::replace(&mut *d, FileData::Disabled) {
            FileData::Resume(r) => (r.buf, r.refused.is_some()),
            _ => (KVec::new(), false),
        }
    }
}

export_stream_file!(MigFile);

impl StreamFile for MigFile {
    /// `read()` on a saving file.
    fn read(&self, mut out: UserSliceWriter) -> Result<isize> {
        let mut d = self.lock_live()?;
        let FileData::Save(s) = &mut *d else {
            return Err(EINVAL);
        };
        let start = s.read_pos;
        let avail = s.produced.saturating_sub(start);
        if avail == 0 {
            // PRE_COPY: the end for now, more comes with STOP_COPY.
            return if s.precopy {
                Err(crate::vfio::enomsg())
            } else {
                Ok(0)
            };
        }
        let n = avail.min(out.len());
        out.write_slice(s.buf.get(start..start + n).ok_or(EINVAL)?)?;
        s.read_pos = start + n;
        self.stats.add(Counter::SaveBytes, n as u64);
        // CAST: n <= MAX_STREAM_LEN-sized buffers, far below isize::MAX.
        Ok(n as isize)
    }

    /// `write()` on a resuming file: appends, checking the header as soon as it is complete.
    fn write(&self, input: UserSliceReader) -> Result<isize> {
        let mut d = self.lock_live()?;
        let FileData::Resume(r) = &mut *d else {
            return Err(EINVAL);
        };
        // A stream refused at its header stays refused: nothing after it can make it valid.
        if let Some(e) = r.refused {
            return Err(e);
        }
        let len = input.len();
        let total = r.buf.len().checked_add(len).ok_or(ENOMEM)?;
        if total > r.limit {
            return Err(ENOMEM);
        }
        input.read_all(&mut r.buf, GFP_KERNEL)?;
        // The initial data is checked the moment it is complete, so an incompatible stream
        // fails on the write that completes it, before the source stops the guest.
        if r.limit == MAX_STREAM_LEN {
            match crate::mig::check_initial(&r.model, &r.buf) {
                Ok(Some(announced)) if announced >= r.buf.len() => r.limit = announced,
                Ok(Some(_)) => r.refused = Some(ENOMEM),
                Ok(None) => {}
                Err(e) => r.refused = Some(e),
            }
            if let Some(e) = r.refused {
                // The first refusal of this stream: later writes return early above.
                self.stats.inc(Counter::ResumeRefused);
                return Err(e);
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
    fn ioctl(&self, cmd: c_uint, arg: c_ulong) -> Result<isize> {
        if cmd != sys::VFIO_MIG_GET_PRECOPY_INFO {
            return Err(ENOTTY);
        }
        let d = self.lock_live().map_err(|_| EINVAL)?;
        let FileData::Save(s) = &*d else {
            return Err(EINVAL);
        };
        if !s.precopy {
            return Err(EINVAL);
        }
        const MINSZ: usize = core::mem::size_of::<sys::vfio_precopy_info>();
        let (mut reader, mut writer) = UserSlice::new(user_ptr(arg), MINSZ).reader_writer();
        let argsz: u32 = reader.read()?;
        if (argsz as usize) < MINSZ {
            return Err(EINVAL);
        }
        let initial = s.initial_len.saturating_sub(s.read_pos) as u64;
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
