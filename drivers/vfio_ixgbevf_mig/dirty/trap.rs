// SPDX-License-Identifier: GPL-2.0

//! The RX tail trap: every write to a trapped BAR0 page ([`bar0_write`]) and the ioeventfds
//! that would bypass it ([`check_ioeventfd`]). While logging, a tail write has its newly
//! posted descriptors walked and their buffers marked, then is forwarded, under the log lock
//! (see the parent module and `docs/dirty-tracking.md`).

use super::{count_unknown, rx_ring, Logging, Rx, TAIL_UNKNOWN};
use crate::pure::{
    dirty::{
        access::{Access, Region},
        ring::WalkTally,
    },
    hw::{
        io::RegIo,
        regs::{QueueReg, RegOffset, RegRef},
    },
    stats::Counter,
};
use crate::vfio::{
    compat::user_ptr,
    device::{Bar0, Device, DmaView},
    misc::{debug_race_delay, log_ratelimit, now_ns},
};
use crate::MigDevice;
use kernel::{
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// `VFIO_DEVICE_IOEVENTFD`: refuses (EINVAL) an ioeventfd on a trapped BAR0 page, which
/// would let KVM write an RX tail without the trap; anything else is the core's.
pub(crate) fn check_ioeventfd(dev: &Device<MigDevice>, arg: usize) -> Result {
    // struct vfio_device_ioeventfd: argsz, flags (access size bits 3:0), offset, ...
    let mut r = UserSlice::new(user_ptr(arg), 16).reader();
    let _argsz: u32 = r.read()?;
    let flags: u32 = r.read()?;
    let offset: u64 = r.read()?;
    let size = 1u64 << (u32::BITS - (flags & 0xf).leading_zeros()).saturating_sub(1);
    let Some(a) = Access::decode(i64::try_from(offset).unwrap_or(-1), 0) else {
        return Ok(());
    };
    if a.region == Region::Bar(0) && dev.data().dirty.trapped().touches(a.offset, size) {
        dev.data().stats.inc(Counter::WritesRefused);
        if log_ratelimit() {
            pr_info!(
                "{}: ioeventfd on trapped BAR0 offset {:#x} refused\n",
                dev.core().pci().name(),
                a.offset
            );
        }
        return Err(EINVAL);
    }
    Ok(())
}

/// A write of `len` bytes at BAR0 `a.offset`, touching a trapped page. Only an aligned
/// 32-bit register write is taken (EINVAL otherwise, nothing written): every register on
/// these pages is 32 bits wide, and a wider or partial write could carry an RX tail past the
/// trap. The value is read once, and the write is forwarded under the log lock: while
/// logging, an RX tail write first has its newly posted descriptors walked and their buffers
/// marked, and a write that reprograms a ring marks the old ring.
pub(crate) fn bar0_write(
    dev: &Device<MigDevice>,
    a: Access,
    buf: UserPtr,
    pos: &mut i64,
) -> Result<isize> {
    let data = dev.data();
    let Some(off) = a.bar0_dword().and_then(|o| RegOffset::new(u64::from(o))) else {
        data.stats.inc(Counter::WritesRefused);
        if log_ratelimit() {
            pr_info!(
                "{}: {}-byte write at trapped BAR0 offset {:#x} refused (32-bit registers only)\n",
                dev.core().pci().name(),
                a.len,
                a.offset
            );
        }
        return Err(EINVAL);
    };
    let value: u32 = UserSlice::new(buf, 4).reader().read()?;
    let reg = data.model.regs().locate(a.offset);
    if matches!(
        reg,
        Some(RegRef::Queue {
            reg: QueueReg::Rdt,
            ..
        })
    ) {
        data.stats.inc(Counter::TailWrites);
    }
    let Some(bar) = dev.core().bar0() else {
        // BAR0 could not be mapped at open: logging cannot start, so the core's own path
        // is as good (it re-reads the value, which no walk depends on).
        return dev.core().write(buf, 4, pos);
    };
    let mut guard = data.dirty.log.lock();
    if guard.is_some() {
        // Take the view first (lock order): START may run meanwhile, so look again.
        drop(guard);
        let mut view = dev.core().dma_view();
        guard = data.dirty.log.lock();
        if let Some(log) = Option::as_mut(&mut *guard) {
            trapped(dev, log, &bar, &mut view, reg, value);
            debug_race_delay();
        }
    }
    bar.write32(off, value);
    drop(guard);
    if bar.failed() {
        // Memory decoding off, as the core's own write would report.
        return Err(EIO);
    }
    *pos = pos.saturating_add(4);
    Ok(4)
}

/// While logging: what a write of `value` to `reg` (about to be forwarded) means for the
/// session.
fn trapped(
    dev: &Device<MigDevice>,
    log: &mut Logging,
    bar: &Bar0<'_>,
    view: &mut DmaView<'_>,
    reg: Option<RegRef>,
    value: u32,
) {
    let Some(RegRef::Queue { reg, queue }) = reg else {
        return;
    };
    match reg {
        QueueReg::Rdt => {
            let start = now_ns();
            trap_tail(dev, log, bar, view, queue, value);
            dev.data().stats.trap(now_ns().saturating_sub(start));
        }
        // A write that reprograms an RX ring (its head, base, length, buffer layout or
        // enable) makes the tail seen last meaningless: DPDK, for one, writes RDH = 0 and
        // then RDT = n - 1 without RDT = 0 first. The next RDT write then walks from what
        // the device still owns. The ring may move: what the device wrote at the old place
        // since the last report must still be reported.
        QueueReg::Rdh
        | QueueReg::Rdbal
        | QueueReg::Rdbah
        | QueueReg::Rdlen
        | QueueReg::Srrctl
        | QueueReg::Rxdctl => {
            if let Some(t) = log.tails.get_mut(usize::from(queue)) {
                *t = TAIL_UNKNOWN;
            }
            log.slots.drain(queue, &mut log.set);
            match rx_ring(bar, &dev.data().model, queue) {
                Ok(Rx::Ring(ring, _, _)) if !bar.failed() => {
                    let span = ring.span();
                    log.set.mark(span.iova, span.len);
                }
                Ok(Rx::Off) if !bar.failed() => {}
                _ => log.set.mark_all(),
            }
        }
        _ => {}
    }
}

/// An RX tail write of `new_tail` to `queue`, while logging, before it is forwarded: walks
/// the descriptors it posts and marks their buffers (or everything, when that cannot be
/// known).
fn trap_tail(
    dev: &Device<MigDevice>,
    log: &mut Logging,
    bar: &Bar0<'_>,
    view: &mut DmaView<'_>,
    queue: u8,
    new_tail: u32,
) {
    let data = dev.data();
    let Some(from) = log.tails.get(usize::from(queue)).copied() else {
        return;
    };
    let mut tally = WalkTally::default();
    let known = match rx_ring(bar, &data.model, queue) {
        Ok(Rx::Ring(ring, head, tail)) => {
            let outside = log.set.stats().outside;
            let Logging { set, slots, .. } = &mut *log;
            // The tail the device has differs from the last one trapped, or the ring was
            // reprogrammed since: a reset (FLR or the VF's own CTRL.RST) or a reprogram
            // without a trapped tail write. Everything the device may still own is new then.
            let reset = from == TAIL_UNKNOWN || from != tail;
            let known = match slots.recorder(queue, &ring, set) {
                Some(mut rec) if reset => {
                    ring.walk_owned(head, new_tail, view, &mut rec, &mut tally)
                }
                Some(mut rec) => ring.walk_all(from, new_tail, view, &mut rec, &mut tally),
                None if reset => ring.walk_owned(head, new_tail, view, set, &mut tally),
                None => ring.walk_all(from, new_tail, view, set, &mut tally),
            };
            // Buffers entirely outside the logged ranges (ignored by the set): garbage
            // addresses as far as this device's migration goes. (Recorded buffers count when
            // they are marked.)
            tally.skipped = tally
                .skipped
                .saturating_add(log.set.stats().outside.saturating_sub(outside));
            known
        }
        Ok(Rx::Refused) => {
            tally.refuse();
            false
        }
        Ok(Rx::Off) => true,
        Err(_) => false,
    };
    log.walked(dev, &tally);
    if !known || bar.failed() || view.unsafe_seen() {
        count_unknown(dev, view);
        log.set.mark_all();
    }
    if let Some(t) = log.tails.get_mut(usize::from(queue)) {
        *t = new_tail;
    }
}
