//! The floor under row 8b's `wake_skew`: how soon the last of a million clients can have woken on
//! this machine if waking one did nothing but touch its state once and read the clock.
//!
//! A million heap blocks of `--bytes` each (bench/run-all.sh passes what the million-client run
//! held per client, so the walk strides through memory as the real wake does) are visited once by
//! every core, each core a contiguous share (the order a hardware prefetcher likes best: a lower
//! bound). A visit reads the clock and writes the instant into the block, as a client records its
//! wake. The figure is the time from the start to the last visit, median of `--rounds` walks.
//! Nothing of authbench runs here: no runtime, no waker, no queue. A wake that costs less than
//! this is not possible on this machine.
//!
//! Run with `cargo bench --bench wake_floor -- [--clients N] [--bytes B] [--rounds R]`.

use std::time::{Duration, Instant};

fn main() {
    let mut clients = 1_000_000usize;
    let mut bytes = 2_048usize;
    let mut rounds = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| -> usize {
            let v = args.next().unwrap_or_default();
            v.parse().unwrap_or_else(|_| {
                eprintln!("wake_floor: {name} needs a whole number, got {v:?}");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--clients" => clients = value("--clients"),
            "--bytes" => bytes = value("--bytes").max(32),
            "--rounds" => rounds = value("--rounds").max(1),
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            other => {
                eprintln!("wake_floor: unknown flag {other} (--clients N, --bytes B, --rounds R)");
                std::process::exit(2)
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut blocks: Vec<Box<[u8]>> = (0..clients)
        .map(|i| vec![i as u8; bytes].into_boxed_slice())
        .collect();
    let mut walks: Vec<Duration> = (0..rounds).map(|_| walk(&mut blocks, cores)).collect();
    let shown: Vec<String> = walks
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
        .collect();
    walks.sort();
    let median = walks[walks.len() / 2];
    println!(
        "wake floor: {clients} clients × {bytes} B, {cores} cores: last visit after {:.1} ms \
         (median of {rounds}: {} ms; {:.0} ns per client per core)",
        median.as_secs_f64() * 1e3,
        shown.join(" "),
        median.as_secs_f64() * 1e9 * cores as f64 / clients.max(1) as f64,
    );
}

/// Visits every block once, `cores` threads each over a contiguous share; returns the time from
/// the start to the last visit.
fn walk(blocks: &mut [Box<[u8]>], cores: usize) -> Duration {
    let share = blocks.len().div_ceil(cores).max(1);
    let start = Instant::now();
    let last = std::thread::scope(|scope| {
        let walkers: Vec<_> = blocks
            .chunks_mut(share)
            .map(|chunk| {
                scope.spawn(move || {
                    let mut last = start;
                    for block in chunk {
                        last = Instant::now();
                        let since = (last - start).as_nanos() as u64;
                        block[..8].copy_from_slice(&since.to_le_bytes());
                    }
                    last
                })
            })
            .collect();
        walkers
            .into_iter()
            .map(|w| w.join().expect("a walker"))
            .max()
            .unwrap_or(start)
    });
    last - start
}
