// SPDX-License-Identifier: GPL-2.0

//! Per-VF state that the migration FSM works on, behind one coarse mutex.
//!
//! Counterpart of pds `lm.c` and mlx5's state mutex. Today it tracks the open/reset
//! lifecycle the FSM will hang off: whether userspace has the device open and how many
//! function resets the PCI core completed. Every later state change (set_state, data size,
//! reset, DMA logging) is serialised by [`State::lock`].

use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Mutex,
    },
};

/// What the state mutex protects.
pub(crate) struct Inner {
    /// Userspace holds the device open (between `open_device` and `close_device`).
    pub(crate) open: bool,
    /// Function resets completed since probe (FLR, `VFIO_DEVICE_RESET`, AER).
    pub(crate) resets: u64,
}

/// The device's migration state.
#[pin_data]
pub(crate) struct State {
    /// Serialises every state change of the device; see the module docs.
    #[pin]
    inner: Mutex<Inner>,
}

impl State {
    /// A closed device that has not been reset yet.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(State {
            inner <- new_mutex!(Inner { open: false, resets: 0 }, "vfio_ixgbevf_mig::state"),
        })
    }

    /// Takes the state mutex.
    pub(crate) fn lock(&self) -> Guard<'_, Inner, MutexBackend> {
        self.inner.lock()
    }

    /// `open_device` succeeded.
    pub(crate) fn opened(&self) {
        self.lock().open = true;
    }

    /// `close_device`: whatever userspace left behind is dropped with the fd.
    pub(crate) fn closed(&self) {
        self.lock().open = false;
    }

    /// The PCI core reset the function; any device state we hold is stale from now on.
    pub(crate) fn reset_done(&self) {
        let mut inner = self.lock();
        inner.resets += 1;
    }
}
