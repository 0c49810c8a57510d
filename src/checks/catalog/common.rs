//! Small helpers shared by the checks: made-up tokens, waiting for a token's expiry, sanity
//! checks on genuine tokens, fields the profile does not extract.

use std::time::{Duration, SystemTime};

use crate::checks::meta::Need;
use crate::checks::outcome::Stop;
use crate::checks::probe::{Probe, Resp};
use crate::profile::Tokens;

/// The longest access-token lifetime a check waits out (longer: SKIP).
pub const MAX_WAIT_FOR_EXPIRY: Duration = Duration::from_secs(10);

/// A token no server has issued: `authbench-<tag>-<32 hex digits>`.
pub fn unknown_token(tag: &str) -> String {
    format!("authbench-{tag}-{:032x}", rand::random::<u128>())
}

/// Time left until `t` (zero if past).
pub fn until(t: SystemTime) -> Duration {
    t.duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// Sleeps until the wall-clock instant `t` (returns at once if it has passed).
pub async fn sleep_until(t: SystemTime) {
    let d = until(t);
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// When the access token expires, or a SKIP when it is unknown or too far away to wait for.
pub fn short_expiry(tokens: &Tokens) -> Result<SystemTime, Stop> {
    let exp = tokens.expires_at.ok_or_else(|| {
        Stop::skip("the access token's expiry is unknown (no JWT exp, no expires_in)")
    })?;
    let left = until(exp);
    if left > MAX_WAIT_FOR_EXPIRY {
        return Err(Stop::skip(format!(
            "{} (it lives {}s; at most {}s is waited for)",
            Need::ShortAccessTokens.reason(),
            left.as_secs(),
            MAX_WAIT_FOR_EXPIRY.as_secs()
        )));
    }
    Ok(exp)
}

/// Calls the resource with a genuine access token; a refusal means the check cannot judge
/// forgeries against it, so it stops with an error.
pub async fn genuine_works(p: &Probe, access_token: &str) -> Result<Resp, Stop> {
    let r = p
        .api("genuine access token (sanity check)", access_token)
        .await?;
    if !r.ok() {
        return Err(Stop::error(format!(
            "the genuine access token was refused ({}); the resource request of the profile may be wrong",
            r.brief()
        )));
    }
    Ok(r)
}

/// A numeric member of a JSON body (e.g. `refresh_expires_in`, `expires_in`).
pub fn json_number(resp: &Resp, member: &str) -> Option<f64> {
    let v = resp.json()?;
    let n = v.get(member)?;
    n.as_f64()
        .or_else(|| n.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
}

/// Seconds with millisecond precision, for messages.
pub fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Whether the resource accepted the token.
pub fn accepted(r: &Resp) -> bool {
    r.ok()
}
