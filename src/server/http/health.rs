//! Health endpoints for a load balancer or an orchestrator, outside every other layer (no
//! session, no cookie, no gate):
//!
//! - `GET /healthz`, liveness: 200 whenever the process serves HTTP at all. Restart on failure.
//! - `GET /readyz`, readiness: 200 only when the database answers and Descope's signing keys
//!   (JWKS) can be had, cached or fetched now; else 503 with a short reason. Send no traffic to
//!   an instance that is not ready, but do not restart it: the cause is usually elsewhere.
//!   While no keys are cached, probes fetch them at most once per JWKS cooldown (30 s) however
//!   many arrive, so that probes cannot turn a Descope outage into a stream of key fetches.
//!
//! The reasons are fixed words; the underlying errors go to the log, not to whoever asks.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::server::state::AppState;

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "not ready: the database does not answer");
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database unreachable",
        );
    }
    if let Err(e) = state.descope.ensure_keys().await {
        tracing::warn!(error = %e, "not ready: Descope's signing keys cannot be had");
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: Descope signing keys (JWKS) unavailable",
        );
    }
    plain(StatusCode::OK, "ready")
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
