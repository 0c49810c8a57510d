//! Bounded waiting for conditions that only show in counters (no event to await), e.g. a mock
//! counter bumped after its response was written. Each binary's `support` module includes this file
//! with `#[path]`.

use std::time::Duration;

/// Waits until `cond` holds, checking every 5 ms, at most `bound`; returns whether it held.
pub async fn eventually(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
