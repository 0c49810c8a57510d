//! A run's measurements in the OpenMetrics text format (`run --metrics-listen`), encoded by the
//! `prometheus-client` crate.
//!
//! Everything is read at scrape time from a recorder [`Snapshot`]: recording pays nothing for it.
//! What a scrape shows (all cumulative since the run started), each with the description of
//! what it counts as its `# HELP`:
//!
//! - `authbench_responses_total{op,code}`: the `status.<op>.<code>` counters;
//! - `authbench_failures_total{op,class}`: the `failures.<op>.<class>` counters;
//! - `authbench_operation_requests_total{op}`: the `requests.<op>` counters (an operation's
//!   failure rate is `sum by (op) (authbench_failures_total) / authbench_operation_requests_total`);
//! - `authbench_errors_total{kind}`: the `errors.<kind>` counters;
//! - every other counter family of [`names::COUNTER_PREFIXES`] the same way ([`FAMILIES`]:
//!   `authbench_ws_close_total{code}`, `authbench_gave_up_total{op}`, ...);
//! - `authbench_<name>_total`: every fixed counter of [`names::COUNTERS`] recorded so far
//!   (`authbench_requests_total`, `authbench_refresh_calls_total`, ...), described by its doc
//!   ([`names::help`]);
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

/// A counter family: the counters whose names start with `prefix`, exported as `authbench_<name>`
/// with the rest of each name as its labels (one, or two split at the first dot).
struct CounterFamily {
    prefix: &'static str,
    name: &'static str,
    labels: Labels,
    help: &'static str,
}

