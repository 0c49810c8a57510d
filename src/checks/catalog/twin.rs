//! The aged control of a "refused after X" verdict: a session of another test user kept exactly as
//! old as the judged one. A fresh control ([`super::common::control`]) tells a server that refuses
//! every refresh from one that ended the judged session for X; it cannot tell one that ends
//! sessions by their *age* — an idle timeout or a refresh-token lifetime shorter than it announces
//! (`refresh_expires_in: 3600` and an end at 1 s), or logins answered so late that the judged
//! session is already old when X happens. Such a server refuses the judged refresh for its age,
//! the younger fresh control still refreshes, and the check passed. A twin is logged in, and
//! refreshed, in the same instant as the judged session (the requests go out together), and is
//! refreshed together with the judged refresh after X: refused too, the judged refusal may be its
//! age's, so the verdict is not given (SKIP). The twin is also in the judged session's state (as
//! often rotated), so a server that refuses rotated tokens is not judged either.
//!
//! The twin is this check's user `k`; with one test user (a users file of one line) there is no
//! other user to hold a session of, and no twin (an INFO says so).

use std::future::Future;

use super::prelude::*;

/// A session of another user, as old as the judged one (see the module docs).
pub struct Twin {
    user: String,
    /// Its refresh token (`None`: the client sees none; then it is never refreshed).
    rt: Option<String>,
    /// Its access token, for twins judged at the resource ([`Twin::call_along`]).
    at: String,
}

/// What the twin's refresh next to the judged one found.
pub enum TwinEnd {
    /// No twin (one test user): nothing to say.
    None,
    /// The twin refreshed: the judged refusal is not its age's.
    Alive(Twin),
    /// The twin was refused too: the judged refusal may be its age's (the message says so).
    Refused(String),
}

impl Twin {
    /// Runs `judged` (a login or refresh of the judged session) and, in the same instant, a login
    /// of user `k`: the twin, when `k` is another user than user 0.
    pub async fn alongside<T>(
        p: &Probe,
        k: u64,
        judged: impl Future<Output = Result<T, Stop>>,
    ) -> Result<(T, Option<Twin>), Stop> {
        if p.user(k).0 == p.user(0).0 {
            return Ok((judged.await?, None));
        }
        let (judged, twin) = futures::join!(judged, p.login(k));
        let (judged, twin) = (judged?, twin?);
        Ok((
            judged,
            Some(Twin {
                rt: twin.tokens.refresh_token,
                at: twin.tokens.access_token,
                user: twin.user,
            }),
        ))
    }

    /// Runs `judged` (a refresh of the judged session: before the event, to keep the twin in
    /// step; after it, the judged refresh) and, in the same instant, the twin's refresh.
    pub async fn judge_along<T>(
        twin: Option<Twin>,
        p: &Probe,
        judged: impl Future<Output = Result<T, Stop>>,
    ) -> Result<(T, TwinEnd), Stop> {
        let Some((twin, rt)) = twin.and_then(|t| t.rt.clone().map(|rt| (t, rt))) else {
            return Ok((judged.await?, TwinEnd::None));
        };
        let label = format!(
            "control: refresh {}'s session, as old as the judged one",
            twin.user
        );
        let (judged, refreshed) = futures::join!(judged, p.refresh_reply(&label, &rt));
        let (judged, (reply, resp)) = (judged?, refreshed?);
        let end = match reply {
            RefreshReply::Accepted(t) => TwinEnd::Alive(Twin {
                rt: Some(t.refresh_token.unwrap_or(rt)),
                at: t.access_token,
                user: twin.user,
            }),
            RefreshReply::Rejected { .. } => TwinEnd::Refused(format!(
                "not judged: a session of another user ({}), logged in and refreshed in the same instants as the judged one, was refused too ({}): a session as old as the judged one, rotated as often, ends here without the event (an idle timeout or refresh-token lifetime shorter than announced, slow answers, or rotated tokens refused), so the refusal may not be the event's",
                twin.user,
                resp.brief()
            )),
            RefreshReply::ServerError | RefreshReply::Unexpected => {
                return Err(Stop::error(format!(
                    "the control session of {} got {}, outside the refresh contract",
                    twin.user,
                    resp.brief()
                )));
            }
        };
        Ok((judged, end))
    }

    /// Runs `judged` (a resource call with the judged session's access token) and, in the same
    /// instant, a resource call with the twin's access token, as old. `None` without a twin.
    pub async fn call_along<T>(
        twin: Option<&Twin>,
        p: &Probe,
        judged: impl Future<Output = Result<T, Stop>>,
    ) -> Result<(T, Option<(String, Resp)>), Stop> {
        let Some(twin) = twin else {
            return Ok((judged.await?, None));
        };
        let (judged, called) = futures::join!(judged, twin.call(p));
        Ok((judged?, Some((twin.user.clone(), called?))))
    }

    /// A resource call with the twin's access token.
    pub async fn call(&self, p: &Probe) -> Result<Resp, Stop> {
        let label = format!(
            "control: resource call with {}'s access token, as old as the judged one",
            self.user
        );
        p.api(&label, &self.at).await
    }
}

impl TwinEnd {
    /// The twin after a refresh *before* the event, for the next step; call it after the judged
    /// refresh's own premise, so that a refused judged session is reported as such. A refused
    /// twin stops the check (SKIP: not judged), as a refused premise does.
    pub fn kept(self) -> Result<Option<Twin>, Stop> {
        match self {
            TwinEnd::None => Ok(None),
            TwinEnd::Alive(twin) => Ok(Some(twin)),
            TwinEnd::Refused(why) => Err(Stop::skip(why)),
        }
    }

    /// Records what the twin showed (INFO) when the judged refresh was refused; a refused twin
    /// stops the check (SKIP: not judged). When the judged refresh was accepted, the twin says
    /// nothing and nothing is recorded.
    pub fn settle(self, f: &mut Findings, judged_refused: bool) -> Result<(), Stop> {
        if !judged_refused {
            return Ok(());
        }
        match self.note(f) {
            Some(why) => Err(Stop::skip(why)),
            None => Ok(()),
        }
    }

    /// For a refused judged refresh: records the twin's INFO and gives `None` when the refusal
    /// stands; gives why it does not (not recorded) when the twin was refused too.
    pub fn note(self, f: &mut Findings) -> Option<String> {
        match self {
            TwinEnd::None => {
                f.info(
                    "",
                    "no twin: no session of another user as old as the judged one was held (one test user, or sessions too short to outlive the check), so a refusal for its age is not told from one for the event",
                );
                None
            }
            TwinEnd::Alive(twin) => {
                f.info(
                    "",
                    format!(
                        "control: {}'s session, as old as the judged one, still refreshes",
                        twin.user
                    ),
                );
                None
            }
            TwinEnd::Refused(why) => Some(why),
        }
    }
}
