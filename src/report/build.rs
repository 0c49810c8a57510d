//! The two ways a report comes to be: from a load run ([`Report::from_run`]: the recorder's
//! snapshot plus the scenario's parsed thresholds) and from a conformance run
//! ([`Report::from_conformance`]: the checks' results, no load metrics at all). A report read
//! back from disk is [`Report::load`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::conformance::Conformance;
use super::model::{Derived, HistogramReport, Report, RunHeader, SCHEMA_VERSION, ShardInfo};
use crate::config::Threshold;
use crate::metrics::Snapshot;

/// What the caller knows about a run that the recorder does not.
#[derive(Debug, Clone, Default)]
pub struct RunMeta {
    /// Scenario name (`name:`).
    pub name: String,
    /// Scenario description.
    pub description: String,
    /// Scenario file, when there is one.
    pub scenario_path: Option<PathBuf>,
    /// Target as a person reads it: `builtin mock (http://127.0.0.1:PORT)`, a profile path or a URL.
    pub target: String,
    /// Simulated clients (this shard's share when sharded).
    pub clients: u32,
    /// Client strategy: `naive`, `single-flight`, `proactive`, `sliding`.
    pub strategy: String,
    /// The fully resolved configuration (scenario after overrides) as JSON.
    pub config: serde_json::Value,
    /// The run was stopped early (Ctrl-C): the report is partial.
    pub interrupted: bool,
    /// `(index, count)` of a sharded run (`--shard i/N`, index from 0).
    pub shard: Option<(u32, u32)>,
    /// Worker threads of the runtime the clients ran on.
    pub threads: Option<u32>,
}

/// What the caller knows about a conformance run (`authbench check`) besides its results.
#[derive(Debug, Clone)]
pub struct ConformanceMeta {
    /// Target as a person reads it: `builtin mock (http://127.0.0.1:PORT)`, a profile path or a URL.
    pub target: String,
    /// The options of the run (`only`, `skip`, `strict`, `fail_on`) as JSON.
    pub config: serde_json::Value,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
}

/// The report name of a conformance run (`run.name` in report.json).
pub const CONFORMANCE_NAME: &str = "check";

impl Report {
    /// Builds the report of a load run and evaluates the scenario's thresholds against it, and
    /// the default thresholds it does not override.
    pub fn from_run(meta: RunMeta, snap: Snapshot, expect: &[Threshold]) -> Report {
        let duration_s = snap.elapsed.as_secs_f64();
        let histograms: BTreeMap<String, HistogramReport> = snap
            .histograms
            .into_iter()
            .map(|(k, h)| (k, HistogramReport::new(h)))
            .collect();
        let derived = Derived::compute(&snap.counters, &histograms, duration_s);
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            run: RunHeader {
                name: meta.name,
                description: meta.description,
                scenario_path: meta.scenario_path.map(|p| p.display().to_string()),
                target: meta.target,
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                started_at: snap.started_at,
                duration_s,
                clients: meta.clients,
                strategy: meta.strategy,
                shard: meta.shard.map(|(index, count)| ShardInfo { index, count }),
                threads: meta.threads,
                interrupted: meta.interrupted,
                config: meta.config,
                merged_from: Vec::new(),
                missing_shards: Vec::new(),
            },
            histograms,
            counters: snap.counters,
            derived,
            timeline: snap.timeline,
            phases: snap.phases,
            expect: Vec::new(),
            thresholds: Vec::new(),
            failure_samples: snap.failure_samples,
            server_arrivals: None,
            conformance: None,
        };
        report.evaluate_thresholds(expect);
        report
    }

    /// Builds the report of a conformance run: a header and the `conformance` section; no
    /// histograms, counters, timeline or thresholds, since no load was generated.
    pub fn from_conformance(meta: ConformanceMeta, conformance: Conformance) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            run: RunHeader {
                name: CONFORMANCE_NAME.to_string(),
                description: format!("conformance suite against {}", meta.target),
                scenario_path: None,
                target: meta.target,
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                started_at: meta.started_at,
                duration_s: meta.duration.as_secs_f64(),
                clients: 0,
                strategy: String::new(),
                shard: None,
                threads: None,
                interrupted: false,
                config: meta.config,
                merged_from: Vec::new(),
                missing_shards: Vec::new(),
            },
            histograms: BTreeMap::new(),
            counters: BTreeMap::new(),
            derived: Derived::default(),
            timeline: Default::default(),
            phases: Vec::new(),
            expect: Vec::new(),
            thresholds: Vec::new(),
            failure_samples: Vec::new(),
            server_arrivals: None,
            conformance: Some(conformance),
        }
    }

    /// Attaches conformance results (builder style).
    pub fn with_conformance(mut self, conformance: Conformance) -> Self {
        self.conformance = Some(conformance);
        self
    }
}
