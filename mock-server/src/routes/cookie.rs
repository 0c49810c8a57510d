//! Cookie sessions (`--session-mode cookie`, core in [`crate::cookie_sessions`]), shaped like a
//! Django app with `SessionMiddleware` + `CsrfViewMiddleware` and a small JSON API:
//!
//! | route | answer |
//! |---|---|
//! | `GET /session/csrf` | an HTML page holding the CSRF token twice (`<meta name="csrf-token">`, a hidden `csrfmiddlewaretoken` input) and the `csrftoken` cookie |
//! | `POST /session/login` | form or JSON `username`/`password` → 200 `{"user"}`, `Set-Cookie: sessionid=…; HttpOnly; Max-Age=<access_ttl>; Path=/; SameSite=Lax` and a fresh `csrftoken` (rotated at login, like Django); bad credentials 401 `invalid_credentials` |
//! | `GET`/`POST /session/me` | the session's user; every answer re-sets `sessionid` with the slid `Max-Age` |
//! | `POST /session/logout` | ends the session, clears the cookie (`Max-Age=0`) |
//!
//! The same endpoints answer at Django's default paths too: `/accounts/login/` (GET: the page,
//! POST: the login), `/api/me/`, `/accounts/logout/`; and a page view behind `@login_required`,
//! `GET /accounts/profile/`, which answers a gone session with a 302 to
//! `/accounts/login/?next=/accounts/profile/` instead of a 401.
//!
//! Unsafe methods (`POST`) are refused with 403 before the session is looked at — as Django's
//! CSRF middleware runs before authentication — when an `Origin` header names another origin
//! (`origin_not_allowed`; Django ≥ 4 checks `Origin` against the request's host and
//! `CSRF_TRUSTED_ORIGINS`), or when `X-CSRFToken` is missing or differs from the `csrftoken`
//! cookie (`csrf_failed`). A session that is missing, unknown (logged out, revoked by
//! `POST /admin/users/{user}/logout`) or expired is 401 `{"error": "not_authenticated" |
//! "session_invalid" | "session_expired"}` — this mock answers 401, not a 302 to a login page,
//! as a JSON API does (the README documents it).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::guard::{Payload, admitted};
use super::{AppState, cookie, json, json_error, parse_form};
use crate::config::Op;
use crate::cookie_sessions::{CookieSessions, Refused};
use crate::store;
use crate::tokens::{id_string, random_u128};

/// The session cookie.
pub const SESSION_COOKIE: &str = "sessionid";
/// The CSRF cookie.
pub const CSRF_COOKIE: &str = "csrftoken";
/// The header an unsafe request echoes the CSRF cookie in.
pub const CSRF_HEADER: &str = "x-csrftoken";
/// The CSRF cookie's lifetime (Django's `CSRF_COOKIE_AGE`, one year).
const CSRF_AGE: u64 = 31_449_600;

/// The cookie-session routes; none in token mode.
pub fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    if state.cookies.is_none() {
        return Router::new();
    }
    Router::new()
        .route(
            "/session/csrf",
            admitted(get(csrf_page), state, Op::CsrfPage),
        )
        .route("/session/login", admitted(post(login), state, Op::Login))
        .route("/session/me", admitted(get(me).post(me), state, Op::Api))
        .route("/session/logout", admitted(post(logout), state, Op::Logout))
        // The same endpoints at Django's default paths, so scenarios/targets/django-session.yaml
        // runs against the mock unchanged.
        // GET is the CSRF page, POST the login: each with its own operation's faults.
        .route(
            "/accounts/login/",
            admitted(get(csrf_page), state, Op::CsrfPage).merge(admitted(
                post(login),
                state,
                Op::Login,
            )),
        )
        .route("/api/me/", admitted(get(me).post(me), state, Op::Api))
        .route(
            "/accounts/logout/",
            admitted(post(logout), state, Op::Logout),
        )
        .route("/accounts/profile/", admitted(get(page), state, Op::Api))
}

fn sessions(state: &AppState) -> &CookieSessions {
    // Routed only when the cookie mode is on.
    state
        .cookies
        .as_ref()
        .expect("cookie routes need --session-mode cookie")
}

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn session_cookie(id: &str, max_age: u64) -> String {
    format!("{SESSION_COOKIE}={id}; HttpOnly; Max-Age={max_age}; Path=/; SameSite=Lax")
}

fn csrf_cookie(token: &str) -> String {
    format!("{CSRF_COOKIE}={token}; Max-Age={CSRF_AGE}; Path=/; SameSite=Lax")
}

