//! The authorization-code grant with PKCE (RFC 6749 §4.1, RFC 7636 S256) as a browser meets it,
//! so authbench's headless form login has a server to drive:
//!
//! 1. `GET /authorize?response_type=code&client_id&redirect_uri&state&code_challenge&code_challenge_method=S256`
//!    answers an HTML login form (`form#login`, a hidden `request_id`, `username`, `password`)
//!    and sets a sign-in cookie.
//! 2. `POST /authorize/login` (the form, with that cookie) checks the credentials: wrong ones
//!    answer the form again (200, no redirect); right ones redirect (303) to
//!    `GET /authorize/continue`, which redirects (302) to `redirect_uri?code&state`.
//! 3. `POST /oauth/token` with `grant_type=authorization_code`, `code`, `redirect_uri` and
//!    `code_verifier` ([`exchange`]) answers the token response once per code.
//!
//! The session is opened at step 2 (the user signed in); the code carries it to step 3. Pending
//! requests and codes are bounded and expire after [`TTL`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use parking_lot::Mutex;

use super::guard::Payload;
use super::{AppState, cookie, parse_form, query_param};
use crate::store::Issued;

/// How long a sign-in page or a code stays usable.
pub const TTL: Duration = Duration::from_secs(120);
/// Most sign-ins and codes pending at once (a client that never finishes cannot grow the mock).
const MAX_PENDING: usize = 200_000;
/// The sign-in cookie set by `GET /authorize` and required by `POST /authorize/login`.
pub const SIGN_IN_COOKIE: &str = "authbench_signin";

struct SignIn {
    cookie: String,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    /// Set once the credentials were right: the code to hand out at `/authorize/continue`.
    code: Option<String>,
    at: Instant,
}

struct Code {
    issued: Issued,
    redirect_uri: String,
    challenge: String,
    at: Instant,
}

/// Sign-ins in progress and codes not yet exchanged.
#[derive(Default)]
pub struct Pending {
    sign_ins: Mutex<HashMap<String, SignIn>>,
    codes: Mutex<HashMap<String, Code>>,
}

fn random_id() -> String {
    let b = crate::tokens::fresh_bytes::<18>();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Drops expired entries when the map is full; `false` when it is still full.
fn room<V>(map: &mut HashMap<String, V>, at: impl Fn(&V) -> Instant) -> bool {
    if map.len() >= MAX_PENDING {
        map.retain(|_, v| at(v).elapsed() < TTL);
    }
    map.len() < MAX_PENDING
}

fn page(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        format!("<!doctype html><html><body><h1>Sign-in error</h1><p>{message}</p></body></html>"),
    )
}

fn login_form(request_id: &str, notice: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><title>authbench mock sign-in</title></head><body>\n\
         <h1>Sign in</h1>{notice}\n\
         <form id=\"search\" method=\"get\" action=\"/search\"><input name=\"q\"></form>\n\
         <form id=\"login\" method=\"post\" action=\"/authorize/login\">\n\
         <input type=\"hidden\" name=\"request_id\" value=\"{request_id}\">\n\
         <label>User <input name=\"username\" autocomplete=\"username\"></label>\n\
         <label>Password <input name=\"password\" type=\"password\"></label>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n</body></html>\n"
    )
}

