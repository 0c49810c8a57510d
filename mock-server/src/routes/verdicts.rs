//! The verdict cache of the `cached-verdicts` flaw: `GET /api/me` remembers each access token it
//! accepted, with its principal, for an hour, like an API gateway that caches token-validation
//! results for a fixed time. A correct server never consults it (it stays empty).
//!
//! Bounded: past [`CAPACITY`] entries the cache is emptied and refills as tokens come back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::auth::Principal;

/// How long a cached verdict is served.
pub const TTL: Duration = Duration::from_secs(3600);
/// Most tokens remembered.
pub const CAPACITY: usize = 4096;

/// Accepted access tokens and who they were, with when they were first accepted.
#[derive(Default)]
pub struct VerdictCache {
    map: Mutex<HashMap<Box<str>, (Instant, Principal)>>,
}

impl VerdictCache {
    /// The principal `token` was accepted as, if that was less than [`TTL`] ago.
    pub fn get(&self, token: &str) -> Option<Principal> {
        let map = self.map.lock();
        let (at, principal) = map.get(token)?;
        (at.elapsed() < TTL).then(|| principal.clone())
    }

    /// Remembers that `token` was accepted as `principal`.
    pub fn insert(&self, token: &str, principal: &Principal) {
        let mut map = self.map.lock();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(token.into(), (Instant::now(), principal.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_stays_bounded() {
        let c = VerdictCache::default();
        assert!(c.get("a").is_none());
        c.insert("a", &Principal::anonymous());
        assert_eq!(&*c.get("a").unwrap().sub, "anonymous");
        for i in 0..CAPACITY {
            c.insert(&format!("t{i}"), &Principal::anonymous());
        }
        assert!(c.map.lock().len() <= CAPACITY);
        assert!(c.get("a").is_none(), "emptied when full");
    }
}
