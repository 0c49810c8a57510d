//! A server outage on demand (`POST /admin/outage`): the mock answers, then closes its listening
//! socket and every open connection (keep-alive HTTP connections, and WebSockets with 1001
//! "going away"), stays away for the requested duration, and listens again on the same address.
//! Its state (users, sessions, refresh-token families) survives, as when a load balancer or a
//! stateless front end in front of a persistent store restarts; clients only see connections
//! refused and reset.
//!
//! [`Outage`] is the switch the serving loop ([`crate::server`]) and every socket watch: each
//! *epoch* (a period of listening) has a cancellation token, a child of the server's shutdown
//! token, which an outage cancels.

use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

/// The longest outage `POST /admin/outage` accepts.
pub const MAX_OUTAGE: Duration = Duration::from_secs(600);

/// Why an outage cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutageError {
    /// An outage is already under way.
    #[error("an outage is already under way")]
    Busy,
    /// A duration of 0 or above [`MAX_OUTAGE`].
    #[error("the outage duration must be above 0 and at most {max}s", max = MAX_OUTAGE.as_secs())]
    Duration,
}

struct Epoch {
    /// Cancelled when this listening period ends (outage or shutdown).
    up: CancellationToken,
    /// How long the pending outage lasts (set when `up` is cancelled by an outage).
    down_for: Option<Duration>,
}

/// The server's outage switch; see the module docs.
pub struct Outage {
    shutdown: CancellationToken,
    epoch: Mutex<Epoch>,
}

impl Outage {
    /// A switch whose epochs end at the latest with `shutdown`.
    pub fn new(shutdown: &CancellationToken) -> Outage {
        Outage {
            shutdown: shutdown.clone(),
            epoch: Mutex::new(Epoch {
                up: shutdown.child_token(),
                down_for: None,
            }),
        }
    }

    /// The token of the current listening period: connections and sockets end when it fires.
    pub fn up(&self) -> CancellationToken {
        self.epoch.lock().up.clone()
    }

    /// Starts an outage of `duration`: ends the current listening period.
    pub fn start(&self, duration: Duration) -> Result<(), OutageError> {
        if duration.is_zero() || duration > MAX_OUTAGE {
            return Err(OutageError::Duration);
        }
        let mut e = self.epoch.lock();
        if e.down_for.is_some() || e.up.is_cancelled() {
            return Err(OutageError::Busy);
        }
        e.down_for = Some(duration);
        e.up.cancel();
        Ok(())
    }

    /// After a listening period ended: how long the outage lasts (`None`: it was a shutdown).
    pub fn down_for(&self) -> Option<Duration> {
        if self.shutdown.is_cancelled() {
            return None;
        }
        self.epoch.lock().down_for
    }

    /// The outage is over: a new listening period starts.
    pub fn back_up(&self) {
        let mut e = self.epoch.lock();
        e.up = self.shutdown.child_token();
        e.down_for = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outage_at_a_time_and_bounded() {
        let shutdown = CancellationToken::new();
        let o = Outage::new(&shutdown);
        let first = o.up();
        assert_eq!(o.start(Duration::ZERO), Err(OutageError::Duration));
        assert_eq!(o.start(MAX_OUTAGE * 2), Err(OutageError::Duration));
        assert!(!first.is_cancelled());
        o.start(Duration::from_secs(2)).unwrap();
        assert!(first.is_cancelled());
        assert_eq!(o.start(Duration::from_secs(1)), Err(OutageError::Busy));
        assert_eq!(o.down_for(), Some(Duration::from_secs(2)));
        o.back_up();
        assert!(!o.up().is_cancelled());
        shutdown.cancel();
        assert!(o.up().is_cancelled(), "shutdown ends every epoch");
        assert_eq!(o.down_for(), None);
    }
}
