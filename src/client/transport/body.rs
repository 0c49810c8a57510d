//! Response body limits, the one definition for every exchange authbench makes (DESIGN §8: all
//! memory bounded).
//!
//! - [`BodyMode::Keep`] — token responses (login, refresh, logout), admin calls, OpenID discovery:
//!   the whole body is needed, so one over [`BODY_CAP`] (64 KiB; a token response is ~1 KiB) is an
//!   `errors.body` failure rather than a silently cut JSON document.
//! - [`BodyMode::Truncate`] — resource responses and conformance evidence: only the start matters,
//!   so the first [`BODY_CAP`] bytes are kept and the rest is read and discarded (keeping the
//!   connection reusable) up to [`DRAIN_LIMIT`] (8 MiB) in all; past that the exchange fails with
//!   `errors.body` and the connection is dropped.

use bytes::{Bytes, BytesMut};

use super::error::{ErrorKind, HttpError};

/// Bytes kept from any response body.
pub const BODY_CAP: usize = 64 * 1024;
/// Bytes read in all (kept + drained) from a [`BodyMode::Truncate`] body before giving up on it.
pub const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// What to do with a response body (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// Keep it whole; a body over [`BODY_CAP`] is an [`ErrorKind::Body`] error.
    Keep,
    /// Keep at most [`BODY_CAP`] bytes and drain the rest, up to [`DRAIN_LIMIT`].
    Truncate,
}

impl BodyMode {
    /// Most bytes read before the exchange fails.
    pub fn limit(self) -> usize {
        match self {
            BodyMode::Keep => BODY_CAP,
            BodyMode::Truncate => DRAIN_LIMIT,
        }
    }
}

/// A body being read within the limits of its mode.
pub(crate) struct Capped {
    kept: BytesMut,
    seen: usize,
    limit: usize,
}

impl Capped {
    pub(crate) fn new(mode: BodyMode) -> Capped {
        Capped {
            kept: BytesMut::new(),
            seen: 0,
            limit: mode.limit(),
        }
    }

    /// Takes one chunk: keeps what fits under [`BODY_CAP`], fails past the mode's limit.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), HttpError> {
        self.seen += chunk.len();
        if self.seen > self.limit {
            return Err(HttpError::new(
                ErrorKind::Body,
                format!("response body over {} bytes", self.limit),
            ));
        }
        let room = BODY_CAP.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        Ok(())
    }

    pub(crate) fn finish(self) -> Bytes {
        self.kept.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_fails_over_the_cap_truncate_keeps_the_start() {
        let chunk = vec![b'x'; BODY_CAP / 2 + 1];
        let mut keep = Capped::new(BodyMode::Keep);
        keep.push(&chunk).unwrap();
        assert_eq!(keep.push(&chunk).unwrap_err().kind, ErrorKind::Body);

        let mut cut = Capped::new(BodyMode::Truncate);
        cut.push(&chunk).unwrap();
        cut.push(&chunk).unwrap();
        assert_eq!(cut.finish().len(), BODY_CAP);

        let mut flood = Capped::new(BodyMode::Truncate);
        let mb = vec![0u8; 1024 * 1024];
        for _ in 0..DRAIN_LIMIT / mb.len() {
            flood.push(&mb).unwrap();
        }
        assert_eq!(flood.push(b"!").unwrap_err().kind, ErrorKind::Body);
    }
}
