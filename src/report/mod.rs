//! Reports: one [`model::Report`] built from a drill's recording; JSON, Markdown, HTML, JUnit and the console verdict
//! are views of it and none recomputes a number.

pub mod build;
pub mod compare;
pub mod cycles;
#[cfg(test)]
pub(crate) mod fixture;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod replacements;
pub mod view;
pub mod write;

pub use model::{Report, Verdict, SCHEMA_VERSION};
