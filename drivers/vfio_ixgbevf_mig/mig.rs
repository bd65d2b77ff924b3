// SPDX-License-Identifier: GPL-2.0

//! The device side of the FSM steps: quiesce, save and load, joining the pure core
//! (`pure::mig::quiesce`, `pure::mig::snapshot`, `pure::mig::image`) to BAR0 and the PF backend.
//!
//! Every decision (which registers, in which order, what is valid) is made in the pure
//! core; this file only supplies the register I/O, the sleep between drain polls, the PF
//! calls and the conversion of its errors ([`pure_error`]). It runs under the state mutex.

use crate::pure::{
    hw::family::VfModel,
    mig::{image, quiesce as q, regio::Enables as SnapEnables, snapshot},
    stream::{decode, error::StreamError, format::INITIAL_LEN},
};
use crate::vfio::{
    compat::Shown,
    device::{Bar0, Device},
    eopnotsupp,
    misc::{log_ratelimit, usleep},
};
use crate::{pf_ops, pure_error, MigDevice};
use kernel::prelude::*;

/// Queue enable bits turned off by quiesce (or loaded by a resume), restored on RUNNING.
pub(crate) type Enables = SnapEnables;

/// Sleep between polls of a draining queue; `pure::mig::quiesce::MAX_POLLS` of them bound the wait.
const DRAIN_POLL_US: usize = 200;

fn bar0(dev: &Device<MigDevice>) -> Result<Bar0<'_>> {
    // Mapped at open; migration ops only run on an open device.
    dev.core().bar0().ok_or(EIO)
}

/// Fails with EIO when a BAR access failed (memory decoding off): results are garbage.
fn check_bar(bar: &Bar0<'_>) -> Result {
    if bar.failed() {
        pr_err!("migration: BAR0 not accessible (memory decoding disabled?)\n");
        return Err(EIO);
    }
    Ok(())
}

/// RUNNING → RUNNING_P2P: the VF stops initiating DMA and the PF stops answering its mailbox.
pub(crate) fn quiesce(dev: &Device<MigDevice>) -> Result<Enables> {
    let data = dev.data();
    let bar = bar0(dev)?;
    let res = q::quiesce(&bar, &data.model, &mut || usleep(DRAIN_POLL_US));
    check_bar(&bar)?;
    let enables = res.map_err(|e| {
        pr_err!("migration: quiesce failed: {:?}\n", e);
        pure_error(e)
    })?;
    // Without the PF exports there is no mailbox to hold; saving will refuse later.
    if let Err(e) = pf_ops::quiesce(data.model.family, dev.core().pci()) {
        if e != eopnotsupp() {
            let _ = q::resume(&bar, &data.model, enables);
            return Err(e);
        }
    }
    Ok(enables)
}

/// RUNNING_P2P → RUNNING: exactly the queues quiesce stopped (or resume loaded) run again.
/// `consumed` are the mailbox events a STOP_COPY read from this VF (`POST_*`, 0 if none): a
/// source that goes back to running has the PF raise them again.
pub(crate) fn unquiesce(dev: &Device<MigDevice>, enables: Enables, consumed: u32) -> Result {
    let data = dev.data();
    let bar = bar0(dev)?;
    let res = q::resume(&bar, &data.model, enables).and_then(|()| q::kick(&bar, &data.model));
    check_bar(&bar)?;
    res.map_err(pure_error)?;
    // As for unquiesce below: a PF driver gone since the save has nothing to hand back.
    match pf_ops::post(data.model.family, dev.core().pci(), consumed) {
        Err(e) if e != eopnotsupp() => return Err(e),
        _ => {}
    }
    match pf_ops::unquiesce(data.model.family, dev.core().pci()) {
        Err(e) if e != eopnotsupp() => Err(e),
        _ => Ok(()),
    }
}

/// A buffer for a whole stream of `model`, and the PRE_COPY initial data written into it.
/// Returns the buffer and the initial data's length.
pub(crate) fn initial(dev: &Device<MigDevice>) -> Result<(KVec<u8>, usize)> {
    let model = &dev.data().model;
    // Refuse before downtime if the PF cannot hand over its part.
    pf_ops::check_available(model.family)?;
    let mut buf = KVec::from_elem(0u8, image::stream_len(model), GFP_KERNEL)?;
    let n = image::write_initial(&mut buf, model).map_err(pure_error)?;
    Ok((buf, n))
}

