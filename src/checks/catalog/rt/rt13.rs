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
//! 2. refreshes as soon as it is past the login's idle end for sure (and before the end step 1
//!    announced) — refused, activity did not extend the session;
//! 3. is left alone for the announced timeout plus [`ROUNDING`] (whole seconds are announced) and
//!    refreshes once more: accepted, idleness never ended the session.
//!
//! Every instant is bounded by what the client knows: the server started a clock somewhere
//! between a request's send and its answer. A probe that must find the session alive is sent
//! early enough before the earliest end the server announced ([`SEND_MARGIN`]); one that proves
//! something by coming late is sent after the latest instant it has to pass ([`slot`]). Step 1
//! always reaches the server after half the announced timeout, so a server that ends sessions at
//! half of it is caught however slow its answers. When the answers are too slow to leave such a
//! window, session A logs in again (at most [`LOGIN_ATTEMPTS`] times) or the check is an ERROR,
//! never a verdict.
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
/// Activity comes at this share of the announced idle timeout, counted from the request that got
/// the announcement (the earliest the server can have started its clock).
pub const STEP: f64 = 0.6;
/// The control session B is refreshed at this share of its announced lifetime, counted the same
/// way.
const KEEP_ALIVE: f64 = 0.3;
/// Slack after the announced idle end before the idle session must be refused: the timeout is
/// announced in whole seconds (rounded either way), plus a request's time.
pub const ROUNDING: Duration = Duration::from_millis(1200);
/// Kept free before an end the server must still honour: a request's way to the server.
const SEND_MARGIN: Duration = Duration::from_millis(250);
/// A probe meant to reach the server after an instant is sent this long after it.
const AFTER: Duration = Duration::from_millis(50);
/// Logins of session A until one answers fast enough to time step 1 (see [`slot`]).
const LOGIN_ATTEMPTS: u32 = 3;

/// One exchange's instants: the server handled it in between.
#[derive(Clone, Copy)]
struct Span {
    sent: Instant,
    answered: Instant,
}

/// When to send a probe that must reach the server after `earliest` for sure and before
/// `latest` (an end the server must still honour): at `preferred`, moved into that window;
/// `None` when the window is empty — the answers came too slowly to time the probe.
fn slot(earliest: Instant, preferred: Instant, latest: Instant) -> Option<Instant> {
    let t = preferred.max(earliest);
    (t + SEND_MARGIN <= latest).then_some(t)
}

/// Step 1's slot for a login `login` that announced `timeout`: past half the timeout for sure
/// (a session that ends that early is caught however slow the answers are), before its end.
fn first_slot(login: Span, timeout: Duration) -> Option<Instant> {
    slot(
        login.answered + timeout / 2 + AFTER,
        login.sent + timeout.mul_f64(STEP),
        login.sent + timeout,
    )
}

