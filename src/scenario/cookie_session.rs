//! Validation of `client.strategy: cookie-session` against the rest of the scenario: a
//! cookie-session server has no refresh endpoint (no `refresh_race`), its credential is a cookie
//! (no token-carrying channel, no tabs sharing a token store), and the builtin mock serves cookie
//! sessions only in `mock.session_mode: cookie`. (Whether a target profile describes a
//! cookie-session server is checked when the profile is known: `engine::run`.)

use super::model::{ClientConfig, Phase};
use super::validate::Problem;
use crate::client::Strategy;

fn problem(path: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        message: message.into(),
        fix: fix.into(),
    }
}

/// Refuses what a cookie-session client cannot do, and a builtin mock in the wrong mode.
pub(super) fn check(
    c: &ClientConfig,
    plan: &[Phase],
    mock: &authbench_mock::MockConfig,
    builtin: bool,
) -> Result<(), Problem> {
    let cookie_mock = mock.session_mode == authbench_mock::SessionMode::Cookie;
    if c.strategy != Strategy::CookieSession {
        if builtin && cookie_mock {
            return Err(problem(
                "client.strategy",
                format!(
                    "strategy {} renews tokens, but mock.session_mode is cookie: the builtin target is then the mock's cookie sessions, which have no tokens to refresh",
                    c.strategy
                ),
                "set client.strategy: cookie-session, or remove mock.session_mode",
            ));
        }
        return Ok(());
    }
    if builtin && !cookie_mock {
        return Err(problem(
            "client.strategy",
            "strategy cookie-session needs a cookie-session server, but the builtin mock serves OAuth tokens unless told otherwise",
            "add `session_mode: cookie` to the `mock:` section (or point `target:` at a profile with `cookie_session:`)",
        ));
    }
    for (i, phase) in plan.iter().enumerate() {
        if let Phase::RefreshRace { .. } = phase {
            return Err(problem(
                format!("plan.{i}.refresh_race"),
                "a refresh_race needs a refresh token, and a cookie-session server has no refresh endpoint (its session is renewed by Set-Cookie in ordinary responses)",
                "remove the refresh_race phase, or use a token strategy against a token server",
            ));
        }
    }
    if c.tabs > 1 {
        return Err(problem(
            "client.tabs",
            "tabs share a token store; a cookie-session client's credential is its cookie jar",
            "remove client.tabs (or set tabs: 1) with strategy cookie-session",
        ));
    }
    if let Some(ch) = c.channel() {
        return Err(problem(
            if c.websocket {
                "client.websocket"
            } else {
                "client.channel"
            },
            format!(
                "channel {} authenticates with an access token; strategy cookie-session has only a session cookie",
                ch.name()
            ),
            "remove the channel (and any ws_connect phase) with strategy cookie-session",
        ));
    }
    if plan.iter().any(|p| matches!(p, Phase::WsConnect { .. })) {
        let i = plan
            .iter()
            .position(|p| matches!(p, Phase::WsConnect { .. }))
            .unwrap_or(0);
        return Err(problem(
            format!("plan.{i}.ws_connect"),
            "a WebSocket authenticates with an access token; strategy cookie-session has only a session cookie",
            "remove the ws_connect phase with strategy cookie-session",
        ));
    }
    Ok(())
}
