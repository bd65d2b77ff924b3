// SPDX-License-Identifier: GPL-2.0

//! The anonymous migration data files handed to userspace, and their `file_operations`
//! trampolines (installed in helpers.c).
//!
//! The file layer knows the data behind a file only through [`StreamFile`]: the driver's
//! migration file implements it and exports the trampolines for its type with
//! [`export_stream_file!`], so nothing here names a driver module.

use super::compat::{cstr_ptr, foreign_ptr, user_ptr};
use crate::sys;
use kernel::{
    error::from_err_ptr,
    ffi::{c_char, c_int, c_long, c_uint, c_ulong},
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow},
    types::ForeignOwnable,
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

/// The operations of a stream file (`read`, `write`, `unlocked_ioctl`); each returns the
/// byte count or ioctl result, or the errno for userspace.
pub(crate) trait StreamFile: Send + Sync + 'static {
    /// `read()`; positional reads never get here (ESPIPE).
    fn read(&self, out: UserSliceWriter) -> Result<isize>;
    /// `write()`; positional writes never get here (ESPIPE).
    fn write(&self, input: UserSliceReader) -> Result<isize>;
    /// `ioctl()` with the user's `cmd` and `arg`.
    fn ioctl(&self, cmd: c_uint, arg: c_ulong) -> Result<isize>;
}

/// A [`StreamFile`] whose type the exported trampolines cast `private_data` back to.
///
/// # Safety
///
/// Implemented only by [`export_stream_file!`], together with the trampolines for the type.
/// Their symbol names are fixed (helpers.c's `mig_file_fops` calls them), so the linker allows
/// one such type per module: every migration file holds that type.
pub(crate) unsafe trait ExportedStreamFile: StreamFile {}

/// A reference to an anonymous migration data file whose `private_data` is an
/// `Arc<T>` of the module's [`ExportedStreamFile`] type `T`.
///
/// # Invariants
///
/// `filp` is a valid `struct file` on which this value owns one reference.
pub(crate) struct FileRef {
    filp: *mut sys::file,
}

// SAFETY: a file reference may be dropped (fput) from any task.
unsafe impl Send for FileRef {}
// SAFETY: `&FileRef` gives access to nothing but the pointer value.
unsafe impl Sync for FileRef {}

impl FileRef {
    /// Creates a stream file (`anon_inode_getfile` + `stream_open`) owning one reference to
    /// `data`, released when the file's last reference goes.
    pub(crate) fn create<T: ExportedStreamFile>(
        name: &CStr,
        data: Arc<T>,
        writable: bool,
    ) -> Result<FileRef> {
        let flags = if writable {
            sys::O_WRONLY
        } else {
            sys::O_RDONLY
        };
        let priv_ = foreign_ptr(data);
        // SAFETY: `name` is NUL-terminated and static enough (copied into the dentry); the
        // C side installs our file_operations, whose `release` takes `priv_` back.
        let filp =
            from_err_ptr(unsafe { sys::mig_file_create(cstr_ptr(name), priv_, flags as c_int) });
        match filp {
            // INVARIANT: a new file starts with one reference, now ours.
            Ok(filp) => Ok(FileRef { filp }),
            Err(e) => {
                // SAFETY: the file was not created, so `priv_` was not consumed.
                drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(priv_) });
                Err(e)
            }
        }
    }

    /// Takes another reference to the same file.
    pub(crate) fn clone_ref(&self) -> FileRef {
        // SAFETY: `filp` is valid (type invariant); `get_file` adds a reference.
        let filp = unsafe { sys::mig_get_file(self.filp) };
        // INVARIANT: the new value owns the reference just taken.
        FileRef { filp }
    }

    /// Gives the reference to the VFIO core, which installs it as a new fd.
    pub(crate) fn into_raw(self) -> *mut sys::file {
        let filp = self.filp;
        core::mem::forget(self);
        filp
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { sys::fput(self.filp) }
    }
}

/// Borrows the data behind a migration file.
///
/// # Safety
///
/// `filp` must be a migration file created by [`FileRef::create`] with an `Arc<T>` that is
/// still open.
unsafe fn data<'a, T: StreamFile>(filp: *mut sys::file) -> ArcBorrow<'a, T> {
    // SAFETY: `private_data` was set from `Arc::into_foreign` in `FileRef::create` and is
    // only given back in `release`, after which no file operation can run.
    unsafe { <Arc<T> as ForeignOwnable>::borrow(sys::mig_file_private(filp)) }
}

/// Shared body of the read/write trampolines: stream files have no position, so `pread`
/// and friends get ESPIPE; errors become negative errnos.
///
/// # Safety
///
/// `filp` must be an open migration file holding a `T` (see [`data`]).
unsafe fn stream_op<T: StreamFile>(
    filp: *mut sys::file,
    pos: *mut i64,
    op: impl FnOnce(&T) -> Result<isize>,
) -> isize {
    if !pos.is_null() {
        return ESPIPE.to_errno() as isize;
    }
    // SAFETY: guaranteed by the caller.
    let file = unsafe { data::<T>(filp) };
    op(&file).unwrap_or_else(|e| e.to_errno() as isize)
}

