//! The bottom floor shared by every file authbench reads: scenarios, target profiles and the
//! checks' expected-failures lists.
//!
//! It owns how a YAML file becomes a typed value, and how a problem in it is told to a person —
//! so the three kinds of file read, fail and suggest fixes the same way. It knows no scenario,
//! profile or metric: callers pass what is specific to them ([`yaml::DocKind`] for messages, a
//! [`threshold::Vocabulary`] of metric names).
//!
//! - [`yaml`]: reading (size-capped, UTF-8) and deserializing with serde-saphyr; parser errors
//!   become [`ConfigError`]s with file, line, column, key path and fix.
//! - [`locate`]: dotted key path ⇄ position in the source, for errors found after parsing.
//! - [`error`]: [`ConfigError`] and its rendering (`file:line:col`, a snippet with a caret, key, fix).
//! - [`did_you_mean`]: the closest known name to a mistyped key, value, id or metric name (shared
//!   with the mock's flags: `authbench_mock::suggest`).
//! - [`overrides`]: `--set key=value` on a file's keys (scenarios, and target profiles in
//!   `validate`), applied to its JSON form so that an error names the override.
//! - [`schema_hint`]: what a key takes (its names, kind, range), read from the file's JSON Schema,
//!   for the fix of a value of the wrong kind.
//! - [`units`]: durations (`30s`, `1h30m`) and rates (`2000/s`), with serde and JSON Schema forms.
//! - [`threshold`]: the `expect:` grammar (`p99(refresh) < 250ms`), parsed into a [`Threshold`];
//!   evaluating one against a run is the report's job.

pub mod error;
pub mod locate;
pub mod overrides;
pub mod schema_hint;
pub mod threshold;
pub mod units;
pub mod yaml;

pub use authbench_mock::suggest::did_you_mean;
pub use error::{ConfigError, Diagnostic, ErrorKind};
pub use threshold::{Threshold, ThresholdError, Vocabulary};
pub use units::Rate;
pub use yaml::DocKind;
