//! Reports: the model written to `report.json`, thresholds, and the writers that turn a report into
//! what people and CI read.
//!
//! - [`model`]: [`Report`] (schema version 1) built from a run's snapshot ([`Report::from_run`]) or
//!   loaded back ([`Report::load`]).
//! - [`threshold`]: the `expect:` grammar, parsed and evaluated against a report.
//! - [`conformance`]: the `conformance` section produced by `authbench check`.
//! - Writers, all called by [`write_all`]: `report.json`, [`hgrm`] (`<op>.hgrm`), [`terminal`]
//!   (`summary.txt` and the terminal), [`junit`] (`junit.xml`), [`html`] (`report.html`, charts by
//!   [`svg`]).
//! - [`compare`]: several reports side by side (terminal table and HTML); [`merge`]: the exact
//!   merge of shard reports.
//! - [`format`] and [`sections`]: formatting and content shared by the writers.

pub mod compare;
pub mod conformance;
pub mod format;
pub mod hgrm;
pub mod html;
pub mod junit;
pub mod merge;
pub mod model;
pub mod sections;
pub mod svg;
pub mod terminal;
pub mod threshold;
mod write;

pub use compare::{CompareError, Comparison};
pub use conformance::{CheckLevel, CheckResult, CheckStatus, Conformance, Evidence, FailOn};
pub use merge::{MergeError, merge, merge_paths};
pub use model::{
    Derived, HistogramReport, Report, ReportError, RunHeader, RunMeta, SCHEMA_VERSION, ShardInfo,
};
pub use terminal::terminal_summary;
pub use threshold::{Threshold, ThresholdError, ThresholdResult};
pub use write::write_all;
