//! `junit.xml`: one test case per threshold (suite `thresholds`) and, when the report has a
//! conformance section, one per check (suite `conformance`). A FAIL (or a WARN under
//! `--fail-on warn`) is a `<failure>`, an ERROR (the check could not run to a verdict) an `<error>`,
//! a SKIP `<skipped>`; each carries the message. Check evidence goes to the case's `system-out`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::conformance::{FailOn, Status};
use super::model::Report;

/// Renders the JUnit XML document.
pub fn junit_xml(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let mut junit = Junit::new(format!("authbench {}", report.run.name));
    let started = report.run.started_at.fixed_offset();
    junit.set_timestamp(started);
    junit.set_time(Duration::from_secs_f64(report.run.duration_s.max(0.0)));

    if !report.thresholds.is_empty() || report.conformance.is_none() {
        let mut suite = TestSuite::new("thresholds");
        suite.set_timestamp(started);
        for t in &report.thresholds {
            let status = if t.passed {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(t.message.clone()).set_type("threshold");
                s
            };
            let mut case = TestCase::new(t.expr.clone(), status);
            case.set_classname(format!("authbench.{}.thresholds", report.run.name));
            case.set_system_out(t.message.clone());
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }

    if let Some(c) = &report.conformance {
        let mut suite = TestSuite::new("conformance");
        suite.set_timestamp(started);
        // The checks run concurrently: the suite took the run's wall-clock time, not the sum
        // of its cases' times.
        suite.set_time(Duration::from_secs_f64(report.run.duration_s.max(0.0)));
        for k in &c.checks {
            let fails = k.fails_run(c.fail_on);
            let status = match k.status {
                Status::Skip => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(k.message.clone());
                    s
                }
                _ if fails => {
                    let kind = if k.status == Status::Error {
                        NonSuccessKind::Error
                    } else {
                        NonSuccessKind::Failure
                    };
                    let mut s = TestCaseStatus::non_success(kind);
                    s.set_message(format!("{}: {}", k.status.name(), k.message))
                        .set_type(format!("{} {}", k.level.name(), k.requirements.join(" ")));
                    s
                }
                _ => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(format!("{} {}", k.id, k.title), status);
            case.set_classname(format!("conformance.{}", k.family));
            case.set_time(Duration::from_millis(k.duration_ms));
            let mut out = format!(
                "{} [{}] {}{}\nrequirements: {}\n",
                k.status.name(),
                k.level.name(),
                k.message,
                if k.expected_failure {
                    " (listed as an expected failure)"
                } else if k.status == Status::Warn && c.fail_on == FailOn::Fail {
                    " (warning; fails the run with --fail-on warn)"
                } else {
                    ""
                },
                k.requirements.join(", ")
            );
            for (i, e) in k.evidence.iter().enumerate() {
                out.push_str(&format!(
                    "\n--- exchange {} ---\n{}\n\n{}\n",
                    i + 1,
                    e.request,
                    e.response
                ));
            }
            case.set_system_out(out);
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string()
}
