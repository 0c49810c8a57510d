//! Metrics: HDR latency histograms, counters, a timeline (100 ms intervals, coarser for long runs)
//! and phase marks.
//!
//! Client tasks write into a [`Recorder`] (sharded, uncontended, bounded memory); the run ends with
//! a [`Snapshot`], merged losslessly over shards, that `report::Report::from_run` turns into a
//! report. Histograms are in microseconds, 1 µs..1 h at 3 significant digits ([`codec`]); the names
//! of everything recorded live in [`names`]; a few sample failures are kept whole ([`samples`]);
//! [`openmetrics`] shows a snapshot to Prometheus while a run goes on.

pub mod codec;
pub mod names;
pub mod openmetrics;
mod recorder;
pub mod samples;
mod shard_latency;
pub mod timeline;

pub use codec::new_histogram;
pub use recorder::{InFlight, PhaseMark, Recorder, Snapshot};
pub use samples::FailureSample;
pub use timeline::{IntervalLatency, Timeline};
