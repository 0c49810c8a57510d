//! Running the catalog: selection (`--only`/`--skip`), needs (SKIP with a reason), bounded
//! concurrency, a deadline and timing per check, expected failures, and the verdict (exit 0/1).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::catalog::{self, Check};
use super::evidence::Exchange;
use super::expected::{ExpectedFailure, ExpectedFailures};
use super::meta::{CheckMeta, Need};
use super::outcome::{Assertion, Status, Stop};
use super::probe::{Probe, Shared, USERS_PER_CHECK};
use crate::config::did_you_mean;
use crate::profile::Profile;
use crate::report::conformance::{CheckResult, Conformance, Evidence, FailOn};
use crate::scenario::UserSource;

/// Checks run at the same time by default (they mostly wait on the target).
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Deadline of one check by default.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// How to run the catalog.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Run only these ids or family prefixes (`RT-07`, `RT`, `rt-`); empty = all.
    pub only: Vec<String>,
    /// Leave out these ids or family prefixes.
    pub skip: Vec<String>,
    /// A refresh rejected with 401/403 instead of 400 `invalid_grant` is a FAIL (else a WARN).
    pub strict: bool,
    /// What fails the run (`--fail-on`).
    pub fail_on: FailOn,
    /// Known deviations that do not fail the run.
    pub expected: Option<ExpectedFailures>,
    /// Test users (default `user{n}` / `pw-{n}`); check i of the catalog uses users
    /// `i*4 .. i*4+3` of this source (see [`USERS_PER_CHECK`]).
    pub users: UserSource,
    /// Checks run at the same time (0 = [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// Deadline of one check (zero = [`DEFAULT_CHECK_TIMEOUT`]).
    pub check_timeout: Duration,
    /// The target the checks needing [`Need::ShortIdleTimeout`] (RT-13) talk to, when it is not
    /// the main one: `authbench check` without a target gives them a second builtin mock whose
    /// sessions idle out after 2 s (an idle timeout on the main mock would end the sessions the
    /// other checks wait with). `None`: the main target.
    pub idle_target: Option<Arc<Profile>>,
}

/// Why every check is skipped against a cookie-session profile.
pub const COOKIE_SESSION_SKIP: &str = "the target profile is a cookie-session server (`cookie_session:`): it issues no OAuth access or refresh tokens, which this check is about; load-test it with `client.strategy: cookie-session`";

/// An `--only`/`--skip` selection that cannot be run as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A selector that names no check.
    #[error("unknown check id or family `{selector}`{}; see `authbench check --list`", hint.as_ref().map(|h| format!(", did you mean `{h}`?")).unwrap_or_default())]
    Unknown {
        /// The selector as given.
        selector: String,
        /// The closest id or family.
        hint: Option<String>,
    },
    /// An empty value (`--only ""`, `--skip RT,,RS`), which names nothing.
    #[error(
        "{flag} {given:?}: an empty check id names no check\n  = fix: give check ids or families, e.g. {flag} RT-01,RS (see `authbench check --list`), or leave {flag} out"
    )]
    Empty {
        /// `--only` or `--skip`.
        flag: &'static str,
        /// The values, joined by commas as typed.
        given: String,
    },
    /// Valid selectors that together leave no check to run.
    #[error("{filters} leaves no check to run: {why}\n  = fix: {fix}")]
    NothingLeft {
        /// The filters as given (`--only RT-01 --skip RT-01`).
        filters: String,
        /// Which filter removed the rest.
        why: String,
        /// What to change.
        fix: String,
    },
}

