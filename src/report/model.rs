//! The report model: what `report.json` holds (schema version 1), and loading it back from disk.
//! The constructors of a load run and of a conformance run are in `build`.
//!
//! Histograms are embedded losslessly (HdrHistogram V2+DEFLATE, base64, field `hdr`) next to a
//! summary of them, so reports can be merged and compared exactly later on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::conformance::Conformance;
use crate::metrics::{FailureSample, PhaseMark, Timeline, names};

/// The `report.json` schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest `report.json` accepted by [`Report::load`].
const MAX_REPORT_BYTES: u64 = 256 << 20;
/// Most histograms accepted in one loaded report.
const MAX_HISTOGRAMS: usize = 256;

/// Run header of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// Scenario name.
    pub name: String,
    /// Scenario description.
    #[serde(default)]
    pub description: String,
    /// Scenario file path.
    #[serde(default)]
    pub scenario_path: Option<String>,
    /// Target description.
    #[serde(default)]
    pub target: String,
    /// authbench version that wrote the report.
    pub tool_version: String,
    /// Wall-clock start (RFC 3339).
    pub started_at: DateTime<Utc>,
    /// Run duration in seconds.
    pub duration_s: f64,
    /// Simulated clients.
    #[serde(default)]
    pub clients: u32,
    /// Client strategy.
    #[serde(default)]
    pub strategy: String,
    /// Shard of a sharded run.
    #[serde(default)]
    pub shard: Option<ShardInfo>,
    /// Worker threads the clients ran on (`--threads`; of a merged report, the shards' sum).
    /// Absent from conformance runs and from reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// True when the run was interrupted and the report is partial.
    #[serde(default)]
    pub interrupted: bool,
    /// Resolved configuration.
    #[serde(default)]
    pub config: serde_json::Value,
    /// For a merged report: the reports it was merged from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// For a merge made with `--allow-partial`: the shards that were not given. Not empty means
    /// the merged report is partial (it does not cover the whole run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<ShardInfo>,
}

/// `--shard i/N`: this process ran share `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Shard index, from 0.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl std::fmt::Display for ShardInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One latency histogram: its summary (all values in µs) and the histogram itself.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramReport {
    /// Samples.
    pub count: u64,
    /// Smallest sample, µs.
    pub min: u64,
    /// Largest sample, µs.
    pub max: u64,
    /// Mean, µs.
    pub mean: f64,
    /// Standard deviation, µs.
    pub stdev: f64,
    /// Median, µs.
    pub p50: u64,
    /// 90th percentile, µs.
    pub p90: u64,
    /// 95th percentile, µs.
    pub p95: u64,
    /// 99th percentile, µs.
    pub p99: u64,
    /// 99.9th percentile, µs.
    pub p999: u64,
    /// The histogram, serialized as HdrHistogram V2+DEFLATE base64.
    #[serde(rename = "hdr", with = "hdr_base64")]
    pub histogram: Histogram<u64>,
}

/// The summary only: the histogram's own `Debug` lists every one of its ~23 000 buckets.
impl std::fmt::Debug for HistogramReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistogramReport")
            .field("count", &self.count)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("mean", &self.mean)
            .field("stdev", &self.stdev)
            .field("p50", &self.p50)
            .field("p90", &self.p90)
            .field("p95", &self.p95)
            .field("p99", &self.p99)
            .field("p999", &self.p999)
            .finish_non_exhaustive()
    }
}

impl HistogramReport {
    /// Summarizes `h`.
    pub fn new(h: Histogram<u64>) -> Self {
        let empty = h.is_empty();
        let q = |x: f64| if empty { 0 } else { h.value_at_quantile(x) };
        HistogramReport {
            count: h.len(),
            min: if empty { 0 } else { h.min() },
            max: if empty { 0 } else { h.max() },
            mean: if empty { 0.0 } else { h.mean() },
            stdev: if empty { 0.0 } else { h.stdev() },
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            histogram: h,
        }
    }
}

