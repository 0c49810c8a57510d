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
pub mod overrides;
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
    mapping_fix: "write a mapping (key: value) here; a phase is written `- login: { ramp: 2s }`, with `{}` when it has no settings",
    tagged_list: Some(("plan", "phase")),
    value_hints: &[
        ("clients", WHOLE_NUMBER),
        ("concurrency", WHOLE_NUMBER),
        ("parallel", WHOLE_NUMBER),
        ("users", WHOLE_NUMBER),
        ("offset", WHOLE_NUMBER),
        ("max_body", WHOLE_NUMBER),
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
};

const WHOLE_NUMBER: &str = "a whole number, e.g. 100";
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
    let ovs = overrides
        .iter()
        .map(|o| overrides::parse(o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut file: ScenarioFile = yaml::parse(src, path, SCENARIO_DOC)?;
    if !ovs.is_empty() {
        let mut doc = serde_json::to_value(&file).map_err(|e| {
            ConfigError::new(ErrorKind::Invalid, format!("cannot apply --set: {e}"))
        })?;
        for ov in &ovs {
            file = overrides::apply_and_reread(&mut doc, ov)?;
        }
    }
    let origin = validate::Origin { path };
    validate::resolve(&file, &origin).map_err(|p| {
        let e = ConfigError::new(ErrorKind::Invalid, p.message).with_fix(p.fix);
        match ovs.iter().rev().find(|o| o.touches(&p.path)) {
            Some(ov) => e.with_key(p.path).with_set(ov.raw.clone()),
            None => e.at_key(src, path, p.path),
        }
    })
}