/// Checks the `--only`/`--skip` selection: no empty value, every selector names at least one
/// check, and at least one check is left to run.
pub fn validate_selectors(opts: &CheckOptions) -> Result<(), SelectError> {
    for (flag, values) in [("--only", &opts.only), ("--skip", &opts.skip)] {
        if values.iter().any(|s| s.trim().is_empty()) {
            return Err(SelectError::Empty {
                flag,
                given: values.join(","),
            });
        }
    }
    for s in opts.only.iter().chain(&opts.skip) {
        if !catalog::ALL.iter().any(|c| c.meta.matches(s)) {
            let candidates = catalog::ALL
                .iter()
                .map(|c| c.meta.id)
                .chain(super::meta::FAMILIES.iter().map(|f| f.prefix));
            return Err(SelectError::Unknown {
                selector: s.clone(),
                hint: did_you_mean(s.trim(), candidates),
            });
        }
    }
    if selected(opts).is_empty() {
        let (only, skip) = (opts.only.join(","), opts.skip.join(","));
        return Err(if opts.only.is_empty() {
            SelectError::NothingLeft {
                filters: format!("--skip {skip}"),
                why: format!("--skip {skip} names every check of the catalog"),
                fix: "skip fewer checks, or choose the ones to run with --only".into(),
            }
        } else {
            SelectError::NothingLeft {
                filters: format!("--only {only} --skip {skip}"),
                why: format!("--skip {skip} removes every check --only {only} selects"),
                fix: format!(
                    "drop from --skip what --only should run, or widen --only (now {only})"
                ),
            }
        });
    }
    Ok(())
}

/// The checks `opts` selects, with their catalog positions, in catalog order.
pub fn selected(opts: &CheckOptions) -> Vec<(usize, &'static Check)> {
    catalog::ALL
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| {
            let only = opts.only.iter().filter(|s| !s.trim().is_empty());
            let mut only = only.peekable();
            (only.peek().is_none() || only.any(|s| c.meta.matches(s)))
                && !opts.skip.iter().any(|s| c.meta.matches(s))
        })
        .collect()
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    /// The check.
    pub meta: &'static CheckMeta,
    /// Its status.
    pub status: Status,
    /// One line for people: the decisive assertions, or the reason for a SKIP/ERROR.
    pub message: String,
    /// Every assertion made.
    pub assertions: Vec<Assertion>,
    /// The exchanges that decided it (redacted).
    pub evidence: Vec<Exchange>,
    /// Exchanges left out to keep the evidence bounded.
    #[serde(skip_serializing_if = "is_zero")]
    pub evidence_omitted: usize,
    /// How long it took.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// The expected-failures entry that covers this result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<ExpectedFailure>,
    /// Listed as an expected failure but it passed: the entry can go.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unexpected_pass: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn fails_on_warn<S: serde::Serializer>(f: &FailOn, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*f == FailOn::Warn)
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// The result of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ConformanceRun {
    /// The target's base URL.
    pub target: String,
    /// The profile (preset or file) name.
    pub profile: String,
    /// `--strict`.
    pub strict: bool,
    /// `--fail-on` (written as `"fail_on_warn": true|false` in `check --json`).
    #[serde(rename = "fail_on_warn", serialize_with = "fails_on_warn")]
    pub fail_on: FailOn,
    /// When the run started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// How long the whole run took.
    #[serde(rename = "elapsed_ms", serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// One result per selected check, in catalog order.
    pub results: Vec<CheckOutcome>,
}

impl CheckOutcome {
    /// Whether this result fails the run under `fail_on` (an expected failure never does).
    pub fn fails_run(&self, fail_on: FailOn) -> bool {
        let expected = self.expected.is_some() && !self.unexpected_pass;
        !expected && fail_on.fails(self.status)
    }
}

impl ConformanceRun {
    /// Whether no result fails the run.
    pub fn passed(&self) -> bool {
        !self.results.iter().any(|r| r.fails_run(self.fail_on))
    }

    /// The process exit code of DESIGN §2: 0 when nothing fails the run, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.passed() { 0 } else { 1 }
    }

    /// The results that fail the run.
    pub fn failing(&self) -> Vec<&CheckOutcome> {
        self.results
            .iter()
            .filter(|r| r.fails_run(self.fail_on))
            .collect()
    }

    /// The result of check `id`.
    pub fn get(&self, id: &str) -> Option<&CheckOutcome> {
        self.results
            .iter()
            .find(|r| r.meta.id.eq_ignore_ascii_case(id))
    }

    /// Number of results with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    /// The `conformance` section of `report.json` (and the JUnit test cases).
    pub fn to_report(&self) -> Conformance {
        Conformance {
            strict: self.strict,
            fail_on: self.fail_on,
            checks: self.results.iter().map(report_result).collect(),
        }
    }
}

