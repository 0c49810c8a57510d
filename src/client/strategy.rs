//! The four token-renewal strategies of the seed article, the cookie-session client, and the
//! knobs of one simulated client.
//!
//! | strategy        | on a 401                                   | before expiry            | renewal header |
//! |-----------------|--------------------------------------------|--------------------------|----------------|
//! | `naive`         | refresh with the RT it holds, retry once — every request on its own | —  | ignored |
//! | `single-flight` | one refresh per session, others wait and retry | —                    | ignored |
//! | `proactive`     | single-flight fallback                     | timer `exp - margin ± jitter` | ignored |
//! | `sliding`       | single-flight fallback                     | —                        | adopted |
//! | `cookie-session`| session gone (401, redirect to login): one new login per session | — | `Set-Cookie` adopted |

use std::fmt;
use std::time::Duration;

use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// The serde form is the scenario's `client.strategy` (kebab-case names); the `///` docs are the
// descriptions in the JSON Schema (authbench.schema.json), so they speak to scenario authors.
/// How a client renews its access token (the seed's four strategies), or keeps a cookie session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// 401 → refresh → retry once; every in-flight request refreshes on its own.
    Naive,
    /// One refresh per client in flight; the other requests wait for its result.
    #[default]
    SingleFlight,
    /// A timer refreshes at `exp - proactive_margin ± jitter`; single-flight on a 401.
    Proactive,
    /// Adopt the server's renewal header (`New-Access-Token`); single-flight on a 401.
    Sliding,
    /// A cookie-session server (the profile's `cookie_session:`): the session cookie is the
    /// credential, every request carries the cookie jar, a `Set-Cookie` in any response renews
    /// it (sliding, `Max-Age`/`Expires` honoured), and a 401 or a redirect to the login page
    /// means one new login per client.
    CookieSession,
}

impl Strategy {
    /// The scenario name (`single-flight`...).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::SingleFlight => "single-flight",
            Strategy::Proactive => "proactive",
            Strategy::Sliding => "sliding",
            Strategy::CookieSession => "cookie-session",
        }
    }

    /// Whether a 401 is handled by one shared refresh per session.
    pub fn shares_refresh(self) -> bool {
        !matches!(self, Strategy::Naive)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The per-client knobs (scenario `client:` block, minus what only the engine uses).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    pub strategy: Strategy,
    /// Requests in flight per client (a page loading this many API calls at once).
    pub concurrency: u32,
    /// Closed model: pause between two requests of one in-flight slot.
    pub think_time: Duration,
    /// Proactive: refresh this long before `exp` ...
    pub proactive_margin: Duration,
    /// ... moved by a uniform amount in `[-jitter, +jitter]`.
    pub jitter: Duration,
    /// Deadline of one HTTP exchange.
    pub timeout: Duration,
    /// Share (0..=1) of API calls sent to the profile's scope-restricted resource.
    pub scoped_share: f64,
    /// Treat a 403 like session loss: log out and log in again (the common interceptor bug;
    /// counted `false_logouts`).
    pub logout_on_403: bool,
    /// Tabs per user sharing one token store, and how they coordinate (`client.tabs`).
    pub tabs: super::tabs::TabSettings,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            concurrency: 1,
            think_time: Duration::from_secs(1),
            proactive_margin: Duration::from_secs(5),
            jitter: Duration::ZERO,
            timeout: Duration::from_secs(10),
            scoped_share: 0.0,
            logout_on_403: false,
            tabs: super::tabs::TabSettings::default(),
        }
    }
}

impl ClientSettings {
    /// Whether the `n`-th API call of a client (from 0) goes to the scope-restricted resource:
    /// spread evenly, `scoped_share` of every run of calls (0.25: calls 3, 7, 11, …).
    pub fn scoped_call(&self, n: u64) -> bool {
        let share = self.scoped_share.clamp(0.0, 1.0);
        share > 0.0 && ((n + 1) as f64 * share).floor() > (n as f64 * share).floor()
    }

    /// How long before expiry the proactive timer fires for a token with `remaining` validity:
    /// `margin ± uniform(jitter)`, never after expiry, and at most half the remaining life when the
    /// token lives shorter than the margin (so a short-lived token does not refresh in a loop).
    pub fn proactive_lead(&self, remaining: Duration) -> Duration {
        let margin = self.proactive_margin.as_secs_f64();
        let jitter = self.jitter.as_secs_f64();
        let shift = if jitter > 0.0 {
            rand::rng().random_range(-jitter..=jitter)
        } else {
            0.0
        };
        let lead = (margin + shift).max(0.0);
        let rem = remaining.as_secs_f64();
        let lead = if lead >= rem { rem / 2.0 } else { lead };
        Duration::from_secs_f64(lead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_without_jitter_is_the_margin() {
        let s = ClientSettings {
            proactive_margin: Duration::from_secs(2),
            ..Default::default()
        };
        assert_eq!(
            s.proactive_lead(Duration::from_secs(30)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn lead_with_jitter_spreads_and_never_passes_expiry() {
        let s = ClientSettings {
            proactive_margin: Duration::from_secs(2),
            jitter: Duration::from_secs(3),
            ..Default::default()
        };
        let leads: Vec<f64> = (0..500)
            .map(|_| s.proactive_lead(Duration::from_secs(30)).as_secs_f64())
            .collect();
        assert!(leads.iter().all(|l| (0.0..=5.0).contains(l)));
        let min = leads.iter().cloned().fold(f64::MAX, f64::min);
        let max = leads.iter().cloned().fold(0.0, f64::max);
        assert!(
            max - min > 2.0,
            "jitter should spread the leads: {min}..{max}"
        );
    }

    #[test]
    fn short_lived_token_refreshes_at_half_life() {
        let s = ClientSettings {
            proactive_margin: Duration::from_secs(5),
            ..Default::default()
        };
        assert_eq!(
            s.proactive_lead(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn scoped_calls_are_spread_evenly() {
        let share = |scoped_share| ClientSettings {
            scoped_share,
            ..Default::default()
        };
        let picked = |s: &ClientSettings| (0..8).filter(|n| s.scoped_call(*n)).collect::<Vec<_>>();
        assert_eq!(picked(&share(0.25)), [3, 7]);
        assert_eq!(picked(&share(0.5)), [1, 3, 5, 7]);
        assert!(picked(&share(0.0)).is_empty());
        assert_eq!(picked(&share(1.0)).len(), 8);
    }

    #[test]
    fn names_match_the_scenario_format() {
        assert_eq!(Strategy::SingleFlight.to_string(), "single-flight");
        for s in [
            Strategy::Naive,
            Strategy::SingleFlight,
            Strategy::Proactive,
            Strategy::Sliding,
            Strategy::CookieSession,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                s.name(),
                "serde and name() agree"
            );
        }
        assert_eq!(Strategy::default(), ClientSettings::default().strategy);
        assert!(!Strategy::Naive.shares_refresh());
        assert!(Strategy::Sliding.shares_refresh());
    }
}
