//! SS-04: the server lets a client tell why its session ended. Ends sessions in every way the
//! profile allows — its own logout, the admin logout, a login elsewhere (single-session targets),
//! the access token's expiry — each on its own test user, at the same time, and records what each
//! end produced on every channel: the WebSocket event and close frame, the resource server's 401
//! (`error`, `error_description`, the Bearer challenge), the refresh refusal (`error`,
//! `error_description`). Two ends of different kinds (expired / kicked / logged out) whose signals
//! are the same on every channel they share leave a client with "unknown" (issue 17 §2; RFC 6750
//! §3.1 and RFC 6749 §5.2 give `error_description` for exactly this; the seed's logout checklist:
//! "show the reason"). Each end's signals and the reason authbench reads from them
//! ([`Reason::infer`], the words a client would look for) are reported.
//!
//! A broken server cannot pass: every end starts from a session that works (login, a genuine
//! resource call, the socket's first message), and an end that changed nothing (the old access
//! token still works, no refresh refusal, the socket stays open) is left out; fewer than two kinds
//! of end left is a SKIP.

use futures::future::join4;

use crate::checks::catalog::prelude::*;
use crate::checks::catalog::ws::open_ready;
use crate::checks::probe::challenge;
use crate::checks::wsprobe::{WsConn, WsEnd};
use crate::client::notice::Reason;
use crate::profile::MaxSessions;
use crate::profile::{CloseClass, CloseProfile, WsEvent};

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "SS-04",
        title: "Session-end causes are distinguishable",
        summary: "End one session each by logout, admin logout, a login elsewhere and access-token expiry (as the profile allows) and record each end's WebSocket event and close code, 401 and refresh refusal: two ends of different kinds (expired, kicked, logged out) must differ on some channel, else a client can only say \"unknown\" (WARN). Each end's signals and the reason they name are reported.",
        requirements: &["RFC6750-3.1", "RFC6749-5.2", "RFC6455-7.4"],
        level: Level::Should,
        destructive: true,
        needs: &[],
    },
    run: |p| Box::pin(run(p)),
};

/// How long an end may take to reach the socket.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// The kinds of end this check causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Logout,
    AdminLogout,
    Kicked,
    Expired,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Logout => "logout",
            Kind::AdminLogout => "admin logout",
            Kind::Kicked => "login elsewhere",
            Kind::Expired => "access-token expiry",
        }
    }

    /// The reason a client should be able to tell.
    fn reason(self) -> Reason {
        match self {
            Kind::Logout | Kind::AdminLogout => Reason::LoggedOut,
            Kind::Kicked => Reason::Kicked,
            Kind::Expired => Reason::Expired,
        }
    }
}

/// What one end produced, per channel (`None`: not observed on that channel).
#[derive(Debug, Clone)]
struct Signals {
    kind: Kind,
    ws: Option<String>,
    api: Option<String>,
    refresh: Option<String>,
}

