//! The Docker API edge: connecting to the daemon and finding a stack's containers by their compose labels.

pub mod connect;
pub mod discover;
pub mod labels;
pub mod logs;
