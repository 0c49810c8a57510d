//! JW-06: an access token is refused once its `exp` has passed (waits for the real expiry of a
//! short-lived token; SKIP when the token lives too long to wait for). A refusal counts only when
//! the session behind the token is still live ([`expiry_control`]): a server that ends its
//! sessions before their tokens expire gets a second session, then no verdict.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "JW-06",
        title: "Expired access tokens are refused",
        summary: "Wait until the access token's exp has passed, then use it: refused (one retry 1.5 s later allows for a small leeway). Control: the same session still refreshes and its new token is accepted (without a refresh token: a fresh login is), so a session that ended early cannot pass for an expiry.",
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

/// One session waits out its access token. `Some(why)` when the token was refused but its session
/// had ended too (no verdict); `None` when `f` holds the verdict.
async fn attempt(p: &Probe, f: &mut Findings, k: u64) -> Result<Option<String>, Stop> {
    let s = p.login(k).await?;
    let exp = short_expiry(&s.tokens)?;
    genuine_works(p, s.at()).await?;
    sleep_until(exp + Duration::from_millis(300)).await;
    const JUST_AFTER: &str = "resource call just after exp";
    let r = p.api(JUST_AFTER, s.at()).await?;
    let message = if !refused(&r, JUST_AFTER)? {
        sleep_until(exp + Duration::from_millis(1800)).await;
        const LATE: &str = "resource call 1.8 s after exp";
        let late = p.api(LATE, s.at()).await?;
        if !refused(&late, LATE)? {
            f.fail(
                "RFC7519-4.1.4",
                format!(
                    "the expired access token is still ACCEPTED 1.8 s after exp ({})",
                    late.status
                ),
            );
            return Ok(None);
        }
        format!(
            "refused 1.8 s after exp ({}); accepted just after it (a leeway)",
            late.status
        )
    } else {
        format!("refused just after exp ({})", r.status)
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
