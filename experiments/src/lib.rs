//! experiments: scenario files, the runner, metrics and sweeps behind the `ikesim` program.

pub mod availability;
pub mod bench;
pub mod cpu;
pub mod dataplane;
mod describe;
pub mod inspect;
pub mod matrix;
pub mod messages;
pub mod metrics;
pub mod netbuild;
mod peer_config;
pub mod plot;
pub mod runner;
pub mod scenario;
pub mod sweep;
