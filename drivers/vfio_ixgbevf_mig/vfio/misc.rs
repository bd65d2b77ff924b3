// SPDX-License-Identifier: GPL-2.0

//! Small wrappers: the dirty bitmap of one report, module parameters, clock, sleep, rate
//! limit, and the `show` callback of the debugfs `stats` file.

use crate::pure::stats::Stats;
use crate::sys;
use core::fmt;
use kernel::ffi::{c_int, c_ulong, c_void};

/// The `iova_bitmap` of one `log_read_and_clear` call.
pub(crate) struct IovaBitmap(pub(super) *mut sys::iova_bitmap);

impl IovaBitmap {
    /// Marks `[iova, iova + len)` dirty in userspace's bitmap.
    pub(crate) fn set(&mut self, iova: u64, len: u64) {
        // SAFETY: valid for the duration of the report call (where values are made); the core
        // clips to the bitmap's range.
        unsafe { sys::iova_bitmap_set(self.0, iova as c_ulong, len as usize) }
    }
}

/// The `dirty_tracking` module parameter (helpers.c).
pub(crate) fn dirty_tracking_param() -> bool {
    // SAFETY: reads a module parameter, read-only after load.
    unsafe { sys::mig_param_dirty_tracking() }
}

/// The `debug_race_delay_us` knob (helpers.c, off by default): sleeps inside the trap and
/// between report steps to widen race windows in tests.
pub(crate) fn debug_race_delay() {
    // SAFETY: reads a module parameter and may sleep; callers hold only mutexes.
    unsafe { sys::mig_debug_race_delay() }
}

/// The monotonic clock in nanoseconds (`ktime_get_ns`).
pub(crate) fn now_ns() -> u64 {
    // SAFETY: reads the clock; callable in any context.
    unsafe { sys::mig_ktime_get_ns() }
}

/// Whether a message about refused user input may be logged now (shared rate limit).
pub(crate) fn log_ratelimit() -> bool {
    // SAFETY: takes the helper's own spinlock-protected state; callable in any context.
    unsafe { sys::mig_log_ratelimit() }
}

/// Sleeps for about `us` microseconds (may sleep up to twice as long).
pub(crate) fn usleep(us: usize) {
    // SAFETY: plain sleep; the callers run in process context without spinlocks held.
    unsafe { sys::mig_usleep(us) }
}

/// The `seq_file` of one `show` call, as a text sink.
struct SeqWriter(*mut sys::seq_file);

impl fmt::Write for SeqWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: `self.0` is the seq_file of the running `show` call (where values are
        // made); `s` is valid for `s.len()` bytes, which `seq_write` copies.
        let ret = unsafe { sys::seq_write(self.0, s.as_ptr().cast(), s.len()) };
        // Nonzero: the buffer is full; seq_file calls `show` again with a larger one.
        if ret == 0 {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// `show` of a device's debugfs `stats` file (helpers.c): one `name value` line per counter.
///
/// # Safety
///
/// Called by seq_file, inside debugfs's proxy protection of the file, with `m` the
/// seq_file being filled and `stats` the pointer [`Adapter::probe`] gave `mig_debugfs_add`.
///
/// [`Adapter::probe`]: super::adapter::Adapter::probe
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_mig_stats_show(
    m: *mut sys::seq_file,
    stats: *mut c_void,
) -> c_int {
    // SAFETY: `stats` points to the device's `Stats`, alive until `remove` has deleted the
    // file; debugfs removal waits for running `show` calls and refuses later ones.
    let stats = unsafe { &*stats.cast_const().cast::<Stats>() };
    // An error only means the buffer is full: seq_file retries with a larger one.
    let _ = stats.write_text(&mut SeqWriter(m));
    0
}