async fn run(p: Arc<Probe>) -> Verdict {
    // B first: the first exchange of a check is the slowest, and A's timing matters.
    let b_sent = Instant::now();
    let b = p.login(1).await?;
    let rt_b = b.rt()?;
    let (a, login, timeout, t1) = login_a(&p).await?;
    let rt_a = a.rt()?;
    let every_b = announced_lifetime(&b.resp, &rt_b).unwrap_or(timeout);
    let (stop, stopped) = oneshot::channel::<()>();
    let idle = async {
        let result = idle_session(&p, login, rt_a, timeout, t1).await;
        drop(stop);
        result
    };
    let (idle, kept) = tokio::join!(idle, keep_active(&p, rt_b, every_b, b_sent, stopped));
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

/// Logs in session A (again, up to [`LOGIN_ATTEMPTS`] times, while the answer is too slow to time
/// step 1): the session, its login's span, the announced idle timeout and step 1's slot.
async fn login_a(p: &Probe) -> Result<(Session, Span, Duration, Instant), Stop> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = Instant::now();
        let a = p.login(0).await?;
        let login = Span {
            sent,
            answered: a.at,
        };
        let timeout = announced_lifetime(&a.resp, &a.rt()?).ok_or_else(|| {
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
        if let Some(t1) = first_slot(login, timeout) {
            return Ok((a, login, timeout, t1));
        }
        if attempt == LOGIN_ATTEMPTS {
            return Err(too_slow(&format!(
                "{LOGIN_ATTEMPTS} logins took up to {} each",
                secs(a.at - sent)
            )));
        }
    }
}

/// The answers came too slowly to place a probe between the instants that decide it.
fn too_slow(what: &str) -> Stop {
    Stop::error(format!(
        "the server answered too slowly to time the idle timeout ({what}); run the check again on a less loaded target"
    ))
}

/// What session A showed.
enum Idle {
    /// A finding (or a premise problem recorded) that needs no control session.
    Judged(Findings),
    /// It ended when idle: a PASS once session B shows active sessions of its age live on.
    Ended(Findings),
}

/// Steps 1–3 on session A (see the module docs); step 1 is sent at `t1`.
async fn idle_session(
    p: &Probe,
    login: Span,
    mut rt: String,
    timeout: Duration,
    t1: Instant,
) -> Result<Idle, Stop> {
    let mut f = Findings::new();
    f.info(
        "",
        format!("the login announces a session end {} away", secs(timeout)),
    );
    // Step 1: activity before the announced idle end.
    let (one, resp, t) =
        refresh_at(p, "refresh at 60% of the announced idle timeout", &rt, t1).await?;
    let since_login = one.answered - login.answered;
    let t = match t {
        Ok(t) => t,
        Err(()) if one.answered < login.sent + timeout => {
            control(p, &mut f, 2, 0, "RT-01").await?;
            f.warn(
                "RFC9700-4.14.2",
                format!(
                    "the session ENDED EARLY: a refresh answered {} after login, {} before the idle end the login announced ({}), was refused ({}): sessions end sooner than the server says",
                    secs(since_login),
                    secs((login.sent + timeout).saturating_duration_since(one.answered)),
                    secs(timeout),
                    resp.brief()
                ),
            );
            return Ok(Idle::Judged(f));
        }
        Err(()) => {
            return Err(too_slow(&format!(
                "a refresh sent before the announced idle end was refused, answered only after it ({})",
                resp.brief()
            )));
        }
    };
    if let Some(next) = t.refresh_token {
        rt = next;
    }
    let after1 = announced_lifetime(&resp, &rt).unwrap_or(Duration::ZERO);
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
    // Step 2: activity as soon as it is past the login's idle end for sure, before the end
    // step 1 announced.
    let extended_end = one.sent + after1;
    let past_login_end = login.answered + timeout + AFTER;
    let t2 = slot(past_login_end, past_login_end, extended_end).ok_or_else(|| {
        too_slow("no instant is past the login's idle end and before the extended one")
    })?;
    let (two, resp, t) =
        refresh_at(p, "refresh past the idle end the login announced", &rt, t2).await?;
    let t = match t {
        Ok(t) => t,
        Err(()) if two.answered < extended_end => {
            control(p, &mut f, 2, 1, "RT-06").await?;
            f.warn(
                "RFC9700-4.14.2",
                format!(
                    "activity did NOT EXTEND the session: a refresh {} after the previous one, which announced {} left, was refused ({}), {} after login — the login's idle end still holds",
                    secs(two.answered - one.answered),
                    secs(after1),
                    resp.brief(),
                    secs(two.answered - login.answered)
                ),
            );
            return Ok(Idle::Judged(f));
        }
        Err(()) => {
            return Err(too_slow(&format!(
                "a refresh sent before the extended idle end was refused, answered only after it ({})",
                resp.brief()
            )));
        }
    };
    f.pass(
        "RFC9700-4.14.2",
        format!(
            "activity extends the session: refreshes {} and {} after login were accepted, past the idle end the login announced ({})",
            secs(since_login),
            secs(two.answered - login.answered),
            secs(timeout)
        ),
    );
    if let Some(next) = t.refresh_token {
        rt = next;
    }
    let after2 = announced_lifetime(&resp, &rt).unwrap_or(after1);
    // Step 3: left alone past the announced idle end (counted from the answer: the latest the
    // server can have started its clock).
    tokio::time::sleep_until((two.answered + after2 + ROUNDING).into()).await;
    let (reply, resp) = p
        .refresh_reply(
            "refresh after the session was left idle past its announced end",
            &rt,
        )
        .await?;
    let idle_for = two.answered.elapsed();
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

/// Sleeps until `at`, then refreshes `rt`: the exchange's span, the answer, and the new tokens or
/// `Err(())` for a refusal (anything outside the refresh contract stops the check with an ERROR).
async fn refresh_at(
    p: &Probe,
    label: &str,
    rt: &str,
    at: Instant,
) -> Result<(Span, Resp, Result<Tokens, ()>), Stop> {
    tokio::time::sleep_until(at.into()).await;
    let sent = Instant::now();
    let (reply, resp) = p.refresh_reply(label, rt).await?;
    let span = Span {
        sent,
        answered: Instant::now(),
    };
    match reply {
        RefreshReply::Accepted(t) => Ok((span, resp, Ok(t))),
        RefreshReply::Rejected { .. } => Ok((span, resp, Err(()))),
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

/// Session B, whose login was sent at `sent`: refreshed at [`KEEP_ALIVE`] of every announced
/// lifetime until `stop` (sent, or dropped) and once more then.
async fn keep_active(
    p: &Probe,
    mut rt: String,
    mut lifetime: Duration,
    mut sent: Instant,
    mut stop: oneshot::Receiver<()>,
) -> Result<Kept, Stop> {
    let mut n = 0u32;
    loop {
        let next = sent + lifetime.mul_f64(KEEP_ALIVE);
        let stopped = tokio::select! {
            _ = &mut stop => true,
            _ = tokio::time::sleep_until(next.into()) => false,
        };
        sent = Instant::now();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_lands_in_its_window_or_nowhere() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // The preferred instant when it is inside the window.
        assert_eq!(slot(ms(100), ms(500), ms(1000)), Some(ms(500)));
        // Moved up to the earliest instant it must pass.
        assert_eq!(slot(ms(600), ms(500), ms(1000)), Some(ms(600)));
        // Too close to the end the server must honour: no slot.
        assert_eq!(slot(ms(800), ms(500), ms(1000)), None);
    }

    #[test]
    fn step_one_comes_after_half_the_timeout_however_slow_the_login() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(2);
        let fast = Span {
            sent: t0,
            answered: t0 + Duration::from_millis(20),
        };
        // 60% of the timeout from the send.
        assert_eq!(
            first_slot(fast, timeout),
            Some(t0 + Duration::from_millis(1200))
        );
        let slow = Span {
            sent: t0,
            answered: t0 + Duration::from_millis(400),
        };
        // Past half the timeout from the answer.
        assert_eq!(
            first_slot(slow, timeout),
            Some(t0 + Duration::from_millis(1450))
        );
        let too_slow = Span {
            sent: t0,
            answered: t0 + Duration::from_millis(800),
        };
        assert_eq!(first_slot(too_slow, timeout), None);
    }
}
