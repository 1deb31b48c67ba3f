//! The emulator's own endpoints, beside Descope's API: the dev outbox (`/outbox`,
//! `/emulator/outbox`), fault injection and key rotation (`/emulator/faults`,
//! `/emulator/keys/rotate`, and the middleware that lets a fault take a call) and the clock
//! (`/emulator/clock/advance`). What they serve lives in `outbox.rs` and `faults.rs`.

use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::JsonBody;
use crate::emulator::error::{ApiError, ApiResult, codes};
use crate::emulator::faults::FaultBody;
use crate::emulator::keys::{self, Signer};
use crate::emulator::outbox::{self, Filter};
use crate::emulator::state::{EmulatorState, SharedState};

// --- The outbox ------------------------------------------------------------------------------

pub async fn list_outbox(
    State(state): State<SharedState>,
    Query(filter): Query<Filter>,
) -> Response {
    let messages = state.outbox.list(&filter);
    axum::Json(json!({ "messages": messages })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitQuery {
    destination: Option<String>,
    login_id: Option<String>,
    after: Option<u64>,
    timeout_ms: Option<u64>,
}

pub async fn wait_outbox(State(state): State<SharedState>, Query(q): Query<WaitQuery>) -> Response {
    let filter = Filter {
        destination: q.destination,
        login_id: q.login_id,
    };
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(10_000).min(30_000));
    let mut shutting_down = state.shutting_down.clone();
    let found = tokio::select! {
        found = state.outbox.wait(&filter, q.after.unwrap_or(0), timeout) => found,
        // Release the poll when the server stops, so a graceful shutdown is not held up.
        _ = shutting_down.wait_for(|stopping| *stopping) => None,
    };
    match found {
        Some(message) => axum::Json(message).into_response(),
        None => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::TIMEOUT,
            "No matching message arrived before the timeout",
        )
        .into_response(),
    }
}

pub async fn clear_outbox(State(state): State<SharedState>) -> Response {
    state.outbox.clear();
    axum::Json(json!({})).into_response()
}

/// The outbox as a page for people.
pub async fn page(State(state): State<SharedState>) -> Response {
    let messages = state.outbox.list(&Filter::default());
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(outbox::page_html(&messages)),
    )
        .into_response()
}

// --- Faults and key rotation -----------------------------------------------------------------

fn require_enabled(state: &EmulatorState) -> ApiResult<()> {
    if state.config.allow_faults {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "Fault injection is disabled; start the emulator with --allow-faults",
        ))
    }
}

pub(in crate::emulator) async fn add_fault(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<FaultBody>,
) -> ApiResult<Response> {
    require_enabled(&state)?;
    let fault = body.into_fault()?;
    tracing::info!(?fault, "emulator fault added");
    state.faults.add(fault.clone());
    Ok((StatusCode::CREATED, axum::Json(fault)).into_response())
}

pub async fn list_faults(State(state): State<SharedState>) -> ApiResult<Response> {
    require_enabled(&state)?;
    Ok(axum::Json(json!({ "faults": state.faults.list() })).into_response())
}

pub async fn clear_faults(State(state): State<SharedState>) -> ApiResult<Response> {
    require_enabled(&state)?;
    state.faults.clear();
    Ok(axum::Json(json!({})).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RotateBody {
    retire_old: bool,
}

pub(in crate::emulator) async fn rotate_keys(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<RotateBody>,
) -> ApiResult<Response> {
    require_enabled(&state)?;
    // Generating an RSA key takes a while: off the async threads.
    let pem = tokio::task::spawn_blocking(keys::generate_pem)
        .await
        .map_err(|e| ApiError::internal("key generation task", e))?
        .map_err(|e| ApiError::internal("generating a signing key", e))?;
    let signer =
        Signer::from_pem(&pem).map_err(|e| ApiError::internal("loading the new key", e))?;
    let kid = signer.kid().to_string();
    {
        let _rotating = state.rotation.lock().await;
        state
            .store
            .rotate_signing_key(&pem, body.retire_old, state.now())
            .await?;
        state.keys.rotate(signer, body.retire_old);
    }
    tracing::info!(%kid, retire_old = body.retire_old, "emulator signing key rotated");
    Ok(axum::Json(json!({ "kid": kid, "keys": state.keys.jwks()["keys"] })).into_response())
}

/// The middleware: lets a fault take the call before the route does. It wraps the error
/// safety net in `routes.rs`, so a fault's 503 reaches the client as a 503.
pub async fn inject(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    if !state.config.allow_faults || request.uri().path().starts_with("/emulator/") {
        return next.run(request).await;
    }
    let Some(fault) = state.faults.take(request.uri().path()) else {
        return next.run(request).await;
    };
    wait(&state, fault.delay_ms).await;
    match fault.status {
        None => {
            let response = next.run(request).await;
            wait(&state, fault.answer_delay_ms).await;
            response
        }
        Some(0) => dropped_connection(),
        Some(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({
                "errorCode": fault.error_code,
                "errorDescription": format!("Injected fault for {}", fault.path),
                "errorMessage": "Injected by POST /emulator/faults",
            });
            (status, axum::Json(body)).into_response()
        }
    }
}

/// Waits `ms` milliseconds, or less if the emulator is stopping (it does not wait out a delay).
async fn wait(state: &SharedState, ms: u64) {
    if ms > 0 {
        let mut shutting_down = state.shutting_down.clone();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
            _ = shutting_down.wait_for(|stopping| *stopping) => {}
        }
    }
}

/// An answer that is never completed: its body fails before its first byte, so the server
/// closes the connection and the client sees the call cut off rather than any answer it could
/// act on.
fn dropped_connection() -> Response {
    let mut response = Body::new(CutOff).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

struct CutOff;

impl http_body::Body for CutOff {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other(
            "injected fault: connection dropped",
        ))))
    }
}

// --- The clock -------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::emulator) struct AdvanceBody {
    seconds: u64,
}

/// Moves the emulator's clock forward, so HTTP-level tests can expire codes and tokens without
/// sleeping. Off unless the emulator was started with `allow_time_travel`.
///
/// Caveat for SDK tests: only the emulator's clock moves. Tokens issued afterwards carry an
/// `iat` in the SDK's future, which Python (PyJWT) rejects beyond its 5 s leeway; use time
/// travel to expire codes and stored tokens, then verify with the SDK only what was issued
/// before the jump.
pub(in crate::emulator) async fn advance_clock(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<AdvanceBody>,
) -> ApiResult<Response> {
    if !state.config.allow_time_travel {
        return Err(ApiError::not_found(
            "Time travel is disabled; start the emulator with --allow-time-travel",
        ));
    }
    // Capped at ~100 years so a silly value cannot overflow the clock's arithmetic.
    state
        .clock
        .advance(Duration::from_secs(body.seconds.min(3_153_600_000)));
    Ok(axum::Json(json!({ "now": state.now() })).into_response())
}
