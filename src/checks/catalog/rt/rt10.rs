//! RT-10: rotation never extends the absolute session lifetime.
//!
//! The session's end is read from the login response (`refresh_expires_in`, or the `exp` of a JWT
//! refresh token). The check rotates every quarter of that lifetime, watches what each rotation
//! announces, and refreshes once more just after the original end: that must be rejected. A
//! session refused more than [`EARLY_SLACK`] before its announced end ended early: not a PASS but
//! its own finding (WARN), once a control (the same kind of token of another session refreshes)
//! shows the server refreshes at all. A refusal near the end counts as on time only when the last
//! accepted rotation came one step before it: after a longer gap (a stalled client, slow
//! answers) the end is not known (ERROR), never a PASS. The refusal after the end is judged
//! against a twin ([`Twin`]): another user's session logged in with the last rotation, so its
//! refresh token is as old as the judged one while its session is not at its end. Refused too,
//! the refusal may be the token's age (an idle timeout the server does not announce), not the
//! session's end: not judged (SKIP). It needs a target whose sessions end within a few seconds
//! (SKIP otherwise).

use crate::checks::catalog::prelude::*;
use crate::checks::catalog::twin::Twin;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-10",
        title: "Rotation does not extend the maximum session lifetime",
        summary: "Rotate repeatedly until past the session end announced at login (refresh_expires_in): each rotation keeps that end, and a refresh after it is rejected. A session that ends before its announced end is a WARN too (ended early). A refusal after the end counts only while a twin (another user's session logged in with the last rotation) still refreshes next to it. Needs sessions of a few seconds.",
        requirements: &["ASVS5-10.4.8", "RFC9700-4.14.2"],
        level: Level::Should,
        destructive: false,
        needs: &[Need::RefreshTokenValue, Need::ShortSessions],
    },
    run: |p| Box::pin(run(p)),
};