enum Labels {
    One(&'static str),
    Two(&'static str, &'static str),
}

/// Every counter family of [`names::COUNTER_PREFIXES`] (a test holds the two lists together).
const FAMILIES: &[CounterFamily] = &[
    CounterFamily {
        prefix: names::PREFIX_STATUS,
        name: "responses",
        labels: Labels::Two("op", "code"),
        help: "Responses by operation and HTTP status.",
    },
    CounterFamily {
        prefix: names::PREFIX_FAILURES,
        name: "failures",
        labels: Labels::Two("op", "class"),
        help: "Failed operations by operation and class (5xx, 429, 4xx, transport, tls, body, unfinished).",
    },
    CounterFamily {
        prefix: names::PREFIX_REQUESTS,
        name: "operation_requests",
        labels: Labels::One("op"),
        help: "Requests by operation (answered, failed without an answer, or unfinished).",
    },
    CounterFamily {
        prefix: names::PREFIX_ERRORS,
        name: "errors",
        labels: Labels::One("kind"),
        help: "Transport and protocol errors by kind.",
    },
    CounterFamily {
        prefix: names::PREFIX_FAILURES_IN_OUTAGE,
        name: "failures_in_outage",
        labels: Labels::One("op"),
        help: "Failures without an answer while the run's own outage phase had the target away (left out of every failure rate).",
    },
    CounterFamily {
        prefix: names::PREFIX_GAVE_UP,
        name: "gave_up",
        labels: Labels::One("op"),
        help: "Clients whose last attempt at an operation had failed when the run ended, with no success since (counted at the end).",
    },
    CounterFamily {
        prefix: names::PREFIX_RETRY_AFTER,
        name: "retry_after",
        labels: Labels::One("op"),
        help: "429 and 503 answers whose Retry-After the client waited for, by operation.",
    },
    CounterFamily {
        prefix: names::PREFIX_RACE,
        name: "race",
        labels: Labels::One("outcome"),
        help: "refresh_race phase outcomes, one per race (one_winner, same_successor, forked, family_revoked, ...).",
    },
    CounterFamily {
        prefix: names::PREFIX_WS_CLOSE,
        name: "ws_close",
        labels: Labels::One("code"),
        help: "WebSocket close frames from the server by close code (illegal: a code RFC 6455 forbids).",
    },
    CounterFamily {
        prefix: names::PREFIX_WS_CLOSE_CLASS,
        name: "ws_close_class",
        labels: Labels::One("class"),
        help: "WebSocket closes from the server by the profile's class (terminal, refresh_then_reconnect, ...).",
    },
    CounterFamily {
        prefix: names::PREFIX_WS_EVENTS,
        name: "ws_events",
        labels: Labels::One("type"),
        help: "WebSocket session events received, by type (kicked, logout, session_expired, tick, other).",
    },
    CounterFamily {
        prefix: names::PREFIX_WS_CONNECT_FAILED,
        name: "ws_connect_failed",
        labels: Labels::One("why"),
        help: "WebSocket handshakes refused, by HTTP status or failure kind.",
    },
    CounterFamily {
        prefix: names::PREFIX_SSE_EVENTS,
        name: "sse_events",
        labels: Labels::One("type"),
        help: "Server-Sent Events session events received, by type.",
    },
    CounterFamily {
        prefix: names::PREFIX_SSE_CONNECT_FAILED,
        name: "sse_connect_failed",
        labels: Labels::One("why"),
        help: "Event streams refused, by HTTP status or failure kind.",
    },
    CounterFamily {
        prefix: names::PREFIX_PUSH_EVENTS,
        name: "push_events",
        labels: Labels::One("type"),
        help: "Push messages received, by event type.",
    },
    CounterFamily {
        prefix: names::PREFIX_ENDED,
        name: "ended",
        labels: Labels::One("reason"),
        help: "Channels (WebSockets, event streams, push registrations) by how they ended.",
    },
    CounterFamily {
        prefix: names::PREFIX_SESSION_ENDS,
        name: "session_ends",
        labels: Labels::One("cause"),
        help: "Session ends the scenario caused or the server announced, by cause.",
    },
    CounterFamily {
        prefix: names::PREFIX_UNNOTICED,
        name: "unnoticed",
        labels: Labels::One("cause"),
        help: "Session ends their client had not noticed when the run (or the session) ended, by cause.",
    },
    CounterFamily {
        prefix: names::PREFIX_END_REASON,
        name: "end_reason",
        labels: Labels::One("reason"),
        help: "Noticed session ends by the reason the client inferred (expired, kicked, logged_out, revoked, unknown).",
    },
];

impl CounterFamily {
    fn encode(&self, enc: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
        let mut m = enc.encode_descriptor(self.name, self.help, None, MetricType::Counter)?;
        for (counter, v) in s.counters.range(self.prefix.to_string()..) {
            let Some(rest) = counter.strip_prefix(self.prefix) else {
                break;
            };
            let value = ConstCounter::new(*v);
            match self.labels {
                Labels::One(key) => value.encode(m.encode_family(&[(key, rest)])?)?,
                Labels::Two(a, b) => {
                    let Some((va, vb)) = rest.split_once('.') else {
                        continue;
                    };
                    value.encode(m.encode_family(&[(a, va), (b, vb)])?)?
                }
            }
        }
        Ok(())
    }
}

impl Collector for View {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = &self.snapshot;
        for family in FAMILIES {
            family.encode(&mut enc, s)?;
        }
        for name in names::COUNTERS {
            if let Some(v) = s.counters.get(*name) {
                let help = names::help(name).unwrap_or_default();
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
            let help = names::help(gauge).unwrap_or_default();
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

    #[test]
    fn every_counter_family_is_exported_once() {
        let exported: Vec<&str> = FAMILIES.iter().map(|f| f.prefix).collect();
        for prefix in names::COUNTER_PREFIXES {
            assert_eq!(
                exported.iter().filter(|p| *p == prefix).count(),
                1,
                "counter family {prefix}* is not exported exactly once"
            );
        }
        assert_eq!(exported.len(), names::COUNTER_PREFIXES.len());
    }

    #[test]
    fn every_counter_reaches_a_scrape_under_its_own_metric_with_a_description() {
        // One of every fixed counter (its own value), one of every family, every gauge.
        let r = Recorder::with_shards(1);
        for (i, name) in names::COUNTERS.iter().enumerate() {
            r.count(0, name, 1000 + i as u64);
        }
        for f in FAMILIES {
            let rest = match f.labels {
                Labels::One(_) => "x",
                Labels::Two(..) => "x.y",
            };
            r.count(0, &format!("{}{rest}", f.prefix), 7);
        }
        let gauges = [
            names::GAUGE_OPEN_SOCKETS,
            names::GAUGE_OPEN_STREAMS,
            names::GAUGE_ACTIVE_CLIENTS,
        ];
        for g in gauges {
            r.gauge_add(g, 3);
        }
        let text = encode(&r.snapshot(), "traffic").unwrap();
        let has =
            |line: String| assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
        for (i, name) in names::COUNTERS.iter().enumerate() {
            has(format!("authbench_{name}_total {}", 1000 + i));
        }
        for f in FAMILIES {
            let labels = match f.labels {
                Labels::One(k) => format!("{k}=\"x\""),
                Labels::Two(a, b) => format!("{a}=\"x\",{b}=\"y\""),
            };
            has(format!("authbench_{}_total{{{labels}}} 7", f.name));
        }
        for g in gauges {
            has(format!("authbench_{g} 3"));
        }
        // Every metric is declared once, and says what it is: no empty or code-path description.
        let mut declared: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let n = declared.len();
        declared.sort_unstable();
        declared.dedup();
        assert_eq!(declared.len(), n, "a metric declared twice:\n{text}");
        for help in text.lines().filter_map(|l| l.strip_prefix("# HELP ")) {
            let (metric, what) = help.split_once(' ').unwrap_or((help, ""));
            assert!(what.len() > 10, "{metric} has no description: {help:?}");
            assert!(
                !what.contains("::"),
                "{metric}'s description names code: {what}"
            );
            // The text goes out as it is (OpenMetrics would need these escaped).
            assert!(
                !what.contains(['"', '\\']),
                "{metric}'s description has a quote or backslash: {what}"
            );
        }
    }
}
