//! A run's measurements in the OpenMetrics text format (`run --metrics-listen`), encoded by the
//! `prometheus-client` crate.
//!
//! Everything is read at scrape time from a recorder [`Snapshot`]: recording pays nothing for it.
//! What a scrape shows (all cumulative since the run started):
//!
//! - `authbench_responses_total{op,code}`: the `status.<op>.<code>` counters;
//! - `authbench_failures_total{op,class}`: the `failures.<op>.<class>` counters;
//! - `authbench_operation_requests_total{op}`: the `requests.<op>` counters (an operation's
//!   failure rate is `sum by (op) (authbench_failures_total) / authbench_operation_requests_total`);
//! - `authbench_errors_total{kind}`: the `errors.<kind>` counters;
//! - `authbench_<name>_total`: every fixed counter of [`names::COUNTERS`] recorded so far
//!   (`authbench_requests_total`, `authbench_refresh_calls_total`, ...);
//! - `authbench_latency_seconds{op}`: every latency histogram ([`names::HISTOGRAMS`]), with the
//!   buckets of [`BUCKETS_S`] counted from the HDR histogram;
//! - `authbench_<gauge>`: the gauges (`authbench_active_clients`, `authbench_open_sockets`);
//! - `authbench_in_flight`: requests sent and not yet ended (the timeline's `sent − done`);
//! - `authbench_phase_info{phase}`: the phase running now.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Snapshot;
use super::names;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency histogram buckets, seconds (`+Inf` follows).
pub const BUCKETS_S: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// `snapshot` (and the phase running now) in the OpenMetrics text format.
pub fn encode(snapshot: &Snapshot, phase: &str) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("authbench");
    registry.register_collector(Box::new(View {
        snapshot: snapshot.clone(),
        phase: phase.to_string(),
    }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

#[derive(Debug)]
struct View {
    snapshot: Snapshot,
    phase: String,
}

/// One labelled counter family made from the counters whose names start with `prefix` and split
/// into two labels at the first dot after it (`status.refresh.200` → op=refresh, code=200).
fn family2(
    enc: &mut DescriptorEncoder,
    s: &Snapshot,
    prefix: &str,
    name: &str,
    help: &str,
    keys: (&'static str, &'static str),
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (counter, v) in s.counters.range(prefix.to_string()..) {
        let Some(rest) = counter.strip_prefix(prefix) else {
            break;
        };
        let Some((a, b)) = rest.split_once('.') else {
            continue;
        };
        let labels = [(keys.0, a), (keys.1, b)];
        ConstCounter::new(*v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One labelled counter family made from the counters whose names start with `prefix`, the rest
/// of the name as the label `key` (`errors.timeout` → kind=timeout).
fn family1(
    enc: &mut DescriptorEncoder,
    s: &Snapshot,
    prefix: &str,
    name: &str,
    help: &str,
    key: &'static str,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (counter, v) in s.counters.range(prefix.to_string()..) {
        let Some(rest) = counter.strip_prefix(prefix) else {
            break;
        };
        ConstCounter::new(*v).encode(m.encode_family(&[(key, rest)])?)?;
    }
    Ok(())
}

impl Collector for View {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = &self.snapshot;
        family2(
            &mut enc,
            s,
            names::PREFIX_STATUS,
            "responses",
            "Responses by operation and HTTP status.",
            ("op", "code"),
        )?;
        family2(
            &mut enc,
            s,
            names::PREFIX_FAILURES,
            "failures",
            "Failed operations by operation and class (5xx, 429, 4xx, transport, body).",
            ("op", "class"),
        )?;
        family1(
            &mut enc,
            s,
            names::PREFIX_REQUESTS,
            "operation_requests",
            "Requests by operation (answered, failed without an answer, or unfinished).",
            "op",
        )?;
        family1(
            &mut enc,
            s,
            names::PREFIX_ERRORS,
            "errors",
            "Transport and protocol errors by kind.",
            "kind",
        )?;
        for name in names::COUNTERS {
            if let Some(v) = s.counters.get(*name) {
                let help = format!("authbench counter {name}.");
                ConstCounter::new(*v).encode(enc.encode_descriptor(
                    name,
                    &help,
                    None,
                    MetricType::Counter,
                )?)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "latency_seconds",
                "Latency histograms by name (login, refresh, api, send_skew, ...).",
                None,
                MetricType::Histogram,
            )?;
            for (op, h) in &s.histograms {
                let mut buckets: Vec<(f64, u64)> = BUCKETS_S.iter().map(|b| (*b, 0)).collect();
                buckets.push((f64::INFINITY, 0));
                for v in h.iter_recorded() {
                    let secs = v.value_iterated_to() as f64 / 1e6;
                    let i = BUCKETS_S
                        .iter()
                        .position(|b| secs <= *b)
                        .unwrap_or(BUCKETS_S.len());
                    buckets[i].1 += v.count_since_last_iteration();
                }
                let sum = h.mean() * h.len() as f64 / 1e6;
                let labels = [("op", op.as_str())];
                m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    sum,
                    h.len(),
                    &buckets,
                    None,
                )?;
            }
        }
        for (gauge, values) in &s.timeline.gauges {
            let now = values.last().copied().unwrap_or(0);
            let help = format!("authbench gauge {gauge}.");
            ConstGauge::new(now).encode(enc.encode_descriptor(
                gauge,
                &help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        if let Some(level) = s.timeline.in_flight().and_then(|v| v.last().copied()) {
            ConstGauge::new(level).encode(enc.encode_descriptor(
                "in_flight",
                "Requests sent and not yet ended (waiting for a pooled connection included), as of the last 100 ms interval folded.",
                None,
                MetricType::Gauge,
            )?)?;
        }
        let mut m = enc.encode_descriptor(
            "phase",
            "The plan phase running now (starting, login, sync_expiry, traffic, ..., done).",
            None,
            MetricType::Info,
        )?;
        m.encode_info(&[("phase", self.phase.as_str())])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Recorder;

    #[test]
    fn counters_histograms_gauges_and_phase() {
        let r = Recorder::with_shards(2);
        r.count(0, names::REQUESTS, 3);
        r.count(0, &names::requests_of("refresh"), 2);
        r.count(0, &names::status("refresh", 200), 2);
        r.count(0, "errors.timeout", 1);
        r.count(1, &names::failure("api", "5xx"), 1);
        r.record(0, names::REFRESH, 3_000); // 3 ms
        r.record(1, names::REFRESH, 40_000); // 40 ms
        r.gauge_add(names::GAUGE_ACTIVE_CLIENTS, 7);
        let answered = r.begin_request(0, "api");
        let _waiting = r.begin_request(1, "api");
        answered.finish();
        let text = encode(&r.snapshot(), "traffic").unwrap();
        for line in [
            "authbench_requests_total 3",
            "authbench_responses_total{op=\"refresh\",code=\"200\"} 2",
            "authbench_failures_total{op=\"api\",class=\"5xx\"} 1",
            "authbench_operation_requests_total{op=\"refresh\"} 2",
            "authbench_errors_total{kind=\"timeout\"} 1",
            "authbench_latency_seconds_bucket{le=\"0.001\",op=\"refresh\"} 0",
            "authbench_latency_seconds_bucket{le=\"0.005\",op=\"refresh\"} 1",
            "authbench_latency_seconds_bucket{le=\"0.05\",op=\"refresh\"} 2",
            "authbench_latency_seconds_count{op=\"refresh\"} 2",
            "authbench_active_clients 7",
            "authbench_in_flight 1",
            "authbench_phase_info{phase=\"traffic\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
