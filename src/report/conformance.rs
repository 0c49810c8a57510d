//! The `conformance` section of a report: results of `authbench check`, one entry per check.
//!
//! The checks module fills these; the report writers render them (terminal, HTML, JUnit).

use serde::{Deserialize, Serialize};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CheckStatus {
    /// The server does what the requirement says.
    Pass,
    /// A MUST requirement is violated.
    Fail,
    /// A SHOULD requirement is violated (or a lenient deviation, e.g. 401 instead of 400).
    Warn,
    /// Not applicable to this target (the reason is in the message).
    Skip,
    /// Report-only measurement (e.g. how long an access token survives a logout).
    Info,
}

impl CheckStatus {
    /// `PASS`, `FAIL`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "PASS",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Warn => "WARN",
            CheckStatus::Skip => "SKIP",
            CheckStatus::Info => "INFO",
        }
    }
}

/// Requirement level of a check (RFC 2119 keyword of the rule it rests on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CheckLevel {
    /// Violation → FAIL.
    Must,
    /// Violation → WARN.
    Should,
    /// Report-only → INFO.
    Info,
}

impl CheckLevel {
    /// `MUST`, `SHOULD`, `INFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckLevel::Must => "MUST",
            CheckLevel::Should => "SHOULD",
            CheckLevel::Info => "INFO",
        }
    }
}

/// Which findings fail the run (`--fail-on`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Only FAIL results fail the run.
    #[default]
    Fail,
    /// FAIL and WARN results fail the run.
    Warn,
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
    pub level: CheckLevel,
    /// Requirements cited, e.g. `RFC6749-5.2`, `RFC9700-4.14.2`.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Outcome.
    pub status: CheckStatus,
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
        if self.expected_failure {
            return false;
        }
        match self.status {
            CheckStatus::Fail => true,
            CheckStatus::Warn => fail_on == FailOn::Warn,
            _ => false,
        }
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
    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: CheckStatus, expected: bool) -> CheckResult {
        CheckResult {
            id: "RT-01".into(),
            title: "t".into(),
            family: "RT".into(),
            level: CheckLevel::Must,
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
            checks: vec![
                check(CheckStatus::Pass, false),
                check(CheckStatus::Warn, false),
            ],
            ..Conformance::default()
        };
        assert!(c.passed());
        c.fail_on = FailOn::Warn;
        assert!(!c.passed());
        c.checks[1].expected_failure = true;
        assert!(c.passed());
        c.checks.push(check(CheckStatus::Fail, false));
        assert!(!c.passed());
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.contains("\"FAIL\"") && json.contains("\"MUST\"") && json.contains("\"warn\"")
        );
        let back: Conformance = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}
