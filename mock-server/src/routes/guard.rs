//! What runs before a handler's own logic, written once instead of in every handler:
//!
//! - [`Payload`]: the request body as an extractor whose rejection is the mock's JSON error
//!   (413 `request body too large` past `--max-body`).
//! - [`AdminKey`]: the `Authorization: Bearer <admin key>` gate of the admin endpoints, and
//!   [`IntrospectionCaller`], the same gate for introspection (where two flaws loosen it).
//! - [`observed`]: notes each request's arrival ([`crate::arrivals`]) on a route with a fixed
//!   [`Op`] (one atomic load while no sync point is set).
//! - [`admitted`]: the fault-admission middleware of a route with a fixed [`Op`]. It is layered
//!   onto the route only when that operation has faults, so operations without faults pay nothing
//!   per request. `/oauth/token` (the operation depends on the grant type in the body), `/ws`
//!   (a capacity refusal is a 1013 close after the upgrade, and the permit lives as long as the
//!   socket) and `/events` (the permit lives as long as the stream) call
//!   [`crate::faults::Faults::admit`] themselves and answer a [`Refusal`] with its
//!   [`IntoResponse`] impl.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::{AppState, bearer, json_error, key_matches};
use crate::config::Op;
use crate::faults::Refusal;
use crate::flaws::Flaw;

/// The request body; a body that cannot be read is answered with a JSON error (413 past
/// `--max-body`, 400 otherwise).
pub struct Payload(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match Bytes::from_request(req, state).await {
            Ok(body) => Ok(Payload(body)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(json_error(
                r.status(),
                "invalid_request",
                "request body too large",
            )),
            Err(r) => Err(json_error(
                r.status(),
                "invalid_request",
                "could not read the request body",
            )),
        }
    }
}

/// Proof that the request carries the admin key; otherwise 401 with
/// `WWW-Authenticate: Bearer realm="authbench-admin"`.
pub struct AdminKey;

impl FromRequestParts<Arc<AppState>> for AdminKey {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        if carries_admin_key(parts, state) {
            Ok(AdminKey)
        } else {
            Err(unauthorized_admin())
        }
    }
}

/// Whether the request says `Authorization: Bearer <admin key>`.
fn carries_admin_key(parts: &Parts, state: &AppState) -> bool {
    bearer(&parts.headers).is_some_and(|k| key_matches(k, &state.admin_key))
}

/// The caller of `POST /oauth/introspect`, authorized like the admin endpoints (RFC 7662 §2.1: the
/// endpoint requires the caller's authorization; §2.3: 401 otherwise). The flaws
/// `introspect-open` (anyone is answered) and `introspect-unauthenticated-400` (a 400 refusal
/// instead of the 401) loosen it here.
pub struct IntrospectionCaller;

impl FromRequestParts<Arc<AppState>> for IntrospectionCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let flaws = &state.auth.flaws;
        if carries_admin_key(parts, state) || flaws.has(Flaw::IntrospectOpen) {
            Ok(IntrospectionCaller)
        } else if flaws.has(Flaw::IntrospectUnauthenticated400) {
            Err(json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "no client authentication included",
            ))
        } else {
            Err(unauthorized_admin())
        }
    }
}

/// 401 for a missing or wrong admin key.
fn unauthorized_admin() -> Response {
    let mut resp = json_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this endpoint needs Authorization: Bearer <admin key>",
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"authbench-admin\""),
    );
    resp
}

/// `route`, admitted by the faults of `op` before its handler runs (unchanged when `op` has no
/// faults).
pub fn admitted(
    route: MethodRouter<Arc<AppState>>,
    state: &Arc<AppState>,
    op: Op,
) -> MethodRouter<Arc<AppState>> {
    if state.faults.has(op) {
        route.route_layer(middleware::from_fn_with_state(
            (state.clone(), op),
            admission,
        ))
    } else {
        route
    }
}

/// `route`, with the arrival of each request noted for `op` ([`crate::arrivals`]) before any
/// fault delays it.
pub fn observed(
    route: MethodRouter<Arc<AppState>>,
    state: &Arc<AppState>,
    op: Op,
) -> MethodRouter<Arc<AppState>> {
    route.route_layer(middleware::from_fn_with_state((state.clone(), op), arrival))
}

async fn arrival(
    State((state, op)): State<(Arc<AppState>, Op)>,
    req: Request,
    next: Next,
) -> Response {
    let arrived = state.arrivals.arrive(op);
    if arrived != crate::arrivals::Arrival::Ignored {
        // Whose request it is, only while a window is open: the session of its Bearer token.
        let sid = bearer(req.headers()).and_then(crate::arrivals::token_session);
        state.arrivals.settle(arrived, sid.as_deref());
    }
    next.run(req).await
}

/// Applies the faults of `op`; the permit is held while the handler runs.
async fn admission(
    State((state, op)): State<(Arc<AppState>, Op)>,
    req: Request,
    next: Next,
) -> Response {
    let _permit = match state.faults.admit(op, &state.auth.stats).await {
        Ok(permit) => permit,
        Err(refusal) => return refusal.into_response(),
    };
    next.run(req).await
}

/// The response for a request refused by a fault.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::RateLimited { retry_after } => {
                let mut resp = json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests (injected rate fault)",
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                resp
            }
            Refusal::OverCapacity => {
                let mut resp = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "over capacity (injected capacity fault)",
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                resp
            }
            Refusal::InjectedError => json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error (injected error fault)",
            ),
        }
    }
}
