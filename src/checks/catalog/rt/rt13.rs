//! RT-13: an idle session ends after its announced idle timeout, not before, and activity extends
//! it (RFC 9700 §4.14.2: refresh tokens SHOULD expire when the client has been inactive for some
//! time; ASVS 5.0 7.3.1: an inactivity timeout enforces re-authentication).
//!
//! The idle timeout is what the server announces: the login's `refresh_expires_in` (or a JWT
//! refresh token's `exp`) — nothing about the server's configuration is assumed. Session A:
//!
//! 1. refreshes at [`STEP`] (60%) of the announced timeout — refused, the session ended early;
//!    the refresh must announce a *later* end than the login did, else the end is an absolute
//!    lifetime, not an idle timeout (SKIP: RT-10 judges that);
//! 2. refreshes at 60% of what that refresh announced — by then longer after the login than the
//!    login's announced timeout: refused, activity did not extend the session;
//! 3. is left alone for the announced timeout plus [`ROUNDING`] (whole seconds are announced) and
//!    refreshes once more: accepted, idleness never ended the session.
//!
//! Session B, logged in at the same time, is kept active all along and must still refresh after
//! step 3's refusal: otherwise the end is not about idleness (a server that ends every session
//! after a few seconds would pass) and the check is not judged (SKIP). An early refusal in steps
//! 1–2 is a finding only once a control ([`control`]) shows the server refreshes at all.
//!
//! Whole-second announcements bound the precision: a server passes when its idle sessions end
//! between 60% of the announced timeout and [`ROUNDING`] after it.

use tokio::sync::oneshot;

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-13",
        title: "An idle session ends after its announced idle timeout, not before, and activity extends it",
        summary: "Refresh at 60% of the idle timeout announced in refresh_expires_in (accepted, announcing a later end), again past the login's idle end (accepted: activity extends the session), then leave the session unused past its announced timeout: that refresh is rejected while a session kept active still refreshes. Needs an idle timeout of a few seconds.",
        requirements: &["RFC9700-4.14.2", "ASVS5-7.3.1"],
        level: Level::Should,
        destructive: false,
        needs: &[Need::RefreshTokenValue, Need::ShortIdleTimeout],
    },
    run: |p| Box::pin(run(p)),
};

/// The longest announced idle timeout this check waits out.
pub const MAX_IDLE_WAITED: Duration = Duration::from_secs(5);
/// Activity comes at this share of the announced idle timeout.
pub const STEP: f64 = 0.6;
/// Slack after the announced idle end before the idle session must be refused: the timeout is
/// announced in whole seconds (rounded either way), plus a request's time.
pub const ROUNDING: Duration = Duration::from_millis(1200);

async fn run(p: Arc<Probe>) -> Verdict {
    let a = p.login(0).await?;
    let rt_a = a.rt()?;
    let timeout = announced_lifetime(&a.resp, &rt_a).ok_or_else(|| {
        Stop::skip(
            "the login response announces no idle timeout (no refresh_expires_in, opaque refresh token)",
        )
    })?;
    if timeout > MAX_IDLE_WAITED {
        return Err(Stop::skip(format!(
            "{} (the login announces {}; at most {}s is waited for)",
            Need::ShortIdleTimeout.reason(),
            secs(timeout),
            MAX_IDLE_WAITED.as_secs()
        )));
    }
    let b = p.login(1).await?;
    let rt_b = b.rt()?;
    let every_b = announced_lifetime(&b.resp, &rt_b).unwrap_or(timeout);
    let (stop, stopped) = oneshot::channel::<()>();
    let idle = async {
        let result = idle_session(&p, &a, rt_a, timeout).await;
        drop(stop);
        result
    };
    let (idle, kept) = tokio::join!(idle, keep_active(&p, rt_b, every_b, stopped));
    let mut f = match idle? {
        Idle::Judged(f) => return Ok(f),
        Idle::Ended(f) => f,
    };
    match kept? {
        Kept::Alive(brief) => {
            f.info(
                "",
                format!(
                    "control: a session of the same age, kept active, still refreshes ({brief})"
                ),
            );
            Ok(f)
        }
        Kept::Refused(brief) => Err(Stop::skip(format!(
            "not judged: a session of the same age kept active all along was refused too ({brief}), so the end is not the idle timeout (a maximum lifetime? see RT-10)"
        ))),
    }
}

/// What session A showed.
enum Idle {
    /// A finding (or a premise problem recorded) that needs no control session.
    Judged(Findings),
    /// It ended when idle: a PASS once session B shows active sessions of its age live on.
    Ended(Findings),
}