/// Body of `file_operations.read` of migration files.
///
/// # Safety
///
/// `filp` is an open migration file holding a `T`; `buf`, `len` and `pos` as the VFS passes
/// them to `read`.
pub(crate) unsafe fn read<T: StreamFile>(
    filp: *mut sys::file,
    buf: *mut c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    let out = UserSlice::new(user_ptr(buf as usize), len).writer();
    // SAFETY: guaranteed by the caller.
    unsafe { stream_op::<T>(filp, pos, |file| file.read(out)) }
}

/// Body of `file_operations.write` of migration files.
///
/// # Safety
///
/// As for [`read`].
pub(crate) unsafe fn write<T: StreamFile>(
    filp: *mut sys::file,
    buf: *const c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    let input = UserSlice::new(user_ptr(buf as usize), len).reader();
    // SAFETY: guaranteed by the caller.
    unsafe { stream_op::<T>(filp, pos, |file| file.write(input)) }
}

/// Body of `file_operations.unlocked_ioctl` of migration files.
///
/// # Safety
///
/// `filp` is an open migration file holding a `T`; `arg` is the user's ioctl argument.
pub(crate) unsafe fn ioctl<T: StreamFile>(
    filp: *mut sys::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: guaranteed by the caller.
    let file = unsafe { data::<T>(filp) };
    file.ioctl(cmd, arg)
        .unwrap_or_else(|e| e.to_errno() as isize)
}

/// Body of `file_operations.release` of migration files: the last reference is gone.
///
/// # Safety
///
/// Called once per migration file holding a `T`; no other file operation runs afterwards.
pub(crate) unsafe fn release<T: StreamFile>(filp: *mut sys::file) -> c_int {
    // SAFETY: gives back the reference stored by `FileRef::create`; nothing uses it after.
    drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(sys::mig_file_private(filp)) });
    0
}

/// Exports the `file_operations` trampolines of migration files (`rust_mig_file_read`,
/// `_write`, `_ioctl`, `_release`, which helpers.c's `mig_file_fops` installs) for the
/// [`StreamFile`] type `$t`, and marks `$t` as the [`ExportedStreamFile`] that
/// [`FileRef::create`] takes. Invoked once, beside the type.
macro_rules! export_stream_file {
    ($t:ty) => {
        // SAFETY: the trampolines for `$t` are exported right here, under the fixed names.
        #[allow(unsafe_code)]
        unsafe impl $crate::vfio::file::ExportedStreamFile for $t {}

        /// `file_operations.read` of migration files (installed in helpers.c).
        ///
        /// # Safety
        ///
        /// Called by the VFS on a migration file, with a user buffer and `pos` as passed to
        /// `read`.
        #[allow(unsafe_code)]
        #[no_mangle]
        unsafe extern "C" fn rust_mig_file_read(
            filp: *mut $crate::sys::file,
            buf: *mut ::kernel::ffi::c_char,
            len: usize,
            pos: *mut i64,
        ) -> isize {
            // SAFETY: the VFS calls this on an open migration file; every one holds a `$t`.
            unsafe { $crate::vfio::file::read::<$t>(filp, buf, len, pos) }
        }

        /// `file_operations.write` of migration files.
        ///
        /// # Safety
        ///
        /// As for `rust_mig_file_read`.
        #[allow(unsafe_code)]
        #[no_mangle]
        unsafe extern "C" fn rust_mig_file_write(
            filp: *mut $crate::sys::file,
            buf: *const ::kernel::ffi::c_char,
            len: usize,
            pos: *mut i64,
        ) -> isize {
            // SAFETY: the VFS calls this on an open migration file; every one holds a `$t`.
            unsafe { $crate::vfio::file::write::<$t>(filp, buf, len, pos) }
        }

        /// `file_operations.unlocked_ioctl` of migration files.
        ///
        /// # Safety
        ///
        /// As for `rust_mig_file_read`; `arg` is the user's ioctl argument.
        #[allow(unsafe_code)]
        #[no_mangle]
        unsafe extern "C" fn rust_mig_file_ioctl(
            filp: *mut $crate::sys::file,
            cmd: ::kernel::ffi::c_uint,
            arg: ::kernel::ffi::c_ulong,
        ) -> ::kernel::ffi::c_long {
            // SAFETY: the VFS calls this on an open migration file; every one holds a `$t`.
            unsafe { $crate::vfio::file::ioctl::<$t>(filp, cmd, arg) }
        }

        /// `file_operations.release` of migration files: the last reference is gone.
        ///
        /// # Safety
        ///
        /// Called once by the VFS for a migration file; no other file operation runs
        /// afterwards.
        #[allow(unsafe_code)]
        #[no_mangle]
        unsafe extern "C" fn rust_mig_file_release(
            _inode: *mut $crate::sys::inode,
            filp: *mut $crate::sys::file,
        ) -> ::kernel::ffi::c_int {
            // SAFETY: as documented above; every migration file holds a `$t`.
            unsafe { $crate::vfio::file::release::<$t>(filp) }
        }
    };
}
pub(crate) use export_stream_file;