/// The longest announced session this check waits out.
pub const MAX_SESSION_WAITED: Duration = Duration::from_secs(6);
/// Slack for whole-second rounding of the announced lifetime and for clock granularity.
const ROUNDING: Duration = Duration::from_millis(1300);
/// A session refused closer than this to its announced end ended on time: the lifetime is
/// announced in whole seconds (rounded either way), plus a request's time.
pub const EARLY_SLACK: Duration = Duration::from_millis(1100);
/// How far a refused rotation may come after the last accepted one beyond the rotation step
/// (request time, scheduling) for the end to count as timed; later, the end is not known.
const LATE: Duration = Duration::from_millis(500);

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    let mut rt = s.rt()?;
    let lifetime = announced_lifetime(&s.resp, &rt).ok_or_else(|| {
        Stop::skip(
            "the login response does not announce the refresh token's lifetime (no refresh_expires_in, opaque refresh token)",
        )
    })?;
    if lifetime > MAX_SESSION_WAITED {
        return Err(Stop::skip(format!(
            "{} (it lasts {}; at most {}s is waited for)",
            Need::ShortSessions.reason(),
            secs(lifetime),
            MAX_SESSION_WAITED.as_secs()
        )));
    }
    let end = s.at + lifetime;
    let mut f = Findings::new();
    f.info(
        "",
        format!(
            "the login announces a session lifetime of {}",
            secs(lifetime)
        ),
    );
    let step = (lifetime / 4).max(Duration::from_millis(200));
    let mut extended: Option<Duration> = None;
    let mut n: u32 = 0;
    // The last instant the session is known to have been alive: the login, then the sending of
    // each accepted rotation.
    let mut alive = s.at;
    // A twin logged in with each rotation: the one of the last rotation holds a refresh token as
    // old as the judged one, of a session whose own end is still ahead at the judged refresh.
    let mut twin = None;
    // Rotate every `step` while the session is announced to be alive.
    while Instant::now() + step < end {
        tokio::time::sleep(step).await;
        n += 1;
        let sent = Instant::now();
        let label = format!("rotation #{n}");
        let ((reply, resp), rotated_with) =
            Twin::alongside(&p, 1, p.refresh_reply(&label, &rt)).await?;
        // Its session must outlive the judged refresh by a margin, or its refusal is its end's.
        twin = rotated_with.filter(|_| sent + lifetime > end + ROUNDING + EARLY_SLACK);
        match reply {
            RefreshReply::Accepted(t) => {
                alive = sent;
                if let Some(next) = t.refresh_token.clone() {
                    rt = next;
                }
                if let Some(left) = announced_lifetime(&resp, &rt) {
                    let new_end = Instant::now() + left;
                    if new_end > end + ROUNDING {
                        extended.get_or_insert(new_end - end);
                    }
                }
            }
            RefreshReply::Rejected { .. } => {
                let left = end.saturating_duration_since(Instant::now());
                if left <= EARLY_SLACK {
                    // The session ended between `alive` and now: on time only if that is known
                    // to within one rotation step (a stalled client or a slow answer leaves a
                    // gap in which an early end hides).
                    let gap = alive.elapsed();
                    if gap > step + LATE {
                        return Err(Stop::error(format!(
                            "rotation #{n} was refused {} after login, near the announced end, but the session was last known alive {} after login: the rotations fell {} behind their {} schedule (a stalled client or slow answers), so whether it ended early is not known",
                            secs(s.at.elapsed()),
                            secs(alive.duration_since(s.at)),
                            secs(gap.saturating_sub(step)),
                            secs(step)
                        )));
                    }
                    f.pass(
                        "ASVS5-10.4.8",
                        format!(
                            "the session ended at its announced end, within the whole-second rounding of its lifetime ({} after login, {})",
                            secs(s.at.elapsed()),
                            resp.brief()
                        ),
                    );
                    return Ok(f);
                }
                // The refused token came out of n - 1 rotations: the same kind must refresh.
                let judged_by = if n == 1 { "RT-01" } else { "RT-06" };
                control(&p, &mut f, 1, n - 1, judged_by).await?;
                f.warn(
                    "",
                    format!(
                        "the session ENDED EARLY: rotation #{n} was refused {} after login, {} before the end the login announced ({}); the announced lifetime is wrong and users are logged out sooner than the server says",
                        secs(s.at.elapsed()),
                        secs(left),
                        resp.brief()
                    ),
                );
                return Ok(f);
            }
            _ => {
                return Err(Stop::error(format!(
                    "rotation #{n} got an unexpected answer: {}",
                    resp.brief()
                )));
            }
        }
    }
    if let Some(by) = extended {
        f.info(
            "",
            format!(
                "a rotation announced a session end {} later than the login did",
                secs(by)
            ),
        );
    }
    if n == 0 {
        // No rotation proved the chain alive: a login's token of another session must refresh.
        control(&p, &mut f, 1, 0, "RT-01").await?;
    }
    tokio::time::sleep_until((end + ROUNDING).into()).await;
    let ((reply, resp), twin) = Twin::judge_along(
        twin,
        &p,
        p.refresh_reply("refresh just after the session's announced end", &rt),
    )
    .await?;
    // A refresh token as old as the judged one, of a session not at its end, refused too: the
    // refusal may be the token's age (an unannounced idle timeout), not the session's end.
    if n > 0 {
        twin.settle(&mut f, matches!(reply, RefreshReply::Rejected { .. }))?;
    }
    match reply {
        RefreshReply::Rejected { .. } => f.pass(
            "ASVS5-10.4.8",
            format!(
                "after {n} rotations the session still ended on time: {}",
                resp.brief()
            ),
        ),
        RefreshReply::Accepted(_) => f.warn(
            "ASVS5-10.4.8",
            format!(
                "the session outlived its announced end ({} after login) by rotation: the maximum lifetime is extended",
                secs(lifetime)
            ),
        ),
        _ => f.warn(
            "ASVS5-10.4.8",
            format!("unexpected answer after the session's end: {}", resp.brief()),
        ),
    }
    Ok(f)
}
