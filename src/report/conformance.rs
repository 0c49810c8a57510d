//! The `conformance` section of a report: results of `authbench check`, one entry per check, and
//! the vocabulary of a result — [`Status`], [`Level`], [`FailOn`]. They are defined here, the
//! lowest layer that needs them: the checks module concludes in them and fills the section; the
//! report writers render it (terminal, HTML, JUnit).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The result of one check, or of one assertion inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Conforms.
    Pass,
    /// A MUST was violated.
    Fail,
    /// A SHOULD was violated (or a measured value is past its documented bound; or a lenient
    /// deviation, e.g. 401 instead of 400).
    Warn,
    /// Measured and reported; no judgement.
    Info,
    /// Not applicable to this target (the reason says why).
    Skip,
    /// authbench could not run the check to a verdict (the target became unreachable, a test login
    /// failed, the check timed out). A server's documented error is a verdict, never an ERROR.
    Error,
}

impl Status {
    /// Every status, in the order tables list them.
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Warn,
        Status::Info,
        Status::Skip,
        Status::Error,
    ];

    /// `PASS`, `FAIL`, `WARN`, `INFO`, `SKIP`, `ERROR` (as in report.json).
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::Info => "INFO",
            Status::Skip => "SKIP",
            Status::Error => "ERROR",
        }
    }

    /// How bad it is: the status of a check is the most severe of its assertions.
    pub fn severity(self) -> u8 {
        match self {
            Status::Skip => 0,
            Status::Info => 1,
            Status::Pass => 2,
            Status::Warn => 3,
            Status::Fail => 4,
            Status::Error => 5,
        }
    }

    /// FAIL, WARN or ERROR: something a reader must look at.
    pub fn is_finding(self) -> bool {
        matches!(self, Status::Fail | Status::Warn | Status::Error)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How binding the rule behind a check is (the RFC 2119 keyword it rests on), and so what a
/// violation yields.
///
/// Two spellings of the report-only level exist in published outputs and both are kept:
/// report.json (and its writers) say `INFO`, the status it yields; the catalog (`check --list`,
/// `check --json`) says `REPORT` ([`Level::catalog_name`]). Reading accepts both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// A MUST of the cited standard: a violation is a FAIL.
    Must,
    /// A SHOULD (or a security best practice): a violation is a WARN.
    Should,
    /// Measured and reported only: the result is INFO (or WARN past a documented bound).
    #[serde(rename = "INFO", alias = "REPORT")]
    Report,
}

impl Level {
    /// The status a violation of this level produces.
    pub fn violation(self) -> Status {
        match self {
            Level::Must => Status::Fail,
            Level::Should => Status::Warn,
            Level::Report => Status::Info,
        }
    }

    /// `MUST`, `SHOULD`, `INFO` (as in report.json).
    pub fn name(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Report => "INFO",
        }
    }

    /// `MUST`, `SHOULD`, `REPORT` (as in the catalog).
    pub fn catalog_name(self) -> &'static str {
        match self {
            Level::Report => "REPORT",
            other => other.name(),
        }
    }
}

/// Which findings fail the run (`--fail-on`). ERROR and FAIL always do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Only MUST-level violations (FAIL) fail the run.
    #[default]
    Fail,
    /// SHOULD-level findings (WARN) fail the run too.
    Warn,
}

impl FailOn {
    /// `fail` or `warn`, as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FailOn::Fail => "fail",
            FailOn::Warn => "warn",
        }
    }

    /// Whether a result with `status` fails the run under this policy (expected failures aside).
    pub fn fails(self, status: Status) -> bool {
        match status {
            Status::Fail | Status::Error => true,
            Status::Warn => self == FailOn::Warn,
            Status::Pass | Status::Info | Status::Skip => false,
        }
    }
}

/// One request/response exchange that decided a check, tokens redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The request as text (method, URL, relevant headers and body excerpt).
    pub request: String,
    /// The response as text (status, relevant headers and body excerpt).
    pub response: String,
}

/// The result of one conformance check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Check id, e.g. `RT-02`.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Family: `RT`, `RS`, `RV`, `IN`, `JW`, `WS`, `SL`, `AT`.
    pub family: String,
    /// Requirement level.
    pub level: Level,
    /// Requirements cited, e.g. `RFC6749-5.2`, `RFC9700-4.14.2`.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Outcome.
    pub status: Status,
    /// What was observed, in one or two sentences.
    #[serde(default)]
    pub message: String,
    /// Exchanges that decided the result.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Time the check took.
    #[serde(default)]
    pub duration_ms: u64,
    /// Listed in `--expected-failures`: a FAIL/WARN here does not fail the run.
    #[serde(default)]
    pub expected_failure: bool,
}

impl CheckResult {
    /// Whether this result fails the run under `fail_on`.
    pub fn fails_run(&self, fail_on: FailOn) -> bool {
        !self.expected_failure && fail_on.fails(self.status)
    }
}

/// The conformance section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conformance {
    /// `--strict` was given (401/403 on a rejected refresh is a FAIL, not a WARN).
    #[serde(default)]
    pub strict: bool,
    /// `--fail-on` policy.
    #[serde(default)]
    pub fail_on: FailOn,
    /// Results in catalog order.
    pub checks: Vec<CheckResult>,
}

impl Conformance {
    /// True when no result fails the run.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.fails_run(self.fail_on))
    }

    /// Number of results with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: Status, expected: bool) -> CheckResult {
        CheckResult {
            id: "RT-01".into(),
            title: "t".into(),
            family: "RT".into(),
            level: Level::Must,
            requirements: vec![],
            status,
            message: String::new(),
            evidence: vec![],
            duration_ms: 1,
            expected_failure: expected,
        }
    }

    #[test]
    fn policy() {
        let mut c = Conformance {
            checks: vec![check(Status::Pass, false), check(Status::Warn, false)],
            ..Conformance::default()
        };
        assert!(c.passed());
        c.fail_on = FailOn::Warn;
        assert!(!c.passed());
        c.checks[1].expected_failure = true;
        assert!(c.passed());
        c.checks.push(check(Status::Fail, false));
        assert!(!c.passed());
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.contains("\"FAIL\"") && json.contains("\"MUST\"") && json.contains("\"warn\"")
        );
        let back: Conformance = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);

        let errored = Conformance {
            checks: vec![check(Status::Pass, false), check(Status::Error, false)],
            ..Conformance::default()
        };
        assert!(!errored.passed(), "an ERROR fails the run like a FAIL");
        let json = serde_json::to_string(&errored).unwrap();
        assert!(json.contains("\"ERROR\""), "{json}");
        assert_eq!(serde_json::from_str::<Conformance>(&json).unwrap(), errored);
    }

    #[test]
    fn level_spellings() {
        assert_eq!(serde_json::to_string(&Level::Report).unwrap(), "\"INFO\"");
        let read: Level = serde_json::from_str("\"REPORT\"").unwrap();
        assert_eq!(read, Level::Report);
        assert_eq!(Level::Report.catalog_name(), "REPORT");
        assert_eq!(Level::Must.violation(), Status::Fail);
        assert_eq!(Level::Should.violation(), Status::Warn);
        assert_eq!(Level::Report.violation(), Status::Info);
    }
}
