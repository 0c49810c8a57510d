//! HTTP routes: the router, the state every handler shares, and small HTTP helpers (form and
//! cookie parsing, JSON responses). One file per API:
//! [`oauth`] (RFC 6749/7009/7662 form endpoints), [`api`] (seed-style JSON API and the resource
//! endpoint), [`admin`] (admin, stats, sync point, health, discovery), [`metrics`] (OpenMetrics
//! `GET /metrics`), [`ws`] (the WebSocket), [`sessions`] (logout everywhere), [`authorize`] (the
//! authorization-code sign-in), [`cookie`] (cookie sessions, `--session-mode cookie`), [`user_ids`] (admin lookups by user id); [`guard`] holds
//! what runs before a handler (body extractor, admin key, fault admission); [`verdicts`] is the
//! resource endpoint's verdict cache of the `cached-verdicts` flaw; [`events`] the session
//! events on Server-Sent Events (`GET /events`) and the push registration (`POST /push/register`).

pub mod admin;
pub mod api;
pub mod authorize;
pub mod cookie;
pub mod events;
pub mod guard;
pub mod metrics;
pub mod oauth;
pub mod sessions;
pub mod user_ids;
pub mod verdicts;
pub mod ws;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::arrivals::Arrivals;
use crate::auth::Auth;
use crate::config::Op;
use crate::faults::Faults;
use crate::outage::Outage;
use crate::stats::Stats;
use guard::{admitted, observed};

/// What every handler shares.
pub struct AppState {
    /// The authorization core.
    pub auth: Auth,
    /// Injected faults.
    pub faults: Faults,
    /// Bearer key of the admin endpoints.
    pub admin_key: String,
    /// `http://host:port`.
    pub base_url: String,
    /// Cancelled on shutdown (sockets close with 1001).
    pub shutdown: CancellationToken,
    /// The outage switch (`POST /admin/outage`).
    pub outage: Outage,
    /// WebSocket tasks, awaited on shutdown.
    pub tracker: TaskTracker,
    /// Accepted access tokens (only the `cached-verdicts` flaw uses it).
    pub verdicts: verdicts::VerdictCache,
    /// Arrival offsets after the sync point of `POST /admin/sync-point`.
    pub arrivals: Arc<Arrivals>,
    /// The push sender (`--push-url`), if push is on.
    pub push: Option<crate::push::Pusher>,
    /// Sign-ins and codes of the authorization-code grant ([`authorize`]).
    pub authorize: authorize::Pending,
    /// The cookie sessions of `--session-mode cookie` ([`cookie`]); `None` in token mode.
    pub cookies: Option<crate::cookie_sessions::CookieSessions>,
}

impl AppState {
    /// Counters, session count and arrivals (the body of `GET /admin/stats`).
    pub fn stats(&self) -> Stats {
        let mut s = self.auth.stats();
        s.arrivals = self.arrivals.stats();
        s.cookie_sessions = self.cookies.as_ref().map(|c| c.stats());
        s
    }
}

