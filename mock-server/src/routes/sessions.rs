//! `POST /api/auth/logout-all`: the unified logout ("log out everywhere"). The caller presents
//! one of its access tokens (`Authorization: Bearer`), checked like a resource request (the same
//! 401 when it is missing, expired or revoked); every session of its user is then revoked —
//! refresh families dead, access tokens refused — and every socket of those sessions gets the
//! `logout` event and closes with 4403. Answer: 200 `{"sessions_revoked": n}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::api::resource_rejection;
use super::oauth::clear_refresh_cookie;
use super::{AppState, bearer, json};

/// `POST /api/auth/logout-all`.
pub async fn logout_all(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match state.auth.logout_everywhere(bearer(&headers)) {
        Ok(n) => {
            let mut resp = json(
                StatusCode::OK,
                &serde_json::json!({ "sessions_revoked": n }),
            );
            if state.auth.cfg.refresh_cookie {
                clear_refresh_cookie(&mut resp);
            }
            resp
        }
        Err(e) => resource_rejection(&state, e),
    }
}
