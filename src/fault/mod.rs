//! Faults and operator steps: choosing the target containers, injecting each action through the Docker API,
//! verifying it took effect (with the daemon's timestamp), and the ledger of reverts that always run.

pub mod diskfill;
pub mod exec;
pub mod helper;
pub mod inject;
pub mod ledger;
pub mod netfault;
pub mod rolling;
mod swarm_deploy;
pub mod targets;

pub use inject::{DockerInjector, Injector};
pub use ledger::{Ledger, Revert};