fn report_result(r: &CheckOutcome) -> CheckResult {
    let mut message = r.message.clone();
    if let Some(e) = &r.expected {
        let what = if r.unexpected_pass {
            "unexpected pass: listed as an expected failure"
        } else {
            "expected failure"
        };
        message = format!("{message} [{what}: {}]", e.reason);
    }
    CheckResult {
        id: r.meta.id.to_string(),
        title: r.meta.title.to_string(),
        family: r.meta.family_prefix().to_string(),
        level: r.meta.level,
        requirements: r.meta.requirements.iter().map(|s| s.to_string()).collect(),
        status: r.status,
        message,
        evidence: r.evidence.iter().map(report_evidence).collect(),
        duration_ms: r.duration.as_millis() as u64,
        expected_failure: r.expected.is_some(),
    }
}

fn report_evidence(e: &Exchange) -> Evidence {
    let mut request = format!("# {}\n{}", e.label, e.request);
    for h in &e.request_headers {
        request.push_str(&format!("\n{}: {}", h.name, h.value));
    }
    if let Some(b) = &e.request_body {
        request.push_str(&format!("\n\n{b}"));
    }
    let mut response = match (e.status, &e.error) {
        (Some(s), _) => format!("{s} ({} ms)", e.elapsed_ms),
        (None, Some(err)) => format!("error: {err} ({} ms)", e.elapsed_ms),
        (None, None) => "no response".to_string(),
    };
    for h in &e.response_headers {
        response.push_str(&format!("\n{}: {}", h.name, h.value));
    }
    if let Some(b) = &e.response_body {
        response.push_str(&format!("\n\n{b}"));
    }
    Evidence { request, response }
}

/// Why a check cannot run against this profile, from its profile-level needs.
pub fn unmet_need(profile: &Profile, needs: &[Need]) -> Option<Need> {
    needs.iter().copied().find(|n| match n {
        Need::Logout => !profile.has_logout(),
        Need::Revocation => !profile.has_revoke(),
        Need::Introspection => !profile.has_introspect(),
        Need::AdminLogout => !profile.has_admin_logout(),
        Need::WebSocket => profile.ws().is_none(),
        Need::RenewalHeader => profile.renewal_header().is_none(),
        Need::ScopedResource => profile.scoped_resource().is_none(),
        Need::SessionPolicy => profile.max_sessions().is_none(),
        Need::LogoutEverywhere => !profile.has_logout_everywhere(),
        // Found out while the check runs.
        Need::RefreshTokenValue
        | Need::JwtAccessTokens
        | Need::RsaJwk
        | Need::ShortAccessTokens
        | Need::ShortSessions
        | Need::SingleSession
        | Need::ShortIdleTimeout => false,
    })
}

/// Runs the selected checks against `profile` (concurrently, bounded) and applies the expected
/// failures. Never fails as a whole: a check that cannot complete is an ERROR result.
pub async fn run(profile: Arc<Profile>, opts: &CheckOptions) -> ConformanceRun {
    let started_at = chrono::Utc::now();
    let t0 = Instant::now();
    let target = profile.base_url().to_string();
    let profile_name = profile.name().to_string();
    let checks = selected(opts);
    let concurrency = if opts.concurrency == 0 {
        DEFAULT_CONCURRENCY
    } else {
        opts.concurrency
    };
    let timeout = if opts.check_timeout.is_zero() {
        DEFAULT_CHECK_TIMEOUT
    } else {
        opts.check_timeout
    };
    let shared = Shared::new(profile.clone(), opts.users.clone(), opts.strict).map(Arc::new);
    let idle_shared = match &opts.idle_target {
        Some(idle) => Shared::new(idle.clone(), opts.users.clone(), opts.strict).map(Arc::new),
        None => shared.clone(),
    };
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(checks.len());
    for (index, check) in checks {
        let meta = &check.meta;
        let (target, shared) = match &opts.idle_target {
            Some(idle) if meta.needs.contains(&Need::ShortIdleTimeout) => {
                (idle.clone(), idle_shared.clone())
            }
            _ => (profile.clone(), shared.clone()),
        };
        let skip = unmet_need(&target, meta.needs).map(|need| need.reason());
        // The catalog is about OAuth tokens; a cookie-session server issues none.
        let skip = skip.or_else(|| {
            (target.cookie_session().is_some() && !target.has_refresh())
                .then_some(COOKIE_SESSION_SKIP)
        });
        let gate = gate.clone();
        tasks.push((
            meta,
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let start = Instant::now();
                if let Some(reason) = skip {
                    return finish(meta, Err(Stop::skip(reason)), None, start);
                }
                let shared = match shared {
                    Ok(s) => s,
                    Err(e) => return finish(meta, Err(Stop::error(e)), None, start),
                };
                let base = index as u64 * USERS_PER_CHECK;
                let probe = Arc::new(Probe::new(shared, meta, base));
                let verdict = match tokio::time::timeout(timeout, (check.run)(probe.clone())).await
                {
                    Ok(v) => v,
                    Err(_) => Err(Stop::error(format!(
                        "the check did not finish within {}s",
                        timeout.as_secs()
                    ))),
                };
                finish(meta, verdict, Some(&probe), start)
            }),
        ));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for (meta, task) in tasks {
        let outcome = match task.await {
            Ok(o) => o,
            Err(e) => CheckOutcome {
                meta,
                status: Status::Error,
                message: format!("the check crashed: {e}"),
                assertions: vec![],
                evidence: vec![],
                evidence_omitted: 0,
                duration: Duration::ZERO,
                expected: None,
                unexpected_pass: false,
            },
        };
        results.push(outcome);
    }
    if let Some(expected) = &opts.expected {
        for r in &mut results {
            apply_expected(r, expected, &target);
        }
    }
    ConformanceRun {
        target,
        profile: profile_name,
        strict: opts.strict,
        fail_on: opts.fail_on,
        started_at,
        elapsed: t0.elapsed(),
        results,
    }
}

