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
    // Every API call takes 300 ms; 2 clients with 1 slot each absorb ~25 of 100 arrivals over 4 s
    // (each client's arrivals come every 80 ms). Arrivals that a stall of the machine held back are
    // sent at once after it, and all but one per client are dropped: spread over 4 s rather than
    // 1 s, a stall of 1-2 s leaves enough of the phase for more than a handful of calls.
    let server = mock(|c| c.faults = vec!["latency:api=300ms..300ms".parse().unwrap()]).await;
    let r = run(
        plan(2, settings(Strategy::SingleFlight, 1), open(25.0, 4.0)),
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
    assert!(r.snap.histograms["api"].min() >= 300_000);
    // The load asked for was not sent: the run fails by the default `dropped == 0`, where it
    // passed with every dropped arrival's latency unmeasured.
    let rep = authbench::report::Report::from_run(
        authbench::report::RunMeta {
            name: "open".into(),
            clients: 2,
            ..Default::default()
        },
        r.snap.clone(),
        &[],
    );
    let dropped = rep
        .thresholds
        .iter()
        .find(|t| t.expr == "dropped == 0")
        .expect("the default");
    assert!(!dropped.passed, "{}", dropped.message);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queueing_for_a_pooled_connection_shows_in_corrected_latency_only() {
    // One shared connection, 30 ms per call, 45 arrivals/s (capacity ~33/s): requests queue for the connection.
    // 8 slots per client, 48 in all, hold every one of the 45 arrivals, also when a stall of the
    // machine sends them at once: nothing is dropped. Tokens outlive such a queue: a 401's retry
    // queues for the connection again, inside one call's uncorrected latency.
    let server = mock(|c| {
        c.faults = vec!["latency:api=30ms..30ms".parse().unwrap()];
        c.access_ttl = Duration::from_secs(30);
    })
    .await;
    let mut p = plan(6, settings(Strategy::SingleFlight, 8), open(45.0, 1.0));
    p.connections = Connections::Pool(1);
    let r = run(p, profile(&server)).await;
    assert_eq!(r.counter("dropped"), 0);
    let (api, raw) = (
        &r.snap.histograms["api"],
        &r.snap.histograms["api_uncorrected"],
    );
    assert_eq!(api.len(), raw.len());
    // The 90th percentiles: a stall of the machine lengthens the one call on the wire (or two),
    // not the calls queued behind it. Taken from the arrival instead, the uncorrected latency
    // would include the queue (~340 ms at p90 by the phase end).
    let (api90, raw90) = (api.value_at_quantile(0.9), raw.value_at_quantile(0.9));
    assert!(raw90 < 200_000, "uncorrected p90 {raw90}");
    assert!(
        api90 > raw90 * 2,
        "corrected p90 {api90} vs uncorrected {raw90}"
    );
    server.shutdown().await;
}