/// Whole seconds for `Max-Age`, rounded up so a live session never gets `Max-Age=0` (which
/// deletes the cookie).
fn max_age(d: std::time::Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

/// The CSRF and `Origin` checks of an unsafe request: `None` when it may proceed.
fn forbidden(state: &AppState, method: &Method, headers: &HeaderMap) -> Option<Response> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let counters = &sessions(state).counters;
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(o) = origin
        && o.trim_end_matches('/') != state.base_url.trim_end_matches('/')
    {
        counters
            .origin_rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Some(json_error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "Origin checking failed: the origin does not match any trusted origin",
        ));
    }
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    let expected = cookie(headers, CSRF_COOKIE);
    match (sent, expected) {
        (Some(s), Some(e)) if !s.is_empty() && super::key_matches(s, e) => None,
        _ => {
            counters
                .csrf_rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let why = match (sent, expected) {
                (_, None) => "CSRF cookie not set",
                (None, _) => "CSRF token missing",
                _ => "CSRF token incorrect",
            };
            Some(json_error(StatusCode::FORBIDDEN, "csrf_failed", why))
        }
    }
}

fn refused(state: &AppState, why: Refused) -> Response {
    sessions(state)
        .counters
        .refused
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json_error(StatusCode::UNAUTHORIZED, why.code(), why.describe())
}

/// `GET /session/csrf`: the page with the CSRF token; sets the CSRF cookie when absent.
async fn csrf_page(headers: HeaderMap) -> Response {
    let (token, fresh) = match cookie(&headers, CSRF_COOKIE) {
        Some(t) if t.bytes().all(|b| b.is_ascii_alphanumeric()) => (t.to_string(), false),
        _ => (id_string(random_u128()), true),
    };
    let page = format!(
        "<!doctype html><html><head><meta name=\"csrf-token\" content=\"{token}\"></head><body>\
         <form method=\"post\" action=\"/session/login\">\
         <input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"{token}\">\
         <input name=\"username\"><input name=\"password\" type=\"password\"></form></body></html>"
    );
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response();
    if fresh {
        set_cookie(&mut resp, csrf_cookie(&token));
    }
    resp
}

/// The credentials of a form or JSON login body.
fn credentials(body: &[u8]) -> Option<(String, String)> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        return Some((field("username")?, field("password")?));
    }
    let mut form = parse_form(body).ok()?;
    Some((form.remove("username")?, form.remove("password")?))
}

/// `POST /session/login`.
async fn login(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Payload) -> Response {
    // A login form is a POST too: a foreign Origin is refused; the CSRF token is not asked for
    // (like a `@csrf_exempt` JSON login view).
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let s = sessions(&state);
    if let Some(o) = origin
        && o.trim_end_matches('/') != state.base_url.trim_end_matches('/')
    {
        s.counters
            .origin_rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return json_error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "Origin checking failed: the origin does not match any trusted origin",
        );
    }
    let user = credentials(&body.0).and_then(|(u, p)| {
        store::parse_user(&u, state.auth.cfg.users)
            .filter(|n| store::password_ok(*n, &p))
            .map(|n| (n, u))
    });
    let Some((n, name)) = user else {
        s.counters
            .login_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return json_error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong user name or password",
        );
    };
    let id = s.create(n);
    let mut resp = json(StatusCode::OK, &serde_json::json!({ "user": name }));
    set_cookie(&mut resp, session_cookie(&id, max_age(s.ttl())));
    set_cookie(&mut resp, csrf_cookie(&id_string(random_u128())));
    resp
}

/// `GET`/`POST /session/me`.
async fn me(State(state): State<Arc<AppState>>, method: Method, headers: HeaderMap) -> Response {
    let s = sessions(&state);
    s.counters
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(no) = forbidden(&state, &method, &headers) {
        return no;
    }
    let presented = cookie(&headers, SESSION_COOKIE);
    match s.touch(presented) {
        Ok(live) => {
            let mut resp = json(
                StatusCode::OK,
                &serde_json::json!({ "sub": format!("user{}", live.user) }),
            );
            if let Some(id) = presented {
                set_cookie(&mut resp, session_cookie(id, max_age(live.left)));
            }
            resp
        }
        Err(why) => refused(&state, why),
    }
}

/// `GET /accounts/profile/`: a page behind Django's `@login_required` — the session's user, or a
/// redirect to the login page when the session is gone.
async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let s = sessions(&state);
    s.counters
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let presented = cookie(&headers, SESSION_COOKIE);
    match s.touch(presented) {
        Ok(live) => {
            let body = format!("<!doctype html><p>Signed in as user{}</p>", live.user);
            let mut resp = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response();
            if let Some(id) = presented {
                set_cookie(&mut resp, session_cookie(id, max_age(live.left)));
            }
            resp
        }
        Err(_) => {
            s.counters
                .refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            (
                StatusCode::FOUND,
                [(header::LOCATION, "/accounts/login/?next=/accounts/profile/")],
            )
                .into_response()
        }
    }
}

/// `POST /session/logout`.
async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(no) = forbidden(&state, &Method::POST, &headers) {
        return no;
    }
    let found = sessions(&state).logout(cookie(&headers, SESSION_COOKIE));
    let mut resp = json(StatusCode::OK, &serde_json::json!({ "logged_out": found }));
    set_cookie(
        &mut resp,
        format!("{SESSION_COOKIE}=; HttpOnly; Max-Age=0; Path=/; SameSite=Lax"),
    );
    resp
}
