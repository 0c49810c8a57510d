//! OAuth 2.0 form endpoints: `POST /oauth/token` (RFC 6749 password, refresh_token,
//! client_credentials — a user's name and password as client id and secret, no refresh token —
//! and authorization_code with PKCE, see [`super::authorize`]),
//! `POST /oauth/revoke` (RFC 7009), `POST /oauth/introspect` (RFC 7662).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::guard::{IntrospectionCaller, Payload};
use super::{AppState, cookie, json, json_error, parse_form};
use crate::auth::GrantError;
use crate::config::Op;
use crate::flaws::Flaw;
use crate::store::Issued;

/// Name of the refresh-token cookie (`--refresh-cookie`).
pub const REFRESH_COOKIE: &str = "refresh_token";

/// 200 with a token response: `Cache-Control: no-store`, and the refresh cookie if configured.
pub fn token_response(state: &AppState, issued: &Issued) -> Response {
    let mut resp = json(StatusCode::OK, issued);
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if state.auth.cfg.refresh_cookie {
        let c = format!(
            "{REFRESH_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            issued.refresh_token, issued.refresh_expires_in
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.insert(header::SET_COOKIE, v);
        }
    }
    resp
}

/// 200 with the token response of a refresh grant ([`token_response`]; without
/// `Cache-Control: no-store` under the `refresh-cacheable` flaw).
pub fn refresh_response(state: &AppState, issued: &Issued) -> Response {
    let mut resp = token_response(state, issued);
    if state.auth.flaws.has(Flaw::RefreshCacheable) {
        resp.headers_mut().remove(header::CACHE_CONTROL);
    }
    resp
}

