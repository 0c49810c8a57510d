//! Admin and metadata endpoints: `POST /admin/users/{user}/logout` and `POST /admin/outage` (admin
//! key), `GET /admin/stats`, `POST /admin/sync-point` (admin key; see [`crate::arrivals`]),
//! `GET /healthz`, `GET /.well-known/jwks.json`, `GET /.well-known/openid-configuration`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::guard::{AdminKey, Payload};
use super::{AppState, json, json_error, query_param};
use crate::outage::OutageError;
use std::time::Duration;

/// `POST /admin/users/{user}/logout`: revoke every session of the user (cookie sessions too), kick
/// its sockets (4403).
pub async fn user_logout(
    State(state): State<Arc<AppState>>,
    Path(user): Path<String>,
    _admin: AdminKey,
) -> Response {
    let cookie_sessions = state.cookies.as_ref().and_then(|c| {
        crate::store::parse_user(&user, state.auth.cfg.users).map(|n| c.logout_user(n))
    });
    match state.auth.admin_logout(&user) {
        Some(n) => json(
            StatusCode::OK,
            &serde_json::json!({ "user": user, "sessions_revoked": n + cookie_sessions.unwrap_or(0) }),
        ),
        None => json_error(StatusCode::NOT_FOUND, "not_found", "no such user"),
    }
}

/// `POST /admin/outage?duration_ms=N`: answers 202 `{"outage_ms": N}`, then stops listening and
/// closes every connection for N ms (see [`crate::outage`]). 400 for a missing or bad duration,
/// 409 while an outage is under way.
pub async fn outage(State(state): State<Arc<AppState>>, uri: Uri, _admin: AdminKey) -> Response {
    let Some(raw) = query_param(uri.query(), "duration_ms") else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "give the outage length as ?duration_ms=N",
        );
    };
    let Ok(ms) = raw.parse::<u64>() else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "duration_ms must be a whole number of milliseconds",
        );
    };
    match state.outage.start(Duration::from_millis(ms)) {
        Ok(()) => json(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "outage_ms": ms }),
        ),
        Err(e @ OutageError::Busy) => json_error(StatusCode::CONFLICT, "busy", &e.to_string()),
        Err(e @ OutageError::Duration) => {
            json_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string())
        }
    }
}

/// `GET /admin/stats`.
pub async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let mut resp = json(StatusCode::OK, &state.stats());
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The body of `POST /admin/sync-point`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncPoint {
    /// The sync point, ms since the Unix epoch.
    pub at_unix_ms: u64,
    /// Only this operation's requests count (`login`, `refresh`, `api`); every one when absent.
    #[serde(default)]
    pub op: Option<String>,
}

/// `POST /admin/sync-point` with `{"at_unix_ms": T, "op": "refresh"}`: arms the arrival window
/// ([`crate::arrivals`]); 400 with the reason for a body that does not parse or an unusable value.
pub async fn sync_point(
    State(state): State<Arc<AppState>>,
    _admin: AdminKey,
    Payload(body): Payload,
) -> Response {
    let sp: SyncPoint = match serde_json::from_slice(&body) {
        Ok(sp) => sp,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!(
                    "expected {{\"at_unix_ms\": <ms since the epoch>, \"op\": \"refresh\"}}: {e}"
                ),
            );
        }
    };
    match state.arrivals.arm(sp.at_unix_ms, sp.op.as_deref()) {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({ "at_unix_ms": sp.at_unix_ms, "op": sp.op.as_deref().unwrap_or("all") }),
        ),
        Err(e) => json_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    }
}

/// `GET /healthz`.
pub async fn healthz() -> Response {
    "ok".into_response()
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    json(StatusCode::OK, &state.auth.access.keys().jwks())
}

/// `GET /.well-known/openid-configuration` (RFC 8414 metadata, plus `authbench_*` extensions).
pub async fn discovery(State(state): State<Arc<AppState>>) -> Response {
    let base = &state.base_url;
    let ws = base.replacen("http", "ws", 1);
    let alg = state.auth.access.keys().signing().alg();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "introspection_endpoint": format!("{base}/oauth/introspect"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "grant_types_supported": ["password", "refresh_token", "client_credentials", "authorization_code"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "introspection_endpoint_auth_methods_supported": ["bearer"],
            "access_token_signing_alg_values_supported": [alg],
            "authbench_ws_endpoint": format!("{ws}/ws"),
            "authbench_resource_endpoint": format!("{base}/api/me"),
            "authbench_admin_logout_endpoint": format!("{base}/admin/users/{{user}}/logout"),
            "authbench_admin_outage_endpoint": format!("{base}/admin/outage"),
            "authbench_logout_everywhere_endpoint": format!("{base}/api/auth/logout-all"),
        }),
    )
}
