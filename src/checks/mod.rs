//! # The conformance catalog (`authbench check`)
//!
//! Plan → check → assertions, like the OpenID Foundation suite. Every check is one small file
//! under [`catalog`] with the same shape: [`CheckMeta`] (id, title, requirement ids, level,
//! destructive, needs) and one async `run(probe) -> Verdict`.
//!
//! - [`meta`]: what a check is ([`CheckMeta`], [`Level`], [`Need`], families).
//! - [`outcome`]: what it concludes ([`Status`], [`Findings`], [`Stop`]).
//!
//! [`Status`], [`Level`] and [`FailOn`] are the report's types (`report::conformance`), used here
//! as they are: a result reaches report.json, HTML and JUnit without translation.
//! - [`probe`]: how it talks to the target ([`Probe`]): every exchange recorded as
//!   [`evidence`], every token redacted, its own test users.
//! - [`wsprobe`]: the WebSocket side of a probe. [`jwt`]: forging tokens for the `JW-*` attacks.
//! - [`runner`]: selection, needs, concurrency, timing, expected failures ([`expected`]), verdict.
//! - [`render`]: terminal table, `--list`, the README's catalog table.
//! - [`proof`]: the flaw → check table proven by tests/conformance/proof.rs.
//!
//! Each check is proven twice: it passes against the correct reference mock
//! ([`builtin_mock_config`]) and it fails against the mock flaw that breaks exactly its rule.

pub mod catalog;
pub mod evidence;
pub mod expected;
pub mod jwt;
pub mod meta;
pub mod outcome;
pub mod probe;
pub mod proof;
pub mod render;
pub mod runner;
pub mod settings;
pub mod wsprobe;

use std::sync::LazyLock;

pub use crate::report::conformance::FailOn;
pub use expected::{
    ExpectedFailure, ExpectedFailures, ExpectedResult, load_expected_failures,
    parse_expected_failures,
};
pub use meta::{CheckMeta, FAMILIES, Family, Level, Need};
pub use outcome::{Assertion, Findings, Status, Stop, Verdict};
pub use probe::Probe;
pub use proof::markdown_proof_table;
pub use render::{markdown_catalog, render_list, render_list_of, render_terminal};
pub use runner::{
    CheckOptions, CheckOutcome, ConformanceRun, DEFAULT_CONCURRENCY, SelectError, run, selected,
    validate_selectors,
};

/// The metadata of every check, in catalog order (for `--list` and the README).
pub fn catalog() -> &'static [CheckMeta] {
    static METAS: LazyLock<Vec<CheckMeta>> =
        LazyLock::new(|| catalog::ALL.iter().map(|c| c.meta).collect());
    &METAS
}

/// The flags that start an external mock with the same knobs as [`builtin_mock_config`].
pub const BUILTIN_MOCK_FLAGS: &str = "--signing rs256 --access-ttl 2s --max-session 4s --reuse-grace 1s --max-sessions 2 --sliding-window 1s";

/// The knobs of the in-process mock `authbench check` runs against when no target is given: every
/// check applicable and fast — a 2 s access token (expiry checks), a 4 s maximum session (RT-10),
/// a 1 s reuse grace window (RT-08), two sessions per user, the oldest kicked beyond them (WS-04,
/// SS-01; two let SS-02 and SS-03 hold concurrent sessions), sliding renewal in the last second
/// (SL-01), RS256 keys (JW-03), a random admin key (IN-01, RT-12), port 0.
pub fn builtin_mock_config() -> authbench_mock::MockConfig {
    mock_config_from_flags(BUILTIN_MOCK_FLAGS)
}

/// The flags of the second builtin mock, the target of the checks that need a short idle timeout
/// (RT-13, [`Need::ShortIdleTimeout`]): sessions end after 2 s without a refresh — long enough
/// that RT-13's steps keep clear of the idle end by 0.8 s of request time on a loaded machine. It is a mock of
/// its own because an idle timeout on the first one would end the sessions the other checks wait
/// with (an access token's expiry, RT-10's rotations), and there is no `--max-session 4s` to cut
/// an active session short.
pub const BUILTIN_IDLE_MOCK_FLAGS: &str = "--idle-timeout 2s";

/// The knobs of the second in-process mock of `authbench check` without a target (see
/// [`BUILTIN_IDLE_MOCK_FLAGS`]), port 0.
pub fn builtin_idle_mock_config() -> authbench_mock::MockConfig {
    mock_config_from_flags(BUILTIN_IDLE_MOCK_FLAGS)
}

/// A mock configuration from the mock's own command line, so the in-process knobs are exactly
/// those flags; port 0.
fn mock_config_from_flags(flags: &str) -> authbench_mock::MockConfig {
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        mock: authbench_mock::MockArgs,
    }
    use clap::Parser;
    let argv = std::iter::once("authbench-mock").chain(flags.split_whitespace());
    // Constants parsed by the mock's own parser; the unit test below proves them valid.
    let mut cfg = Flags::try_parse_from(argv)
        .expect("the builtin mock flags are valid mock flags")
        .mock
        .into_config()
        .expect("the builtin mock flags give a valid mock configuration");
    cfg.port = 0;
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_config_is_valid_and_the_catalog_is_complete() {
        builtin_mock_config().validate().unwrap();
        let idle = builtin_idle_mock_config();
        idle.validate().unwrap();
        assert_eq!(idle.idle_timeout, std::time::Duration::from_secs(2));
        assert_eq!(catalog().len(), catalog::ALL.len());
        for id in [
            "RT-01", "RT-02", "RT-06", "RT-07", "RT-08", "RT-09", "RT-10", "RT-12", "RS-01",
            "RS-02", "RS-04", "RV-01", "RV-02", "IN-01", "JW-01", "JW-02", "JW-03", "JW-05",
            "JW-06", "JW-07", "WS-01", "WS-02", "WS-03", "WS-04", "WS-05", "SL-01", "AT-01",
            "RT-13", "SS-01", "SS-02", "SS-03",
        ] {
            assert!(catalog().iter().any(|m| m.id == id), "{id} missing");
        }
    }
}
