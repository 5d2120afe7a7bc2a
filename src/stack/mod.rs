//! Stacks: a Compose file hadrill drills. Resolving a name to a file, generating hadrill's override (labels),
//! running the Compose CLI, waiting for health, and tearing down.

pub mod compose;
pub mod deployment;
pub mod lifecycle;
pub mod overlay;
pub mod resolve;
pub mod userfile;

pub use lifecycle::{RunningStack, UpOptions};
pub use resolve::StackSpec;
