//! Where hadrill finds its bundled files (stacks, images, scenarios) and where it writes reports.
//!
//! hadrill runs from its source checkout: the bundled files are the `compose/` and `scenarios/` folders beside
//! `Cargo.toml`. `HADRILL_HOME` points elsewhere (an installed copy of those folders).

use std::path::PathBuf;

/// The folder that holds `compose/` and `scenarios/`.
pub fn home() -> PathBuf {
    match std::env::var_os("HADRILL_HOME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    }
}

pub fn compose_dir() -> PathBuf {
    home().join("compose")
}

pub fn images_dir() -> PathBuf {
    compose_dir().join("images")
}

pub fn scenarios_dir() -> PathBuf {
    home().join("scenarios")
}

/// Scratch space for generated compose overrides and image build contexts.
pub fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join("hadrill")
}
