//! SL-01: sliding renewal. The server adds a fresh access token in the renewal header only when
//! little time is left on the presented one (not on every request), and the renewed token works
//! and lives longer. SKIP when no renewal header ever appears (no sliding sessions) in calls close
//! enough together that no renewal window can hide between two of them; ERROR when they were not.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "SL-01",
        title: "Sliding renewal: a new access token only near expiry, and it works",
        summary: "Call the resource right after login (no renewal header expected), then repeatedly until expiry: the renewal header appears near expiry; the renewed token works and expires later. SKIP if no header ever appears in calls at most 0.6 s apart (further apart: ERROR, a window may have been missed).",
        requirements: &["AUTHBENCH-SLIDING"],
        level: Level::Should,
        destructive: false,
        needs: &[Need::RenewalHeader, Need::ShortAccessTokens],
    },
    run: |p| Box::pin(run(p)),
};

/// Polling stops when less than this is left on the token.
const LAST_CALL: Duration = Duration::from_millis(40);
/// Pause between calls: a quarter of the time left, within these bounds (dense near expiry, so a
/// slow target still gets calls inside any renewal window).
const MIN_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_millis(100);
/// Calls further apart than this (a stall, slow answers) may have missed a renewal window: no
/// "no sliding sessions" SKIP then.
const MAX_GAP: Duration = Duration::from_millis(600);

async fn run(p: Arc<Probe>) -> Verdict {
    let Some(header) = p.profile().renewal_header().map(|h| h.as_str().to_string()) else {
        return Err(Stop::skip(Need::RenewalHeader.reason()));
    };
    let s = p.login(0).await?;
    let exp = short_expiry(&s.tokens)?;
    let lifetime = json_number(&s.resp, "expires_in")
        .map(Duration::from_secs_f64)
        .unwrap_or_else(|| until(exp));
    let mut f = Findings::new();

    // A refusal with `invalid_token` is the server's verdict on its own token (SKIP); any other
    // refusal points at the profile's resource request (ERROR).
    let r = genuine_works(&p, s.at()).await?;
    let left = until(exp);
    let renewed_at_once = r.header(&header).map(str::to_string);
    if renewed_at_once.is_some() {
        if left * 2 > lifetime {
            f.warn(
                "AUTHBENCH-SLIDING",
                format!(
                    "a renewal header came with {} of {} left: the server renews on every request, not near expiry",
                    secs(left),
                    secs(lifetime)
                ),
            );
        } else {
            f.info(
                "",
                format!(
                    "a renewal header came at once ({} left of {})",
                    secs(left),
                    secs(lifetime)
                ),
            );
        }
    } else {
        f.pass(
            "AUTHBENCH-SLIDING",
            format!(
                "no renewal header with {} of {} left",
                secs(left),
                secs(lifetime)
            ),
        );
    }

    let mut renewed = renewed_at_once;
    let mut n = 0;
    // The longest time between two calls (from the genuine call on): a renewal window shorter
    // than that may lie between them unseen.
    let mut last_call = Instant::now();
    let mut widest = Duration::ZERO;
    while renewed.is_none() && until(exp) > LAST_CALL {
        tokio::time::sleep((until(exp) / 4).clamp(MIN_PAUSE, MAX_PAUSE)).await;
        n += 1;
        let label = format!("resource call #{n} while the token runs out");
        widest = widest.max(last_call.elapsed());
        last_call = Instant::now();
        let r = p.api(&label, s.at()).await?;
        if refused(&r, &label)? {
            if until(exp).is_zero() {
                // Answered once the token had run out: its expiry, not a verdict.
                break;
            }
            return Err(Stop::skip(format!(
                "not judged: the access token was refused ({}) with {} left before its expiry, before any {header} header",
                r.brief(),
                secs(until(exp))
            )));
        }
        if let Some(v) = r.header(&header) {
            f.info(
                "",
                format!("the renewal header appeared with {} left", secs(until(exp))),
            );
            renewed = Some(v.to_string());
        }
    }
    let Some(new_at) = renewed else {
        if widest > MAX_GAP {
            return Err(Stop::error(format!(
                "no {header} header in {n} calls, but two of them were {} apart (a stalled client or slow answers): a renewal window may lie between them; run the check again",
                secs(widest)
            )));
        }
        return Err(Stop::skip(format!(
            "no {header} header appeared before the access token expired ({n} calls, at most {} apart): the target has no sliding sessions",
            secs(widest)
        )));
    };
    p.secret(&new_at);
    f.expect(
        new_at != s.at(),
        Status::Warn,
        "AUTHBENCH-SLIDING",
        "the renewed access token differs from the presented one",
    );
    let r = p
        .api("resource call with the renewed access token", &new_at)
        .await?;
    f.expect(
        r.ok(),
        Status::Warn,
        "AUTHBENCH-SLIDING",
        format!("the renewed access token gets {}", r.status),
    );
    if let Some(new_exp) = crate::profile::jwt_exp(&new_at) {
        f.expect(
            new_exp > exp,
            Status::Warn,
            "AUTHBENCH-SLIDING",
            if new_exp > exp {
                "the renewed access token expires later".to_string()
            } else {
                "the renewed access token does not expire later than the old one".to_string()
            },
        );
    }
    Ok(f)
}
