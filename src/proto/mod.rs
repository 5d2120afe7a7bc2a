//! Small wire-protocol clients hadrill needs beyond HTTP and PostgreSQL.

pub mod resp;