/// Steps 1–3 on session A (see the module docs).
async fn idle_session(
    p: &Probe,
    a: &Session,
    mut rt: String,
    timeout: Duration,
) -> Result<Idle, Stop> {
    let mut f = Findings::new();
    f.info(
        "",
        format!("the login announces a session end {} away", secs(timeout)),
    );
    // Step 1: activity before the announced idle end.
    let (at1, resp, t) = refresh_at(
        p,
        "refresh at 60% of the announced idle timeout",
        &rt,
        a.at,
        timeout,
    )
    .await?;
    let t = match t {
        Ok(t) => t,
        Err(()) => {
            control(p, &mut f, 2, 0, "RT-01").await?;
            f.warn(
                "RFC9700-4.14.2",
                format!(
                    "the session ENDED EARLY: a refresh {} after login, {} before the idle end the login announced ({}), was refused ({}): sessions end sooner than the server says",
                    secs(at1 - a.at),
                    secs((a.at + timeout).saturating_duration_since(at1)),
                    secs(timeout),
                    resp.brief()
                ),
            );
            return Ok(Idle::Judged(f));
        }
    };
    if let Some(next) = t.refresh_token {
        rt = next;
    }
    let after1 = announced_lifetime(&resp, &rt).unwrap_or(Duration::ZERO);
    let since_login = at1 - a.at;
    // An idle timeout restarts: what is left after the refresh is back near the full timeout.
    // An absolute end keeps counting down: what is left shrank by the time since the login.
    if after1 + since_login.mul_f64(0.5) < timeout {
        return Err(Stop::skip(format!(
            "{}: a refresh {} after login announced {} left, the end the login announced ({}) did not move, so it is an absolute lifetime, not an idle timeout (RT-10 judges that)",
            Need::ShortIdleTimeout.reason(),
            secs(since_login),
            secs(after1),
            secs(timeout)
        )));
    }
    // Step 2: activity past the login's idle end, before the one the refresh announced.
    let (at2, resp, t) = refresh_at(
        p,
        "refresh past the idle end the login announced",
        &rt,
        at1,
        after1,
    )
    .await?;
    let t = match t {
        Ok(t) => t,
        Err(()) => {
            control(p, &mut f, 2, 1, "RT-06").await?;
            f.warn(
                "RFC9700-4.14.2",
                format!(
                    "activity did NOT EXTEND the session: a refresh {} after the previous one, which announced {} left, was refused ({}), {} after login — the login's idle end still holds",
                    secs(at2 - at1),
                    secs(after1),
                    resp.brief(),
                    secs(at2 - a.at)
                ),
            );
            return Ok(Idle::Judged(f));
        }
    };
    f.pass(
        "RFC9700-4.14.2",
        format!(
            "activity extends the session: refreshes {} and {} after login were accepted, past the idle end the login announced ({})",
            secs(since_login),
            secs(at2 - a.at),
            secs(timeout)
        ),
    );
    if let Some(next) = t.refresh_token {
        rt = next;
    }
    let after2 = announced_lifetime(&resp, &rt).unwrap_or(after1);
    // Step 3: left alone past the announced idle end.
    tokio::time::sleep_until((at2 + after2 + ROUNDING).into()).await;
    let (reply, resp) = p
        .refresh_reply(
            "refresh after the session was left idle past its announced end",
            &rt,
        )
        .await?;
    let idle_for = at2.elapsed();
    match reply {
        RefreshReply::Rejected { .. } => {
            f.pass(
                "ASVS5-7.3.1",
                format!(
                    "the session left idle for {} (its last refresh announced {}) ended: {}",
                    secs(idle_for),
                    secs(after2),
                    resp.brief()
                ),
            );
            Ok(Idle::Ended(f))
        }
        RefreshReply::Accepted(_) => {
            f.warn(
                "RFC9700-4.14.2",
                format!(
                    "the idle session did NOT END: its refresh token still refreshes after {} without use, although its last refresh announced {}",
                    secs(idle_for),
                    secs(after2)
                ),
            );
            Ok(Idle::Judged(f))
        }
        RefreshReply::ServerError | RefreshReply::Unexpected => Err(Stop::error(format!(
            "the refresh after the idle period got {}, outside the refresh contract",
            resp.brief()
        ))),
    }
}

/// Sleeps until [`STEP`] of `lifetime` after `since`, then refreshes `rt`: the instant the answer
/// came, the answer, and the new tokens or `Err(())` for a refusal (anything outside the refresh
/// contract stops the check with an ERROR).
async fn refresh_at(
    p: &Probe,
    label: &str,
    rt: &str,
    since: Instant,
    lifetime: Duration,
) -> Result<(Instant, Resp, Result<Tokens, ()>), Stop> {
    tokio::time::sleep_until((since + lifetime.mul_f64(STEP)).into()).await;
    let (reply, resp) = p.refresh_reply(label, rt).await?;
    let at = Instant::now();
    match reply {
        RefreshReply::Accepted(t) => Ok((at, resp, Ok(t))),
        RefreshReply::Rejected { .. } => Ok((at, resp, Err(()))),
        RefreshReply::ServerError | RefreshReply::Unexpected => Err(Stop::error(format!(
            "{label} got {}, outside the refresh contract",
            resp.brief()
        ))),
    }
}

/// What became of session B.
enum Kept {
    /// It refreshed once more after session A's idle end (the status).
    Alive(String),
    /// A refresh of it was refused (the answer).
    Refused(String),
}

/// Session B: refreshed at [`STEP`] of every announced lifetime until `stop` (sent, or dropped)
/// and once more then.
async fn keep_active(
    p: &Probe,
    mut rt: String,
    mut lifetime: Duration,
    mut stop: oneshot::Receiver<()>,
) -> Result<Kept, Stop> {
    let mut n = 0u32;
    loop {
        let stopped = tokio::select! {
            _ = &mut stop => true,
            _ = tokio::time::sleep(lifetime.mul_f64(STEP)) => false,
        };
        n += 1;
        let label = if stopped {
            "control: refresh of the session kept active, after the idle one ended".to_string()
        } else {
            format!("control: refresh #{n} of a session kept active")
        };
        let (reply, resp) = p.refresh_reply(&label, &rt).await?;
        match reply {
            RefreshReply::Accepted(t) => {
                if let Some(next) = t.refresh_token {
                    rt = next;
                }
                if let Some(left) = announced_lifetime(&resp, &rt) {
                    lifetime = left;
                }
                if stopped {
                    return Ok(Kept::Alive(resp.status.to_string()));
                }
            }
            RefreshReply::Rejected { .. } => return Ok(Kept::Refused(resp.brief())),
            RefreshReply::ServerError | RefreshReply::Unexpected => {
                return Err(Stop::error(format!(
                    "{label} got {}, outside the refresh contract",
                    resp.brief()
                )));
            }
        }
    }
}
