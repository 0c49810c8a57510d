//! The one backoff a client uses after a failure for a passing reason (a transport error, a 5xx,
//! a 429): 200 ms, doubling up to 5 s — or longer when the server sent `Retry-After`. A success
//! starts it again from 200 ms. Used by the closed-model traffic loop, the login phase and a
//! WebSocket's token renewal; the WebSocket reconnect has its own, jittered one
//! ([`super::ws::Backoff`]).

use std::time::Duration;

/// The first wait after a failure.
pub const RETRY_FIRST: Duration = Duration::from_millis(200);
/// The longest wait between two attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// The waits after failures in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    next: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { next: RETRY_FIRST }
    }
}

impl Retry {
    /// The wait after one more failure in a row.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(RETRY_MAX);
        d
    }

    /// A success: the next failure waits [`RETRY_FIRST`] again.
    pub fn reset(&mut self) {
        self.next = RETRY_FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut r = Retry::default();
        let waits: Vec<u64> = (0..7).map(|_| r.next_delay().as_millis() as u64).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000, 5000]);
        r.reset();
        assert_eq!(r.next_delay(), RETRY_FIRST);
    }
}
