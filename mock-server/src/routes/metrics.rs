//! `GET /metrics`: the server's counters in the OpenMetrics text format (Prometheus scrapes it).
//!
//! Read at scrape time from the same snapshot as `GET /admin/stats`: every counter as
//! `authbench_mock_<name>_total`, the gauges `authbench_mock_ws_open` and
//! `authbench_mock_sessions`, and, once a sync point was set, the arrival figures of
//! [`crate::arrivals`] as `authbench_mock_arrivals_total` and
//! `authbench_mock_arrival_offset_seconds{stat="first|p50|p99|max|spread_p99"}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::stats::Stats;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match encode(state.stats()) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `stats` in the OpenMetrics text format.
pub fn encode(stats: Stats) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("authbench_mock");
    registry.register_collector(Box::new(StatsCollector(stats)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

#[derive(Debug)]
struct StatsCollector(Stats);

impl Collector for StatsCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        for (name, help, value) in s.counters() {
            let c = ConstCounter::new(value);
            c.encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        let ws = ConstGauge::new(s.ws_open);
        ws.encode(enc.encode_descriptor(
            "ws_open",
            "WebSockets open right now.",
            None,
            MetricType::Gauge,
        )?)?;
        let sessions = ConstGauge::new(i64::try_from(s.sessions).unwrap_or(i64::MAX));
        sessions.encode(enc.encode_descriptor(
            "sessions",
            "Sessions (refresh-token families) held in memory.",
            None,
            MetricType::Gauge,
        )?)?;
        if let Some(a) = &s.arrivals {
            ConstCounter::new(a.count).encode(enc.encode_descriptor(
                "arrivals",
                "Requests of the watched operation that arrived at or after the sync point.",
                None,
                MetricType::Counter,
            )?)?;
            let mut m = enc.encode_descriptor(
                "arrival_offset_seconds",
                "Arrival offsets from the sync point (POST /admin/sync-point).",
                None,
                MetricType::Gauge,
            )?;
            for (stat, us) in [
                ("first", a.first_us),
                ("p50", a.p50_us),
                ("p99", a.p99_us),
                ("max", a.max_us),
                ("spread_p99", a.spread_p99_us),
            ] {
                let labels = [("stat", stat)];
                ConstGauge::new(us as f64 / 1e6).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