fn apply_expected(r: &mut CheckOutcome, expected: &ExpectedFailures, target: &str) {
    let Some(entry) = expected.lookup(r.meta.id, target) else {
        return;
    };
    if entry.covers(r.status) {
        r.expected = Some(entry.clone());
    } else if matches!(r.status, Status::Pass) {
        r.expected = Some(entry.clone());
        r.unexpected_pass = true;
    }
}

fn finish(
    meta: &'static CheckMeta,
    verdict: Result<super::outcome::Findings, Stop>,
    probe: Option<&Arc<Probe>>,
    start: Instant,
) -> CheckOutcome {
    let (evidence, omitted) = probe.map(|p| p.take_evidence()).unwrap_or_default();
    let scrub = |s: &str| match probe {
        Some(p) => p.scrub(s),
        None => s.to_string(),
    };
    let (status, message, assertions) = match verdict {
        Ok(findings) => {
            let status = findings.status();
            let mut assertions = findings.into_assertions();
            for a in &mut assertions {
                a.message = scrub(&a.message);
            }
            let message = summarize(status, &assertions);
            (status, message, assertions)
        }
        Err(Stop::Skip(reason)) => (Status::Skip, scrub(&reason), vec![]),
        Err(Stop::Error(msg)) => (Status::Error, scrub(&msg), vec![]),
    };
    CheckOutcome {
        meta,
        status,
        message,
        assertions,
        evidence,
        evidence_omitted: omitted,
        duration: start.elapsed(),
        expected: None,
        unexpected_pass: false,
    }
}

