//! Reports: the model written to `report.json`, thresholds evaluated against it, and the writers
//! that turn a report into what people and CI read.
//!
//! - [`model`]: [`Report`] (schema version 1), loaded back with [`Report::load`].
//! - [`build`]: the constructors — a load run ([`Report::from_run`]) and a conformance run
//!   ([`Report::from_conformance`]).
//! - [`threshold`]: parsed thresholds (grammar in [`crate::config::threshold`]) evaluated against
//!   a report.
//! - [`conformance`]: the `conformance` section produced by `authbench check`, and the types a
//!   check result is made of ([`Status`], [`Level`], [`FailOn`]) — here, the lowest layer that
//!   needs them; `checks` uses them.
//! - Writers, all called by [`write_all`]: `report.json`, [`hgrm`] (`<op>.hgrm`), [`terminal`]
//!   (`summary.txt` and the terminal), [`junit`] (`junit.xml`), [`html`] (`report.html`, charts by
//!   [`svg`], timeline charts chosen by [`charts`]).
//! - [`compare`]: several reports side by side (terminal table and HTML); [`merge`]: the exact
//!   merge of shard reports.
//! - [`format`] and [`sections`]: formatting and content shared by the writers;
//!   [`session_loss`]: the "session loss" panel (notice latency, ghosts, reasons).

pub mod build;
pub mod charts;
pub mod compare;
pub mod conformance;
pub mod format;
pub mod hgrm;
pub mod html;
pub mod junit;
pub mod merge;
pub mod model;
pub mod sections;
pub mod session_loss;
pub mod svg;
pub mod terminal;
pub mod threshold;
mod write;

pub use build::{ConformanceMeta, RunMeta};
pub use compare::{CompareError, Comparison};
pub use conformance::{CheckResult, Conformance, Evidence, FailOn, Level, Status};
pub use merge::{Completeness, MergeError, merge, merge_paths, merge_with};
pub use model::{
    Derived, HistogramReport, Origin, Report, ReportError, RunHeader, SCHEMA_VERSION, ShardInfo,
    ThresholdResult,
};
pub use terminal::terminal_summary;
pub use write::write_all;
