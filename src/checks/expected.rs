//! Expected failures: known deviations of a target, so that CI fails only on new ones.
//!
//! The file is a YAML list, shaped like the OpenID Foundation suite's `--expected-failures-file`:
//!
//! ```yaml
//! - id: RT-07                      # check id (required)
//!   reason: reuse keeps the family alive; tracked in AUTH-123   # why this is accepted (required)
//!   result: warn                   # optional: fail | warn — only this result is expected
//!   target: staging.example.com    # optional: only for targets whose URL contains this text
//! ```
//!
//! `test-name` is accepted for `id`, `expected-result` (`failure`/`warning`) for `result` and
//! `comment` for `reason`. Errors name the file, line and column.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::meta::CheckMeta;
use super::outcome::Status;
use crate::config::yaml::{self, DocKind};
use crate::config::{ConfigError, ErrorKind, did_you_mean};

const DOC: DocKind = DocKind::plain(
    "expected-failures",
    "`- { id: RT-07, reason: \"known: family not revoked on reuse\" }`",
);

/// Which result an entry expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedResult {
    /// A FAIL.
    #[serde(alias = "failure", alias = "FAIL", alias = "FAILURE")]
    Fail,
    /// A WARN.
    #[serde(alias = "warning", alias = "WARN", alias = "WARNING")]
    Warn,
}

impl ExpectedResult {
    fn matches(self, status: Status) -> bool {
        matches!(
            (self, status),
            (ExpectedResult::Fail, Status::Fail) | (ExpectedResult::Warn, Status::Warn)
        )
    }
}

/// One known deviation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// The check id, e.g. `RT-07`.
    #[serde(alias = "test-name")]
    pub id: String,
    /// Why the deviation is accepted (shown next to the result).
    #[serde(alias = "comment")]
    pub reason: String,
    /// Only this result is expected (FAIL or WARN when absent; never an ERROR).
    #[serde(
        default,
        alias = "expected-result",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<ExpectedResult>,
    /// Only for targets whose base URL contains this text (every target when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl ExpectedFailure {
    /// Whether this entry applies to check `id` against `target`.
    pub fn applies(&self, id: &str, target: &str) -> bool {
        self.id.eq_ignore_ascii_case(id)
            && self
                .target
                .as_deref()
                .is_none_or(|t| target.contains(t.trim()))
    }

    /// Whether `status` is the deviation this entry expects. An ERROR never is: the check did
    /// not run, so the known deviation was not seen (the run fails as for any ERROR).
    pub fn covers(&self, status: Status) -> bool {
        match self.result {
            Some(r) => r.matches(status),
            None => matches!(status, Status::Fail | Status::Warn),
        }
    }
}

/// The entries of an expected-failures file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpectedFailures {
    /// The entries, in file order.
    pub entries: Vec<ExpectedFailure>,
}

impl ExpectedFailures {
    /// The entry for check `id` against `target`, if any.
    pub fn lookup(&self, id: &str, target: &str) -> Option<&ExpectedFailure> {
        self.entries.iter().find(|e| e.applies(id, target))
    }
}

/// Reads an expected-failures file; every error names file, line, column and the fix.
pub fn load_expected_failures(path: &Path) -> Result<ExpectedFailures, ConfigError> {
    let src = yaml::read_file(path)?;
    parse_expected_failures(&src, Some(path), super::catalog())
}