/// `--refusal-delay`: a refused refresh grant waits this long before its answer goes out, its
/// refusal (and a reuse detection's family revocation) already in force.
async fn refusal_delay(state: &AppState) {
    let delay = state.auth.cfg.refusal_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// `--renewal-delay`: an accepted refresh grant waits this long before its answer goes out, the
/// rotation (and `--refresh-revokes-access`) already in force.
async fn renewal_delay(state: &AppState) {
    let delay = state.auth.cfg.renewal_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.auth.cfg.max_body;
    Router::new()
        .route("/oauth/token", post(oauth::token))
        .route(
            "/oauth/revoke",
            admitted(post(oauth::revoke), &state, Op::Logout),
        )
        .route(
            "/oauth/introspect",
            admitted(post(oauth::introspect), &state, Op::Introspect),
        )
        .route(
            "/api/auth/login",
            observed(
                admitted(post(api::login), &state, Op::Login),
                &state,
                Op::Login,
            ),
        )
        .route(
            "/api/auth/refresh",
            observed(
                admitted(post(api::refresh), &state, Op::Refresh),
                &state,
                Op::Refresh,
            ),
        )
        .route(
            "/api/auth/logout",
            admitted(post(api::logout), &state, Op::Logout),
        )
        .route(
            "/api/me",
            observed(admitted(get(api::me), &state, Op::Api), &state, Op::Api),
        )
        .route("/api/admin", admitted(get(api::admin), &state, Op::Api))
        .route("/ws", get(ws::upgrade))
        .route(
            "/authorize",
            admitted(get(authorize::authorize), &state, Op::Authorize),
        )
        .route(
            "/authorize/login",
            admitted(post(authorize::login), &state, Op::Authorize),
        )
        .route(
            "/authorize/continue",
            admitted(get(authorize::resume), &state, Op::Authorize),
        )
        // The lookup of a two-step admin logout: authbench counts it as a `force_logout` request.
        .route(
            "/admin/users",
            admitted(get(user_ids::find), &state, Op::ForceLogout),
        )
        .route(
            "/admin/users/by-id/{id}/logout",
            admitted(post(user_ids::logout), &state, Op::ForceLogout),
        )
        .route(
            "/admin/users/{user}/logout",
            admitted(post(admin::user_logout), &state, Op::ForceLogout),
        )
        .route("/admin/outage", post(admin::outage))
        .route("/admin/stats", get(admin::stats))
        .route("/admin/sync-point", post(admin::sync_point))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(admin::healthz))
        .route("/.well-known/jwks.json", get(admin::jwks))
        .route("/.well-known/openid-configuration", get(admin::discovery))
        .route("/events", get(events::events))
        .route(
            "/push/register",
            admitted(post(events::register), &state, Op::Push),
        )
        .route(
            "/api/auth/logout-all",
            admitted(post(sessions::logout_all), &state, Op::LogoutEverywhere),
        )
        .merge(cookie::routes(&state))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// A JSON response.
pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// `{"error": code, "error_description": description}` with this status.
pub fn json_error(status: StatusCode, code: &str, description: &str) -> Response {
    json(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    )
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Parses `application/x-www-form-urlencoded`. A parameter given twice is an error
/// (RFC 6749 §3.2: "parameters MUST NOT be included more than once").
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let k = percent_decode(k).ok_or("the form body is not valid UTF-8 / percent-encoding")?;
        let v = percent_decode(v).ok_or("the form body is not valid UTF-8 / percent-encoding")?;
        if out.contains_key(&k) {
            return Err(format!("parameter {k:?} is given more than once"));
        }
        out.insert(k, v);
    }
    Ok(out)
}

fn percent_decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// One query parameter of a URI query string.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| percent_decode(v.as_bytes()))
        .filter(|v| !v.is_empty())
}

/// Constant-time comparison of an admin key.
pub fn key_matches(given: &str, expected: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parsing() {
        let f = parse_form(b"grant_type=password&username=user1&password=pw-1%21+x").unwrap();
        assert_eq!(f["grant_type"], "password");
        assert_eq!(f["password"], "pw-1! x");
        assert!(parse_form(b"a=1&a=2").is_err());
        assert!(parse_form(b"a=%zz").is_err());
        assert!(parse_form(b"a=%+1").is_err());
        assert!(parse_form(b"a=%e2").is_err(), "truncated UTF-8");
        assert!(parse_form(b"").unwrap().is_empty());
    }

    #[test]
    fn headers() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        h.insert(header::COOKIE, "a=1; refresh_token=xyz".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        assert_eq!(cookie(&h, "refresh_token"), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        assert_eq!(
            query_param(Some("x=1&access_token=a%2Eb"), "access_token").as_deref(),
            Some("a.b")
        );
    }
}
