//! Small wire-protocol clients hadrill needs beyond HTTP and PostgreSQL, and their replies read as data.

pub mod resp;
pub mod sentinel;
