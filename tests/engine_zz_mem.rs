//! SCRATCH (engine helper, removed after measuring): per-client memory and wake skew.
mod engine_support;
use std::sync::Arc;
use std::time::Duration;
use authbench::client::{Connections, Strategy};
use authbench::engine::{self, Progress, Step};
use authbench::metrics::Recorder;
use tokio_util::sync::CancellationToken;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

async fn measure(n: u32) -> (u64, u64) {
    let p = Arc::new(authbench::target::preset("mock", "http://127.0.0.1:18555").unwrap());
    let mut pl = engine_support::plan(n, engine_support::settings(Strategy::SingleFlight, 4), vec![
        Step::Login { ramp: Duration::from_secs(2) },
        Step::Wait { duration: Duration::from_secs(2) },
        Step::Traffic { duration: Duration::from_secs(4), rate: None },
    ]);
    pl.connections = Connections::Pool(200);
    let rec = Recorder::new();
    let before = rss_kib();
    let prog = Progress::new();
    let pr = prog.clone();
    let sampler = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if pr.tick().phase == "wait" { tokio::time::sleep(Duration::from_millis(500)).await; let w = rss_kib(); while pr.tick().phase != "traffic" { tokio::time::sleep(Duration::from_millis(100)).await; } tokio::time::sleep(Duration::from_millis(2500)).await; return (w, rss_kib()); }
        }
    });
    let t = std::time::Instant::now();
    engine::run(pl, p, rec.clone(), CancellationToken::new(), prog).await.unwrap();
    let (during, traffic) = sampler.await.unwrap();
    eprintln!("n={n} before={before}KiB idle={during}KiB traffic={traffic}KiB delta={} logins={} api200={} took {:?}", during - before, rec.counter("status.login.200"), rec.counter("status.api.200"), t.elapsed());
    (during, traffic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zz_memory() {
    let (a, ta) = measure(10_000).await;
    let (b, tb) = measure(30_000).await;
    eprintln!("per idle client ≈ {} bytes; in traffic ≈ {} bytes", (b as i64 - a as i64) * 1024 / 20_000, (tb as i64 - ta as i64) * 1024 / 20_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zz_wake() {
    let server = engine_support::mock(|c| { c.access_ttl = Duration::from_secs(2); c.signing = "hs256".parse().unwrap(); }).await;
    let p = engine_support::profile(&server);
    let n = 10_000;
    let mut pl = engine_support::plan(n, engine_support::settings(Strategy::SingleFlight, 1), vec![
        Step::Login { ramp: Duration::ZERO },
        Step::SyncExpiry { offset: Duration::from_millis(100) },
    ]);
    pl.connections = Connections::Pool(1000);
    let rec = Recorder::new();
    engine::run(pl, p, rec.clone(), CancellationToken::new(), Progress::new()).await.unwrap();
    let s = rec.snapshot();
    let h = &s.histograms["wake_skew"];
    eprintln!("wake_skew n={} p50={}us p99={}us max={}us", h.len(), h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max());
}

#[tokio::test]
async fn zz_sizes() {
    let server = engine_support::mock(|_| {}).await;
    let p = engine_support::profile(&server);
    let env = authbench::client::SessionEnv::new(p, engine_support::settings(Strategy::SingleFlight, 1), Recorder::new(), Default::default(),
        authbench::client::Connector::new(Connections::Pool(4), Duration::from_secs(1), false, 1).unwrap(), CancellationToken::new());
    let s = authbench::client::Session::new(env, 0, "user0", "pw-0").unwrap();
    eprintln!("api_call future: {} bytes", std::mem::size_of_val(&s.api_call(None)));
    eprintln!("login future: {} bytes", std::mem::size_of_val(&s.login()));
    eprintln!("exchange future: {} bytes", std::mem::size_of_val(&s.http().exchange(s.http().client().get("http://x/"), authbench::client::http::BodyMode::Keep)));
}
