// SPDX-License-Identifier: GPL-2.0

//! The anonymous migration data files handed to userspace, and their `file_operations`
//! trampolines (installed in helpers.c).

use super::compat::{cstr_ptr, foreign_ptr, user_ptr};
use crate::mig_file::MigFile;
use crate::sys;
use kernel::{
    error::from_err_ptr,
    ffi::{c_char, c_int, c_long, c_uint, c_ulong},
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow},
    types::ForeignOwnable,
    uaccess::UserSlice,
};

/// A reference to an anonymous migration data file whose `private_data` is an
/// `Arc<MigFile>`.
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
    pub(crate) fn create(name: &CStr, data: Arc<MigFile>, writable: bool) -> Result<FileRef> {
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
                drop(unsafe { <Arc<MigFile> as ForeignOwnable>::from_foreign(priv_) });
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

/// Borrows the `MigFile` behind a migration file.
///
/// # Safety
///
/// `filp` must be a migration file created by [`FileRef::create`] that is still open.
unsafe fn mig_file<'a>(filp: *mut sys::file) -> ArcBorrow<'a, MigFile> {
    // SAFETY: `private_data` was set from `Arc::into_foreign` in `FileRef::create` and is
    // only given back in `release`, after which no file operation can run.
    unsafe { <Arc<MigFile> as ForeignOwnable>::borrow(sys::mig_file_private(filp)) }
}

/// Shared body of the read/write trampolines: stream files have no position, so `pread`
/// and friends get ESPIPE; errors become negative errnos.
///
/// # Safety
///
/// `filp` must be an open migration file (see [`mig_file`]).
unsafe fn stream_op(
    filp: *mut sys::file,
    pos: *mut i64,
    op: impl FnOnce(&MigFile) -> Result<isize>,
) -> isize {
    if !pos.is_null() {
        return ESPIPE.to_errno() as isize;
    }
    // SAFETY: guaranteed by the caller.
    let file = unsafe { mig_file(filp) };
    op(&file).unwrap_or_else(|e| e.to_errno() as isize)
}

/// `file_operations.read` of migration files (installed in helpers.c).
///
/// # Safety
///
/// Called by the VFS on a migration file, with a user buffer and `pos` as passed to `read`.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_read(
    filp: *mut sys::file,
    buf: *mut c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    let out = UserSlice::new(user_ptr(buf as usize), len).writer();
    // SAFETY: the VFS calls this on an open migration file.
    unsafe { stream_op(filp, pos, |file| file.read(out)) }
}

/// `file_operations.write` of migration files.
///
/// # Safety
///
/// As for [`rust_mig_file_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_write(
    filp: *mut sys::file,
    buf: *const c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    let input = UserSlice::new(user_ptr(buf as usize), len).reader();
    // SAFETY: the VFS calls this on an open migration file.
    unsafe { stream_op(filp, pos, |file| file.write(input)) }
}

/// `file_operations.unlocked_ioctl` of migration files.
///
/// # Safety
///
/// As for [`rust_mig_file_read`]; `arg` is the user's ioctl argument.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_ioctl(
    filp: *mut sys::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: the VFS calls this on an open migration file.
    let file = unsafe { mig_file(filp) };
    file.ioctl(cmd, arg)
        .unwrap_or_else(|e| e.to_errno() as isize)
}

/// `file_operations.release` of migration files: the last reference is gone.
///
/// # Safety
///
/// Called once by the VFS for a migration file; no other file operation runs afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_file_release(
    _inode: *mut sys::inode,
    filp: *mut sys::file,
) -> c_int {
    // SAFETY: gives back the reference stored by `FileRef::create`; nothing uses it after.
    drop(unsafe { <Arc<MigFile> as ForeignOwnable>::from_foreign(sys::mig_file_private(filp)) });
    0
}