/// Parses the text of an expected-failures file against the given catalog (unknown ids are errors).
pub fn parse_expected_failures(
    src: &str,
    path: Option<&Path>,
    catalog: &[CheckMeta],
) -> Result<ExpectedFailures, ConfigError> {
    let entries: Vec<ExpectedFailure> = yaml::parse(src, path, DOC)?;
    let locate = |e: ConfigError, key: String| e.at_key(src, path, key);
    for (i, entry) in entries.iter().enumerate() {
        if !catalog.iter().any(|m| m.id.eq_ignore_ascii_case(&entry.id)) {
            let known = catalog.iter().map(|m| m.id).collect::<Vec<_>>();
            let hint = did_you_mean(&entry.id, known.iter().copied());
            let msg = match hint {
                Some(h) => format!("unknown check id `{}`, did you mean `{h}`?", entry.id),
                None => format!("unknown check id `{}`", entry.id),
            };
            let e = ConfigError::new(ErrorKind::Invalid, msg)
                .with_fix("use an id from `authbench check --list` (e.g. RT-07)");
            return Err(locate(e, format!("{i}.id")));
        }
        if entry.reason.trim().is_empty() {
            let e = ConfigError::new(ErrorKind::Invalid, "the reason is empty")
                .with_fix("say why this deviation is accepted (a ticket, a decision)");
            return Err(locate(e, format!("{i}.reason")));
        }
        if let Some(j) = entries[..i]
            .iter()
            .position(|p| p.id.eq_ignore_ascii_case(&entry.id) && p.target == entry.target)
        {
            let e = ConfigError::new(
                ErrorKind::Invalid,
                format!("`{}` is listed twice (entries {j} and {i})", entry.id),
            )
            .with_fix("keep one entry per check id (and target)");
            return Err(locate(e, format!("{i}.id")));
        }
    }
    Ok(ExpectedFailures { entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::meta::Level;

    const CATALOG: &[CheckMeta] = &[
        CheckMeta {
            id: "RT-07",
            title: "t",
            summary: "s",
            requirements: &[],
            level: Level::Should,
            destructive: true,
            needs: &[],
        },
        CheckMeta {
            id: "RS-01",
            title: "t",
            summary: "s",
            requirements: &[],
            level: Level::Must,
            destructive: false,
            needs: &[],
        },
    ];

    #[test]
    fn parses_entries_and_oidf_aliases() {
        let src = "- id: RT-07\n  reason: known\n  result: warn\n- test-name: RS-01\n  comment: legacy\n  expected-result: failure\n  target: staging\n";
        let ef = parse_expected_failures(src, None, CATALOG).unwrap();
        assert_eq!(ef.entries.len(), 2);
        let rs = ef.lookup("RS-01", "https://staging.example.com").unwrap();
        assert_eq!(rs.result, Some(ExpectedResult::Fail));
        assert!(ef.lookup("RS-01", "https://prod.example.com").is_none());
        let rt = ef.lookup("rt-07", "x").unwrap();
        assert!(rt.covers(Status::Warn) && !rt.covers(Status::Fail) && !rt.covers(Status::Pass));
    }

    #[test]
    fn an_error_is_never_an_expected_failure() {
        let src = "- id: RT-07\n  reason: known\n";
        let entry = &parse_expected_failures(src, None, CATALOG).unwrap().entries[0];
        assert!(entry.covers(Status::Fail) && entry.covers(Status::Warn));
        assert!(!entry.covers(Status::Error), "the check did not run");
        assert!(!entry.covers(Status::Pass) && !entry.covers(Status::Skip));
    }

    #[test]
    fn unknown_ids_are_located() {
        let src = "- id: RT-07\n  reason: ok\n- id: RT-7\n  reason: typo\n";
        let err = parse_expected_failures(src, None, CATALOG).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown check id `RT-7`"), "{text}");
        assert!(text.contains("did you mean `RT-07`"), "{text}");
        assert_eq!(err.position().map(|p| p.0), Some(3), "{text}");
    }

    #[test]
    fn syntax_and_shape_errors_have_positions() {
        let err = parse_expected_failures("- id: RT-07\n  reasn: x\n", None, CATALOG).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("reasn"), "{text}");
        assert!(err.position().is_some(), "{text}");
        let err =
            parse_expected_failures("- id: RT-07\n  reason: \" \"\n", None, CATALOG).unwrap_err();
        assert!(err.to_string().contains("reason is empty"), "{err}");
        let err = parse_expected_failures(
            "- {id: RT-07, reason: a}\n- {id: RT-07, reason: b}\n",
            None,
            CATALOG,
        )
        .unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
    }
}