impl Signals {
    fn channels(&self) -> [(&'static str, Option<&String>); 3] {
        [
            ("WebSocket", self.ws.as_ref()),
            ("401", self.api.as_ref()),
            ("refresh refusal", self.refresh.as_ref()),
        ]
    }

    fn describe(&self) -> String {
        self.channels()
            .iter()
            .filter_map(|(name, v)| v.map(|v| format!("{name}: {v}")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The reason a client reads from the signals: the first channel that names one.
    fn inferred(&self) -> Reason {
        let ws = self.ws.as_deref().map_or(Reason::Unknown, Reason::infer);
        let api = self.api.as_deref().map_or(Reason::Unknown, Reason::infer);
        let refresh = self
            .refresh
            .as_deref()
            .map_or(Reason::Unknown, Reason::infer);
        ws.or(api).or(refresh)
    }
}

async fn run(p: Arc<Probe>) -> Verdict {
    let profile = p.profile();
    let ws = profile.ws().is_some();
    let mut f = Findings::new();
    // A refresh refusal tells an end apart only from a server whose refreshes work at all.
    let refresh_counts = match control(&p, &mut f, 4, 0, "RT-01").await {
        Ok(()) => true,
        Err(Stop::Skip(why)) => {
            f.info("", format!("refresh refusals are not compared: {why}"));
            false
        }
        Err(e) => return Err(e),
    };
    let (logout, admin, kicked, expired) = join4(
        end(&p, Kind::Logout, 0, ws, profile.has_logout()),
        end(&p, Kind::AdminLogout, 1, ws, profile.has_admin_logout()),
        end(&p, Kind::Kicked, 2, ws, true),
        end(&p, Kind::Expired, 3, ws, true),
    )
    .await;
    let mut ends = Vec::new();
    for r in [logout, admin, kicked, expired] {
        match r? {
            Outcome::Ended(mut s) => {
                if !refresh_counts {
                    s.refresh = None;
                }
                ends.push(s)
            }
            Outcome::NotTried(why) => f.info("", why),
        }
    }
    let kinds: std::collections::HashSet<Reason> = ends.iter().map(|s| s.kind.reason()).collect();
    if kinds.len() < 2 {
        return Err(Stop::skip(format!(
            "fewer than two kinds of session end could be caused ({}); needs at least two of: a logout request, an admin logout, a single-session policy, access tokens short enough to wait for",
            if ends.is_empty() {
                "none".to_string()
            } else {
                ends.iter()
                    .map(|s| s.kind.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    for s in &ends {
        let inferred = s.inferred();
        f.info(
            "",
            format!(
                "{}: {} — a client reads \"{}\"",
                s.kind.label(),
                s.describe(),
                inferred.name()
            ),
        );
    }
    for (i, a) in ends.iter().enumerate() {
        for b in &ends[i + 1..] {
            if a.kind.reason() == b.kind.reason() {
                continue;
            }
            judge_pair(&mut f, a, b);
        }
    }
    Ok(f)
}

/// Whether `a` and `b` differ on a channel both were observed on.
fn judge_pair(f: &mut Findings, a: &Signals, b: &Signals) {
    let shared: Vec<(&str, &String, &String)> = a
        .channels()
        .into_iter()
        .zip(b.channels())
        .filter_map(|((name, x), (_, y))| Some((name, x?, y?)))
        .collect();
    let differ = shared.iter().find(|(_, x, y)| x != y);
    match differ {
        Some((name, _, _)) => f.pass(
            "RFC6750-3.1",
            format!(
                "{} and {} are told apart (e.g. by the {name})",
                a.kind.label(),
                b.kind.label()
            ),
        ),
        None if shared.is_empty() => f.info(
            "",
            format!(
                "{} and {} were observed on no common channel",
                a.kind.label(),
                b.kind.label()
            ),
        ),
        None => f.warn(
            "RFC6750-3.1",
            format!(
                "{} and {} produce the same signals ({}): a client cannot tell why its session ended",
                a.kind.label(),
                b.kind.label(),
                shared
                    .iter()
                    .map(|(name, x, _)| format!("{name}: {x}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    }
}

enum Outcome {
    Ended(Signals),
    NotTried(String),
}

/// Causes one end of `kind` on the check's user `k` (with a socket when `ws`), and records what it
/// produced. `possible`: the profile can cause it.
async fn end(
    p: &Arc<Probe>,
    kind: Kind,
    k: u64,
    ws: bool,
    possible: bool,
) -> Result<Outcome, Stop> {
    let label = kind.label();
    if !possible {
        return Ok(Outcome::NotTried(format!(
            "{label} not tried: {}",
            match kind {
                Kind::Logout => Need::Logout.reason(),
                _ => Need::AdminLogout.reason(),
            }
        )));
    }
    // A login elsewhere ends the oldest session only beyond the declared limit (single session
    // when none is declared); under an unlimited policy it ends nothing.
    let beyond = match (kind, p.profile().max_sessions()) {
        (Kind::Kicked, Some(MaxSessions::Unlimited)) => {
            return Ok(Outcome::NotTried(format!(
                "{label} not tried: the declared session policy is unlimited"
            )));
        }
        (_, Some(MaxSessions::Limit(n))) => n.max(1),
        _ => 1,
    };
    let s = p.login(k).await?;
    let expiry = if kind == Kind::Expired {
        match short_expiry(&s.tokens) {
            Ok(exp) => Some(exp),
            Err(Stop::Skip(why)) => {
                return Ok(Outcome::NotTried(format!("{label} not tried: {why}")));
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    genuine_works(p, s.at()).await?;
    let close_codes = p
        .profile()
        .ws()
        .map(|w| w.close_codes.clone())
        .unwrap_or_default();
    let mut conn = match ws {
        true => Some(open_ready(p, &format!("socket before the {label}"), s.at()).await?),
        false => None,
    };
    match kind {
        Kind::Logout => {
            let r = p
                .logout(&format!("{label} of the session"), &s.tokens)
                .await
                .expect("has_logout was checked")?;
            if !r.ok() {
                return Err(Stop::error(format!(
                    "the logout request was refused ({})",
                    r.brief()
                )));
            }
        }
        Kind::AdminLogout => {
            let r = p
                .admin_logout(&format!("{label} of {}", s.user), &s.user)
                .await
                .expect("has_admin_logout was checked")?;
            if !r.ok() {
                return Err(Stop::error(format!(
                    "the admin logout was refused ({})",
                    r.brief()
                )));
            }
        }
        Kind::Kicked => {
            for _ in 0..beyond {
                p.login(k).await?;
            }
        }
        Kind::Expired => {}
    }
    let api_and_refresh = async {
        let api = p
            .api(&format!("resource call after the {label}"), s.at())
            .await?;
        // After an access-token expiry the session goes on: its refresh is no end signal.
        let refresh = match (kind, s.tokens.refresh_token.as_deref()) {
            (Kind::Expired, _) | (_, None) => None,
            (_, Some(rt)) => {
                let what = format!("refresh after the {label}");
                let (reply, r) = p.refresh_reply(&what, rt).await?;
                match reply {
                    RefreshReply::Accepted(_) => None,
                    RefreshReply::Rejected { .. } => Some(answer_signal(&r)),
                    // A 5xx, 429 or an answer outside the refresh contract tells the client
                    // nothing about its session: taken for an end signal, a failing server
                    // would look as if it named its reasons.
                    RefreshReply::ServerError | RefreshReply::Unexpected => {
                        return Err(Stop::error(format!(
                            "the {what} got {}: neither accepted nor refused, so it is no signal of the end",
                            r.brief()
                        )));
                    }
                }
            }
        };
        // A refusal that came when the access token was (nearly) expired may be the expiry's
        // answer, not this end's: not attributed (a slow run must not blur two kinds).
        let expired_meanwhile = kind != Kind::Expired
            && s.tokens
                .expires_at
                .is_some_and(|exp| SystemTime::now() + Duration::from_millis(100) >= exp);
        // Only a refusal about the credentials is a signal; a 5xx or 429 stops the check (ERROR).
        let refused = refused(&api, &format!("the resource call after the {label}"))?;
        let api = (refused && !expired_meanwhile).then(|| answer_signal(&api));
        Ok::<_, Stop>((api, refresh))
    };
    // The socket is watched until the end reached it — for the other kinds of end only while
    // the access token is still valid, so that its expiry close is not taken for their signal.
    let (ws_signal, api_signal, refresh_signal) = match expiry {
        Some(exp) => {
            let ws_signal = match conn.as_mut() {
                Some(c) => {
                    ws_signal(c, &close_codes, Instant::now() + until(exp) + CLOSE_WAIT).await
                }
                None => None,
            };
            sleep_until(exp + Duration::from_millis(300)).await;
            let (api, refresh) = api_and_refresh.await?;
            (ws_signal, api, refresh)
        }
        None => {
            let (api, refresh) = api_and_refresh.await?;
            let wait = match s.tokens.expires_at {
                Some(exp) => CLOSE_WAIT.min(until(exp).saturating_sub(Duration::from_millis(200))),
                None => CLOSE_WAIT,
            };
            let ws_signal = match conn.as_mut() {
                Some(c) => ws_signal(c, &close_codes, Instant::now() + wait).await,
                None => None,
            };
            // The token's own expiry reached the socket first (a slow run): not this end's signal.
            let ws_signal = ws_signal.filter(|w| !w.starts_with(EXPIRY_PREFIX));
            (ws_signal, api, refresh)
        }
    };
    drop(conn);
    if ws_signal.is_none() && api_signal.is_none() && refresh_signal.is_none() {
        let why = match kind {
            Kind::Kicked => Need::SingleSession.reason().to_string(),
            _ => "the old tokens still work and no socket was closed".to_string(),
        };
        return Ok(Outcome::NotTried(format!(
            "{label}: the session did not end ({why})"
        )));
    }
    Ok(Outcome::Ended(Signals {
        kind,
        ws: ws_signal,
        api: api_signal,
        refresh: refresh_signal,
    }))
}

/// Marks a socket end that is an access token's expiry (a `session_expired` event, or a close the
/// profile classifies refresh-then-reconnect).
const EXPIRY_PREFIX: &str = "expiry: ";

/// The socket's end: the session events before its close and the close code and reason (`None`
/// when it stayed open), marked [`EXPIRY_PREFIX`] when it is an access token's expiry.
async fn ws_signal(
    c: &mut WsConn,
    close_codes: &CloseProfile,
    deadline: Instant,
) -> Option<String> {
    let (events, end) = c.until_close(deadline).await;
    let events: Vec<&str> = events
        .iter()
        .map(|e| match e {
            WsEvent::Kicked => "kicked",
            WsEvent::Logout => "logout",
            WsEvent::SessionExpired => "session_expired",
            WsEvent::Other(t) => t.as_str(),
        })
        .collect();
    let expiry = events.contains(&"session_expired")
        || matches!(&end, WsEnd::Closed(c) if c.code.is_some_and(|code| {
            close_codes.classify(code) == CloseClass::RefreshThenReconnect
        }));
    let events = if events.is_empty() {
        "no event".to_string()
    } else {
        format!("event {}", events.join(", "))
    };
    let mark = if expiry { EXPIRY_PREFIX } else { "" };
    match end {
        WsEnd::Closed(close) => Some(format!(
            "{mark}{events}, close {} \"{}\"",
            crate::checks::catalog::ws::code_text(close.code),
            close.reason
        )),
        WsEnd::Dropped(_) => Some(format!("{mark}{events}, dropped without a close frame")),
        WsEnd::Timeout => None,
    }
}

/// An HTTP refusal as a client sees it: status, `error`, `error_description` (or the Bearer
/// challenge's), or a short body excerpt when the body is not JSON.
fn answer_signal(r: &Resp) -> String {
    let json = r.json();
    let member = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let ch = challenge(r);
    let error = member("error").or_else(|| ch.as_ref().and_then(|c| c.error.clone()));
    let description = member("error_description")
        .or_else(|| member("message"))
        .or_else(|| r.header("www-authenticate").map(str::to_string));
    let mut out = r.status.to_string();
    if let Some(e) = error {
        out.push_str(&format!(" {e}"));
    }
    match description {
        Some(d) => out.push_str(&format!(" \"{d}\"")),
        None if json.is_none() && !r.body.is_empty() => {
            let text = String::from_utf8_lossy(&r.body[..r.body.len().min(80)]).into_owned();
            out.push_str(&format!(" body \"{}\"", text.trim()));
        }
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(kind: Kind, api: &str) -> Signals {
        Signals {
            kind,
            ws: None,
            api: Some(api.into()),
            refresh: None,
        }
    }

    #[test]
    fn the_same_signals_for_different_kinds_warn() {
        let mut f = Findings::new();
        judge_pair(
            &mut f,
            &sig(Kind::Logout, "401 invalid_token"),
            &sig(Kind::Kicked, "401 invalid_token"),
        );
        assert_eq!(f.status(), Status::Warn);
        let mut f = Findings::new();
        judge_pair(
            &mut f,
            &sig(Kind::Logout, "401 invalid_token \"logged out\""),
            &sig(Kind::Kicked, "401 invalid_token \"replaced\""),
        );
        assert_eq!(f.status(), Status::Pass);
        assert_eq!(
            sig(Kind::Kicked, "401 invalid_token \"replaced\"").inferred(),
            Reason::Kicked
        );
    }
}
