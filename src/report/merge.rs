//! `authbench merge`: the exact merge of shard reports into one report.
//!
//! Histograms are added bucket by bucket (percentiles of the merge are those of one histogram
//! holding every sample — never an average of percentiles), counters are summed, timelines are
//! aligned on wall-clock seconds and summed, phase boundaries are taken at their earliest time,
//! the sample failures are pooled (first of each kind, bounded), and the thresholds are
//! re-evaluated from the `expect` list stored in the reports (plus the defaults it does not
//! override).
//!
//! The shards of a sharded run know their place (`shard: i/N`): a set that lacks one is refused
//! ([`MergeError::Incomplete`]) unless the merge is told to allow it ([`Completeness::AllowPartial`],
//! `--allow-partial`), and then the merged report lists the missing shards (`missing_shards`) and
//! says it is partial everywhere it is shown. A shard given twice is always refused: which copy
//! counts is not for the merge to guess.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::model::{HistogramReport, Report, ReportError, RunHeader, SCHEMA_VERSION, ShardInfo};
use super::threshold;
use crate::config::ThresholdError;
use crate::metrics::samples::merge_into as merge_samples;
use crate::metrics::{PhaseMark, Timeline, new_histogram};

/// Why reports could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Load(#[from] ReportError),
    #[error("nothing to merge: give the shard reports (report.json files or their folders)")]
    Empty,
    #[error(
        "cannot merge {a} (scenario `{name_a}`) with {b} (scenario `{name_b}`): merge the shards of one scenario only"
    )]
    Scenario {
        a: String,
        name_a: String,
        b: String,
        name_b: String,
    },
    #[error("{a} and {b} are both shard {index} of {count}: each shard must be given once")]
    DuplicateShard {
        a: String,
        b: String,
        index: u32,
        count: u32,
    },
    #[error(
        "{a} is shard {ia}/{na} but {b} is shard {ib}/{nb}: all shards must come from the same --shard i/N split"
    )]
    ShardCount {
        a: String,
        ia: u32,
        na: u32,
        b: String,
        ib: u32,
        nb: u32,
    },
    #[error("{a} is a shard report but {b} is not: merge shard reports of one sharded run")]
    MixedSharding { a: String, b: String },
    #[error(
        "{path} is an `authbench check` report: merge joins the shards of one load run (`authbench run --shard i/N`); a conformance run is one report already"
    )]
    Conformance { path: String },
    #[error(
        "{a} and {b} ran different configurations (they differ at `{key}`): merge the shards of one run, started with the same scenario and options"
    )]
    Configuration { a: String, b: String, key: String },
    #[error(
        "{a} ({a_span}) and {b} ({b_span}) did not run at the same time: merge the shards of one run (start them together, e.g. with --start-at)"
    )]
    NotTogether {
        a: String,
        a_span: String,
        b: String,
        b_span: String,
    },
    #[error(
        "{given} of {count} shards given, shard {missing} missing: the merged report would not cover the whole run; \
         give every shard's report, or pass --allow-partial to merge these and mark the result partial"
    )]
    Incomplete {
        given: usize,
        count: u32,
        missing: String,
    },
    #[error("histogram `{name}` of {path} cannot be added exactly: {reason}")]
    Histogram {
        name: String,
        path: String,
        reason: String,
    },
    #[error("re-evaluating the stored thresholds failed: {0}")]
    Threshold(#[from] ThresholdError),
}

/// Whether a merge may lack shards of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// Every shard `0..N` must be given.
    Required,
    /// Missing shards are allowed; the merged report lists them and is marked partial.
    AllowPartial,
}

/// Loads every report (files or folders) and merges them.
pub fn merge_paths(paths: &[PathBuf], completeness: Completeness) -> Result<Report, MergeError> {
    let mut inputs = Vec::with_capacity(paths.len());
    for p in paths {
        inputs.push((label(p), Report::load(p)?));
    }
    merge_with(inputs, completeness)
}

/// How an input is named in messages and in `merged_from`.
fn label(p: &Path) -> String {
    p.display().to_string()
}

/// Merges `(label, report)` pairs, every shard required. See the module docs for the rules.
pub fn merge(inputs: Vec<(String, Report)>) -> Result<Report, MergeError> {
    merge_with(inputs, Completeness::Required)
}

