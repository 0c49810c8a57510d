//! Reports show the storm (issue 15 §4): the timeline of a real storm against the mock has the
//! resolution to show it, the latency per interval, the queue of requests in flight building and
//! draining, the failures and the clients recovering — and report.html draws each on its own axis.

use std::time::{Duration, Instant};

use crate::support::{eventually, mock, plan, profile, run, settings, storm};
use authbench::client::Strategy;
use authbench::metrics::names;
use authbench::report::charts::{self, Plot};
use authbench::report::{Report, RunMeta, html};

const CLIENTS: u32 = 24;

fn report_of(r: &crate::support::Ran) -> Report {
    let meta = RunMeta {
        name: "storm".into(),
        clients: CLIENTS,
        ..RunMeta::default()
    };
    Report::from_run(meta, r.snap.clone(), &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_visible_at_100ms_with_its_queue_latency_and_recovery() {
    // Every refresh takes 300 ms, so the storm's refreshes are still in flight at the end of an
    // interval (the in-flight line samples interval ends), and fail 3 times in 10: the faults are
    // random: at least 24 refreshes all succeed, failing `failures > 0`, with probability
    // 0.7^24 < 2·10⁻⁴ (at 1 in 5 it was 0.8^24 ≈ 0.5 %).
    let server = mock(|c| {
        c.faults = vec![
            "latency:refresh=300ms..300ms".parse().unwrap(),
            "error:refresh=30%".parse().unwrap(),
        ]
    })
    .await;
    let r = run(
        plan(
            CLIENTS,
            settings(Strategy::SingleFlight, 4),
            storm(Duration::from_millis(1500)),
        ),
        profile(&server),
    )
    .await;
    let t = &r.snap.timeline;

    // Resolution: 100 ms intervals, and the storm's refreshes land in a few of them, so the peak
    // rate is several times the number of clients per second (a 1 s bucket would say CLIENTS/s).
    assert_eq!(t.bucket_ms, 100, "{t:?}");
    let peak_rate = t
        .rate(names::SERIES_REFRESHES)
        .unwrap()
        .into_iter()
        .fold(0.0, f64::max);
    assert!(
        peak_rate >= 3.0 * f64::from(CLIENTS),
        "peak {peak_rate}/s: {:?}",
        t.series[names::SERIES_REFRESHES]
    );

    // The queue: every client's refresh was in flight together, and it drained by the end.
    let in_flight = t.in_flight().expect("sent and done series");
    let peak = *in_flight.iter().max().unwrap();
    assert!(peak >= i64::from(CLIENTS), "in flight {in_flight:?}");
    assert_eq!(*in_flight.last().unwrap(), 0, "in flight {in_flight:?}");

    // Latency per interval: the 300 ms refreshes show as such; API calls have their own curve.
    let p99: Vec<u64> = t
        .latency_quantile(names::REFRESH, 0.99)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert!(p99.iter().any(|v| *v >= 280_000), "p99(refresh) {p99:?}");
    assert!(t.latency_quantile(names::API, 0.5).is_some());

    // Failures per interval and recovery: one `recovered` event per `recovery` sample (a client
    // whose refreshes kept failing may not recover within the phase), most clients recovered.
    assert!(t.total(names::SERIES_FAILURES) > 0, "{:?}", r.snap.counters);
    let recovered_clients = t.total(names::SERIES_RECOVERED);
    assert_eq!(recovered_clients, r.samples(names::RECOVERY));
    assert!(
        recovered_clients * 2 >= u64::from(CLIENTS),
        "{recovered_clients}"
    );

    let report = report_of(&r);
    let recovered = charts::plot(&report, Plot::Recovered).unwrap();
    let share = recovered_clients as f64 / f64::from(CLIENTS) * 100.0;
    assert!(
        (recovered.last().unwrap().1 - share).abs() < 1e-9,
        "{recovered:?}"
    );
    assert!(recovered.first().unwrap().1 < share, "{recovered:?}");

    // report.html: each quantity on its own chart, failures in failure red.
    let page = html::report_html(&report).unwrap();
    for s in [
        "Requests per second",
        "Refreshes per second (own scale)",
        "Failures per second: ",
        "class=\"area failure\"",
        "Requests in flight (sent, not yet answered): peak",
        "refresh latency per interval: p50 and p99",
        "api latency per interval: p50 and p99",
        "Clients recovered since the synchronized start",
        "intervals of 100 ms",
        "requests in flight, peak",
    ] {
        assert!(page.contains(s), "report.html lacks {s:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_shows_as_failures_then_recovery_in_the_timeline() {
    // The mock stops once it answered a call per client (a few hundred ms into a 5 s traffic
    // phase) and comes back 1 s later on the same port. The test notes when it stopped and when
    // it was back, so a stall of the machine (which lengthens the outage, and may hold it past a
    // shorter phase) moves the bounds with it.
    let server = mock(|_| {}).await;
    let mut cfg = server.config().clone();
    cfg.port = server.local_addr().port();
    let p = plan(
        CLIENTS,
        settings(Strategy::SingleFlight, 1),
        vec![
            authbench::scenario::Phase::Login {
                ramp: Duration::ZERO,
            },
            authbench::scenario::Phase::Traffic {
                duration: Duration::from_secs(5),
                rate: None,
            },
        ],
    );
    let target = profile(&server);
    // Taken before the run's recorder starts: offsets from it are at most an interval late.
    let t0 = Instant::now();
    let outage = tokio::spawn(async move {
        let answered = eventually(Duration::from_secs(10), || {
            server.stats().api_requests >= u64::from(CLIENTS)
        })
        .await;
        assert!(answered, "no calls before the outage: {:?}", server.stats());
        let down = t0.elapsed();
        server.shutdown().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let server = authbench_mock::start(cfg)
            .await
            .expect("the mock starts again on the same port");
        (server, down, t0.elapsed())
    });
    let r = run(p, target).await;
    let (server, down, up) = outage.await.expect("outage task");
    let t = &r.snap.timeline;
    let interval = |d: Duration| (d.as_millis() / u128::from(t.bucket_ms)) as usize;
    let failures = &t.series[names::SERIES_FAILURES];
    let first = failures
        .iter()
        .position(|n| *n > 0)
        .expect("failures during the outage");
    let last = failures.iter().rposition(|n| *n > 0).unwrap();
    // Failures sit in the outage (from the interval it began in to at most 5 intervals after it
    // ended), and answered requests come back after it.
    assert!(
        first + 1 >= interval(down) && last <= interval(up) + 5,
        "failures in intervals {first}..={last}, outage {down:?}..{up:?}: {failures:?}"
    );
    let requests = &t.series[names::SERIES_REQUESTS];
    assert!(
        requests[last + 1..].iter().sum::<u64>() > 0,
        "requests after the outage {requests:?}"
    );
    server.shutdown().await;
}