/// The decisive assertions (those with the check's status) in one line.
fn summarize(status: Status, assertions: &[Assertion]) -> String {
    let decisive: Vec<&str> = assertions
        .iter()
        .filter(|a| a.status == status)
        .map(|a| a.message.as_str())
        .collect();
    super::evidence::cut(&decisive.join("; "), 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(only: &[&str], skip: &[&str]) -> CheckOptions {
        CheckOptions {
            only: only.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
            ..CheckOptions::default()
        }
    }

    #[test]
    fn selection_by_id_and_family() {
        let all = selected(&opts(&[], &[])).len();
        assert_eq!(all, catalog::ALL.len());
        let rt: Vec<_> = selected(&opts(&["RT"], &[]))
            .into_iter()
            .map(|(_, c)| c.meta.id)
            .collect();
        assert!(rt.iter().all(|id| id.starts_with("RT-")) && rt.contains(&"RT-07"));
        let some = selected(&opts(&["rt-01", "WS"], &["WS-04"]));
        let ids: Vec<_> = some.iter().map(|(_, c)| c.meta.id).collect();
        assert!(ids.contains(&"RT-01") && ids.contains(&"WS-01") && !ids.contains(&"WS-04"));
        // Catalog positions (which decide the test users) do not depend on the selection.
        let (i, _) = selected(&opts(&["RT-07"], &[]))[0];
        assert_eq!(catalog::ALL[i].meta.id, "RT-07");
    }

    #[test]
    fn unknown_selectors_are_reported() {
        assert!(validate_selectors(&opts(&["RT-07", "ws"], &["JW-"])).is_ok());
        let e = validate_selectors(&opts(&["RT-7"], &[])).unwrap_err();
        assert!(
            matches!(&e, SelectError::Unknown { hint: Some(h), .. } if h == "RT-07"),
            "{e:?}"
        );
        assert!(e.to_string().contains("did you mean `RT-07`"), "{e}");
    }

    #[test]
    fn empty_values_and_empty_selections_are_refused() {
        let e = validate_selectors(&opts(&[""], &[])).unwrap_err();
        assert!(
            matches!(e, SelectError::Empty { flag: "--only", .. }),
            "{e:?}"
        );
        let e = validate_selectors(&opts(&[], &["RT", ""])).unwrap_err();
        assert!(e.to_string().starts_with("--skip \"RT,\""), "{e}");
        let e = validate_selectors(&opts(&["RT-01"], &["RT-01"])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--only RT-01 --skip RT-01 leaves no check to run"),
            "{e}"
        );
        let every: Vec<&str> = super::super::meta::FAMILIES
            .iter()
            .map(|f| f.prefix)
            .collect();
        let e = validate_selectors(&opts(&[], &every)).unwrap_err();
        assert!(e.to_string().contains("names every check"), "{e}");
        assert!(validate_selectors(&opts(&["RT"], &["RT-01"])).is_ok());
    }

    fn outcome(status: Status) -> CheckOutcome {
        CheckOutcome {
            meta: &catalog::ALL[0].meta,
            status,
            message: "m".into(),
            assertions: vec![],
            evidence: vec![],
            evidence_omitted: 0,
            duration: Duration::from_millis(5),
            expected: None,
            unexpected_pass: false,
        }
    }

    fn run_of(results: Vec<CheckOutcome>, fail_on: FailOn) -> ConformanceRun {
        ConformanceRun {
            target: "http://x".into(),
            profile: "mock".into(),
            strict: false,
            fail_on,
            started_at: chrono::Utc::now(),
            elapsed: Duration::ZERO,
            results,
        }
    }

    #[test]
    fn verdicts_follow_fail_on_and_expected_failures() {
        let r = run_of(
            vec![outcome(Status::Pass), outcome(Status::Warn)],
            FailOn::Fail,
        );
        assert_eq!(r.exit_code(), 0);
        let r = run_of(
            vec![outcome(Status::Pass), outcome(Status::Warn)],
            FailOn::Warn,
        );
        assert_eq!(r.exit_code(), 1);
        let r = run_of(vec![outcome(Status::Error)], FailOn::Fail);
        assert_eq!(r.exit_code(), 1);
        let error = &r.to_report().checks[0];
        assert_eq!(
            error.status,
            Status::Error,
            "ERROR reaches the report as ERROR"
        );
        assert!(!r.to_report().passed());
        let r = run_of(
            vec![outcome(Status::Skip), outcome(Status::Info)],
            FailOn::Warn,
        );
        assert_eq!(r.exit_code(), 0);

        let expected = ExpectedFailures {
            entries: vec![ExpectedFailure {
                id: catalog::ALL[0].meta.id.into(),
                reason: "known".into(),
                result: None,
                target: None,
            }],
        };
        let mut failing = outcome(Status::Fail);
        apply_expected(&mut failing, &expected, "http://x");
        assert!(failing.expected.is_some() && !failing.fails_run(FailOn::Warn));
        let mut passing = outcome(Status::Pass);
        apply_expected(&mut passing, &expected, "http://x");
        assert!(passing.unexpected_pass && !passing.fails_run(FailOn::Warn));
        let report = run_of(vec![failing, passing], FailOn::Warn).to_report();
        assert!(report.passed());
        assert!(report.checks[1].message.contains("unexpected pass"));
        let json = serde_json::to_value(run_of(vec![], FailOn::Warn)).unwrap();
        assert_eq!(json["fail_on_warn"], true, "check --json keeps its field");
    }
}
