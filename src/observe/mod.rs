//! Observers: the stack's own view of a drill, sampled while it runs and put on the timeline next to what the
//! clients saw. Each observer polls one kind of component through its published 127.0.0.1 port and records
//! state changes only; [`set::Observers`] starts the ones a stack's `x-hadrill.observe` names.

pub mod events;
pub mod haproxy;
pub mod logs;
pub mod logtime;
pub mod nginx;
pub mod patroni;
pub mod postgres;
pub mod sentinel;
pub mod sentinel_events;
pub mod set;
pub mod stack_log;
