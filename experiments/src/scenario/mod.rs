//! Scenario files (RON): the model of what a run simulates, and the loader that turns a
//! file into it or into one clear error.

pub mod expand;
pub mod load;
pub mod model;
pub mod proposals;
pub mod selectors;

pub use load::{ScenarioError, load_scenario, parse_scenario};
pub use model::Scenario;