/// `GET /authorize`.
pub async fn authorize(State(state): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    let q = q.as_deref();
    let Some(redirect_uri) = query_param(q, "redirect_uri")
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    else {
        // RFC 6749 §4.1.2.1: never redirect to an unverified URI.
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri is missing or not an absolute URL",
        );
    };
    let fail = |error: &str| {
        let mut to = format!("{redirect_uri}?error={error}");
        if let Some(s) = query_param(q, "state") {
            to.push_str("&state=");
            to.push_str(&url_encode(&s));
        }
        redirect(StatusCode::FOUND, &to)
    };
    if query_param(q, "response_type").as_deref() != Some("code") {
        return fail("unsupported_response_type");
    }
    let Some(challenge) = query_param(q, "code_challenge") else {
        return fail("invalid_request");
    };
    if query_param(q, "code_challenge_method").as_deref() != Some("S256") {
        return fail("invalid_request");
    }
    let request_id = random_id();
    let sign_in_cookie = random_id();
    {
        let mut sign_ins = state.authorize.sign_ins.lock();
        if !room(&mut sign_ins, |s| s.at) {
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "too many sign-ins pending");
        }
        sign_ins.insert(
            request_id.clone(),
            SignIn {
                cookie: sign_in_cookie.clone(),
                redirect_uri,
                state: query_param(q, "state"),
                challenge,
                code: None,
                at: Instant::now(),
            },
        );
    }
    let mut resp = page(StatusCode::OK, login_form(&request_id, ""));
    let c = format!("{SIGN_IN_COOKIE}={sign_in_cookie}; Path=/authorize; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /authorize/login`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Payload(body): Payload,
) -> Response {
    let Ok(form) = parse_form(&body) else {
        return error_page(StatusCode::BAD_REQUEST, "the form body does not parse");
    };
    let Some(request_id) = form.get("request_id") else {
        return error_page(StatusCode::BAD_REQUEST, "request_id is missing");
    };
    let cookie_ok = {
        let sign_ins = state.authorize.sign_ins.lock();
        match sign_ins.get(request_id) {
            None => return error_page(StatusCode::BAD_REQUEST, "unknown or expired sign-in"),
            Some(s) => cookie(&headers, SIGN_IN_COOKIE) == Some(s.cookie.as_str()),
        }
    };
    if !cookie_ok {
        return error_page(
            StatusCode::BAD_REQUEST,
            "the sign-in cookie is missing (cookies must be kept between the form and its submission)",
        );
    }
    let (user, password) = (
        form.get("username").map(String::as_str).unwrap_or(""),
        form.get("password").map(String::as_str).unwrap_or(""),
    );
    let issued = match state.auth.login(user, password) {
        Ok(issued) => issued,
        Err(_) => {
            return page(
                StatusCode::OK,
                login_form(
                    request_id,
                    "<p class=\"error\">Invalid username or password.</p>",
                ),
            );
        }
    };
    let code = random_id();
    let mut sign_ins = state.authorize.sign_ins.lock();
    let Some(s) = sign_ins.get_mut(request_id) else {
        return error_page(StatusCode::BAD_REQUEST, "unknown or expired sign-in");
    };
    let entry = Code {
        issued,
        redirect_uri: s.redirect_uri.clone(),
        challenge: s.challenge.clone(),
        at: Instant::now(),
    };
    {
        let mut codes = state.authorize.codes.lock();
        if !room(&mut codes, |c| c.at) {
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "too many codes pending");
        }
        codes.insert(code.clone(), entry);
    }
    s.code = Some(code);
    redirect(
        StatusCode::SEE_OTHER,
        &format!("/authorize/continue?request_id={request_id}"),
    )
}

/// `GET /authorize/continue`: the redirect to the client with the code.
pub async fn resume(State(state): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    let Some(request_id) = query_param(q.as_deref(), "request_id") else {
        return error_page(StatusCode::BAD_REQUEST, "request_id is missing");
    };
    let Some(s) = state.authorize.sign_ins.lock().remove(&request_id) else {
        return error_page(StatusCode::BAD_REQUEST, "unknown or expired sign-in");
    };
    let Some(code) = s.code else {
        return error_page(StatusCode::BAD_REQUEST, "not signed in");
    };
    let sep = if s.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let mut to = format!("{}{sep}code={code}", s.redirect_uri);
    if let Some(st) = s.state {
        to.push_str("&state=");
        to.push_str(&url_encode(&st));
    }
    redirect(StatusCode::FOUND, &to)
}

/// Why a code exchange is refused (the `error_description`; the error is `invalid_grant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("code and code_verifier are required")]
    Missing,
    #[error("unknown, used or expired authorization code")]
    UnknownCode,
    #[error("redirect_uri does not match the authorization request")]
    RedirectMismatch,
    #[error("code_verifier does not match the code_challenge (PKCE S256)")]
    Verifier,
}

/// `grant_type=authorization_code` at the token endpoint: the code once, with the verifier whose
/// S256 challenge the authorization request carried and the same redirect URI.
pub fn exchange(state: &AppState, form: &HashMap<String, String>) -> Result<Issued, ExchangeError> {
    let (Some(code), Some(verifier)) = (form.get("code"), form.get("code_verifier")) else {
        return Err(ExchangeError::Missing);
    };
    let entry = state
        .authorize
        .codes
        .lock()
        .remove(code)
        .filter(|c| c.at.elapsed() < TTL)
        .ok_or(ExchangeError::UnknownCode)?;
    if form.get("redirect_uri") != Some(&entry.redirect_uri) {
        return Err(ExchangeError::RedirectMismatch);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    if expected != entry.challenge {
        return Err(ExchangeError::Verifier);
    }
    Ok(entry.issued)
}

fn redirect(status: StatusCode, to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (status, [(header::LOCATION, v)]).into_response(),
        Err(_) => error_page(StatusCode::BAD_REQUEST, "the redirect URI cannot be sent"),
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
