//! The seed-style JSON API (`POST /api/auth/login|refresh|logout`, same core as the OAuth
//! endpoints, errors 401 JSON), the resource endpoint `GET /api/me` with its RFC 6750 errors
//! and sliding renewal, and the scope-restricted resource `GET /api/admin` (scope
//! [`ADMIN_SCOPE`], which no login of the mock grants: every valid token gets 403
//! `insufficient_scope`).

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::guard::Payload;
use super::oauth::{REFRESH_COOKIE, clear_refresh_cookie, refresh_response, token_response};
use super::{AppState, bearer, cookie, json, json_error, query_param};
use crate::auth::{AuthError, Principal};
use crate::flaws::Flaw;

/// The sliding-renewal response header.
pub const NEW_ACCESS_TOKEN: HeaderName = HeaderName::from_static("new-access-token");

/// The scope `GET /api/admin` requires; the mock's logins never grant it.
pub const ADMIN_SCOPE: &str = "admin";

/// The login body.
#[derive(Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
}

/// The refresh and logout body.
#[derive(Deserialize, Default)]
pub struct RefreshBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// A JSON body read through [`Payload`] (so the body limit applies); a malformed one is answered
/// 400 `invalid_request`.
pub struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let Payload(body) = Payload::from_request(req, state).await?;
        parse_json(&body).map(JsonBody)
    }
}

/// Parses a JSON body; an empty body is `{}`.
#[allow(clippy::result_large_err)] // the error is the finished response, as usual in axum
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("invalid JSON body: {e}"),
        )
    })
}

fn unauthorized(description: &str) -> Response {
    json_error(StatusCode::UNAUTHORIZED, "invalid_grant", description)
}

/// The refresh token of a body, or else of the refresh cookie (an empty one counts as absent).
fn presented_refresh<'a>(req: &'a RefreshBody, headers: &'a HeaderMap) -> Option<&'a str> {
    req.refresh_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .or_else(|| cookie(headers, REFRESH_COOKIE))
}

/// `POST /api/auth/login` `{"username","password"}`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<LoginBody>,
) -> Response {
    match state.auth.login(&req.username, &req.password) {
        Ok(issued) => token_response(&state, &issued),
        Err(e) => unauthorized(&e.to_string()),
    }
}

/// `POST /api/auth/refresh` `{"refresh_token"}` (or the refresh cookie).
pub async fn refresh(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RefreshBody>,
) -> Response {
    let Some(rt) = presented_refresh(&req, &headers) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    match state.auth.refresh(rt).await {
        Ok(issued) => {
            super::renewal_delay(&state).await;
            refresh_response(&state, &issued)
        }
        Err(e) => {
            super::refusal_delay(&state).await;
            unauthorized(&e.to_string())
        }
    }
}

/// `POST /api/auth/logout`: `{"refresh_token"}`, the refresh cookie and/or a bearer access token.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RefreshBody>,
) -> Response {
    let rt = presented_refresh(&req, &headers);
    let found = state.auth.logout(rt, bearer(&headers));
    let mut resp = json(StatusCode::OK, &serde_json::json!({ "logged_out": found }));
    if state.auth.cfg.refresh_cookie {
        clear_refresh_cookie(&mut resp);
    }
    resp
}

/// `GET /api/me`.
pub async fn me(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Response {
    crate::stats::Counters::inc(&state.auth.stats.api_requests);
    let flaws = state.auth.flaws;
    let header_token = bearer(&headers);
    let query_token = (header_token.is_none() && flaws.has(Flaw::AcceptQueryToken))
        .then(|| query_param(uri.query(), "access_token"))
        .flatten();
    let token = header_token.or(query_token.as_deref());
    let judged = if flaws.has(Flaw::CachedVerdicts) {
        cached_authenticate(&state, token)
    } else {
        state.auth.authenticate(token)
    };
    let principal = match judged {
        Ok(p) => p,
        // accept-any-token: any token sent is good enough.
        Err(_) if token.is_some() && flaws.has(Flaw::AcceptAnyToken) => Principal::anonymous(),
        Err(e) => {
            crate::stats::Counters::inc(&state.auth.stats.api_rejected);
            return resource_rejection(&state, e);
        }
    };
    let session_id = principal.family.as_ref().map(|f| &*f.sid_str);
    let mut resp = json(
        StatusCode::OK,
        &serde_json::json!({ "sub": &*principal.sub, "session_id": session_id }),
    );
    if let Some(fresh) = state.auth.renewal(&principal)
        && let Ok(v) = HeaderValue::from_str(&fresh)
    {
        resp.headers_mut().insert(NEW_ACCESS_TOKEN, v);
    }
    resp
}

/// `GET /api/admin`: an invalid token is refused like at `/api/me`; a valid one lacks scope
/// [`ADMIN_SCOPE`] and gets RFC 6750 §3.1 `insufficient_scope` — 403 with a challenge naming the
/// scope (the `scope-401` flaw: 401 `invalid_token`, which tells clients their session is over).
pub async fn admin(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    crate::stats::Counters::inc(&state.auth.stats.api_requests);
    if let Err(e) = state.auth.authenticate(bearer(&headers)) {
        crate::stats::Counters::inc(&state.auth.stats.api_rejected);
        return resource_rejection(&state, e);
    }
    let (status, error) = if state.auth.flaws.has(Flaw::Scope401) {
        (StatusCode::UNAUTHORIZED, "invalid_token")
    } else {
        (StatusCode::FORBIDDEN, "insufficient_scope")
    };
    let description = format!("this resource needs scope {ADMIN_SCOPE}");
    let mut resp = json_error(status, error, &description);
    let challenge = format!(
        "Bearer realm=\"authbench\", error=\"{error}\", error_description=\"{description}\", scope=\"{ADMIN_SCOPE}\""
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The `cached-verdicts` flaw's authentication: a token accepted before is accepted again from
/// the cache, without any check; others are authenticated and, when accepted, cached.
fn cached_authenticate(state: &AppState, token: Option<&str>) -> Result<Principal, AuthError> {
    if let Some(p) = token.and_then(|t| state.verdicts.get(t)) {
        return Ok(p);
    }
    let principal = state.auth.authenticate(token)?;
    if let Some(t) = token {
        state.verdicts.insert(t, &principal);
    }
    Ok(principal)
}

/// The resource server's refusal (RFC 6750 §3): 401 with `WWW-Authenticate` — no `error`
/// attribute when no token was sent, `error="invalid_token"` otherwise. Shared by `/api/me` and
/// the `/ws` handshake.
pub fn resource_rejection(state: &AppState, e: AuthError) -> Response {
    let flaws = state.auth.flaws;
    let status = if e == AuthError::Expired && flaws.has(Flaw::ForbiddenOnExpired) {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNAUTHORIZED
    };
    let description = e.to_string();
    let mut resp = match e {
        AuthError::Missing => json_error(status, "unauthorized", &description),
        _ => json_error(status, "invalid_token", &description),
    };
    if !flaws.has(Flaw::NoWwwAuthenticate) {
        let challenge = match e {
            AuthError::Missing => "Bearer realm=\"authbench\"".to_string(),
            _ if flaws.has(Flaw::BareBearerChallenge) => "Bearer realm=\"authbench\"".to_string(),
            _ => format!(
                "Bearer realm=\"authbench\", error=\"invalid_token\", error_description=\"{description}\""
            ),
        };
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}