/// Merges `(label, report)` pairs. See the module docs for the rules.
pub fn merge_with(
    inputs: Vec<(String, Report)>,
    completeness: Completeness,
) -> Result<Report, MergeError> {
    let Some((_, first)) = inputs.first() else {
        return Err(MergeError::Empty);
    };
    check_compatible(&inputs)?;
    let missing_shards = missing_shards(&inputs);
    if !missing_shards.is_empty() && completeness == Completeness::Required {
        let list: Vec<String> = missing_shards.iter().map(|s| s.to_string()).collect();
        return Err(MergeError::Incomplete {
            given: inputs.len(),
            count: missing_shards[0].count,
            missing: list.join(", "),
        });
    }

    let mut histograms: BTreeMap<String, hdrhistogram::Histogram<u64>> = BTreeMap::new();
    let mut counters: BTreeMap<String, u64> = BTreeMap::new();
    let mut timeline = Timeline::default();
    let mut expect: Vec<String> = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    let mut strategies: Vec<String> = Vec::new();
    let mut clients: u32 = 0;
    let mut interrupted = false;
    let mut start: DateTime<Utc> = first.run.started_at;
    let mut end: DateTime<Utc> = end_of(&first.run);
    let mut phases: BTreeMap<(String, usize), (DateTime<Utc>, bool)> = BTreeMap::new();

    for (label, r) in &inputs {
        for (name, h) in &r.histograms {
            let dst = histograms.entry(name.clone()).or_insert_with(new_histogram);
            dst.add(&h.histogram).map_err(|e| MergeError::Histogram {
                name: name.clone(),
                path: label.clone(),
                reason: format!("{e:?}"),
            })?;
        }
        for (name, v) in &r.counters {
            let c = counters.entry(name.clone()).or_insert(0);
            *c = c.saturating_add(*v);
        }
        timeline.merge(&r.timeline);
        for e in &r.expect {
            if !expect.contains(e) {
                expect.push(e.clone());
            }
        }
        push_unique(&mut targets, &r.run.target);
        push_unique(&mut strategies, &r.run.strategy);
        clients = clients.saturating_add(r.run.clients);
        interrupted |= r.run.interrupted;
        start = start.min(r.run.started_at);
        end = end.max(end_of(&r.run));
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &r.phases {
            let k = seen.entry(p.name.as_str()).or_insert(0);
            let (at, interrupted) = phases.entry((p.name.clone(), *k)).or_insert((p.at, false));
            *at = (*at).min(p.at);
            *interrupted |= p.interrupted;
            *k += 1;
        }
    }

    let mut phases: Vec<PhaseMark> = phases
        .into_iter()
        .map(|((name, _), (at, interrupted))| PhaseMark {
            offset_ms: u64::try_from((at - start).num_milliseconds()).unwrap_or(0),
            name,
            at,
            interrupted,
        })
        .collect();
    phases.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.name.cmp(&b.name)));
    let duration_s = ((end - start).num_microseconds().unwrap_or(0) as f64 / 1e6).max(0.0);

    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        run: RunHeader {
            name: first.run.name.clone(),
            description: first.run.description.clone(),
            scenario_path: first.run.scenario_path.clone(),
            target: targets.join(", "),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: start,
            duration_s,
            clients,
            strategy: strategies.join(", "),
            shard: None,
            threads: inputs.iter().map(|(_, r)| r.run.threads).sum(),
            interrupted,
            config: first.run.config.clone(),
            merged_from: inputs.iter().map(|(l, _)| l.clone()).collect(),
            missing_shards,
        },
        histograms: histograms
            .into_iter()
            .map(|(k, h)| (k, HistogramReport::new(h)))
            .collect(),
        counters,
        derived: Default::default(),
        timeline,
        phases,
        expect,
        thresholds: Vec::new(),
        failure_samples: {
            let mut samples = Vec::new();
            for (_, r) in &inputs {
                merge_samples(&mut samples, &r.failure_samples);
            }
            samples
        },
        server_arrivals: None, // per shard only: offsets of different processes do not add up
        conformance: inputs.iter().find_map(|(_, r)| r.conformance.clone()),
    };
    report.recompute_derived();
    // report.json stores the expressions; they are parsed again here, once, for the merged run.
    let thresholds = report
        .expect
        .iter()
        .map(|e| threshold::parse(e))
        .collect::<Result<Vec<_>, _>>()?;
    report.evaluate_thresholds(&thresholds);
    Ok(report)
}