/// One operation's share of the books (`requests.<op>`, `failures.<op>.*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpFailures {
    /// `requests.<op>`.
    pub requests: u64,
    /// The sum of `failures.<op>.*`, less `failures_in_outage.<op>`.
    pub failures: u64,
    /// `failures / requests`; `None` when the report counts no request of it (a report written
    /// before `requests.<op>` existed).
    pub failure_rate: Option<f64>,
}

/// Whether a failed channel attempt, by the last part of its counter (`ws_connect_failed.<why>`,
/// `sse_connect_failed.<why>`), is a failure of the server rather than its verdict on the
/// client's token. A token refused (HTTP 401/403; a first message closed with 1008, 4401 or
/// 4403, or refused in a message) is a verdict: the client renews it, and a session the server
/// ended is counted where sessions end. Everything else — 5xx, 429, any other status, no answer,
/// a bad handshake or stream, other close codes — is a failure.
pub fn is_channel_failure(why: &str) -> bool {
    !matches!(why, "401" | "403" | "1008" | "4401" | "4403" | "rejected")
}

/// Values computed from counters and histograms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// `refresh_calls / refreshes_needed`; `None` when no refresh was needed.
    pub refresh_amplification: Option<f64>,
    /// `errors / requests`; `None` when nothing was requested. Transport errors only.
    pub error_rate: Option<f64>,
    /// Sum of every `errors.<kind>` counter.
    pub errors: u64,
    /// `(failures - failures_in_outage) / requests`; `None` when nothing was requested.
    #[serde(default)]
    pub failure_rate: Option<f64>,
    /// Sum of every `failures.<op>.<class>` counter.
    #[serde(default)]
    pub failures: u64,
    /// Sum of every `failures_in_outage.<op>` counter: failures without an answer while the
    /// run's own outage had the target away, left out of every failure rate.
    #[serde(default)]
    pub failures_in_outage: u64,
    /// Each operation's requests, failures and failure rate (`failure_rate(<op>)`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operations: BTreeMap<String, OpFailures>,
    /// Channel handshakes, stream requests and push registrations tried.
    #[serde(default)]
    pub channel_attempts: u64,
    /// Those that failed for a reason that is never a verdict on the client's token (see
    /// [`is_channel_failure`]).
    #[serde(default)]
    pub channel_failures: u64,
    /// `(channel_failures - channel_failures_in_outage) / channel_attempts`; `None` without an
    /// attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_failure_rate: Option<f64>,
    /// The `requests` counter (or, when absent, the sum of `status.*` counters plus `errors`).
    pub requests: u64,
    /// Samples per second over the whole run, per histogram (`rate(<op>)`).
    pub rates: BTreeMap<String, f64>,
}

impl Derived {
    /// Nothing was derived: no request, no histogram (a conformance run).
    pub fn is_empty(&self) -> bool {
        *self == Derived::default()
    }

    /// Computes every derived value.
    pub fn compute(
        counters: &BTreeMap<String, u64>,
        histograms: &BTreeMap<String, HistogramReport>,
        duration_s: f64,
    ) -> Self {
        let get = |k: &str| counters.get(k).copied().unwrap_or(0);
        let errors = counters
            .iter()
            .filter(|(k, _)| k.starts_with(names::PREFIX_ERRORS))
            .fold(0u64, |a, (_, v)| a.saturating_add(*v));
        let requests = match counters.get(names::REQUESTS) {
            Some(r) => *r,
            None => counters
                .iter()
                .filter(|(k, _)| k.starts_with(names::PREFIX_STATUS))
                .fold(errors, |a, (_, v)| a.saturating_add(*v)),
        };
        let needed = get(names::REFRESHES_NEEDED);
        let refresh_amplification =
            (needed > 0).then(|| get(names::REFRESH_CALLS) as f64 / needed as f64);
        let error_rate = (requests > 0).then(|| errors as f64 / requests as f64);
        let sum = |prefix: &str| {
            counters
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .fold(0u64, |a, (_, v)| a.saturating_add(*v))
        };
        let failures = sum(names::PREFIX_FAILURES);
        let failures_in_outage = sum(names::PREFIX_FAILURES_IN_OUTAGE);
        let failure_rate = (requests > 0)
            .then(|| failures.saturating_sub(failures_in_outage) as f64 / requests as f64);
        let operations = operations(counters);
        let (channel_attempts, channel_failures) = channels(counters);
        let channel_failure_rate = (channel_attempts > 0).then(|| {
            channel_failures.saturating_sub(get(names::CHANNEL_FAILURES_IN_OUTAGE)) as f64
                / channel_attempts as f64
        });
        let rates = histograms
            .iter()
            .map(|(k, h)| (k.clone(), per_second(h.count, duration_s)))
            .collect();
        Derived {
            refresh_amplification,
            error_rate,
            errors,
            failure_rate,
            failures,
            failures_in_outage,
            operations,
            channel_attempts,
            channel_failures,
            channel_failure_rate,
            requests,
            rates,
        }
    }
}

