//! JW-06: an access token is refused once its `exp` has passed (waits for the real expiry of a
//! short-lived token; SKIP when the token lives too long to wait for). A refusal counts only when
//! the session behind the token is still live ([`expiry_control`]): a server that ends its
//! sessions before their tokens expire gets a second session, then no verdict.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-06",
        title: "Expired access tokens are refused",
        summary: "Wait until the access token's exp (plus the profile's declared expiry_leeway) has passed, then use it: refused (one retry 1.5 s later allows for a small leeway; a refusal answered later than that is no verdict). Control: the same session still refreshes and its new token is accepted (without a refresh token: a fresh login is), so a session that ended early cannot pass for an expiry.",
        requirements: &["RFC7519-4.1.4", "RFC9068-4"],
        level: Level::Must,
        destructive: false,
        needs: &[Need::ShortAccessTokens],
    },
    run: |p| Box::pin(run(p)),
};

/// This check's users: the sessions of the two attempts, and the fresh login of the control.
const ATTEMPT_USERS: [u64; 2] = [0, 2];
const CONTROL_USER: u64 = 1;

async fn run(p: Arc<Probe>) -> Verdict {
    let mut f = Findings::new();
    for (n, &k) in ATTEMPT_USERS.iter().enumerate() {
        match attempt(&p, &mut f, k).await? {
            Some(ended) if n + 1 < ATTEMPT_USERS.len() => f.info(
                "",
                format!("{ended}; the refusal may be the session's end, so a new session is tried"),
            ),
            Some(ended) => {
                return Err(Stop::skip(format!(
                    "not judged: twice the session ended by the time its access token expired ({ended}), so a refusal then is not necessarily the expiry's (see RT-10 on the session's lifetime)"
                )));
            }
            None => return Ok(f),
        }
    }
    Ok(f)
}

/// The longest leeway after `exp` the check tolerates: its retry goes out this long after `exp`.
const LEEWAY: Duration = Duration::from_millis(1800);
/// How much later than planned a refusal may be answered and still bound the leeway.
const LATE_SEND: Duration = Duration::from_millis(500);

/// A refusal answered `answered` after `exp` (the server judged the token before that): beyond
/// the leeway (plus slack) it cannot tell a server with a longer leeway from one with none — no
/// verdict.
fn timed(answered: Duration, what: &str, since: &str) -> Result<(), Stop> {
    if answered > LEEWAY + LATE_SEND {
        return Err(Stop::error(format!(
            "{what} was answered {} after {since}, later than the {} leeway the check allows (a stalled client, a slow answer): its refusal cannot tell a longer leeway from none",
            secs(answered),
            secs(LEEWAY)
        )));
    }
    Ok(())
}

/// One session waits out its access token. An acceptance is timed by when the call went out
/// (the server saw the token no earlier), a refusal by when it was answered (no later). `Some(why)` when the token was refused but its session
/// had ended too (no verdict); `None` when `f` holds the verdict.
async fn attempt(p: &Probe, f: &mut Findings, k: u64) -> Result<Option<String>, Stop> {
    let s = p.login(k).await?;
    // Timed from the end of the server's declared leeway (`expiry_leeway`), else from `exp`.
    let leeway = waitable_leeway(p)?;
    let exp = short_expiry(&s.tokens)? + leeway;
    let since = past_exp(leeway);
    genuine_works(p, s.at()).await?;
    sleep_until(exp + Duration::from_millis(300)).await;
    const JUST_AFTER: &str = "resource call just after exp";
    let first = elapsed_since(exp);
    let r = p.api(JUST_AFTER, s.at()).await?;
    let first_answered = elapsed_since(exp);
    let message = if !refused(&r, JUST_AFTER)? {
        sleep_until(exp + LEEWAY).await;
        const RETRY: &str = "resource call 1.8 s after exp";
        let second = elapsed_since(exp);
        let retry = p.api(RETRY, s.at()).await?;
        let second_answered = elapsed_since(exp);
        if !refused(&retry, RETRY)? {
            f.fail(
                "RFC7519-4.1.4",
                format!(
                    "the expired access token is still ACCEPTED {} after {since} ({}){}",
                    secs(second),
                    retry.status,
                    if leeway.is_zero() {
                        "; if the server allows a leeway for clock skew (RFC 7519 §4.1.4 allows a small one), declare it in the profile, e.g. `expiry_leeway: 60s`"
                    } else {
                        ""
                    }
                ),
            );
            return Ok(None);
        }
        timed(second_answered, "the retry", &since)?;
        format!(
            "refused within {} after {since} ({}); accepted {} after it (a leeway)",
            secs(second_answered),
            retry.status,
            secs(first)
        )
    } else {
        timed(first_answered, "the first call after exp", &since)?;
        format!(
            "refused within {} after {since} ({})",
            secs(first_answered),
            r.status
        )
    };
    match expiry_control(p, &s, CONTROL_USER).await? {
        ExpiryControl::Live(control) => {
            f.pass("RFC7519-4.1.4", message);
            f.info("", control);
            Ok(None)
        }
        ExpiryControl::Ended(why) => Ok(Some(format!("{message}, but {why}"))),
    }
}
