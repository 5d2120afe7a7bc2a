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
    root.join(folder_name(&report.scenario.name)).join(stamp)
}

/// A scenario name as one folder name: letters, digits, `.`, `_` and `-` kept, anything else (a `/`, a space)
/// turned into `-`, so a name can neither nest folders nor climb out of the reports folder.
fn folder_name(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    match s.trim_matches('.') {
        "" => "scenario".to_string(),
        t => t.to_string(),
    }
}

/// Writes every view of the report; returns the folder.
pub fn write_all(root: &Path, report: &Report) -> Result<PathBuf> {
    let report = &crate::secrets::redact_value(report);
    let dir = report_dir(root, report);
    write_in(&dir, report)?;
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        let path = PathBuf::from(summary);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        writeln!(f, "{}", crate::secrets::redact(&markdown::render(report)))
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(dir)
}

/// Writes `report.json` and every view into `dir` (a repeated drill's cycles go to `cycle-K` in the run's).
pub fn write_in(dir: &Path, report: &Report) -> Result<()> {
    let report = &crate::secrets::redact_value(report);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Render { view: "report.json", source: e.into() })?;
    let p = dir.join("report.json");
    std::fs::write(&p, crate::secrets::redact(&json).as_bytes()).map_err(|e| Error::io(&p, e))?;
    write_views(dir, report)?;
    Ok(())
}

/// Writes the views a person or a CI server reads (`report.md`, `report.html`, `junit.xml`) into `dir`;
/// returns their paths. `hadrill render` calls it on a `report.json` alone.
pub fn write_views(dir: &Path, report: &Report) -> Result<Vec<PathBuf>> {
    let report = &crate::secrets::redact_value(report);
    let xml = junit::render(report).map_err(|e| Error::Render { view: "junit.xml", source: e.into() })?;
    let mut written = Vec::new();
    for (name, text) in
        [("report.md", markdown::render(report)), ("report.html", html::render(report)), ("junit.xml", xml)]
    {
        let p = dir.join(name);
        std::fs::write(&p, crate::secrets::redact(&text).as_bytes()).map_err(|e| Error::io(&p, e))?;
        written.push(p);
    }
    Ok(written)
}

/// Writes every request's outcome as CSV (`outcomes.csv`, opt-in with `--raw`: 5k req/s for 10 min is ~150 MB).
pub fn write_outcomes(dir: &Path, outcomes: &crate::outcomes::Outcomes) -> Result<PathBuf> {
    let path = dir.join("outcomes.csv");
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut w = std::io::BufWriter::new(file);
    let io = |e| Error::io(&path, e);
    writeln!(w, "intended_ms,started_ms,ended_ms,kind,seq,outcome").map_err(io)?;
    for o in outcomes {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::report;

    #[test]
    fn scenario_names_become_one_safe_folder() {
        assert_eq!(folder_name("pg-primary-failover"), "pg-primary-failover");
        assert_eq!(folder_name("../../etc/x"), "-..-etc-x");
        assert_eq!(folder_name(".."), "scenario");
        assert_eq!(folder_name("a b/c"), "a-b-c");
    }

    #[test]
    fn the_json_round_trips_and_the_views_render_again_from_it() {
        let root = std::env::temp_dir().join(format!("hadrill-write-test-{}", std::process::id()));
        let r = report();
        let dir = write_all(&root, &r).unwrap();
        assert_eq!(dir, root.join("kill--app2-").join("19700101T000000Z"));
        let back: Report =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
        assert_eq!(back, r, "report.json holds everything the views need");
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        std::fs::remove_file(dir.join("report.md")).unwrap();
        let written = write_views(&dir, &back).unwrap();
        assert_eq!(written.len(), 3);
        assert_eq!(std::fs::read_to_string(dir.join("report.md")).unwrap(), md);
        assert!(std::fs::read_to_string(dir.join("junit.xml")).unwrap().contains("<failure"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