/// Each operation with a request or a failure: its requests, and its failures less those of the
/// run's own outage.
fn operations(counters: &BTreeMap<String, u64>) -> BTreeMap<String, OpFailures> {
    let mut ops: BTreeMap<String, OpFailures> = BTreeMap::new();
    for (k, v) in counters {
        if let Some(op) = k.strip_prefix(names::PREFIX_REQUESTS) {
            ops.entry(op.to_string()).or_default().requests += v;
        } else if let Some((op, _class)) = k
            .strip_prefix(names::PREFIX_FAILURES)
            .and_then(|rest| rest.rsplit_once('.'))
        {
            let e = ops.entry(op.to_string()).or_default();
            e.failures = e.failures.saturating_add(*v);
        }
    }
    for (op, e) in &mut ops {
        let excused = counters.get(&names::in_outage(op)).copied().unwrap_or(0);
        e.failures = e.failures.saturating_sub(excused);
        e.failure_rate = (e.requests > 0).then(|| e.failures as f64 / e.requests as f64);
    }
    ops
}

/// Channel attempts (handshakes, stream requests, push registrations) and those that failed
/// (see [`is_channel_failure`]), a socket or stream the server turned away included: it counted
/// as an attempt when it opened.
fn channels(counters: &BTreeMap<String, u64>) -> (u64, u64) {
    let get = |k: &str| counters.get(k).copied().unwrap_or(0);
    let (mut attempts, mut failed) = (
        0u64,
        get(names::PUSH_REGISTER_FAILED).saturating_add(get(names::CHANNELS_TURNED_AWAY)),
    );
    for prefix in [
        names::PREFIX_WS_CONNECT_FAILED,
        names::PREFIX_SSE_CONNECT_FAILED,
    ] {
        for (k, v) in counters.range(prefix.to_string()..) {
            let Some(why) = k.strip_prefix(prefix) else {
                break;
            };
            attempts = attempts.saturating_add(*v);
            if is_channel_failure(why) {
                failed = failed.saturating_add(*v);
            }
        }
    }
    attempts = [
        names::WS_CONNECTS,
        names::SSE_CONNECTS,
        names::PUSH_REGISTRATIONS,
        names::PUSH_REGISTER_FAILED,
    ]
    .into_iter()
    .fold(attempts, |a, k| a.saturating_add(get(k)));
    (attempts, failed)
}

#[cfg(test)]
impl Report {
    /// The report of a load run of `clients` clients that recorded nothing, for tests to fill.
    pub(crate) fn of_clients(clients: u32) -> Report {
        Report::from_run(
            super::RunMeta {
                name: "t".into(),
                clients,
                ..Default::default()
            },
            crate::metrics::Recorder::new().snapshot(),
            &[],
        )
    }
}

/// A timeline with no second recorded (a conformance run).
fn timeline_is_empty(t: &Timeline) -> bool {
    t.buckets == 0 && t.series.is_empty() && t.gauges.is_empty()
}

