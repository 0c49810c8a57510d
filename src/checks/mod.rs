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
pub use render::{markdown_catalog, render_list, render_terminal};
pub use runner::{
    CheckOptions, CheckOutcome, ConformanceRun, SelectError, run, selected, validate_selectors,
};

/// The metadata of every check, in catalog order (for `--list` and the README).
pub fn catalog() -> &'static [CheckMeta] {
    static METAS: LazyLock<Vec<CheckMeta>> =
        LazyLock::new(|| catalog::ALL.iter().map(|c| c.meta).collect());
    &METAS
}

/// The flags that start an external mock with the same knobs as [`builtin_mock_config`].
pub const BUILTIN_MOCK_FLAGS: &str = "--signing rs256 --access-ttl 2s --max-session 4s --reuse-grace 1s --single-session --sliding-window 1s";

/// The knobs of the in-process mock `authbench check` runs against when no target is given: every
/// check applicable and fast — a 2 s access token (expiry checks), a 4 s maximum session (RT-10),
/// a 1 s reuse grace window (RT-08), single session (WS-04), sliding renewal in the last second
/// (SL-01), RS256 keys (JW-03), a random admin key (IN-01, RT-12), port 0.
pub fn builtin_mock_config() -> authbench_mock::MockConfig {
    /// The mock's own command line, so the in-process knobs are exactly `BUILTIN_MOCK_FLAGS`.
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        mock: authbench_mock::MockArgs,
    }
    use clap::Parser;
    let argv = std::iter::once("authbench-mock").chain(BUILTIN_MOCK_FLAGS.split_whitespace());
    // A constant parsed by the mock's own parser; the unit test below proves it valid.
    let mut cfg = Flags::try_parse_from(argv)
        .expect("BUILTIN_MOCK_FLAGS are valid mock flags")
        .mock
        .into_config()
        .expect("BUILTIN_MOCK_FLAGS give a valid mock configuration");
    cfg.port = 0;
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_config_is_valid_and_the_catalog_is_complete() {
        builtin_mock_config().validate().unwrap();
        assert_eq!(catalog().len(), catalog::ALL.len());
        for id in [
            "RT-01", "RT-02", "RT-06", "RT-07", "RT-08", "RT-09", "RT-10", "RT-12", "RS-01",
            "RS-02", "RS-04", "RV-01", "RV-02", "IN-01", "JW-01", "JW-02", "JW-03", "JW-05",
            "JW-06", "JW-07", "WS-01", "WS-03", "WS-04", "WS-05", "SL-01", "AT-01",
        ] {
            assert!(catalog().iter().any(|m| m.id == id), "{id} missing");
        }
    }
}
