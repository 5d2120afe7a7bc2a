//! The drill: bring the stack up, run the load, play the fault schedule, revert, verify, measure, report,
//! tear down. [`run::run`] is the whole flow; [`schedule`] plays the actions under the drill's token;
//! [`console`] is the live reporter everything prints through; [`phases`] times bring-up, load, read-back and
//! teardown; [`record::Recording`] is what the drill hands to
//! measurement and reports.

pub mod console;
pub mod phases;
pub mod record;
pub mod repeat;
pub mod run;
pub mod schedule;
pub mod signals;
