//! JUnit XML through `quick-junit` (nextest's writer): one test case per expectation, so GitHub, GitLab and
//! Jenkins show which one failed; an aborted drill adds an errored `drill` case.

use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::Report;

/// The `<testsuites>` document of a report: a suite named after the scenario, timed by the load's length.
pub fn render(r: &Report) -> Result<String, quick_junit::SerializeError> {
    let suite_name = r.scenario.name.as_str();
    let time = Duration::from_secs_f64((r.scenario.duration_ms / 1000.0).max(0.0));
    let mut suite = TestSuite::new(suite_name);
    suite.set_time(time);
    for e in &r.expectations {
        let status = if e.passed {
            TestCaseStatus::success()
        } else {
            let message = format!("expected {} {}, got {}: {}", e.name, e.limit, e.actual, e.detail);
            let mut failed = TestCaseStatus::non_success(NonSuccessKind::Failure);
            failed.set_message(message.as_str()).set_description(message);
            failed
        };
        let mut case = TestCase::new(e.name.as_str(), status);
        case.set_classname(suite_name);
        suite.add_test_case(case);
    }
    if let Some(why) = &r.aborted {
        let mut errored = TestCaseStatus::non_success(NonSuccessKind::Error);
        errored.set_message(why.as_str());
        let mut case = TestCase::new("drill", errored);
        case.set_classname(suite_name);
        suite.add_test_case(case);
    }
    let mut report = quick_junit::Report::new("hadrill");
    report.set_time(time).add_test_suite(suite);
    report.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::report;

    #[test]
    fn one_case_per_expectation_with_failures_marked() {
        let mut r = report();
        r.expectations[0].actual = "2.00s <late>".into();
        r.expectations.push(crate::measure::expect::ExpectationResult {
            name: "lost_writes_max".into(),
            limit: "<= 0".into(),
            actual: "0".into(),
            passed: true,
            detail: String::new(),
        });
        let x = render(&r).unwrap();
        assert!(
            x.contains(r#"<testsuites name="hadrill" tests="2" skipped="0" failures="1" errors="0""#),
            "{x}"
        );
        assert!(x.contains(r#"<testcase name="lost_writes_max" classname="kill &lt;app2&gt;"/>"#), "{x}");
        assert!(
            x.contains(
                r#"<failure message="expected rto_max &lt;= 1.00s, got 2.00s &lt;late&gt;: recovered">"#
            ),
            "{x}"
        );
        assert!(x.contains(r#"time="20.000""#), "{x}");
        r.aborted = Some("interrupted".into());
        let aborted = render(&r).unwrap();
        assert!(
            aborted.contains(r#"errors="1""#) && aborted.contains(r#"<error message="interrupted"/>"#),
            "{aborted}"
        );
    }
}
