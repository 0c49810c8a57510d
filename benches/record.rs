//! Cost of recording one measurement into a `metrics::Recorder` (target: < 100 ns per sample).
//!
//! Run with `cargo bench --bench record` (needs `[[bench]] name = "record" harness = false`).

use authbench::metrics::{Recorder, names};

fn main() {
    divan::main();
}

/// One latency sample, uncontended (one thread, rotating shard hints like client indices).
#[divan::bench]
fn record(bencher: divan::Bencher) {
    let r = Recorder::new();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        r.record(
            divan::black_box(i),
            names::API,
            divan::black_box(1_000 + (i as u64 & 4095)),
        );
    });
}

/// One counter increment with a dynamic name that already exists.
#[divan::bench]
fn count_existing(bencher: divan::Bencher) {
    let r = Recorder::new();
    let name = String::from("status.api.200");
    for s in 0..64 {
        r.count(s, &name, 1);
    }
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        r.count(divan::black_box(i), divan::black_box(&name), 1);
    });
}

/// One timeline event (includes reading the clock).
#[divan::bench]
fn series(bencher: divan::Bencher) {
    let r = Recorder::new();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        r.series(divan::black_box(i), names::SERIES_REQUESTS, 1);
    });
}

/// One request's in-flight bookkeeping: `sent` when it leaves, `done` when the guard is finished
/// (two timeline events and the in-flight count).
#[divan::bench]
fn begin_request(bencher: divan::Bencher) {
    let r = Recorder::new();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        r.begin_request(divan::black_box(i), "api").finish();
    });
}

/// Recording from all cores at once, each thread its own hint sequence.
#[divan::bench(threads)]
fn record_contended(bencher: divan::Bencher) {
    static R: std::sync::OnceLock<Recorder> = std::sync::OnceLock::new();
    let r = R.get_or_init(Recorder::new);
    bencher.bench(|| {
        let hint = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            std::thread::current().id(),
        ) as usize;
        r.record(hint, names::API, divan::black_box(1_500));
    });
}
