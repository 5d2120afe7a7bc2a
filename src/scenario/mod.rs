//! Scenario files (`scenarios/*.toml`): the model and its validation. Every error names the file, the line and
//! the column of the offending value.

mod action;
pub mod candidate;
mod deploy;
pub mod error;
pub mod model;
mod nodes;
pub mod overrides;
pub mod parse;
pub mod pick;
mod schedule;
pub mod tls;
pub mod vars;
pub mod workload;

pub use error::ScenarioError;
pub use model::Scenario;
pub use parse::{load, parse};