/// `n` events over `duration_s` seconds, as a rate (0 for an empty run).
pub fn per_second(n: u64, duration_s: f64) -> f64 {
    if duration_s > 0.0 {
        n as f64 / duration_s
    } else {
        0.0
    }
}

/// A whole report: what `report.json` contains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`] for reports this build writes.
    pub schema_version: u32,
    /// Run header.
    pub run: RunHeader,
    /// Latency histograms by name. The load-test sections (histograms to thresholds) are left
    /// out of report.json when empty, as in a conformance run, which generates no load.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, HistogramReport>,
    /// Counters by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
    /// Derived values.
    #[serde(default, skip_serializing_if = "Derived::is_empty")]
    pub derived: Derived,
    /// The timeline (100 ms intervals; 1 s in reports of older versions).
    #[serde(default, skip_serializing_if = "timeline_is_empty")]
    pub timeline: Timeline,
    /// Phase boundaries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseMark>,
    /// The scenario's `expect:` list, kept so a merge can re-evaluate it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
    /// Threshold results: the scenario's in `expect` order, then the default thresholds the
    /// scenario did not override (`origin: default`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdResult>,
    /// A few sample failures (op, class, status, redacted body excerpt).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_samples: Vec<FailureSample>,
    /// The server's view of the run's storm: arrival offsets after the sync point, as the
    /// reference mock recorded them (`POST /admin/sync-point`; builtin target only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_arrivals: Option<authbench_mock::arrivals::ArrivalStats>,
    /// Conformance results (`authbench check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<Conformance>,
}

/// The evaluation of one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The expression as written.
    pub expr: String,
    /// Observed value in base units (µs, count, fraction, per second); `None` when there was
    /// nothing to observe.
    pub observed: Option<f64>,
    /// Observed value formatted for people, e.g. `212ms`, `0.05%`, `3`.
    pub observed_text: String,
    /// Whether the threshold holds.
    pub passed: bool,
    /// One sentence for people, e.g. `p99(refresh) = 312ms, expected < 250ms`.
    pub message: String,
    /// Where the threshold comes from: the scenario's `expect:` or authbench's defaults.
    #[serde(default)]
    pub origin: Origin,
}

/// Where a threshold comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The scenario's `expect:` list.
    #[default]
    Scenario,
    /// authbench's default thresholds (`report::threshold::DEFAULTS`), applied to every load
    /// run whose scenario has no threshold on the same metric.
    Default,
}

impl Origin {
    /// `scenario` or `default`.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Scenario => "scenario",
            Origin::Default => "default",
        }
    }
}

/// Why a report could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not an authbench report: {reason} (give a report.json or the folder that holds one)"
    )]
    NotAReport { path: PathBuf, reason: String },
    #[error(
        "{path} has report schema_version {found}; this authbench reads version {SCHEMA_VERSION} (use the authbench version that wrote it)"
    )]
    UnsupportedSchema { path: PathBuf, found: u64 },
}

