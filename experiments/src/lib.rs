//! experiments: scenario files, the runner, metrics and sweeps behind the `ikesim` program.

pub mod availability;
pub mod inspect;
pub mod metrics;
pub mod runner;
pub mod scenario;
pub mod sweep;
