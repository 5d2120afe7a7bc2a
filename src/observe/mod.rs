//! Observers: the stack's own view of a drill, put on the timeline next to what the clients saw. Where a
//! component reports its own events, that is what counts: Sentinel's Pub/Sub ([`sentinel_events`]), the log
//! lines HAProxy, PostgreSQL, Patroni and nginx write with their own timestamps ([`logs`], [`logtime`]). The
//! pollers (one kind of component through its published 127.0.0.1 port, state changes only) stay as the
//! cross-check; [`set::Observers`] starts the ones a stack's `x-hadrill.observe` names.

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
