//! hadrill: failover drills for Docker Compose high-availability stacks.
//!
//! # Layout
//! - [`cli`]: the command line and the dispatch of each subcommand.
//! - [`stack`]: finding a stack (bundled name or compose path), bringing it up through the Compose CLI with
//!   hadrill's labels, waiting for health, tearing it down.
//! - [`images`]: building the project's images offline, including the Debian base image when it is missing.
//! - [`docker`]: the Docker API edge (bollard): connecting, finding containers by compose labels, ports.
//! - [`scenario`]: the scenario file model and its validation with file:line:col errors.
//! - [`measure`]: pure functions from a recording to RTO, RPO, latency, the breakdown, expectations, verdict.
//! - [`report`]: the one `Report` (JSON), the view model its Markdown and HTML lay out, JUnit.
//! - [`load`]: the open-model load engine driving one [`load::Probe`] (demo key-value HTTP, GET, PostgreSQL,
//!   Redis), its own HTTP/1.1 client, and the read-back of written sequence numbers.
//! - [`proto`]: wire protocols beyond HTTP and SQL (RESP) and Sentinel replies read as data; [`http`]: the
//!   reqwest client the read-back and the observers share.
//! - [`doctor`] and [`cleanup`]: environment checks and removal of everything hadrill created.
//! - [`reaper`]: the container that removes a drill's stack when hadrill is killed.
//!
//! See `ARCHITECTURE.md` at the repository root for the flow of a drill.

pub mod cleanup;
pub mod cli;
pub mod docker;
pub mod doctor;
pub mod drill;
pub mod duration;
pub mod error;
pub mod exit_codes;
pub mod fault;
pub mod http;
pub mod images;
pub mod limits;
pub mod load;
pub mod measure;
pub mod observe;
pub mod outcomes;
pub mod paths;
pub mod proto;
pub mod reaper;
pub mod report;
pub mod scenario;
pub mod secrets;
pub mod seq_set;
pub mod stack;
pub mod swarm;
pub mod target;
pub mod timeline;
pub mod units;
pub mod usage;

pub use error::{Error, Result};
