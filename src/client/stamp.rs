//! Compact instants for the state every client keeps. An `Option<SystemTime>` or
//! `Option<Instant>` takes 16 bytes; a stamp holds nanoseconds in a `NonZeroU64`, so it and its
//! `Option` take 8. A million clients hold several each.
//!
//! - [`WallStamp`]: a `SystemTime` as nanoseconds since the UNIX epoch — exact from 1970 to 2554;
//!   an earlier time is held as 1 ns after the epoch, a later one as the last representable.
//! - [`MonoStamp`]: an `Instant` as nanoseconds since a process-wide epoch, set up to an hour before
//!   the first stamp was made — exact for every instant after that epoch (an earlier one is held
//!   as the epoch).

use std::num::NonZeroU64;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

fn nanos(d: Duration) -> NonZeroU64 {
    NonZeroU64::new(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1))
        .unwrap_or(NonZeroU64::MIN)
}

/// A wall-clock time in 8 bytes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallStamp(NonZeroU64);

impl WallStamp {
    pub fn new(t: SystemTime) -> WallStamp {
        WallStamp(nanos(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default(),
        ))
    }

    pub fn get(self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(self.0.get())
    }
}

/// A monotonic instant in 8 bytes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonoStamp(NonZeroU64);

/// The process-wide origin of [`MonoStamp`]s: an hour before the first use, or as much of it as
/// the monotonic clock has run (it starts near the machine's boot).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(|| {
        let now = Instant::now();
        [3600, 60, 1]
            .into_iter()
            .find_map(|s| now.checked_sub(Duration::from_secs(s)))
            .unwrap_or(now)
    })
}

impl MonoStamp {
    pub fn new(at: Instant) -> MonoStamp {
        MonoStamp(nanos(at.saturating_duration_since(epoch())))
    }

    pub fn get(self) -> Instant {
        epoch() + Duration::from_nanos(self.0.get())
    }

    /// Microseconds since the epoch, never 0: for instants kept in an atomic, 0 meaning "unset".
    pub fn micros(self) -> u64 {
        (self.0.get() / 1_000).max(1)
    }
}

impl From<Instant> for MonoStamp {
    fn from(at: Instant) -> MonoStamp {
        MonoStamp::new(at)
    }
}

impl From<tokio::time::Instant> for MonoStamp {
    fn from(at: tokio::time::Instant) -> MonoStamp {
        MonoStamp::new(at.into_std())
    }
}

impl From<SystemTime> for WallStamp {
    fn from(t: SystemTime) -> WallStamp {
        WallStamp::new(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_eight_bytes_with_their_none() {
        assert_eq!(size_of::<Option<WallStamp>>(), 8);
        assert_eq!(size_of::<Option<MonoStamp>>(), 8);
    }

    #[test]
    fn round_trips_are_exact_and_order_is_kept() {
        let now = SystemTime::now();
        assert_eq!(WallStamp::new(now).get(), now);
        let later = now + Duration::from_nanos(1);
        assert!(WallStamp::new(later) > WallStamp::new(now));
        assert_eq!(
            WallStamp::new(SystemTime::UNIX_EPOCH - Duration::from_secs(5)).get(),
            SystemTime::UNIX_EPOCH + Duration::from_nanos(1),
            "before 1970: held as just after the epoch"
        );

        let t = Instant::now();
        for at in [
            t,
            t + Duration::from_nanos(1),
            t + Duration::from_secs(86_400),
        ] {
            assert_eq!(MonoStamp::new(at).get(), at);
        }
        assert!(MonoStamp::new(t + Duration::from_nanos(1)) > MonoStamp::new(t));
        let tokio_at = tokio::time::Instant::from_std(t);
        assert_eq!(MonoStamp::from(tokio_at).get(), t);
        assert!(MonoStamp::new(t).micros() >= 1);
    }
}