/// The shards of the run (`i/N` of the inputs) that no input holds.
fn missing_shards(inputs: &[(String, Report)]) -> Vec<ShardInfo> {
    let Some(count) = inputs
        .iter()
        .find_map(|(_, r)| r.run.shard.map(|s| s.count))
    else {
        return Vec::new();
    };
    (0..count)
        .filter(|i| {
            !inputs
                .iter()
                .any(|(_, r)| r.run.shard.is_some_and(|s| s.index == *i))
        })
        .map(|index| ShardInfo { index, count })
        .collect()
}

fn end_of(run: &RunHeader) -> DateTime<Utc> {
    let micros = (run.duration_s * 1e6).clamp(0.0, 1e15) as i64;
    run.started_at + chrono::Duration::microseconds(micros)
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if !v.is_empty() && !list.iter().any(|x| x == v) {
        list.push(v.to_string());
    }
}

/// How far apart the shards of one run may start and end (clock differences between machines,
/// a late start).
const TOGETHER_SLACK_S: i64 = 60;

/// The first key path at which two configurations differ (`""` for the whole value).
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .keys()
            .chain(y.keys().filter(|k| !x.contains_key(*k)))
            .find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &join(k)),
                _ => Some(join(k)),
            }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &join(&i.to_string()))),
        _ => (a != b).then(|| at.to_string()),
    }
}

fn check_compatible(inputs: &[(String, Report)]) -> Result<(), MergeError> {
    if let Some((path, _)) = inputs.iter().find(|(_, r)| r.conformance.is_some()) {
        return Err(MergeError::Conformance { path: path.clone() });
    }
    let (l0, r0) = &inputs[0];
    for (l, r) in &inputs[1..] {
        if !r0.run.config.is_null()
            && !r.run.config.is_null()
            && let Some(key) = first_difference(&r0.run.config, &r.run.config, "")
        {
            return Err(MergeError::Configuration {
                a: l0.clone(),
                b: l.clone(),
                key: if key.is_empty() {
                    "the whole configuration".into()
                } else {
                    key
                },
            });
        }
        let slack = chrono::Duration::seconds(TOGETHER_SLACK_S);
        if r.run.started_at > end_of(&r0.run) + slack || r0.run.started_at > end_of(&r.run) + slack
        {
            let span = |run: &RunHeader| {
                let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                format!("{} to {}", fmt(run.started_at), fmt(end_of(run)))
            };
            return Err(MergeError::NotTogether {
                a: l0.clone(),
                a_span: span(&r0.run),
                b: l.clone(),
                b_span: span(&r.run),
            });
        }
        if r.run.name != r0.run.name {
            return Err(MergeError::Scenario {
                a: l0.clone(),
                name_a: r0.run.name.clone(),
                b: l.clone(),
                name_b: r.run.name.clone(),
            });
        }
        match (r0.run.shard, r.run.shard) {
            (Some(a), Some(b)) if a.count != b.count => {
                return Err(MergeError::ShardCount {
                    a: l0.clone(),
                    ia: a.index,
                    na: a.count,
                    b: l.clone(),
                    ib: b.index,
                    nb: b.count,
                });
            }
            (Some(_), None) => {
                return Err(MergeError::MixedSharding {
                    a: l0.clone(),
                    b: l.clone(),
                });
            }
            (None, Some(_)) => {
                return Err(MergeError::MixedSharding {
                    a: l.clone(),
                    b: l0.clone(),
                });
            }
            _ => {}
        }
    }
    for (i, (la, a)) in inputs.iter().enumerate() {
        for (lb, b) in &inputs[i + 1..] {
            if let (Some(sa), Some(sb)) = (a.run.shard, b.run.shard)
                && sa.index == sb.index
            {
                return Err(MergeError::DuplicateShard {
                    a: la.clone(),
                    b: lb.clone(),
                    index: sa.index,
                    count: sa.count,
                });
            }
        }
    }
    Ok(())
}
