//! Small helpers shared by the checks: made-up tokens, waiting for a token's expiry, sanity
//! checks on genuine tokens, fields the profile does not extract, and the two rules that keep a
//! broken server from producing a verdict: a refresh the check builds on ([`premise`]), the
//! control of a "refused after X" verdict ([`control`]), the control of a refused expired
//! access token ([`expiry_control`]) and the control of an accepted one ([`refusing_control`]).

use std::time::{Duration, SystemTime};

use crate::checks::meta::Need;
use crate::checks::outcome::{Findings, Stop};
use crate::checks::probe::{Probe, RefreshReply, Resp, Session};
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

/// Time since `t` (zero if it is still ahead).
pub fn elapsed_since(t: SystemTime) -> Duration {
    SystemTime::now()
        .duration_since(t)
        .unwrap_or(Duration::ZERO)
}

/// Sleeps until the wall-clock instant `t` (returns at once if it has passed).
pub async fn sleep_until(t: SystemTime) {
    let d = until(t);
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// The longest declared `expiry_leeway` a check waits out (longer: the expired-token part is not
/// tried).
pub const MAX_LEEWAY_WAITED: Duration = Duration::from_secs(120);

/// The profile's `expiry_leeway` (how long past `exp` the resource server still accepts a token),
/// or a SKIP when it is too long to wait for.
pub fn waitable_leeway(p: &Probe) -> Result<Duration, Stop> {
    let leeway = p.profile().expiry_leeway();
    if leeway > MAX_LEEWAY_WAITED {
        return Err(Stop::skip(format!(
            "the profile declares an expiry_leeway of {} (at most {}s is waited for past exp)",
            secs(leeway),
            MAX_LEEWAY_WAITED.as_secs()
        )));
    }
    Ok(leeway)
}

/// "exp", or "exp + the declared leeway of 60.00s": what an expired token's timing counts from.
pub fn past_exp(leeway: Duration) -> String {
    if leeway.is_zero() {
        "exp".into()
    } else {
        format!("exp + the declared leeway of {}", secs(leeway))
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

/// When the access token of `tokens` has surely expired: its JWT `exp` (read by the client, see
/// [`Tokens::expires_at`]), or — when the expiry is known only from `expires_in`, a whole number
/// of seconds — one second later, since a server may round the lifetime it announces down (the
/// mock ends a 2 s token at the next whole second of its `exp`).
pub fn surely_expired_at(tokens: &Tokens, exp: SystemTime) -> SystemTime {
    match crate::profile::jwt_exp(&tokens.access_token) {
        Some(_) => exp,
        None => exp + Duration::from_secs(1),
    }
}

/// Calls the resource with a genuine access token; a refusal means the check cannot judge
/// forgeries against it. A refusal in the RFC 6750 form (`error="invalid_token"`) is the server's
/// verdict on its own token (SKIP, see RT-01); any other refusal (404, a challenge without error,
/// as if no token was sent) points at the profile's resource request (ERROR).
pub async fn genuine_works(p: &Probe, access_token: &str) -> Result<Resp, Stop> {
    let r = p
        .api("genuine access token (sanity check)", access_token)
        .await?;
    let invalid_token = crate::checks::probe::challenge(&r)
        .and_then(|c| c.error)
        .is_some_and(|e| e == "invalid_token");
    if !r.ok() && invalid_token {
        return Err(Stop::skip(format!(
            "not judged: the server refuses the genuine access token of a fresh login ({} invalid_token), so forged ones prove nothing (see RT-01)",
            r.status
        )));
    }
    if !r.ok() {
        return Err(Stop::error(format!(
            "the genuine access token was refused ({}); the resource request of the profile may be wrong",
            r.brief()
        )));
    }
    Ok(r)
}

/// The documented error code with which a server refuses the token itself, not the request or
/// the caller: 400 `invalid_grant` (RFC 6749 §5.2), 400 `unsupported_token_type` (RFC 7009
/// §2.2.1), 401 `invalid_token` (RFC 6750 §3.1, in the body or the Bearer challenge). A check
/// whose premise operation gets one cannot be judged (SKIP); any other refusal —
/// `invalid_client`, `invalid_request`, a 404 — points at the profile (ERROR).
pub fn refuses_the_token(r: &Resp) -> Option<String> {
    let challenged = crate::checks::probe::challenge(r).and_then(|c| c.error);
    let code = r.error_code().or(challenged)?;
    let documented = matches!(
        (r.status, code.as_str()),
        (400, "invalid_grant" | "unsupported_token_type") | (401, "invalid_token")
    );
    documented.then_some(code)
}

/// A numeric member of a JSON body (e.g. `refresh_expires_in`, `expires_in`).
pub fn json_number(resp: &Resp, member: &str) -> Option<f64> {
    let v = resp.json()?;
    let n = v.get(member)?;
    n.as_f64()
        .or_else(|| n.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
}

/// The refresh lifetime a token response announces: `refresh_expires_in`, else the `exp` of a
/// JWT refresh token `rt`.
pub fn announced_lifetime(resp: &Resp, rt: &str) -> Option<Duration> {
    if let Some(secs) = json_number(resp, "refresh_expires_in").filter(|s| *s > 0.0 && *s < 1e9) {
        return Some(Duration::from_secs_f64(secs));
    }
    let exp = crate::checks::jwt::parse(rt)?.exp()?;
    let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(exp).ok()?);
    Some(until(exp))
}

/// The clock skew allowed when a JWT access token's `exp` is compared with the `expires_in` of
/// the same token response: this, plus [`EXP_SKEW_SHARE`] of `expires_in`.
pub const EXP_SKEW: Duration = Duration::from_secs(60);
/// The share of `expires_in` allowed on top of [`EXP_SKEW`] (servers round lifetimes).
pub const EXP_SKEW_SHARE: f64 = 0.10;
/// An `exp` further ahead than this (100 years) is no NumericDate in seconds: a millisecond
/// count lies ~55 000 years ahead.
pub const EXP_ABSURD_AHEAD: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Compares the `exp` of the JWT `access_token` with the `expires_in` of its token response
/// `resp`, answered at `answered`, and records one assertion (nothing when the token is opaque,
/// has no numeric `exp`, or the response has no `expires_in`). RFC 7519 §4.1.4: `exp` is a
/// NumericDate, seconds since the epoch (RFC 9068 §2.2 makes it REQUIRED in access tokens); RFC
/// 6749 §5.1: `expires_in` is the token's lifetime in seconds. An `exp` more than
/// [`EXP_ABSURD_AHEAD`] ahead is not in seconds (FAIL: a resource server that checks it accepts
/// the token for ages); one that disagrees with `expires_in` by more than [`EXP_SKEW`] plus
/// [`EXP_SKEW_SHARE`] is a WARN (clients schedule refreshes by one, resource servers expire by
/// the other); otherwise a PASS.
pub fn exp_agrees_with_expires_in(
    f: &mut Findings,
    what: &str,
    resp: &Resp,
    access_token: &str,
    answered: SystemTime,
) {
    let Some(exp) = crate::checks::jwt::parse(access_token)
        .and_then(|jwt| jwt.claim("exp").and_then(serde_json::Value::as_f64))
    else {
        return;
    };
    let Some(expires_in) = json_number(resp, "expires_in") else {
        return;
    };
    let now = answered
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let ahead = exp - now;
    if ahead > EXP_ABSURD_AHEAD.as_secs_f64() {
        let years = ahead / (365.25 * 24.0 * 3600.0);
        f.fail(
            "RFC7519-4.1.4",
            format!(
                "{what}: the access token's exp ({exp:.0}) lies {years:.0} years ahead while expires_in is {expires_in} s: exp is not in seconds (milliseconds?). RFC 7519 §4.1.4's NumericDate counts seconds since the epoch, so a resource server that checks exp accepts this token long after it expired: write exp in seconds"
            ),
        );
        return;
    }
    let allowed = EXP_SKEW.as_secs_f64() + EXP_SKEW_SHARE * expires_in;
    let off = (ahead - expires_in).abs();
    if off > allowed {
        f.warn(
            "RFC6749-5.1",
            format!(
                "{what}: the access token's exp lies {ahead:.0} s after the response but expires_in says {expires_in} s (off by {off:.0} s, more than the ±{allowed:.0} s allowed for clock skew): clients schedule refreshes by expires_in, resource servers expire the token by exp — make them agree (or check the server's clock)"
            ),
        );
    } else {
        f.pass(
            "RFC7519-4.1.4",
            format!(
                "{what}: the access token's exp ({ahead:.0} s after the response) agrees with expires_in ({expires_in} s)"
            ),
        );
    }
}

/// Seconds with millisecond precision, for messages.
pub fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// The resource's answer about a token: `Ok(true)` refused (a 4xx about the request's
/// credentials: 401, 403, 400...), `Ok(false)` accepted (2xx). Anything else says nothing about
/// the token — a 5xx, 429, 408, a 404 or 405 (the route), a redirect — and stops the check with
/// an ERROR: counted as a refusal, a server that fails would pass.
pub fn refused(r: &Resp, what: &str) -> Result<bool, Stop> {
    match r.status {
        200..=299 => Ok(false),
        400..=499 if !matches!(r.status, 404 | 405 | 408 | 429) => Ok(true),
        _ => Err(Stop::error(format!(
            "{what} got {}: neither accepted nor refused (a refusal is a 4xx about the credentials), so it says nothing about the token",
            r.brief()
        ))),
    }
}

/// The tokens of a refresh this check builds on — a premise that another check (`judged_by`)
/// judges. A documented refusal is the server's answer, not a failure of authbench: the check
/// cannot be judged (SKIP naming `judged_by`). A 5xx or an answer outside the refresh contract
/// (404, 429, a 2xx without tokens) means the check could not be run (ERROR).
pub fn premise(
    reply: RefreshReply,
    resp: &Resp,
    what: &str,
    judged_by: &str,
) -> Result<Tokens, Stop> {
    match reply {
        RefreshReply::Accepted(t) => Ok(t),
        RefreshReply::Rejected { .. } => Err(Stop::skip(format!(
            "not judged: {what} was refused ({}), so there is nothing to build on (see {judged_by})",
            resp.brief()
        ))),
        RefreshReply::ServerError | RefreshReply::Unexpected => Err(Stop::error(format!(
            "{what} got {}, outside the refresh contract: the check cannot go on",
            resp.brief()
        ))),
    }
}

/// The control of a "refused after X" verdict: a refresh token of the same kind, in the same
/// state, that did not go through X must refresh — without it, a server that refuses every
/// refresh (or every rotated token) would pass. This check's user `k` logs in, rotates
/// `rotations` times (0: the judged token is a login's; 1: a rotated successor...) and refreshes
/// once more. Success is recorded as an INFO assertion. A refusal makes the check SKIP: the
/// refusal after X proves nothing, and `judged_by` reports the broken refresh. Anything else is
/// an ERROR.
pub async fn control(
    p: &Probe,
    f: &mut Findings,
    k: u64,
    rotations: u32,
    judged_by: &str,
) -> Result<(), Stop> {
    let what = match rotations {
        0 => "a fresh login's refresh token".to_string(),
        1 => "a fresh session's refresh token after one rotation".to_string(),
        n => format!("a fresh session's refresh token after {n} rotations"),
    };
    let s = p.login(k).await?;
    let mut rt = s.rt()?;
    for n in 1..=rotations + 1 {
        let label = if n > rotations {
            format!("control: refresh with {what}")
        } else {
            format!("control: rotation #{n} of a fresh session")
        };
        let (reply, resp) = p.refresh_reply(&label, &rt).await?;
        let t = premise(reply, &resp, &format!("the control ({what})"), judged_by).map_err(|stop| match stop {
            Stop::Skip(_) => Stop::skip(format!(
                "not judged: the control was refused too — {what} got {} — so a refusal after the event proves nothing (see {judged_by})",
                resp.brief()
            )),
            other => other,
        })?;
        if n > rotations {
            f.info("", format!("control: {what} refreshes ({})", resp.status));
        } else if let Some(next) = t.refresh_token {
            rt = next;
        }
    }
    Ok(())
}

/// [`control`] for a check that may already hold a finding: the control's own assertions when it
/// held (for the caller to append after its verdict); a refused control is recorded in `f` (INFO)
/// and gives `None` when a FAIL or WARN already stands — that finding does not rest on the
/// control — else it stops the check (SKIP).
pub async fn control_unless_found(
    p: &Probe,
    f: &mut Findings,
    k: u64,
    rotations: u32,
    judged_by: &str,
) -> Result<Option<Findings>, Stop> {
    let mut notes = Findings::new();
    match control(p, &mut notes, k, rotations, judged_by).await {
        Ok(()) => Ok(Some(notes)),
        Err(Stop::Skip(why)) if f.has_findings() => {
            f.info("", why);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// What [`expiry_control`] found about the session behind a refused expired access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryControl {
    /// The session is live: the refusal was the token's expiry. The message is for an INFO.
    Live(String),
    /// The session ended too (its refresh was refused): the refusal may be the session's end,
    /// not the token's expiry. The message says what was seen.
    Ended(String),
}

/// The control of "refused after `exp`": the refusal is the expiry's only if the session behind
/// the token is still live — else a server that ends every session early (or stops accepting
/// anything) would pass as one that refuses expired tokens. With a refresh token the client
/// sees, the same session refreshes and the resource accepts the new access token; without one,
/// a fresh login (this check's user `k`) must still be accepted. A refused refresh is
/// [`ExpiryControl::Ended`] when a fresh session of user `k` does refresh; when it does not,
/// refresh is broken (RT-01 says so) and the fresh login's token is the control. A refused new
/// token means the resource refuses genuine tokens now (SKIP); an answer outside the refresh
/// contract is an ERROR.
pub async fn expiry_control(p: &Probe, s: &Session, k: u64) -> Result<ExpiryControl, Stop> {
    let rt = s
        .tokens
        .refresh_token
        .as_deref()
        .filter(|_| p.profile().has_refresh());
    let Some(rt) = rt else {
        return fresh_login_control(p, k).await.map(|seen| {
            ExpiryControl::Live(format!(
                "{seen} (no refresh token to keep the session with)"
            ))
        });
    };
    let (reply, resp) = p
        .refresh_reply("control: refresh the same session", rt)
        .await?;
    let tokens = match reply {
        RefreshReply::Rejected { .. } => {
            // Refused for a fresh session too, a refresh says nothing about this one's life:
            // only the resource's acceptance of a fresh token is left to control with.
            let fresh = p.login(k).await?;
            if let Some(fresh_rt) = fresh.tokens.refresh_token.as_deref() {
                let (fresh_reply, fresh_resp) = p
                    .refresh_reply("control: refresh a fresh session", fresh_rt)
                    .await?;
                if fresh_reply.rejected() {
                    let seen =
                        accepted_control(p, "a fresh login's access token", fresh.at()).await?;
                    return Ok(ExpiryControl::Live(format!(
                        "{seen}; refresh is refused for a fresh session too ({}), so it cannot tell whether this session lives (see RT-01)",
                        fresh_resp.brief()
                    )));
                }
            }
            return Ok(ExpiryControl::Ended(format!(
                "the session's refresh was refused ({}) while a fresh session's was not",
                resp.brief()
            )));
        }
        // Accepted; a 5xx or an answer outside the refresh contract is an ERROR.
        other => premise(other, &resp, "control: the session's refresh", "RT-01")?,
    };
    accepted_control(
        p,
        "the session's refreshed access token",
        &tokens.access_token,
    )
    .await
    .map(ExpiryControl::Live)
}

/// The control of a refusal at the resource: a token the server must accept (`what`: the genuine
/// token again, a fresh login's) is still accepted. Refused, it shows the resource refuses
/// genuine tokens now, so the refusal being judged proves nothing (SKIP); an answer that is
/// neither is an ERROR ([`refused`]). The INFO line for the check's findings.
pub async fn accepted_control(p: &Probe, what: &str, access_token: &str) -> Result<String, Stop> {
    let label = format!("control: {what}");
    let r = p.api(&label, access_token).await?;
    if refused(&r, &label)? {
        return Err(Stop::skip(format!(
            "not judged: {what} is refused too ({}), so the refusal proves nothing (see RT-01)",
            r.brief()
        )));
    }
    Ok(format!("control: {what} is accepted ({})", r.status))
}

/// The control of an acceptance at the resource: a made-up token must be refused, else the
/// resource takes any token (its verification is off, or the profile's resource is public) and
/// an acceptance says nothing about the token judged (SKIP, see RS-02). The INFO line for the
/// check's findings.
pub async fn refusing_control(p: &Probe) -> Result<String, Stop> {
    let label = "control: a made-up access token";
    let r = p.api(label, &unknown_token("control")).await?;
    if !refused(&r, label)? {
        return Err(Stop::skip(format!(
            "not judged: the resource accepts a made-up access token too ({}), so an acceptance proves nothing (see RS-02)",
            r.brief()
        )));
    }
    Ok(format!(
        "control: a made-up access token is refused ({})",
        r.status
    ))
}

/// [`accepted_control`] with the access token of a fresh login of this check's user `k`.
pub async fn fresh_login_control(p: &Probe, k: u64) -> Result<String, Stop> {
    let fresh = p.login(k).await?;
    accepted_control(p, "a fresh login's access token", fresh.at()).await
}

/// RFC 6750 §3: a refusal MUST carry a `WWW-Authenticate` challenge with the `Bearer` scheme.
/// Records a FAIL for a missing challenge (`missing` says where) or another scheme, and returns
/// the challenge for the check's own assertions.
pub fn bearer_challenge(
    f: &mut crate::checks::outcome::Findings,
    r: &Resp,
    missing: &str,
) -> Option<crate::checks::probe::Challenge> {
    let Some(c) = crate::checks::probe::challenge(r) else {
        f.fail("RFC6750-3", missing);
        return None;
    };
    f.expect(
        c.scheme.eq_ignore_ascii_case("bearer"),
        crate::checks::outcome::Status::Fail,
        "RFC6750-3",
        format!("challenge scheme {:?}", c.scheme),
    );
    Some(c)
}

/// Why `logout` cannot be tried with `tokens`, when the profile says so itself: its logout is an
/// RFC 7009 revocation of the access token (it posts the access token, not the refresh token, to
/// the revocation endpoint) and `token_types.revoke` declares that endpoint does not accept
/// access tokens — RFC 7009 §2.1 lets a server refuse a token type it does not revoke, with
/// `unsupported_token_type` (§2.2.1). `None`: nothing declared against it.
pub fn logout_refused_by_declaration(p: &Probe, tokens: &Tokens) -> Option<String> {
    use crate::profile::TokenKind;
    let profile = p.profile();
    if profile.revoke_accepts(TokenKind::Access) {
        return None;
    }
    let logout = profile.logout_request(tokens)?.ok()?;
    let revoke = profile
        .revoke_request("authbench-probe", TokenKind::Access)?
        .ok()?;
    let endpoint = |u: &http::Uri| {
        (
            u.scheme().cloned(),
            u.authority().cloned(),
            u.path().to_string(),
        )
    };
    if endpoint(logout.uri()) != endpoint(revoke.uri()) {
        return None;
    }
    let query = logout.uri().query().unwrap_or_default().as_bytes();
    let sent = [query, logout.body().as_ref()].concat();
    let carries = |t: &str| !t.is_empty() && sent.windows(t.len()).any(|w| w == t.as_bytes());
    let revokes_access = carries(tokens.access_token.as_str())
        && !tokens.refresh_token.as_deref().is_some_and(carries);
    revokes_access.then(|| {
        "the profile's logout revokes the access token at the revocation endpoint, and token_types.revoke declares that endpoint does not accept access tokens (RFC 7009 §2.1: a server may refuse a token type it does not revoke, with unsupported_token_type); make logout revoke the refresh token to judge this".to_string()
    })
}

/// Stops a check that judges the form of an answer when the answer says nothing about the
/// request — a 5xx, 429 or 408: the server failed or is busy (ERROR). Judged, such an answer was
/// a FAIL for its missing challenge (RS-01, RS-02) or its status (RV-02), blaming a failing
/// server for a rule it was never asked about.
pub fn answered(r: &Resp, what: &str) -> Result<(), Stop> {
    if r.status >= 500 || matches!(r.status, 408 | 429) {
        return Err(Stop::error(format!(
            "{what} got {}: the server failed or is busy, so the answer says nothing about the request",
            r.brief()
        )));
    }
    Ok(())
}

/// How long after a "refused after X" the same token is tried again: a refusal that does not
/// last (a denylist entry or a cache that forgets the revocation) must not pass.
pub const LASTING: Duration = Duration::from_secs(1);

/// Why a refusal of the refresh token of `tokens`, answered at `answered`, cannot be told from
/// its expiry: the token's announced end (`refresh_expires_in`, its JWT `exp`) had passed by then
/// (the server may have judged it after its end, however early the refresh was sent).
pub fn refresh_expired_before(tokens: &Tokens, answered: SystemTime) -> Option<String> {
    let end = tokens.refresh_expires_at?;
    let late = answered.duration_since(end).ok()?;
    Some(format!(
        "the refresh token's announced lifetime had ended {} before the refusal arrived, so it may be the expiry's",
        secs(late)
    ))
}

/// Waits until [`LASTING`] after `since`, when a refusal is tried again.
pub async fn until_lasting(since: std::time::Instant) {
    tokio::time::sleep_until((since + LASTING).into()).await;
}

/// Tries the refused refresh token `rt` again [`LASTING`] after `refused_at`: `Some(finding)` when
/// it refreshes now (the refusal lapsed), `None` when it is still refused (or the answer says
/// nothing: a 5xx is no acceptance).
pub async fn refresh_refusal_lapsed(
    p: &Probe,
    rt: &str,
    event: &str,
    refused_at: std::time::Instant,
) -> Result<Option<String>, Stop> {
    until_lasting(refused_at).await;
    let (reply, resp) = p
        .refresh_reply(&format!("refresh after {event}, once more"), rt)
        .await?;
    Ok(reply.accepted().then(|| {
        format!(
            "the refusal after {event} did not last: the same refresh token refreshed {} later ({})",
            secs(refused_at.elapsed()),
            resp.status
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::checks::probe::test_resp as resp;

    #[test]
    fn only_a_refusal_of_the_token_itself_is_the_servers_verdict() {
        let token = |s, b| refuses_the_token(&resp(s, None, b));
        assert_eq!(
            token(400, r#"{"error":"unsupported_token_type"}"#).as_deref(),
            Some("unsupported_token_type")
        );
        assert_eq!(
            token(400, r#"{"error":"invalid_grant"}"#).as_deref(),
            Some("invalid_grant")
        );
        let challenged = resp(401, Some(r#"Bearer realm="x", error="invalid_token""#), "");
        assert_eq!(
            refuses_the_token(&challenged).as_deref(),
            Some("invalid_token")
        );
        // The caller, the request or the route: the profile's business.
        assert_eq!(token(401, r#"{"error":"invalid_client"}"#), None);
        assert_eq!(token(400, r#"{"error":"invalid_request"}"#), None);
        assert_eq!(token(404, "not found"), None);
        assert_eq!(token(500, r#"{"error":"invalid_grant"}"#), None);
    }

    #[test]
    fn exp_is_compared_with_expires_in() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let now = SystemTime::now();
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let judge = |exp: String, expires_in: &str| {
            let token = format!(
                "{}.{}.sig",
                b64(r#"{"alg":"RS256"}"#),
                b64(&format!(r#"{{"sub":"u","exp":{exp}}}"#))
            );
            let body = format!(r#"{{"access_token":"x","expires_in":{expires_in}}}"#);
            let mut f = Findings::new();
            exp_agrees_with_expires_in(&mut f, "login", &resp(200, None, &body), &token, now);
            f.assertions().to_vec()
        };
        let one = |a: Vec<crate::checks::outcome::Assertion>| {
            assert_eq!(a.len(), 1, "{a:?}");
            (a[0].status, a[0].message.clone())
        };
        // In agreement, within the skew (60 s + 10 %).
        let (st, _) = one(judge((secs + 300).to_string(), "300"));
        assert_eq!(st, crate::checks::outcome::Status::Pass);
        let (st, _) = one(judge((secs + 2 + 50).to_string(), "2"));
        assert_eq!(st, crate::checks::outcome::Status::Pass);
        // Milliseconds: FAIL, named.
        let (st, msg) = one(judge(((secs + 2) * 1000).to_string(), "2"));
        assert_eq!(st, crate::checks::outcome::Status::Fail);
        assert!(msg.contains("not in seconds (milliseconds?)"), "{msg}");
        // An hour where 2 s are announced: WARN.
        let (st, msg) = one(judge((secs + 3600).to_string(), "2"));
        assert_eq!(st, crate::checks::outcome::Status::Warn);
        assert!(msg.contains("expires_in says 2 s"), "{msg}");
        // Opaque token, or no expires_in: nothing judged.
        let mut f = Findings::new();
        exp_agrees_with_expires_in(
            &mut f,
            "login",
            &resp(200, None, r#"{"expires_in":2}"#),
            "opaque",
            now,
        );
        assert!(f.assertions().is_empty());
        assert!(judge((secs + 2).to_string(), "null").is_empty());
    }

    #[test]
    fn only_a_4xx_about_the_credentials_is_a_refusal() {
        let verdict = |s| refused(&resp(s, None, ""), "the call");
        assert_eq!(verdict(200).ok(), Some(false));
        for s in [400, 401, 403] {
            assert_eq!(verdict(s).ok(), Some(true), "{s}");
        }
        for s in [302, 404, 405, 408, 429, 500, 502, 503] {
            match verdict(s) {
                Err(Stop::Error(why)) => assert!(why.contains(&s.to_string()), "{why}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }
}
