//! Scenario files (DESIGN §3): the YAML model, defaults, validation, `--set` overrides and the JSON
//! Schema.
//!
//! ```text
//! file ──read_file──► text ──serde-saphyr──► ScenarioFile ──--set (JSON round trip)──► ScenarioFile
//!                                                                  │
//!                                              validate::resolve ──► Scenario (defaults, MockConfig, users)
//! ```
//!
//! Every failure is a [`ConfigError`] naming file, line, column, key and fix. Parsing never panics:
//! serde-saphyr enforces budgets (alias bombs, depth) and files are capped at 1 MiB. Reading YAML,
//! rendering errors, durations, rates and the threshold grammar are the [`crate::config`] layer's.
//!
//! - [`model`]: the public types ([`Scenario`], [`ClientConfig`], [`Phase`], ...).
//! - [`file`]: the file as written ([`ScenarioFile`], [`MockSection`]). [`users`]: credentials.
//! - [`validate`]: semantic checks (and parsing the thresholds). [`overrides`]: `--set`.
//! - [`schema`]: the JSON Schema of scenario and target files.
//! - `tabs`: validation of `client.tabs` and the phases a fleet of tabs can run.
//! - `cookie_session`: validation of `client.strategy: cookie-session` against the plan and mock.

mod cookie_session;
pub mod file;
pub mod model;
pub use crate::config::overrides;
pub mod schema;
mod tabs;
pub mod users;
pub mod validate;

use std::path::Path;

pub use crate::client::{Connections, Strategy};
pub use crate::config::{ConfigError, Diagnostic, ErrorKind, Rate};
use crate::config::{DocKind, yaml};
pub use file::{MockSection, ScenarioFile};
pub use model::{ClientConfig, Phase, Scenario, TargetSpec};
pub use schema::json_schema;
pub use users::{CsvUsers, UserSource, UsersSpec};

/// How scenario files are described in messages.
pub const SCENARIO_DOC: DocKind = DocKind {
    noun: "scenario",
    example: "`plan: [ { login: { ramp: 2s } }, { traffic: { duration: 20s } } ]` (see scenarios/storm.yaml)",
    // Used for a mapping expected inside `plan` (a phase's settings); elsewhere the fix names the key.
    mapping_fix: "write a mapping (key: value) here; a phase is written `- login: { ramp: 2s }`, with `{}` when it has no settings",
    tagged_list: Some(("plan", "phase")),
    value_hints: &[
        ("clients", CLIENTS),
        ("concurrency", WHOLE_NUMBER),
        ("parallel", WHOLE_NUMBER),
        ("mock.users", WHOLE_NUMBER),
        ("offset", WHOLE_NUMBER),
        (
            "max_body",
            "a number of bytes or a size with a unit, e.g. 65536 or 64KiB (at least 256)",
        ),
        ("devices", WHOLE_NUMBER),
        ("max_sessions", WHOLE_NUMBER),
        ("websocket", TRUE_OR_FALSE),
        ("rotation", TRUE_OR_FALSE),
        ("reuse_detection", TRUE_OR_FALSE),
        ("single_session", TRUE_OR_FALSE),
        ("refresh_cookie", TRUE_OR_FALSE),
        ("connection_close", TRUE_OR_FALSE),
        ("plan", "a list of phases, e.g. - login: { ramp: 2s }"),
        (
            "expect",
            "a list of thresholds, e.g. - p99(refresh) < 250ms",
        ),
    ],
    value_fix: Some(value_fix),
    schema: Some(schema_of_scenarios),
};

/// The JSON Schema of scenario files (made once, on the first error that needs it).
fn schema_of_scenarios() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(json_schema)
}

/// The fix for a value of the wrong form at `key`, from the value as `written`: the form the key
/// takes, built from what the user wrote where it can be (`25%` → `0.25`).
fn value_fix(key: &str, written: &str) -> Option<String> {
    let bare = written.trim_matches(|c| c == '"' || c == '\'');
    match key {
        "client.scoped_share" => Some(
            match bare.strip_suffix('%').and_then(|n| n.trim().parse::<f64>().ok()) {
                Some(p) if (0.0..=100.0).contains(&p) => format!(
                    "write the share as a number from 0 to 1, not a percentage: `scoped_share: {}`",
                    p / 100.0
                ),
                _ => "`scoped_share` takes a number from 0 to 1, e.g. `scoped_share: 0.25` (a quarter of the calls)".into(),
            },
        ),
        "client.tabs" => {
            let max = crate::client::tabs::MAX_TABS;
            let example = bare
                .parse::<f64>()
                .ok()
                .filter(|n| (1.0..=f64::from(max)).contains(n))
                .map_or(4, |n| n.floor() as u32);
            Some(format!(
                "`tabs` takes a whole number of tabs from 1 to {max}, e.g. `tabs: {example}`"
            ))
        }
        "clients" => Some(format!("`clients` takes {CLIENTS}")),
        "users" => Some(if bare.ends_with(".csv") {
            format!("`users` takes a mapping: write `users: {{ csv: {bare} }}`")
        } else if bare.contains("{n}") {
            format!(
                "`users` takes a mapping: write `users: {{ pattern: \"{bare}\", password: \"pw-{{n}}\" }}` (or `users: {{ csv: users.csv }}`)"
            )
        } else {
            "`users` takes a mapping: write `users: { pattern: \"user{n}\", password: \"pw-{n}\" }` (or `users: { csv: users.csv }`)".into()
        }),
        _ => None,
    }
}

const WHOLE_NUMBER: &str = "a whole number, e.g. 100";
/// What `clients` takes ([`validate::MAX_CLIENTS`] is its maximum; a test keeps them equal).
pub const CLIENTS: &str = "a whole number from 1 to 10000000, e.g. 100";
const TRUE_OR_FALSE: &str = "true or false";

/// Loads, overrides (`--set key=value`, in order) and validates a scenario file.
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, ConfigError> {
    let src = yaml::read_file(path)?;
    from_source(&src, Some(path), overrides)
}

/// Like [`load`], from text (relative paths are resolved from the current directory).
pub fn load_str(src: &str, overrides: &[String]) -> Result<Scenario, ConfigError> {
    from_source(src, None, overrides)
}

fn from_source(
    src: &str,
    path: Option<&Path>,
    overrides: &[String],
) -> Result<Scenario, ConfigError> {
    let (file, ovs): (ScenarioFile, _) =
        overrides::parse_with_sets(src, path, SCENARIO_DOC, overrides, |ov, e| {
            // The fix a file's value gets, from the value as typed (`25%` → `0.25`).
            match value_fix(&ov.key(), &ov.text) {
                Some(fix) => e.with_fix(fix),
                None => e,
            }
        })?;
    let origin = validate::Origin { path };
    validate::resolve(&file, &origin).map_err(|p| {
        let e = ConfigError::new(ErrorKind::Invalid, p.message).with_fix(p.fix);
        match ovs.iter().rev().find(|o| o.touches(&p.path)) {
            Some(ov) => e.with_key(p.path).with_set(ov.raw.clone()),
            None => e.at_key(src, path, p.path),
        }
    })
}