impl Report {
    /// Why the report does not cover the whole run — Ctrl-C (naming the phase it cut), shards
    /// missing from a merge — for people; `None` when it does.
    pub fn partial_note(&self) -> Option<String> {
        let mut why = Vec::new();
        if self.run.interrupted {
            let cut: Vec<String> = self
                .phases
                .iter()
                .filter(|p| p.interrupted)
                .map(|p| format!("`{}`", p.name))
                .collect();
            why.push(if cut.is_empty() {
                "the run was interrupted".to_string()
            } else {
                format!("the run was interrupted during {}", cut.join(", "))
            });
        }
        if !self.run.missing_shards.is_empty() {
            let list: Vec<String> = self
                .run
                .missing_shards
                .iter()
                .map(|s| s.to_string())
                .collect();
            why.push(format!("merged without shard {}", list.join(", ")));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }

    /// Whether the report is (or holds) a load run: anything measured or judged by thresholds.
    /// A conformance run (`authbench check`) is not: its views show only the conformance section.
    pub fn is_load_run(&self) -> bool {
        self.conformance.is_none()
            || !self.histograms.is_empty()
            || !self.counters.is_empty()
            || !self.thresholds.is_empty()
    }

    /// Recomputes derived values from counters, histograms and duration.
    pub fn recompute_derived(&mut self) {
        self.derived = Derived::compute(&self.counters, &self.histograms, self.run.duration_s);
    }

    /// True when every threshold passed and no conformance check failed (under its `fail_on`
    /// policy; expected failures excepted).
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.passed)
            && self.conformance.as_ref().is_none_or(Conformance::passed)
    }

    /// A counter's value (0 when never recorded).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Counters whose name starts with `prefix`, with the prefix stripped, e.g.
    /// `counters_with_prefix("ws_close.")` → `[("4409", 5000)]`.
    pub fn counters_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        self.counters
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], *v))
    }

    /// Histograms in a stable, meaningful order: the known names first (login, refresh, api, ...),
    /// then any other name alphabetically.
    pub fn ordered_histograms(&self) -> Vec<(&str, &HistogramReport)> {
        let mut out: Vec<(&str, &HistogramReport)> = names::HISTOGRAMS
            .iter()
            .filter_map(|n| self.histograms.get(*n).map(|h| (*n, h)))
            .collect();
        for (k, h) in &self.histograms {
            if !names::HISTOGRAMS.contains(&k.as_str()) {
                out.push((k.as_str(), h));
            }
        }
        out
    }

    /// Loads `report.json` from a file, or from a folder that holds one. Histograms are decoded and
    /// their summaries and the derived values recomputed from them, so a loaded report is
    /// internally consistent whatever the file says.
    pub fn load(path: impl AsRef<Path>) -> Result<Report, ReportError> {
        let given = path.as_ref();
        let file = if given.is_dir() {
            given.join("report.json")
        } else {
            given.to_path_buf()
        };
        let io = |source| ReportError::Io {
            path: file.clone(),
            source,
        };
        let not = |reason: String| ReportError::NotAReport {
            path: file.clone(),
            reason,
        };
        let len = std::fs::metadata(&file).map_err(io)?.len();
        if len > MAX_REPORT_BYTES {
            return Err(not(format!(
                "{len} bytes is larger than any report ({MAX_REPORT_BYTES} max)"
            )));
        }
        let text = std::fs::read(&file).map_err(io)?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| not(format!("not JSON ({e})")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| not("the top level is not a JSON object".into()))?;
        let version = obj
            .get("schema_version")
            .ok_or_else(|| not("no `schema_version` field".into()))?
            .as_u64()
            .ok_or_else(|| not("`schema_version` is not a number".into()))?;
        if version != u64::from(SCHEMA_VERSION) {
            return Err(ReportError::UnsupportedSchema {
                path: file.clone(),
                found: version,
            });
        }
        if let Some(h) = obj.get("histograms").and_then(|h| h.as_object())
            && h.len() > MAX_HISTOGRAMS
        {
            return Err(not(format!(
                "{} histograms (at most {MAX_HISTOGRAMS})",
                h.len()
            )));
        }
        let mut report: Report = serde_json::from_value(value).map_err(|e| not(e.to_string()))?;
        if !report.run.duration_s.is_finite() || report.run.duration_s < 0.0 {
            return Err(not("`run.duration_s` is not a non-negative number".into()));
        }
        for h in report.histograms.values_mut() {
            *h = HistogramReport::new(std::mem::replace(
                &mut h.histogram,
                Histogram::new(1).expect("valid"),
            ));
        }
        report.recompute_derived();
        Ok(report)
    }
}

/// serde adapter: `Histogram<u64>` ⇄ V2+DEFLATE base64 string.
mod hdr_base64 {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serializer, de, ser};

    use crate::metrics::codec;

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        let text = codec::encode(h).map_err(ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        codec::decode(&text).map_err(|e| de::Error::custom(format!("histogram `hdr`: {e}")))
    }
}