/// `Set-Cookie` that deletes the refresh cookie.
pub fn clear_refresh_cookie(resp: &mut Response) {
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("refresh_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
}

/// An RFC 6749 §5.2 error: 400 with `Cache-Control: no-store`.
fn oauth_error(code: &str, description: &str) -> Response {
    let mut resp = json_error(StatusCode::BAD_REQUEST, code, description);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn grant_error(e: GrantError) -> Response {
    oauth_error("invalid_grant", &e.to_string())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// `POST /oauth/token`.
pub async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Payload(body): Payload,
) -> Response {
    if is_json(&headers) {
        return oauth_error(
            "invalid_request",
            "the token endpoint takes application/x-www-form-urlencoded",
        );
    }
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error("invalid_request", &e),
    };
    let grant = match form.get("grant_type").map(String::as_str) {
        None => return oauth_error("invalid_request", "grant_type is required"),
        Some("password") => Grant::Password,
        Some("refresh_token") => Grant::RefreshToken,
        Some("client_credentials") => Grant::ClientCredentials,
        Some("authorization_code") => Grant::AuthorizationCode,
        Some(other) => {
            return oauth_error(
                "unsupported_grant_type",
                &format!(
                    "grant_type {:?} is not supported; use password, refresh_token, client_credentials or authorization_code",
                    crate::redact(other)
                ),
            );
        }
    };
    // The operation, hence its faults and arrival, is only known from the body (see `guard`).
    // Recorded once the session is known: the storm is each session's first request.
    let arrived = state.arrivals.arrive(grant.op());
    let _permit = match state.faults.admit(grant.op(), &state.auth.stats).await {
        Ok(permit) => permit,
        Err(refusal) => {
            state.arrivals.settle(arrived, None);
            return refusal.into_response();
        }
    };
    match grant {
        Grant::Password => {
            let (Some(user), Some(password)) = (form.get("username"), form.get("password")) else {
                state.arrivals.settle(arrived, None);
                return oauth_error("invalid_request", "username and password are required");
            };
            let result = state.auth.login(user, password);
            let session = result.as_ref().ok().map(|i| i.session_id.as_str());
            state.arrivals.settle(arrived, session);
            match result {
                Ok(issued) => token_response(&state, &issued),
                Err(e) => grant_error(e),
            }
        }
        Grant::RefreshToken => {
            let rt = form
                .get("refresh_token")
                .map(String::as_str)
                .filter(|t| !t.is_empty())
                .or_else(|| cookie(&headers, REFRESH_COOKIE));
            let Some(rt) = rt else {
                state.arrivals.settle(arrived, None);
                return oauth_error("invalid_request", "refresh_token is required");
            };
            let result = state.auth.refresh(rt).await;
            let session = result.as_ref().ok().map(|i| i.session_id.as_str());
            state.arrivals.settle(arrived, session);
            match result {
                Ok(issued) => {
                    super::renewal_delay(&state).await;
                    refresh_response(&state, &issued)
                }
                Err(e) => {
                    super::refusal_delay(&state).await;
                    grant_error(e)
                }
            }
        }
        Grant::ClientCredentials => {
            let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret"))
            else {
                return oauth_error("invalid_client", "client_id and client_secret are required");
            };
            match state.auth.login(id, secret) {
                // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
                Ok(issued) => {
                    let mut body = serde_json::to_value(&issued).unwrap_or_default();
                    if let Some(o) = body.as_object_mut() {
                        o.remove("refresh_token");
                        o.remove("refresh_expires_in");
                    }
                    let mut resp = json(StatusCode::OK, &body);
                    resp.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    resp
                }
                Err(_) => oauth_error("invalid_client", "unknown client or wrong secret"),
            }
        }
        Grant::AuthorizationCode => match super::authorize::exchange(&state, &form) {
            Ok(issued) => token_response(&state, &issued),
            Err(e @ super::authorize::ExchangeError::Missing) => {
                oauth_error("invalid_request", &e.to_string())
            }
            Err(e) => oauth_error("invalid_grant", &e.to_string()),
        },
    }
}

/// The grant types of the token endpoint.
#[derive(Clone, Copy)]
enum Grant {
    Password,
    RefreshToken,
    ClientCredentials,
    AuthorizationCode,
}

impl Grant {
    /// The operation whose faults apply.
    fn op(self) -> Op {
        match self {
            Grant::Password | Grant::ClientCredentials | Grant::AuthorizationCode => Op::Login,
            Grant::RefreshToken => Op::Refresh,
        }
    }
}

/// `POST /oauth/revoke` (RFC 7009): 200 for any token, known or not (400 for an unknown one
/// under the `revoke-unknown-error` flaw; 400 `unsupported_token_type` for an access token with
/// `revoke_refresh_only`).
pub async fn revoke(State(state): State<Arc<AppState>>, Payload(body): Payload) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error("invalid_request", &e),
    };
    let Some(token) = form.get("token") else {
        return oauth_error("invalid_request", "token is required");
    };
    if state.auth.cfg.revoke_refresh_only && state.auth.is_access_token(token) {
        return oauth_error(
            "unsupported_token_type",
            "this server revokes refresh tokens only",
        );
    }
    let issued = state
        .auth
        .revoke(token, form.get("token_type_hint").map(String::as_str));
    if !issued && state.auth.flaws.has(Flaw::RevokeUnknownError) {
        return oauth_error("invalid_request", "unknown token");
    }
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()
}

/// `POST /oauth/introspect` (RFC 7662), for callers holding the admin key.
pub async fn introspect(
    State(state): State<Arc<AppState>>,
    _caller: IntrospectionCaller,
    Payload(body): Payload,
) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error("invalid_request", &e),
    };
    let Some(token) = form.get("token") else {
        return oauth_error("invalid_request", "token is required");
    };
    if state.auth.flaws.has(Flaw::IntrospectNoAccessTokens) && state.auth.is_access_token(token) {
        return oauth_error(
            "unsupported_token_type",
            "this server does not introspect access tokens",
        );
    }
    let mut resp = json(StatusCode::OK, &state.auth.introspect(token));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
