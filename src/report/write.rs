//! Writing a report's files: `reports/<scenario>/<UTC time>/{report.json, report.md, report.html, junit.xml}`, and on
//! GitHub Actions the Markdown appended to `$GITHUB_STEP_SUMMARY`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{html, junit, markdown, Report};
use crate::error::{Error, Result};

/// The folder a report goes to: `<root>/<scenario>/<YYYYMMDDTHHMMSSZ>`.
pub fn report_dir(root: &Path, report: &Report) -> PathBuf {
    let stamp = report.run.started_at.replace([':', '-'], "");
    let stamp = stamp.split('.').next().unwrap_or(&stamp).trim_end_matches('Z').to_string() + "Z";
    root.join(&report.scenario.name).join(stamp)
}

/// Writes every view of the report; returns the folder.
pub fn write_all(root: &Path, report: &Report) -> Result<PathBuf> {
    let dir = report_dir(root, report);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let json = serde_json::to_string_pretty(report).map_err(|e| Error::Other(format!("report JSON: {e}")))?;
    let md = markdown::render(report);
    let page = html::render(report);
    let cases: Vec<junit::Case> = report
        .expectations
        .iter()
        .map(|e| junit::Case {
            name: &e.name,
            passed: e.passed,
            message: format!("expected {} {}, got {}: {}", e.name, e.limit, e.actual, e.detail),
        })
        .collect();
    let xml = junit::render(
        &report.scenario.name,
        report.scenario.duration_ms / 1000.0,
        &cases,
        report.aborted.as_deref(),
    );
    for (name, text) in [
        ("report.json", json.as_str()),
        ("report.md", md.as_str()),
        ("report.html", page.as_str()),
        ("junit.xml", xml.as_str()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        let path = PathBuf::from(summary);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        writeln!(f, "{md}").map_err(|e| Error::io(&path, e))?;
    }
    Ok(dir)
}

/// Writes every request's outcome as CSV (`outcomes.csv`, opt-in with `--raw`: 5k req/s for 10 min is ~150 MB).
pub fn write_outcomes(dir: &Path, outcomes: &[crate::timeline::Outcome]) -> Result<PathBuf> {
    let path = dir.join("outcomes.csv");
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut w = std::io::BufWriter::new(file);
    let mut sorted: Vec<&crate::timeline::Outcome> = outcomes.iter().collect();
    sorted.sort_by_key(|o| o.intended());
    let io = |e| Error::io(&path, e);
    writeln!(w, "intended_ms,started_ms,ended_ms,kind,seq,outcome").map_err(io)?;
    for o in sorted {
        let kind = match o.kind() {
            crate::timeline::Kind::Read => "read",
            crate::timeline::Kind::Write => "write",
        };
        let outcome = o.failure().map(|f| f.label()).unwrap_or_else(|| "ok".into());
        writeln!(
            w,
            "{:.3},{:.3},{:.3},{kind},{},{outcome}",
            o.intended() as f64 / 1e6,
            o.started() as f64 / 1e6,
            o.ended() as f64 / 1e6,
            o.seq()
        )
        .map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(path)
}
