//! Fault injection for load tests: latency, errors, capacity limits and rate limits per operation.
//!
//! A request is admitted by [`Faults::admit`] for its [`Op`] before the route does its work (the
//! HTTP side, a middleware and the refusal responses, is in `routes::guard`). The checks run in
//! the order a real overloaded server would apply them: rate limit (429), capacity (503; for `ws`
//! the socket is accepted and closed with 1013), then the injected latency (counted as in flight),
//! then the random error (500). Operations without faults pay nothing on routes with a fixed
//! operation (no middleware is installed) and one array index and a branch elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

use crate::config::{Fault, FaultKind, Op};
use crate::stats::Counters;

/// Why a request was refused by a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `rate:` fault: 429 with `Retry-After` (seconds).
    RateLimited { retry_after: u64 },
    /// `capacity:` fault: 503 with `Retry-After: 1` (for `ws`: close 1013 after the upgrade).
    OverCapacity,
    /// `error:` fault: 500.
    InjectedError,
}

/// Held while a request (or a socket) counts against a capacity fault.
#[derive(Debug, Default)]
pub struct Permit(Option<Arc<AtomicU32>>);

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Whether request `n` (0-based) of an operation with `error:OP=percent%` fails: the failures are
/// spread evenly, so that every run fails the same share, exactly (`20%`: the 5th, 10th, 15th...
/// request; `1%`: the 100th, 200th...), and a short run with a few requests sees its share too.
fn fails(n: u64, percent: f64) -> bool {
    let upto = |k: u64| (k as f64 * percent / 100.0).floor();
    upto(n + 1) > upto(n)
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug, Default)]
struct OpFaults {
    latency: Option<(Duration, Duration)>,
    /// The share to fail, and the requests seen so far (the failures are spread evenly).
    error: Option<(f64, AtomicU64)>,
    capacity: Option<(u32, Arc<AtomicU32>)>,
    rate: Option<(f64, Mutex<Bucket>)>,
}

impl OpFaults {
    fn is_empty(&self) -> bool {
        self.latency.is_none()
            && self.error.is_none()
            && self.capacity.is_none()
            && self.rate.is_none()
    }
}

/// The configured faults of every operation.
#[derive(Debug)]
pub struct Faults {
    ops: [OpFaults; Op::ALL.len()],
}

impl Faults {
    /// Faults from the configuration; a later fault of the same kind and op replaces an earlier one.
    pub fn new(faults: &[Fault]) -> Self {
        let mut ops: [OpFaults; Op::ALL.len()] = Default::default();
        for f in faults {
            let o = &mut ops[f.op.index()];
            match f.kind {
                FaultKind::Latency { min, max } => o.latency = Some((min, max)),
                FaultKind::Error { percent } => o.error = Some((percent, AtomicU64::new(0))),
                FaultKind::Capacity { max_in_flight } => {
                    o.capacity = Some((max_in_flight, Arc::new(AtomicU32::new(0))))
                }
                FaultKind::Rate { per_second } => {
                    o.rate = Some((
                        per_second,
                        Mutex::new(Bucket {
                            tokens: per_second.max(1.0),
                            last: Instant::now(),
                        }),
                    ))
                }
            }
        }
        Faults { ops }
    }

    /// Whether `op` has any fault configured.
    pub fn has(&self, op: Op) -> bool {
        !self.ops[op.index()].is_empty()
    }

    /// Applies the faults of `op`. `Ok` carries a permit to hold while the request (or socket)
    /// is in flight.
    pub async fn admit(&self, op: Op, stats: &Counters) -> Result<Permit, Refusal> {
        let o = &self.ops[op.index()];
        if o.is_empty() {
            return Ok(Permit::default());
        }
        if let Some((per_second, bucket)) = &o.rate {
            let mut b = bucket.lock();
            let now = Instant::now();
            let burst = per_second.max(1.0);
            b.tokens =
                (b.tokens + now.duration_since(b.last).as_secs_f64() * per_second).min(burst);
            b.last = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
            } else {
                let wait = ((1.0 - b.tokens) / per_second).ceil().max(1.0) as u64;
                drop(b);
                Counters::inc(&stats.faults_rate);
                return Err(Refusal::RateLimited { retry_after: wait });
            }
        }
        let permit = match &o.capacity {
            Some((max, in_flight)) => {
                let prev = in_flight.fetch_add(1, Ordering::AcqRel);
                let permit = Permit(Some(in_flight.clone()));
                if prev >= *max {
                    drop(permit);
                    Counters::inc(&stats.faults_capacity);
                    return Err(Refusal::OverCapacity);
                }
                permit
            }
            None => Permit::default(),
        };
        if let Some((min, max)) = o.latency {
            let delay = if min == max {
                min
            } else {
                rand::rng().random_range(min..=max)
            };
            Counters::inc(&stats.faults_latency);
            tokio::time::sleep(delay).await;
        }
        if let Some((percent, seen)) = &o.error
            && fails(seen.fetch_add(1, Ordering::Relaxed), *percent)
        {
            Counters::inc(&stats.faults_error);
            return Err(Refusal::InjectedError);
        }
        Ok(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_share_is_spread_evenly_and_exact() {
        let failed = |percent: f64, n: u64| (0..n).filter(|&i| fails(i, percent)).count();
        assert_eq!(failed(20.0, 10), 2);
        assert!(fails(4, 20.0) && fails(9, 20.0) && !fails(0, 20.0));
        assert_eq!(failed(1.0, 1000), 10);
        assert_eq!(failed(30.0, 100), 30);
        assert_eq!(failed(0.5, 1000), 5);
        assert_eq!(failed(100.0, 7), 7);
        assert_eq!(failed(0.0, 1000), 0);
    }

    fn faults(specs: &[&str]) -> Faults {
        Faults::new(&specs.iter().map(|s| s.parse().unwrap()).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn capacity_counts_in_flight() {
        let f = faults(&["capacity:api=2"]);
        let s = Counters::default();
        let a = f.admit(Op::Api, &s).await.unwrap();
        let _b = f.admit(Op::Api, &s).await.unwrap();
        assert_eq!(
            f.admit(Op::Api, &s).await.unwrap_err(),
            Refusal::OverCapacity
        );
        drop(a);
        assert!(f.admit(Op::Api, &s).await.is_ok());
        assert!(
            f.admit(Op::Login, &s).await.is_ok(),
            "other ops are unaffected"
        );
    }

    #[tokio::test]
    async fn rate_limits_past_the_burst() {
        let f = faults(&["rate:refresh=5/s"]);
        let s = Counters::default();
        for _ in 0..5 {
            f.admit(Op::Refresh, &s).await.unwrap();
        }
        assert!(matches!(
            f.admit(Op::Refresh, &s).await,
            Err(Refusal::RateLimited { retry_after: 1 })
        ));
    }

    #[tokio::test]
    async fn error_rate_extremes() {
        let s = Counters::default();
        let all = faults(&["error:login=100%"]);
        let none = faults(&["error:login=0%"]);
        for _ in 0..20 {
            assert_eq!(
                all.admit(Op::Login, &s).await.unwrap_err(),
                Refusal::InjectedError
            );
            assert!(none.admit(Op::Login, &s).await.is_ok());
        }
    }

    #[tokio::test]
    async fn latency_delays() {
        let f = faults(&["latency:api=20ms..30ms"]);
        let s = Counters::default();
        let t = Instant::now();
        f.admit(Op::Api, &s).await.unwrap();
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(20), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
}
