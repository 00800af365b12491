//! Per-peer policies: how a peer retransmits and times its rekeys. The two peers of a
//! tunnel may differ, as in real networks; presets reproduce strongSwan and libreswan
//! defaults (values in docs/REFERENCE.md).

pub mod lifetime;
pub mod retransmit;

pub use lifetime::{HardExpiry, LifetimePolicy, SaTimers};
pub use retransmit::RetransmitPolicy;
