//! Parameter sweeps (`ikesim sweep`, `ikesim merge`): a sweep file, its jobs, running them
//! in parallel and in shards, and the tables of results with confidence intervals.

pub mod jobs;
pub mod model;
pub mod run;
pub mod table;

pub use model::{Sweep, load_sweep};
pub use run::{SweepReport, merge, run_sweep};
