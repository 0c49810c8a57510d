//! Admin APIs that name users by an id the client must look up first, as Keycloak's does
//! (`GET /admin/realms/{realm}/users?username=...` then `POST .../users/{id}/logout`):
//!
//! - `GET /admin/users?username=user7` (admin key): `[{"id": "id-7", "username": "user7"}]`, or
//!   `[]` for an unknown user.
//! - `POST /admin/users/by-id/{id}/logout` (admin key): the same as
//!   `POST /admin/users/user7/logout` for `id-7`; 404 for an unknown id.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::AdminKey;
use super::{AppState, json, json_error, query_param};
use crate::store;

/// `GET /admin/users?username=NAME`.
pub async fn find(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    _admin: AdminKey,
) -> Response {
    let Some(name) = query_param(q.as_deref(), "username") else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "give ?username=NAME",
        );
    };
    let found: Vec<serde_json::Value> = store::parse_user(&name, state.auth.cfg.users)
        .map(|n| serde_json::json!({ "id": format!("id-{n}"), "username": name }))
        .into_iter()
        .collect();
    json(StatusCode::OK, &found)
}

/// `POST /admin/users/by-id/{id}/logout`.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    _admin: AdminKey,
) -> Response {
    let user = id.strip_prefix("id-").map(|n| format!("user{n}"));
    match user.as_deref().and_then(|u| state.auth.admin_logout(u)) {
        Some(n) => json(
            StatusCode::OK,
            &serde_json::json!({ "id": id, "sessions_revoked": n }),
        ),
        None => json_error(StatusCode::NOT_FOUND, "not_found", "no user with this id"),
    }
}
