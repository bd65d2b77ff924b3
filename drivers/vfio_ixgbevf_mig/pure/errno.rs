// SPDX-License-Identifier: GPL-2.0

//! Errnos of the pure core: the values, and the one mapping from its error enums to them.
//!
//! Every error enum the shell turns into an errno implements [`Errno`] here, so the tables
//! (`docs/migration.md`, `docs/dirty-tracking.md`) have one place to be checked against. The
//! values are positive; the kernel shell returns `Error::from_errno(-n)`.
//!
//! | error | errno |
//! |---|---|
//! | [`StreamError::UnknownMandatory`] | `EOPNOTSUPP` |
//! | [`StreamError::RecordTooLarge`], [`StreamError::TooLarge`], [`StreamError::NoSpace`] | `ENOMEM` |
//! | any other [`StreamError`] | `EINVAL` |
//! | [`StateError::Timeout`] | `ETIMEDOUT` |
//! | any other [`StateError`] | `EINVAL` |
//! | [`LoadError`] | that of the stream or state error it carries |
//! | [`DirtyError::TooManyRanges`] | `E2BIG` |
//! | [`DirtyError::StorageTooSmall`] | `ENOMEM` |
//! | any other [`DirtyError`] | `EINVAL` |
//!
//! Oversize stream data is `ENOMEM`, not `EFBIG`, as the project's errno rules say and as
//! mlx5's resume path does for a record over `MAX_LOAD_SIZE`: the stream is held in kernel
//! memory, and its cap is a memory bound.
//!
//! Depends on the modules whose errors it maps; none of them depends on it.

use crate::pure::dirty::ranges::DirtyError;
use crate::pure::mig::image::LoadError;
use crate::pure::mig::regio::StateError;
use crate::pure::stream::error::StreamError;

/// `E2BIG`.
pub const E2BIG: i32 = 7;
/// `ENOMEM`.
pub const ENOMEM: i32 = 12;
/// `EINVAL`.
pub const EINVAL: i32 = 22;
/// `EOPNOTSUPP`.
pub const EOPNOTSUPP: i32 = 95;
/// `ETIMEDOUT`.
pub const ETIMEDOUT: i32 = 110;

/// An error of the pure core that the uAPI reports as an errno.
pub trait Errno {
    /// The errno (positive); see the module docs for the table.
    fn errno(&self) -> i32;
}

impl Errno for StreamError {
    fn errno(&self) -> i32 {
        match self {
            StreamError::UnknownMandatory(_) => EOPNOTSUPP,
            StreamError::RecordTooLarge(_) | StreamError::TooLarge(_) | StreamError::NoSpace => {
                ENOMEM
            }
            _ => EINVAL,
        }
    }
}

impl Errno for StateError {
    fn errno(&self) -> i32 {
        match self {
            StateError::Timeout { .. } => ETIMEDOUT,
            _ => EINVAL,
        }
    }
}

impl Errno for LoadError {
    fn errno(&self) -> i32 {
        match self {
            LoadError::Stream(e) => e.errno(),
            LoadError::State(e) => e.errno(),
        }
    }
}

impl Errno for DirtyError {
    fn errno(&self) -> i32 {
        match self {
            DirtyError::TooManyRanges => E2BIG,
            DirtyError::StorageTooSmall => ENOMEM,
            _ => EINVAL,
        }
    }
}
