//! What one check concludes: a [`Status`], the assertions behind it ([`Findings`]), or a [`Stop`]
//! (skipped for a stated reason, or could not be completed).
//!
//! The model follows the OpenID Foundation conformance suite: a check makes several assertions,
//! each with a result and the requirement it rests on; the check's status is the worst of them.
//!
//! [`Status`] itself is the report's type (`report::conformance`): a check concludes in exactly
//! what report.json, the HTML page and JUnit show.

use serde::Serialize;

pub use crate::report::conformance::Status;

/// One assertion of a check: its result, the requirement it rests on and what was observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assertion {
    /// The result of this assertion.
    pub status: Status,
    /// The requirement id it rests on (`RFC6750-3.1`), or empty for a plain observation.
    pub requirement: &'static str,
    /// What was observed, for a person (tokens redacted).
    pub message: String,
}

/// The assertions a check collects while it runs.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    items: Vec<Assertion>,
}

impl Findings {
    /// No assertions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an assertion.
    pub fn add(&mut self, status: Status, requirement: &'static str, message: impl Into<String>) {
        self.items.push(Assertion {
            status,
            requirement,
            message: message.into(),
        });
    }

    /// A conforming observation.
    pub fn pass(&mut self, requirement: &'static str, message: impl Into<String>) {
        self.add(Status::Pass, requirement, message);
    }

    /// A MUST violation.
    pub fn fail(&mut self, requirement: &'static str, message: impl Into<String>) {
        self.add(Status::Fail, requirement, message);
    }

    /// A SHOULD violation.
    pub fn warn(&mut self, requirement: &'static str, message: impl Into<String>) {
        self.add(Status::Warn, requirement, message);
    }

    /// A measured, unjudged observation.
    pub fn info(&mut self, requirement: &'static str, message: impl Into<String>) {
        self.add(Status::Info, requirement, message);
    }

    /// `pass` when `ok`, else an assertion with `violation` status; returns `ok`.
    pub fn expect(
        &mut self,
        ok: bool,
        violation: Status,
        requirement: &'static str,
        message: impl Into<String>,
    ) -> bool {
        self.add(
            if ok { Status::Pass } else { violation },
            requirement,
            message,
        );
        ok
    }

    /// Appends `other`'s assertions after these.
    pub fn append(&mut self, other: Findings) {
        self.items.extend(other.items);
    }

    /// The status of the check: the most severe assertion (INFO when there is none).
    pub fn status(&self) -> Status {
        self.items
            .iter()
            .map(|a| a.status)
            .max_by_key(|s| s.severity())
            .unwrap_or(Status::Info)
    }

    /// Whether any assertion is a FAIL, WARN or ERROR.
    pub fn has_findings(&self) -> bool {
        self.items.iter().any(|a| a.status.is_finding())
    }

    /// The assertions, in the order they were made.
    pub fn assertions(&self) -> &[Assertion] {
        &self.items
    }

    /// Takes the assertions out.
    pub fn into_assertions(self) -> Vec<Assertion> {
        self.items
    }
}

/// Why a check stopped before reaching a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Not applicable to this target (e.g. no RSA key in the JWKS).
    Skip(String),
    /// Could not be completed (the message says what broke).
    Error(String),
}

impl Stop {
    /// A skip with a reason.
    pub fn skip(reason: impl Into<String>) -> Self {
        Stop::Skip(reason.into())
    }

    /// An error with a message.
    pub fn error(message: impl Into<String>) -> Self {
        Stop::Error(message.into())
    }
}

/// What a check's body returns: its findings, or why it stopped.
pub type Verdict = Result<Findings, Stop>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_assertion_wins() {
        let mut f = Findings::new();
        assert_eq!(f.status(), Status::Info);
        f.info("", "measured");
        assert_eq!(f.status(), Status::Info);
        f.pass("RFC6749-5.1", "ok");
        assert_eq!(f.status(), Status::Pass);
        f.warn("RFC9700-4.14.2", "hmm");
        assert_eq!(f.status(), Status::Warn);
        assert!(!f.expect(false, Status::Fail, "RFC6749-5.2", "bad"));
        assert_eq!(f.status(), Status::Fail);
        assert!(f.has_findings());
        assert_eq!(f.assertions().len(), 4);
    }
}
