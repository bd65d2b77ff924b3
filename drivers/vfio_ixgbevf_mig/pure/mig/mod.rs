// SPDX-License-Identifier: GPL-2.0

//! Migration: the FSM and what each step does to the VF's registers and the stream.
//!
//! - [`fsm`]: the VFIO migration v2 state machine as a table of steps.
//! - [`quiesce`]: stopping and restarting queue DMA (RUNNING ⇄ RUNNING_P2P).
//! - [`snapshot`]: the VF's register state ([`snapshot::VfState`]), save and restore;
//!   [`check`]: its validation against the model.
//! - [`pfctx`]: the PF-held VF context ([`pfctx::PfCtx`]) as carried in the stream.
//! - [`image`]: state and PF context as stream records, stream sizes, and [`image::load`].
//!
//! Depends on [`super::hw`] and [`super::stream`].

pub mod check;
pub mod fsm;
pub mod image;
pub mod pfctx;
pub mod quiesce;
pub mod snapshot;
