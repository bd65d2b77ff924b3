// SPDX-License-Identifier: GPL-2.0

//! Migration: the FSM and what each step does to the VF's registers and the stream.
//!
//! - [`fsm`]: the VFIO migration v2 state machine as a table of steps.
//! - [`regio`]: what the steps share: their error, queue enable bits, register access.
//! - [`vfstate`]: the VF's register state ([`vfstate::VfState`]).
//! - [`quiesce`]: stopping and restarting queue DMA (RUNNING ⇄ RUNNING_P2P).
//! - [`check`]: validation of a state against the model.
//! - [`snapshot`]: save and restore of the state.
//! - [`pfctx`]: the PF-held VF context ([`pfctx::PfCtx`]) as carried in the stream.
//! - [`image`]: state and PF context as stream records, stream sizes, and [`image::load`].
//!
//! Each uses only the ones listed before it.
//!
//! Depends on [`super::hw`] and [`super::stream`].

pub mod check;
pub mod fsm;
pub mod image;
pub mod pfctx;
pub mod quiesce;
pub mod regio;
pub mod snapshot;
pub mod vfstate;
