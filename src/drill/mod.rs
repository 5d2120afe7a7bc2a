//! The drill: bring the stack up, run the load, play the fault schedule, revert, verify, measure, report,
//! tear down. [`run::run`] is the whole flow; [`record::Recording`] is what it hands to measurement and reports.

pub mod record;
pub mod run;
pub mod signals;