/// What a STOP_COPY produced: the stream length and the mailbox events its read of the
/// mailbox control consumed (`POST_*`), which the source needs back if it runs again.
pub(crate) struct Saved {
    pub(crate) len: usize,
    pub(crate) consumed: u32,
}

/// STOP_COPY: reads the (stopped) VF and its PF context and completes the stream in `buf`
/// after the `used` initial bytes.
pub(crate) fn stop_copy(
    dev: &Device<MigDevice>,
    quiesced: Enables,
    buf: &mut [u8],
    used: usize,
) -> Result<Saved> {
    let data = dev.data();
    let model = &data.model;
    let bar = bar0(dev)?;
    let mut state = snapshot::save(&bar, model, quiesced).map_err(pure_error)?;
    snapshot::save_mailbox_ctrl(&bar, model, &mut state).map_err(pure_error)?;
    check_bar(&bar)?;
    let consumed = state.mbx.post_events();
    let (pf, pf_pending) = pf_ops::save(model.family, dev.core().pci()).inspect_err(|_| {
        // Nothing goes out: give the guest back what the read took.
        let _ = pf_ops::post(model.family, dev.core().pci(), consumed);
    })?;
    state.mbx.pf_pending = pf_pending;
    let len = image::write_stop_copy(buf, used, model, &state, &pf).map_err(|e| {
        pr_err!("migration: encoding the state failed: {}\n", Shown(&e));
        let _ = pf_ops::post(model.family, dev.core().pci(), consumed);
        pure_error(e)
    })?;
    Ok(Saved { len, consumed })
}

/// Checks the initial data of a resuming stream as soon as it is complete. Returns the
/// announced stream length, or `None` while the initial data is still incomplete.
pub(crate) fn check_initial(dev_model: &VfModel, buf: &[u8]) -> Result<Option<usize>> {
    match decode::check_initial(buf, dev_model) {
        Ok(len) => Ok(Some(len)),
        Err(StreamError::Truncated) if buf.len() < INITIAL_LEN => Ok(None),
        Err(e) => {
            if log_ratelimit() {
                pr_err!("migration: incompatible stream: {}\n", Shown(&e));
            }
            Err(pure_error(e))
        }
    }
}

/// RESUMING → STOP: validates the whole stream, then programs the PF and the VF. Nothing
/// reaches the device unless everything validated. Returns the queues to enable at RUNNING.
pub(crate) fn load(dev: &Device<MigDevice>, input: &[u8]) -> Result<Enables> {
    let data = dev.data();
    let model = &data.model;
    let img = image::load(input, model).map_err(|e| {
        if log_ratelimit() {
            pr_err!("migration: resume stream refused: {:?}\n", e);
        }
        pure_error(e)
    })?;
    let bar = bar0(dev)?;
    let pci = dev.core().pci();
    // The PF holds this VF's mailbox from here to RUNNING, so that the events replayed
    // below stay latched, as they were on the source, until unquiesce answers them.
    pf_ops::quiesce(model.family, pci)?;
    let res = load_quiesced(dev, &bar, &img);
    if res.is_err() {
        let _ = pf_ops::unquiesce(model.family, pci);
    }
    res
}

fn load_quiesced(dev: &Device<MigDevice>, bar: &Bar0<'_>, img: &image::Image) -> Result<Enables> {
    let model = &dev.data().model;
    let pci = dev.core().pci();
    pf_ops::restore(model.family, pci, &img.pf, img.vf.mbx.pf_pending)?;
    let res = snapshot::restore(bar, model, &img.vf, &mut || usleep(DRAIN_POLL_US));
    check_bar(bar)?;
    let enables = res.map_err(|e| {
        pr_err!("migration: loading the VF registers failed: {:?}\n", e);
        pure_error(e)
    })?;
    if img.vf.mbx.pending_events().rstd() && log_ratelimit() {
        // Only a reset sets RSTD; the guest's reset poll times out and it retries.
        pr_info!("migration: a PF reset-done event read at save cannot be raised again\n");
    }
    pf_ops::post(model.family, pci, img.vf.mbx.post_events())?;
    Ok(enables)
}

/// Exact number of bytes STOP_COPY still produces (`VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`).
pub(crate) fn data_size(dev: &Device<MigDevice>) -> usize {
    image::stream_len(&dev.data().model)
}
