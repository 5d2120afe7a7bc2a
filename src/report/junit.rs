//! JUnit XML: one test case per expectation, so GitHub, GitLab and Jenkins show which one failed.

use std::fmt::Write;

/// One expectation as a test case.
pub struct Case<'a> {
    pub name: &'a str,
    pub passed: bool,
    /// The failure message (limit and actual value).
    pub message: String,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A `<testsuites>` document for the scenario. `error` marks the whole suite as errored (aborted drill).
pub fn render(suite: &str, seconds: f64, cases: &[Case], error: Option<&str>) -> String {
    let failures = cases.iter().filter(|c| !c.passed).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let errors = usize::from(error.is_some());
    let _ = writeln!(
        x,
        "<testsuites name=\"hadrill\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{seconds:.3}\">",
        cases.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{seconds:.3}\">",
        escape(suite),
        cases.len()
    );
    for c in cases {
        let _ = write!(x, "    <testcase classname=\"{}\" name=\"{}\"", escape(suite), escape(c.name));
        if c.passed {
            x.push_str("/>\n");
        } else {
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                escape(&c.message),
                escape(&c.message)
            );
        }
    }
    if let Some(e) = error {
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}\" name=\"drill\">\n      <error message=\"{}\"/>\n    </testcase>",
            escape(suite),
            escape(e)
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_per_expectation_with_failures_marked() {
        let cases = [
            Case { name: "rto_max", passed: true, message: String::new() },
            Case { name: "lost_writes_max", passed: false, message: "limit 0, actual 3 <lost>".into() },
        ];
        let x = render("pg-failover", 12.5, &cases, None);
        assert!(x.contains("tests=\"2\" failures=\"1\" errors=\"0\""));
        assert!(x.contains("<testcase classname=\"pg-failover\" name=\"rto_max\"/>"));
        assert!(x.contains("<failure message=\"limit 0, actual 3 &lt;lost&gt;\">"));
        let aborted = render("s", 1.0, &cases, Some("interrupted"));
        assert!(aborted.contains("errors=\"1\"") && aborted.contains("<error message=\"interrupted\"/>"));
    }
}
