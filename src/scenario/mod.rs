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
//! serde-saphyr enforces budgets (alias bombs, depth) and files are capped at 1 MiB.
//!
//! - [`model`]: the public types ([`Scenario`], [`ClientConfig`], [`Phase`], ...).
//! - [`file`]: the file as written ([`ScenarioFile`], [`MockSection`]).
//! - [`units`]: durations and rates. [`users`]: credentials.
//! - [`validate`]: semantic checks. [`overrides`]: `--set`. [`yaml`] + [`locate`] + [`error`]: errors.
//! - [`schema`]: the JSON Schema of scenario and target files.

pub mod error;
pub mod file;
pub mod locate;
pub mod model;
pub mod overrides;
pub mod schema;
pub mod units;
pub mod users;
pub mod validate;
pub mod yaml;

use std::path::Path;

pub use error::{ConfigError, Diagnostic, ErrorKind};
pub use file::{MockSection, ScenarioFile};
pub use model::{ClientConfig, Connections, Phase, Scenario, Strategy, TargetSpec};
pub use schema::json_schema;
pub use units::Rate;
pub use users::{CsvUsers, UserSource, UsersSpec};

/// How scenario files are described in messages.
pub const SCENARIO_DOC: yaml::DocKind = yaml::DocKind {
    noun: "scenario",
    example: "`plan: [ { login: { ramp: 2s } }, { traffic: { duration: 20s } } ]` (see scenarios/storm.yaml)",
};

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
        let e = ConfigError::new(ErrorKind::Invalid, p.message)
            .with_key(p.path.clone())
            .with_fix(p.fix);
        if let Some(ov) = ovs.iter().rev().find(|o| o.touches(&p.path)) {
            return e.with_set(ov.raw.clone());
        }
        let e = match locate::Index::build(src).position(&p.path) {
            Some((line, col, width)) => e.at(src, line, col, width),
            None => e,
        };
        match path {
            Some(f) => e.with_file(f),
            None => e,
        }
    })
}
