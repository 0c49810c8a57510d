//! Open-model traffic: arrivals on an intended schedule; an arrival that finds its client's slots
//! busy is `dropped`; latency is recorded from the intended send (`api`) and from the actual send
//! (`api_uncorrected`).

use std::time::Duration;

use crate::support::{mock, plan, profile, run, settings};
use authbench::client::{Connections, Strategy};
use authbench::scenario::{Phase, Rate};

fn open(rate: f64, secs: f64) -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::Traffic {
            duration: Duration::from_secs_f64(secs),
            rate: Some(Rate { per_second: rate }),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_without_a_free_slot_are_dropped() {
    // Every API call takes 100 ms; 2 clients with 1 slot each absorb ~20 of 100 arrivals per second.
    let server = mock(|c| c.faults = vec!["latency:api=100ms..100ms".parse().unwrap()]).await;
    let r = run(
        plan(2, settings(Strategy::SingleFlight, 1), open(100.0, 1.0)),
        profile(&server),
    )
    .await;
    let calls = r.samples("api");
    assert!(r.counter("dropped") > 50, "{:?}", r.snap.counters);
    assert!(calls > 5, "{calls}");
    assert_eq!(
        calls + r.counter("dropped"),
        100,
        "every arrival is either sent or dropped"
    );
    assert_eq!(r.samples("api_uncorrected"), calls);
    assert!(r.snap.histograms["api"].min() >= 100_000);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queueing_for_a_pooled_connection_shows_in_corrected_latency_only() {
    // One shared connection, 30 ms per call, 45 arrivals/s (capacity ~33/s): requests queue for the connection.
    let server = mock(|c| c.faults = vec!["latency:api=30ms..30ms".parse().unwrap()]).await;
    let mut p = plan(6, settings(Strategy::SingleFlight, 4), open(45.0, 1.0));
    p.connections = Connections::Pool(1);
    let r = run(p, profile(&server)).await;
    assert_eq!(r.counter("dropped"), 0);
    let (api, raw) = (
        &r.snap.histograms["api"],
        &r.snap.histograms["api_uncorrected"],
    );
    assert_eq!(api.len(), raw.len());
    assert!(raw.max() < 200_000, "uncorrected max {}", raw.max());
    assert!(
        api.value_at_quantile(0.99) > raw.value_at_quantile(0.99) * 2,
        "corrected p99 {} vs uncorrected {}",
        api.value_at_quantile(0.99),
        raw.value_at_quantile(0.99)
    );
    server.shutdown().await;
}
